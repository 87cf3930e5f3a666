"""One situation, three sources, one encoder (playas.rocket.sources, .replay, .frames).

A 3v3 moment is made physical in RocketSim (through RLGym v2's engine): cars on the ground and in
the air, pitched and rolled, with various boost, one demolished. It is then handed to the encoder
three ways, each as that source would deliver it: the RLGym ``GameState``; an RLBot v5
``GamePacket`` with the rotation as a pitch/yaw/roll ``Rotator``, packed to bytes and read back as
on the wire; and replay rigid bodies (quaternion x, y, z, w, angular velocity in hundredths of
rad/s, raw boost 0..255). Every car's features must agree. Rotations are converted here by other
means than the module uses (RocketSim's own ``RotMat.as_angle``, a matrix-to-quaternion written
out below), so a convention error on either side shows.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

rsim = pytest.importorskip("RocketSim")
pytest.importorskip("rlgym.rocket_league.sim")
flat = pytest.importorskip("rlbot_flatbuffers")

from rlgym.rocket_league.math import euler_to_rotation, rotation_to_quaternion
from rlgym.rocket_league.sim import RocketSimEngine
from rlgym.rocket_league.state_mutators import (
    FixedTeamSizeMutator,
    KickoffMutator,
    MutatorSequence,
)

from playas.rocket.frames import OBS_SIZE_BEFORE_PADS, Frames, observe
from playas.rocket.pads import N_PADS, RESPAWN
from playas.rocket.replay import ball_state, car_state, quaternion_basis
from playas.rocket.sources import frame_from_packet, frame_from_state, rotator_basis
from playas.rocket.vocabulary import ANG, BOOST, CAR_FIELDS, CONTROLS, FWD, POS, TICK_RATE, UP, VEL, X, Z

ATOL = 1e-5
DEMOED = "orange-0"


def _engine_state(cars: dict | None = None, ball=None, pads=None, seed: int = 7, steps: int = 8):
    """A 3v3 RocketSim moment. Without ``cars``: random (airborne and rolled cars, one demolished,
    some boost pads taken a while ago), stepped ``steps`` ticks with random held inputs so it is
    physical. With ``cars`` (agent id -> Car), ``ball`` and ``pads`` (timers): exactly that state,
    set and read back."""
    engine = RocketSimEngine()
    state = engine.create_base_state()
    MutatorSequence(FixedTeamSizeMutator(3, 3), KickoffMutator()).apply(state, {})
    if cars is not None:
        state.cars, state.ball, state.boost_pad_timers = cars, ball, pads
        return engine.set_state(state, {})
    rng = np.random.default_rng(seed)
    for i, (agent_id, car) in enumerate(state.cars.items()):
        ph = car.physics
        airborne = i % 2 == 0
        ph.position = np.array([rng.uniform(-3000, 3000), rng.uniform(-4000, 4000),
                                rng.uniform(300, 1500) if airborne else 17.0], np.float32)
        ph.linear_velocity = rng.uniform(-1200, 1200, 3).astype(np.float32)
        ph.angular_velocity = rng.uniform(-4, 4, 3).astype(np.float32)
        ph.euler_angles = (np.array([rng.uniform(-1.2, 1.2), rng.uniform(-3, 3), rng.uniform(-2.5, 2.5)])
                           if airborne else np.array([0.0, rng.uniform(-3, 3), 0.0]))
        car.boost_amount = float(rng.uniform(5, 100))
        if agent_id == DEMOED:
            car.demo_respawn_timer = 2.0
    state.ball.position = np.array([500, -800, 600], np.float32)
    state.ball.linear_velocity = np.array([300, 900, -200], np.float32)
    state.ball.angular_velocity = np.array([1, -2, 3], np.float32)
    taken = rng.choice(N_PADS, 8, replace=False)
    state.boost_pad_timers = np.zeros(N_PADS, np.float32)
    state.boost_pad_timers[taken] = rng.uniform(0.5, 1, len(taken)) * RESPAWN[taken]
    engine.set_state(state, {})
    actions = {a: np.tile(rng.uniform(-1, 1, len(CONTROLS)), (steps, 1)) for a in state.cars}
    return engine.step(actions, {})


@pytest.fixture(scope="module")
def state():
    return _engine_state()


# --- the situation as each source would deliver it ---------------------------------------------

def _v3(v, turn: bool = False) -> flat.Vector3:
    x, y, z = (float(c) for c in v)
    return flat.Vector3(-x, -y, z) if turn else flat.Vector3(x, y, z)


def _rotator(mtx: np.ndarray, turn: bool = False) -> flat.Rotator:
    """Pitch, yaw, roll of a rotation matrix (columns forward, right, up) by RocketSim itself;
    ``turn``: of that rotation after half a turn about z (yaw plus pi)."""
    angle = rsim.RotMat(*mtx.T.flatten()).as_angle()
    return flat.Rotator(pitch=angle.pitch, yaw=angle.yaw + (math.pi if turn else 0.0), roll=angle.roll)


def _physics(ph, turn: bool = False) -> flat.Physics:
    return flat.Physics(location=_v3(ph.position, turn), rotation=_rotator(ph.rotation_mtx, turn),
                        velocity=_v3(ph.linear_velocity, turn), angular_velocity=_v3(ph.angular_velocity, turn))


def pad_states(timers, turn: bool = False) -> list:
    """RLBot's pad states (``timer``: seconds since taken) in its standard order; ``turn``: of the
    world turned half a circle, whose pad ``k`` is this one's ``33 - k``."""
    states = [flat.BoostPadState(is_active=bool(t == 0), timer=float(RESPAWN[k] - t) if t else 0.0)
              for k, t in enumerate(timers)]
    return states[::-1] if turn else states


