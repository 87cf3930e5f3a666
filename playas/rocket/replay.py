"""Real ``.replay`` files into :class:`~playas.rocket.frames.Frames` and what each player did.

subtr-actor's frame data (``subtr_actor.get_replay_frames_data``) reads every network version
here, games where someone joined or left included, and gives per frame: each rigid body
(location, linear velocity in unreal units per second, angular velocity in hundredths of a radian
per second, rotation as a quaternion), boost in raw units (0 to 255), the jump, dodge, boost and
powerslide flags, and the throttle and steer bytes the game replicates. It holds no boost pad
state: :func:`playas.rocket.pads.rebuild` infers it from the cars' boost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .actions import jump_presses
from .frames import Frames, after_goals
from .pads import countdowns, rebuild
from .vocabulary import ANG, BALL_FIELDS, BOOST, CAR_FIELDS, DECISIONS_PER_SECOND, FWD, POS, UP, VEL

MAX_GAP = 0.25  # s between two physics updates of a car (the server sends 10-15 a second): longer is a gap
INPUT_LAG = 0.033  # s from a decision to the replicated inputs that drive it
HELD_FRAMES = 2  # frames between two updates at 30 frames and 10 updates a second
ANGULAR_UNIT = 0.01  # replays store angular velocity in hundredths of rad/s (ball and cars peak near 600)
BOOST_UNIT = 100 / 255  # raw boost 0..255 -> 0..100


def quaternion_basis(q) -> tuple[np.ndarray, np.ndarray]:
    """Forward and up unit vectors of a rotation quaternion ``(x, y, z, w)``."""
    x, y, z, w = (float(c) for c in q)
    n = (x * x + y * y + z * z + w * w) ** 0.5 or 1.0
    x, y, z, w = x / n, y / n, z / n, w / n
    forward = np.array([1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)], np.float32)
    up = np.array([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], np.float32)
    return forward, up


def _xyz(d) -> list[float]:
    return [d["x"], d["y"], d["z"]] if d else [0.0, 0.0, 0.0]


def ball_state(rigid_body: dict) -> np.ndarray:
    """The ball's 9 numbers (position, velocity, angular velocity in rad/s) from a replay rigid body."""
    return np.array(_xyz(rigid_body["location"]) + _xyz(rigid_body.get("linear_velocity"))
                    + [a * ANGULAR_UNIT for a in _xyz(rigid_body.get("angular_velocity"))], np.float32)


def car_state(rigid_body: dict, boost_raw: float) -> np.ndarray:
    """A car's :data:`~playas.rocket.frames.CAR_FIELDS` numbers from a replay rigid body and raw boost."""
    r = rigid_body["rotation"]
    forward, up = quaternion_basis((r["x"], r["y"], r["z"], r["w"]))
    out = np.empty(CAR_FIELDS, np.float32)
    out[POS] = _xyz(rigid_body["location"])
    out[VEL] = _xyz(rigid_body.get("linear_velocity"))
    out[ANG] = [a * ANGULAR_UNIT for a in _xyz(rigid_body.get("angular_velocity"))]
    out[FWD], out[UP] = forward, up
    out[BOOST] = boost_raw * BOOST_UNIT
    return out


FLAG_KEYS = ("boost_active", "jump_active", "double_jump_active", "dodge_active", "powerslide_active")


@dataclass
class Player:
    """Someone who played in a replay: ``key`` is their platform id where the replay has one
    (``steam:7656...``, ``epic:...``), else ``name:`` and their in-game name."""

    key: str
    name: str
    team: int


