"""The world at each decision, the same for every source, and the one observation encoder.

A replay (:mod:`playas.rocket.replay`), a RocketSim/RLGym ``GameState`` and an RLBot ``GamePacket``
all become :class:`Frames`: arrays in the game's own units (unreal units, seconds, radians), the
world as the game has it (blue defends negative y). :func:`observe` turns one car's view of one
frame into features: relative to the acting car, with orange's world turned half a circle about
the vertical axis so that every player attacks positive y, as RLGym's observations do.

The features grow only at their end, so an older layout is a prefix of the newer one: a model
reads the first ``PolicyConfig.obs_size`` of them (:class:`~playas.rocket.model.RocketNet`).
Models trained before the boost pads were seen have ``obs_size`` :data:`OBS_SIZE_BEFORE_PADS`
and drive on today's encoder unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .vocabulary import ANG, BOOST, DECISIONS_PER_SECOND, FWD, PAD_RESPAWN_BIG, PADS, POS, UP, VEL, X, Y

MAX_TEAMMATES, MAX_OPPONENTS = 2, 3  # 3v3 at most

POS_SCALE = 1 / 2300  # RLGym's DefaultObs coefficients
VEL_SCALE = 1 / 2300
ANG_SCALE = 1 / np.pi
PAD_SCALE = 1 / PAD_RESPAWN_BIG  # DefaultObs's pad_timer_coef: a big pad just taken is 1
MIRROR = np.array([-1.0, -1.0, 1.0], np.float32)  # half a turn about z: orange's view of the world
STILL_SPEED = 20.0  # uu/s below which a car stands (waiting out a countdown, replays give it ~8 upwards)
GOAL_LINE = 5120.0  # |y| of the goal lines


@dataclass
class Frames:
    """``T`` moments of one game: the ball and every car that took part.

    ``cars[t, c]`` is car ``c`` at moment ``t`` (``CAR_FIELDS`` numbers laid out as
    :mod:`playas.rocket.vocabulary` says; boost 0 to 100); ``present[t, c]`` is False where that car was not on the pitch (not yet
    joined, gone, demolished), and its row then holds nothing meaningful. ``pads[t, k]`` is the
    seconds until boost pad ``k`` (:data:`~playas.rocket.vocabulary.PADS`) is back, 0 where it
    can be taken (:mod:`playas.rocket.pads`).
    """

    time: np.ndarray  # (T,) seconds
    ball: np.ndarray  # (T, 9) float32
    cars: np.ndarray  # (T, C, 16) float32
    team: np.ndarray  # (C,) 0 blue, 1 orange
    present: np.ndarray  # (T, C) bool
    pads: np.ndarray  # (T, 34) float32 seconds until each pad is back, 0: available

    def __len__(self) -> int:
        return len(self.time)


OBS_SIZE_BEFORE_PADS = 3 * 3 + 3 * 3 + (3 * 5 + 1 + 3 * 2) + (MAX_TEAMMATES + MAX_OPPONENTS) * 14  # 110
OBS_SIZE = OBS_SIZE_BEFORE_PADS + len(PADS)  # 144


def ball_on_spot(ball: np.ndarray) -> np.ndarray:
    """(T,) bool for ball rows (T, 9): on the centre spot, not moving across the pitch: a kickoff
    waiting to be taken (from the reset on, as the ball drops the last few uu onto its spot)."""
    return (np.abs(ball[:, POS][:, [X, Y]]).sum(1) < 1) & (np.abs(ball[:, VEL][:, [X, Y]]).sum(1) < 1)


def after_goals(ball: np.ndarray, min_seconds: float = 2.0, reset_within: float = 15.0) -> np.ndarray:
    """(T,) bool for ball rows (T, 9) at decision rate: moments from each goal until the ball is
    back on its spot for the next kickoff (or the recording ends), when play has stopped. After a
    goal the ball stays over the goal line for seconds (frozen where it exploded, or moved out of
    sight) while the cars drive about, then it is reset; in play it is over a line only for a
    moment. So a goal is the ball over a goal line ``min_seconds`` on end, or followed by its reset
    within a second (a replay that cut the wait out), and the time from there to a reset within
    ``reset_within`` seconds is stopped too. In the 118 shared replays that read: 688 such goals (644 reset,
    42 at the recording's end), 9% of the moments. A simulated match kicks off at once: it has none."""
    over = np.abs(ball[:, POS][:, Y]) > GOAL_LINE
    spot = ball_on_spot(ball)
    dead = np.zeros(len(ball), bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], over.astype(np.int8), [0]])))
    for s, e in zip(edges[::2], edges[1::2]):  # runs over a line: [s, e)
        reset = np.flatnonzero(spot[e:e + int(reset_within * DECISIONS_PER_SECOND)])
        if e - s >= min_seconds * DECISIONS_PER_SECOND or (len(reset) and reset[0] <= DECISIONS_PER_SECOND):
            dead[s:e + (reset[0] if len(reset) else 0)] = True
    return dead


