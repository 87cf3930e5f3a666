"""playas.core: MHR layers, merging, routing, the style table, row fitting, game independence."""

import copy
import subprocess
import sys

import pytest
import torch
from torch import nn

from playas.core.errors import PlayasError
from playas.core.fitting import adam, fit_rows, rank_by_similarity
from playas.core.mhr import MHRConfig, MHRConv2d, MHRLinear, Router, MHRModel, routing_weights
from playas.core.table import StyleTable, parse_blend, parse_steer


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 4 * 4, 24)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def styled_toy(players=("a", "b", "c"), heads=4, skills=3, rank=2, seed=0):
    torch.manual_seed(seed)
    table = StyleTable(list(players), heads, skills)
    return MHRModel(Toy(), MHRConfig(heads=heads, skills=skills, rank=rank, targets=("conv", "fc")), table), table


def randomise_adapters(model, std=0.2):
    for m in model.modules():
        if isinstance(m, (MHRLinear, MHRConv2d)):
            m.B.data.normal_(0, std)


def test_new_adapters_change_nothing():
    model, table = styled_toy()
    base = Toy()
    base.load_state_dict({k.replace(".base.", "."): v for k, v in model.base.state_dict().items()
                          if ".A" not in k and ".B" not in k})
    x = torch.randn(5, 8, 4, 4)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(x, z=table.z[[0, 1, 2, 0, 1]]), base(x), atol=1e-6)


def test_styles_differ_and_merge_is_exact():
    model, table = styled_toy()
    randomise_adapters(model)
    table.z.data.normal_(0, 2)
    model.eval()
    x = torch.randn(6, 8, 4, 4)
    with torch.no_grad():
        per_sample = model(x, z=table.z[[0, 1, 2, 0, 1, 2]])
        for i in range(3):
            one = model(x, z=table.z[i])
            merged = model.merged_base(table.z[i])
            assert torch.allclose(merged(x), one, atol=1e-5)
            assert torch.allclose(per_sample[i::3][0], one[i], atol=1e-5)
            assert not isinstance(merged.conv, MHRConv2d) and isinstance(merged.conv, nn.Conv2d)
        assert not torch.allclose(model(x, z=table.z[0]), model(x, z=table.z[1]), atol=1e-3)
        conv = model.base.conv  # every style's adapter as one matrix over the shared skill features
        skills, w = conv.skills(x), routing_weights(table.z, False)
        m = conv.routed_matrix(w)
        for i in range(3):
            assert torch.allclose(torch.einsum("nkxy,ko->noxy", skills, m[i]), conv.routed(skills, w[i:i + 1]), atol=1e-5)


