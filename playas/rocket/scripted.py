"""Scripted opponents, to measure a style against: a car that plays without any model.

:class:`ATBA` ("always towards the ball agent") is RLBot's first example bot: full throttle,
steering at the ball, never boosting or jumping. It is the floor a Rocket League bot must clear:
it touches the ball often and scores when a defender lets it. ``playas rocket play --vs atba``
names it like a style; a driver of the same shape as :class:`~playas.rocket.agent.Driver`
(``decide``, ``reset``), so a match treats it like any other.
"""

from __future__ import annotations

import numpy as np

from .actions import TABLE
from .frames import Frames
from .vocabulary import FWD, POS, STEER, THROTTLE, UP

SCRIPTED = ("atba",)  # names a --style/--vs may give instead of a player


def _action(throttle: float, steer: float) -> int:
    """The table's ground action with this throttle and steer (yaw follows steer in RLGym's table)."""
    want = np.zeros(TABLE.shape[1], TABLE.dtype)
    want[THROTTLE], want[STEER] = throttle, steer
    rows = np.flatnonzero((TABLE[:, [THROTTLE, STEER]] == want[[THROTTLE, STEER]]).all(1)
                          & (np.abs(TABLE).sum(1) == abs(throttle) + 2 * abs(steer)))
    return int(rows[0])


class ATBA:
    """Full throttle at the ball: steer right when the ball is right of the car's nose by more than
    ``dead_zone`` radians, left when left, straight between; no boost, no jump, no handbrake."""

    style = "atba"
    ACTIONS = {s: _action(1, s) for s in (-1, 0, 1)}

    def __init__(self, dead_zone: float = 0.1):
        self.dead_zone = dead_zone

    def reset(self, key=None) -> None:
        """Nothing to forget: ATBA has no history."""

    def decide(self, frames: Frames, cars, keys=None, t: int = -1) -> np.ndarray:
        """Action indices (len(cars),) for cars ``cars`` of ``frames`` at moment ``t``."""
        ball = frames.ball[t, POS]
        out = np.empty(len(cars), np.int64)
        for n, c in enumerate(cars):
            row = frames.cars[t, c]
            to_ball = ball - row[POS]
            fwd, up = row[FWD], row[UP]
            right = np.cross(up, fwd)  # the driver's right (the game's world is left-handed)
            angle = np.arctan2(to_ball @ right, to_ball @ fwd)
            out[n] = self.ACTIONS[0 if abs(angle) <= self.dead_zone else int(np.sign(angle))]
        return out
