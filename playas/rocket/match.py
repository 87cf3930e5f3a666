"""Headless matches in RocketSim between playas drivers: :func:`play_match`, :func:`write_match`.

A soccar arena runs at :data:`~playas.rocket.vocabulary.TICK_RATE` ticks a second; every
:data:`~playas.rocket.vocabulary.TICKS_PER_DECISION` ticks (15 decisions a second, as the replays
were cut) each car's :class:`~playas.rocket.agent.Driver` decides from the arena as
:class:`~playas.rocket.frames.Frames` (:func:`~playas.rocket.sources.frame_from_arena`) and the
car holds that action until the next decision. One driver per distinct style; the cars of a style
are decided together, one batch per style and decision. The match loop is short: a
:class:`~playas.rocket.referee.Referee` applies the rules (touches, shots, saves, goals, own
goals: see there) and a :class:`~playas.rocket.recorder.Recorder` keeps what a replay would hold
and each car's statistics (see there); :mod:`playas.rocket.pitch_svg` draws the result.

Rules, simplified: the match starts from a kickoff (RocketSim's ``reset_kickoff``, seeded); a goal
(RocketSim's goal-score callback: the ball wholly past the goal line) counts at once and, at the
end of that decision, the next kickoff follows immediately (no replay, no countdown), every
driver forgetting its history. The clock is game time: ticks simulated, ``minutes`` of them,
goals' resets included at zero cost. When time is up the match ends: no overtime, a draw stays a
draw, and the ball in the air does not extend the clock.

Reproducible: RocketSim is deterministic, and drivers sample (at ``temperature``: the model card's,
1 where it says none: the policy's own distribution) each from a generator seeded from ``seed`` and its style, so the
same ``seed`` (which also picks the kickoff positions) gives the same match. At temperature 0
(the likeliest action every time) the shipped policies often stall: a car stops by a still ball
and never starts again, a moment the replays hardly hold.

Drivers are loaded once per process and (model, style) and reused (``reset`` between matches);
``wall_seconds`` counts a style's model load only the first time.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import time
from pathlib import Path

import numpy as np

from ..core.errors import PlayasError
from ..core.progress import Progress
from .actions import TABLE, engine_controls
from .pitch_svg import pitch_svg
from .recorder import Recorder, figure
from .referee import Referee
from .scripted import ATBA, SCRIPTED
from .sources import frame_from_arena
from .vocabulary import DECISION_SECONDS, DECISIONS_PER_SECOND, POS, TICKS_PER_DECISION, VEL

MAX_MINUTES = 60  # of game time in one match: an hour of 1v1 simulates in about 3 minutes, of 3v3 in 10
MAX_CARS = 3  # a side

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


def match_decisions(blue, orange, minutes) -> int:
    """The number of decisions a match of ``minutes`` lasts, once its teams and length are known to
    be playable; a :class:`PlayasError` (one sentence) otherwise, before anything is simulated.

    1 to :data:`MAX_CARS` cars a side; ``minutes`` a number above 0 and at most
    :data:`MAX_MINUTES`, long enough for one decision.
    """
    if not 1 <= len(blue) <= MAX_CARS or not 1 <= len(orange) <= MAX_CARS:
        raise PlayasError(f"a match needs 1 to {MAX_CARS} cars a side, not {len(blue)} blue and {len(orange)} orange")
    if not isinstance(minutes, numbers.Real) or isinstance(minutes, bool) or not math.isfinite(minutes) \
            or not 0 < minutes <= MAX_MINUTES:
        raise PlayasError(f"a match lasts more than 0 and at most {MAX_MINUTES} minutes, not {minutes!r}")
    decisions = round(minutes * 60 * DECISIONS_PER_SECOND)
    if decisions < 1:
        raise PlayasError(f"a match of {minutes:g} minutes is shorter than one decision ({DECISION_SECONDS:.3g} s)")
    return decisions


def _driver(model, style: str, temperature: float | None, seed: int, strength: float | None = None):
    if style.strip().lower() in SCRIPTED:  # a scripted opponent, no model
        return ATBA()
    import torch

    from .agent import Driver

    key = (str(model), style)
    if key not in _drivers:
        _drivers[key] = Driver(model=model, style=style)
    d = _drivers[key]
    d.reset()
    d.configure(temperature, strength)
    d.rng = torch.Generator().manual_seed(seed)
    return d


class _Cast:
    """The match's drivers: one per distinct style, deciding for all of that style's cars at once."""

    def __init__(self, styles: list[str], model, temperature: float | None, seed: int, strength: float | None):
        self.groups: dict[str, list[int]] = {}
        for c, s in enumerate(styles):
            self.groups.setdefault(s, []).append(c)
        self.drivers = {s: _driver(model, s, temperature, seed * 1000 + i, strength) for i, s in enumerate(self.groups)}

    def how(self) -> dict:
        """How the styled cars sampled: temperature and strength (None where only scripted bots drove)."""
        d = next((d for d in self.drivers.values() if hasattr(d, "strength")), None)
        return {"temperature": d and d.temperature, "strength": d and d.strength}

    def decide(self, frames, actions: np.ndarray) -> None:
        """Each car's action at the moment ``frames`` into ``actions`` (in place); a car off the
        pitch keeps its old one and its driver forgets it."""
        present = frames.present[0]
        for style, members in self.groups.items():
            live = [c for c in members if present[c]]
            for c in members:
                if not present[c]:
                    self.drivers[style].reset(c)
            if live:
                actions[live] = self.drivers[style].decide(frames, live)

    def reset(self) -> None:
        """Every driver forgets every car's history: a kickoff."""
        for d in self.drivers.values():
            d.reset()