class Block(nn.Module):
    """A pre-norm causal self-attention block built from plain nn.Linear layers."""

    def __init__(self, d=16, heads=2):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

    def forward(self, x):  # (B, T, D)
        b, t, d = x.shape
        h = self.ln1(x)
        q, k, v = (f(h).view(b, t, self.heads, -1).transpose(1, 2) for f in (self.q, self.k, self.v))
        a = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out(a.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(torch.relu(self.fc1(self.ln2(x))))


class ToyTransformer(nn.Module):
    def __init__(self, d=16, blocks=2):
        super().__init__()
        self.embed = nn.Linear(8, d)
        self.blocks = nn.Sequential(*(Block(d) for _ in range(blocks)))
        self.head = nn.Linear(d, 8)

    def forward(self, x):
        return self.head(self.blocks(self.embed(x)))


def styled_transformer(players=("a", "b", "c"), heads=4, skills=3, rank=2):
    torch.manual_seed(0)
    base = ToyTransformer()
    plain = copy.deepcopy(base)
    targets = ("embed", "head", *(f"blocks.{i}.{n}" for i in range(2) for n in ("q", "k", "v", "out", "fc1", "fc2")))
    table = StyleTable(list(players), heads, skills)
    return MHRModel(base, MHRConfig(heads=heads, skills=skills, rank=rank, targets=targets), table), table, plain


def test_transformer_new_adapters_change_nothing():
    model, table, plain = styled_transformer()
    assert sum(isinstance(m, MHRLinear) for m in model.modules()) == 14
    model.eval()
    x = torch.randn(3, 7, 8)
    with torch.no_grad():
        assert torch.allclose(model(x, z=table.z[[0, 1, 2]]), plain(x), atol=1e-6)


def test_transformer_per_sequence_styles_equal_each_merged_style():
    model, table, _ = styled_transformer()
    randomise_adapters(model)
    table.z.data.normal_(0, 2)
    model.eval()
    ids = [0, 1, 2, 1]
    x = torch.randn(4, 7, 8)  # (B, T, D), a different style for each sequence
    with torch.no_grad():
        routed = model(x, z=table.z[ids])
        assert routed.shape == (4, 7, 8)
        for i, p in enumerate(ids):
            merged = model.merged_base(table.z[p])
            assert not any(isinstance(m, MHRLinear) for m in merged.modules())
            assert torch.allclose(routed[i:i + 1], merged(x[i:i + 1]), atol=1e-5)
            assert torch.allclose(routed[i:i + 1], model(x[i:i + 1], z=table.z[p]), atol=1e-5)
        assert torch.allclose(model(x, z=table.z[1]), model.merged_base(table.z[1])(x), atol=1e-5)  # one style, all
        assert not torch.allclose(routed[0], model(x[:1], z=table.z[1])[0], atol=1e-3)  # styles matter


def test_transformer_gradients_reach_the_style_rows_used():
    model, table, _ = styled_transformer()
    randomise_adapters(model)
    model.freeze_base()
    model.train()
    model(torch.randn(4, 5, 8), z=table.z[[0, 1, 0, 1]]).square().mean().backward()
    grad = table.z.grad
    assert grad[0].abs().sum() > 0 and grad[1].abs().sum() > 0
    assert torch.equal(grad[2], torch.zeros_like(grad[2]))  # a row no sequence used
    assert all(m.A.grad is not None and m.B.grad.abs().sum() > 0 for m in model.modules() if isinstance(m, MHRLinear))


def test_mhr_linear_takes_any_leading_dimensions():
    torch.manual_seed(0)
    router = Router()
    layer = MHRLinear(nn.Linear(8, 4), router, MHRConfig(heads=2, skills=3, rank=2))
    layer.B.data.normal_(0, 0.5)
    w = routing_weights(torch.randn(2, 2, 3), training=False)
    x = torch.randn(2, 3, 5, 8)
    with torch.no_grad():
        with router.use(w):
            y = layer(x)
        assert y.shape == (2, 3, 5, 4)
        for i in range(2):
            with router.use(w[i:i + 1]):
                assert torch.allclose(y[i], layer(x[i]), atol=1e-6)  # (1, H, S) spreads over all leading dims
                assert torch.allclose(layer(x[i, 0, 0]), y[i, 0, 0], atol=1e-6)  # a 1-D input
            assert torch.allclose(y[i], x[i] @ layer.merged(w[i]).weight.T + layer.base.bias, atol=1e-5)
        with router.use(w), pytest.raises(ValueError, match="routing weights for 2 samples, input of 3"):
            layer(torch.randn(3, 8))


def test_routing_weights_sample_in_training_and_are_deterministic_at_inference():
    z = torch.randn(2, 4, 3)
    w = routing_weights(z, training=False)
    assert torch.allclose(w.sum(-1), torch.ones(2, 4), atol=1e-4)
    assert torch.equal(w, routing_weights(z, training=False))
    a, b = routing_weights(z, training=True), routing_weights(z, training=True)
    assert not torch.equal(a, b)
    assert torch.allclose(a.sum(-1), torch.ones(2, 4), atol=1e-4)


def test_layers_outside_a_router_context_fail_loudly():
    layer = MHRLinear(nn.Linear(8, 8), Router(), MHRConfig(heads=2, skills=2, rank=2))
    with pytest.raises(RuntimeError, match="outside"):
        layer(torch.randn(1, 8))
    with pytest.raises(ValueError, match="heads do not divide"):
        MHRLinear(nn.Linear(6, 8), Router(), MHRConfig(heads=4))


def test_freeze_base_leaves_adapters_and_styles_trainable():
    model, table = styled_toy()
    model.freeze_base()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"base.conv.A", "base.conv.B", "base.fc.A", "base.fc.B", "table.z"}


def test_style_table_blend_resolve_and_errors():
    table = StyleTable(["Tal", "Petrosian", "Carlsen"], 2, 2)
    table.z.data = torch.arange(12, dtype=torch.float32).view(3, 2, 2)
    assert torch.allclose(table.resolve("Tal:0.75,Petrosian:0.25"), 0.75 * table.z[0] + 0.25 * table.z[1])
    assert torch.allclose(table.resolve("tal"), table.z[0])
    assert torch.allclose(table.resolve(None), table.z.mean(0))
    with pytest.raises(PlayasError, match="did you mean Petrosian"):
        table.resolve("Petrosain")
    with pytest.raises(PlayasError, match="no steering direction"):
        table.resolve("Tal", {"capture_rate": 1.0})
    table.directions["capture_rate"] = torch.full((2, 2), 0.1).tolist()
    # Steering moves routing weights: a saturated row still moves, and weights stay inside (0, 1).
    steered = torch.sigmoid(table.resolve("Tal", {"capture_rate": -2.0}))
    assert torch.allclose(steered, (torch.sigmoid(table.z[0]) - 0.2).clamp(1e-3, 1 - 1e-3), atol=1e-5)
    saturated = torch.sigmoid(table.z[2].detach())  # Carlsen's logits are 8..11
    assert saturated.min() > 0.999
    assert torch.allclose(torch.sigmoid(table.resolve("Carlsen", {"capture_rate": -2.0})), saturated - 0.2, atol=1e-4)
    assert torch.sigmoid(table.resolve("Carlsen", {"capture_rate": 2.0})).max() <= 1 - 1e-3 + 1e-6
    assert parse_blend("Tal: 0.7, Petrosian:0.3") == {"Tal": 0.7, "Petrosian": 0.3}
    assert parse_steer(["capture_rate=-1.5"]) == {"capture_rate": -1.5}
    for bad in (["capture_rate"], ["=1"], ["x=abc"]):
        with pytest.raises(PlayasError):
            parse_steer(bad)
    with pytest.raises(PlayasError, match="must be positive"):
        table.resolve("Tal:0")
    again = StyleTable.from_dict(table.to_dict())
    assert again.names == table.names and torch.equal(again.z, table.z)
    i = table.add("Kasparov", games=12)
    assert table.names[i] == "Kasparov" and table.games[i] == 12
    with pytest.raises(PlayasError, match="already"):
        table.add("Kasparov")
    near = [n for n, _ in table.similar("Tal", 10)]
    assert sorted(near) == ["Carlsen", "Kasparov", "Petrosian"]


