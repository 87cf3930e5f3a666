"""A style reward for fine-tuning in play: how much a car's moment looks like its person's.

The KL term of :mod:`~playas.rocket.finetune` keeps each style's choice of action near its clone's
at the states the car visits, but not which states it visits: a fine-tuned car can pick its
person's actions and still drive a game nobody would take for theirs (slower, on the ground,
always at the ball). Adversarial motion priors (AMP, Peng et al. 2021) and GAIL pay a policy for
transitions a discriminator cannot tell from the demonstrations'. Here one classifier learns
``K + 1`` classes of transitions: each person's own, from their replays, and the simulated cars'
(every style together). For a car driving style ``k``, ``logit_k - logit_sim + log K`` estimates
``log p_k(s, s') / p_sim(s, s')`` (batches hold as many simulated transitions as replayed, spread
evenly over the people): how much likelier person ``k`` is to make this move than a simulated
car. Its softplus (AMP's bounded form), capped at :data:`CAP`, is the reward.

What it sees is the car's own state and the ball's at two consecutive decisions (the first
:data:`FEATURES` observation features, :func:`~playas.rocket.frames.observe`): not teammates or
opponents, since the replays' 2v2 and 3v3 hold teammates the 1v1 practice never has (a giveaway
that would teach nothing), nor the pads (rebuilt in replays, exact in RocketSim).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FEATURES = 40  # ball (18), the ball relative to the car (3), the car itself (19)
CAP = 5.0


def replay_moves(data, names: list[str], games=None) -> tuple[np.ndarray, np.ndarray]:
    """Every consecutive pair of decisions in ``data`` (in ``games`` where given) by a player
    named in ``names``, as transitions (M, 2 * FEATURES) float16 and the index of the player's
    style (M,). A pair never spans a restart of the history (a kickoff, a return to the pitch)."""
    style_of = {n: i for i, n in enumerate(names)}
    player_style = np.array([style_of.get(p, -1) for p in data.players], np.int64)
    i = np.arange(len(data) - 1)
    keep = (data.seq[i] == data.seq[i + 1]) & (data.history_start[i] == data.history_start[i + 1])
    keep &= player_style[data.player[i]] >= 0
    if games is not None:
        keep &= np.isin(data.game[i], np.asarray(list(games)))
    i = np.flatnonzero(keep)
    obs = data.obs
    moves = np.empty((len(i), 2 * FEATURES), np.float16)
    for a in range(0, len(i), 200_000):  # the arrays are memory-mapped: read in slices
        j = i[a:a + 200_000]
        moves[a:a + len(j), :FEATURES] = obs[j, :FEATURES]
        moves[a:a + len(j), FEATURES:] = obs[j + 1, :FEATURES]
    return moves, player_style[data.player[i]]


class StyleDiscriminator(nn.Module):
    """Transitions (N, 2 * FEATURES) to K + 1 logits: each style's person, then "simulated"."""

    def __init__(self, styles: int, hidden: int = 256):
        super().__init__()
        self.styles = styles
        self.net = nn.Sequential(nn.Linear(2 * FEATURES, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, styles + 1))

    def forward(self, moves: torch.Tensor) -> torch.Tensor:
        return self.net(moves)

    @torch.no_grad()
    def reward(self, moves: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """(N,) in [0, CAP]: softplus of the estimated log-ratio, person ``style`` over simulated."""
        logits = self(moves)
        ratio = logits.gather(1, style[:, None])[:, 0] - logits[:, -1] + math.log(self.styles)
        return F.softplus(ratio).clamp(max=CAP)


class StyleReward:
    """The discriminator, its optimizer and the people's transitions; :meth:`learn` after each
    rollout on that rollout's simulated transitions. Styles with no replay transitions earn 0."""

    def __init__(self, moves: np.ndarray, style: np.ndarray, styles: int, recipe: dict, seed: int = 0):
        self.r = recipe
        self.moves = moves
        self.by_style = [np.flatnonzero(style == k) for k in range(styles)]
        self.known = np.array([len(b) > 0 for b in self.by_style])
        if not self.known.any():
            raise ValueError("no replay transitions of any style")
        self.net = StyleDiscriminator(styles)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=recipe["lr"], weight_decay=1e-4)
        self.rng = np.random.default_rng(seed)

    def __call__(self, moves: np.ndarray, style: np.ndarray) -> np.ndarray:
        r = self.net.reward(torch.from_numpy(np.asarray(moves, np.float32)), torch.from_numpy(style)).numpy()
        return np.where(self.known[style], r, 0.0).astype(np.float32)

    def _people(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        styles = self.rng.choice(np.flatnonzero(self.known), n)
        rows = np.array([self.by_style[k][self.rng.integers(len(self.by_style[k]))] for k in styles])
        return np.asarray(self.moves[rows], np.float32), styles

    def learn(self, simulated: np.ndarray) -> dict:
        """``steps`` gradient steps, each on ``batch`` simulated transitions drawn from ``simulated``
        and as many of the people's; the mean loss and how often it named the class right."""
        r, k = self.r, self.net.styles
        loss_sum = right = seen = 0.0
        for _ in range(r["steps"]):
            sim = simulated[self.rng.integers(len(simulated), size=r["batch"])]
            real, who = self._people(r["batch"])
            x = torch.from_numpy(np.concatenate([sim, real]).astype(np.float32))
            x = x + r["noise"] * torch.randn_like(x)  # instance noise: no edge from a last decimal
            y = torch.from_numpy(np.concatenate([np.full(len(sim), k), who]))
            logits = self.net(x)
            loss = F.cross_entropy(logits, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss_sum += float(loss.detach())
            right += float((logits.argmax(1) == y).sum())
            seen += len(y)
        return {"style_loss": loss_sum / max(r["steps"], 1), "style_acc": right / max(seen, 1)}

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, st: dict) -> None:
        self.net.load_state_dict(st["net"])
        self.optimizer.load_state_dict(st["optimizer"])
        self.rng.bit_generator.state = st["rng"]
