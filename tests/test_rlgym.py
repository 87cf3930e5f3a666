"""playas as RLGym v2 components (playas.bots.rlgym): a real RocketSim env, styled drivers.

The env is built by :func:`make_env` exactly as a user's learner would get it, and driven for
~20 s of game time by the shipped styled model, a different style on each side; observations,
car motion, and the env's own transitions (goal / timeout, then reset) are checked.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("RocketSim")
pytest.importorskip("rlgym.rocket_league.sim")

from rlgym.rocket_league.action_parsers import LookupTableAction, RepeatAction

from playas.bots.rlgym import N_ACTIONS, PlayasAction, PlayasObs, StyledAgent, make_env
from playas.rocket.frames import OBS_SIZE
from playas.rocket.vocabulary import CONTROLS, TICKS_PER_DECISION

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "rocket-replays.pt"
needs_model = pytest.mark.skipif(not SHIPPED.exists(), reason="the shipped Rocket League model is not built")
STYLES = ("Posix", "Nadir")
STEPS = 300  # 300 decisions * 8 ticks / 120 Hz = 20 s


def test_action_table_is_rlgyms_lookup_table():
    ours, theirs = PlayasAction(), LookupTableAction()
    assert ours.get_action_space("blue-0") == theirs.get_action_space("blue-0") == ("discrete", N_ACTIONS)
    np.testing.assert_array_equal(ours.table, LookupTableAction.make_lookup_table())
    idx = np.arange(N_ACTIONS)
    for shape in ((N_ACTIONS,), (N_ACTIONS, 1)):
        a = {"x": idx.reshape(shape)}
        np.testing.assert_array_equal(ours.parse_actions(a, None, {})["x"], theirs.parse_actions(a, None, {})["x"])
    repeated = RepeatAction(PlayasAction(), TICKS_PER_DECISION).parse_actions({"x": np.array([7]), "y": 7}, None, {})
    assert repeated["x"].shape == repeated["y"].shape == (TICKS_PER_DECISION, len(CONTROLS))
    assert (repeated["x"] == LookupTableAction.make_lookup_table()[7]).all()


def test_obs_window_keeps_each_agents_history():
    env = make_env(team_size=1, window=3)
    assert env.observation_space("blue-0") == ("real", 3 * OBS_SIZE)
    obs = env.reset()
    first = obs["blue-0"].reshape(3, OBS_SIZE)
    assert (first[:2] == 0).all() and np.abs(first[2]).sum() > 0
    obs2, *_ = env.step({a: np.array([2]) for a in env.agents})  # throttle forward
    second = obs2["blue-0"].reshape(3, OBS_SIZE)
    np.testing.assert_array_equal(second[1], first[2])
    assert not np.array_equal(second[2], second[1])
    env.reset()
    assert isinstance(env.obs_builder, PlayasObs) and len(env.obs_builder.history["blue-0"]) == 1


def drive(env, drivers, steps: int):
    """Steps ``env`` with ``drivers`` controlling every car, resetting when an episode ends.
    Returns what happened."""
    obs = env.reset()
    seen = {"episodes": 1, "ends": 0, "moved": set(), "max_speed": 0.0, "shapes": set(), "finite": True,
            "rewards": 0.0}
    start = {a: c.physics.position.copy() for a, c in env.state.cars.items()}
    t0 = time.perf_counter()
    for _ in range(steps):
        actions = {}
        for d in drivers:
            actions.update(d.act(env.state))
        assert set(actions) == set(env.agents)
        assert all(a.shape == (1,) and 0 <= a[0] < N_ACTIONS for a in actions.values())
        obs, rewards, terminated, truncated = env.step(actions)
        seen["shapes"] |= {o.shape for o in obs.values()}
        seen["finite"] &= all(np.isfinite(o).all() for o in obs.values())
        seen["rewards"] += sum(rewards.values())
        for a, car in env.state.cars.items():
            seen["max_speed"] = max(seen["max_speed"], float(np.linalg.norm(car.physics.linear_velocity)))
            if np.linalg.norm(car.physics.position - start[a]) > 500:
                seen["moved"].add(a)
        assert set(terminated) == set(truncated) == set(env.agents)
        if any(terminated.values()) or any(truncated.values()):
            seen["ends"] += 1
            seen["episodes"] += 1
            env.reset()
            start = {a: c.physics.position.copy() for a, c in env.state.cars.items()}
    seen["steps_per_second"] = steps / (time.perf_counter() - t0)
    return seen


@needs_model
@pytest.mark.parametrize("team_size", [1, 2])
def test_styled_agents_drive_a_real_env(team_size):
    env = make_env(team_size=team_size, timeout_seconds=12.0, no_touch_seconds=None)
    assert env.action_space("blue-0") == ("discrete", N_ACTIONS)
    assert env.observation_space("orange-0") == ("real", OBS_SIZE)
    drivers = [StyledAgent(STYLES[0], team=0), StyledAgent(STYLES[1], team=1)]
    assert [d.style for d in drivers] == list(STYLES)
    seen = drive(env, drivers, STEPS)
    print(f"\n{team_size}v{team_size}: {seen['steps_per_second']:.0f} env steps/s with playas driving every car, "
          f"{seen['episodes']} episodes")
    assert seen["shapes"] == {(OBS_SIZE,)} and seen["finite"]
    assert seen["max_speed"] > 500
    assert seen["moved"] == set(env.agents)  # every car went somewhere
    assert seen["ends"] >= 1  # a 12 s timeout (or a goal) ended at least one episode, then reset
    for d in drivers:  # each driver's history restarted with the episode, one car per key
        assert set(d.driver.history) <= set(env.agents)
        assert all(len(h) <= d.driver.context for h in d.driver.history.values())


@needs_model
def test_styled_agent_forgets_on_a_new_episode():
    env = make_env(team_size=1)
    agent = StyledAgent(STYLES[0], agents=["blue-0"])
    env.reset()
    for _ in range(5):
        acts = agent.act(env.state)
        assert set(acts) == {"blue-0"}
        env.step({**acts, "orange-0": np.array([0])})
    assert len(agent.driver.history["blue-0"]) == min(5, agent.driver.context)
    env.reset()
    agent.act(env.state)
    assert len(agent.driver.history["blue-0"]) == 1


def _coast() -> int:
    from tests.rocketsim_car import action

    return action()


COAST = _coast()  # every control at rest


def _hold_in_env(action: int, decisions: int = 2) -> dict:
    """The blue car of a 1v1 env, settled on the floor away from the kickoff, holding ``action``
    through the env's own action parser for ``decisions`` steps."""
    from tests.rocketsim_car import START_BOOST

    env = make_env(team_size=1, timeout_seconds=None, no_touch_seconds=None, rlbot_delay=False)
    env.reset()
    car = env.state.cars["blue-0"]
    car.physics.position = np.array([0.0, -2000.0, 17.0], np.float32)
    car.physics.linear_velocity = np.zeros(3, np.float32)
    car.physics.angular_velocity = np.zeros(3, np.float32)
    car.boost_amount = START_BOOST
    env.transition_engine.set_state(env.state, {})
    env.step({"blue-0": np.array([COAST]), "orange-0": np.array([COAST])})  # settle on the wheels
    before = env.state.cars["blue-0"]
    z0, boost0 = float(before.physics.position[2]), float(before.boost_amount)
    for _ in range(decisions):
        env.step({"blue-0": np.array([action]), "orange-0": np.array([COAST])})
    after = env.state.cars["blue-0"]
    return {"rise": float(after.physics.position[2]) - z0, "boost_used": boost0 - float(after.boost_amount),
            "speed": float(np.linalg.norm(after.physics.linear_velocity))}


def test_jump_lifts_and_boost_drains_through_the_env():
    """The RLGym path: an action index through ``RepeatAction(PlayasAction())`` into RocketSim."""
    from tests.rocketsim_car import BOOST_ACTION, JUMP_ACTION, THROTTLE_ACTION

    jump, boost, throttle = _hold_in_env(JUMP_ACTION), _hold_in_env(BOOST_ACTION), _hold_in_env(THROTTLE_ACTION)
    assert jump["rise"] > 30 and jump["boost_used"] == 0
    assert boost["boost_used"] > 3 and throttle["boost_used"] == 0
    assert boost["speed"] > 1.3 * throttle["speed"] > 0