@dataclass
class Replay:
    """One replay at :data:`~playas.rocket.vocabulary.DECISIONS_PER_SECOND` decisions a second: the
    world, who played, and what each recorded.

    ``recorded[c]`` holds car ``c``'s replicated inputs for each decision: ``throttle`` and ``steer``
    in [-1, 1] (NaN where the replay has none), and the ``boost``, ``jump`` (the button as pressed:
    :func:`~playas.rocket.actions.jump_presses`) and ``handbrake`` (powerslide) flags, and ``flip``
    (a double jump or dodge active: the whole flip, as the replay has it). ``countdown`` (T,) is
    True at the decisions wholly inside a kickoff's countdown, when no car can move (the last
    decision before the kickoff is not: the car goes during it), and the ball waiting on its spot
    with every car standing before it (the replay's flag comes ~0.7 s after the cars are put on
    their spots, and the 14 replays of 2015 in the shared set have none).
    ``after_goal`` (T,) is True from each goal until the ball is back on its spot
    (:func:`~playas.rocket.frames.after_goals`): play has stopped. ``stale`` (T, C) is True where the
    replay sent no physics of the car around the decision (:data:`MAX_GAP`): goal replays cut out of
    the file, a car the server stopped updating; nothing there explains what the car did.
    """

    frames: Frames
    players: list[Player]
    recorded: list[dict]
    countdown: np.ndarray
    after_goal: np.ndarray
    stale: np.ndarray
    meta: dict = field(default_factory=dict)
    pickups: np.ndarray | None = None  # (n, 3) moment, car, pad: the pads rebuilt from the cars' boost

    def unexplained(self, c: int) -> np.ndarray:
        """(T,) bool: decisions of car ``c`` whose change to the next decision the replay cannot
        show (either end stale): no label can be read from the physics there."""
        s = self.stale[:, c]
        return s | np.append(s[1:], False)


class ReplayError(Exception):
    """A replay that cannot be read; the message says why in a few words."""


def _platform_key(pid, name: str) -> str:
    """A stable player key from subtr-actor's remote id, or the name where there is none (or where
    it is a split-screen guest's, which names a console seat, not a person)."""
    if isinstance(pid, dict) and pid:
        kind, value = next(iter(pid.items()))
        if kind.lower() == "splitscreen":
            return f"name:{name}"
        if isinstance(value, dict):  # PsyNet / Epic / PlayStation: {"online_id": ..., ...}
            online = str(value.get("online_id") or value.get("id") or "")
            # Older PlayStation ids hold online_id "1" for everyone (30 people in the shared
            # replays): a placeholder, so the PSN name, unique on the network, names the person.
            if kind.lower() == "playstation" and value.get("name") and (not online.isdigit() or int(online) < 1 << 32):
                return f"playstation:{value['name']}"
            value = online or value.get("name") or ""
        value = str(value)
        if value and value.strip("0"):
            return f"{kind.lower()}:{value}"
    return f"name:{name}"


def _byte(b) -> float:
    return float("nan") if b is None else max(-1.0, min(1.0, (float(b) - 128.0) / 127.0))


PARSE_TRIES = 5


def _parse(path) -> dict:
    """subtr-actor's frame data, parsed again while it has lost the ball.

    subtr-actor 1.5.1 sometimes follows the wrong ball actor and reports no ball in any frame, at
    random from one process to the next (about half the time on some 2025 replays); a new parse
    finds it. Two shared replays never show it in 8 tries: they are skipped with that reason."""
    import subtr_actor

    for _ in range(PARSE_TRIES):
        try:
            d = subtr_actor.get_replay_frames_data(str(path))
        except Exception as e:  # the parser's message, first line: "Could not decode ..."
            raise ReplayError(str(e).splitlines()[0][:160] if str(e) else type(e).__name__) from None
        balls = d["frame_data"]["ball_data"]["frames"]
        if sum(isinstance(f, dict) and "Data" in f for f in balls) > len(balls) // 2:
            return d
    raise ReplayError(f"the parser found no ball in most frames ({PARSE_TRIES} tries)")


