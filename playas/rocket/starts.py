"""Where fine-tuning episodes begin: moments of real games, as RLGym bots start most episodes.

:func:`replay_starts` takes moments of play (not a kickoff's countdown, ball and two opposing cars
on the pitch) from replays: the ball and one blue and one orange car, picked at random among the
moment's players. Reading a replay takes a second or two, so the moments are kept in an ``.npz``
beside the output and read from there the next time.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..core.progress import Progress
from .frames import after_goals
from .vocabulary import BALL_FIELDS, CAR_FIELDS, POS, VEL, Z

VERSION = 2  # 2: no moment between a goal and its kickoff (the ball in a net)


def _in_play(frames) -> np.ndarray:
    """Moments where the ball is moving or off its kickoff spot (not a countdown or a reset), and
    not between a goal and its kickoff."""
    ball = frames.ball
    still = (np.linalg.norm(ball[:, VEL], axis=1) < 1) & (np.linalg.norm(ball[:, POS][:, :2], axis=1) < 1)
    return ~still & (ball[:, POS.start + Z] > 0) & ~after_goals(ball)


def moments_of(frames, per_game: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``per_game`` (ball (k, 9), cars (k, 2, 16)) moments of one game, blue car first."""
    blue, orange = np.flatnonzero(frames.team == 0), np.flatnonzero(frames.team == 1)
    ok = _in_play(frames) & frames.present[:, blue].any(1) & frames.present[:, orange].any(1)
    times = np.flatnonzero(ok)
    if len(times) == 0 or len(blue) == 0 or len(orange) == 0:
        return np.empty((0, BALL_FIELDS), np.float32), np.empty((0, 2, CAR_FIELDS), np.float32)
    times = rng.choice(times, size=min(per_game, len(times)), replace=False)
    balls, cars = [], []
    for t in times:
        b = rng.choice(blue[frames.present[t, blue]])
        o = rng.choice(orange[frames.present[t, orange]])
        balls.append(frames.ball[t])
        cars.append(frames.cars[t, [b, o]])
    return np.array(balls, np.float32), np.array(cars, np.float32)


def _moments_of_file(path, per_game: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """:func:`moments_of` one replay file (none from a replay that cannot be read)."""
    from .replay import ReplayError, read

    try:
        return moments_of(read(path).frames, per_game, np.random.default_rng(seed))
    except ReplayError:
        return np.empty((0, BALL_FIELDS), np.float32), np.empty((0, 2, CAR_FIELDS), np.float32)


def replay_starts(files: list[Path], cache_dir: Path, per_game: int = 400, seed: int = 0,
                  progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Moments of ``files`` (``per_game`` from each): ball (M, 9) and cars (M, 2, 16), cached."""
    key = hashlib.sha256("\n".join(sorted(str(Path(f).resolve()) for f in files)).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"starts-v{VERSION}-{key}-{per_game}-{seed}.npz"
    if path.exists():
        with np.load(path) as z:
            return z["ball"], z["cars"]
    from concurrent.futures import ProcessPoolExecutor

    balls, cars = [], []
    with ProcessPoolExecutor(max_workers=min(os.cpu_count() or 1, 4)) as pool, \
            Progress(len(files), "reading start moments", unit="replays", quiet=not progress) as bar:
        for b, c in pool.map(_moments_of_file, files, [per_game] * len(files), [[seed, i] for i in range(len(files))]):
            if len(b):
                balls.append(b)
                cars.append(c)
            bar.update(1)
    ball = np.concatenate(balls) if balls else np.empty((0, BALL_FIELDS), np.float32)
    car = np.concatenate(cars) if cars else np.empty((0, 2, CAR_FIELDS), np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, ball=ball, cars=car)
    tmp.replace(path)
    return ball, car