def standing(velocity: np.ndarray) -> np.ndarray:
    """(...) bool for velocities (..., 3): the car stands (as through a kickoff countdown; dropping
    onto its spot after a reset too: only the speed along the ground counts)."""
    return np.linalg.norm(velocity[..., :2], axis=-1) < STILL_SPEED


def _local(v: np.ndarray, fwd: np.ndarray, up: np.ndarray) -> np.ndarray:
    """World vectors ``v`` (..., 3) in the car's frame: forward, right, up components (the
    game's world is left-handed: up x forward points to the car's right)."""
    u, f = up, fwd  # cross(up, fwd) written out: np.cross costs more than the rest on one car
    right = np.stack([u[..., 1] * f[..., 2] - u[..., 2] * f[..., 1], u[..., 2] * f[..., 0] - u[..., 0] * f[..., 2],
                      u[..., 0] * f[..., 1] - u[..., 1] * f[..., 0]], -1)
    return np.stack([(v * fwd).sum(-1), (v * right).sum(-1), (v * up).sum(-1)], -1)


def observe(frames: Frames, t: np.ndarray | int, car: int) -> np.ndarray:
    """Features of car ``car`` at moments ``t`` (an index or an array of them): (len(t), OBS_SIZE)
    float32, or (OBS_SIZE,) for one moment.

    Ball: position, velocity, angular velocity; its position and velocity relative to the car, in
    the car's frame. The car: position, velocity, angular velocity, forward, up, boost, and its
    velocity and angular velocity in its own frame. Then up to 2 teammates and 3 opponents, each
    nearest first: position and velocity relative to the car, forward, up, boost, and a 1 saying
    the slot is filled (zeros fill an empty slot). Those are the first
    :data:`OBS_SIZE_BEFORE_PADS` (110). Last, the 34 boost pads' timers over 10 s (0 available,
    1 a big pad just taken), orange's in reverse order: pad ``i`` turned half a circle is pad
    ``33 - i``, so every car sees the pads of its own half first, as RLGym's ``DefaultObs`` does.
    """
    one = np.ndim(t) == 0
    t = np.atleast_1d(np.asarray(t))
    m = MIRROR if frames.team[car] == 1 else np.ones(3, np.float32)
    ball = frames.ball[t].astype(np.float32)
    cars = frames.cars[t].astype(np.float32)  # (n, C, 16)
    bp, bv, bw = ball[:, POS] * m, ball[:, VEL] * m, ball[:, ANG] * m
    vec = lambda c, s: c[..., s] * m  # noqa: E731  a car's vector field, mirrored
    me = cars[:, car]
    p, v, w, f, u = vec(me, POS), vec(me, VEL), vec(me, ANG), vec(me, FWD), vec(me, UP)
    parts = [bp * POS_SCALE, bv * VEL_SCALE, bw * ANG_SCALE,
             _local(bp - p, f, u) * POS_SCALE, _local(bv - v, f, u) * VEL_SCALE,
             (bp - p) * POS_SCALE,
             p * POS_SCALE, v * VEL_SCALE, w * ANG_SCALE, f, u, me[:, BOOST:BOOST + 1] / 100,
             _local(v, f, u) * VEL_SCALE, _local(w, f, u) * ANG_SCALE]
    for same, slots in ((True, MAX_TEAMMATES), (False, MAX_OPPONENTS)):
        others = [c for c in range(cars.shape[1]) if c != car and (frames.team[c] == frames.team[car]) == same]
        block = np.zeros((len(t), slots, 14), np.float32)
        if others:
            oc = cars[:, others]  # (n, k, 16)
            op = vec(oc, POS)
            dist = np.linalg.norm(op - p[:, None], axis=-1)
            dist = np.where(frames.present[t][:, others], dist, np.inf)
            order = np.argsort(dist, axis=1, kind="stable")[:, :slots]
            rows = np.arange(len(t))[:, None]
            sel, d = oc[rows, order], dist[rows, order]
            filled = np.isfinite(d)[..., None]
            feat = np.concatenate([(vec(sel, POS) - p[:, None]) * POS_SCALE, (vec(sel, VEL) - v[:, None]) * VEL_SCALE,
                                   vec(sel, FWD), vec(sel, UP), sel[..., BOOST:BOOST + 1] / 100,
                                   np.ones_like(d[..., None])], -1)
            block[:, :order.shape[1]] = np.where(filled, feat, 0.0)
        parts.append(block.reshape(len(t), -1))
    pads = frames.pads[t].astype(np.float32)
    parts.append((pads[:, ::-1] if frames.team[car] == 1 else pads) * PAD_SCALE)
    out = np.concatenate(parts, -1).astype(np.float32)
    return out[0] if one else out
