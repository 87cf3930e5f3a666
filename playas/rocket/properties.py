"""Style properties measured from replays: what steering directions point along.

Each is a plain average over a player's decisions (``scalars.npy`` of a prepared dataset), so a
user can read what ``--steer speed=4`` means: a style moved toward the players who drive fastest.
"""

from __future__ import annotations

import numpy as np

from .dataset import SCALARS, RocketData
from .vocabulary import DECISION_SECONDS, DECISIONS_PER_SECOND, POS, VEL

PROPERTIES = {
    "speed": "average speed (uu/s)",
    "boost_per_minute": "boost used per minute (0-100 a tank)",
    "supersonic": "share of time supersonic",
    "airborne": "share of time in the air",
    "ball_distance": "average distance to the ball (uu)",
    "height": "average height (uu)",
}


def properties(scalars: np.ndarray) -> dict:
    """The :data:`PROPERTIES` of one stretch of a player's play (rows of ``scalars.npy``)."""
    s = np.asarray(scalars, np.float64)
    col = {k: s[:, i] for i, k in enumerate(SCALARS)}
    used = np.clip(-np.diff(col["boost"]), 0, 34).sum()  # drops only; a pad refills (+12 or +100)
    minutes = len(s) / DECISIONS_PER_SECOND / 60
    return {"speed": float(col["speed"].mean()), "boost_per_minute": float(used / max(minutes, 1e-9)),
            "supersonic": float(col["supersonic"].mean()), "airborne": float(col["airborne"].mean()),
            "ball_distance": float(col["ball_distance"].mean()), "height": float(col["height"].mean())}


def player_properties(data: RocketData, games=None) -> dict:
    """Each player's :data:`PROPERTIES` over their sequences in ``games`` (all where None), weighted by time."""
    out: dict = {}
    for s in data.sequences:
        if games is not None and s["game"] not in games:
            continue
        p = properties(data.scalars[s["start"]:s["start"] + s["length"]])
        acc = out.setdefault(data.manifest["names"][s["key"]], {"n": 0, **{k: 0.0 for k in PROPERTIES}})
        for k in PROPERTIES:
            acc[k] += p[k] * s["length"]
        acc["n"] += s["length"]
    return {name: {k: acc[k] / acc["n"] for k in PROPERTIES} for name, acc in out.items()}


def add_directions(model, values: dict) -> dict:
    """Store a steering direction per property in ``model``'s table from players' ``values``."""
    for prop in PROPERTIES:
        model.table.directions[prop] = model.table.steering_direction({n: v[prop] for n, v in values.items()})
    return model.table.directions


TOUCH_RADIUS = 220.0  # uu between the car's and the ball's centres: a car touching the ball
TOUCH_KICK = 450.0  # uu/s of ball velocity change in one decision that gravity does not explain


def touches(frames, car: int, radius: float = TOUCH_RADIUS, kick: float = TOUCH_KICK) -> int:
    """Touches of car ``car`` read from positions and velocities alone, the same way for a replay and
    for a simulated match: decisions where the ball's velocity changes by more than ``kick`` beyond
    gravity with the car within ``radius`` of it at either end; one touch per run of such decisions.
    Calibrated on RocketSim matches against the engine's own contacts (within a few percent; the
    test holds it to 20%)."""
    b = frames.ball
    gravity = np.array([0.0, 0.0, -650.0]) * DECISION_SECONDS
    dv = np.linalg.norm(b[1:, VEL] - b[:-1, VEL] - gravity, axis=1)
    near = [np.linalg.norm(frames.cars[s, car, POS] - b[s, POS], axis=1) < radius for s in (slice(None, -1), slice(1, None))]
    hit = (dv > kick) & (near[0] | near[1]) & frames.present[:-1, car] & frames.present[1:, car]
    return int((hit & ~np.concatenate([[False], hit[:-1]])).sum())
