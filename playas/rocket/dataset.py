"""Replays into a prepared dataset: every player's decisions, encoded once, on disk.

``prepare`` reads replay files on every core (:func:`playas.rocket.replay.read`), infers each
player's action at each decision (:mod:`playas.rocket.actions`), encodes what they saw
(:func:`playas.rocket.frames.observe`) and writes, to one directory:

- ``obs.npy`` (N, OBS_SIZE: 144) float16 and ``action.npy`` (N,) int16: the decisions, each player's
  of each game contiguous and in order (a *sequence*);
- ``scalars.npy`` (N, 6) float32: speed, boost, height, distance to the ball, supersonic,
  airborne at each decision (for properties and the plain stylometry baseline);
- ``manifest.json``: the games, the players (platform id, in-game name), the sequences (each with
  ``restarts``: where within it a new history begins, see :func:`restarts`), the files skipped
  and why, the agreement of inferred with recorded controls, timings.

:class:`RocketData` reads it back; :meth:`RocketData.windows` gives the model its inputs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..core.errors import PlayasError
from ..core.progress import Progress
from . import actions
from .frames import observe
from .properties import SUPERSONIC, play_properties
from .replay import ReplayError, read
from .vocabulary import BOOST, BOOST_ON, DECISION_SECONDS, DECISIONS_PER_SECOND, JUMP, POS, STEER, THROTTLE, VEL, Z

FORMAT = 6  # 2: 144 features (the boost pads), histories restart at kickoffs; 3: physics between updates, stale left out; 4: auto-flips pressed; 5: PlayStation players keyed by PSN name; 6: play only (a goal to its kickoff left out; 2015 replays' countdowns found)
MIN_DECISIONS = DECISIONS_PER_SECOND * 20  # a player in a game for less than 20 seconds is left out


def kickoffs(countdown: np.ndarray) -> np.ndarray:
    """(T,) bool: the first decision after each of the replay's kickoff countdowns, where the car
    goes (:attr:`~playas.rocket.replay.Replay.countdown` is the replay's own flag)."""
    return np.concatenate([[False], countdown[:-1] & ~countdown[1:]])


def pregame(countdown: np.ndarray) -> np.ndarray:
    """(T,) bool: the decisions before a replay's first kickoff, when it comes within its first
    10 seconds (the cars dropping onto their spots before the countdown); a replay that starts in
    play has none."""
    first = np.flatnonzero(kickoffs(countdown)[:10 * DECISIONS_PER_SECOND])
    return np.arange(len(countdown)) < (first[0] if len(first) else 0)


def restarts(t: np.ndarray, kickoff: np.ndarray, present: np.ndarray) -> list[int]:
    """Where, among a car's kept decisions ``t`` (moments, increasing), a new history begins: at
    each ``kickoff`` and wherever the car was off the pitch (not ``present``) since the decision
    before. Every driver forgets a car's history there too (:class:`~playas.rocket.agent.Driver`'s
    callers reset at kickoffs, the driver itself when a car is off the pitch), so a window never
    reaches back across one, nor a previous action. The first decision (0) is left out: a
    sequence always starts one."""
    absent = np.cumsum(~present)
    away = np.concatenate([[False], absent[t[1:] - 1] > absent[t[:-1]]])
    return [int(j) for j in np.flatnonzero(away | kickoff[t]) if j > 0]


def _agreement(rec: dict, inferred: np.ndarray, grounded: np.ndarray, keep: np.ndarray) -> dict:
    """Counts of decisions where physics alone agrees with what the replay recorded."""
    out = {}
    for k, col in (("throttle", THROTTLE), ("steer", STEER)):
        r = rec[k]
        m = keep & grounded & np.isfinite(r)
        out[k] = (int((np.sign(np.round(r[m])) == np.sign(np.round(inferred[m, col]))).sum()), int(m.sum()))
    for k, col in (("boost", BOOST_ON), ("jump", JUMP)):
        m = keep
        out[k] = (int(((inferred[m, col] > 0.5) == rec[k][m]).sum()), int(m.sum()))
    return out


def decision_scalars(frames, car: int, t: np.ndarray, grounded: np.ndarray) -> np.ndarray:
    """(len(t), 6) float32: the :data:`SCALARS` of car ``car`` at moments ``t`` of ``frames``;
    ``grounded`` (len(t),) says where it drove on a surface the whole decision."""
    c = frames.cars[t, car]
    speed = np.linalg.norm(c[:, VEL], axis=1)
    return np.stack([speed, c[:, BOOST], c[:, POS][:, Z], np.linalg.norm(c[:, POS] - frames.ball[t][:, POS], axis=1),
                     speed > SUPERSONIC, ~np.asarray(grounded, bool)], 1).astype(np.float32)


def encode_replay(path: str) -> dict:
    """One replay's sequences (a dict of arrays and facts), or ``{"error": reason}``."""
    t0 = time.perf_counter()
    try:
        rp = read(path)
    except ReplayError as e:
        return {"file": path, "error": str(e)}
    except Exception as e:  # a parser panic on a damaged file: still one line, never a traceback
        return {"file": path, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"}
    f = rp.frames
    seqs, obs, acts, scal = [], [], [], []
    agree: dict = {}
    for c, player in enumerate(rp.players):
        # A kickoff's countdown (and the spawn before the first) teaches standing still: dropped (its last
        # moment, the car about to go, is kept);
        # so is the time from a goal to its kickoff (play has stopped; a simulated match has none), and
        # a decision no fresh physics follows (a pause in the replay, a repeated frame).
        keep = f.present[:, c] & ~rp.countdown & ~pregame(rp.countdown) & ~rp.after_goal & ~rp.unexplained(c)
        if keep.sum() < MIN_DECISIONS:
            continue
        car, dt = f.cars[:, c], DECISION_SECONDS
        grounded = actions.grounded_decisions(car)
        controls = actions.infer_controls(car, dt, flags=rp.recorded[c])
        for k, v in _agreement(rp.recorded[c], actions.infer_controls(car, dt), grounded, keep).items():
            a = agree.setdefault(k, [0, 0])
            a[0] += v[0]
            a[1] += v[1]
        t = np.flatnonzero(keep)
        obs.append(observe(f, t, c).astype(np.float16))
        acts.append(actions.to_table(controls[t], grounded[t]).astype(np.int16))
        scal.append(decision_scalars(f, c, t, grounded[t]))
        seqs.append({"key": player.key, "name": player.name, "team": player.team, "length": int(len(t)),
                     "seconds": round(float(len(t)) / DECISIONS_PER_SECOND, 1),
                     "restarts": restarts(t, kickoffs(rp.countdown), f.present[:, c]),
                     "play": {k: round(v, 4) for k, v in play_properties(f, c, t, rp.pickups).items()}})
    return {"file": path, "meta": rp.meta, "sequences": seqs, "obs": obs, "action": acts, "scalars": scal,
            "agreement": agree, "frames": int(len(f)), "seconds": time.perf_counter() - t0}


def _hash(paths) -> str:
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda p: Path(p).name):
        h.update(Path(p).name.encode())
        h.update(str(Path(p).stat().st_size).encode())
    return h.hexdigest()[:16]


def replay_files(paths) -> list[Path]:
    """``.replay`` files from files and directories; a missing one is a clear error."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.glob("*.replay"))
        elif p.exists():
            files.append(p)
        else:
            raise PlayasError(f"replay {p} does not exist")
    if not files:
        raise PlayasError("no .replay files given")
    return files


def encode(files, workers: int | None = None, progress: bool = True) -> tuple[dict, dict]:
    """Replays into (manifest, arrays) in memory: what :func:`prepare` writes."""
    workers = workers or min(len(files), os.cpu_count() or 1)
    t0 = time.perf_counter()
    # Largest first, so no big replay is left for one process at the end; results in the given order.
    given = {str(f): i for i, f in enumerate(files)}
    files = sorted(files, key=lambda f: -Path(f).stat().st_size) if workers > 1 else list(files)
    results = []
    with Progress(len(files), "prepare", unit="replays") if progress else contextlib.nullcontext() as bar:
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                for r in pool.map(encode_replay, map(str, files)):
                    results.append(r)
                    bar and bar.update(1)
        else:
            for p in files:
                results.append(encode_replay(str(p)))
                bar and bar.update(1)
    results.sort(key=lambda r: given[r["file"]])
    skipped = {Path(r["file"]).name: r["error"] for r in results if "error" in r}
    games, sequences, start = [], [], 0
    obs, act, scal = [], [], []
    agree: dict = {}
    for r in results:
        if "error" in r:
            continue
        if not r["sequences"]:
            skipped[Path(r["file"]).name] = "no player stayed 20 seconds"
            continue
        g = len(games)
        games.append({"file": Path(r["file"]).name, **r["meta"],
                      "decisions": int(sum(s["length"] for s in r["sequences"]))})
        for s, o, a, sc in zip(r["sequences"], r["obs"], r["action"], r["scalars"]):
            sequences.append({**s, "game": g, "start": start})
            start += s["length"]
            obs.append(o), act.append(a), scal.append(sc)
        for k, (n, d) in r["agreement"].items():
            a = agree.setdefault(k, [0, 0])
            a[0] += n
            a[1] += d
    if not sequences:
        raise PlayasError("no replay could be read: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    players: dict = {}
    for s in sequences:
        p = players.setdefault(s["key"], {"name": s["name"], "games": 0})
        p["games"] += 1
    frames = sum(r.get("frames", 0) for r in results)
    seconds = round(time.perf_counter() - t0, 1)
    manifest = {"format": FORMAT, "input_hash": _hash(files), "games": games, "sequences": sequences,
                "players": players, "names": display_names(players), "decisions": int(start), "skipped": skipped,
                "agreement": {k: {"agree": n, "of": d, "rate": round(n / d, 4) if d else None}
                              for k, (n, d) in agree.items()},
                "files": len(files), "frames": frames, "seconds": seconds, "workers": workers,
                "frames_per_second": round(frames / max(seconds, 1e-9))}
    arrays = {"obs": np.concatenate(obs), "action": np.concatenate(act), "scalars": np.concatenate(scal)}
    return manifest, arrays


def prepare(paths, out, workers: int | None = None) -> dict:
    """Replays ``paths`` (files or directories of ``.replay`` files) into dataset ``out``."""
    files = replay_files(paths)
    manifest, arrays = encode(files, workers)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for k, v in arrays.items():
        np.save(out / f"{k}.npy", v)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def load_replays(paths, workers: int = 1) -> "RocketData":
    """Replays as a dataset in memory (a query to identify, a player to enroll)."""
    return RocketData(*encode(replay_files(paths), workers, progress=False))


def display_names(players: dict) -> dict:
    """Each player key's name in tables: the in-game name, with the key's tail where two share it."""
    by_name: dict = {}
    for k, p in players.items():
        by_name.setdefault(p["name"], []).append(k)
    out = {}
    for name, keys in by_name.items():
        for k in keys:
            out[k] = name if len(keys) == 1 else f"{name} ({k.split(':', 1)[0]}:{k.split(':', 1)[1][-4:]})"
    return out


class RocketData:
    """A prepared dataset (see the module docstring)."""

    def __init__(self, manifest: dict, arrays: dict):
        self.manifest = manifest
        self.obs, self.scalars = arrays["obs"], arrays["scalars"]
        self.action = np.asarray(arrays["action"]).astype(np.int64)
        self.sequences = self.manifest["sequences"]
        self.games = self.manifest["games"]
        names = self.manifest["names"]
        self.keys = list(self.manifest["players"])
        self.players = [names[k] for k in self.keys]  # display names, indexed like ``keys``
        n = len(self.action)
        self.seq = np.zeros(n, np.int64)
        self.history_start = np.zeros(n, np.int64)  # where each decision's history begins (see ``restarts``)
        self.player = np.zeros(n, np.int64)
        self.game = np.zeros(n, np.int64)
        # Whether the decision's replay shows the boost gauge: older ones never move it (every car reads
        # an empty tank all game), so their boost is unknown, not empty.
        self.gauge = np.ones(n, bool)
        index = {k: i for i, k in enumerate(self.keys)}
        for i, s in enumerate(self.sequences):
            sl = slice(s["start"], s["start"] + s["length"])
            self.seq[sl] = i
            for a, b in zip([0, *s.get("restarts", [])], [*s.get("restarts", []), s["length"]]):
                self.history_start[s["start"] + a:s["start"] + b] = s["start"] + a
            self.player[sl], self.game[sl] = index[s["key"]], s["game"]
            self.gauge[sl] = s.get("play", {}).get("empty_tank", 0.0) < 1.0

    @classmethod
    def open(cls, path) -> "RocketData":
        """A dataset :func:`prepare` wrote (its arrays memory-mapped)."""
        path = Path(path)
        if not (path / "manifest.json").exists():
            raise PlayasError(f"{path} is not a prepared Rocket League dataset (run `playas rocket prepare`)")
        manifest = json.loads((path / "manifest.json").read_text())
        if manifest.get("format", 1) < FORMAT:
            raise PlayasError(f"{path} was prepared by an older playas (format {manifest.get('format', 1)}, now "
                              f"{FORMAT}); run `playas rocket prepare` on its replays again")
        arrays = {k: np.load(path / f"{k}.npy", mmap_mode="r") for k in ("obs", "action", "scalars")}
        data = cls(manifest, arrays)
        data.path = path
        return data

    def __len__(self) -> int:
        return len(self.action)

    def rows(self, games=None, players=None) -> np.ndarray:
        """Decision rows of the given games and players (all where None)."""
        m = np.ones(len(self), bool)
        if games is not None:
            m &= np.isin(self.game, np.asarray(list(games)))
        if players is not None:
            m &= np.isin(self.player, np.asarray(list(players)))
        return np.flatnonzero(m)

    def games_of(self, player: int) -> list[int]:
        return sorted({s["game"] for s in self.sequences if s["key"] == self.keys[player]})

    def windows(self, idx, context: int):
        """Model inputs for decisions ``idx``: each one's window of the last ``context`` decisions
        of its history (since its sequence began, its last kickoff or its return to the pitch),
        left-padded: obs (n, T, features) float32, prev (n, T), valid (n, T)."""
        idx = np.asarray(idx, np.int64)
        j = idx[:, None] - (context - 1) + np.arange(context)[None]
        start = self.history_start[idx][:, None]
        valid = j >= start
        jc = np.maximum(j, start)
        flat = np.unique(jc)
        o = np.asarray(self.obs[flat], np.float32)[np.searchsorted(flat, jc)]
        o *= valid[..., None]
        prev = np.where(jc - 1 >= start, self.action[np.maximum(jc - 1, 0)], actions_none())
        prev = np.where(valid, prev, actions_none())
        return torch.from_numpy(o), torch.from_numpy(prev), torch.from_numpy(valid)


def actions_none() -> int:
    return len(actions.TABLE)
