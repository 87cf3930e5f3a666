"""Closed-loop fine-tuning of the styled policy: PPO in RocketSim, held near each style by a KL term.

Behaviour cloning alone does not drive in closed loop: small errors compound into states the
replays never show. Ripple, HR-PPO (arXiv 2403.19648) and piKL (arXiv 2112.07544) fine-tune the
cloned policy with reinforcement learning and a KL penalty toward it, which keeps the person's
habits while the car learns to reach the ball and score. This module does that for every style
at once:

- **Episodes** (:class:`Practice`) run in many 1v1 arenas (:class:`~playas.rocket.arenas.Arenas`),
  from a seeded kickoff or a moment of a real game (:mod:`~playas.rocket.starts`). Each car is
  given a style drawn from the table per episode (so every style learns), and the opponent is
  either another style (self-play: both cars learn) or the scripted ATBA.
- **A paired model** (:func:`~playas.rocket.model.pair`) learns through its pair: the car acts by
  person^(1 - strength) x play^strength, the person policy frozen, so the play policy learns the
  correction the mix needs rather than a policy good on its own; every term below (PPO, KL, bc)
  is taken on the mix, and the model written is paired the same way.
- **What learns**: the part of the network a style changes (:meth:`RocketNet.top`: the last
  block's MLP with its MHR adapters, the final norm, the head) and a value head. Everything below
  is frozen, so each decision's window runs through it once, while playing, and PPO's passes cost
  only the top. Style rows stay as they were: a style is still the same person.
- **The objective**: PPO's clipped surrogate, a value loss, and ``kl`` times KL(policy || the
  cloned policy of the same style), computed exactly over the 90 actions. That KL is taken where the
  car drives, and it lets the policy drop a person's rarer moves (a jump, a boost) at no cost; ``bc``
  adds the cross-entropy of the people's own moves at moments of their replays (as DAPG and
  AlphaStar keep a supervised term), so each style still predicts its person where people drive.
- **Rewards** (:class:`Rewards`): goals (and conceding), touching the ball, saves, the ball's
  velocity toward the opponent's goal, the car's velocity toward the ball; optionally the boost
  it holds (``save_boost``) and moves its person would make (``style``).

:func:`train_play` checkpoints every ``checkpoint_seconds`` and resumes from the state file, so a
run longer than a session continues where it stopped.
"""

from __future__ import annotations

import contextlib
import copy
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core import checkpoint, config
from ..core.config import number, section, setting, whole
from ..core.mhr import MHRModel, routing_weights
from ..core.progress import Progress
from .arenas import Arenas, Start
from .frames import OBS_SIZE, observe
from .model import NO_ACTION, ROCKET, decision_logits, decisions, load_person, same_trunk, top_part
from .scripted import ATBA
from .style_reward import FEATURES, StyleReward, replay_moves
from .vocabulary import BACK_WALL, BOOST, DECISIONS_PER_SECOND, POS, VEL

MAX_BALL_SPEED, MAX_CAR_SPEED = 6000.0, 2300.0


@dataclass
class Rewards:
    """What a car is paid for, each decision (its team's view: scoring is good, conceding bad)."""

    goal: float = setting(10.0, number(), "a goal scored by the car's team (minus this when conceded)")
    touch: float = setting(2.0, number(), "touching the ball")
    save: float = setting(3.0, number(), "a save")
    ball_to_goal: float = setting(0.05, number(), "the ball's velocity toward the opponent's goal (at top speed)")
    to_ball: float = setting(0.1, number(), "the car's velocity toward the ball (at top speed)")
    save_boost: float = setting(0.0, number(0), "the square root of the car's tank (0 to 1) each decision "
                                "(RLGym's SaveBoostReward: people rarely drive on an empty tank; 0: off)")
    style: float = setting(0.0, number(0), "how much the car's move looks like its person's (playas.rocket."
                           "style_reward, 0 to 5 a decision; 0: off)")


@dataclass
class DiscriminatorRecipe:
    """The style reward's discriminator (used where ``rewards.style`` > 0)."""

    steps: int = setting(8, whole(1), "its gradient steps after each rollout")
    batch: int = setting(1024, whole(1), "simulated transitions a step (and as many of the people's)")
    lr: float = setting(3e-4, number(0), "its Adam learning rate")
    noise: float = setting(0.01, number(0), "instance noise added to its inputs (feature units)")