def test_steering_direction_is_top_players_weights_minus_all():
    table = StyleTable(["a", "b", "c", "d"], 1, 2)
    table.z.data = torch.tensor([[[4.0, -4.0]], [[0.0, 0.0]], [[-4.0, 4.0]], [[2.0, 2.0]]])
    w = torch.sigmoid(table.z.detach())
    d = torch.tensor(table.steering_direction({"a": 0.9, "b": 0.1, "c": 0.5, "d": float("nan"), "x": 1.0}, 0.34))
    assert torch.allclose(d, w[0] - w[:3].mean(0))  # d (NaN) and x (unknown) left out; top 1 of 3
    with pytest.raises(PlayasError, match="at least 3"):
        table.steering_direction({"a": 1.0, "b": 2.0})


def test_fit_rows_recovers_a_players_style():
    """Data made by one known style row: a row fitted from the mean finds that player."""
    model, table = styled_toy(players=[f"p{i}" for i in range(6)], seed=1)
    randomise_adapters(model, std=2.0)  # styles that matter more than the base
    table.z.data.normal_(0, 2)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.randn(512, 8, 4, 4)
    with torch.no_grad():
        target = model(x, z=table.z[4]).argmax(1)
    batches = [(x[i:i + 128], target[i:i + 128]) for i in range(0, 512, 128)]
    nll = lambda z, b: nn.functional.cross_entropy(model(b[0], z=z), b[1])
    with torch.no_grad():
        true_loss = nll(table.z[4], (x, target)).item()
    z, losses = fit_rows(lambda zz, b: nll(zz[0], b), table.z.detach().mean(0)[None], batches, steps=150, lr=0.1)
    z = z[0]
    assert losses[0] > true_loss + 0.05  # the mean style starts clearly worse ...
    assert sum(losses[-4:]) / 4 < true_loss + 0.01  # ... and the fitted row ends as good as the true one
    assert int(rank_by_similarity(z, table.z.detach()).argmax()) == 4


def test_adam_steps_as_torch_adam_does():
    torch.manual_seed(0)
    target = torch.randn(4, 8, 8)
    ours, theirs = (torch.nn.Parameter(torch.zeros(4, 8, 8)) for _ in range(2))
    step, opt = adam(ours, 0.1), torch.optim.Adam([theirs], lr=0.1)
    for _ in range(50):
        for p in (ours, theirs):
            p.grad = None
            ((p - target) ** 4).sum().backward()
        step()
        opt.step()
    assert torch.allclose(ours, theirs, atol=1e-6) and not torch.allclose(ours, torch.zeros(4, 8, 8))


def test_core_imports_no_game_code():
    code = ("import sys, playas.core.mhr, playas.core.table, playas.core.train, playas.core.fitting, "
            "playas.core.checkpoint, playas.core.plot; "
            "bad = [m for m in sys.modules if m == 'chess' or m.startswith(('chess.', 'playas.chess', 'playas.bots'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_progress_counts_a_resumed_runs_earlier_work_apart(capsys):
    """A run resumed at 6 M of 16 M steps: the line shows 6 M done, but its rate (and eta) come
    from this run's work alone (it once read 64,051 steps/s for a 3,000 steps/s run)."""
    import time

    from playas.core.progress import Progress

    bar = Progress(16_000_000, "train-play", unit="agent steps")
    bar.resume(6_000_000)
    time.sleep(0.2)
    bar.update(100)
    bar._draw(end="\n")
    line = capsys.readouterr().err
    assert "6,000,100/16,000,000 agent steps" in line
    rate = float(line.split("agent steps  ")[1].split(" agent steps/s")[0].replace(",", ""))
    assert rate < 1000, line
