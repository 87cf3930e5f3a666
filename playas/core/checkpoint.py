"""One checkpoint format for every game: a torch file plus a JSON model card beside it.

The file holds the game's name, the network's architecture config, its weights (base, and when
styled, adapters and the style table) and the card; the card is also written as ``NAME.json``
so a person can read what a model is without loading it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from pathlib import Path

import torch

from .. import __version__
from .errors import PlayasError

FORMAT = "playas-checkpoint"
VERSION = 1


def card_path(path: str | os.PathLike) -> Path:
    return Path(path).with_suffix(".json")


def versions() -> dict:
    import numpy

    return {"playas": __version__, "torch": str(torch.__version__), "numpy": numpy.__version__,
            "python": platform.python_version()}


def save(path: str | os.PathLike, game: str, payload: dict, card: dict) -> None:
    """Write a checkpoint atomically (a crash never leaves half a file) and its card beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    card = _finite({"game": game, **card, "versions": versions()})
    blob = {"format": FORMAT, "version": VERSION, "game": game, "card": card, **payload}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(blob, tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a model file is for everyone to read
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    card_path(path).write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")


def _finite(x):
    """The card with NaN and infinities as null: a card is JSON, and JSON has no NaN."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def load(path: str | os.PathLike, game: str) -> dict:
    """Read a checkpoint of ``game``; anything else fails with one clear sentence."""
    path = Path(path)
    if not path.exists():
        raise PlayasError(f"model file {path} does not exist")
    if path.is_dir():
        raise PlayasError(f"model path {path} is a directory, not a checkpoint file")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise PlayasError(f"{path} is not a playas checkpoint") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise PlayasError(f"{path} is not a playas checkpoint")
    if blob.get("version", 0) > VERSION:
        raise PlayasError(f"{path} was written by a newer playas (format {blob['version']}); upgrade playas")
    if blob.get("game") != game:
        raise PlayasError(f"{path} is a {blob.get('game')} model, not a {game} model")
    return blob


def save_model(path: str | os.PathLike, game, model, card: dict, extra: dict | None = None) -> None:
    """Save ``game``'s base network, or a styled one (adapters and style table too), with its card;
    ``extra``: more of the game's own tensors, kept under ``blob["extra"]`` (a copy of a model
    passes its blob's on, so nothing of it is lost)."""
    from .mhr import MHRModel

    payload = {"extra": extra} if extra else {}
    if isinstance(model, MHRModel):
        payload.update(mhr=model.cfg.to_dict(), styles=model.table.to_dict())
        model = model.base
    payload.update(game.describe(model), state_dict=model.state_dict())
    save(path, game.name, payload, card)


def load_model(path: str | os.PathLike, game):
    """Load a checkpoint of ``game`` in eval mode: its base network, or a
    :class:`~playas.core.mhr.MHRModel` one when it has a style table. Returns the model and the
    whole checkpoint blob (its card under ``"card"``)."""
    from .mhr import MHRConfig, MHRModel
    from .table import StyleTable

    blob = load(path, game.name)
    net = model = game.build(blob)
    if "mhr" in blob:
        cfg = MHRConfig(**{**blob["mhr"], "targets": tuple(blob["mhr"]["targets"])})
        model = MHRModel(net, cfg, StyleTable.from_dict(blob["styles"]))
    net.load_state_dict(blob["state_dict"])
    model.eval()
    return model, blob


def load_styled(path: str | os.PathLike, game):
    """:func:`load_model` for a model that must have a style table."""
    from .mhr import MHRModel

    model, blob = load_model(path, game)
    if not isinstance(model, MHRModel):
        raise PlayasError(f"{path} has no style table; train one first (train-styles)")
    return model, blob


def load_base(path: str | os.PathLike, game):
    """:func:`load_model` for a model that must be a plain base network."""
    from .mhr import MHRModel

    model, _ = load_model(path, game)
    if isinstance(model, MHRModel):
        raise PlayasError(f"{path} already has styles; give a base model")
    return model


def card_for_copy(blob: dict) -> dict:
    """A loaded checkpoint's card, to save again after a change (versions are written afresh)."""
    return {k: v for k, v in blob["card"].items() if k != "versions"}
