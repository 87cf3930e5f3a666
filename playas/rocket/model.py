"""The Rocket League policy: a small causal transformer over a car's last decisions.

Each token is one decision: what the car saw (:func:`~playas.rocket.frames.observe`) and, where
``previous_action`` is on, the action it took the decision before. The network predicts the next
action, one of RLGym's 90 (:data:`~playas.rocket.actions.TABLE`). Short windows are padded on the
left and masked.

A network reads the first ``obs_size`` features of what it is given: the encoder's features only
ever grow at their end, so a model built before they grew (``obs_size`` 110, before the boost
pads) reads today's observations, and today's datasets, unchanged. Fewer features than ``obs_size`` is an error that says so.

Styles (:mod:`playas.core`) put MHR adapters on the last block's MLP. Everything below it is
frozen and, for the last token, computed once (:meth:`RocketNet.hidden`); the adapted top
(:meth:`RocketNet.top`) is all a style changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..core import checkpoint
from ..core.errors import PlayasError
from ..core.game import Network
from .actions import TABLE
from .frames import OBS_SIZE

ACTIONS = len(TABLE)
NO_ACTION = ACTIONS  # the "previous action" of a car's first decision


@dataclass
class PolicyConfig:
    obs_size: int = OBS_SIZE  # features read: the first this many of observe's (110 before the pads)
    actions: int = ACTIONS
    context: int = 16  # decisions seen, about a second at 15 per second
    width: int = 128
    layers: int = 2
    heads: int = 4
    previous_action: bool = False  # each token also holds the action taken the decision before

    def to_dict(self) -> dict:
        return asdict(self)


class Attention(nn.Module):
    def __init__(self, c: PolicyConfig):
        super().__init__()
        self.heads = c.heads
        self.qkv = nn.Linear(c.width, 3 * c.width)
        self.proj = nn.Linear(c.width, c.width)

    def forward(self, x, mask):
        n, t, w = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(n, t, w))


class MLP(nn.Module):
    def __init__(self, c: PolicyConfig):
        super().__init__()
        self.fc = nn.Linear(c.width, 4 * c.width)
        self.proj = nn.Linear(4 * c.width, c.width)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, c: PolicyConfig):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(c.width), Attention(c)
        self.ln2, self.mlp = nn.LayerNorm(c.width), MLP(c)

    def forward(self, x, mask):
        x = x + self.attn(self.ln1(x), mask)
        return x + self.mlp(self.ln2(x))


class RocketNet(nn.Module):
    """``net(obs, prev, valid)``: action logits (N, T, 90) for windows of ``T`` decisions;
    ``net(h)``: logits (N, 90) from :meth:`hidden`'s output.

    ``obs`` (N, T, OBS_SIZE), ``prev`` (N, T) the action before each decision (:data:`NO_ACTION`
    for none), ``valid`` (N, T) False on left padding.
    """

    def __init__(self, config: PolicyConfig):
        super().__init__()
        c = self.config = config
        self.embed = nn.Linear(c.obs_size, c.width)
        self.prev_action = nn.Embedding(c.actions + 1, c.width)
        self.position = nn.Parameter(torch.zeros(c.context, c.width))
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.layers))
        self.ln_f = nn.LayerNorm(c.width)
        self.head = nn.Linear(c.width, c.actions)
        nn.init.normal_(self.position, std=0.02)

    def _mask(self, valid):
        t = valid.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool, device=valid.device).tril()
        # a padded query attends to itself only, so no row of the mask is empty
        return (causal & valid[:, None, None, :]) | torch.eye(t, dtype=torch.bool, device=valid.device)

    def _tokens(self, obs, prev, valid):
        t, n = obs.shape[1], self.config.obs_size
        if obs.shape[-1] < n:
            raise PlayasError(f"this model reads {n} features a decision, the data holds {obs.shape[-1]}: "
                              f"prepare the replays again (`playas rocket prepare`)")
        x = self.embed(obs[..., :n]) + self.position[-t:]
        if self.config.previous_action:
            x = x + self.prev_action(prev)
        return x * valid[..., None]

    def forward(self, obs, prev=None, valid=None, start: int | None = None):
        if start is not None:  # ``obs`` is :meth:`hidden`'s output: only the (adapted) top runs
            return self.top(obs, start)
        x, mask = self._tokens(obs, prev, valid), self._mask(valid)
        for b in self.blocks:
            x = b(x, mask)
        return self.head(self.ln_f(x))

    def hidden(self, obs, prev, valid, start: int | None = None):
        """The frozen part below block ``start``: the window's residual stream entering it and
        the valid flags as one more channel, (N, T, width + 1). With ``start`` None (or the
        number of blocks), the last token's stream after the last block's attention, (N, width):
        where only that block's MLP is adapted."""
        n = len(self.blocks)
        start = n if start is None else start
        x, mask = self._tokens(obs, prev, valid), self._mask(valid)
        for b in self.blocks[:min(start, n - 1)]:
            x = b(x, mask)
        if start < n:
            return torch.cat([x, valid[..., None].to(x.dtype)], -1)
        b = self.blocks[-1]
        return (x + b.attn(b.ln1(x), mask))[:, -1]

    def top(self, h, start: int | None = None):
        """Action logits (N, 90) of the last token from :meth:`hidden` ``h`` (same ``start``)."""
        n = len(self.blocks)
        if start is None or start >= n:
            b = self.blocks[-1]
            x = h + b.mlp(b.ln2(h))
        else:
            x, valid = h[..., :-1], h[..., -1] > 0.5
            mask = self._mask(valid)
            for b in self.blocks[start:]:
                x = b(x, mask)
            x = x[:, -1]
        return self.head(self.ln_f(x))


