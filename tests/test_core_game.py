"""The game protocol of playas.core on a toy game, no chess and no ../shared: train styles, enroll,
identify, blend, steer and a checkpoint round trip, each asserting what must happen.

The toy game: a context of 12 numbers, 8 actions. Everyone otherwise plays a shared rule (the
largest of the first 8 numbers); each player also has a favourite action they pick 60% of the time.
A style vector that learns the person learns their favourite.
"""

import copy
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from playas.core import checkpoint, learning as styled, verbs
from playas.core.card import card_players
from playas.core.config import number, section, setting, whole
from playas.core.learning import Adapters
from playas.core.errors import PlayasError
from playas.core.game import Examples, Game, Network, Query, StyleData
from playas.core.repertoire import PRIOR_WEIGHTS
from playas.core.trunk import cache_trunk

D, ACTIONS = 12, 8
FAVOURITE = {"ann": 0, "bob": 3, "cy": 5, "dee": 6}


class ToyNet(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        self.width = width
        self.inp = nn.Linear(D, width)
        self.fc = nn.Linear(width, width)
        self.out = nn.Linear(width, ACTIONS)

    def hidden(self, x):
        return torch.relu(self.inp(x))

    def forward(self, h):
        return self.out(torch.relu(self.fc(h)))


class Toy(Network):
    name = "toy"

    def describe(self, net):
        return {"config": {"width": net.width}}

    def build(self, described):
        return ToyNet(**described["config"])

    def adapter_targets(self, net, adapt):
        return ("fc", "out")

    def trunk(self, model, x):
        return model.base.hidden(x)

    def head(self, model, h, z):
        return model(h, z=z)


TOY = Toy()


def play(favourite, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` contexts and a player's actions; ``favourite`` an action, or several taken in turn."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, D, generator=g)
    a = x[:, :ACTIONS].argmax(1)  # the shared rule
    own = torch.rand(n, generator=g) < 0.6
    fav = torch.tensor(favourite if isinstance(favourite, tuple) else (favourite,))
    return x.numpy(), torch.where(own, fav[torch.arange(n) % len(fav)], a).numpy()


def examples(players: list[str], per_player: int, seed: int, favourites=FAVOURITE, ids=None) -> Examples:
    """Each player's decisions; ``ids`` numbers the players (default: their order here). A
    decision's situation, for repertoires, is which of 4 ranges its context's first number is in."""
    xs, ys, who = [], [], []
    for i, p in enumerate(players):
        x, y = play(favourites[p], per_player, seed + 100 * i)
        xs.append(x), ys.append(y), who.append(np.full(per_player, i if ids is None else ids[i]))
    x = torch.from_numpy(np.concatenate(xs))
    situations = 1 + np.digitize(x[:, 0].numpy(), [-0.7, 0.0, 0.7])
    return Examples(players=list(players), player=np.concatenate(who), target=np.concatenate(ys),
                    inputs=lambda i: x[torch.as_tensor(i)], situations=situations)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A base trained on everyone's actions, then adapters and a style row per player."""
    torch.manual_seed(0)
    net = ToyNet()
    population = examples(list(FAVOURITE), 3000, seed=10_000)
    x, y = population.inputs(np.arange(len(population))), torch.from_numpy(population.target)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(200):
        loss = F.cross_entropy(net(net.hidden(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    ex = examples(list(FAVOURITE), 1500, seed=0)
    model = styled.new_styled(TOY, net, list(FAVOURITE), [1500] * 4, {"heads": 4, "skills": 4, "rank": 2})
    train = cache_trunk(TOY, model, ex, allowed=False)
    val = cache_trunk(TOY, model, examples(list(FAVOURITE), 200, seed=50))
    state = tmp_path_factory.mktemp("toy") / "toy.train-state"
    history = styled.train_styles(TOY, model, train, val, list(FAVOURITE), epochs=3, batch_size=64,
                                  lr_adapters=0.01, lr_styles=0.1, per_epoch=None, seed=0, state_path=state)
    model.eval()
    return model, history


def probs(model, style=None, steer=None, n=400) -> torch.Tensor:
    """Mean action probabilities of a style over fresh contexts."""
    x = torch.from_numpy(play(0, n, seed=999)[0])
    with torch.no_grad():
        return torch.softmax(TOY.head(model, TOY.trunk(model, x), model.table.resolve(style, steer)), 1).mean(0)


def test_training_learns_each_persons_favourite(trained):
    model, history = trained
    # Knowing each person's favourite gets 0.6 + 0.4 / 8 = 0.65 at best; without styles, the shared
    # rule gets 0.4 + 0.6 / 8 = 0.475.
    assert history[-1]["val_acc"] > 0.58
    for name, fav in FAVOURITE.items():
        p = probs(model, name)
        assert p.argmax() == fav, (name, p)


def test_identify_puts_the_right_player_first(trained):
    model, _ = trained
    for i, name in enumerate(FAVOURITE):
        query = cache_trunk(TOY, model, examples([name], 60, seed=7000 + i))
        for method in styled.METHODS:
            scores = styled.identify(TOY, model, query, method)
            assert model.table.names[int(np.argmax(scores))] == name, (name, method, scores)


def test_enroll_learns_a_new_player_from_a_few_examples_and_changes_nothing_else(trained):
    """Eve favours both Ann's and Bob's actions: a new mix of skills the adapters already hold."""
    model, _ = trained
    model = copy.deepcopy(model)
    eve = {"eve": (FAVOURITE["ann"], FAVOURITE["bob"])}
    before = model.table.z.detach().clone()
    adapters = [p.detach().clone() for p in model.base.parameters()]
    new = cache_trunk(TOY, model, examples(["eve"], 120, seed=31, favourites=eve))
    styled.enroll(TOY, model, "eve", new, games=12)
    assert model.table.names[-1] == "eve" and model.table.games[-1] == 12
    assert torch.equal(model.table.z[:4], before)
    assert all(torch.equal(a, b) for a, b in zip(adapters, model.base.parameters()))
    p = probs(model, "eve")
    assert set(p.topk(2).indices.tolist()) == {FAVOURITE["ann"], FAVOURITE["bob"]}, p
    assert {n for n, _ in model.table.similar("eve", 2)} == {"ann", "bob"}
    query = cache_trunk(TOY, model, examples(["eve"], 60, seed=32, favourites=eve))
    assert model.table.names[int(np.argmax(styled.identify(TOY, model, query)))] == "eve"
    with pytest.raises(PlayasError, match="already"):
        styled.enroll(TOY, model, "eve", new, games=12)


def test_a_blend_sits_between_its_parents(trained):
    model, _ = trained
    ann, bob, mix = probs(model, "ann"), probs(model, "bob"), probs(model, "ann:0.5,bob:0.5")
    for a in (FAVOURITE["ann"], FAVOURITE["bob"]):
        assert min(ann[a], bob[a]) < mix[a] < max(ann[a], bob[a])


def test_steering_moves_the_property_it_names(trained):
    model, _ = trained
    rate = {name: float((examples([name], 300, seed=5).target == 0).mean()) for name in FAVOURITE}  # plays action 0
    model.table.directions["plays_zero"] = model.table.steering_direction(rate)
    base = probs(model)[0]
    up, down = probs(model, steer={"plays_zero": 2.0})[0], probs(model, steer={"plays_zero": -2.0})[0]
    assert up > base + 0.05 and down < base
    with pytest.raises(PlayasError, match="no steering direction for 'elegance'"):
        probs(model, steer={"elegance": 1.0})


def test_checkpoint_round_trip_and_card(trained, tmp_path):
    model, _ = trained
    path = tmp_path / "toy.pt"
    checkpoint.save_model(path, TOY, model, {"kind": "styled", "players": 4,
                                             "games_per_player": dict(zip(model.table.names, model.table.games))})
    loaded, blob = checkpoint.load_model(path, TOY)
    assert loaded.table.names == model.table.names and blob["card"]["game"] == "toy"
    assert torch.allclose(probs(loaded, "cy"), probs(model, "cy"), atol=1e-6)
    assert card_players(path) == list(FAVOURITE)

    class Other(Toy):
        name = "other"

    with pytest.raises(PlayasError, match="is a toy model, not a other model"):
        checkpoint.load_model(path, Other())
    with pytest.raises(PlayasError, match="has no style table"):
        checkpoint.save_model(tmp_path / "plain.pt", TOY, model.base.__class__(), {"kind": "base"})
        checkpoint.load_styled(tmp_path / "plain.pt", TOY)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PlayasError, match="is not a playas checkpoint"):
        checkpoint.load_model(tmp_path / "junk.pt", TOY)


def test_training_resumes_from_its_state(trained, tmp_path):
    """A finished run's state file is picked up: asking for the same epochs trains no further."""
    model, history = trained
    torch.manual_seed(0)
    net = ToyNet()
    m = styled.new_styled(TOY, net, list(FAVOURITE), [1] * 4, {"heads": 4, "skills": 4, "rank": 2})
    ex = cache_trunk(TOY, m, examples(list(FAVOURITE), 100, seed=3), allowed=False)
    state = tmp_path / "s.train-state"
    first = styled.train_styles(TOY, m, ex, None, list(FAVOURITE), epochs=1, batch_size=64, lr_adapters=0.01,
                                lr_styles=0.1, per_epoch=None, seed=0, state_path=state)
    z = m.table.z.detach().clone()
    again = styled.train_styles(TOY, m, ex, None, list(FAVOURITE), epochs=1, batch_size=64, lr_adapters=0.01,
                                lr_styles=0.1, per_epoch=None, seed=0, state_path=state)
    assert again == first and torch.equal(m.table.z.detach(), z)


def test_a_repertoire_names_and_plays_the_person(trained):
    """With every style row equal the network cannot tell players apart; their repertoires can."""
    model, _ = trained
    names = list(FAVOURITE)
    flat = copy.deepcopy(model)
    flat.table.z.data[:] = flat.table.z.data.mean(0)
    seen = examples(names, 300, seed=77)
    val = cache_trunk(TOY, flat, examples(names, 100, seed=78))
    fit = styled.learn_repertoire(TOY, flat, seen.situations, seen.player, seen.target, val, names)
    rep = flat.table.repertoire
    assert fit["entries"] == len(rep) > 0 and fit["prior_weight"] in PRIOR_WEIGHTS
    assert fit["network_weight"] == rep.network_weight in PRIOR_WEIGHTS
    assert max(fit["val_loglik_by_prior_weight"].values()) > fit["val_loglik_network_alone"] + 0.1
    for i, name in enumerate(names):
        query = cache_trunk(TOY, flat, examples([name], 40, seed=900 + i, ids=[i]))
        assert names[int(np.argmax(styled.identify(TOY, flat, query)))] == name
    alone = copy.deepcopy(flat)
    alone.table.repertoire = None
    scores = styled.identify(TOY, alone, query)
    assert np.allclose(scores, scores[0])  # the network alone: every player the same
    mixed = rep.actions_at(2, flat.table.shares("ann:0.5,bob:0.5"))  # a blend mixes its players' counts
    ann, bob = rep.actions_at(2, flat.table.shares("ann")), rep.actions_at(2, flat.table.shares("bob"))
    assert ann[FAVOURITE["ann"]] > 20 and bob[FAVOURITE["bob"]] > 20
    assert mixed == {a: pytest.approx((ann.get(a, 0) + bob.get(a, 0)) / 2) for a in set(ann) | set(bob)}
    before = len(rep)
    eve = {"eve": (2,)}
    styled.enroll(TOY, flat, "eve", cache_trunk(TOY, flat, examples(["eve"], 50, seed=5, favourites=eve, ids=[4])), 5)
    eves = [rep.actions_at(x, np.eye(5)[4]) for x in (1, 2, 3, 4)]  # eve's own choices are counted
    assert len(rep) > before and sum(c.get(2, 0) for c in eves) > 20 and sum(sum(c.values()) for c in eves) == 50
    again = type(rep).from_dict(rep.to_dict())
    assert np.array_equal(again.keys, rep.keys) and np.array_equal(again.counts, rep.counts)
    assert (again.prior_weight, again.network_weight) == (rep.prior_weight, rep.network_weight)


# --- a third game writes only its nouns: the core's verbs then work for it ---------------------

@dataclass
class ToyAdapters(Adapters):
    heads: int = setting(4, whole(1), "heads")
    skills: int = setting(4, whole(1), "skills")
    rank: int = setting(2, whole(1), "rank")


@dataclass
class ToyRecipe:
    mhr: ToyAdapters = section(ToyAdapters, "the adapters")
    batch_size: int = setting(64, whole(1), "examples a step")
    epochs: int = setting(3, whole(1), "passes")
    lr_adapters: float = setting(0.01, number(0), "the adapters' learning rate")
    lr_styles: float = setting(0.1, number(0), "the style rows'")
    seed: int = setting(0, whole(0), "seed")


class ToyGame(Game):
    """The toy as a whole game: a dataset is an .npz of contexts, actions and players; a user's
    file is one player's .npz. Nothing else of the core is written for it."""

    name, network, unit = "toy", TOY, "decisions"
    min_enroll_games = 2
    properties = {"plays_zero": "share of decisions that take action 0"}

    recipe = ToyRecipe

    def style_data(self, base_card, data_dir, recipe):
        d = np.load(data_dir)
        names = [str(n) for n in d["names"]]
        x = torch.from_numpy(d["x"])
        ex = Examples(names, d["player"], d["target"], inputs=lambda i: x[torch.as_tensor(i)])
        return StyleData(names, [int((d["player"] == i).sum()) // 100 for i in range(len(names))], names, ex, None,
                         {"data": {"input_hash": "toy"}})

    def read_query(self, model, card, files, player, **options):
        d = [np.load(f) for f in files]
        if player is not None and any(str(f["who"]) != player for f in d):
            raise PlayasError(f"{player!r} did not play in these files")
        x = torch.from_numpy(np.concatenate([f["x"] for f in d]))
        y = np.concatenate([f["target"] for f in d])
        ex = Examples([str(d[0]["who"])], np.zeros(len(y), np.int64), y, inputs=lambda i: x[torch.as_tensor(i)])
        return Query(cache_trunk(TOY, model, ex), len(files), str(d[0]["who"]))

    def score(self, entries, steer, data_dir=None, split="test", files=None, **options):
        d = np.load(data_dir)
        x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["target"])
        out = {}
        with torch.no_grad():
            for e in entries:
                if e.mode == "base":
                    net = e.model.unadapted_base() if hasattr(e.model, "table") else e.model
                    logits = net(net.hidden(x))
                else:
                    rows = styled.table_rows(e.model, [str(n) for n in d["names"]])
                    z = styled.routed_rows(e.model, torch.from_numpy(d["player"]), rows) if e.mode == "own" \
                        else e.model.table.resolve(None if e.mode == "mean" else e.mode, steer)
                    logits = TOY.head(e.model, TOY.trunk(e.model, x), z)
                out[e.label] = {"top1": float((logits.argmax(1) == y).float().mean())}
        return len(y), out

    def measure(self, data_dir=None, files=None, **options):
        d = np.load(data_dir)
        return {str(n): {"games": 1, "plays_zero": float((d["target"][d["player"] == i] == 0).mean())}
                for i, n in enumerate(d["names"])}


def _toy_file(path, who: str, favourite, n: int, seed: int):
    x, y = play(favourite, n, seed)
    np.savez(path, x=x, target=y, who=who)
    return path


def test_the_core_verbs_run_a_game_that_writes_only_its_nouns(trained, tmp_path):
    """train_styles, enroll, identify, evaluate and steer from core.verbs, through ToyGame alone."""
    model, _ = trained
    game = ToyGame()
    base = tmp_path / "base.pt"
    checkpoint.save_model(base, TOY, model.unadapted_base(), {"kind": "base"})  # the trained base, plain
    ex = examples(list(FAVOURITE), 800, seed=0)
    np.savez(tmp_path / "data.npz", x=ex.inputs(np.arange(len(ex))).numpy(), target=ex.target, player=ex.player,
             names=np.array(list(FAVOURITE)))
    with pytest.raises(PlayasError, match="^recipe: epochs must be a whole number of at least 1, not 0$"):
        verbs.train_styles(game, base, tmp_path / "data.npz", tmp_path / "styled.pt", {"epochs": 0})
    card = verbs.train_styles(game, base, tmp_path / "data.npz", tmp_path / "styled.pt")
    assert card["players"] == 4 and card["games_per_player"] == {n: 8 for n in FAVOURITE}
    for i, name in enumerate(FAVOURITE):
        f = _toy_file(tmp_path / f"{name}.npz", name, FAVOURITE[name], 60, seed=4000 + i)
        ranking = verbs.identify(game, tmp_path / "styled.pt", [f], player=name)
        assert ranking.top(1)[0][0] == name and ranking.rank_of(name) == 1 and ranking.examples == 60
    eve = [_toy_file(tmp_path / f"eve{i}.npz", "eve", (FAVOURITE["ann"], FAVOURITE["bob"]), 60, 50 + i)
           for i in range(2)]
    with pytest.raises(PlayasError, match="needs at least 2"):
        verbs.enroll(game, tmp_path / "styled.pt", "Eve", eve[:1], tmp_path / "eve.pt")
    r = verbs.enroll(game, tmp_path / "styled.pt", "Eve", eve, tmp_path / "eve.pt")
    assert r.games == 2 and r.examples == 120 and {n for n, _ in r.similar[:2]} == {"ann", "bob"}
    with pytest.raises(PlayasError, match="already in the style table"):
        verbs.enroll(game, tmp_path / "eve.pt", "Eve", eve, tmp_path / "eve2.pt")
    assert verbs.identify(game, tmp_path / "eve.pt", [eve[0]]).top(1)[0][0] == "Eve"
    test = examples(list(FAVOURITE), 300, seed=600)
    np.savez(tmp_path / "test.npz", x=test.inputs(np.arange(len(test))).numpy(), target=test.target,
             player=test.player, names=np.array(list(FAVOURITE)))
    report = verbs.evaluate(game, [tmp_path / "styled.pt", base], data_dir=tmp_path / "test.npz")
    m = report["models"]
    assert report["examples"] == 1200 and set(m) == {"styled [own]", "styled [mean]", "styled [base]", "base"}
    assert m["styled [own]"]["top1"] > m["styled [mean]"]["top1"] + 0.05 and m["styled [base]"] == m["base"]
    with pytest.raises(PlayasError, match="need a styled model"):
        verbs.evaluate(game, [base], style="ann", data_dir=tmp_path / "test.npz")
    wrote = verbs.steer(game, tmp_path / "styled.pt", game.measure(tmp_path / "data.npz"), tmp_path / "steer.pt")
    steered = checkpoint.load_styled(tmp_path / "steer.pt", TOY)[0]
    assert wrote == ["plays_zero"] and probs(steered, steer={"plays_zero": 2.0})[0] > probs(steered)[0] + 0.05
    with pytest.raises(PlayasError, match="is a folder"):
        verbs.enroll(game, tmp_path / "styled.pt", "Zed", eve, tmp_path)  # before any work
