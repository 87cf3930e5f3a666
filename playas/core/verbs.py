"""The style verbs, written once for every game: train styles, enroll, identify, steer.

Each takes the :class:`~playas.core.game.Game` whose nouns it works on (how its files become a
:class:`~playas.core.game.Query`, its training data, its properties) and does the rest here: the
recipe, the frozen-trunk caches, the fitting, the rank-0 guard under torchrun, the model card.
The command line over these is :mod:`playas.core.commands`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import checkpoint, config, distributed, learning
from .card import read_card
from .errors import PlayasError
from .game import Game, Scored
from .output import writable_file
from .trunk import cache_trunk


@dataclass
class Ranking:
    """Who most likely played a query, best first: every known player with a score (higher is
    more likely theirs; mean log-likelihood per decision, or cosine similarity of style rows)."""

    names: list[str]
    scores: np.ndarray
    method: str
    games: int
    examples: int
    unit: str = "decisions"

    def top(self, k: int | None = None) -> list[tuple[str, float]]:
        order = np.argsort(-self.scores, kind="stable")[:k]
        return [(self.names[i], float(self.scores[i])) for i in order]

    def rank_of(self, name: str) -> int:
        """1 for the best; where ``name`` stands among the known players."""
        return 1 + int((self.scores > self.scores[self.names.index(name)]).sum())

    def to_dict(self, k: int | None = None) -> dict:
        return {"games": self.games, self.unit: self.examples, "method": self.method,
                "ranking": [{"name": n, "score": round(s, 4)} for n, s in self.top(k)]}


@dataclass
class Enrollment:
    """A player added to a model: how much they were learned from, and the nearest known styles."""

    name: str
    games: int
    examples: int
    similar: list[tuple[str, float]]


def train_styles(game: Game, base_path, data_dir, out, recipe: dict | None = None,
                 checkpoint_seconds: float = 120.0) -> dict:
    """Train MHR adapters and one style row per player over a frozen base (resumable from
    ``out``'s ``.train-state``). Under torchrun each rank caches and trains on its share of the
    data (DDP keeps the table and adapters the same everywhere); rank 0 alone finishes and writes
    ``out``. Returns the model card."""
    r = config.recipe(game.recipe, (recipe, "recipe"))
    writable_file(out, "model")
    world = distributed.setup().world
    net = checkpoint.load_base(base_path, game.network)
    data = game.style_data(read_card(base_path) or {}, data_dir, r)
    torch.manual_seed(r["seed"])
    model = learning.new_styled(game.network, net, data.names, data.games, r["mhr"])
    t0 = time.process_time()
    # The base is frozen below the adapters: its output for every example is computed once
    # (float16), so each epoch only runs the adapted top of the network.
    train = cache_trunk(game.network, model, data.train, allowed=False)
    has_val = distributed.any_across(data.val is not None and len(data.val) > 0)  # every rank or none
    val = cache_trunk(game.network, model, data.val) if has_val else None
    history = learning.train_styles(
        game.network, model, train, val, data.players, epochs=r["epochs"],
        batch_size=distributed.share(r["batch_size"]), lr_adapters=r["lr_adapters"], lr_styles=r["lr_styles"],
        per_epoch=distributed.share(data.per_epoch), seed=r["seed"],
        state_path=Path(out).with_suffix(".train-state"), checkpoint_seconds=checkpoint_seconds)
    examples = distributed.sum_across(len(train))
    summary = {"players": len(model.table), "history": history, "metrics": history[-1] if history else {}}
    if not distributed.is_main():  # one writer
        return summary
    extra = data.finish(model, val) if data.finish else {}
    card = {"kind": "styled", "base": str(base_path), "recipe": r, "world_size": world,
            "games_per_player": dict(zip(model.table.names, model.table.games)),
            **data.card, "data": {**data.card.get("data", {}), "path": str(data_dir), f"train_{game.unit}": examples},
            "cpu_seconds_this_run": round(time.process_time() - t0, 1), **summary, **extra}
    model.eval()
    checkpoint.save_model(out, game.network, model, card)
    return card


def enroll(game: Game, model_path, name: str, files: Sequence, out, *, player: str | None = None,
           min_games: int | None = None, source: dict | None = None, **options) -> Enrollment:
    """Add ``name`` to a styled model from their games in ``files`` (``player``'s decisions where
    the files hold several people) and write the model to ``out``: only the new row is fitted.
    ``source`` (where the games came from) goes on the model card."""
    writable_file(out, "model")
    model, blob = checkpoint.load_styled(model_path, game.network)
    model.table.check_new(name)
    q = game.read_query(model, blob["card"], files, player, **options)
    least = game.min_enroll_games if min_games is None else min_games
    if q.games < least:
        raise PlayasError(f"{q.games} games of {q.player or name} found; enrollment needs at least {least}")
    learning.enroll(game.network, model, name, q.cache, q.games)
    card = checkpoint.card_for_copy(blob)
    card.setdefault("enrolled", {})[name] = {
        "games": q.games, game.unit: len(q.cache), "player": q.player,
        "source": source or {"files": [Path(f).name for f in files]}}
    card["players"] = len(model.table)
    checkpoint.save_model(out, game.network, model, card, extra=blob.get("extra"))
    return Enrollment(name, q.games, len(q.cache), model.table.similar(name, 5))


def identify(game: Game, model_path, files: Sequence, *, player: str | None = None,
             method: str = "likelihood", **options) -> Ranking:
    """Rank the known players of a styled model by how likely they made ``player``'s decisions in
    ``files`` (behavioral stylometry, arXiv 2502.14998 section 4)."""
    if method not in learning.METHODS:
        raise PlayasError(f"unknown method {method!r}; choose one of {', '.join(learning.METHODS)}")
    model, blob = checkpoint.load_styled(model_path, game.network)
    q = game.read_query(model, blob["card"], files, player, **options)
    scores = learning.identify(game.network, model, q.cache, method)
    return Ranking(list(model.table.names), np.asarray(scores), method, q.games, len(q.cache), game.unit)


def evaluate(game: Game, model_paths: Sequence, *, style: str | None = None, steer: dict | None = None,
             **source) -> dict:
    """Each model's accuracy on the same held-out decisions (``source``: ``data_dir`` and ``split``,
    or ``files``, and the game's reading options). A styled model is scored three ways, under its
    players' own rows, the mean row and the network before any style (or under ``style`` and the
    base); a plain model as it is. Returns ``{"examples", "unit", "models": {label: metrics}}``."""
    from .mhr import MHRModel

    entries, stems = [], [Path(p).stem for p in model_paths]
    for path, stem in zip(model_paths, stems):
        model, blob = checkpoint.load_model(path, game.network)
        name = stem if stems.count(stem) == 1 else str(path)
        if not isinstance(model, MHRModel):
            if style or steer:
                raise PlayasError(f"--style and --steer need a styled model; {path} has no style table")
            entries.append(Scored(name, model, blob["card"], "base"))
            continue
        for mode in ([style] if style else ["own", "mean"]) + ["base"]:
            entries.append(Scored(f"{name} [{mode}]", model, blob["card"], mode))
    n, scores = game.score(entries, steer, **source)
    return {"examples": n, "unit": game.unit, "models": scores}


def steer(game: Game, model_path, measured: dict[str, dict], out, top_fraction: float = 0.25) -> list[str]:
    """Write a copy of a styled model with a steering direction for each of the game's properties
    that at least 3 of its players were measured in (``measured``: player -> properties, as
    :meth:`Game.measure` gives). Returns the properties it holds directions for."""
    writable_file(out, "model")
    model, blob = checkpoint.load_styled(model_path, game.network)
    add_directions(model.table, game.properties, measured, top_fraction)
    card = checkpoint.card_for_copy(blob)
    card["steering"] = {"properties": sorted(model.table.directions)}
    checkpoint.save_model(out, game.network, model, card, extra=blob.get("extra"))
    return sorted(model.table.directions)


def add_directions(table, properties, measured: dict[str, dict], top_fraction: float = 0.25) -> dict:
    """Store in ``table`` the steering direction of every property in ``properties`` known for
    at least 3 of its players (:meth:`StyleTable.steering_direction`)."""
    for prop in properties:
        values = {n: p[prop] for n, p in measured.items()
                  if n in table.names and p.get("games", 1) > 0 and p.get(prop) == p.get(prop)}
        if len(values) >= 3:
            table.directions[prop] = table.steering_direction(values, top_fraction)
    return table.directions
