"""What a game supplies so that :mod:`playas.core` can learn, enroll and identify its players.

The core owns the verbs, written once for every game: train styles, enroll, identify, evaluate,
blend, steer, list and map the styles (:mod:`playas.core.verbs`). A game owns its nouns, in two
parts, each an abstract class here:

- :class:`Network`: how the core runs the game's network. How to save its architecture and build
  it again, where the adapters go, so where its frozen trunk ends and what runs above it under a
  style. Inference needs this part only (a bot loads a model and plays).
- :class:`Game`: how the game's data becomes what the verbs consume. Its training data for
  styles, a user's files read into one player's :class:`Query`, the properties it measures and
  steers along, its recipe. A third game writes these two classes and nothing else of the core.

Chess (:mod:`playas.chess.model`, :mod:`playas.chess.game`) is the worked example.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Sequence

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


class Network(ABC):
    """A game's network as the core runs it. ``name`` goes into checkpoints: a chess file never
    loads as another game's."""

    name: str = ""

    @abstractmethod
    def describe(self, net: nn.Module) -> dict:
        """The architecture of a base network, stored in its checkpoint (no weights)."""

    @abstractmethod
    def build(self, described: dict) -> nn.Module:
        """A base network (random weights) from what :meth:`describe` stored."""

    @abstractmethod
    def adapter_targets(self, net: nn.Module, adapt: dict) -> tuple[str, ...]:
        """Names of the submodules to wrap in MHR layers, from the recipe's ``mhr`` settings."""

    @abstractmethod
    def trunk(self, model, x: torch.Tensor) -> torch.Tensor:
        """The frozen part of the styled ``model`` (below every adapter) on inputs ``x``."""

    @abstractmethod
    def head(self, model, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Action logits from trunk output ``h`` under routing logits ``z`` (N, H, S) or (H, S)."""

    def style_logliks(self, model, cache, z: torch.Tensor) -> torch.Tensor | None:
        """Optional fast path: log-likelihoods (styles, examples) of every style at once.
        None falls back to running the head once per style."""
        return None


@dataclass
class Query:
    """One player's decisions read from a user's files, the trunk already run over them:
    what enroll and identify work on. ``games`` counts the games they came from."""

    cache: "TrunkCache"  # noqa: F821 (playas.core.trunk; not imported here, so this file stays light)
    games: int
    player: str = ""  # the player's name as the files wrote it


@dataclass
class StyleData:
    """What training styles learns from, as a game hands it to :func:`playas.core.verbs.train_styles`.

    ``names`` get a row each (with ``games`` training games); ``train`` and ``val`` are examples
    whose player ids index ``players``. ``card`` is what the game says about its data on the model
    card; ``finish(model, val_cache)``, run once on the writing process after training, may add
    to the model (a repertoire) and returns more for the card.
    """

    names: list[str]
    games: list[int]
    players: list[str]
    train: Examples
    val: Examples | None
    card: dict = field(default_factory=dict)
    finish: Callable | None = None
    per_epoch: int | None = None  # examples an epoch (None: every training example)


@dataclass
class Scored:
    """One row of an evaluation: a loaded model, its card, and how it chooses a style: ``own``
    (each decision under its player's row; the mean row for players without one), ``mean``,
    ``base`` (the network before any style; a plain model as it is), or a style string."""

    label: str
    model: nn.Module
    card: dict
    mode: str


class Game(ABC):
    """A game's nouns for the core's verbs (see the module docstring)."""

    name: str = ""
    network: Network
    unit: str = "decisions"  # what one example is called in messages: moves, decisions
    min_enroll_games: int = 1
    properties: dict[str, str] = {}  # measured property -> what it is, in a few words
    recipe: type  # the styles recipe, a settings class (:func:`playas.core.config.setting`)

    @abstractmethod
    def style_data(self, base_card: dict, data_dir, recipe: dict) -> StyleData:
        """The players, training and validation examples of a prepared dataset, for styles."""

    @abstractmethod
    def read_query(self, model, card: dict, files: Sequence, player: str | None, **options) -> Query:
        """One player's decisions in the user's ``files`` (``player`` names them where the files
        hold several), the trunk of the styled ``model`` run over them. ``options`` are the
        game's own reading flags. Raises PlayasError, in one sentence, on files it cannot read."""

    @abstractmethod
    def score(self, entries: Sequence["Scored"], steer: dict | None, data_dir=None, split: str = "test",
              files: Sequence | None = None, **options) -> tuple[int, dict[str, dict]]:
        """Accuracy of every entry on the same decisions (a prepared dataset's ``split``, or all of
        the players' decisions in ``files``): how many decisions, and for each entry's label its
        metrics (fractions: ``top1`` first; optionally ``players``: per-player ``top1`` and counts)."""

    @abstractmethod
    def measure(self, data_dir=None, files: Sequence | None = None, **options) -> dict[str, dict]:
        """Each player's :attr:`properties` (and ``"games"``), from a prepared dataset or files."""
