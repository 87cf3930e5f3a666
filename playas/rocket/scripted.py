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
        t = t if t >= 0 else len(frames) + t
        return np.array([self.decide_all(frames, c)[t] for c in cars], np.int64)

    def decide_all(self, frames: Frames, car: int) -> np.ndarray:
        """Car ``car``'s action at every moment of ``frames`` (T,): many arenas' moments at once."""
        row = frames.cars[:, car]
        to_ball = frames.ball[:, POS] - row[:, POS]
        fwd, up = row[:, FWD], row[:, UP]
        right = np.cross(up, fwd)  # the driver's right (the game's world is left-handed)
        angle = np.arctan2((to_ball * right).sum(1), (to_ball * fwd).sum(1))
        side = np.where(np.abs(angle) <= self.dead_zone, 0, np.sign(angle)).astype(int)
        return np.array([self.ACTIONS[-1], self.ACTIONS[0], self.ACTIONS[1]], np.int64)[side + 1]