@dataclass
class PlayRecipe:
    """``playas rocket train-play``'s recipe (configs/rocket-play.yml)."""

    agent_steps: int = setting(20_000_000, whole(1), "decisions of learning cars in all")
    arenas: int = setting(96, whole(1), "1v1 arenas played at once")
    horizon: int = setting(64, whole(1), "decisions each arena plays between updates")
    epochs: int = setting(4, whole(1), "PPO passes over each batch")
    minibatch: int = setting(2048, whole(1), "decisions a gradient step")
    lr: float = setting(1e-3, number(0), "Adam's learning rate")
    clip: float = setting(0.2, number(0), "PPO's ratio clip")
    gamma: float = setting(0.99, number(0, 1), "discount a decision (0.99: about 7 s ahead)")
    lam: float = setting(0.95, number(0, 1), "GAE's lambda")
    kl: float = setting(0.02, number(0), "weight of KL(policy || the cloned style)")
    bc: float = setting(0.0, number(0), "weight of the cross-entropy of the people's own moves in their replays "
                        "(the model's training games): keeps each style human where people drive; 0: off")
    bc_decisions: int = setting(1_000_000, whole(1), "replay decisions kept for it (each window runs through the "
                                "frozen layers once, at the start)")
    bc_batch: int = setting(512, whole(1), "the people's decisions beside each minibatch")
    entropy: float = setting(0.0, number(0), "entropy bonus")
    value_coef: float = setting(0.5, number(0), "weight of the value loss")
    replay_starts: float = setting(0.5, number(0, 1), "share of episodes begun from a real game's moment")
    atba: float = setting(0.5, number(0, 1), "share of episodes against ATBA (the rest: two styles)")
    episode_seconds: float = setting(20.0, number(1), "an episode's length at most (a goal ends it sooner)")
    starts_per_game: int = setting(400, whole(1), "moments taken from each replay for starts")
    rewards: Rewards = section(Rewards, "what a car is paid for")
    discriminator: DiscriminatorRecipe = section(DiscriminatorRecipe, "the style reward's discriminator")
    seed: int = setting(0, whole(0), "the seed of every random choice")


def play_recipe(values=None, where="recipe") -> dict:
    """The fine-tuning recipe: ``values`` checked against :class:`PlayRecipe`, over its defaults."""
    return config.recipe(PlayRecipe, (values, where))


# --- the learner -------------------------------------------------------------------------------

