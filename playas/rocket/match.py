"""Headless matches in RocketSim between playas drivers: :func:`play_match`, :func:`write_match`.

A soccar arena runs at 120 ticks a second; every 8 ticks (15 decisions a second, as the replays
were cut) each car's :class:`~playas.rocket.agent.Driver` decides from the arena as
:class:`~playas.rocket.frames.Frames` (:func:`~playas.rocket.sources.frame_from_arena`) and the
car holds that action until the next decision. One driver per distinct style; the cars of a style
are decided together, one batch per style and decision.

Rules, simplified: the match starts from a kickoff (RocketSim's ``reset_kickoff``, seeded); a goal
(RocketSim's goal-score callback: the ball wholly past the goal line) counts at once and, at the
end of that decision, the next kickoff follows immediately (no replay, no countdown), every
driver forgetting its history. The clock is game time: ticks simulated, ``minutes`` of them,
goals' resets included at zero cost. When time is up the match
ends: no overtime, a draw stays a draw, and the ball in the air does not extend the clock.

Reproducible: RocketSim is deterministic, and drivers sample (at ``temperature``, 1 by default:
the policy's own distribution) each from a generator seeded from ``seed`` and its style, so the
same ``seed`` (which also picks the kickoff positions) gives the same match. At temperature 0
(the likeliest action every time) the shipped policies often stall: a car stops by a still ball
and never starts again, a moment the replays hardly hold.

Drivers are loaded once per process and (model, style) and reused (``reset`` between matches);
``wall_seconds`` counts a style's model load only the first time.

Per-car statistics and how they are counted (15 samples a second, one per decision):

- **touches**: contact episodes with the ball, from RocketSim's ball-touch callback; contact on
  consecutive ticks (a dribble, a push) is one touch until the car has been off the ball for at
  least one decision (8 ticks).
- **goals**: credited to the scoring team's car that touched the ball last since the kickoff (an
  own goal credits nobody on the scoring team unless a teammate touched it before; the score
  counts it either way).
- **shots**: a touch after which (at the end of that decision) the ball is *on target*: moving
  towards the opponent's goal at 500 uu/s or more along y, and its straight flight on the ground
  plane crosses the goal line between the posts (``|x| < 892.755``) within 2 seconds (height and
  bounces ignored). Every goal credited to a car is also a shot, counted once per touch.
- **saves**: a touch made while the ball, at the decision before, was on target for the car's own
  goal (as above), after which it no longer is.
- **boost used**: drops of the boost gauge between decisions (0..100 a tank); a pad picked up in
  the same 8 ticks as boosting hides that bit of use.
- **speed**, **distance to ball**: means over the decisions the car was on the pitch;
  **supersonic** and **airborne** (fewer than three wheels on a surface: in the air, or stuck on
  its roof; a car on a wall is grounded) in seconds, from RocketSim's ``is_supersonic`` and
  ``is_on_ground``.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from ..core.errors import PlayasError
from ..core.progress import Progress
from .actions import TABLE
from .sources import frame_from_arena

TICKS_PER_DECISION = 8
TICK_RATE = 120
GOAL_LINE = 5120.0
GOAL_HALF_WIDTH = 892.755
GOAL_DEPTH = 880.0
FIELD_X, FIELD_Y, CORNER = 4096.0, 5120.0, 8064.0  # side walls, back walls, |x| + |y| of the corners
SHOT_SPEED = 500.0  # uu/s towards the goal
SHOT_HORIZON = 2.0  # seconds
TEAMS = ("blue", "orange")
COLOURS = {0: "#1f5fd6", 1: "#f08c00"}

_inited = False
_drivers: dict = {}  # (model, style) -> Driver, reused across matches (each match resets it)


def _meshes() -> Path:
    """The folder holding ``soccar/mesh_*.cmf``, shipped by ``rlgym-rocket-league``."""
    try:
        from rlgym.rocket_league import sim
    except ImportError:
        raise PlayasError("simulated matches need rlgym-rocket-league[sim]: pip install -e '.[rocket]'") from None
    folder = Path(sim.__file__).resolve().parent / "collision_meshes"
    if not list((folder / "soccar").glob("*.cmf")):
        raise PlayasError(f"RocketSim's soccar collision meshes are missing from {folder / 'soccar'}: "
                          f"reinstall rlgym-rocket-league[sim]")
    return folder


def _rocketsim():
    """The ``RocketSim`` module, initialised once per process (a second ``init`` is refused)."""
    global _inited
    try:
        import RocketSim as rsim
    except ImportError:
        raise PlayasError("simulated matches need RocketSim: pip install -e '.[rocket]'") from None
    if not _inited:
        folder = _meshes()
        try:
            rsim.init(str(folder))
        except Exception as e:  # noqa: BLE001  RLGym's engine (or anyone) may have inited it: "Already inited"
            if "already" not in str(e).lower():
                raise PlayasError(f"RocketSim could not load its collision meshes from {folder}: {e}") from None
        _inited = True
    return rsim


def _driver(model, style: str, temperature: float, seed: int):
    import torch

    from .agent import Driver

    key = (str(model), style)
    if key not in _drivers:
        _drivers[key] = Driver(model=model, style=style)
    d = _drivers[key]
    d.reset()
    d.temperature = temperature
    d.rng = torch.Generator().manual_seed(seed)
    return d


def _on_target(ball: np.ndarray, team_attacked: int) -> bool:
    """Whether the ball (pos, vel) flies into ``team_attacked``'s goal (blue's at -y) within
    :data:`SHOT_HORIZON` seconds in a straight line on the ground plane, at :data:`SHOT_SPEED` or more."""
    s = -1.0 if team_attacked == 0 else 1.0
    vy = ball[4] * s
    if vy < SHOT_SPEED:
        return False
    t = (GOAL_LINE - ball[1] * s) / vy
    return bool(t <= SHOT_HORIZON and abs(ball[0] + ball[3] * max(t, 0.0)) < GOAL_HALF_WIDTH)


class _Tally:
    """Each car's statistics over a match, a moment (one decision) at a time."""

    def __init__(self, n_cars: int):
        self.speed, self.dist, self.boost_used = np.zeros(n_cars), np.zeros(n_cars), np.zeros(n_cars)
        self.onpitch, self.supersonic, self.airborne = (np.zeros(n_cars, int) for _ in range(3))
        self.goals, self.shots, self.saves = (np.zeros(n_cars, int) for _ in range(3))
        self.prev_boost: np.ndarray | None = None  # None after a kickoff: no boost drop to count
        self.prev_present = np.zeros(n_cars, bool)

    def moment(self, cars, frames) -> None:
        """Count the moment ``frames`` (T=1) of the arena's ``cars``."""
        present, ball = frames.present[0], frames.ball[0]
        for c, car in enumerate(cars):
            if not present[c]:
                continue
            s = car.get_state()
            self.onpitch[c] += 1
            self.speed[c] += float(np.linalg.norm(frames.cars[0, c, 3:6]))
            self.dist[c] += float(np.linalg.norm(frames.cars[0, c, 0:3] - ball[0:3]))
            self.supersonic[c] += bool(s.is_supersonic)
            self.airborne[c] += not s.is_on_ground
        boost = frames.cars[0, :, 15].astype(np.float64)
        if self.prev_boost is not None:
            ok = present & self.prev_present
            self.boost_used += np.where(ok, np.clip(self.prev_boost - boost, 0, None), 0.0)
        self.prev_boost, self.prev_present = boost, present.copy()

    def rows(self, teams, styles, touches) -> list[dict]:
        dt = TICKS_PER_DECISION / TICK_RATE
        n = np.maximum(self.onpitch, 1)
        return [{"car": c, "team": TEAMS[teams[c]], "style": styles[c], "goals": int(self.goals[c]),
                 "shots": int(self.shots[c]), "saves": int(self.saves[c]), "touches": int(touches[c]),
                 "boost_used": round(float(self.boost_used[c]), 1), "speed": round(float(self.speed[c] / n[c]), 1),
                 "supersonic_s": round(float(self.supersonic[c] * dt), 2),
                 "airborne_s": round(float(self.airborne[c] * dt), 2),
                 "ball_distance": round(float(self.dist[c] / n[c]), 1),
                 "seconds_on_pitch": round(float(self.onpitch[c] * dt), 2)} for c in range(len(styles))]


