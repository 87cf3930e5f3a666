"""The models shipped in ``models/``, per game (light: imports nothing heavy, so engines start fast).

Each game names its default model, a styled one, and what to use where that file is absent.
Every command of a game that takes ``--model`` defaults to :func:`default_model` of that game, but
the ones that drive a car, which take :func:`driving_model`.
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


# Where a game's cars drive with another model than its styled default: Rocket League's styles
# fine-tuned in play (``playas rocket train-play``). The behaviour-cloned model stays the default
# of the verbs that read people (identify, enroll, eval, predict) and is one ``--model`` away for
# driving.
DRIVING = {"rocket": "rocket-play.pt"}


def driving_model(game: str) -> Path:
    """The model ``game``'s bots and matches drive with by default."""
    if game in DRIVING and (MODELS / DRIVING[game]).exists():
        return MODELS / DRIVING[game]
    return default_model(game)