class Learner(nn.Module):
    """The styled policy being fine-tuned, its frozen cloned copy, a value head, and (for a paired
    model) the frozen person policy the car also acts by, at ``strength``."""

    def __init__(self, styled: MHRModel, anchor: MHRModel | None = None, person: MHRModel | None = None,
                 strength: float = 1.0):
        super().__init__()
        self.policy = styled
        self.cloned = copy.deepcopy(anchor if anchor is not None else styled).eval().requires_grad_(False)
        self.person = person.eval().requires_grad_(False) if person is not None else None
        self.strength = strength
        width = styled.base.config.width
        self.value = nn.Sequential(nn.Linear(width, 256), nn.ReLU(), nn.Linear(256, 1))
        styled.requires_grad_(False)
        for m in top_part(styled.base):  # what fine-tuning changes
            m.requires_grad_(True)

    def trainable(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    @torch.no_grad()
    def hidden(self, obs, prev, valid) -> torch.Tensor:
        """The frozen part's output for each window (N, width): the same for both copies."""
        return self.policy.base.hidden(obs, prev, valid)

    def logits(self, h, style, cloned: bool = False, person: torch.Tensor | None = None) -> torch.Tensor:
        """Action logits (N, 90) the car acts by, for windows ``h`` under each one's style row
        ``style`` (N,): the policy's, mixed with the person policy's where there is one (``person``:
        its logits, if already known); with ``cloned``, the frozen cloned policy's."""
        if cloned:
            return _top(self.cloned, h, style)
        if self.person is None:
            return _top(self.policy, h, style)
        if person is None:
            person = self.person_logits(h, style)
        return decision_logits(_top(self.policy, h, style), person, self.strength)

    @torch.no_grad()
    def person_logits(self, h, style) -> torch.Tensor | None:
        """The frozen person policy's logits (N, 90), None for a model that is not paired. They
        never change, so a rollout keeps them for every pass of PPO over it."""
        return _top(self.person, h, style) if self.person is not None else None


def _top(model: MHRModel, h, style) -> torch.Tensor:
    with model.router.use(routing_weights(model.table.z.detach()[style], False)):
        return model.base.top(h)


# --- the episodes ------------------------------------------------------------------------------

class Practice:
    """The arenas and their episodes: each car's style, who learns, and what each car has seen."""

    def __init__(self, rsim, recipe: dict, styles: int, starts: tuple[np.ndarray, np.ndarray], context: int,
                 obs_size: int, rng: np.random.Generator):
        n = recipe["arenas"]
        self.r, self.rng, self.n, self.styles = recipe, rng, n, styles
        self.arenas = Arenas(rsim, n)
        self.starts = starts
        self.style = np.zeros((n, 2), np.int64)
        self.learns = np.ones((n, 2), bool)
        self.obs = np.zeros((n, 2, context, obs_size), np.float32)
        self.prev = np.full((n, 2, context), NO_ACTION, np.int64)
        self.seen = np.zeros((n, 2), np.int64)  # decisions of this episode in each car's window
        self.age = np.zeros(n, np.int64)
        self.limit = round(recipe["episode_seconds"] * DECISIONS_PER_SECOND)
        self.atba = ATBA()
        self.frames = None
        self.relook = False  # the last look was a rollout's final one: the next decision reuses it
        for i in range(n):
            self.begin(i)
            self.age[i] = rng.integers(self.limit)  # episodes out of step, so resets spread out

    def begin(self, i: int) -> None:
        """A new episode in arena ``i``: its start, its two styles, its opponent; windows cleared."""
        r, rng = self.r, self.rng
        ball, cars = self.starts
        if len(ball) and rng.random() < r["replay_starts"]:
            k = rng.integers(len(ball))
            start = Start(int(rng.integers(2**31)), ball[k], cars[k])
        else:
            start = Start(int(rng.integers(2**31)))
        self.arenas.reset(i, start)
        self.style[i] = rng.integers(self.styles, size=2)
        self.learns[i] = True
        if rng.random() < r["atba"]:
            self.learns[i, rng.integers(2)] = False
        self.seen[i] = 0
        self.prev[i] = NO_ACTION
        self.age[i] = 0

    def look(self) -> None:
        """Every car's view now joins its window (oldest first)."""
        if self.relook:
            self.relook = False
            return
        f = self.frames = self.arenas.frames()
        every = np.arange(self.n)
        self.obs[:, :, :-1] = self.obs[:, :, 1:]
        self.obs[:, 0, -1], self.obs[:, 1, -1] = observe(f, every, 0), observe(f, every, 1)
        self.seen = np.minimum(self.seen + 1, self.obs.shape[2])

    def windows(self):
        """The learning cars' windows as tensors (obs, prev, valid), cars in (arena, car) order."""
        m = self.learns
        ctx = self.obs.shape[2]
        valid = np.arange(ctx)[None, None, :] >= ctx - self.seen[..., None]
        return (torch.from_numpy(self.obs[m]), torch.from_numpy(self.prev[m]), torch.from_numpy(valid[m]))

    def scripted(self) -> np.ndarray:
        """ATBA's action for every car (n, 2); used where a car does not learn."""
        return np.stack([self.atba.decide_all(self.frames, 0), self.atba.decide_all(self.frames, 1)], 1)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Play ``actions`` (n, 2) for one decision: rewards (n, 2), ended (n,), truncated (n,),
        and counts of what happened. Ended arenas begin a new episode."""
        ev = self.arenas.step(actions)
        self.prev[:, :, :-1] = self.prev[:, :, 1:]
        self.prev[:, :, -1] = actions
        after = self.arenas.frames()
        rewards = self._rewards(after, ev)
        if self.r["rewards"]["style"] > 0:  # each car's move, before ended arenas begin again
            every = np.arange(self.n)
            self.moves = np.concatenate([self.obs[:, :, -1, :FEATURES], np.stack(
                [observe(after, every, c)[:, :FEATURES] for c in (0, 1)], 1)], -1)
        self.age += 1
        truncated = (self.age >= self.limit) & (ev.goal < 0)
        ended = (ev.goal >= 0) | truncated
        for i in np.flatnonzero(ended):
            self.begin(i)
        counts = {"goals": int((ev.goal >= 0).sum()), "touches": int(ev.touched[self.learns].sum())}
        return rewards, ended, truncated, counts

    def _rewards(self, after, ev) -> np.ndarray:
        w = self.r["rewards"]
        team = np.array([0, 1])
        attack = np.where(team == 0, 1.0, -1.0)  # blue attacks +y
        scored = np.where(ev.goal[:, None] < 0, 0.0, np.where(ev.goal[:, None] == team[None], 1.0, -1.0))
        ball_p, ball_v = after.ball[:, POS], after.ball[:, VEL]
        goal_pos = np.stack([np.zeros(2), attack * BACK_WALL, np.zeros(2)], -1)  # (2, 3) each team's target
        to_goal = goal_pos[None] - ball_p[:, None]
        to_goal /= np.linalg.norm(to_goal, axis=-1, keepdims=True) + 1e-6
        ball_to_goal = (to_goal * ball_v[:, None]).sum(-1) / MAX_BALL_SPEED
        to_ball = ball_p[:, None] - after.cars[:, :, POS]
        to_ball /= np.linalg.norm(to_ball, axis=-1, keepdims=True) + 1e-6
        car_to_ball = (to_ball * after.cars[:, :, VEL]).sum(-1) / MAX_CAR_SPEED
        tank = np.sqrt(np.clip(after.cars[:, :, BOOST], 0, 100) / 100)
        return (w["goal"] * scored + w["touch"] * ev.touched + w["save"] * ev.saved
                + w["ball_to_goal"] * ball_to_goal + w["to_ball"] * car_to_ball
                + w["save_boost"] * tank).astype(np.float32)

    def close(self) -> None:
        self.arenas.close()


# --- playing and learning ----------------------------------------------------------------------

@dataclass
class Batch:
    """One rollout of the learning cars, flattened: every tensor has a row per decision."""

    h: torch.Tensor
    style: torch.Tensor
    action: torch.Tensor
    logp: torch.Tensor
    cloned_logp: torch.Tensor
    advantage: torch.Tensor
    ret: torch.Tensor
    person: torch.Tensor | None = None  # the person policy's logits, for a paired model


def _rows(t: torch.Tensor | None, i) -> torch.Tensor | None:
    return None if t is None else t[i]


class PeopleMoves:
    """The people's own decisions for the ``bc`` term: each window's frozen hidden state (computed
    once: those layers never change), its style row and the action the person took."""

    def __init__(self, learner: Learner, data, rows: np.ndarray, style: np.ndarray, rng: np.random.Generator,
                 progress: bool = True):
        context = learner.policy.base.config.context
        hs = []
        with Progress(len(rows), "replay windows", unit="decisions", quiet=not progress) as bar:
            for a in range(0, len(rows), 4096):
                hs.append(learner.hidden(*data.windows(rows[a:a + 4096], context)))
                bar.update(len(hs[-1]))
        self.h = torch.cat(hs)
        self.style = torch.from_numpy(style)
        # the person policy's logits (a paired model), once: float32, 360 bytes a decision
        self.person = (torch.cat([learner.person_logits(self.h[a:a + 4096], self.style[a:a + 4096])
                                  for a in range(0, len(rows), 4096)]) if learner.person is not None else None)
        self.action = torch.from_numpy(np.asarray(data.action[rows], np.int64))
        self.rng = rng

    def __len__(self) -> int:
        return len(self.action)

    def loss(self, learner: Learner, n: int) -> torch.Tensor:
        """The policy's cross-entropy on ``n`` of the people's decisions drawn at random."""
        i = torch.from_numpy(self.rng.integers(len(self), size=n))
        return F.cross_entropy(learner.logits(self.h[i], self.style[i], person=_rows(self.person, i)), self.action[i])


def _policy_step(learner: Learner, practice: Practice, gen: torch.Generator):
    """The learning cars' hidden windows, styles, sampled actions, their log-probabilities, the
    cloned policy's log-probabilities and the values; and every car's action (n, 2)."""
    practice.look()
    h = learner.hidden(*practice.windows())
    style = torch.from_numpy(practice.style[practice.learns])
    with torch.no_grad():
        person = learner.person_logits(h, style)
        logp = F.log_softmax(learner.logits(h, style, person=person), -1)
        cloned = F.log_softmax(learner.logits(h, style, cloned=True), -1)
        value = learner.value(h)[:, 0]
    action = torch.multinomial(logp.exp(), 1, generator=gen)[:, 0]
    actions = practice.scripted()
    actions[practice.learns] = action.numpy()
    return (h, style, action, logp.gather(1, action[:, None])[:, 0], cloned, value, person), actions


def rollout(learner: Learner, practice: Practice, r: dict, gen: torch.Generator,
            style_reward: StyleReward | None = None) -> tuple[Batch, dict]:
    """``horizon`` decisions of every arena, with GAE advantages. A car's slot may change hands at
    an episode's end (a learner becomes ATBA's car): GAE stops at every end, so that is safe.
    With ``style_reward``, each learning car's moves are paid what it says, then it learns from them."""
    n, T = practice.n, r["horizon"]
    rec = {k: [] for k in ("h", "style", "action", "logp", "cloned", "value", "person", "mask")}
    moves = []
    rewards, ended, truncated = (np.zeros((T, n, 2), np.float32), np.zeros((T, n), bool), np.zeros((T, n), bool))
    counts = {"goals": 0, "touches": 0}
    values = torch.zeros(T + 1, n, 2)
    for t in range(T):
        (h, style, action, logp, cloned, value, person), actions = _policy_step(learner, practice, gen)
        mask = practice.learns.copy()
        for k, v in zip(rec, (h, style, action, logp, cloned, value, person, mask)):
            rec[k].append(v)
        values[t][torch.from_numpy(mask)] = value
        rewards[t], ended[t], truncated[t], c = practice.step(actions)
        if style_reward is not None:
            moves.append(practice.moves[mask])
        for k in counts:
            counts[k] += c[k]
    if style_reward is not None:
        moves = np.concatenate(moves)
        paid = style_reward(moves, torch.cat(rec["style"]).numpy())
        rewards[np.stack(rec["mask"])] += r["rewards"]["style"] * paid
        counts.update(style_reward.learn(moves), style_reward=float(paid.mean()))
    practice.look()  # the state after the last decision, for its value (the next rollout reuses it)
    practice.relook = True
    with torch.no_grad():
        values[T][torch.from_numpy(practice.learns)] = learner.value(learner.hidden(*practice.windows()))[:, 0]
    adv = _gae(torch.from_numpy(rewards), values, torch.from_numpy(ended), torch.from_numpy(truncated), r)
    masks = torch.from_numpy(np.stack(rec["mask"]))
    ret = (adv + values[:T])[masks]
    batch = Batch(torch.cat(rec["h"]), torch.cat(rec["style"]), torch.cat(rec["action"]), torch.cat(rec["logp"]),
                  torch.cat(rec["cloned"]), adv[masks], ret,
                  torch.cat(rec["person"]) if learner.person is not None else None)
    counts["reward"] = float(rewards[np.stack(rec["mask"])].mean())
    return batch, counts


