"""Where the shipped models are (light: imports nothing heavy, so engines start fast)."""

from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent / "models"
MAIA_1900 = MODELS / "maia-1900.pt"
STYLED = MODELS / "pgnmentor-197.pt"


def default_chess_model() -> Path:
    """The shipped styled model, or the plain Maia-1900 import where it is absent."""
    return STYLED if STYLED.exists() else MAIA_1900
