"""The models shipped in ``models/``, per game (light: imports nothing heavy, so engines start fast).

Each game names its default model, a styled one, and what to use where that file is absent.
Every command of a game that takes ``--model`` defaults to :func:`default_model` of that game.
"""

from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent / "models"

SHIPPED = {
    # game: (the styled default, the plain fallback)
    "chess": ("pgnmentor-197.pt", "maia-1900.pt"),
    "rocket": ("rocket-replays.pt", "rocket-replays.pt"),
}


def default_model(game: str) -> Path:
    """The shipped styled model of ``game``, or its plain fallback where that file is absent."""
    styled, plain = SHIPPED[game]
    return MODELS / styled if (MODELS / styled).exists() else MODELS / plain