def pack(obs, prev, valid) -> torch.Tensor:
    """One tensor (N, T, OBS_SIZE + 2) for the core's caches: observations, previous action, valid."""
    return torch.cat([obs, prev[..., None].float(), valid[..., None].float()], -1)


def unpack(x: torch.Tensor):
    return x[..., :-2], x[..., -2].long(), x[..., -1] > 0.5


class RocketNetwork(Network):
    """Rocket League for :mod:`playas.core`: adapters on every linear layer of the last
    ``adapt_blocks`` blocks, or (0) on the last block's MLP only, whose frozen trunk is then one
    vector a decision."""

    name = "rocket"

    def describe(self, net: RocketNet) -> dict:
        return {"arch": "causal-transformer", "config": net.config.to_dict()}

    def build(self, described: dict) -> RocketNet:
        return RocketNet(PolicyConfig(**described["config"]))

    def adapter_targets(self, net: RocketNet, adapt: dict) -> tuple[str, ...]:
        n, k = len(net.blocks), adapt.get("adapt_blocks", 0)
        if k == 0:
            return (f"blocks.{n - 1}.mlp.fc", f"blocks.{n - 1}.mlp.proj")
        return tuple(f"blocks.{i}.{m}" for i in range(n - k, n) for m in ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj"))

    def trunk(self, model, x):
        return model.base.hidden(*unpack(x), start=first_adapted_block(model))

    def head(self, model, h, z):
        return model(h, z=z, start=first_adapted_block(model))


def first_adapted_block(model) -> int:
    """The first block with adapters on its attention (the trunk ends before it), or the number
    of blocks where only the last block's MLP is adapted."""
    idx = [int(t.split(".")[1]) for t in model.cfg.targets if ".attn." in t]
    return min(idx) if idx else len(model.base.blocks)


ROCKET = RocketNetwork()


def top_part(net: RocketNet) -> tuple[nn.Module, ...]:
    """The modules above the frozen trunk: the last block's MLP (with a style's adapters), the
    final norm and the head. What fine-tuning in play changes, and what a person policy holds."""
    return net.blocks[-1].ln2, net.blocks[-1].mlp, net.ln_f, net.head


def _top_keys(net: RocketNet) -> list[str]:
    ids = {id(t) for m in top_part(net) for t in [*m.parameters(), *m.buffers()]}
    named = dict(net.named_parameters(), **dict(net.named_buffers()))
    return [k for k in net.state_dict() if k in named and id(named[k]) in ids]


def same_trunk(styled, other) -> bool:
    """``other`` has ``styled``'s players and style rows and, below :func:`top_part`, its very
    layers: the two read a window the same way and differ only in how they act on it."""
    if other.table.names != styled.table.names or not torch.equal(other.table.z, styled.table.z):
        return False
    mine, theirs, top = styled.base.state_dict(), other.base.state_dict(), set(_top_keys(styled.base))
    return mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine if k not in top)


