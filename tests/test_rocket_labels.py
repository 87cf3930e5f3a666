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
from playas.rocket.vocabulary import DECISIONS_PER_SECOND, POS, VEL, X, Z  # noqa: E402

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
    """The file leaves out each of its 7 goals' replays (5-11 s without a frame): no physics of
    any car there, so those decisions are stale and have no label (so are the countdowns: the
    server sends no updates of a car at rest)."""
    for c in range(len(kickoffs.players)):
        pauses = [(a, b) for a, b in _runs(kickoffs.stale[:, c] & ~kickoffs.countdown) if b - a > 60]
        assert len(pauses) == 7
        play = kickoffs.frames.present[:, c] & ~kickoffs.countdown
        for a, b in pauses:
            play[a:b] = False
        assert kickoffs.stale[play, c].mean() < 0.02  # in play the server sends every car


@needs_replays
def test_prepare_leaves_the_countdown_and_the_stale_out(kickoffs):
    from playas.rocket.dataset import encode_replay, pregame

    r = encode_replay(str(REPLAYS / f"{KICKOFFS}.replay"))
    present = kickoffs.frames.present
    assert [s["length"] for s in r["sequences"]] == [
        int((present[:, c] & ~kickoffs.countdown & ~pregame(kickoffs.countdown) & ~kickoffs.unexplained(c)).sum())
        for c in range(present.shape[1])]


@pytest.fixture(scope="module")
def twenty_hertz():
    return read(REPLAYS / "12c1c9118d4f.replay")  # 20.7 frames a second, a car's physics in every other


@needs_replays
def test_a_decision_is_the_physics_of_its_moment(twenty_hertz):
    """The server sends a car 10-15 times a second; the frames between repeat its velocities with
    a position halfway (measured in this file: the vertical velocity changes at every other frame).
    Interpolated between the updates, a freely falling car loses near gravity's 650 uu/s each
    second over a decision (taking the nearest frame, half the decisions saw 0 or twice that:
    -571 median over the frames' own times); what is left is the updates' arrival jitter."""
    rp = twenty_hertz
    falls = []
    for c in range(len(rp.players)):
        car, rec = rp.frames.cars[:, c], rp.recorded[c]
        t = np.arange(len(car) - 1)
        high = (car[t, POS.start + Z] > 400) & (car[t + 1, POS.start + Z] > 400) & (np.abs(car[t, POS.start + X]) < 3500)
        quiet = ~(rec["boost"] | rec["jump"] | rec["flip"])[t] & ~rp.unexplained(c)[t]
        quiet &= rp.frames.present[t, c] & rp.frames.present[t + 1, c]
        t = t[high & quiet]
        falls.append((car[t + 1, VEL.start + Z] - car[t, VEL.start + Z]) * DECISIONS_PER_SECOND)
    fall = np.concatenate(falls)
    assert len(fall) > 200
    assert abs(np.median(fall) + 650) < 50
    assert np.percentile(fall, 75) - np.percentile(fall, 25) < 400
    assert np.mean(np.abs(fall) < 100) < 0.05  # no decisions on one update's held velocity


@needs_replays
def test_play_properties_of_a_replay(kickoffs):
    """prepare stores each sequence's :data:`PLAY` (what bench/rocket_agents.py sets a style's
    simulated play beside), measured over the decisions it keeps; people in a 3v3 drive about
    1,100-1,500 uu/s, rarely stand still, touch the ball a few times a minute and take big pads (one here under one a minute)."""
    from playas.rocket.dataset import encode_replay
    from playas.rocket.properties import PLAY

    r = encode_replay(str(REPLAYS / f"{KICKOFFS}.replay"))
    for s in r["sequences"]:
        p = s["play"]
        assert set(p) == set(PLAY)
        assert 1000 < p["speed"] < 1700 and 0.2 < p["airborne"] < 0.5 and p["stationary"] < 0.1, (s["name"], p)
        assert 1 < p["touches_per_minute"] < 12 and 0 < p["big_pads_per_minute"] < 8, (s["name"], p)
        assert 0 <= p["empty_tank"] < 0.6 and 0 <= p["upside_down"] < 0.2 and 0 <= p["supersonic"] < 0.3


@needs_replays
def test_cars_on_their_roof_press_jump(twenty_hertz):
    """People on their roof press jump and the auto-flip rolls them back onto their wheels; the
    replay records no jump there, so the labels read it from the roll (actions.auto_flips). In this
    file each one found is a car upright again within half a second."""
    from playas.rocket.actions import auto_flips
    from playas.rocket.vocabulary import UP

    found = 0
    for c in range(len(twenty_hertz.players)):
        car = twenty_hertz.frames.cars[:, c]
        for t in np.flatnonzero(auto_flips(car)):
            found += 1
            assert car[t + 1:t + 9, UP][:, 2].max() > 0, (c, t)
    assert found >= 3
