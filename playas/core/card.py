"""Reading a model card (the JSON beside a checkpoint) without torch, so engines start fast."""

from __future__ import annotations

import json
from pathlib import Path


def read_card(model) -> dict | None:
    """The card beside checkpoint ``model``, or None when there is none or it is not JSON."""
    try:
        card = json.loads(Path(model).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None


def card_players(model) -> list[str] | None:
    """Player names from the card beside a checkpoint: ``[]`` for a plain model; None when the
    card cannot say for sure (then load the model itself). The names must add up to the card's
    player count to be trusted."""
    card = read_card(model)
    if card is None:
        return None
    if card.get("kind") != "styled":
        return []
    names = list(card.get("games_per_player") or {})
    names += [n for n in card.get("enrolled") or {} if n not in names]
    return names if len(names) == card.get("players") else None