# --- deciding with a person policy beside the play policy (piKL) -------------------------------

def decision_logits(play: torch.Tensor, person: torch.Tensor | None, strength: float) -> torch.Tensor:
    """Logits of the policy a car acts by: pi(a) proportional to person(a)^(1 - strength) x
    play(a)^strength.

    This is piKL's decision rule (Jacob et al., arXiv 2112.07544): the human policy reweighted by
    exp(Q/lambda). A policy fine-tuned with a KL weight k toward the person is, at its optimum,
    person x exp(Q/k), so its log-ratio to the person is Q/k and ``strength`` = k/lambda turns
    lambda without training again: 0 is the person policy, 1 the play policy as fine-tuned."""
    if person is None or strength >= 1:
        return play
    return (1 - strength) * F.log_softmax(person, -1) + strength * F.log_softmax(play, -1)


def check_strength(strength: float | None, paired: bool, where) -> None:
    """Refuse a strength outside [0, 1], or one other than 1 for a model (``where``) with no person
    policy, in one sentence. None (the model's own) always passes."""
    if strength is None:
        return
    if not 0 <= strength <= 1:
        raise PlayasError(f"strength is between 0 (the person policy) and 1 (the play policy), not {strength:g}")
    if strength != 1 and not paired:
        raise PlayasError(f"strength {strength:g} needs a model paired with its person policy "
                          f"(playas rocket pair); {where} holds none")


def person_extra(person) -> dict:
    """What a paired model keeps of its person policy: the top (:func:`top_part`), the rest
    being the play policy's own (:func:`same_trunk`)."""
    state = person.base.state_dict()
    return {"person": {k: state[k].clone() for k in _top_keys(person.base)}}


def load_person(styled, blob: dict):
    """The person policy a paired model carries (``styled`` with the person's top), or None."""
    top = (blob.get("extra") or {}).get("person")
    if top is None:
        return None
    import copy

    person = copy.deepcopy(styled)
    person.base.load_state_dict({**person.base.state_dict(), **top})
    return person.eval()


def decisions(blob: dict) -> dict:
    """How a model's cars decide unless told: ``strength`` (1 where it holds no person policy)
    and ``temperature`` (None: the caller's default), from its card's ``decisions``."""
    d = blob["card"].get("decisions") or {}
    paired = "person" in (blob.get("extra") or {})
    return {"strength": float(d.get("strength", 1.0)) if paired else 1.0, "temperature": d.get("temperature")}


def pair(play_path, person_path, out, strength: float, temperature: float | None = None) -> dict:
    """Write ``play_path`` (styles fine-tuned in play) with the person policy of ``person_path``
    beside it (its top: the two must share every frozen layer and style row), deciding by both
    at ``strength`` (:func:`decision_logits`) and ``temperature`` unless a caller says otherwise.
    Returns the new card."""
    check_strength(strength, True, play_path)
    if temperature is not None and temperature < 0:
        raise PlayasError(f"temperature is 0 or more, not {temperature:g}")
    play, blob = load_styled(play_path)
    person, person_blob = load_styled(person_path)
    if not same_trunk(play, person):
        raise PlayasError(f"{person_path} does not share {play_path}'s frozen layers and style rows: "
                          "pair a model with one fine-tuned from the same cloned styles")
    pc = person_blob["card"]
    card = {**checkpoint.card_for_copy(blob), "kind": "styled, fine-tuned in play, paired with its person policy",
            "decisions": {"strength": strength, **({"temperature": temperature} if temperature is not None else {})},
            "person": {"file": Path(person_path).name, "kind": pc.get("kind"),
                       **({"fine_tune": pc["fine_tune"]} if "fine_tune" in pc else {})}}
    save_model(out, play, card, {**(blob.get("extra") or {}), **person_extra(person)})
    return card


def save_model(path, model, card: dict, extra: dict | None = None) -> None:
    checkpoint.save_model(path, ROCKET, model, card, extra)


def load_model(path):
    return checkpoint.load_model(path, ROCKET)


def load_styled(path):
    return checkpoint.load_styled(path, ROCKET)


def load_base(path) -> RocketNet:
    return checkpoint.load_base(path, ROCKET)
