"""What a style would do at one moment of a replay: ``playas rocket predict``."""

from __future__ import annotations

import torch

from ..core.errors import PlayasError
from .actions import TABLE
from .dataset import load_replays
from .game import DECISIONS_PER_SECOND, find_player, player_rows
from .model import ROCKET, load_styled, pack


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
    i = int(round(at * DECISIONS_PER_SECOND))
    played = (len(rows) - 1) / DECISIONS_PER_SECOND
    if not 0 <= i < len(rows):
        raise PlayasError(f"--at {at:g} is outside {data.players[p]}'s play in {replay} (0 to {played:.1f} s)")
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
