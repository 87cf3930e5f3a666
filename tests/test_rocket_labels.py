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
from playas.rocket.vocabulary import VEL  # noqa: E402

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
def test_prepare_leaves_the_countdown_out(kickoffs):
    from playas.rocket.dataset import encode_replay

    r = encode_replay(str(REPLAYS / f"{KICKOFFS}.replay"))
    present = kickoffs.frames.present
    assert [s["length"] for s in r["sequences"]] == [int((present[:, c] & ~kickoffs.countdown).sum())
                                                     for c in range(present.shape[1])]
