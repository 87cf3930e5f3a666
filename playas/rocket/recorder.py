"""What a simulated match leaves behind: :class:`Recorder`.

One moment a decision: where the ball and every car were (the trajectories a drawing needs),
optionally the whole world and each car's action (what a replay of the match would hold, for
identify and the benchmarks), the goals, and each car's running statistics:

- **boost used**: drops of the boost gauge between decisions (0..100 a tank); a pad picked up in
  the same decision as boosting hides that bit of use.
- **speed**, **distance to ball**: means over the decisions the car was on the pitch;
  **supersonic** and **airborne** (fewer than three wheels on a surface: in the air, or stuck on
  its roof; a car on a wall is grounded) in seconds, as the engine reports them.

Every figure in a match's summary (text and JSON alike) follows one rounding rule,
:func:`figure`: to :data:`DECIMALS` decimals.
"""

from __future__ import annotations

import numpy as np

from .frames import Frames
from .vocabulary import BOOST, DECISION_SECONDS, POS, TEAMS, TICK_RATE, VEL

DECIMALS = 1  # of every non-integer figure in a summary: a tenth of a second, a uu, a uu/s, a boost unit


def figure(x) -> float:
    """A number as a match summary shows it (text and JSON): rounded to :data:`DECIMALS` decimals."""
    return round(float(x), DECIMALS)


class Recorder:
    """A match's moments, goals and per-car statistics for ``teams`` (0 blue, 1 orange per car) over
    ``decisions`` decisions; with ``full``, also every moment's whole world and actions."""

    def __init__(self, teams, decisions: int, full: bool = False):
        self.teams = np.asarray(teams)
        n = len(self.teams)
        self.full = full
        self.d = 0  # moments recorded so far
        self.time = np.arange(decisions) * DECISION_SECONDS
        self.ball = np.zeros((decisions, 3), np.float32)
        self.cars = np.zeros((decisions, n, 3), np.float32)
        self.present = np.zeros((decisions, n), bool)
        self.segment = np.zeros(decisions, np.int32)  # which kickoff each moment follows
        self.goals: list[dict] = []
        self._world: list[tuple[np.ndarray, ...]] = []  # (ball row, car rows, pad timers) a moment, if full
        self._actions: list[np.ndarray] = []
        self.speed, self.dist, self.boost_used = np.zeros(n), np.zeros(n), np.zeros(n)
        self.onpitch, self.supersonic, self.airborne = (np.zeros(n, int) for _ in range(3))
        self._prev_boost: np.ndarray | None = None  # None after a kickoff: no boost drop to count
        self._prev_present = np.zeros(n, bool)
        self._kickoffs = 0

    def moment(self, frames: Frames, supersonic, on_ground) -> None:
        """Record the moment ``frames`` (one moment) at the start of a decision; ``supersonic`` and
        ``on_ground`` (one bool a car) as the engine says."""
        d, present, ball, cars = self.d, frames.present[0], frames.ball[0], frames.cars[0]
        self.ball[d], self.cars[d], self.present[d] = ball[POS], cars[:, POS], present
        self.segment[d] = self._kickoffs
        if self.full:
            self._world.append((ball.copy(), cars.copy(), frames.pads[0].copy()))
        self.d += 1
        self.onpitch += present
        self.speed += np.where(present, np.linalg.norm(cars[:, VEL], axis=1), 0.0)
        self.dist += np.where(present, np.linalg.norm(cars[:, POS] - ball[POS], axis=1), 0.0)
        self.supersonic += present & np.asarray(supersonic, bool)
        self.airborne += present & ~np.asarray(on_ground, bool)
        boost = cars[:, BOOST].astype(np.float64)
        if self._prev_boost is not None:
            ok = present & self._prev_present
            self.boost_used += np.where(ok, np.clip(self._prev_boost - boost, 0, None), 0.0)
        self._prev_boost, self._prev_present = boost, present.copy()

    def actions(self, actions: np.ndarray) -> None:
        """Each car's action (an index into the table) at the moment just recorded (kept if ``full``)."""
        if self.full:
            self._actions.append(np.array(actions))

    def goal(self, event: dict, tick: int, ball: np.ndarray) -> None:
        """A goal (the referee's ``event``) at physics tick ``tick`` of the match, the ball at ``ball``
        (a ball row) then; the next moment follows a new kickoff."""
        self.goals.append({"time": figure(tick / TICK_RATE), **event, "ball": [figure(v) for v in ball[POS]]})
        self._kickoffs += 1
        self._prev_boost = None

    def car_rows(self, referee, styles) -> list[dict]:
        """A row of statistics per car: the referee's counts and the recorded ones."""
        dt = DECISION_SECONDS
        n = np.maximum(self.onpitch, 1)
        return [{"car": c, "team": TEAMS[self.teams[c]], "style": styles[c], "goals": int(referee.goals[c]),
                 "shots": int(referee.shots[c]), "saves": int(referee.saves[c]),
                 "touches": int(referee.touches[c]), "boost_used": figure(self.boost_used[c]),
                 "speed": figure(self.speed[c] / n[c]), "supersonic_s": figure(self.supersonic[c] * dt),
                 "airborne_s": figure(self.airborne[c] * dt), "ball_distance": figure(self.dist[c] / n[c]),
                 "seconds_on_pitch": figure(self.onpitch[c] * dt)} for c in range(len(styles))]

    def trajectories(self) -> dict:
        """Per decision ``time`` (D,), ``ball`` (D, 3), ``cars`` (D, C, 3) positions, ``present``
        (D, C) and ``segment`` (D,)."""
        return {"time": self.time, "ball": self.ball, "cars": self.cars, "present": self.present,
                "segment": self.segment}

    def record(self) -> dict:
        """The whole match as :class:`Frames` (one moment a decision) and each car's action there,
        (D, C): what a replay of it would hold (needs ``full``)."""
        balls, cars, pads = (np.stack(x) for x in zip(*self._world))
        return {"frames": Frames(self.time, balls, cars, self.teams, self.present, pads),
                "actions": np.stack(self._actions)}