class _Arena:
    """One match's RocketSim soccar arena: its cars (blue first), seeded kickoffs, the controls of
    every action (built by name), and the ball-touch and goal callbacks feeding ``referee``."""

    def __init__(self, rsim, teams: list[int], seed: int, referee: Referee):
        self.arena = rsim.Arena(rsim.GameMode.SOCCAR)
        self.cars = [self.arena.add_car(t) for t in teams]
        self._index = {car.id: c for c, car in enumerate(self.cars)}
        self._kick = np.random.default_rng(seed)
        self._controls = [engine_controls(rsim.CarControls, i) for i in range(len(TABLE))]
        self._scored: list[tuple[int, int]] = []  # (tick, scoring team) of each tick the ball is in a goal
        self.kickoff()
        self.arena.set_ball_touch_callback(
            lambda arena, car, data: referee.contact(self._index[car.id], arena.tick_count))
        self.arena.set_goal_score_callback(lambda arena, team, data: self._scored.append((arena.tick_count, int(team))))

    def kickoff(self) -> None:
        self.arena.reset_kickoff(int(self._kick.integers(2**31)))

    def moment(self):
        """The arena now: one moment as Frames, and each car's supersonic and on-ground flags."""
        frames, ids = frame_from_arena(self.arena)
        assert [self._index[i] for i in ids] == list(range(len(self.cars)))
        states = [car.get_state() for car in self.cars]
        return frames, [bool(s.is_supersonic) for s in states], [bool(s.is_on_ground) for s in states]

    def play(self, actions: np.ndarray, present: np.ndarray) -> tuple[int, int] | None:
        """Hold each present car's action for one decision; the goal scored in it, if any, as
        (scoring team, its tick within the decision)."""
        for c, car in enumerate(self.cars):
            if present[c]:
                car.set_controls(self._controls[actions[c]])
        self._scored.clear()
        start = self.arena.tick_count
        self.arena.step(TICKS_PER_DECISION)
        if not self._scored:
            return None
        tick, team = self._scored[0]
        return team, tick - start

    def ball(self) -> np.ndarray:
        """The ball's position and velocity now (a ball row's first fields)."""
        b = self.arena.ball.get_state()
        row = np.zeros(VEL.stop)
        row[POS], row[VEL] = b.pos.as_numpy(), b.vel.as_numpy()
        return row

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.arena.stop()
        del self.arena