def _nearest(times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Index of the frame nearest each moment of ``grid``."""
    idx = np.clip(np.searchsorted(times, grid), 1, len(times) - 1)
    return np.where(np.abs(times[idx - 1] - grid) <= np.abs(times[idx] - grid), idx - 1, idx)


def _track(frames: list, n: int) -> dict:
    """One player's ``n`` replay frames as arrays: ``cars`` (n, CAR_FIELDS), ``ok`` (a rigid body
    there), ``throttle`` and ``steer`` (NaN where missing), the :data:`FLAG_KEYS` flags, and the
    ``names`` and ``teams`` the frames gave; ``fresh`` where the car's physics was updated (see
    :func:`_moved`)."""
    out = {"cars": np.zeros((n, CAR_FIELDS), np.float32), "ok": np.zeros(n, bool), "fresh": np.zeros(n, bool),
           "throttle": np.full(n, np.nan, np.float32), "steer": np.full(n, np.nan, np.float32),
           **{k: np.zeros(n, bool) for k in FLAG_KEYS}, "names": {}, "teams": []}
    held = 0  # frames in a row carrying the same velocities
    for i, f in enumerate(frames[:n]):
        if not (isinstance(f, dict) and "Data" in f):
            continue
        f = f["Data"]
        rb = f.get("rigid_body")
        if not rb or rb.get("rotation") is None or rb.get("location") is None:
            continue
        out["cars"][i] = car_state(rb, f.get("boost_amount") or 0.0)
        out["ok"][i] = True
        held = held + 1 if i and not _moved(out["cars"][i], out["cars"][i - 1]) else 0
        out["fresh"][i] = held == 0 or held > HELD_FRAMES
        inp = f.get("input") or {}
        out["throttle"][i], out["steer"][i] = _byte(inp.get("throttle")), _byte(inp.get("steer"))
        for k in FLAG_KEYS:
            out[k][i] = bool(f.get(k))
        if f.get("player_name"):
            out["names"][f["player_name"]] = out["names"].get(f["player_name"], 0) + 1
        if f.get("is_team_0") is not None:
            out["teams"].append(0 if f["is_team_0"] else 1)
    return out


def _moved(row: np.ndarray, before: np.ndarray) -> bool:
    """Whether a car's state is a physics update beside the frame before's. The server replicates a
    car 10-15 times a second and most replays hold 20-30 frames a second: a frame between two
    updates carries the last update's velocities with a position halfway to the next (the
    client's interpolation), so a moving car whose velocity and angular velocity did not change
    was not updated; a car at rest is what it is, updated or not. More than :data:`HELD_FRAMES`
    frames in a row with the same velocities are a car really keeping them (top speed, straight)."""
    same = np.array_equal(row[VEL], before[VEL]) and np.array_equal(row[ANG], before[ANG])
    return not same or float(np.abs(row[VEL]).sum()) < 1


def _at(times: np.ndarray, cars: np.ndarray, fresh: np.ndarray, grid: np.ndarray, nearest: np.ndarray):
    """One car's states (frames, CAR_FIELDS) at each moment of ``grid``, linear between the two
    physics updates around it (``fresh`` frames), and where that cannot be done (stale, the frame
    ``nearest`` as the replay has it): no update within :data:`MAX_GAP` on both sides, or the car
    put somewhere else between them (a respawn, the reset for a kickoff). Interpolated between updates, a decision's position, velocities and rotation
    belong to one moment, so the change to the next decision is one decision's worth of physics."""
    u = np.flatnonzero(fresh)
    if len(u) < 2:
        return cars[nearest], np.ones(len(grid), bool)
    tu = times[u]
    k = np.clip(np.searchsorted(tu, grid, side="right") - 1, 0, len(u) - 2)
    t0, t1, a, b = tu[k], tu[k + 1], cars[u[k]], cars[u[k + 1]]
    w = np.clip((grid - t0) / np.maximum(t1 - t0, 1e-9), 0.0, 1.0)[:, None]
    out = ((1 - w) * a + w * b).astype(np.float32)
    moved = np.linalg.norm(b[:, POS] - a[:, POS], axis=1)
    put = moved > (np.linalg.norm(a[:, VEL], axis=1) + np.linalg.norm(b[:, VEL], axis=1) + 500) * (t1 - t0) + 50
    stale = put | (t1 - t0 > MAX_GAP) | (grid < t0 - 1e-6) | (grid > t1 + 1e-6)
    return np.where(stale[:, None], cars[nearest], out), stale


def _renormalise(cars: np.ndarray) -> None:
    """Interpolated forward and up vectors back to unit length, in place."""
    for part in (FWD, UP):
        n = np.linalg.norm(cars[..., part], axis=-1, keepdims=True)
        cars[..., part] /= np.where(n > 1e-6, n, 1.0)


