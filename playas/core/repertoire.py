"""A person's own choices in the exact situations they met: their repertoire.

The style vector routes a shared network, which generalises; the repertoire remembers. For each
player it counts the actions they took in each situation they met (in chess, each opening
position by its polyglot key). A style's distribution combines them in two levels, each a
smoothed posterior over the one below (the backoff of n-gram language models):

    p_all(a | x, s) = (N(x, a) + k_net * p_net(a | x, s)) / (N(x) + k_net)
    p(a | x, s)     = (n_s(x, a) + k * p_all(a | x, s)) / (n_s(x) + k)

``n_s`` counts the style's own players, ``N`` everyone's; where nobody met ``x`` the routed
network ``p_net`` answers alone. The middle level matters most for a person known from few
games: where they have not been, everyone's choices there say more than the network, and the
same for every candidate person, so a rival met in many games gains nothing from having been
there. ``k`` and ``k_net``, each level's prior weight in counts, are fitted on held-out games
(:func:`fit_prior_weight`). Blends mix the own counts by the blend weights; steering acts on the
network, so where many games were counted it moves the opening little.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

import numpy as np
import torch

PRIOR_WEIGHTS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)  # the k and k_net tried by fit_prior_weight


class Repertoire:
    """Counts of (situation key, player, action), sorted by key; keys are non-zero int64."""

    def __init__(self, keys=(), players=(), actions=(), counts=(), prior_weight: float = 4.0, depth: int | None = None,
                 network_weight: float | None = 4.0):
        self.keys = np.asarray(keys, np.int64)
        self.players = np.asarray(players, np.int32)
        self.actions = np.asarray(actions, np.int32)
        self.counts = np.asarray(counts, np.int32)
        self.prior_weight = float(prior_weight)  # k: everyone's level, in the person's counts
        # k_net: the network, in everyone's counts; None: no middle level (models before it)
        self.network_weight = None if network_weight is None else float(network_weight)
        self.depth = depth  # how deep into a game situations were counted (chess: plies), for the record

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def count(cls, keys, players, actions, **kwargs) -> "Repertoire":
        """Tally events (one per decision); events with key 0 (no situation) are left out."""
        keys, players, actions = (np.asarray(a, np.int64) for a in (keys, players, actions))
        keep = keys != 0
        events = np.stack([keys[keep], players[keep], actions[keep]], 1)
        if not len(events):
            return cls(**kwargs)
        uniq, counts = np.unique(events, axis=0, return_counts=True)  # sorted by key, then player, action
        return cls(uniq[:, 0], uniq[:, 1], uniq[:, 2], counts, **kwargs)

    def add(self, other: "Repertoire") -> None:
        """Add ``other``'s counts to these (a newly enrolled player's games)."""
        keys, players, actions, counts = (np.concatenate([getattr(self, k), getattr(other, k)])
                                          for k in ("keys", "players", "actions", "counts"))
        order = np.lexsort((actions, players, keys))  # far quicker than a unique over rows
        keys, players, actions, counts = keys[order], players[order], actions[order], counts[order]
        first = np.ones(len(keys), bool)  # where a new (key, player, action) begins
        first[1:] = (np.diff(keys) != 0) | (np.diff(players) != 0) | (np.diff(actions) != 0)
        starts = np.flatnonzero(first)
        self.keys, self.players, self.actions = keys[starts], players[starts], actions[starts]
        self.counts = np.add.reduceat(counts, starts).astype(np.int32) if len(starts) else counts

    def reach(self, limit: int | None = None) -> int | None:
        """How deep into a game the counts decide: their own depth, or ``limit`` if shallower."""
        depths = [d for d in (self.depth, limit) if d is not None]
        return min(depths) if depths else None

    # --- reading -------------------------------------------------------------------------------
    def _span(self, key: int) -> slice:
        lo = np.searchsorted(self.keys, key, "left")
        return slice(lo, np.searchsorted(self.keys, key, "right"))

    def actions_at(self, key: int, weights: np.ndarray | None) -> dict[int, float]:
        """A style's counts at situation ``key``: each player's counts times their weight in the
        style (``weights``, one per player; a single player is a one-hot; None: everyone's)."""
        span = self._span(np.int64(key))
        out: dict[int, float] = {}
        for p, a, c in zip(self.players[span], self.actions[span], self.counts[span]):
            w = 1.0 if weights is None else weights[p] if p < len(weights) else 0.0
            if w:
                out[int(a)] = out.get(int(a), 0.0) + float(w) * int(c)
        return out

    def counts_at(self, key: int, weights: np.ndarray) -> tuple[dict[int, float], dict[int, float]]:
        """The two levels' counts at situation ``key`` from one lookup: the style's (as
        :meth:`actions_at`) and everyone's."""
        span = self._span(np.int64(key))
        own: dict[int, float] = {}
        everyone: dict[int, float] = {}
        for p, a, c in zip(self.players[span].tolist(), self.actions[span].tolist(), self.counts[span].tolist()):
            everyone[a] = everyone.get(a, 0.0) + c
            w = float(weights[p]) if p < len(weights) else 0.0
            if w:
                own[a] = own.get(a, 0.0) + w * c
        return own, everyone

    def lookup(self, keys, actions, players: int) -> "Counts":
        """For decisions (``keys``, ``actions``): each of ``players`` players' count of that action
        there and of all actions there, and everyone's."""
        keys, actions = np.asarray(keys, np.int64), np.asarray(actions, np.int64)
        n_xa = np.zeros((players, len(keys)), np.float32)
        n_x = np.zeros((players, len(keys)), np.float32)
        all_xa, all_x = np.zeros(len(keys), np.float32), np.zeros(len(keys), np.float32)
        lo, hi = np.searchsorted(self.keys, keys, "left"), np.searchsorted(self.keys, keys, "right")
        for j in np.flatnonzero((hi > lo) & (keys != 0)):
            p, a, c = self.players[lo[j]:hi[j]], self.actions[lo[j]:hi[j]], self.counts[lo[j]:hi[j]]
            same = a == actions[j]
            all_x[j], all_xa[j] = c.sum(), c[same].sum()
            mine = p < players
            np.add.at(n_x[:, j], p[mine], c[mine])
            np.add.at(n_xa[:, j], p[same & mine], c[same & mine])
        return Counts(*(torch.from_numpy(x) for x in (n_xa, n_x, all_xa, all_x)))

    def mix(self, n_a, n, all_a, all_n, p_net, weights: tuple[float, float | None] | None = None):
        """The combined model's probability of actions the style's players chose ``n_a`` times in a
        situation they met ``n`` times (everyone: ``all_a`` of ``all_n``), whose network probability
        is ``p_net`` (arrays or tensors, broadcast). ``weights``: (k, k_net), default the fitted."""
        k, k_net = (self.prior_weight, self.network_weight) if weights is None else weights
        p_all = p_net if k_net is None else (all_a + k_net * p_net) / (all_n + k_net)
        return (n_a + k * p_all) / (n + k)

    def logliks(self, net_logliks: torch.Tensor, counts: "Counts", weights=None) -> torch.Tensor:
        """Log-likelihoods under the combined model, from the network's (players, decisions) or
        (decisions,) and the :class:`Counts` of those decisions."""
        return torch.log(self.mix(*counts, net_logliks.exp(), weights))

    # --- storage -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The counts compressed (zlib; keys stored as sorted differences), about 7 bytes an entry
        where plain arrays take 20: a shipped model's repertoire holds millions. Level 1: level 6
        saves 3% for three times the time of writing a model (1.8 s against 0.5 s here)."""
        n = len(self.keys)
        if n and max(self.players.max(), self.actions.max(), self.counts.max()) > 65535:
            raise ValueError("a repertoire stores players, actions and counts below 65,536")
        deltas = np.diff(self.keys.view(np.uint64), prepend=np.uint64(0))
        arrays = {"keys": deltas, **{k: getattr(self, k).astype(np.uint16) for k in ("players", "actions", "counts")}}
        packed = {k: torch.frombuffer(bytearray(zlib.compress(np.ascontiguousarray(v).tobytes(), 1)), dtype=torch.uint8)
                  for k, v in arrays.items()}
        return {"entries": n, "packed": packed, "prior_weight": self.prior_weight, "depth": self.depth,
                "network_weight": self.network_weight}

    @classmethod
    def from_dict(cls, d: dict) -> "Repertoire":
        def unpack(k, dtype):
            return np.frombuffer(zlib.decompress(d["packed"][k].numpy().tobytes()), dtype=dtype)

        keys = np.cumsum(unpack("keys", np.uint64), dtype=np.uint64).view(np.int64)  # wraps as it was stored
        return cls(keys, *(unpack(k, np.uint16) for k in ("players", "actions", "counts")), d["prior_weight"],
                   d.get("depth"), d.get("network_weight"))


class Counts(NamedTuple):
    """Counts at some decisions: each player's (rows; or one player's, gathered) and everyone's."""
    action: torch.Tensor  # times the player chose the decision's action in its situation
    situation: torch.Tensor  # times the player met that situation
    all_action: torch.Tensor  # the same over everyone
    all_situation: torch.Tensor

    def of(self, rows: torch.Tensor) -> "Counts":
        """Each decision's counts for its own player ``rows[i]``."""
        return Counts(self.action.gather(0, rows[None])[0], self.situation.gather(0, rows[None])[0],
                      self.all_action, self.all_situation)

    def select(self, mask: torch.Tensor) -> "Counts":
        """The decisions where ``mask`` holds."""
        return Counts(self.action[..., mask], self.situation[..., mask], self.all_action[mask], self.all_situation[mask])


def fit_prior_weight(repertoire: Repertoire, net_logliks: torch.Tensor, counts: Counts,
                     weights=PRIOR_WEIGHTS) -> tuple[tuple[float, float], dict]:
    """The (k, k_net) that give held-out decisions the highest mean log-likelihood under the
    combined model (each decision under its own player's style: ``counts`` gathered), and the
    score of every pair tried, keyed ``"k/k_net"``."""
    scores = {(k, k_net): float(repertoire.logliks(net_logliks, counts, (k, k_net)).mean())
              for k in weights for k_net in weights}
    best = max(scores, key=scores.get)
    return best, {f"{k:g}/{k_net:g}": v for (k, k_net), v in scores.items()}
