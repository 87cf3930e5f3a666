"""Action accuracy of Rocket League policies on held-out games: top-1 over the 90 actions and
per control (the predicted action's throttle, steer, ... equal to the one taken)."""

from __future__ import annotations

import numpy as np
import torch

from ..core.errors import PlayasError
from ..core.mhr import MHRModel
from ..core.learning import routed_rows, table_rows
from .actions import TABLE
from .dataset import RocketData
from .model import ROCKET, decision_logits, pack
from .vocabulary import CONTROLS


@torch.no_grad()
def predictions(model, data: RocketData, rows: np.ndarray, style: str = "own", batch_size: int = 2048,
                steer: dict | None = None, person=None, strength: float = 1.0) -> np.ndarray:
    """The most likely action at each decision ``rows``. For a styled model, ``style`` is
    ``own`` (each player's row; the mean row for players without one), ``base`` (the network
    before any style), ``mean`` or any style string (a player, a blend), steered by ``steer``.
    ``person`` (a paired model's person policy, :func:`~playas.rocket.model.load_person`) and
    ``strength``: the decision the cars take (:func:`~playas.rocket.model.decision_logits`)."""
    model.eval()
    styled = isinstance(model, MHRModel)
    net = model.unadapted_base() if styled and style == "base" else (model.base if styled else model)
    k = net.config.context
    table = table_rows(model, data.players) if styled else None
    out = np.empty(len(rows), np.int64)
    for s in range(0, len(rows), batch_size):
        i = rows[s:s + batch_size]
        inputs = data.windows(i, k)
        if not styled or style == "base":
            logits = net(*inputs)[:, -1]
        else:
            h = ROCKET.trunk(model, pack(*inputs))
            if style == "own":
                z = routed_rows(model, torch.from_numpy(data.player[i]), table)
            else:
                z = model.table.resolve(None if style == "mean" else style, steer)
            logits = ROCKET.head(model, h, z)
            if person is not None and strength < 1:
                logits = decision_logits(logits, ROCKET.head(person, h, z), strength)
        out[s:s + len(i)] = logits.argmax(1).numpy()
    return out


def scores(pred: np.ndarray, target: np.ndarray) -> dict:
    """Top-1 accuracy and each control's agreement (percent)."""
    out = {"top1": round(100 * float((pred == target).mean()), 2)}
    same = TABLE[pred] == TABLE[target]
    for c, name in enumerate(CONTROLS):
        out[name] = round(100 * float(same[:, c].mean()), 2)
    return out


def score(entries, steer, data_dir=None, split: str = "test", files=None):
    """Action accuracy of every entry on the same decisions: a dataset's ``split`` of whole games
    (as each model's card split them), or every decision in replay ``files`` (see
    :meth:`playas.core.game.Game.score`); fractions, like chess's."""
    from .dataset import load_replays
    from .train import split_games

    data = RocketData.open(data_dir) if data_dir else load_replays(files)
    n, out = 0, {}
    for e in entries:
        rows = data.rows() if files else data.rows((e.card.get("split") or split_games(data))[split])
        if not len(rows):
            raise PlayasError(f"{e.label} has no {split} games in {data_dir}")
        pred = predictions(e.model, data, rows, e.mode, steer=steer if e.mode not in ("mean", "base") else None)
        out[e.label] = {k: v / 100 for k, v in scores(pred, data.action[rows]).items()}
        n = len(rows)
    return n, out
