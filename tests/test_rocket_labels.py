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
from playas.rocket.vocabulary import DECISIONS_PER_SECOND, POS, VEL, X, Y, Z  # noqa: E402

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
    """Every kickoff's wait is marked, from the ball's reset after a goal (the cars put on their
    spots, dropping onto them) through the 3-second countdown; the cars still in it, moving right after."""
    runs = _runs(kickoffs.countdown)
    assert len(runs) == 8
    assert all(end - start >= 45 for start, end in runs)  # at least the 3 s countdown at 15 decisions a second
    assert [start for start, _ in runs[1:]] == [end for _, end in _runs(kickoffs.after_goal)]
    cars, present = kickoffs.frames.cars, kickoffs.frames.present
    speed = np.linalg.norm(cars[..., VEL][..., :2], axis=-1)  # along the ground (they drop onto their spots)
    for start, end in runs:
        assert speed[start:end][present[start:end]].max() < 20  # settling on the spawn, no more
        assert speed[end + 3][present[end + 3]].max() > 100  # a decision or two after the go: off


@needs_replays
def test_goal_replays_cut_from_the_file_are_stale(kickoffs):
    """The file leaves out each of its 7 goals' replays (5-11 s without a frame): no physics of
    any car there, so those decisions are stale and have no label (so are the countdowns: the
    server sends no updates of a car at rest)."""
    goals = _runs(kickoffs.after_goal)
    for c in range(len(kickoffs.players)):
        pauses = [(a, b) for a, b in _runs(kickoffs.stale[:, c]) if b - a > 60]
        assert len(pauses) == 7 and all(g0 < a < g1 for (a, _), (g0, g1) in zip(pauses, goals))  # each after a goal
        play = kickoffs.frames.present[:, c] & ~kickoffs.countdown & ~kickoffs.after_goal
        for a, b in pauses:
            play[a:b] = False
        assert kickoffs.stale[play, c].mean() < 0.02  # in play the server sends every car


@needs_replays
def test_the_time_from_a_goal_to_its_kickoff_is_not_play(kickoffs):
    """Each of the file's 7 goals: from the ball over the goal line until it is back on its spot
    for the kickoff, play has stopped (cars drive about; a simulated match kicks off at once)."""
    from playas.rocket.frames import GOAL_LINE, ball_on_spot

    ball = kickoffs.frames.ball
    runs = _runs(kickoffs.after_goal)
    assert len(runs) == 7
    spot = ball_on_spot(ball)
    for start, end in runs:
        assert abs(ball[start, POS.start + Y]) > GOAL_LINE and spot[end] and not spot[end - 1]


@needs_replays
def test_episodes_never_start_with_the_ball_in_a_net(kickoffs):
    """Fine-tuning starts episodes from moments of play: none between a goal and its kickoff (in
    this file the ball is over a line only then)."""
    from playas.rocket.frames import GOAL_LINE
    from playas.rocket.starts import moments_of

    over = np.abs(kickoffs.frames.ball[:, POS.start + Y]) > GOAL_LINE
    assert over.sum() > 300
    ball, _ = moments_of(kickoffs.frames, 100_000, np.random.default_rng(0))  # every moment of play
    assert len(ball) > 4000 and (np.abs(ball[:, POS.start + Y]) <= GOAL_LINE).all()


OLD = "1ebfd31d9ab6"  # a 2015 3v3 (Posix's) that does not replicate the countdown: 9 goals, the last in overtime


@needs_replays
def test_a_replay_without_the_countdown_still_has_its_kickoff_waits():
    """Older replays do not say when the cars wait for a kickoff: the ball waiting on its spot with
    every car at rest is the countdown, so those moments are not taught as play and histories
    restart at each kickoff as in the newer replays."""
    from playas.rocket.dataset import kickoffs as kickoff_moments

    rp = read(REPLAYS / f"{OLD}.replay")
    goals, waits = _runs(rp.after_goal), _runs(rp.countdown)
    assert len(goals) == 9 and len(waits) == 9  # a kickoff after each goal but the last, and overtime's
    assert {end for _, end in goals[:-1]} < {start for start, _ in waits}  # each goal's reset, then the wait
    assert goals[-1][1] == len(rp.countdown)  # the last goal (in overtime) ends the game
    speed = np.linalg.norm(rp.frames.cars[..., VEL], axis=-1)
    for start, end in waits:
        assert np.median(speed[start:end]) < 20 and np.median(speed[end + 5]) > 100
    assert kickoff_moments(rp.countdown).sum() == 9


@needs_replays
def test_prepare_leaves_the_countdown_the_time_after_goals_and_the_stale_out(kickoffs):
    from playas.rocket.dataset import encode_replay, pregame

    r = encode_replay(str(REPLAYS / f"{KICKOFFS}.replay"))
    present = kickoffs.frames.present
    dead = kickoffs.countdown | pregame(kickoffs.countdown) | kickoffs.after_goal
    assert kickoffs.after_goal.sum() > 500
    assert [s["length"] for s in r["sequences"]] == [
        int((present[:, c] & ~dead & ~kickoffs.unexplained(c)).sum()) for c in range(present.shape[1])]


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
    1,100-1,500 uu/s, fly 15-50% of the time (play only: no flips about after a goal), rarely stand
    still, touch the ball a few times a minute and take big pads (one here under one a minute)."""
    from playas.rocket.dataset import encode_replay
    from playas.rocket.properties import PLAY

    r = encode_replay(str(REPLAYS / f"{KICKOFFS}.replay"))
    for s in r["sequences"]:
        p = s["play"]
        assert set(p) == set(PLAY)
        assert 1000 < p["speed"] < 1700 and 0.15 < p["airborne"] < 0.5 and p["stationary"] < 0.1, (s["name"], p)
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
