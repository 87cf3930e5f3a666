"""The chess policy: lc0's SE-ResNet with a convolutional policy head and a WDL value head,
and how :mod:`playas.core` runs it under styles (:class:`ChessNetwork`).

One class serves a network trained here and one imported from lc0/Maia weights, so every layer
mirrors lc0's layout: a convolution followed by batch norm (lc0 folds its norm into
``gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta``, which is exactly ``BatchNorm2d`` in
eval mode after a biased convolution).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..core import checkpoint
from ..core.game import Network
from .encoding import NUM_PLANES, POLICY_MAP
from .likelihood import head_logliks


@dataclass
class NetConfig:
    blocks: int = 6
    filters: int = 64
    se_ratio: int = 8
    value_channels: int = 32
    value_hidden: int = 128

    def to_dict(self) -> dict:
        return asdict(self)


class ConvBN(nn.Sequential):
    """Convolution with bias, then batch norm (lc0's ConvBlock)."""

    def __init__(self, cin: int, cout: int, k: int):
        super().__init__(nn.Conv2d(cin, cout, k, padding=k // 2, bias=True), nn.BatchNorm2d(cout, eps=1e-5))


class SE(nn.Module):
    """Squeeze-excitation as lc0 does it: a sigmoid scale and an additive bias per channel."""

    def __init__(self, channels: int, ratio: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // ratio)
        self.fc2 = nn.Linear(channels // ratio, 2 * channels)

    def forward(self, x):
        s = self.fc2(F.relu(self.fc1(x.mean((2, 3)))))
        w, b = s.chunk(2, dim=1)
        return x * torch.sigmoid(w)[..., None, None] + b[..., None, None]


class Residual(nn.Module):
    def __init__(self, channels: int, se_ratio: int):
        super().__init__()
        self.conv1 = ConvBN(channels, channels, 3)
        self.conv2 = ConvBN(channels, channels, 3)
        self.se = SE(channels, se_ratio)

    def forward(self, x):
        return F.relu(x + self.se(self.conv2(F.relu(self.conv1(x)))))


class ChessNet(nn.Module):
    """Maps (N, 112, 8, 8) planes to policy logits over the 1858 moves and WDL logits."""

    def __init__(self, config: NetConfig | None = None):
        super().__init__()
        self.config = c = config or NetConfig()
        self.input = ConvBN(NUM_PLANES, c.filters, 3)
        self.blocks = nn.Sequential(*(Residual(c.filters, c.se_ratio) for _ in range(c.blocks)))
        self.policy1 = ConvBN(c.filters, c.filters, 3)
        self.policy = nn.Conv2d(c.filters, 80, 3, padding=1)
        self.value = ConvBN(c.filters, c.value_channels, 1)
        self.value_fc1 = nn.Linear(c.value_channels * 64, c.value_hidden)
        self.value_fc2 = nn.Linear(c.value_hidden, 3)
        self.register_buffer("policy_map", torch.as_tensor(POLICY_MAP), persistent=False)

    freeze_norm = False  # fine-tuning a trained net: keep its batch-norm statistics

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_norm:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def hidden(self, x, upto: int):
        """The trunk's state after the first ``upto`` residual blocks (to resume with ``start``)."""
        h = F.relu(self.input(x))
        for block in self.blocks[:upto]:
            h = block(h)
        return h

    def forward(self, x, start: int = 0):
        """Policy logits (N, 1858) and WDL logits (N, 3). With ``start`` > 0, ``x`` is
        ``hidden(planes, start)``: styles that only adapt later layers reuse the frozen part."""
        h = F.relu(self.input(x)) if start == 0 else x
        for block in self.blocks[start:]:
            h = block(h)
        p = self.policy(F.relu(self.policy1(h))).flatten(1)[:, self.policy_map]
        v = F.relu(self.value(h)).flatten(1)
        v = self.value_fc2(F.relu(self.value_fc1(v)))
        return p, v


class ChessNetwork(Network):
    """Chess for :mod:`playas.core`: adapters on the last residual blocks and the policy head, so
    the trunk below them (:meth:`ChessNet.hidden`) is frozen and computed once per position."""

    name = "chess"

    def describe(self, net: ChessNet) -> dict:
        return {"arch": "se-resnet", "config": net.config.to_dict()}

    def build(self, described: dict) -> ChessNet:
        return ChessNet(NetConfig(**described["config"]))

    def adapter_targets(self, net: ChessNet, adapt: dict) -> tuple[str, ...]:
        """The convolutions of the last ``adapt_blocks`` residual blocks and of the policy head."""
        n, k = len(net.blocks), adapt.get("adapt_blocks", 0)
        blocks = [f"blocks.{i}.{c}.0" for i in range(n - k, n) for c in ("conv1", "conv2")]
        return tuple(blocks + ["policy1.0", "policy"])

    def trunk(self, model, x):
        return model.base.hidden(x, first_adapted_block(model))

    def head(self, model, h, z):
        return model(h, z=z, start=first_adapted_block(model))[0]

    def style_logliks(self, model, cache, z):
        if first_adapted_block(model) < len(model.base.blocks):
            return None  # adapters deeper in: the core runs each style
        return head_logliks(model, cache, z)


def first_adapted_block(model) -> int:
    """Index of the first residual block with adapters (the frozen trunk ends before it)."""
    idx = [int(t.split(".")[1]) for t in model.cfg.targets if t.startswith("blocks.")]
    return min(idx) if idx else len(model.base.blocks)


CHESS = ChessNetwork()


def style_plies(card: dict) -> int | None:
    """The plies a styled model's styles learned from (``max_ply`` of the recipe in its card):
    past them the base network answers (see :class:`playas.chess.policy.Policy`)."""
    return (card.get("recipe") or {}).get("max_ply")


def save_model(path, model, card: dict) -> None:
    """Save a :class:`ChessNet`, or a styled one (:class:`~playas.core.mhr.MHRModel`), with its card."""
    checkpoint.save_model(path, CHESS, model, card)


def load_model(path):
    """Load a chess checkpoint in eval mode: a :class:`ChessNet`, or a ``MHRModel`` one when it has
    a style table. Returns the model and the whole checkpoint blob."""
    return checkpoint.load_model(path, CHESS)


def load_styled(path):
    """A chess model that must have a style table, and its checkpoint blob."""
    return checkpoint.load_styled(path, CHESS)


def load_base(path) -> ChessNet:
    """A chess model that must be a plain network (to train styles over, or to fine-tune)."""
    return checkpoint.load_base(path, CHESS)
