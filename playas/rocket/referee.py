"""The rules of a simulated match: touches, shots on target, saves, goals and own goals.

:class:`Referee` is told what the arena reports (each tick a car is in contact with the ball; at
the end of each decision the ball before and after it, and which team's goal the ball went into,
if any) and keeps every car's count. Pure numpy: the rules are tested without RocketSim.

- **touches**: contact episodes with the ball; contact on consecutive ticks (a dribble, a push)
  is one touch until the car has been off the ball for more than one decision.
- **goals**: credited to the scoring team's car that touched the ball last since the kickoff (an
  own goal credits nobody on the scoring team unless a teammate touched it before; the score
  counts it either way). A goal is an **own goal** when the last touch was the conceding team's.
- **shots**: a touch after which (at the end of that decision) the ball is *on target*
  (:func:`on_target`) for the opponents' goal. Every goal credited to a car is also a shot,
  counted once per touch.
- **saves**: a touch made while the ball, at the decision before, was on target for the car's
  own goal, after which it no longer is (one save a decision at most).
"""

from __future__ import annotations

import numpy as np

from .vocabulary import BACK_WALL, GOAL_HALF_WIDTH, POS, TEAMS, TICKS_PER_DECISION, VEL, X, Y

SHOT_SPEED = 500.0  # uu/s towards the goal
SHOT_HORIZON = 2.0  # seconds


def on_target(ball: np.ndarray, team_attacked: int) -> bool:
    """Whether the ball (a ball row: position, velocity, ...) flies into ``team_attacked``'s goal
    (blue's at -y) within :data:`SHOT_HORIZON` seconds in a straight line on the ground plane,
    moving towards it at :data:`SHOT_SPEED` or more (height and bounces ignored)."""
    s = -1.0 if team_attacked == 0 else 1.0
    pos, vel = ball[POS], ball[VEL]
    vy = vel[Y] * s
    if vy < SHOT_SPEED:
        return False
    t = (BACK_WALL - pos[Y] * s) / vy
    return bool(t <= SHOT_HORIZON and abs(pos[X] + vel[X] * max(t, 0.0)) < GOAL_HALF_WIDTH)


class Referee:
    """Each car's touches, shots, saves and goals, and the score, as the match goes.

    Call :meth:`contact` for every tick a car touches the ball and :meth:`judge` at the end of
    every decision. ``teams[c]`` is car ``c``'s team (0 blue, 1 orange).
    """

    def __init__(self, teams):
        self.teams = [int(t) for t in teams]
        n = len(self.teams)
        self.touches, self.shots, self.saves, self.goals = (np.zeros(n, int) for _ in range(4))
        self.score = [0, 0]
        self._last_contact = np.full(n, -10**9)  # tick of each car's latest contact
        self._touched: list[int] = []  # cars in contact during the current decision, in order
        self._since_kickoff: list[int] = []  # every contact since the kickoff, in order
        self._shot_touches: set = set()  # (car, tick of its last contact) of touches already shots

    def contact(self, car: int, tick: int) -> None:
        """Car ``car`` is in contact with the ball at physics tick ``tick``."""
        if tick - self._last_contact[car] > TICKS_PER_DECISION:
            self.touches[car] += 1
        self._last_contact[car] = tick
        self._touched.append(car)

    def judge(self, before: np.ndarray, after: np.ndarray, scored: int | None = None) -> dict | None:
        """Close a decision: the ball's row at its start (``before``) and at its end (``after``),
        and ``scored``, the team that scored during it (None: nobody). Returns the goal, if one
        was scored: ``team`` (its name), ``scorer`` (a car or None) and ``own_goal``; the next
        contact then starts a new kickoff's play."""
        touched, self._touched = self._touched, []
        if touched:
            self._since_kickoff.extend(touched)
            self._shot(touched[-1], after)
            self._save(touched, before, after)
        if scored is None:
            return None
        return self._goal(int(scored))

    def _shot(self, car: int, after: np.ndarray) -> None:
        if on_target(after, 1 - self.teams[car]):
            self._count_shot(car)

    def _count_shot(self, car: int) -> None:
        key = (car, int(self._last_contact[car]))
        if key not in self._shot_touches:
            self.shots[car] += 1
            self._shot_touches.add(key)

    def _save(self, touched: list[int], before: np.ndarray, after: np.ndarray) -> None:
        for car in dict.fromkeys(touched):
            own = self.teams[car]
            if on_target(before, own) and not on_target(after, own):
                self.saves[car] += 1
                return

    def _goal(self, team: int) -> dict:
        self.score[team] += 1
        last = self._since_kickoff
        scorer = next((c for c in reversed(last) if self.teams[c] == team), None)
        if scorer is not None:
            self.goals[scorer] += 1
            self._count_shot(scorer)
        own_goal = bool(last) and self.teams[last[-1]] != team
        self._since_kickoff = []
        return {"team": TEAMS[team], "scorer": scorer, "own_goal": own_goal}
