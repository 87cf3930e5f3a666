"""The rules of a simulated match (playas.rocket.referee), what it records (playas.rocket.recorder)
and its drawing (playas.rocket.pitch_svg), on constructed moments: no RocketSim."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from playas.rocket.frames import Frames
from playas.rocket.pads import no_pads
from playas.rocket.pitch_svg import pitch_svg
from playas.rocket.recorder import Recorder, figure
from playas.rocket.referee import Referee, on_target
from playas.rocket.vocabulary import (
    BACK_WALL,
    BALL_FIELDS,
    BOOST,
    CAR_FIELDS,
    DECISION_SECONDS,
    POS,
    TICK_RATE,
    TICKS_PER_DECISION,
    VEL,
)

BLUE, ORANGE = 0, 1
SVG = "{http://www.w3.org/2000/svg}"


def ball(x=0.0, y=0.0, vx=0.0, vy=0.0) -> np.ndarray:
    row = np.zeros(BALL_FIELDS)
    row[POS], row[VEL] = (x, y, 93.0), (vx, vy, 0.0)
    return row


STILL = ball()
INTO_ORANGE = ball(100, 4000, 0, 1500)  # 0.75 s from orange's goal line, between the posts
INTO_BLUE = ball(100, -4000, 0, -1500)
CLEARED = ball(100, -4000, 0, 1500)  # sent back up the pitch


def test_on_target():
    assert on_target(INTO_BLUE, BLUE) and not on_target(INTO_BLUE, ORANGE)
    assert not on_target(ball(100, -4000, 1500, -1500), BLUE)  # 1100 uu to the side at the line: past the post
    assert not on_target(ball(100, -4000, 0, -300), BLUE)  # too slow
    assert not on_target(ball(100, -4000, 0, -500), BLUE)  # slow enough to miss the 2 s horizon
    assert on_target(INTO_ORANGE, ORANGE) and not on_target(INTO_ORANGE, BLUE)


def test_a_touch_is_one_contact_episode():
    ref = Referee([BLUE, ORANGE])
    for tick in (10, 11, 12, 12 + TICKS_PER_DECISION):  # a push, then contact again within a decision
        ref.contact(0, tick)
    assert ref.touches.tolist() == [1, 0]
    ref.contact(0, 12 + 2 * TICKS_PER_DECISION + 1)  # off the ball for more than a decision
    ref.contact(1, 40)
    assert ref.touches.tolist() == [2, 1]


def test_a_shot_is_a_touch_that_leaves_the_ball_on_target():
    ref = Referee([BLUE, ORANGE])
    ref.contact(0, 10)
    assert ref.judge(STILL, INTO_ORANGE) is None
    assert ref.shots.tolist() == [1, 0] and ref.score == [0, 0]
    ref.judge(INTO_ORANGE, INTO_ORANGE)  # the same shot still flying, no touch: not another shot
    assert ref.shots.tolist() == [1, 0]
    ref.contact(1, 30)
    ref.judge(STILL, INTO_ORANGE)  # orange sending it at its own goal is no shot
    assert ref.shots.tolist() == [1, 0] and ref.saves.tolist() == [0, 0]


def test_a_goal_credits_the_scoring_teams_last_toucher_and_is_a_shot_once():
    ref = Referee([BLUE, BLUE, ORANGE])
    ref.contact(0, 5)
    ref.judge(STILL, STILL)
    ref.contact(1, 50)
    ref.judge(STILL, INTO_ORANGE)  # car 1's shot ...
    goal = ref.judge(INTO_ORANGE, ball(0, BACK_WALL + 200, 0, 1500), scored=BLUE)  # ... goes in
    assert goal == {"team": "blue", "scorer": 1, "own_goal": False}
    assert ref.score == [1, 0] and ref.goals.tolist() == [0, 1, 0] and ref.shots.tolist() == [0, 1, 0]


def test_a_goal_without_a_shot_before_counts_its_shot():
    ref = Referee([BLUE, ORANGE])
    ref.contact(0, 5)
    goal = ref.judge(STILL, STILL, scored=BLUE)  # in off a touch the shot rule did not see
    assert goal["scorer"] == 0 and ref.shots.tolist() == [1, 0]


def test_an_own_goal():
    ref = Referee([BLUE, ORANGE])
    ref.contact(0, 5)  # blue's car puts it in blue's own net: orange scores, nobody of orange touched it
    goal = ref.judge(STILL, INTO_BLUE, scored=ORANGE)
    assert goal == {"team": "orange", "scorer": None, "own_goal": True}
    assert ref.score == [0, 1] and ref.goals.tolist() == [0, 0]
    # an orange touch before blue's last one: orange's car is credited, still an own goal
    ref.contact(1, 100)
    ref.judge(STILL, STILL)
    ref.contact(0, 200)
    goal = ref.judge(STILL, INTO_BLUE, scored=ORANGE)
    assert goal == {"team": "orange", "scorer": 1, "own_goal": True} and ref.goals.tolist() == [0, 1]


def test_a_kickoff_forgets_who_touched_before_the_goal():
    ref = Referee([BLUE, ORANGE])
    ref.contact(0, 5)
    ref.judge(STILL, STILL, scored=BLUE)
    goal = ref.judge(STILL, STILL, scored=BLUE)  # the next goal with no touch since the kickoff
    assert goal == {"team": "blue", "scorer": None, "own_goal": False} and ref.goals.tolist() == [1, 0]


def test_a_save_turns_a_shot_on_ones_own_goal_away():
    ref = Referee([BLUE, ORANGE])
    ref.contact(1, 5)
    ref.judge(STILL, INTO_BLUE)  # orange shoots
    ref.contact(0, 30)
    ref.judge(INTO_BLUE, CLEARED)  # blue clears it
    assert ref.saves.tolist() == [1, 0] and ref.shots.tolist() == [0, 1]
    ref.contact(0, 60)
    ref.judge(INTO_BLUE, INTO_BLUE)  # a touch that leaves it going in is no save
    ref.contact(1, 90)
    ref.judge(INTO_BLUE, CLEARED)  # nor the attacker's touch turning it away
    assert ref.saves.tolist() == [1, 0]


def _frames(boost, present=(True, True), x=0.0) -> Frames:
    cars = np.zeros((1, 2, CAR_FIELDS), np.float32)
    cars[0, :, POS], cars[0, :, VEL], cars[0, :, BOOST] = (x, 0, 17), (300, 400, 0), boost
    b = np.zeros((1, BALL_FIELDS), np.float32)
    b[0, POS] = (0, 1000, 93)
    return Frames(np.zeros(1), b, cars, np.array([0, 1]), np.array([present]), no_pads(1))


def test_recorder_statistics_and_one_rounding_rule():
    rec = Recorder([BLUE, ORANGE], 4, full=True)
    rec.moment(_frames([50, 50]), [False, False], [True, True])
    rec.actions(np.array([3, 4]))
    rec.moment(_frames([40, 50]), [True, False], [True, False])
    rec.actions(np.array([5, 6]))
    rec.goal({"team": "blue", "scorer": 0, "own_goal": False}, 2 * TICKS_PER_DECISION + 3, ball(12.34, 5200.06))
    rec.moment(_frames([100, 33], present=(True, False)), [False, False], [True, True])  # a kickoff refill is no use
    rec.actions(np.array([7, 8]))
    rec.moment(_frames([90, 33], present=(True, False)), [False, False], [True, True])
    rec.actions(np.array([9, 10]))
    rows = rec.car_rows(Referee([BLUE, ORANGE]), ["Posix", "Nadir"])
    assert [r["boost_used"] for r in rows] == [20.0, 0.0]
    assert rows[0]["speed"] == 500.0 and rows[0]["ball_distance"] == figure(np.hypot(1000, 76))
    assert rows[0]["supersonic_s"] == figure(DECISION_SECONDS) and rows[1]["airborne_s"] == figure(DECISION_SECONDS)
    assert rows[1]["seconds_on_pitch"] == figure(2 * DECISION_SECONDS)
    assert rec.goals == [{"time": figure((2 * TICKS_PER_DECISION + 3) / TICK_RATE), "team": "blue", "scorer": 0,
                          "own_goal": False, "ball": [12.3, 5200.1, 93.0]}]
    for r in rows:  # one rounding rule: no figure has more decimals than figure() keeps
        assert all(v == figure(v) for v in r.values() if isinstance(v, float))
    assert rec.trajectories()["segment"].tolist() == [0, 0, 1, 1]
    record = rec.record()
    assert record["actions"].tolist() == [[3, 4], [5, 6], [7, 8], [9, 10]]
    assert record["frames"].cars.shape == (4, 2, CAR_FIELDS) and record["frames"].cars[2, 0, BOOST] == 100


def _result() -> dict:
    d, n = 6, 3
    cars = np.zeros((d, n, 3), np.float32)
    cars[:, :, 0] = np.arange(d)[:, None] * 100
    rows = [{"car": 0, "team": "blue", "style": "Posix"}, {"car": 1, "team": "blue", "style": "Posix:0.5,Nadir:0.5"},
            {"car": 2, "team": "orange", "style": "Nadir"}]
    return {"blue": ["Posix", "Posix:0.5,Nadir:0.5"], "orange": ["Nadir"], "score": {"blue": 1, "orange": 0},
            "cars": rows, "goals": [{"time": 3.2, "team": "blue", "scorer": 0, "own_goal": False, "ball": [0.0, 5200.0, 93.0]}],
            "trajectories": {"time": np.arange(d) * DECISION_SECONDS, "ball": np.zeros((d, 3)), "cars": cars,
                             "present": np.ones((d, n), bool), "segment": np.array([0, 0, 0, 1, 1, 1])}}


def test_pitch_svg_has_a_legend_for_every_car_and_the_ball():
    root = ET.fromstring(pitch_svg(_result()))
    legend = root.find(f".//{SVG}g[@id='legend']")
    texts = [t.text for t in legend.iter(f"{SVG}text")]
    assert "car 0 blue Posix" in texts and "car 1 blue Posix:0.5,Nadir:0.5" in texts and "car 2 orange Nadir" in texts
    assert "ball" in texts
    samples = legend.findall(f"{SVG}polyline")
    cars = [root.find(f".//{SVG}g[@id='car{c}']/{SVG}polyline") for c in range(3)]
    # each car's legend sample is drawn as its path is, and two cars of a team differ
    for sample, path in zip(samples, cars):
        assert (sample.get("stroke"), sample.get("stroke-dasharray")) == (path.get("stroke"), path.get("stroke-dasharray"))
    assert (cars[0].get("stroke"), cars[0].get("stroke-dasharray")) != (cars[1].get("stroke"), cars[1].get("stroke-dasharray"))
    assert len(root.find(f".//{SVG}g[@id='ball']").findall(f"{SVG}polyline")) == 2  # broken at the kickoff