def _gae(rewards, values, ended, truncated, r) -> torch.Tensor:
    """Generalised advantage estimates (T, n, 2). A truncated episode is not an end of the game:
    its last reward is topped up with the discounted value of the state it stopped in."""
    T = rewards.shape[0]
    g, lam = r["gamma"], r["lam"]
    rewards = rewards + g * values[:T] * truncated[..., None]
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[0])
    for t in reversed(range(T)):
        live = (~ended[t]).float()[..., None]
        delta = rewards[t] + g * values[t + 1] * live - values[t]
        last = delta + g * lam * live * last
        adv[t] = last
    return adv


def update(learner: Learner, optimizer: torch.optim.Optimizer, b: Batch, r: dict, gen: torch.Generator,
           people: PeopleMoves | None = None) -> dict:
    """PPO's passes over one rollout (and, with ``people``, their moves' cross-entropy beside each
    minibatch); the means of the losses, the KL to the cloned policy and the clipped share."""
    n = len(b.action)
    sums = {"policy": 0.0, "value": 0.0, "kl": 0.0, "entropy": 0.0, "clipped": 0.0}
    if people is not None:
        sums["bc"] = 0.0
    steps = 0
    # normalised over the whole rollout: a minibatch of the remainder can hold one decision, whose
    # std is NaN (a 10 M-step run died of it at 5.6 M)
    advantage = (b.advantage - b.advantage.mean()) / (b.advantage.std() + 1e-8) if n > 1 else b.advantage * 0
    for _ in range(r["epochs"]):
        for idx in torch.randperm(n, generator=gen).split(r["minibatch"]):
            logp_all = F.log_softmax(learner.logits(b.h[idx], b.style[idx], person=_rows(b.person, idx)), -1)
            logp = logp_all.gather(1, b.action[idx][:, None])[:, 0]
            adv = advantage[idx]
            ratio = (logp - b.logp[idx]).exp()
            policy = -torch.min(ratio * adv, ratio.clamp(1 - r["clip"], 1 + r["clip"]) * adv).mean()
            value = F.mse_loss(learner.value(b.h[idx])[:, 0], b.ret[idx])
            p = logp_all.exp()
            kl = (p * (logp_all - b.cloned_logp[idx])).sum(-1).mean()
            entropy = -(p * logp_all).sum(-1).mean()
            loss = policy + r["value_coef"] * value + r["kl"] * kl - r["entropy"] * entropy
            if people is not None:
                bc = people.loss(learner, r["bc_batch"])
                loss = loss + r["bc"] * bc
                sums["bc"] += float(bc.detach())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(learner.trainable(), 1.0)
            optimizer.step()
            for k, v in (("policy", policy), ("value", value), ("kl", kl), ("entropy", entropy),
                         ("clipped", ((ratio - 1).abs() > r["clip"]).float().mean())):
                sums[k] += float(v.detach())
            steps += 1
    return {k: v / max(steps, 1) for k, v in sums.items()}