def play_match(blue: list[str], orange: list[str], minutes: float = 5, seed: int = 0, model=None,
               progress: bool = True, temperature: float = 1.0, record: bool = False) -> dict:
    """Play a soccar match in RocketSim, a playas driver per car, and return what happened.

    ``blue`` and ``orange`` name each car's style (a player, ``"Posix:0.5,Nadir:0.5"``, ``"mean"``),
    1 to 3 a side. Cars are numbered blue first, then orange. Returns ``cars`` (a row of
    statistics per car, see the module's notes), ``score`` {blue, orange}, ``goals`` (time, team,
    scorer, ball position), ``seconds`` simulated, ``wall_seconds``, and ``trajectories``: per
    decision ``time`` (D,), ``ball`` (D, 3), ``cars`` (D, C, 3) positions, ``present`` (D, C) and
    ``segment`` (D,) (which kickoff the moment follows). With ``record``, also ``record``: the whole
    match as :class:`~playas.rocket.frames.Frames` (one moment a decision) and each car's action
    there, (D, C): what a replay of the match would hold, for identify and the benchmarks.
    """
    if not 1 <= len(blue) <= 3 or not 1 <= len(orange) <= 3:
        raise PlayasError(f"a match needs 1 to 3 cars a side, not {len(blue)} blue and {len(orange)} orange")
    import torch

    start = time.monotonic()
    rsim = _rocketsim()
    styles = list(blue) + list(orange)
    teams = [0] * len(blue) + [1] * len(orange)
    n_cars = len(styles)
    groups: dict[str, list[int]] = {}
    for c, s in enumerate(styles):
        groups.setdefault(s, []).append(c)
    drivers = {s: _driver(model, s, temperature, seed * 1000 + i) for i, s in enumerate(groups)}
    controls = [rsim.CarControls(*[float(v) for v in row[:5]], *[bool(v) for v in row[5:]]) for row in TABLE]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batches of 1 to 3 cars: a second thread costs ~10x in synchronisation
    arena = rsim.Arena(rsim.GameMode.SOCCAR)
    try:
        cars = [arena.add_car(t) for t in teams]
        index = {car.id: c for c, car in enumerate(cars)}
        kick = np.random.default_rng(seed)
        arena.reset_kickoff(int(kick.integers(2**31)))

        last_contact = {c: -10**9 for c in range(n_cars)}
        touches = np.zeros(n_cars, int)
        touched: list[int] = []  # cars that touched the ball during the current decision, in order

        def on_touch(arena, car, data):
            c = index[car.id]
            tick = arena.tick_count
            if tick - last_contact[c] > TICKS_PER_DECISION:
                touches[c] += 1
            last_contact[c] = tick
            touched.append(c)

        arena.set_ball_touch_callback(on_touch)
        scored: list = []  # (tick, scoring team) of each tick the ball is in a goal, this decision

        def on_goal(arena, team, data):
            scored.append((arena.tick_count, int(team)))

        arena.set_goal_score_callback(on_goal)

        D = round(minutes * 60 * TICK_RATE / TICKS_PER_DECISION)  # decisions
        traj_t = np.zeros(D)
        traj_ball = np.zeros((D, 3), np.float32)
        traj_cars = np.zeros((D, n_cars, 3), np.float32)
        traj_present = np.zeros((D, n_cars), bool)
        traj_segment = np.zeros(D, np.int32)
        tally = _Tally(n_cars)
        goals, shots, saves = tally.goals, tally.shots, tally.saves
        score = [0, 0]
        goal_events: list[dict] = []
        segment = 0
        last_toucher: list[int] = []  # this kickoff's touches, in order (car indices)
        shot_touch: set = set()  # (car, tick) of touches already counted as shots
        actions = np.zeros(n_cars, int)
        rec_ball, rec_cars, rec_actions = [], [], []

        bar = Progress(D, "match", unit="decisions") if progress else contextlib.nullcontext()
        with bar:
            for d in range(D):
                frames, ids = frame_from_arena(arena)
                order = [index[i] for i in ids]
                assert order == list(range(n_cars))
                present = frames.present[0]
                ball = frames.ball[0].copy()
                pos = frames.cars[0, :, 0:3]
                traj_t[d] = d * TICKS_PER_DECISION / TICK_RATE
                traj_ball[d] = ball[0:3]
                traj_cars[d] = pos
                traj_present[d] = present
                traj_segment[d] = segment

                tally.moment(cars, frames)

                # decisions, one batch per style
                for style, members in groups.items():
                    live = [c for c in members if present[c]]
                    for c in members:
                        if not present[c]:
                            drivers[style].reset(c)
                    if live:
                        actions[live] = drivers[style].decide(frames, live)
                for c, car in enumerate(cars):
                    if present[c]:
                        car.set_controls(controls[actions[c]])
                if record:
                    rec_ball.append(frames.ball[0])
                    rec_cars.append(frames.cars[0])
                    rec_actions.append(actions.copy())

                touched.clear()
                scored.clear()
                arena.step(TICKS_PER_DECISION)
                bs = arena.ball.get_state()
                after = np.concatenate([bs.pos.as_numpy(), bs.vel.as_numpy()])

                # shots and saves of this decision's touches
                if touched:
                    last_toucher.extend(touched)
                    c = touched[-1]
                    key = (c, last_contact[c])
                    if _on_target(after, 1 - teams[c]) and key not in shot_touch:
                        shots[c] += 1
                        shot_touch.add(key)
                    for k in dict.fromkeys(touched):
                        if _on_target(ball[:6], teams[k]) and not _on_target(after, teams[k]):
                            saves[k] += 1
                            break

                if scored:
                    tick, team = scored[0]  # RocketSim's goal: the ball wholly past the line
                    score[team] += 1
                    scorer = next((c for c in reversed(last_toucher) if teams[c] == team), None)
                    if scorer is not None:
                        goals[scorer] += 1
                        key = (scorer, last_contact[scorer])
                        if key not in shot_touch:
                            shots[scorer] += 1
                            shot_touch.add(key)
                    goal_events.append({"time": round((d * TICKS_PER_DECISION + tick - (arena.tick_count - TICKS_PER_DECISION)) / TICK_RATE, 3),
                                        "team": TEAMS[team], "scorer": scorer,
                                        "own_goal": bool(last_toucher) and teams[last_toucher[-1]] != team,
                                        "ball": [round(float(v), 1) for v in after[0:3]]})
                    arena.reset_kickoff(int(kick.integers(2**31)))
                    for drv in drivers.values():
                        drv.reset()
                    last_toucher.clear()
                    tally.prev_boost = None
                    segment += 1
                    actions[:] = 0
                if progress:
                    bar.update(1, score=f"{score[0]}-{score[1]}")
    finally:
        torch.set_num_threads(threads)
        with contextlib.suppress(Exception):
            arena.stop()
        del arena

    seconds = D * TICKS_PER_DECISION / TICK_RATE
    rows = tally.rows(teams, styles, touches)
    extra = {}
    if record:
        from .frames import Frames

        extra["record"] = {"frames": Frames(traj_t, np.stack(rec_ball), np.stack(rec_cars), np.asarray(teams),
                                            traj_present), "actions": np.stack(rec_actions)}
    return {**extra, "blue": list(blue), "orange": list(orange), "seed": seed, "temperature": temperature,
            "minutes": minutes, "cars": rows, "score": {"blue": score[0], "orange": score[1]},
            "goals": goal_events, "seconds": seconds, "wall_seconds": round(time.monotonic() - start, 2),
            "decisions": D,
            "trajectories": {"time": traj_t, "ball": traj_ball, "cars": traj_cars,
                             "present": traj_present, "segment": traj_segment}}


