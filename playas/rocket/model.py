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


def save_model(path, model, card: dict) -> None:
    checkpoint.save_model(path, ROCKET, model, card)


def load_model(path):
    return checkpoint.load_model(path, ROCKET)


def load_styled(path):
    return checkpoint.load_styled(path, ROCKET)


def load_base(path) -> RocketNet:
    return checkpoint.load_base(path, ROCKET)
