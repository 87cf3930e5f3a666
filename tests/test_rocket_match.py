"""Headless RocketSim matches between playas drivers (playas.rocket.match)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("RocketSim")
pytest.importorskip("rlgym.rocket_league.sim")

from playas.shipped import driving_model

# What matches drive with by default: the styles fine-tuned in play. (The behaviour-cloned styles
# of rocket-replays.pt take the kickoff in only half of 20-second matches: seeds 4 to 6 never touch.)
MODEL = driving_model("rocket")
if not MODEL.exists():
    pytest.skip(f"{MODEL} is absent", allow_module_level=True)

from playas.rocket.actions import TABLE
from playas.rocket.model import NO_ACTION
from playas.rocket.match import play_match, write_match
from playas.rocket.sources import frame_from_arena
from playas.rocket.vocabulary import (BACK_WALL, BALL_FIELDS, CAR_FIELDS, FWD, GOAL_DEPTH, POS, SIDE_WALL, TICK_RATE,
                                      UP, X, Y)

MINUTES = 20 / 60


@pytest.fixture(scope="module")
def match():
    """A match as `playas rocket play` plays it: the shipped driving model, sampled as its card says."""
    return play_match(["Posix"], ["Nadir"], minutes=MINUTES, seed=4, model=MODEL, progress=False)


def test_frame_from_arena():
    from playas.rocket.match import _rocketsim

    rsim = _rocketsim()
    arena = rsim.Arena(rsim.GameMode.SOCCAR)
    cars = [arena.add_car(t) for t in (0, 1, 1)]
    arena.reset_kickoff(1)
    arena.step(30)
    frames, ids = frame_from_arena(arena)
    assert ids == sorted(c.id for c in cars)
    assert frames.cars.shape == (1, 3, CAR_FIELDS) and frames.ball.shape == (1, BALL_FIELDS)
    assert frames.team.tolist() == [0, 1, 1] and frames.present.all()
    s = cars[1].get_state()
    np.testing.assert_allclose(frames.cars[0, 1, POS], s.pos.as_numpy(), atol=1e-3)
    fwd, up = frames.cars[0, :, FWD], frames.cars[0, :, UP]
    np.testing.assert_allclose(np.linalg.norm(fwd, axis=1), 1, atol=1e-4)
    np.testing.assert_allclose((fwd * up).sum(1), 0, atol=1e-4)
    assert frames.cars[0, 0, POS][Y] < 0 < frames.cars[0, 1, POS][Y]  # blue starts at -y
    assert frames.time[0] == pytest.approx(arena.tick_count / TICK_RATE)


def test_match_runs_and_stats_are_sane(match):
    assert match["seconds"] == pytest.approx(20, abs=0.1)
    assert len(match["cars"]) == 2
    assert [r["team"] for r in match["cars"]] == ["blue", "orange"]
    for r in match["cars"]:
        assert r["speed"] > 300 and 0 < r["ball_distance"] < 8000
        assert r["shots"] >= r["goals"] >= 0 and r["saves"] >= 0
        assert 0 <= r["supersonic_s"] <= match["seconds"] and r["boost_used"] >= 0
        # Jump and boost where they belong: built by position they were swapped in 39 of the 90
        # actions, and cars then spent 33 to 60% of a match in the air (10 to 37% since).
        assert r["airborne_s"] < 0.5 * match["seconds"]
    tr = match["trajectories"]
    d = match["decisions"]
    # The kickoff is taken: a car drives to the ball, which leaves its spot (only a touch moves
    # it) well inside the match (2.8 s here; 2.2 to 2.9 s over seeds 1 to 8; at temperature 0.7 both
    # cars waited 11 s at seeds 4 and 6, why the shipped pair samples at 1), and that touch counts.
    moved = np.flatnonzero(np.linalg.norm(tr["ball"][:, :2] - tr["ball"][0, :2], axis=1) > 50)
    assert len(moved) and tr["time"][moved[0]] < 10, tr["time"][moved[:1]]
    assert sum(r["touches"] for r in match["cars"]) >= 1
    assert match["score"]["blue"] + match["score"]["orange"] == len(match["goals"])
    assert tr["segment"][-1] == len(match["goals"])  # a kickoff after every goal
    assert tr["ball"].shape == (d, 3) and tr["cars"].shape == (d, 2, 3) and tr["present"].shape == (d, 2)
    assert np.abs(tr["cars"][..., X]).max() < SIDE_WALL + 100 and np.abs(tr["ball"][:, Y]).max() < BACK_WALL + GOAL_DEPTH


def test_the_shipped_styles_take_every_kickoff():
    """At the shipped model's own sampling, a 1v1's first kickoff is taken within 5 s whatever the
    seed (2.2 to 2.9 s over seeds 1 to 8). At temperature 0.7 both cars waited 11 s at seeds 4 and 6."""
    for seed in range(1, 9):
        tr = play_match(["Posix"], ["Nadir"], minutes=6 / 60, seed=seed, model=MODEL, progress=False)["trajectories"]
        moved = np.flatnonzero(np.linalg.norm(tr["ball"][:, :2] - tr["ball"][0, :2], axis=1) > 50)
        assert len(moved) and tr["time"][moved[0]] < 5, (seed, tr["time"][moved[:1]])


def test_same_seed_same_match(match):
    again = play_match(["Posix"], ["Nadir"], minutes=MINUTES, seed=4, model=MODEL, progress=False)
    assert again["cars"] == match["cars"] and again["score"] == match["score"] and again["goals"] == match["goals"]
    np.testing.assert_array_equal(again["trajectories"]["cars"], match["trajectories"]["cars"])


def test_sampling_is_seeded():
    """The same seed gives the same match (a blend, below temperature 1); another seed another."""
    a, b, c = (play_match(["Posix:0.5,Nadir:0.5"], ["comagoosie"], minutes=5 / 60, seed=s, model=MODEL,
                          progress=False, temperature=0.5, record=True) for s in (1, 1, 2))
    assert a["cars"] == b["cars"]
    np.testing.assert_array_equal(a["trajectories"]["cars"], b["trajectories"]["cars"])
    np.testing.assert_array_equal(a["record"]["actions"], b["record"]["actions"])
    assert not np.array_equal(a["record"]["actions"], c["record"]["actions"])
    assert not np.array_equal(a["trajectories"]["cars"], c["trajectories"]["cars"])


def test_write_match(match, tmp_path):
    paths = write_match(match, tmp_path / "out")
    for name in ("summary.txt", "summary.json", "trajectories.npz", "pitch.svg"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    assert "Posix" in paths["summary.txt"].read_text()
    assert json.loads(paths["summary.json"].read_text())["score"] == match["score"]
    with np.load(paths["trajectories.npz"]) as z:
        assert z["cars"].shape == match["trajectories"]["cars"].shape
    summary = json.loads(paths["summary.json"].read_text())
    lines = paths["summary.txt"].read_text().splitlines()
    for car in summary["cars"]:  # one rounding rule: the text shows the numbers the JSON holds
        row = next(line.split() for line in lines if line.split()[:3] == [str(car["car"]), car["team"], car["style"]])
        assert row[3:] == [str(car[k]) for k in ("goals", "shots", "saves", "touches", "boost_used", "speed",
                                                 "supersonic_s", "airborne_s", "ball_distance")]
    root = ET.parse(paths["pitch.svg"]).getroot()
    assert root.tag.endswith("svg")
    assert len(root.findall(".//{http://www.w3.org/2000/svg}polyline")) >= 3  # ball and two cars
    legend = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "car 0 blue Posix" in legend and "car 1 orange Nadir" in legend and "ball" in legend


@pytest.mark.parametrize("towards, scoring, own_goal", [(1, "blue", False), (-1, "orange", True)])
def test_driving_the_ball_in_is_a_touch_a_shot_and_a_goal(towards, scoring, own_goal):
    """RocketSim, the arena's callbacks and the referee together: blue's car boosts into a still
    ball in front of a goal. Into orange's goal it is blue's goal (and shot, and touch); into
    blue's own, orange's own goal, credited to nobody."""
    from playas.rocket.match import _Arena, _rocketsim
    from playas.rocket.referee import Referee
    from tests.rocketsim_car import BOOST_ACTION, action

    rsim = _rocketsim()
    referee = Referee([0, 1])
    arena = _Arena(rsim, [0, 1], 0, referee)
    blue, orange = arena.cars
    s = blue.get_state()
    s.pos, s.vel = rsim.Vec(0, towards * 3000, 17), rsim.Vec(0, towards * 1400, 0)
    s.rot_mat, s.boost = rsim.Angle(towards * np.pi / 2, 0, 0).as_rot_mat(), 100
    blue.set_state(s)
    s = orange.get_state()
    s.pos = rsim.Vec(3000, -towards * 3000, 17)  # far from it all
    orange.set_state(s)
    b = arena.arena.ball.get_state()
    b.pos, b.vel = rsim.Vec(0, towards * 3600, 93), rsim.Vec(0, 0, 0)
    arena.arena.ball.set_state(b)
    events = []
    try:
        for _ in range(45):  # 3 s
            frames, _, _ = arena.moment()
            goal = arena.play(np.array([BOOST_ACTION, action()]), frames.present[0])
            events.append(referee.judge(frames.ball[0], arena.ball(), None if goal is None else goal[0]))
            if events[-1]:
                break
    finally:
        arena.close()
    assert events[-1] == {"team": scoring, "scorer": 0 if scoring == "blue" else None, "own_goal": own_goal}
    assert referee.touches.tolist() == [1, 0] and referee.score == ([1, 0] if scoring == "blue" else [0, 1])
    assert referee.shots.tolist() == ([1, 0] if scoring == "blue" else [0, 0]) and referee.saves.tolist() == [0, 0]


def test_bad_team_size():
    from playas.core.errors import PlayasError

    with pytest.raises(PlayasError):
        play_match([], ["Posix"], minutes=0.01, progress=False)


def test_missing_meshes_is_one_clear_error(monkeypatch):
    from pathlib import Path

    import playas.rocket.match as m
    from playas.core.errors import PlayasError

    monkeypatch.setattr(m, "_inited", False)
    monkeypatch.setattr(Path, "glob", lambda self, pattern: iter(()))
    with pytest.raises(PlayasError, match="collision meshes are missing"):
        m._rocketsim()


def test_atba_steers_at_the_ball():
    """ATBA, the scripted floor: the ball to the car's right -> steer right (+1), left -> left, ahead -> straight."""
    from playas.rocket.frames import Frames
    from playas.rocket.pads import no_pads
    from playas.rocket.scripted import ATBA
    from playas.rocket.vocabulary import CAR_FIELDS, FWD, STEER, THROTTLE, UP

    car = np.zeros(CAR_FIELDS, np.float32)
    car[FWD], car[UP] = (0, 1, 0), (0, 0, 1)  # facing +y, wheels down
    right = np.cross(car[UP], car[FWD])  # the driver's right in the game's left-handed world
    atba = ATBA()
    for where, steer in ((right * 1000 + [0, 300, 0], 1), (-right * 1000 + [0, 300, 0], -1), ((0, 1000, 0), 0)):
        ball = np.zeros(9, np.float32)
        ball[:3] = where
        f = Frames(np.zeros(1), ball[None], car[None, None], np.zeros(1, int), np.ones((1, 1), bool), no_pads(1))
        controls = TABLE[atba.decide(f, [0])[0]]
        assert controls[THROTTLE] == 1 and controls[STEER] == steer and not controls[5:].any(), (where, controls)


