"""RLGym's 90 actions, and the controls a car used, read back from its physics.

A bot acts 15 times a second (RLGym repeats each action for 8 ticks at 120 Hz) by choosing one row
of :data:`TABLE`, RLGym v2's ``LookupTableAction`` table, built here without importing rlgym.
A replay records where the cars were, and only some of what the players pressed (throttle, steer
and a few flags). :func:`infer_controls` recovers the 8 controls of each decision from how the car
moved until the next one, and :func:`to_table` names the nearest row of the table, the label a
policy learns to predict.

Conventions (checked against RocketSim): a car's local frame is ``forward``, ``right`` and ``up``,
where ``right = up x forward`` computed on the numbers (the game's world is left-handed, so
this is the driver's right). Steer +1 turns right, which makes the angular velocity along ``up``
positive when driving forward. In the air pitch +1 (nose up) makes the angular velocity along
``right`` negative, yaw +1 (nose right) makes it positive along ``up``, and roll +1 (right side
down) makes it negative along ``forward``.
"""

from __future__ import annotations

import numpy as np

from .vocabulary import (
    ANALOG,
    ANG,
    BACK_WALL,
    BOOST,
    BOOST_ON,
    BUTTONS,
    CEILING,
    CONTROLS,
    CORNER,
    DECISION_SECONDS,
    FWD,
    HANDBRAKE,
    JUMP,
    PITCH,
    POS,
    ROLL,
    SIDE_WALL,
    STEER,
    THROTTLE,
    TICK_SECONDS,
    UP,
    VEL,
    YAW,
)

GRAVITY = np.array([0.0, 0.0, -650.0])  # uu/s^2
BOOST_GROUND, BOOST_AIR = 991.667, 1058.333  # uu/s^2 along forward
BOOST_USE = 100 / 3  # boost units per second
AIR_THROTTLE = 66.667  # uu/s^2 along forward
JUMP_IMPULSE = 291.667  # uu/s along up, on take-off and for a double jump

# Air control (RocketSim's RLConst; RLUtilities measured nearly the same in the game): each tick
# d(w)/dt = TORQUE*u + DAMPING*w*(1-|u|) on pitch and yaw, TORQUE*u + DAMPING*w on roll, w the
# angular velocity along (forward, right, up), then |w| is capped at MAX_SPIN.
_SCALE = 2 * np.pi / 65536 * 1000
TORQUE = _SCALE * np.array([-400.0, -130.0, 95.0])  # roll, pitch, yaw
DAMPING = -_SCALE * np.array([50.0, 30.0, 20.0])
MAX_SPIN = 5.5  # rad/s
_STICKS = np.array([[r, p, y] for r in (-1, 0, 1) for p in (-1, 0, 1) for y in (-1, 0, 1)], np.float64)

# Ground steering: the tightest curvature (1/uu) at each speed (uu/s), from RLUtilities.
CURVE_SPEED = np.array([0.0, 500.0, 1000.0, 1500.0, 1750.0, 2500.0])
CURVE_MAX = np.array([0.0069, 0.00398, 0.00235, 0.001375, 0.0011, 0.00088])
# RocketSim's yaw rate lags the steering: after one decision about half the old rate remains, and
# a decision's target is about 0.7 of the full-lock rate (fitted on random driving, no handbrake).
STEER_LAG, STEER_GAIN = 0.5, 0.7
COAST, BRAKE = -525.0, -3500.0  # uu/s^2 along the direction of travel: no throttle, throttle against it

# The arena's flat surfaces: see _surfaces.
GROUND_CLEARANCE = 50  # uu from a surface to the car's centre (17 at rest on the floor)
GROUND_ALIGN = 0.7  # cosine between the car's up and the surface normal
GROUND_LIFT = 150  # uu/s: a car on a surface hardly moves towards or away from it

# A car on its roof rights itself when jump is pressed (RocketSim's and the game's auto-flip: a
# roll torque for up to 0.4 s). The roof within 45 degrees of the floor, resting about 40 uu up.
AUTOFLIP_UP = -np.sqrt(0.5)
AUTOFLIP_HEIGHT = 80.0  # uu: the centre of a car lying on its roof, with margin
AUTOFLIP_REST, AUTOFLIP_SPIN = 1.5, 2.5  # rad/s of roll: lying still, then turning over