# --- the run -----------------------------------------------------------------------------------

def _resume(state_path: Path, learner: Learner, optimizer, rng: np.random.Generator, gen: torch.Generator,
            style_reward: StyleReward | None) -> dict:
    """The run's progress so far ({steps, seconds, history}), restoring the learner from
    ``state_path`` when it exists. Arenas are not saved: a resumed run starts fresh episodes."""
    if not state_path.exists():
        return {"steps": 0, "seconds": 0.0, "history": []}
    st = torch.load(state_path, map_location="cpu", weights_only=False)
    kept = learner.load_state_dict(_learning(st["learner"]), strict=False)
    if [k for k in kept.missing_keys + kept.unexpected_keys if not k.startswith("person.")]:
        raise RuntimeError(f"{state_path} is the state of another learner: {kept}")
    optimizer.load_state_dict(st["optimizer"])
    rng.bit_generator.state = st["rng"]
    gen.set_state(st["gen"])
    if style_reward is not None and "style_reward" in st:
        style_reward.load_state_dict(st["style_reward"])
    print(f"resuming from {state_path}: {st['progress']['steps']:,} agent steps", flush=True)
    return st["progress"]


def _learning(state: dict) -> dict:
    """A learner's state without the person policy: frozen, it is read again from the model file."""
    return {k: v for k, v in state.items() if not k.startswith("person.")}