def _player(pid, track: dict, c: int) -> Player:
    names, teams = track["names"], track["teams"]
    name = max(names, key=names.get) if names else f"player {c + 1}"
    return Player(_platform_key(pid, name), name, int(np.bincount(teams).argmax()) if teams else 0)


def _recorded(track: dict, times: np.ndarray, grid: np.ndarray) -> dict:
    """A player's replicated inputs at each decision (see :class:`Replay`). They lag the physics
    they drive: those of the frame nearest :data:`INPUT_LAG` after a decision explain what the car
    does in it best (tried in bench/rocket_labels: 0, 0.033, 0.05, 0.067 and 0.1 s; the mean over
    the decision's frames instead does no better)."""
    idx = _nearest(times, grid + INPUT_LAG)
    rec = {"throttle": track["throttle"][idx], "steer": track["steer"][idx], "boost": track["boost_active"][idx],
           "jump": track["jump_active"][idx], "flip": (track["double_jump_active"] | track["dodge_active"])[idx],
           "handbrake": track["powerslide_active"][idx]}
    rec["jump"] = jump_presses(rec["jump"], rec["flip"])  # presses, not the flip's duration
    return rec


def _ball(frames: list, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ball at each decision, and whether the replay had it there."""
    ball, ok = np.zeros((len(idx), BALL_FIELDS), np.float32), np.zeros(len(idx), bool)
    for t, i in enumerate(idx):
        f = frames[i]
        if isinstance(f, dict) and "Data" in f:
            ball[t], ok[t] = ball_state(f["Data"]["rigid_body"]), True
    return ball, ok


def read(path) -> Replay:
    """A replay file at :data:`~playas.rocket.vocabulary.DECISIONS_PER_SECOND` decisions a second:
    each decision takes the frame nearest its time for what was replicated as it happened (inputs,
    the ball, the countdown), and each car's physics interpolated between the server's updates
    around it (:func:`_at`)."""
    d = _parse(path)
    fd = d["frame_data"]
    times = np.array([m["time"] for m in fd["metadata_frames"]], np.float64)
    if len(times) < 2 or not fd["players"]:
        raise ReplayError("no frames or no players")
    grid = np.arange(times[0], times[-1], 1 / DECISIONS_PER_SECOND)
    idx = _nearest(times, grid)
    ball, ball_ok = _ball(fd["ball_data"]["frames"], idx)
    C = len(fd["players"])
    cars = np.zeros((len(idx), C, CAR_FIELDS), np.float32)
    present = np.zeros((len(idx), C), bool)
    stale = np.zeros((len(idx), C), bool)
    players, recorded = [], []
    for c, (pid, pdata) in enumerate(fd["players"]):
        track = _track(pdata["frames"], len(times))
        cars[:, c], stale[:, c] = _at(times, track["cars"], track["fresh"] & track["ok"], grid, idx)
        cars[:, c, BOOST] = track["cars"][idx, BOOST]  # the gauge is replicated on its own, as it changes
        present[:, c] = track["ok"][idx] & ball_ok
        players.append(_player(pid, track, c))
        recorded.append(_recorded(track, times, grid))
    # The game replicates the countdown's seconds left (3) while the cars wait for a kickoff, else 0.
    waiting = np.array([bool(m.get("replicated_game_state_time_remaining")) for m in fd["metadata_frames"]])
    # It starts ~0.7 s after the cars are put on their spots, and 2015 replays do not replicate it: the
    # ball waiting on its spot with every car standing (a car at rest gets no updates: stale) is a wait too.
    wait = waiting[idx] | countdowns(ball, cars, present & ~stale)
    countdown = wait & np.append(wait[1:], wait[-1])
    headers = dict(d["meta"].get("all_headers") or [])
    meta = {"date": str(headers.get("Date", "")), "map": str(headers.get("MapName", "")),
            "team_size": int(headers.get("TeamSize") or 0), "seconds": round(float(times[-1] - times[0]), 1)}
    time = grid - grid[0]
    pads = rebuild(time, ball, cars, present)
    _renormalise(cars)
    return Replay(Frames(time, ball, cars, np.array([p.team for p in players]), present, pads.timers),
                  players, recorded, countdown, after_goals(ball), stale, meta, pads.pickups)
