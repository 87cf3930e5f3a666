"""playas as RLGym v2 components: an observation, an action parser, an env, and a styled driver.

- :class:`PlayasObs` (an ``ObsBuilder``): each agent's playas features, the same
  :func:`~playas.rocket.frames.observe` vector the styled policies are trained on (144 float32,
  ``OBS_SIZE``; relative to the car, orange's world turned so every player attacks +y; the last
  34 are the boost pads' timers, as ``DefaultObs`` has them). With ``window=k`` it keeps each
  agent's last ``k`` vectors and returns them flattened (oldest first, zeros before the
  episode's start): ``k * 144``.
- :class:`PlayasAction` (an ``ActionParser``): an index 0..89 -> the 8 controls of RLGym's
  ``LookupTableAction`` table (:data:`~playas.rocket.actions.TABLE` is that table).
- :func:`make_env`: ``RLGym`` over ``RocketSimEngine`` with ``PlayasObs``,
  ``RepeatAction(PlayasAction(), 8)`` (a decision every 8 ticks, 15 a second, as the replays were
  cut), goal + touch reward, ``GoalCondition`` termination, timeout / no-touch truncation, and a
  kickoff (``MutatorSequence(FixedTeamSizeMutator, KickoffMutator)``).
- :class:`StyledAgent`: a :class:`~playas.rocket.agent.Driver` (a style of the shipped model)
  driving cars of the env: ``act(env.state) -> {agent_id: np.array([index])}``. It reads the
  ``GameState`` (not the obs) and keeps its own window of what each car saw and did before, so it
  works beside any obs builder; it forgets that window by itself when an episode restarts.

Your own learner on the same env: observations are ``{agent_id: np.ndarray (144,) float32}``,
actions ``{agent_id: np.array([i])}`` with ``i`` in ``range(90)`` (``env.action_space(a) ==
('discrete', 90)``, ``env.observation_space(a) == ('real', 144)``)::

    env = make_env(team_size=1)
    rival = StyledAgent("Posix", team=1)           # playas drives orange
    obs = env.reset()
    while True:
        actions = {"blue-0": np.array([my_policy(obs["blue-0"])]), **rival.act(env.state)}
        obs, rewards, terminated, truncated = env.step(actions)
        learn(obs["blue-0"], rewards["blue-0"], ...)
        if any(terminated.values()) or any(truncated.values()):
            obs = env.reset()

Wrap ``make_env`` in a gym adapter (e.g. rlgym-ppo's ``env_create_function``) the same way as
any RLGym v2 env. The styled policy itself wants a window of observations *and* its previous
actions; to fine-tune it with RL, feed it from ``Driver.history`` rather than from the obs.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from rlgym.api import ActionParser, ObsBuilder, RLGym
from rlgym.rocket_league.action_parsers import RepeatAction
from rlgym.rocket_league.done_conditions import (
    AnyCondition,
    GoalCondition,
    NoTouchTimeoutCondition,
    TimeoutCondition,
)
from rlgym.rocket_league.reward_functions import CombinedReward, GoalReward, TouchReward
from rlgym.rocket_league.sim import RocketSimEngine
from rlgym.rocket_league.state_mutators import (
    FixedTeamSizeMutator,
    KickoffMutator,
    MutatorSequence,
)

from ..rocket.actions import TABLE
from ..rocket.frames import OBS_SIZE, observe
from ..rocket.sources import frame_from_state
from ..rocket.vocabulary import TICKS_PER_DECISION

N_ACTIONS = len(TABLE)  # 90


class PlayasObs(ObsBuilder):
    """Each agent's playas features (:func:`~playas.rocket.frames.observe`), ``window * OBS_SIZE``
    float32; ``window`` 1 (the default) is the current moment only."""

    def __init__(self, window: int = 1):
        super().__init__()
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self.history: dict[Any, deque] = {}

    def get_obs_space(self, agent) -> tuple[str, int]:
        return "real", self.window * OBS_SIZE

    def reset(self, agents, initial_state, shared_info) -> None:
        self.history = {a: deque(maxlen=self.window) for a in agents}

    def build_obs(self, agents, state, shared_info) -> dict[Any, np.ndarray]:
        frames, ids = frame_from_state(state)
        index = {a: i for i, a in enumerate(ids)}
        obs = {}
        for agent in agents:
            features = observe(frames, 0, index[agent])
            if self.window == 1:
                obs[agent] = features
                continue
            h = self.history.setdefault(agent, deque(maxlen=self.window))
            h.append(features)
            out = np.zeros((self.window, OBS_SIZE), np.float32)
            out[self.window - len(h):] = np.stack(h)
            obs[agent] = out.reshape(-1)
        return obs


class PlayasAction(ActionParser):
    """An action index 0..89 -> the 8 controls (throttle, steer, pitch, yaw, roll, jump, boost,
    handbrake) of RLGym's ``LookupTableAction`` table. Takes an int, shape (1,), (ticks,) or
    (ticks, 1), as ``LookupTableAction`` does."""

    def __init__(self):
        super().__init__()
        self.table = np.asarray(TABLE, np.float64)

    def get_action_space(self, agent) -> tuple[str, int]:
        return "discrete", N_ACTIONS

    def reset(self, agents, initial_state, shared_info) -> None:
        pass

    def parse_actions(self, actions, state, shared_info) -> dict[Any, np.ndarray]:
        parsed = {}
        for agent, action in actions.items():
            a = np.asarray(action, np.int64)
            if a.ndim == 2:
                if a.shape[1] != 1:
                    raise ValueError(f"expected action indices of shape (ticks, 1), got {a.shape}")
                a = a[:, 0]
            elif a.ndim > 2:
                raise ValueError(f"expected action indices, got shape {a.shape}")
            parsed[agent] = self.table[a]
        return parsed


def make_env(team_size: int = 1, orange_size: int | None = None, *, window: int = 1,
             tick_skip: int = TICKS_PER_DECISION, timeout_seconds: float = 300.0, no_touch_seconds: float = 30.0,
             reward=None, rlbot_delay: bool = True) -> RLGym:
    """An RLGym v2 env of ``team_size`` blue cars against ``orange_size`` (default the same)
    orange cars in RocketSim, from a kickoff: obs :class:`PlayasObs` (``window``), actions
    ``RepeatAction(PlayasAction(), tick_skip)``, reward ``reward`` (default goal 10, touch 0.1),
    terminated on a goal, truncated after ``timeout_seconds`` or ``no_touch_seconds`` without a
    touch (0 or None: no such limit)."""
    truncations = [TimeoutCondition(timeout_seconds)] if timeout_seconds else []
    if no_touch_seconds:
        truncations.append(NoTouchTimeoutCondition(no_touch_seconds))
    orange = team_size if orange_size is None else orange_size
    return RLGym(
        state_mutator=MutatorSequence(FixedTeamSizeMutator(blue_size=team_size, orange_size=orange), KickoffMutator()),
        obs_builder=PlayasObs(window),
        action_parser=RepeatAction(PlayasAction(), repeats=tick_skip),
        reward_fn=reward if reward is not None else CombinedReward((GoalReward(), 10.0), (TouchReward(), 0.1)),
        transition_engine=RocketSimEngine(rlbot_delay=rlbot_delay),
        termination_cond=GoalCondition(),
        truncation_cond=AnyCondition(*truncations) if truncations else None,
    )


class StyledAgent:
    """A style driving cars of an RLGym v2 env: ``StyledAgent("Posix").act(env.state)`` ->
    ``{agent_id: np.array([action_index])}``, ready for ``env.step``.

    ``agents`` (ids) or ``team`` (0 blue, 1 orange) limit which cars it drives (default: all).
    ``driver`` reuses a :class:`~playas.rocket.agent.Driver`; otherwise one is made from
    ``model``, ``style``, ``steer``, ``temperature``, ``strength``, ``seed`` (None: as the model's card says). ``threads`` sets torch's thread
    count (as the project's other bots do; 1: a batch of a few cars is fastest on one thread, about
    5x faster than two here; None leaves it alone). Call :meth:`act` once per env step
    (a decision every 8 ticks, as the policy was trained); it resets its history itself when the
    state's tick count goes back or the cars change (a new episode: a kickoff), or on :meth:`reset`;
    a demolished car's history is forgotten by the driver (it gets no input until it is back).
    """

    def __init__(self, style: str | None = None, *, agents=None, team: int | None = None, model=None,
                 steer: dict | None = None, temperature: float | None = None, seed: int = 0, driver=None,
                 threads: int | None = 1, strength: float | None = None):
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        if driver is None:
            from ..rocket.agent import Driver  # torch: only when a style drives

            driver = Driver(model=model, style=style, steer=steer, temperature=temperature, seed=seed,
                            strength=strength)
        self.driver = driver
        self.agents = None if agents is None else set(agents)
        self.team = team
        self._tick = None
        self._ids = None

    @property
    def style(self) -> str:
        return self.driver.style

    def reset(self) -> None:
        """Forget every car's history (a new episode)."""
        self.driver.reset()
        self._tick = self._ids = None

    def decide(self, state) -> dict[Any, int]:
        """Action indices of the cars it drives in ``state`` (an RLGym v2 ``GameState``)."""
        frames, ids = frame_from_state(state)
        tick = getattr(state, "tick_count", None)
        if self._ids is not None and (ids != self._ids or (tick is not None and self._tick is not None
                                                           and tick <= self._tick)):
            self.driver.reset()
        self._tick, self._ids = tick, ids
        cars = [i for i, a in enumerate(ids)
                if (self.agents is None or a in self.agents)
                and (self.team is None or int(frames.team[i]) == self.team)]
        if not cars:
            return {}
        keys = [ids[i] for i in cars]
        return dict(zip(keys, (int(a) for a in self.driver.decide(frames, cars, keys=keys))))

    def act(self, state) -> dict[Any, np.ndarray]:
        """``{agent_id: np.array([action_index])}`` for ``env.step`` (with :class:`PlayasAction` or
        RLGym's ``LookupTableAction``)."""
        return {a: np.array([i]) for a, i in self.decide(state).items()}