def _save_state(state_path: Path, learner, optimizer, rng, gen, progress: dict, style_reward=None) -> None:
    tmp = state_path.with_suffix(".tmp")
    st = {"learner": _learning(learner.state_dict()), "optimizer": optimizer.state_dict(), "rng": rng.bit_generator.state,
          "gen": gen.get_state(), "progress": progress}
    if style_reward is not None:
        st["style_reward"] = style_reward.state_dict()
    torch.save(st, tmp)
    os.replace(tmp, state_path)


@contextlib.contextmanager
def _torch_threads():
    """Torch on ``PLAYAS_THREADS`` threads (default: every core) while fine-tuning; playing and
    learning take turns, so the arenas' threads and torch's never run at once."""
    threads = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("PLAYAS_THREADS", os.cpu_count() or 1)))
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_play(model, replays, out, recipe: dict | None = None, checkpoint_seconds: float = 120.0,
               progress: bool = True, data=None, anchor=None) -> dict:
    """Fine-tune styled ``model`` in RocketSim (see the module's docstring) and write it to ``out``,
    a styled model like any other. Episodes start from moments of ``replays`` (files) and from
    kickoffs. The KL term holds each style near its style in ``anchor`` (default: ``model`` itself;
    a model already fine-tuned goes on held near the cloned styles it came from). The style reward
    (``rewards.style`` > 0) learns from the prepared dataset ``data`` (default: the one the model's
    card names). Resumes from ``out``'s ``.train-state`` file. Returns the card written."""
    from .match import _rocketsim
    from .starts import replay_starts

    r = play_recipe(recipe)
    out = Path(out)
    styled, blob = checkpoint.load_styled(model, ROCKET)
    held = _anchor(styled, anchor) if anchor is not None else None
    person = load_person(styled, blob)
    learner = Learner(styled, held, person, decisions(blob)["strength"])
    if person is not None and progress:
        print(f"{model} is paired: learning through its person policy at strength {learner.strength:g}", flush=True)
    optimizer = torch.optim.Adam(learner.trainable(), lr=r["lr"])
    rng, gen = np.random.default_rng(r["seed"]), torch.Generator().manual_seed(r["seed"])
    state_path = out.with_suffix(".train-state")
    people_data = _people_data(blob, data) if r["rewards"]["style"] > 0 or r["bc"] > 0 else None
    judge = _style_reward(styled, *people_data, r) if r["rewards"]["style"] > 0 else None
    done = _resume(state_path, learner, optimizer, rng, gen, judge)
    people = _people_moves(learner, *people_data, r, progress) if r["bc"] > 0 else None
    if anchor is not None:
        done["anchor"] = Path(anchor).name
    starts = replay_starts(list(replays), out.parent / f"{out.stem}.starts", r["starts_per_game"], r["seed"],
                           progress) if r["replay_starts"] > 0 else (np.empty((0, 9)), np.empty((0, 2, 16)))
    c = styled.base.config
    practice = Practice(_rocketsim(), r, len(styled.table), starts, c.context, OBS_SIZE, rng)
    learner.train()
    last_save = begun = time.monotonic()
    seconds0 = done["seconds"]
    try:
        with _torch_threads(), Progress(r["agent_steps"], "train-play", unit="agent steps",
                                           quiet=not progress) as bar:
            bar.resume(done["steps"])
            while done["steps"] < r["agent_steps"]:
                t0 = time.monotonic()
                batch, counts = rollout(learner, practice, r, gen, judge)
                t1 = time.monotonic()
                losses = update(learner, optimizer, batch, r, gen, people)
                n = len(batch.action)
                done["steps"] += n
                done["seconds"] = seconds0 + time.monotonic() - begun
                record = {"steps": done["steps"], **{k: round(v, 4) for k, v in losses.items()},
                          "reward": round(counts["reward"], 4),
                          "touches_per_min": round(counts["touches"] / (n / DECISIONS_PER_SECOND / 60), 2),
                          **{k: round(counts[k], 4) for k in ("style_reward", "style_acc") if k in counts},
                          "goals": counts["goals"], "play_s": round(t1 - t0, 2), "learn_s": round(time.monotonic() - t1, 2)}
                done["history"].append(record)
                bar.update(n, kl=f"{losses['kl']:.3f}", touches=record["touches_per_min"],
                           steps_per_s=f"{n / (time.monotonic() - t0):,.0f}")
                if time.monotonic() - last_save > checkpoint_seconds:
                    _save_state(state_path, learner, optimizer, rng, gen, done, judge)
                    last_save = time.monotonic()
    except KeyboardInterrupt:
        _save_state(state_path, learner, optimizer, rng, gen, done, judge)
        print(f"\ninterrupted: state saved to {state_path}; run again to resume", flush=True)
        raise
    finally:
        practice.close()
    _save_state(state_path, learner, optimizer, rng, gen, done, judge)
    return _write(out, learner, blob, r, done)


