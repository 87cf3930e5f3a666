"""The live sources of a moment of play as one-moment :class:`~playas.rocket.frames.Frames`.

A replay frame becomes a row through :mod:`playas.rocket.replay`; here an RLGym v2 ``GameState``
(RocketSim, training) and an RLBot v5 ``GamePacket`` (a real match) become the same rows, so that
:func:`~playas.rocket.frames.observe` is the one encoder for all three. Neither rlgym nor rlbot is
imported: both are read by attribute, so this module loads where neither is installed.

Units, checked against the installed packages: RLGym v2 ``Car.boost_amount`` and RLBot v5
``PlayerInfo.boost`` are both 0 to 100 already; both give angular velocity in rad/s. RLBot gives
rotation as a ``Rotator`` (pitch, yaw, roll in radians), which :func:`rotator_basis` turns into
forward and up vectors exactly as Rocket League, RocketSim (``Angle.as_rot_mat``) and RLGym
(``euler_to_rotation``) do. Boost pads (:mod:`playas.rocket.pads`): seconds until each is back,
as RocketSim (``BoostPadState.cooldown``) and RLGym (``boost_pad_timers``) count; RLBot counts
the seconds since a pad was taken, turned round by :func:`~playas.rocket.pads.from_packet`.
"""

from __future__ import annotations

import math

import numpy as np

from . import pads as boost_pads
from .frames import Frames
from .vocabulary import ANG, BALL_FIELDS, BOOST, CAR_FIELDS, FWD, POS, TICK_RATE, UP, VEL


def rotator_basis(pitch: float, yaw: float, roll: float) -> tuple[np.ndarray, np.ndarray]:
    """Forward and up unit vectors of a Rocket League rotator (radians).

    Pitch raises the nose towards +z, yaw turns +x towards +y, and a positive roll tilts the car
    towards its right (+y when facing +x: the game's world is left-handed), so with no pitch or yaw
    up = (0, sin roll, cos roll).
    """
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    cr, sr = math.cos(roll), math.sin(roll)
    forward = np.array([cp * cy, cp * sy, sp], np.float32)
    up = np.array([-cr * sp * cy - sr * sy, -cr * sp * sy + sr * cy, cr * cp], np.float32)
    return forward, up


def _frame(time: float, ball: np.ndarray, cars: list[np.ndarray], team: list[int], present: list[bool],
           pads) -> Frames:
    """One moment as :class:`Frames` of length 1 (``pads``: the 34 timers)."""
    rows = np.array(cars, np.float32).reshape(1, len(cars), CAR_FIELDS)
    return Frames(time=np.array([time], np.float64), ball=np.asarray(ball, np.float32).reshape(1, BALL_FIELDS),
                  cars=rows, team=np.array(team, np.int8), present=np.array([present], bool).reshape(1, len(cars)),
                  pads=np.asarray(pads, np.float32).reshape(1, boost_pads.N_PADS))


def frame_from_state(state) -> tuple[Frames, list]:
    """An RLGym v2 ``GameState`` as one moment, and its agent ids in car order.

    Uses the world as it is (``physics``, not ``inverted_physics``): :func:`observe` does the
    mirroring for orange. A demolished car (``is_demoed``, i.e. a respawn timer running) is not
    present. Pads from ``boost_pad_timers`` (seconds until back; RLGym's engine reads them from
    RocketSim in the standard order).
    """
    ids, cars, team, present = [], [], [], []
    for agent_id, car in state.cars.items():
        ph = car.physics
        row = np.empty(CAR_FIELDS, np.float32)
        row[POS], row[VEL], row[ANG] = ph.position, ph.linear_velocity, ph.angular_velocity
        row[FWD], row[UP] = ph.forward, ph.up
        row[BOOST] = car.boost_amount  # already 0..100 in RLGym v2
        ids.append(agent_id)
        cars.append(row)
        team.append(int(car.team_num))
        present.append(not car.is_demoed)
    b = state.ball
    ball = np.concatenate([b.position, b.linear_velocity, b.angular_velocity])
    time = (getattr(state, "tick_count", 0) or 0) / TICK_RATE
    return _frame(time, ball, cars, team, present, state.boost_pad_timers), ids


def _vec(v) -> list[float]:
    return [v.x, v.y, v.z]


def frame_from_packet(packet, field_info=None) -> tuple[Frames, list]:
    """An RLBot v5 ``GamePacket`` as one moment, and the player indices in car order.

    A player is demolished while ``demolished_timeout`` counts down (it is -1 on the pitch; the
    flatbuffer default 0 is read as present). With no ball in the packet (between goals and
    kickoffs, or in a mode without one) the ball row is all zeros: the caller decides what to do.
    ``field_info`` (RLBot's ``FieldInfo``, which a bot holds) says where each of the packet's
    boost pads is (:func:`~playas.rocket.pads.from_packet`).
    """
    ids, cars, team, present = [], [], [], []
    for i, player in enumerate(packet.players):
        ph = player.physics
        r = ph.rotation
        forward, up = rotator_basis(r.pitch, r.yaw, r.roll)
        row = np.array(_vec(ph.location) + _vec(ph.velocity) + _vec(ph.angular_velocity)
                       + list(forward) + list(up) + [player.boost], np.float32)  # boost 0..100
        ids.append(i)
        cars.append(row)
        team.append(int(player.team))
        present.append(not player.demolished_timeout > 0)
    ball = np.zeros(BALL_FIELDS, np.float32)
    if packet.balls:
        ph = packet.balls[0].physics
        ball[:] = _vec(ph.location) + _vec(ph.velocity) + _vec(ph.angular_velocity)
    info = getattr(packet, "match_info", None)
    pads = boost_pads.from_packet(packet.boost_pads, field_info)
    return _frame(getattr(info, "seconds_elapsed", 0.0) if info else 0.0, ball, cars, team, present, pads), ids


def frame_from_arena(arena) -> tuple[Frames, list]:
    """A RocketSim ``Arena`` as one moment, and its car ids (``Car.id``) in car order.

    Cars are ordered by their arena id (the order they were added), so the order is fixed for a
    match. Physics from ``Car.get_state()`` (``pos``, ``vel``, ``ang_vel``, ``rot_mat.forward`` and
    ``.up``; ``boost`` is 0..100), the team from ``Car.team``; a demolished car (``is_demoed``) is
    not present. The ball from ``arena.ball.get_state()``; the time is ``tick_count / tick_rate``.
    Pads: each ``BoostPad.get_state().cooldown`` (``arena.get_boost_pads()`` is in the standard
    order; ``get_gym_state()`` would be as fast but holds only whether each pad is active).
    """
    ids, cars, team, present = [], [], [], []
    for car in sorted(arena.get_cars(), key=lambda c: c.id):
        s = car.get_state()
        rot = s.rot_mat
        row = np.empty(CAR_FIELDS, np.float32)
        row[POS], row[VEL], row[ANG] = s.pos.as_numpy(), s.vel.as_numpy(), s.ang_vel.as_numpy()
        row[FWD], row[UP] = rot.forward.as_numpy(), rot.up.as_numpy()
        row[BOOST] = s.boost
        ids.append(car.id)
        cars.append(row)
        team.append(int(car.team))
        present.append(not s.is_demoed)
    b = arena.ball.get_state()
    ball = np.concatenate([b.pos.as_numpy(), b.vel.as_numpy(), b.ang_vel.as_numpy()])
    pads = [p.get_state().cooldown for p in arena.get_boost_pads()]
    return _frame(arena.tick_count / arena.tick_rate, ball, cars, team, present, pads), ids