def _lookup_table() -> np.ndarray:
    """RLGym v2's ``LookupTableAction.make_lookup_table()``: 24 ground rows, then 66 air rows."""
    rows = []
    for throttle in (-1, 0, 1):
        for steer in (-1, 0, 1):
            for boost in (0, 1):
                for handbrake in (0, 1):
                    if boost == 0 or throttle == 1:  # boosting only with full throttle
                        rows.append([throttle or boost, steer, 0, steer, 0, 0, boost, handbrake])
    for pitch in (-1, 0, 1):
        for yaw in (-1, 0, 1):
            for roll in (-1, 0, 1):
                for jump in (0, 1):
                    for boost in (0, 1):
                        if jump and yaw:  # jumps only with pitch and roll (flips)
                            continue
                        if pitch == roll == jump == 0:  # already a ground row
                            continue
                        handbrake = int(jump == 1 and (pitch != 0 or roll != 0))  # wavedashes
                        rows.append([boost, yaw, pitch, yaw, roll, jump, boost, handbrake])
    return np.array(rows, np.float32)


TABLE = _lookup_table()
TABLE.flags.writeable = False


def controls_of(index) -> np.ndarray:
    """The 8 controls (throttle, steer, pitch, yaw, roll, jump, boost, handbrake) of action ``index``
    (an int or an array of them)."""
    return TABLE[np.asarray(index)]


def named_controls(action) -> dict:
    """One action (an index into :data:`TABLE`) or one 8-control vector as ``{name: value}``, by the
    names of :data:`~playas.rocket.vocabulary.CONTROLS`: analog controls as floats, buttons as bools
    (pressed when above 0)."""
    c = np.asarray(action)
    c = TABLE[int(c)] if c.ndim == 0 else c.reshape(len(CONTROLS))
    values = dict(zip(CONTROLS, c.tolist()))
    return {**{k: float(values[k]) for k in ANALOG}, **{k: values[k] > 0 for k in BUTTONS}}


def engine_controls(struct, action):
    """An engine's control struct for one action or 8-control vector, built by keyword:
    ``engine_controls(RocketSim.CarControls, i)``, ``engine_controls(rlbot.flat.ControllerState, c)``.

    By name, never by position: RocketSim's ``CarControls`` takes boost before jump where RLGym's
    table (and RLBot) put jump first. RLGym's engine takes the table's rows as they are.
    """
    return struct(**named_controls(action))


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1)


