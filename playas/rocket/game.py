"""Rocket League's nouns for the core's style verbs (:mod:`playas.core.verbs`): a prepared
dataset's players as training examples, replay files as one player's query, the properties
measured from play.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core.errors import PlayasError
from ..core.game import Examples, Game, Query, StyleData
from ..core.trunk import TrunkCache, cache_trunk
from ..core.verbs import add_directions
from .dataset import RocketData, load_replays
from .model import ROCKET, pack
from .properties import PROPERTIES, player_properties
from .train import StylesRecipe, mine, split_games
from .vocabulary import DECISIONS_PER_SECOND


def examples(data: RocketData, idx: np.ndarray, context: int) -> Examples:
    """Decisions ``idx`` for the core: each a window of the ones before it."""
    idx = np.asarray(idx, np.int64)
    return Examples(players=list(data.players), player=data.player[idx], target=data.action[idx],
                    inputs=lambda i: pack(*data.windows(idx[i], context)))


def cache(model, data: RocketData, idx: np.ndarray) -> TrunkCache:
    """The frozen trunk's output for decisions ``idx``."""
    return cache_trunk(ROCKET, model, examples(data, idx, model.base.config.context), batch_size=2048)


def style_data(base_card: dict, data_dir, r: dict, games: list[int] | None = None) -> StyleData:
    """One style row per player with ``min_games`` games among ``games`` (default: the base's
    training split); under torchrun each rank reads its share of the games."""
    data = RocketData.open(data_dir)
    split = base_card.get("split") or split_games(data, False)
    games = split["train"] if games is None else games
    counts = {p: len(set(data.games_of(p)) & set(games)) for p in range(len(data.players))}
    unknown = [n for n in r["holdout"] if n not in data.players]
    if unknown:
        raise PlayasError(f"holdout players not in {data_dir}: {', '.join(unknown)}")
    keep = [p for p, n in counts.items() if n >= r["min_games"] and data.players[p] not in r["holdout"]]
    if not keep:
        raise PlayasError(f"no player has {r['min_games']} training games in {data_dir}")
    names = [data.players[p] for p in keep]
    k = _context(base_card)
    train = examples(data, data.rows(mine(games), keep), k)
    val = examples(data, data.rows(mine(split.get("val") or []), keep), k)
    props = player_properties(data, set(games))

    def finish(model, val_cache) -> dict:
        add_directions(model.table, PROPERTIES, {n: v for n, v in props.items() if n in model.table.names})
        return {}

    card = {"split": split, "player_keys": {data.players[p]: data.keys[p] for p in keep},
            "player_meta": {n: {k: round(v, 3) for k, v in props[n].items()} for n in names},
            "data": {"input_hash": data.manifest["input_hash"]}}
    return StyleData(names, [counts[p] for p in keep], list(data.players), train, val, card, finish)


def _context(base_card: dict) -> int:
    """The decisions a window holds, as the base network was built."""
    return (base_card.get("recipe") or {}).get("net", {}).get("context", 16)


# --- replay files as a query ---------------------------------------------------------------------

def find_player(data: RocketData, player: str, where: str) -> int:
    """The index of ``player`` (an in-game name, any case, or a platform key) in replays ``data``."""
    for i, (key, name) in enumerate(zip(data.keys, data.players)):
        if player in (key, name) or player.lower() == name.lower() \
                or player.lower() == data.manifest["players"][key]["name"].lower():
            return i
    raise PlayasError(f"{player!r} did not play in {where}; players there: {', '.join(sorted(data.players))}")


def player_rows(data: RocketData, player: int, seconds: float | None = None) -> np.ndarray:
    """The player's decisions, or the first ``seconds`` of their play."""
    rows = data.rows(players=[player])
    return rows[: int(seconds * DECISIONS_PER_SECOND)] if seconds else rows


def read_query(model, replays: Sequence, player: str | None, seconds: float | None = None) -> Query:
    """One player's decisions in replay files with the trunk run, and their game count."""
    if not player:
        raise PlayasError("say whose car to read with --player NAME (their in-game name)")
    if seconds is not None and seconds <= 0:
        raise PlayasError(f"--seconds must be more than 0, not {seconds:g}")
    data = load_replays(replays)
    p = find_player(data, player, ", ".join(str(r) for r in replays))
    return Query(cache(model, data, player_rows(data, p, seconds)), len(data.games_of(p)), data.players[p])


class RocketGame(Game):
    """Rocket League: replay files in, the causal transformer (:data:`playas.rocket.model.ROCKET`)
    under the styles."""

    name = "rocket"
    network = ROCKET
    unit = "decisions"
    min_enroll_games = 1
    properties = PROPERTIES
    recipe = StylesRecipe

    def style_data(self, base_card, data_dir, recipe):
        return style_data(base_card, data_dir, recipe)

    def read_query(self, model, card, files, player, **options):
        return read_query(model, files, player, **options)

    def score(self, entries, steer, data_dir=None, split="test", files=None, **options):
        from .evaluate import score

        return score(entries, steer, data_dir, split, files)

    def measure(self, data_dir=None, files=None, **options):
        data = RocketData.open(data_dir) if data_dir else load_replays(files)
        return {n: {"games": len(data.games_of(data.players.index(n))), **v} for n, v in player_properties(data).items()}


GAME = RocketGame()
