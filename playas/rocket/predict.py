"""What a style would do at one moment of a replay: ``playas rocket predict``."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..core.errors import PlayasError
from .actions import TABLE
from .dataset import load_replays
from .game import find_player, player_rows
from .model import ROCKET, load_styled, pack
from .vocabulary import DECISIONS_PER_SECOND


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


@torch.no_grad()
def predict(model_path, replay, player: str, at: float, style: str | None = None, steer=None, top: int = 5) -> dict:
    """The action distribution of ``style`` (default: the player's own row where known, else the
    mean) at the decision ``at`` seconds into ``player``'s play in ``replay``, and what they did."""
    if top < 1:
        raise PlayasError(f"--top must be at least 1, not {top}")
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
