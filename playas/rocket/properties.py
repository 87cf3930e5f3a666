"""Style properties measured from replays: what steering directions point along.

Each is a plain average over a player's decisions (``scalars.npy`` of a prepared dataset), so a
user can read what ``--steer speed=4`` means: a style moved toward the players who drive fastest.
"""

from __future__ import annotations

import numpy as np

from .actions import grounded_decisions
from .pads import BIG, rebuild
from .vocabulary import BOOST, DECISION_SECONDS, DECISIONS_PER_SECOND, POS, UP, VEL, Z

SCALARS = ("speed", "boost", "height", "ball_distance", "supersonic", "airborne")  # scalars.npy's columns
SUPERSONIC = 2200.0

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


def player_properties(data, games=None) -> dict:
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
    """The number of :func:`touch_moments` of car ``car``."""
    return len(touch_moments(frames, car, radius, kick))


def touch_moments(frames, car: int, radius: float = TOUCH_RADIUS, kick: float = TOUCH_KICK) -> np.ndarray:
    """Moments where car ``car`` touches the ball (the decision starting there), read of car ``car`` read from positions and velocities alone, the same way for a replay and
    for a simulated match: decisions where the ball's velocity changes by more than ``kick`` beyond
    gravity with the car within ``radius`` of it at either end; one touch per run of such decisions.
    Calibrated on RocketSim matches against the engine's own contacts (within a few percent; the
    test holds it to 20%)."""
    b = frames.ball
    gravity = np.array([0.0, 0.0, -650.0]) * DECISION_SECONDS
    dv = np.linalg.norm(b[1:, VEL] - b[:-1, VEL] - gravity, axis=1)
    near = [np.linalg.norm(frames.cars[s, car, POS] - b[s, POS], axis=1) < radius for s in (slice(None, -1), slice(1, None))]
    hit = (dv > kick) & (near[0] | near[1]) & frames.present[:-1, car] & frames.present[1:, car]
    return np.flatnonzero(hit & ~np.concatenate([[False], hit[:-1]]))


# --- how a car plays: measured the same way in a replay and in a simulated match ------------------

PLAY = {
    "speed": "average speed (uu/s)",
    "supersonic": "share of time supersonic",
    "airborne": "share of time in the air (off the ground at either end of a decision)",
    "upside_down": "share of time with the roof toward the floor (the car's up more than 120 degrees from the sky)",
    "stationary": "share of time slower than 100 uu/s",
    "touches_per_minute": "ball touches a minute (touch_moments)",
    "empty_tank": "share of time with boost under 5 (of 100)",
    "big_pads_per_minute": "big boost pads taken a minute (pads.rebuild)",
}
STATIONARY, EMPTY_TANK, UPSIDE_DOWN = 100.0, 5.0, -0.5  # uu/s; boost of 100; the up vector's z


def play_properties(frames, car: int, t: np.ndarray | None = None, pickups: np.ndarray | None = None) -> dict:
    """:data:`PLAY` of car ``car`` over moments ``t`` (every moment it is on the pitch where None)
    of ``frames`` at decision rate: a replay's (:func:`~playas.rocket.replay.read`) or a
    simulated match's record, so the two compare. ``pickups`` (moment, car, pad): the pads taken, where
    already rebuilt (:attr:`Replay.pickups`); else rebuilt here from the cars' boost."""
    t = np.flatnonzero(frames.present[:, car]) if t is None else np.asarray(t)
    c = frames.cars[:, car]
    ct = c[t]
    speed = np.linalg.norm(ct[:, VEL], axis=1)
    minutes = max(len(t) / DECISIONS_PER_SECOND / 60, 1e-9)
    kept = np.zeros(len(frames), bool)
    kept[t] = True
    pick = rebuild(frames.time, frames.ball, frames.cars, frames.present).pickups if pickups is None else pickups
    big = pick[(pick[:, 1] == car) & BIG[pick[:, 2]]][:, 0]
    return {"speed": float(speed.mean()), "supersonic": float((speed > SUPERSONIC).mean()),
            "airborne": float(1 - grounded_decisions(c)[t].mean()),
            "upside_down": float((ct[:, UP][:, Z] < UPSIDE_DOWN).mean()),
            "stationary": float((speed < STATIONARY).mean()),
            "touches_per_minute": float(kept[touch_moments(frames, car)].sum() / minutes),
            "empty_tank": float((ct[:, BOOST] < EMPTY_TANK).mean()),
            "big_pads_per_minute": float(kept[big].sum() / minutes)}
