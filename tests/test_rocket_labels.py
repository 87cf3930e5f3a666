"""Labels that replay, on real replays: what a replay's frames and flags give the labels.

Each test reads real replays from ``../shared/data/rocket/replays`` (skipped where they or
subtr-actor are absent) and checks one thing the labels depend on, so that undoing the fix fails it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("subtr_actor")

from playas.rocket.replay import read  # noqa: E402
from playas.rocket.vocabulary import POS, VEL, X, Z  # noqa: E402

REPLAYS = Path(__file__).resolve().parents[2] / "shared" / "data" / "rocket" / "replays"
needs_replays = pytest.mark.skipif(not REPLAYS.exists(), reason="needs ../shared/data/rocket/replays")
KICKOFFS = "103abc023cdf"  # a 3v3 with 8 kickoffs, frames at an uneven 23-29 a second


@pytest.fixture(scope="module")
def kickoffs():
    return read(REPLAYS / f"{KICKOFFS}.replay")


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True in ``mask``."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
    return list(zip(edges[::2], edges[1::2]))


@needs_replays
def test_countdowns_are_the_kickoff_waits(kickoffs):
    """Every kickoff's 3-second countdown is marked, the cars still in it, moving right after."""
    runs = _runs(kickoffs.countdown)
    assert len(runs) == 8
    assert all(40 <= end - start <= 46 for start, end in runs)  # 3 s at 15 decisions a second
    cars, present = kickoffs.frames.cars, kickoffs.frames.present
    speed = np.linalg.norm(cars[..., VEL], axis=-1)
    for start, end in runs:
        assert speed[start:end][present[start:end]].max() < 20  # settling on the spawn, no more
        assert speed[end + 3][present[end + 3]].max() > 100  # a decision or two after the go: off


@needs_replays
def test_goal_replays_cut_from_the_file_are_stale(kickoffs):
    """The file leaves out each of its 7 goals' replays (5-11 s without a frame): the decisions
    there all sit on the pause's last frame, with no physics to label, and are stale."""
    for c in range(len(kickoffs.players)):
        pauses = [(a, b) for a, b in _runs(kickoffs.stale(c)) if b - a > 60]
        assert len(pauses) == 7
        for a, b in pauses:
            assert np.ptp(kickoffs.clock[a + 1:b, c]) == 0  # one frame's state, held
    moving = ~kickoffs.stale(0) & kickoffs.frames.present[:, 0] & ~kickoffs.countdown
    assert moving.mean() > 0.8


@needs_replays
def test_prepare_leaves_the_countdown_and_the_stale_out(kickoffs):
    from playas.rocket.dataset import encode_replay

    r = encode_replay(str(REPLAYS / f"{KICKOFFS}.replay"))
    present = kickoffs.frames.present
    assert [s["length"] for s in r["sequences"]] == [int((present[:, c] & ~kickoffs.countdown & ~kickoffs.stale(c)).sum())
                                                     for c in range(present.shape[1])]


@pytest.fixture(scope="module")
def twenty_hertz():
    return read(REPLAYS / "12c1c9118d4f.replay")  # frames every 0.048 s: 2 or 1 of them a decision


@needs_replays
def test_decisions_keep_their_frames_own_time(twenty_hertz):
    """A decision is the frame nearest it, and the time to the next one is what the frames say:
    at 20.7 frames a second that is 1 or 2 frames (6 or 12 ticks), never the nominal 8; a car
    falling freely then drops at gravity's 650 uu/s^2 only when measured over those times."""
    rp = twenty_hertz
    dt = rp.seconds(0)[~rp.stale(0) & rp.frames.present[:, 0]]
    assert np.mean((np.abs(dt - 0.0484) < 0.002) | (np.abs(dt - 0.0968) < 0.003)) > 0.97
    falls = []
    for c in range(len(rp.players)):
        car, rec, dt = rp.frames.cars[:, c], rp.recorded[c], rp.seconds(c)
        t = np.arange(len(car) - 1)
        high = (car[t, POS.start + Z] > 400) & (car[t + 1, POS.start + Z] > 400) & (np.abs(car[t, POS.start + X]) < 3500)
        quiet = ~(rec["boost"] | rec["jump"] | rec["flip"] | rp.stale(c))[t] & rp.frames.present[t, c] & rp.frames.present[t + 1, c]
        t = t[high & quiet]
        falls.append((car[t + 1, VEL.start + Z] - car[t, VEL.start + Z]) / dt[t])
    fall = np.concatenate(falls)
    assert len(fall) > 200
    assert abs(np.median(fall) + 650) < 40
