"""Rocket League players as styles: queries from replay files (identify who drove, enroll a new
player, predict a decision under a style).

The style machinery is :mod:`playas.core.styled`, the same as chess; this module turns a
player's decisions in replays into its inputs.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..core import checkpoint, fitting, styled
from ..core.errors import PlayasError
from ..core.trunk import TrunkCache
from .dataset import RocketData, load_replays
from .model import ROCKET, load_styled, pack, save_model
from .train import cache
from .vocabulary import DECISIONS_PER_SECOND

# --- queries from replay files ------------------------------------------------------------------

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


def decision_at(rows: np.ndarray, at: float, player: str, where: str) -> int:
    """The index in ``rows`` (a player's decisions) of the one ``at`` seconds into their play.

    Raises :class:`PlayasError` when ``at`` is not a time within that play (before its start or
    after its last decision): a prediction for a moment the player never saw is meaningless, so
    it is refused rather than moved to the nearest end.
    """
    last = (len(rows) - 1) / DECISIONS_PER_SECOND
    i = round(at * DECISIONS_PER_SECOND) if math.isfinite(at) else -1
    if not 0 <= i < len(rows):
        raise PlayasError(f"{at:g} s is outside {player}'s play in {where}, which runs from 0 to {last:.1f} s")
    return i


def query(model, replays, player: str, seconds: float | None = None) -> tuple[TrunkCache, int, RocketData]:
    """One player's decisions in replay files with the trunk run, their game count and the data."""
    data = load_replays(replays)
    p = find_player(data, player, ", ".join(str(r) for r in replays))
    rows = player_rows(data, p, seconds)
    return cache(model, data, rows), len(data.games_of(p)), data


def identify(model_path, replays, player: str, method: str = "likelihood", seconds: float | None = None) -> dict:
    """Rank the known players of a styled model by how likely they drove ``player``'s car."""
    model, _ = load_styled(model_path)
    c, games, _ = query(model, replays, player, seconds)
    scores = styled.identify(ROCKET, model, c, method)
    return {"games": games, "decisions": len(c), "seconds": round(len(c) / DECISIONS_PER_SECOND, 1), "method": method,
            "names": model.table.names, "scores": scores,
            "ranking": fitting.ranking(model.table.names, scores)}


def enroll(model_path, name: str, replays, player: str, out, min_games: int = 1) -> dict:
    """Add ``name`` to the style table from ``player``'s play in ``replays``: only the new row trains."""
    model, blob = load_styled(model_path)
    if name in model.table.names:
        raise PlayasError(f"player {name!r} is already in {model_path}")
    c, games, _ = query(model, replays, player)
    if games < min_games:
        raise PlayasError(f"{games} games of {player} found; enrollment needs at least {min_games}")
    styled.enroll(ROCKET, model, name, c, games)
    card = checkpoint.card_for_copy(blob)
    card.setdefault("enrolled", {})[name] = {"games": games, "decisions": len(c), "player": player}
    card["players"] = len(model.table)
    save_model(out, model, card)
    return {"name": name, "games": games, "decisions": len(c), "similar": model.table.similar(name, 5)}


@torch.no_grad()
def predict(model_path, replay, player: str, at: float, style: str | None = None, steer=None, top: int = 5) -> dict:
    """The action distribution of ``style`` (default: the player's own row where known, else the
    mean) at the decision ``at`` seconds into ``player``'s play in ``replay``, and what they did;
    ``at`` outside that play is a :class:`PlayasError` (see :func:`decision_at`)."""
    from .actions import TABLE

    model, _ = load_styled(model_path)
    data = load_replays([replay])
    p = find_player(data, player, str(replay))
    rows = player_rows(data, p)
    i = decision_at(rows, at, data.players[p], str(replay))
    if style is None and data.players[p] in model.table.names:
        style = data.players[p]
    z = model.table.resolve(style, steer)
    inputs = data.windows(rows[i:i + 1], model.base.config.context)
    logits = ROCKET.head(model, ROCKET.trunk(model, pack(*inputs)), z)[0]
    probs = torch.softmax(logits, 0)
    order = torch.argsort(probs, descending=True)[:top]
    did = int(data.action[rows[i]])
    return {"player": data.players[p], "style": style or "mean", "at": round(i / DECISIONS_PER_SECOND, 2),
            "top": [{"action": int(a), "p": round(float(probs[a]), 4), "controls": TABLE[int(a)].tolist()} for a in order],
            "did": {"action": did, "p": round(float(probs[did]), 4), "controls": TABLE[did].tolist()}}