@contextlib.contextmanager
def _one_torch_thread():
    """Batches of 1 to 3 cars: a second torch thread costs ~10x in synchronisation."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def play_match(blue: list[str], orange: list[str], minutes: float = 5, seed: int = 0, model=None,
               progress: bool = True, temperature: float | None = None, record: bool = False,
               strength: float | None = None) -> dict:
    """Play a soccar match in RocketSim, a playas driver per car, and return what happened.

    ``blue`` and ``orange`` name each car's style (a player, ``"Posix:0.5,Nadir:0.5"``, ``"mean"``),
    1 to 3 a side; ``minutes`` of game time, at most :data:`MAX_MINUTES` (checked first:
    :func:`match_decisions`). Cars are numbered blue first, then orange. Returns ``cars`` (a row
    of statistics per car, see :mod:`~playas.rocket.referee` and :mod:`~playas.rocket.recorder`),
    ``score`` {blue, orange}, ``goals`` (time, team, scorer, own goal, ball position), ``seconds``
    simulated, ``wall_seconds``, and ``trajectories`` (:meth:`Recorder.trajectories`). With
    ``record``, also ``record`` (:meth:`Recorder.record`): what a replay of the match would hold.
    ``temperature`` and ``strength``: how the drivers sample (:class:`~playas.rocket.agent.Driver`;
    None: as the model's card says).
    """
    decisions = match_decisions(blue, orange, minutes)
    start = time.monotonic()
    rsim = _rocketsim()
    styles, teams = [*blue, *orange], [0] * len(blue) + [1] * len(orange)
    cast = _Cast(styles, model, temperature, seed, strength)
    referee, recorder = Referee(teams), Recorder(teams, decisions, full=record)
    actions = np.zeros(len(styles), int)
    with _one_torch_thread(), contextlib.closing(_Arena(rsim, teams, seed, referee)) as arena, \
            Progress(decisions, "match", unit="decisions", quiet=not progress) as bar:
        for d in range(decisions):
            frames, supersonic, on_ground = arena.moment()
            recorder.moment(frames, supersonic, on_ground)
            cast.decide(frames, actions)
            recorder.actions(actions)
            goal = arena.play(actions, frames.present[0])
            after = arena.ball()
            event = referee.judge(frames.ball[0], after, None if goal is None else goal[0])
            if event is not None:
                recorder.goal(event, d * TICKS_PER_DECISION + goal[1], after)
                arena.kickoff()
                cast.reset()
                actions[:] = 0
            bar.update(1, score="{}-{}".format(*referee.score))
    return {**({"record": recorder.record()} if record else {}), "blue": list(blue), "orange": list(orange),
            "seed": seed, **cast.how(), "minutes": minutes, "cars": recorder.car_rows(referee, styles),
            "score": {"blue": referee.score[0], "orange": referee.score[1]}, "goals": recorder.goals,
            "seconds": figure(decisions * DECISION_SECONDS), "wall_seconds": figure(time.monotonic() - start),
            "decisions": decisions, "trajectories": recorder.trajectories()}


# --- writing a match -------------------------------------------------------------------------

COLUMNS = (("car", "car"), ("team", "team"), ("style", "style"), ("goals", "G"), ("shots", "sh"),
           ("saves", "sv"), ("touches", "touch"), ("boost_used", "boost"), ("speed", "speed"),
           ("supersonic_s", "ss s"), ("airborne_s", "air s"), ("ball_distance", "ball d"))


def summary_text(result: dict) -> str:
    """A readable table of a match: the score, then a row per car, then the goals. Every number is
    shown as the JSON summary holds it (one rounding rule: :func:`~playas.rocket.recorder.figure`)."""
    sc = result["score"]
    lines = [(f"blue {sc['blue']} - {sc['orange']} orange   ({result['seconds']} s simulated, "
              f"{result['wall_seconds']} s wall, seed {result['seed']})"), ""]
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
            lines.append(f"  {g['time']:>7} s  {g['team']:<6}  {who}" + ("  (own goal)" if g["own_goal"] else ""))
    lines += ["", ("boost: used, 0..100 a tank; speed, ball d: means in uu/s and uu; ss/air s: seconds "
                   "supersonic and airborne")]
    return "\n".join(lines) + "\n"


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
