"""The one decision interface every Rocket League bot calls: :class:`Driver`.

A driver is a style (a player, a blend, steered or not) merged into the policy once, so each
decision costs what the base network costs. It keeps each car's last decisions (the policy's
window) and turns what a car sees, from any source (:mod:`playas.rocket.sources`: RLGym
``GameState``, RLBot ``GamePacket``; or :class:`~playas.rocket.frames.Frames`), into the 8
controls of one of RLGym's 90 actions. Decide every 8 physics ticks (15 a second) and hold the
action between decisions, as the replays were cut.

A car's history is what training's windows are (:meth:`~playas.rocket.dataset.RocketData.windows`):
its observations since the history began, each with the action it took the decision before
(:data:`~playas.rocket.model.NO_ACTION` for the first). It begins again where the dataset's does
(:func:`~playas.rocket.dataset.restarts`): at a kickoff (every caller resets the driver then) and
when the car comes back to the pitch (a car off it is forgotten here).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch

from ..shipped import driving_model
from .actions import TABLE
from .frames import OBS_SIZE, Frames, observe
from .model import NO_ACTION, check_strength, decision_logits, decisions, load_person, load_styled
from .vocabulary import TEMPERATURE

COAST = int(np.flatnonzero(~TABLE.any(1))[0])  # no input at all: what a car off the pitch is given


class Driver:
    """``Driver(style="Posix").act(frames, car)`` -> the car's 8 controls.

    ``temperature`` 1 samples the policy's own distribution (seeded by ``seed``), as a person's play
    varies; 0 takes the most likely action, which can leave a car standing where the replays hold
    few moments like it (a stopped car by a still ball). A model paired with its person policy
    (``playas rocket pair``) acts by both, :func:`~playas.rocket.model.decision_logits` at
    ``strength`` (0: the person policy alone, 1: the play policy alone). Left out, ``temperature``
    and ``strength`` are the model card's ``decisions`` (temperature 1 and strength 1 where it says none).
    """

    def __init__(self, model=None, style: str | None = None, steer: dict | None = None,
                 temperature: float | None = None, seed: int = 0, strength: float | None = None):
        styled, blob = load_styled(model or driving_model("rocket"))
        self.style = style or "mean"
        z = styled.table.resolve(style, steer)
        self.net = styled.merged_base(z).eval()
        person = load_person(styled, blob)
        self.person = person.merged_base(z).eval() if person is not None else None
        self.told = decisions(blob)
        self.where = str(model or "the shipped model")
        self.configure(temperature, strength)
        self.context = self.net.config.context
        self.rng = torch.Generator().manual_seed(seed)
        self.history: dict = {}  # car -> its last decisions: (what it saw, the action before)
        self.last: dict = {}  # car -> its last action

    def configure(self, temperature: float | None = None, strength: float | None = None) -> None:
        """Set how the driver samples; None is the model card's (else temperature 1, strength 1)."""
        check_strength(strength, self.person is not None, self.where)
        if temperature is None:
            temperature = TEMPERATURE if self.told["temperature"] is None else self.told["temperature"]
        self.temperature = float(temperature)
        self.strength = self.told["strength"] if strength is None else float(strength)

    def reset(self, key=None) -> None:
        """Forget one car's history (``key``), or every car's (a new match, a kickoff)."""
        if key is None:
            self.history.clear()
            self.last.clear()
        else:
            self.history.pop(key, None)
            self.last.pop(key, None)

    def decide(self, frames: Frames, cars, keys=None, t: int = -1) -> np.ndarray:
        """Action indices (len(cars),) for cars ``cars`` of ``frames`` at moment ``t``; ``keys``
        name each car's history (default: its index). A car off the pitch (demolished) is given
        :data:`COAST` and its history forgotten, so it starts anew on its return, as in training."""
        keys = list(cars) if keys is None else list(keys)
        t = t if t >= 0 else len(frames) + t
        on = [bool(frames.present[t, c]) for c in cars]
        for k in (k for k, here in zip(keys, on) if not here):
            self.reset(k)
        out = np.full(len(cars), COAST, np.int64)
        live = np.flatnonzero(on)
        if len(live):
            out[live] = self._policy(frames, t, [cars[n] for n in live], [keys[n] for n in live])
        return out

    @torch.no_grad()
    def _policy(self, frames: Frames, t: int, cars: list, keys: list) -> np.ndarray:
        """The policy's actions for cars on the pitch, each window extended by moment ``t``."""
        obs = np.zeros((len(cars), self.context, OBS_SIZE), np.float32)
        prev = np.full((len(cars), self.context), NO_ACTION, np.int64)
        valid = np.zeros((len(cars), self.context), bool)
        for n, (c, k) in enumerate(zip(cars, keys)):
            h = self.history.setdefault(k, deque(maxlen=self.context))
            h.append((observe(frames, t, c), self.last.get(k, NO_ACTION)))
            m = len(h)
            obs[n, -m:] = np.stack([o for o, _ in h])
            prev[n, -m:] = [a for _, a in h]
            valid[n, -m:] = True
        h = self.net.hidden(torch.from_numpy(obs), torch.from_numpy(prev), torch.from_numpy(valid))
        person = self.person.top(h) if self.person is not None and self.strength < 1 else None
        logits = decision_logits(self.net.top(h), person, self.strength)
        if self.temperature > 0:
            actions = torch.multinomial(torch.softmax(logits / self.temperature, -1), 1, generator=self.rng)[:, 0]
        else:
            actions = logits.argmax(-1)
        for k, a in zip(keys, actions.tolist()):
            self.last[k] = a
        return actions.numpy()

    def act(self, frames: Frames, car: int, key=None) -> np.ndarray:
        """The 8 controls (throttle, steer, pitch, yaw, roll, jump, boost, handbrake) of one car."""
        return TABLE[self.decide(frames, [car], None if key is None else [key])[0]]