# --- writing a match -------------------------------------------------------------------------

COLUMNS = (("car", "car"), ("team", "team"), ("style", "style"), ("goals", "G"), ("shots", "sh"),
           ("saves", "sv"), ("touches", "touch"), ("boost_used", "boost"), ("speed", "speed"),
           ("supersonic_s", "ss s"), ("airborne_s", "air s"), ("ball_distance", "ball d"))


def summary_text(result: dict) -> str:
    """A readable table of a match: the score, then a row per car."""
    sc = result["score"]
    lines = [(f"blue {sc['blue']} - {sc['orange']} orange   ({result['seconds']:.0f} s simulated, "
              f"{result['wall_seconds']:.1f} s wall, seed {result['seed']})"), ""]
    table = [[h for _, h in COLUMNS]] + [[str(r[k]) for k, _ in COLUMNS] for r in result["cars"]]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    for j, row in enumerate(table):
        lines.append("  ".join(v.ljust(w) if i < 3 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    if result["goals"]:
        lines += ["", "goals:"]
        for g in result["goals"]:
            who = "nobody" if g["scorer"] is None else f"car {g['scorer']} ({result['cars'][g['scorer']]['style']})"
            lines.append(f"  {g['time']:7.1f} s  {g['team']:<6}  {who}" + ("  (own goal)" if g["own_goal"] else ""))
    lines += ["", ("boost: used, 0..100 a tank; speed, ball d: means in uu/s and uu; ss/air s: seconds "
                   "supersonic and airborne")]
    return "\n".join(lines) + "\n"


def _points(xy: np.ndarray) -> str:
    """SVG points (y flipped: world +y, orange's goal, at the top), whole units, repeats dropped."""
    p = np.rint(np.asarray(xy, np.float64) * [1, -1]).astype(int)
    if len(p) > 1:
        p = p[np.r_[True, (np.diff(p, axis=0) != 0).any(1)]]
    return " ".join(f"{x},{y}" for x, y in p)


def _runs(ok: np.ndarray, segment: np.ndarray):
    """Index ranges where ``ok`` holds without a kickoff in between."""
    start = None
    for i in range(len(ok) + 1):
        cont = i < len(ok) and ok[i] and (start is None or segment[i] == segment[start])
        if cont and start is None:
            start = i
        elif not cont and start is not None:
            yield start, i
            start = i if i < len(ok) and ok[i] else None


def pitch_svg(result: dict) -> str:
    """A top-down SVG of a match: the pitch, each car's path in its team's colour, the ball's, goals."""
    tr = result["trajectories"]
    seg = np.asarray(tr["segment"])
    m = 400
    w, h = FIELD_X + m, FIELD_Y + GOAL_DEPTH + m
    cx = CORNER - FIELD_Y  # x where a corner meets the back wall
    cy = CORNER - FIELD_X  # y where a corner meets the side wall
    outline = [(cx, FIELD_Y), (FIELD_X, cy), (FIELD_X, -cy), (cx, -FIELD_Y),
               (-cx, -FIELD_Y), (-FIELD_X, -cy), (-FIELD_X, cy), (-cx, FIELD_Y)]
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{-w:.0f} {-h:.0f} {2 * w:.0f} {2 * h:.0f}" '
            f'width="{2 * w / 20:.0f}" height="{2 * h / 20:.0f}">'),
           (f'<title>{escape(" ".join(result["blue"]))} vs {escape(" ".join(result["orange"]))}: '
            f'{result["score"]["blue"]}-{result["score"]["orange"]}</title>'),
           f'<rect x="{-w:.0f}" y="{-h:.0f}" width="{2 * w:.0f}" height="{2 * h:.0f}" fill="#f4f7f2"/>',
           f'<polygon points="{_points(np.array(outline))}" fill="#dfeedd" stroke="#333" stroke-width="30"/>',
           '<line x1="-4096" y1="0" x2="4096" y2="0" stroke="#999" stroke-width="15"/>',
           '<circle cx="0" cy="0" r="1000" fill="none" stroke="#999" stroke-width="15"/>']
    for team, sign in ((0, -1), (1, 1)):  # blue defends -y, drawn at the bottom (svg y = -world y)
        y0 = -(sign * FIELD_Y) - (GOAL_DEPTH if sign > 0 else 0)
        out.append(f'<rect x="{-GOAL_HALF_WIDTH:.0f}" y="{y0:.0f}" width="{2 * GOAL_HALF_WIDTH:.0f}" '
                   f'height="{GOAL_DEPTH:.0f}" fill="{COLOURS[team]}" fill-opacity="0.3" stroke="{COLOURS[team]}" '
                   f'stroke-width="30"/>')
    ball = np.asarray(tr["ball"])
    for a, b in _runs(np.ones(len(ball), bool), seg):
        out.append(f'<polyline points="{_points(ball[a:b, :2])}" fill="none" stroke="#222" '
                   f'stroke-width="12" stroke-opacity="0.6"/>')
    cars = np.asarray(tr["cars"])
    present = np.asarray(tr["present"])
    for car in range(cars.shape[1]):
        colour = COLOURS[0 if result["cars"][car]["team"] == "blue" else 1]
        out.append(f'<g><title>car {car} {escape(result["cars"][car]["style"])}</title>')
        for a, b in _runs(present[:, car], seg):
            out.append(f'<polyline points="{_points(cars[a:b, car, :2])}" fill="none" stroke="{colour}" '
                       f'stroke-width="14" stroke-opacity="0.55"/>')
        out.append('</g>')
    for g in result["goals"]:
        x, y = g["ball"][0], g["ball"][1]
        colour = COLOURS[0 if g["team"] == "blue" else 1]
        out.append(f'<g><title>{g["time"]:.1f} s goal {g["team"]}</title>'
                   f'<circle cx="{x:.0f}" cy="{-y:.0f}" r="180" fill="{colour}" stroke="#000" stroke-width="25"/>'
                   f'<text x="{x + 230:.0f}" y="{-y + 80:.0f}" font-size="260" font-family="sans-serif">'
                   f'{g["time"]:.0f}s</text></g>')
    out.append(f'<text x="{-w + 100:.0f}" y="{-h + 300:.0f}" font-size="280" font-family="sans-serif">'
               f'blue {result["score"]["blue"]} - {result["score"]["orange"]} orange</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_match(result: dict, out_dir) -> dict:
    """Write ``summary.txt``, ``summary.json``, ``trajectories.npz`` and ``pitch.svg`` to ``out_dir``;
    returns their paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("summary.txt", "summary.json", "trajectories.npz", "pitch.svg")}
    paths["summary.txt"].write_text(summary_text(result))
    paths["summary.json"].write_text(json.dumps({k: v for k, v in result.items() if k not in ("trajectories", "record")},
                                                indent=1))
    np.savez_compressed(paths["trajectories.npz"], **{k: np.asarray(v) for k, v in result["trajectories"].items()})
    paths["pitch.svg"].write_text(pitch_svg(result))
    return paths
