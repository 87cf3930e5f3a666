"""Many 1v1 RocketSim arenas stepped as one batch, for closed-loop fine-tuning.

:class:`Arenas` holds ``n`` soccar arenas of one blue and one orange car each. Every decision it
sets each car's controls (one of the 90 actions, built by name), steps every arena
:data:`~playas.rocket.vocabulary.TICKS_PER_DECISION` ticks, and reports what happened in that
decision: who touched the ball, who scored, who saved. :meth:`Arenas.frames` reads all arenas as
one :class:`~playas.rocket.frames.Frames` whose moment ``i`` is arena ``i`` (car 0 blue, car 1
orange), so :func:`~playas.rocket.frames.observe` encodes every car of every arena in two calls.

The RLGym v2 env (:func:`playas.bots.rlgym.make_env`) is the same simulator behind RLGym's
interface, one arena and one observation at a time: ~3,000 agent steps a second here. Batching
arenas, reading them through ``Arena.get_gym_state`` (one call, numpy) and encoding them together
is what lets fine-tuning run several times faster on two cores. ``Arena.step`` releases Python's
lock, so the arenas step in ``threads`` groups at once (two cores: about 1.7 times the speed).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .actions import TABLE, engine_controls
from .frames import Frames
from .pads import N_PADS
from .vocabulary import ANG, BALL_FIELDS, BOOST, CAR_FIELDS, FWD, POS, TICK_RATE, TICKS_PER_DECISION, UP, VEL

# Columns of RocketSim's gym-state rows (``Arena.get_gym_state`` documents them).
_GYM_CAR = {"boost": 10, "demoed": 7, "pos": slice(11, 14), "vel": slice(18, 21), "ang": slice(21, 24),
            "fwd": slice(24, 27), "up": slice(30, 33)}
_GYM_BALL = {"pos": slice(0, 3), "vel": slice(7, 10), "ang": slice(10, 13)}


@dataclass
class Start:
    """Where an episode begins: a kickoff (``ball`` None, seeded by ``seed``) or a moment of a
    real game: the ball's 9 numbers and a blue and an orange car's 16 (blue first)."""

    seed: int = 0
    ball: np.ndarray | None = None
    cars: np.ndarray | None = None


@dataclass
class Events:
    """What happened in one decision, per arena: ``touched`` (n, 2) bool, ``goal`` (n,) the team
    that scored or -1, ``saved`` (n, 2) bool."""

    touched: np.ndarray
    goal: np.ndarray
    saved: np.ndarray


class Arenas:
    """``n`` 1v1 soccar arenas: ``step(actions (n, 2))`` -> :class:`Events`; ``frames()`` -> the
    world now, one moment per arena."""

    def __init__(self, rsim, n: int, threads: int | None = None):
        self.rsim, self.n = rsim, n
        threads = max(1, min(n, threads or os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(threads) if threads > 1 else None
        self._groups = [range(k * n // threads, (k + 1) * n // threads) for k in range(threads)]
        self.arenas, self.cars = [], []
        self._controls = [engine_controls(rsim.CarControls, i) for i in range(len(TABLE))]
        self._touched = np.zeros((n, 2), bool)
        self._saved = np.zeros((n, 2), bool)
        self._goal = np.full(n, -1)
        for i in range(n):
            arena = rsim.Arena(rsim.GameMode.SOCCAR)
            cars = [arena.add_car(rsim.Team.BLUE), arena.add_car(rsim.Team.ORANGE)]
            slot = {car.id: c for c, car in enumerate(cars)}
            arena.set_ball_touch_callback(self._on_touch, (i, slot))
            arena.set_save_event_callback(self._on_save, (i, slot))
            arena.set_goal_score_callback(self._on_goal, i)
            self.arenas.append(arena)
            self.cars.append(cars)
        self._pads = [arena.get_boost_pads() for arena in self.arenas]  # soccar's 34, the standard order

    def _on_touch(self, arena, car, data) -> None:
        i, slot = data
        self._touched[i, slot[car.id]] = True

    def _on_save(self, arena, saver, data) -> None:
        i, slot = data
        self._saved[i, slot[saver.id]] = True

    def _on_goal(self, arena, team, data) -> None:
        if self._goal[data] < 0:
            self._goal[data] = int(team)

    def reset(self, i: int, start: Start) -> None:
        """Arena ``i`` at ``start``: a seeded kickoff, or a real game's ball and cars."""
        arena = self.arenas[i]
        arena.reset_kickoff(int(start.seed))
        if start.ball is None:
            return
        rs = self.rsim
        b = rs.BallState()
        b.pos, b.vel, b.ang_vel = (rs.Vec(*map(float, start.ball[s])) for s in (POS, VEL, ANG))
        arena.ball.set_state(b)
        for car, row in zip(self.cars[i], start.cars):
            s = rs.CarState()
            s.pos, s.vel, s.ang_vel = (rs.Vec(*map(float, row[f])) for f in (POS, VEL, ANG))
            fwd, up = row[FWD].astype(np.float64), row[UP].astype(np.float64)
            right = np.cross(up, fwd)  # the game's world is left-handed: up x forward is the car's right
            s.rot_mat = rs.RotMat(*(rs.Vec(*map(float, v)) for v in (fwd, right, up)))
            s.boost = float(row[BOOST])
            car.set_state(s)

    def step(self, actions: np.ndarray) -> Events:
        """Hold each car's action (``actions[i, c]``, an index of the 90) for one decision."""
        self._touched[:] = False
        self._saved[:] = False
        self._goal[:] = -1
        controls = self._controls
        for cars, (a, b) in zip(self.cars, actions.tolist()):
            cars[0].set_controls(controls[a])
            cars[1].set_controls(controls[b])
        if self._pool is None:
            self._step(self._groups[0])
        else:
            list(self._pool.map(self._step, self._groups))
        return Events(self._touched.copy(), self._goal.copy(), self._saved.copy())

    def _step(self, group: range) -> None:
        # Each arena's callbacks write only its own row of the event arrays, so groups never collide.
        for i in group:
            self.arenas[i].step(TICKS_PER_DECISION)

    def frames(self) -> Frames:
        """Every arena now: moment ``i`` is arena ``i``; car 0 blue, car 1 orange."""
        ball = np.empty((self.n, BALL_FIELDS), np.float32)
        cars = np.empty((self.n, 2, CAR_FIELDS), np.float32)
        present = np.empty((self.n, 2), bool)
        ticks = np.empty(self.n)
        pads = np.empty((self.n, N_PADS), np.float32)
        for i, arena in enumerate(self.arenas):
            state = arena.get_gym_state()
            pads[i] = 0.0
            for k in np.flatnonzero(state[1][0] < 0.5):  # only a taken pad has a cooldown to read
                pads[i, k] = self._pads[i][k].get_state().cooldown
            b = state[2][0]
            ball[i, POS], ball[i, VEL], ball[i, ANG] = b[_GYM_BALL["pos"]], b[_GYM_BALL["vel"]], b[_GYM_BALL["ang"]]
            for c in range(2):
                row = state[3 + c][0]
                out = cars[i, c]
                out[POS], out[VEL], out[ANG] = row[_GYM_CAR["pos"]], row[_GYM_CAR["vel"]], row[_GYM_CAR["ang"]]
                out[FWD], out[UP], out[BOOST] = row[_GYM_CAR["fwd"]], row[_GYM_CAR["up"]], row[_GYM_CAR["boost"]]
                present[i, c] = not row[_GYM_CAR["demoed"]]
            ticks[i] = arena.tick_count
        return Frames(time=ticks / TICK_RATE, ball=ball, cars=cars, team=np.array([0, 1], np.int8), present=present,
                      pads=pads)

    def close(self) -> None:
        for arena in self.arenas:
            arena.stop()
        if self._pool is not None:
            self._pool.shutdown()
        self.arenas, self.cars, self._pads = [], [], []