def _anchor(styled: MHRModel, path) -> MHRModel:
    """The styled model at ``path`` the KL term holds ``styled`` near: the same players, and the same
    frozen layers (the part fine-tuning never changes), so both read a window the same way."""
    from ..core.errors import PlayasError

    held, _ = checkpoint.load_styled(path, ROCKET)
    if held.table.names != styled.table.names:
        raise PlayasError(f"{path} has other players than the model: it cannot anchor its styles")
    if not same_trunk(styled, held):
        raise PlayasError(f"{path} is not the model this one was fine-tuned from (its frozen layers differ)")
    return held


def _people_data(blob: dict, data):
    """The prepared replays the people are learned from (``data``, or the dataset the model's card
    names) and the games of it the model trained on: its split's training games where the card's
    data is this dataset (so a held-out game stays held out), else every game."""
    from .dataset import RocketData

    card = blob["card"]
    path = Path(data if data is not None else card["data"]["path"])
    if not path.is_absolute() and not path.exists():
        path = Path(__file__).resolve().parents[2] / path  # a shipped card's path is the repository's
    d = RocketData.open(path)
    same = d.manifest.get("input_hash") == card.get("data", {}).get("input_hash")
    games = card.get("split", {}).get("train") if same else None
    return d, path, games


def _style_reward(styled: MHRModel, d, path: Path, games, r: dict) -> StyleReward:
    """The style reward over the people's transitions in the training games of ``d``."""
    from ..core.errors import PlayasError

    moves, style = replay_moves(d, styled.table.names, games)
    if not len(moves):
        raise PlayasError(f"{path} holds no replays of the model's players: the style reward has nothing to learn from")
    return StyleReward(moves, style, len(styled.table), r["discriminator"], r["seed"])