def packet_of(state, turn: bool = False) -> flat.GamePacket:
    """The moment as RLBot v5 sends it, through bytes as on the wire (a CorePacket). ``turn``: the
    moment turned half a circle about z with the teams swapped."""
    players = [flat.PlayerInfo(physics=_physics(car.physics, turn), team=car.team_num ^ turn,
                               boost=car.boost_amount, name=str(agent_id),
                               demolished_timeout=car.demo_respawn_timer if car.is_demoed else -1.0)
               for agent_id, car in state.cars.items()]
    packet = flat.GamePacket(players=players, balls=[flat.BallInfo(physics=_physics(state.ball, turn))],
                             boost_pads=pad_states(state.boost_pad_timers, turn),
                             match_info=flat.MatchInfo(seconds_elapsed=state.tick_count / TICK_RATE))
    return flat.CorePacket.unpack(flat.CorePacket(message=packet).pack()).message


def quaternion_of(m: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation matrix, the standard way (as Unreal's FQuat(FMatrix) does)."""
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = 2 * math.sqrt(tr + 1)
        return (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4
    i = int(np.argmax(np.diag(m)))
    j, k = (i + 1) % 3, (i + 2) % 3
    s = 2 * math.sqrt(1 + m[i, i] - m[j, j] - m[k, k])
    q = [0.0] * 3
    q[i], q[j], q[k] = s / 4, (m[j, i] + m[i, j]) / s, (m[k, i] + m[i, k]) / s
    return q[0], q[1], q[2], (m[k, j] - m[j, k]) / s


def _rigid_body(ph) -> dict:
    xyz = lambda v: dict(zip("xyz", (float(c) for c in v)))
    x, y, z, w = quaternion_of(ph.rotation_mtx)
    return {"location": xyz(ph.position), "linear_velocity": xyz(ph.linear_velocity),
            "angular_velocity": xyz(np.asarray(ph.angular_velocity) * 100),  # hundredths of rad/s
            "rotation": {"x": x, "y": y, "z": z, "w": w}}


def replay_frames_of(state) -> Frames:
    """The moment as a replay holds it; a demolished car has no rigid body, so is absent. The pads
    as rebuilt (:mod:`playas.rocket.pads`, tested on real replays there) would have them."""
    cars = list(state.cars.values())
    rows = np.zeros((1, len(cars), CAR_FIELDS), np.float32)
    for c, car in enumerate(cars):
        if not car.is_demoed:
            rows[0, c] = car_state(_rigid_body(car.physics), car.boost_amount * 2.55)
    return Frames(time=np.zeros(1), ball=ball_state(_rigid_body(state.ball))[None], cars=rows,
                  team=np.array([car.team_num for car in cars]),
                  present=np.array([[not car.is_demoed for car in cars]]), pads=state.boost_pad_timers[None])


# --- conventions ------------------------------------------------------------------------------

def test_rotator_basis_is_the_games_rotation():
    rng = np.random.default_rng(0)
    for pitch, yaw, roll in rng.uniform([-1.5, -math.pi, -math.pi], [1.5, math.pi, math.pi], (50, 3)):
        m = rsim.Angle(yaw, pitch, roll).as_rot_mat()
        forward, up = rotator_basis(pitch, yaw, roll)
        np.testing.assert_allclose(forward, m.forward.as_tuple(), atol=1e-6)
        np.testing.assert_allclose(up, m.up.as_tuple(), atol=1e-6)
        r = euler_to_rotation(np.array([pitch, yaw, roll]))
        np.testing.assert_allclose(np.stack([forward, up], 1), r[:, [0, 2]], atol=1e-6)
    # By hand: a quarter roll tilts the car onto its right side, which faces +y when facing +x.
    np.testing.assert_allclose(rotator_basis(0, 0, math.pi / 2)[1], [0, 1, 0], atol=1e-7)
    np.testing.assert_allclose(rotator_basis(0, math.pi / 2, 0)[0], [0, 1, 0], atol=1e-7)
    np.testing.assert_allclose(rotator_basis(math.pi / 2, 0, 0)[0], [0, 0, 1], atol=1e-7)


def test_replay_quaternion_gives_back_the_sims_rotation(state):
    for ph in [car.physics for car in state.cars.values()] + [state.ball]:
        m = ph.rotation_mtx
        for q in (quaternion_of(m), tuple(rotation_to_quaternion(m)[[1, 2, 3, 0]])):  # RLGym's is (w, x, y, z)
            forward, up = quaternion_basis(q)
            np.testing.assert_allclose(forward, m[:, 0], atol=1e-5)
            np.testing.assert_allclose(up, m[:, 2], atol=1e-5)


def test_situation_is_not_trivial(state):
    cars = list(state.cars.values())
    assert {c.team_num for c in cars} == {0, 1}
    assert sum(c.physics.position[2] > 200 for c in cars) >= 2  # airborne
    assert sum(abs(c.physics.pitch) > 0.3 for c in cars) >= 2 and sum(abs(c.physics.roll) > 0.3 for c in cars) >= 2
    assert len({round(c.boost_amount) for c in cars}) >= 4
    assert state.cars[DEMOED].is_demoed
    assert (state.boost_pad_timers > 0).sum() == 8  # pads taken, still away after the 8 ticks


# --- one situation, three sources -------------------------------------------------------------

def test_three_sources_same_features(state):
    from_state, ids = frame_from_state(state)
    from_packet, players = frame_from_packet(packet_of(state))
    from_replay = replay_frames_of(state)
    assert ids == list(state.cars) and players == list(range(len(ids)))
    for frames in (from_packet, from_replay):
        np.testing.assert_array_equal(frames.team, from_state.team)
        np.testing.assert_array_equal(frames.present, from_state.present)
    assert from_state.present[0].tolist() == [a != DEMOED for a in ids]
    assert from_state.time[0] == pytest.approx(state.tick_count / TICK_RATE) == from_packet.time[0]
    for c, agent_id in enumerate(ids):
        if agent_id == DEMOED:
            continue
        want = observe(from_state, 0, c)
        np.testing.assert_allclose(observe(from_packet, 0, c), want, atol=ATOL, err_msg=f"packet, {agent_id}")
        np.testing.assert_allclose(observe(from_replay, 0, c), want, atol=ATOL, err_msg=f"replay, {agent_id}")
        # The demolished car fills no slot: 4 of the 5 are filled (blue: 2 + 2, orange: 1 + 3).
        others, pads = want[:OBS_SIZE_BEFORE_PADS][-5 * 14:], want[OBS_SIZE_BEFORE_PADS:]
        assert others.reshape(5, 14)[:, -1].sum() == 4
        # The pads as the engine has them, over 10 s; orange's reversed (its world is turned).
        timers = state.boost_pad_timers / 10
        np.testing.assert_allclose(pads, timers if from_state.team[c] == 0 else timers[::-1], atol=1e-6)
    # Raw rows, too, where a car is on the pitch (the demolished car's row means nothing).
    on = from_state.present[0]
    for frames in (from_packet, from_replay):
        np.testing.assert_allclose(frames.cars[0, on], from_state.cars[0, on], rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(frames.ball, from_state.ball, rtol=1e-5, atol=1e-3)


def test_packet_units_and_absences():
    """Boost 0..100 as is; demolished while ``demolished_timeout`` > 0; no ball: a zero row."""
    players = [flat.PlayerInfo(team=0, boost=42.0, demolished_timeout=-1.0),
               flat.PlayerInfo(team=1, boost=7.0, demolished_timeout=1.5),
               flat.PlayerInfo(team=1, boost=100.0)]  # flatbuffer default timeout 0: on the pitch
    frames, ids = frame_from_packet(flat.GamePacket(players=players, balls=[]))
    assert ids == [0, 1, 2]
    assert frames.cars[0, :, BOOST].tolist() == [42.0, 7.0, 100.0]
    assert frames.present[0].tolist() == [True, False, True]
    assert frames.team.tolist() == [0, 1, 1]
    assert not frames.ball.any()
    np.testing.assert_allclose(frames.cars[0, 0, FWD], [1, 0, 0])  # unrotated: facing +x, up +z
    np.testing.assert_allclose(frames.cars[0, 0, UP], [0, 0, 1])


# --- orange is blue turned half a circle -----------------------------------------------------

HALF_TURN = np.diag([-1.0, -1.0, 1.0])


def _turned(ph):
    out = copy.copy(ph)
    out.position = (ph.position * np.diag(HALF_TURN)).astype(np.float32)
    out.linear_velocity = (ph.linear_velocity * np.diag(HALF_TURN)).astype(np.float32)
    out.angular_velocity = (ph.angular_velocity * np.diag(HALF_TURN)).astype(np.float32)
    out.rotation_mtx = HALF_TURN @ ph.rotation_mtx
    return out


def test_mirror_half_turn_with_teams_swapped(state):
    """The situation turned half a circle about z with every car's team swapped, set in RocketSim
    and read back, gives every car the same features as its counterpart; so does the RLBot packet
    of the turned situation made by adding pi to each yaw."""
    swap = {"blue": "orange", "orange": "blue"}
    partner = {a: f"{swap[a.split('-')[0]]}-{a.split('-')[1]}" for a in state.cars}
    turned_cars = {}
    for agent_id, car in state.cars.items():
        twin = copy.copy(car)
        twin.team_num = 1 - car.team_num
        twin.physics = _turned(car.physics)
        turned_cars[partner[agent_id]] = twin
    turned = _engine_state(turned_cars, _turned(state.ball), state.boost_pad_timers[::-1].copy())

    frames, ids = frame_from_state(state)
    turned_frames, turned_ids = frame_from_state(turned)
    packet_frames, _ = frame_from_packet(packet_of(state, turn=True))

    assert frames.team.tolist() != turned_frames.team.tolist()
    for c, agent_id in enumerate(ids):
        if agent_id == DEMOED:
            continue
        want = observe(frames, 0, c)
        np.testing.assert_allclose(observe(turned_frames, 0, turned_ids.index(partner[agent_id])), want,
                                   atol=1e-4, err_msg=agent_id)
        np.testing.assert_allclose(observe(packet_frames, 0, c), want, atol=1e-4, err_msg=agent_id)


# --- the replay's own quaternions, against the physics they describe ---------------------------

def test_real_replay_quaternions_follow_the_cars_motion(shared_data):
    """In a real replay, ``quaternion_basis``'s forward is where a car under full throttle on the
    ground goes, its up points away from the side wall the car drives on, and the orientation turns
    by the recorded angular velocity (hundredths of rad/s); the conjugate quaternion fails all three."""
    subtr_actor = pytest.importorskip("subtr_actor")
    path = shared_data / "rocket" / "replays" / "e6ee235b00af.replay"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    data = subtr_actor.get_replay_frames_data(str(path))["frame_data"]
    times = [m["time"] for m in data["metadata_frames"]]
    driving, wall, turning = [], [], []
    for _, player in data["players"]:
        previous = None
        for i, frame in enumerate(player["frames"]):
            body = frame.get("Data", {}).get("rigid_body") if isinstance(frame, dict) else None
            if not body or not body.get("linear_velocity") or not body.get("angular_velocity"):
                previous = None
                continue
            row = car_state(body, 0)
            r = body["rotation"]
            conj = quaternion_basis((-r["x"], -r["y"], -r["z"], r["w"]))
            pos, vel, ang = row[POS], row[VEL], row[ANG]
            speed = np.linalg.norm(vel)
            if frame["Data"]["input"]["throttle"] == 255 and pos[Z] < 30 and speed > 500:
                driving.append((row[FWD] @ vel / speed, conj[0] @ vel / speed))
            if abs(pos[X]) > 4000 and 300 < pos[Z] < 1500:  # on a side wall
                wall.append((-np.sign(pos[X]) * row[UP][X], -np.sign(pos[X]) * conj[1][X]))
            if previous is not None and 0 < times[i] - times[previous[0]] < 0.05 and np.linalg.norm(ang) > 1:
                dt, fwd0 = times[i] - times[previous[0]], previous[1]
                turning.append((np.linalg.norm(row[FWD] - fwd0 - np.cross(ang, fwd0) * dt),
                                np.linalg.norm(row[FWD] - fwd0 + np.cross(ang, fwd0) * dt)))
            previous = (i, row[FWD])
    driving, wall, turning = np.array(driving), np.array(wall), np.array(turning)
    assert len(driving) > 100 and len(wall) > 20 and len(turning) > 100
    assert np.median(driving[:, 0]) > 0.99 and np.median(driving[:, 1]) < 0.5
    assert np.median(wall[:, 0]) > 0.99 and np.median(wall[:, 1]) < 0.5
    assert np.median(turning[:, 0]) < 0.5 * np.median(turning[:, 1])
