"""What a game supplies so that :mod:`playas.core` can learn, enroll and identify its players.

The core does everything about styles once, for every game: two-speed training of adapters and
style rows with a holdout, few-shot enrollment, stylometry by likelihood or by vector, the
frozen-trunk cache, blends and steering, styled checkpoints with their cards. A game supplies only
what it alone knows, by subclassing :class:`Game`:

- its network: how to save its architecture and build it again (:meth:`Game.describe`,
  :meth:`Game.build`);
- where the adapters go (:meth:`Game.adapter_targets`), and so where its frozen trunk ends
  (:meth:`Game.trunk`) and what runs above it under a style (:meth:`Game.head`);
- its data as :class:`Examples`: who acted, what they did, and how to encode what they saw.

Chess (:mod:`playas.chess.styles`) is the worked example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn


@dataclass
class Examples:
    """Decisions people made, ready for the core: example ``i`` is player ``player[i]`` choosing
    action ``target[i]`` where the network sees ``inputs([i])``.

    ``keys`` (optional) marks examples with identical inputs, so the frozen trunk runs once for
    all of them (chess openings repeat); ``allowed`` (optional) gives the legal actions, which
    likelihoods are normalised over; ``situations`` (optional) names the exact situation of each
    example where a repertoire counts it (non-zero keys; chess: a position's polyglot key in the
    opening), see :mod:`playas.core.repertoire`.
    """

    players: list[str]
    player: np.ndarray  # (n,) index into players
    target: np.ndarray  # (n,) the action taken
    inputs: Callable[[np.ndarray], torch.Tensor]  # example indices -> network inputs, in that order
    keys: np.ndarray | None = None
    allowed: Callable[[np.ndarray], torch.Tensor] | None = None  # example indices -> (k, actions) bool
    situations: np.ndarray | None = None  # (n,) int64, 0 where no repertoire counts the example

    def __len__(self) -> int:
        return len(self.target)


class Game:
    """A game's side of the protocol. ``name`` goes into checkpoints: a chess file never loads as
    another game's."""

    name: str = ""

    def describe(self, net: nn.Module) -> dict:
        """The architecture of a base network, stored in its checkpoint (no weights)."""
        raise NotImplementedError

    def build(self, described: dict) -> nn.Module:
        """A base network (random weights) from what :meth:`describe` stored."""
        raise NotImplementedError

    def adapter_targets(self, net: nn.Module, adapt: dict) -> tuple[str, ...]:
        """Names of the submodules to wrap in MHR layers, from the recipe's ``mhr`` settings."""
        raise NotImplementedError

    def trunk(self, model, x: torch.Tensor) -> torch.Tensor:
        """The frozen part of the styled ``model`` (below every adapter) on inputs ``x``."""
        raise NotImplementedError

    def head(self, model, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Action logits from trunk output ``h`` under routing logits ``z`` (N, H, S) or (H, S)."""
        raise NotImplementedError

    def style_logliks(self, model, cache, z: torch.Tensor) -> torch.Tensor | None:
        """Optional fast path: log-likelihoods (styles, examples) of every style at once.
        None falls back to running the head once per style."""
        return None
