"""Real ``.replay`` files into :class:`~playas.rocket.frames.Frames` and what each player did.

subtr-actor's frame data (``subtr_actor.get_replay_frames_data``) reads every network version
here, games where someone joined or left included, and gives per frame: each rigid body
(location, linear velocity in unreal units per second, angular velocity in hundredths of a radian
per second, rotation as a quaternion), boost in raw units (0 to 255), the jump, dodge, boost and
powerslide flags, and the throttle and steer bytes the game replicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .actions import jump_presses
from .frames import Frames
from .vocabulary import (ANG, BALL_FIELDS, BOOST, CAR_FIELDS, DECISION_SECONDS, DECISIONS_PER_SECOND, FWD, POS,
                         TICK_SECONDS, UP, VEL)

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
    decision before the kickoff is not: the car goes during it). ``clock`` (T, C) holds the time of
    each car's state at each decision: when the replay last updated that car's physics (see
    :meth:`seconds` and :meth:`stale`).
    """

    frames: Frames
    players: list[Player]
    recorded: list[dict]
    countdown: np.ndarray
    clock: np.ndarray
    meta: dict = field(default_factory=dict)

    def seconds(self, c: int) -> np.ndarray:
        """(T,) seconds from each decision's state of car ``c`` to the next one's: the replay's
        frames come at 20-30 a second, so the frame nearest a decision can sit a tick or four off
        it, and two decisions 4 to 12 ticks apart (the last decision: one decision)."""
        return np.diff(self.clock[:, c], append=self.clock[-1, c] + DECISION_SECONDS)

    def stale(self, c: int) -> np.ndarray:
        """(T,) bool: no fresh physics of car ``c`` follows its state at this decision within two
        decisions: the next decision sits on the same update (the replay repeated the car's values,
        or recorded no frames at all for a while: goal replays are cut out, leaving a pause of
        several seconds), or on one far later. Nothing explains the change: no label."""
        dt = self.seconds(c)
        return ~((dt >= TICK_SECONDS / 2) & (dt <= 2 * DECISION_SECONDS))


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
            value = value.get("online_id") or value.get("id") or value.get("name") or ""
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
    for i, f in enumerate(frames[:n]):
        if not (isinstance(f, dict) and "Data" in f):
            continue
        f = f["Data"]
        rb = f.get("rigid_body")
        if not rb or rb.get("rotation") is None or rb.get("location") is None:
            continue
        out["cars"][i] = car_state(rb, f.get("boost_amount") or 0.0)
        out["ok"][i] = True
        out["fresh"][i] = _moved(out["cars"][i], out["cars"][i - 1]) if i else True
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
    """Whether a car's state is new beside the frame before's: a frame without an update of the
    car carries its last values, so a moving car (over 1 uu/s) in the same place was not updated;
    a car at rest stays where it is, updated or not."""
    return not np.array_equal(row[POS], before[POS]) or float(np.abs(row[VEL]).sum()) < 1


def _updated(times: np.ndarray, fresh: np.ndarray) -> np.ndarray:
    """Each frame's time of the car's last physics update: its own where ``fresh``, else that of
    the last fresh frame before it."""
    last = np.maximum.accumulate(np.where(fresh, np.arange(len(fresh)), 0))
    return times[last]


def _player(pid, track: dict, c: int) -> Player:
    names, teams = track["names"], track["teams"]
    name = max(names, key=names.get) if names else f"player {c + 1}"
    return Player(_platform_key(pid, name), name, int(np.bincount(teams).argmax()) if teams else 0)


def _recorded(track: dict, idx: np.ndarray) -> dict:
    """A player's replicated inputs at each decision (see :class:`Replay`)."""
    rec = {"throttle": track["throttle"][idx], "steer": track["steer"][idx], "boost": track["boost_active"][idx],
           "jump": track["jump_active"][idx], "flip": (track["double_jump_active"] | track["dodge_active"])[idx],
           "handbrake": track["powerslide_active"][idx]}
    # The replicated inputs lag the physics they drive by about one decision (steer matches
    # the turn that follows best 1/15 s later): decision t's input is the one read at t+1.
    lagged = {k: np.concatenate([v[1:], v[-1:]]) for k, v in rec.items()}
    lagged["jump"] = jump_presses(lagged["jump"], lagged["flip"])  # presses, not the flip's duration
    return lagged


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
    each decision takes the frame nearest its time, and keeps that frame's own time (``clock``)."""
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
    clock = np.zeros((len(idx), C))
    players, recorded = [], []
    for c, (pid, pdata) in enumerate(fd["players"]):
        track = _track(pdata["frames"], len(times))
        cars[:, c], present[:, c] = track["cars"][idx], track["ok"][idx] & ball_ok
        clock[:, c] = _updated(times, track["fresh"])[idx] - grid[0]
        players.append(_player(pid, track, c))
        recorded.append(_recorded(track, idx))
    # The game replicates the countdown's seconds left (3) while the cars wait for a kickoff, else 0.
    waiting = np.array([bool(m.get("replicated_game_state_time_remaining")) for m in fd["metadata_frames"]])
    countdown = waiting[idx] & waiting[np.append(idx[1:], idx[-1])]
    headers = dict(d["meta"].get("all_headers") or [])
    meta = {"date": str(headers.get("Date", "")), "map": str(headers.get("MapName", "")),
            "team_size": int(headers.get("TeamSize") or 0), "seconds": round(float(times[-1] - times[0]), 1)}
    return Replay(Frames(grid - grid[0], ball, cars, np.array([p.team for p in players]), present),
                  players, recorded, countdown, clock, meta)