def test_atba_chases_the_ball_in_a_match():
    r = play_match(["atba"], ["atba"], minutes=1, seed=3, progress=False)
    assert r["cars"][0]["style"] == "atba" and sum(c["touches"] for c in r["cars"]) >= 1
    solo = play_match(["mean"], ["atba"], minutes=1, seed=3, progress=False)
    assert solo["cars"][1]["touches"] >= 5  # it reaches the ball again and again: about 12 a minute measured


def test_touches_read_from_motion_agree_with_the_engines_contacts():
    """The touch estimate a replay can be measured by (positions and velocities only), held against
    RocketSim's own contacts in recorded matches."""
    from playas.rocket.properties import touches

    # six matches: two alone swing with the play (ATBA's pushes along the ball are several engine
    # contacts and one change of motion); over 21..26 the estimate read 81 of 95 contacts (measured)
    rs = [play_match(["mean"], ["atba"], minutes=1, seed=s, progress=False, record=True) for s in range(21, 27)]
    engine = sum(c["touches"] for r in rs for c in r["cars"])
    read = sum(touches(r["record"]["frames"], c) for r in rs for c in range(2))
    assert engine >= 15 and abs(read - engine) <= 0.2 * engine, (read, engine)


def test_a_driver_forgets_a_car_off_the_pitch():
    """A demolished car gets no input and starts a new history on its return, as a dataset's
    sequence restarts there (playas.rocket.dataset.restarts)."""
    from playas.rocket.agent import COAST, Driver
    from playas.rocket.match import _rocketsim

    rsim = _rocketsim()
    arena = rsim.Arena(rsim.GameMode.SOCCAR)
    for team in (0, 1):
        arena.add_car(team)
    arena.reset_kickoff(2)
    frames, _ = frame_from_arena(arena)
    driver = Driver(model=MODEL, style="Posix")
    for _ in range(3):
        driver.decide(frames, [0, 1])
    assert [len(driver.history[c]) for c in (0, 1)] == [3, 3] and driver.last[0] != NO_ACTION
    frames.present[0, 0] = False
    assert driver.decide(frames, [0, 1])[0] == COAST and not TABLE[COAST].any()
    assert 0 not in driver.history and 0 not in driver.last and len(driver.history[1]) == 4
    frames.present[0, 0] = True
    driver.decide(frames, [0, 1])
    assert len(driver.history[0]) == 1 and driver.history[0][0][1] == NO_ACTION


def test_play_properties_of_atba():
    """ATBA (full throttle, no boost, no jump) measured by the replays' yardstick: never
    supersonic (no boost tops out near 1,410 uu/s), on its wheels, never on an empty tank (it
    keeps its kickoff 33), and at the ball again and again. Against another ATBA: how much a car
    is in the air also depends on what knocks it, and a trained opponent changes with the model."""
    from playas.rocket.properties import play_properties

    r = play_match(["atba"], ["atba"], minutes=1, seed=4, progress=False, record=True)
    both = [play_properties(r["record"]["frames"], car) for car in (0, 1)]
    for p in both:
        assert p["supersonic"] == 0 and p["empty_tank"] == 0, p
        assert 800 < p["speed"] < 1450 and p["airborne"] < 0.1 and p["stationary"] < 0.1, p
    assert sum(p["touches_per_minute"] for p in both) >= 8, both  # 12 a minute here (the engine counts 17 contacts)