def local_frame(cars: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each car's forward, right and up unit vectors, (T, 3) each."""
    fwd, up = cars[:, FWD].astype(np.float64), cars[:, UP].astype(np.float64)
    return fwd, np.cross(up, fwd), up


def _surfaces() -> np.ndarray:
    """(10, 4): inward unit normal and offset (``n . p >= offset`` inside) of every flat surface."""
    planes = [[0, 0, 1, 0], [0, 0, -1, -CEILING], [1, 0, 0, -SIDE_WALL], [-1, 0, 0, -SIDE_WALL],
              [0, 1, 0, -BACK_WALL], [0, -1, 0, -BACK_WALL]]
    c = np.sqrt(0.5)
    planes += [[-sx * c, -sy * c, 0, -CORNER * c] for sx in (-1, 1) for sy in (-1, 1)]
    return np.array(planes, np.float64)


_PLANES = _surfaces()


def on_ground(cars: np.ndarray) -> np.ndarray:
    """(T,) bool: the car stands on a surface, judged from its state alone.

    True when the car's centre is within :data:`GROUND_CLEARANCE` of the floor, the ceiling, a
    side or back wall or a corner wall, with its up vector within 45 degrees of that surface's
    normal and hardly moving towards or away from it (less than :data:`GROUND_LIFT`: a car just
    jumped or about to land is in the air). The curved joins between surfaces and the goals'
    insides are not modelled: there the planes of the floor and walls are the best guess.
    """
    pos, vel, up = (cars[:, s].astype(np.float64) for s in (POS, VEL, UP))
    height = pos @ _PLANES[:, :3].T - _PLANES[:, 3]  # (T, 10) distance inside each plane
    touch = (height < GROUND_CLEARANCE) & (up @ _PLANES[:, :3].T > GROUND_ALIGN)
    return (touch & (np.abs(vel @ _PLANES[:, :3].T) < GROUND_LIFT)).any(1)


def grounded_decisions(cars: np.ndarray) -> np.ndarray:
    """(T,) bool: on the ground at a decision and at the next (the whole decision driven), the
    ``grounded`` to give :func:`to_table` for controls from :func:`infer_controls`."""
    g = on_ground(cars)
    return g & _next(g)


def _next(a: np.ndarray) -> np.ndarray:
    """``a`` one decision later; the last decision repeats itself."""
    return np.concatenate([a[1:], a[-1:]]) if len(a) else a


def _air_continuous(w0: np.ndarray, w1: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """(T, 3) roll, pitch, yaw (-1..1) that turn local angular velocity ``w0`` into ``w1`` in
    ``dt``, solving the air-control model at the interval's mean angular velocity."""
    accel, mean = (w1 - w0) / dt[:, None], (w0 + w1) / 2
    free = accel - DAMPING * mean  # what the stick must explain if it were released
    roll = free[:, 0] / TORQUE[0]
    # pitch, yaw: accel = T*u + D*mean*(1-|u|); solve on each side of 0, keep the consistent one
    pos = free[:, 1:] / (TORQUE[1:] - DAMPING[1:] * mean[:, 1:])
    neg = free[:, 1:] / (TORQUE[1:] + DAMPING[1:] * mean[:, 1:])
    py = np.where(pos >= 0, pos, np.where(neg <= 0, neg, 0.0))
    return np.clip(np.column_stack([roll, py]), -1, 1)


def _air_discrete(w0: np.ndarray, w1: np.ndarray, dt: np.ndarray, chunk: int = 1 << 15) -> np.ndarray:
    """(T, 3) roll, pitch, yaw in {-1, 0, 1}: of the 27 stick positions, the one whose
    tick-by-tick air control, with the spin cap, ends nearest ``w1``."""
    ticks = np.clip(np.rint(dt / TICK_SECONDS), 1, 16).astype(int)
    out = np.empty((len(w0), 3))
    free = 1 - np.abs(_STICKS)
    free[:, 0] = 1  # roll is always damped
    for s in range(0, len(w0), chunk):
        w = np.repeat(w0[s:s + chunk, None], len(_STICKS), 1)  # (n, 27, 3)
        n_ticks = ticks[s:s + chunk, None, None]
        for k in range(ticks[s:s + chunk].max(initial=0)):
            step = w + TICK_SECONDS * (TORQUE * _STICKS + DAMPING * w * free)
            spin = np.linalg.norm(step, axis=-1, keepdims=True)
            step *= np.minimum(1, MAX_SPIN / np.maximum(spin, 1e-9))
            w = np.where(k < n_ticks, step, w)
        best = ((w - w1[s:s + chunk, None]) ** 2).sum(-1).argmin(1)
        out[s:s + chunk] = _STICKS[best]
    return out


def air_sticks(w0: np.ndarray, w1: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """(T, 3) roll, pitch, yaw from the local angular velocity (forward, right, up) at a decision
    and the next: the continuous solution while the spin stays clear of the cap, else (where the
    cap hides part of the change) the best of the 27 full-stick positions."""
    out = _air_continuous(w0, w1, dt)
    capped = np.maximum(np.linalg.norm(w0, axis=1), np.linalg.norm(w1, axis=1)) > MAX_SPIN - 0.3
    if capped.any():
        out[capped] = _air_discrete(w0[capped], w1[capped], dt[capped])
    return out


def _max_throttle_accel(speed: np.ndarray) -> np.ndarray:
    """Full throttle's acceleration (uu/s^2) at a forward speed: 1600 from rest, 160 at 1400, 0 beyond 1410."""
    return np.interp(speed, [0.0, 1400.0, 1410.0], [1600.0, 160.0, 0.0])


def _ground_throttle(v_fwd: np.ndarray, a_fwd: np.ndarray) -> np.ndarray:
    """Throttle from forward speed and acceleration (boost removed) on the ground.

    Along the direction of travel, full throttle gives :func:`_max_throttle_accel`, no throttle
    coasts at -525 uu/s^2 and throttle the other way brakes at -3500: each decision takes the
    nearest of the three, splitting at the midpoints. From (nearly) rest the sign of any clear
    push is the throttle, since coasting cannot move a car. A powerslide halves throttle and
    removes coasting and braking, so throttle against travel under it reads as no throttle.
    """
    moving = np.abs(v_fwd) > 50
    s = np.where(moving, np.sign(v_fwd), 1.0)
    along = a_fwd * s
    full = np.maximum(_max_throttle_accel(np.abs(v_fwd)), -70.0)  # a little drag when supersonic
    out = np.where(along > (full + COAST) / 2, s, np.where(along < (COAST + BRAKE) / 2, -s, 0.0))
    still = np.where(np.abs(a_fwd) > 300, np.sign(a_fwd), 0.0)
    return np.where(moving, out, still)


def _ground_steer(v_fwd: np.ndarray, yaw0: np.ndarray, yaw1: np.ndarray) -> np.ndarray:
    """Steer from the yaw rate about ``up`` at a decision and the next, clipped to -1..1.

    The yaw rate follows the steering with a lag: over one decision it moves ``1 - STEER_LAG``
    of the way to its target, ``steer * STEER_GAIN * curvature(speed) * speed``: positive
    (turning right) for positive steer when going forward, the other way when reversing.
    """
    speed = np.abs(v_fwd)
    full = STEER_GAIN * np.interp(speed, CURVE_SPEED, CURVE_MAX) * np.maximum(speed, 1.0)
    target = (yaw1 - STEER_LAG * yaw0) / (1 - STEER_LAG)
    return np.where(speed > 50, np.clip(target / full * np.sign(v_fwd), -1, 1), 0.0)


def infer_controls(cars: np.ndarray, dt, flags: dict | None = None) -> np.ndarray:
    """(T, 8) float32: throttle, steer, pitch, yaw, roll, jump, boost, handbrake at each decision.

    ``cars`` is one car's (T, 16) states at consecutive decisions (see :mod:`playas.rocket.frames`),
    ``dt`` the seconds from each decision to the next (an array or one number). The controls at
    step ``t`` are those that explain the change from ``t`` to ``t + 1``; the last step repeats
    the one before. ``flags`` (optional) holds what a replay recorded, (T,) arrays: ``throttle``
    and ``steer`` (-1..1, NaN where missing), ``boost``, ``jump`` and ``handbrake`` (bools);
    recorded values win over physics, and a car on its roof that rolls back onto its wheels
    pressed jump (:func:`auto_flips`). Without them: boost is the boost gauge dropping (or, with
    no gauge left to read, forward acceleration beyond what throttle gives); jump is a push along
    the car's up that neither gravity nor the ground explains, or a dodge's sudden kick; throttle
    and steer come from the forward acceleration and the yaw rate on the ground (see
    :func:`on_ground`), and pitch, yaw and roll from the change of the local angular velocity in
    the air, inverting the air-control model. As in RLGym's table, on the ground pitch and roll
    are 0 and yaw equals steer; in the air steer equals yaw, and handbrake is 0 unless recorded.
    """
    cars = np.asarray(cars, np.float64)
    n = len(cars)
    out = np.zeros((n, len(CONTROLS)), np.float32)
    if n < 2:
        return out
    dt = np.broadcast_to(np.asarray(dt, np.float64), (n,)).copy()
    dt = np.where(dt > 1e-4, dt, DECISION_SECONDS)[:, None]
    fwd, right, up = local_frame(cars)
    vel, ang, boost = cars[:, VEL], cars[:, ANG], cars[:, BOOST]
    touching = on_ground(cars)
    ground = touching & _next(touching)  # driving the whole decision

    dv = _next(vel) - vel - GRAVITY * dt  # change of velocity not due to gravity
    a_fwd = _dot(dv, fwd) / dt[:, 0]
    v_fwd = _dot(vel, fwd)

    # Boost: the gauge drops (~2.2 a decision); where it cannot (empty, or a pad refilled it)
    # the car still speeds up along forward faster than throttle could.
    boost_accel = np.where(ground, BOOST_GROUND, BOOST_AIR)
    used = (boost - _next(boost)) > 0.6 * BOOST_USE * dt[:, 0]  # a press spills 0.5 into the next
    limit = np.where(ground, _max_throttle_accel(np.abs(v_fwd)), AIR_THROTTLE) + boost_accel / 2
    boosting = used | ((a_fwd > limit) & (boost > 0))
    a_plain = a_fwd - boosting * boost_accel

    # Jump: leaving the ground with speed along up; in the air a held jump's extra push or a
    # double jump (both along up) or a dodge (a large kick in any direction).
    v_up1 = _dot(_next(vel), up)
    jump_ground = touching & (v_up1 - _dot(vel, up) > JUMP_IMPULSE / 2) & (v_up1 > JUMP_IMPULSE / 2)
    residual = dv - (boosting * boost_accel)[:, None] * fwd * dt
    kick = (_dot(residual, up) > 50) | (np.linalg.norm(residual, axis=1) > 150)
    jumping = jump_ground | (~touching & kick & ~_next(touching))

    # Air: local angular velocity along forward (roll), right (pitch) and up (yaw).
    w0 = np.stack([_dot(ang, fwd), _dot(ang, right), _dot(ang, up)], 1)
    w1 = np.stack([_dot(_next(ang), fwd), _dot(_next(ang), right), _dot(_next(ang), up)], 1)
    roll, pitch, yaw = air_sticks(w0, w1, dt[:, 0]).T

    air_throttle = np.where(np.abs(a_plain) > AIR_THROTTLE / 2, np.sign(a_plain), 0.0)
    throttle = np.where(ground, _ground_throttle(v_fwd, a_plain), air_throttle)
    throttle = np.where(boosting, 1.0, throttle)  # RLGym's table boosts only at full throttle
    steer = _ground_steer((v_fwd + _next(v_fwd)) / 2, w0[:, 2], w1[:, 2])

    out[:, THROTTLE] = throttle
    out[:, STEER] = np.where(ground, steer, yaw)
    out[:, PITCH] = np.where(ground, 0.0, pitch)
    out[:, YAW] = np.where(ground, steer, yaw)
    out[:, ROLL] = np.where(ground, 0.0, roll)
    out[:, JUMP] = jumping
    out[:, BOOST_ON] = boosting
    out[-1] = out[-2]  # nothing follows the last decision
    if flags:
        _apply_flags(out, flags, ground)
    flips = np.flatnonzero(auto_flips(cars))
    out[flips, JUMP] = 1.0
    out[np.ix_(flips, [PITCH, YAW, ROLL])] = 0.0  # the roll that follows is the auto-flip's, not the stick's
    return out


def auto_flips(cars: np.ndarray) -> np.ndarray:
    """(T,) bool: decisions where a car lying on its roof presses jump, read from the roll that
    follows. A replay records no jump there (no wheels on the ground: no jump starts), yet it is how
    players get back on their wheels; without it the labels teach a car on its roof to wait there.
    The car lies on its roof near the floor (roll under :data:`AUTOFLIP_REST`), then rolls one way
    (past :data:`AUTOFLIP_REST` at the next decision, past :data:`AUTOFLIP_SPIN` the two after) and
    is turning upright (its up 0.2 nearer the sky four decisions on): a landing's bounce or a
    stalled roll is not a flip."""
    cars = np.asarray(cars, np.float64)
    fwd, _, up = local_frame(cars)
    roll = _dot(cars[:, ANG], fwd)
    resting = (up[:, 2] < AUTOFLIP_UP) & (cars[:, POS][:, 2] < AUTOFLIP_HEIGHT) & (np.abs(roll) < AUTOFLIP_REST)
    out = np.zeros(len(cars), bool)
    if len(cars) < 5:
        return out
    r1, r2, r3 = roll[1:-3], roll[2:-2], roll[3:-1]
    spin = (np.abs(r1) > AUTOFLIP_REST) & (np.abs(r2) > AUTOFLIP_SPIN) & (np.abs(r3) > AUTOFLIP_SPIN)
    one_way = (r1 * r2 > 0) & (r2 * r3 > 0)
    out[:-4] = resting[:-4] & spin & one_way & (up[4:, 2] > up[:-4, 2] + 0.2)
    return out


def jump_presses(held, flipping) -> np.ndarray:
    """(T,) bool: the jump button as a player pressed it, from what a replay records per decision.

    A replay says whether the car's first jump is active (``held``: the button down, up to the
    jump's 0.2 s of extra push) and whether a double jump or dodge is active (``flipping``: the
    whole 0.65 s of a flip, long after the button went up). The button is down while the first jump
    is held and at the decision a double jump or dodge starts; the decision before that start is a
    release (a second jump needs one), unless that decision is the take-off itself.
    """
    held, flipping = np.asarray(held, bool), np.asarray(flipping, bool)
    starts = flipping & ~np.concatenate([[False], flipping[:-1]])
    takeoff = held & ~np.concatenate([[False], held[:-1]])
    release = np.concatenate([starts[1:], [False]]) & ~takeoff
    return (held & ~release) | starts


def _apply_flags(out: np.ndarray, flags: dict, ground: np.ndarray) -> None:
    """Overwrite inferred controls with what the replay recorded (in place)."""
    for name, col in (("throttle", THROTTLE), ("steer", STEER)):
        if name in flags:
            rec = np.asarray(flags[name], np.float64)
            out[:, col] = np.where(np.isnan(rec), out[:, col], np.clip(rec, -1, 1))
    if "steer" in flags:  # on the ground yaw is steer, as in the table
        out[:, YAW] = np.where(ground, out[:, STEER], out[:, YAW])
    for name, col in (("jump", JUMP), ("boost", BOOST_ON), ("handbrake", HANDBRAKE)):
        if name in flags:
            out[:, col] = np.asarray(flags[name], bool)


# Distance weights: the controls that act where the car is count fully, the rest only break ties.
_TIE = 0.01
_GROUND_WEIGHT = np.array([1, 1, _TIE, _TIE, _TIE, 1, 1, 1], np.float32)
_AIR_WEIGHT = np.array([_TIE, _TIE, 1, 1, 1, 1, 1, _TIE], np.float32)


def to_table(controls: np.ndarray, grounded, chunk: int = 1 << 16) -> np.ndarray:
    """(T,) int64: the row of :data:`TABLE` nearest each decision's controls.

    The distance is a weighted squared difference over the 8 controls. On the ground throttle,
    steer, jump, boost and handbrake weigh 1 (pitch, yaw and roll do nothing there); in the air
    pitch, yaw, roll, jump and boost weigh 1 (throttle, steer and handbrake barely matter). The
    other controls weigh 0.01, which only breaks ties: the table's rows differ in at least one
    control, so a row fed its own controls maps to itself whatever ``grounded`` says.
    """
    c = np.asarray(controls, np.float32).reshape(-1, len(CONTROLS))
    g = np.broadcast_to(np.asarray(grounded, bool), (len(c),))
    t2 = (TABLE ** 2).T  # (8, 90)
    out = np.empty(len(c), np.int64)
    for s in range(0, len(c), chunk):
        x, w = c[s:s + chunk], np.where(g[s:s + chunk, None], _GROUND_WEIGHT, _AIR_WEIGHT)
        # sum_k w (x - t)^2 = sum w x^2 - 2 (w x) . t + w . t^2; the first term is the same for every row
        d = w @ t2 - 2 * (w * x) @ TABLE.T
        out[s:s + chunk] = d.argmin(1)
    return out