def _people_moves(learner: Learner, d, path: Path, games, r: dict, progress: bool) -> PeopleMoves:
    """``bc_decisions`` of the people's decisions in the training games of ``d``, drawn evenly
    over the model's players (each style keeps its person, however few their games)."""
    from ..core.errors import PlayasError
    from ..core.learning import table_rows

    player_style = table_rows(learner.policy, d.players).numpy()
    rows = d.rows(games=games)
    rows = rows[player_style[d.player[rows]] >= 0]
    if not len(rows):
        raise PlayasError(f"{path} holds no replays of the model's players: the bc term has nothing to learn from")
    style = player_style[d.player[rows]]
    rng = np.random.default_rng(r["seed"])
    share = r["bc_decisions"] / len(np.unique(style))  # as many of each player's as that allows
    keep = np.concatenate([rng.permutation(np.flatnonzero(style == k))[:max(1, round(share))] for k in np.unique(style)])
    keep = np.sort(keep)
    return PeopleMoves(learner, d, rows[keep], style[keep], np.random.default_rng(r["seed"] + 1), progress)


def _write(out: Path, learner: Learner, blob: dict, r: dict, done: dict) -> dict:
    """The fine-tuned styled model, its card saying how it was made. The state file stays: the
    same command with more ``agent_steps`` continues the run (still held near the cloned styles)."""
    hist = done["history"]
    tail = hist[-20:]
    earlier = blob["card"].get("fine_tune")  # a model fine-tuned again keeps how it was made before
    paired = learner.person is not None  # the pair goes on: same person policy, same decisions
    copied = {k: v for k, v in checkpoint.card_for_copy(blob).items() if paired or k not in ("decisions", "person")}
    kind = "styled, fine-tuned in play through its person policy" if paired else "styled, fine-tuned in play"
    card = {**copied, "kind": kind,
            "fine_tune": {"recipe": r, **({"anchor": done["anchor"]} if "anchor" in done else {}),
                          **({"earlier": earlier} if earlier else {}),
                          "agent_steps": done["steps"], "wall_seconds": round(done["seconds"], 1),
                          "agent_steps_per_second": round(done["steps"] / max(done["seconds"], 1e-9)),
                          "updates": len(hist), "play_seconds": round(sum(h["play_s"] for h in hist), 2),
                          "learn_seconds": round(sum(h["learn_s"] for h in hist), 2),
                          "last": {k: round(float(np.mean([h[k] for h in tail])), 4) for k in tail[0]
                                   if k != "steps"} if tail else {}}}
    learner.eval()
    checkpoint.save_model(out, ROCKET, learner.policy, card, blob.get("extra") if paired else None)
    return card
