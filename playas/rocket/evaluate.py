"""Action accuracy of Rocket League policies on held-out games: top-1 over the 90 actions and
per control (the predicted action's throttle, steer, ... equal to the one taken)."""

from __future__ import annotations

import numpy as np
import torch

from ..core.mhr import MHRModel
from ..core.learning import routed_rows, table_rows
from .actions import TABLE
from .dataset import RocketData
from .model import ROCKET, pack
from .vocabulary import CONTROLS


@torch.no_grad()
def predictions(model, data: RocketData, rows: np.ndarray, style: str = "own", batch_size: int = 2048) -> np.ndarray:
    """The most likely action at each decision ``rows``. For a styled model, ``style`` is
    ``own`` (each player's row; the mean row for players without one), ``mean``, or ``base``
    (the network before any style)."""
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
                z = model.table.z.detach().mean(0)
            logits = ROCKET.head(model, h, z)
        out[s:s + len(i)] = logits.argmax(1).numpy()
    return out


def scores(pred: np.ndarray, target: np.ndarray) -> dict:
    """Top-1 accuracy and each control's agreement (percent)."""
    out = {"top1": round(100 * float((pred == target).mean()), 2)}
    same = TABLE[pred] == TABLE[target]
    for c, name in enumerate(CONTROLS):
        out[name] = round(100 * float(same[:, c].mean()), 2)
    return out
