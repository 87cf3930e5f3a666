"""A person's own choices in the exact situations they met: their repertoire.

The style vector routes a shared network, which generalises; the repertoire remembers. For each
player it counts the actions they took in each situation they met (in chess, each opening
position by its polyglot key). A style's distribution combines the two as a smoothed posterior
with the routed network as its prior:

    p(a | x, s) = (n_s(x, a) + k * p_net(a | x, s)) / (n_s(x) + k)

where the player met ``x`` (``n_s(x) > 0``), else ``p_net``. ``k``, the prior's weight in
counts, is fitted on held-out games (:func:`fit_prior_weight`). Blends mix the counts by the blend
weights; steering acts on the prior.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

PRIOR_WEIGHTS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)  # the k tried by fit_prior_weight


class Repertoire:
    """Counts of (situation key, player, action), sorted by key; keys are non-zero int64."""

    def __init__(self, keys=(), players=(), actions=(), counts=(), prior_weight: float = 4.0, depth: int | None = None):
        self.keys = np.asarray(keys, np.int64)
        self.players = np.asarray(players, np.int32)
        self.actions = np.asarray(actions, np.int32)
        self.counts = np.asarray(counts, np.int32)
        self.prior_weight = float(prior_weight)
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
        events = np.concatenate([np.stack([self.keys, self.players, self.actions], 1).astype(np.int64),
                                 np.stack([other.keys, other.players, other.actions], 1).astype(np.int64)])
        counts = np.concatenate([self.counts, other.counts])
        uniq, inverse = np.unique(events, axis=0, return_inverse=True)
        total = np.bincount(inverse.reshape(-1), weights=counts, minlength=len(uniq)).astype(np.int32)
        self.keys, self.players, self.actions, self.counts = uniq[:, 0], uniq[:, 1].astype(np.int32), \
            uniq[:, 2].astype(np.int32), total

    def reach(self, limit: int | None = None) -> int | None:
        """How deep into a game the counts decide: their own depth, or ``limit`` if shallower."""
        depths = [d for d in (self.depth, limit) if d is not None]
        return min(depths) if depths else None

    # --- reading -------------------------------------------------------------------------------
    def _span(self, key: int) -> slice:
        lo = np.searchsorted(self.keys, key, "left")
        return slice(lo, np.searchsorted(self.keys, key, "right"))

    def actions_at(self, key: int, weights: np.ndarray) -> dict[int, float]:
        """A style's counts at situation ``key``: each player's counts times their weight in the
        style (``weights``, one per player; a single player is a one-hot)."""
        span = self._span(np.int64(key))
        out: dict[int, float] = {}
        for p, a, c in zip(self.players[span], self.actions[span], self.counts[span]):
            w = weights[p] if p < len(weights) else 0.0
            if w:
                out[int(a)] = out.get(int(a), 0.0) + float(w) * int(c)
        return out

    def lookup(self, keys, actions, players: int) -> tuple[torch.Tensor, torch.Tensor]:
        """For decisions (``keys``, ``actions``): every player's count of that action there, and of
        all actions there: two (players, decisions) tensors."""
        keys, actions = np.asarray(keys, np.int64), np.asarray(actions, np.int64)
        n_xa = np.zeros((players, len(keys)), np.float32)
        n_x = np.zeros((players, len(keys)), np.float32)
        lo, hi = np.searchsorted(self.keys, keys, "left"), np.searchsorted(self.keys, keys, "right")
        for j in np.flatnonzero((hi > lo) & (keys != 0)):
            p, a, c = self.players[lo[j]:hi[j]], self.actions[lo[j]:hi[j]], self.counts[lo[j]:hi[j]]
            np.add.at(n_x[:, j], p, c)
            same = a == actions[j]
            np.add.at(n_xa[:, j], p[same], c[same])
        return torch.from_numpy(n_xa), torch.from_numpy(n_x)

    def mix(self, n_a, n, p_net, prior_weight: float | None = None):
        """The combined model's probability of actions counted ``n_a`` times in a situation met
        ``n`` times, with the network's probability ``p_net`` (arrays or tensors, broadcast)."""
        k = self.prior_weight if prior_weight is None else prior_weight
        return (n_a + k * p_net) / (n + k)

    def logliks(self, net_logliks: torch.Tensor, n_xa: torch.Tensor, n_x: torch.Tensor,
                prior_weight: float | None = None) -> torch.Tensor:
        """Log-likelihoods under the combined model, from the network's (any shape) and the counts."""
        k = self.prior_weight if prior_weight is None else prior_weight
        return torch.log(n_xa + k * net_logliks.exp()) - torch.log(n_x + k)

    # --- storage -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The counts compressed (zlib; keys stored as sorted differences), about 7 bytes an entry
        where plain arrays take 20: a shipped model's repertoire holds millions."""
        n = len(self.keys)
        if n and max(self.players.max(), self.actions.max(), self.counts.max()) > 65535:
            raise ValueError("a repertoire stores players, actions and counts below 65,536")
        deltas = np.diff(self.keys.view(np.uint64), prepend=np.uint64(0))
        arrays = {"keys": deltas, **{k: getattr(self, k).astype(np.uint16) for k in ("players", "actions", "counts")}}
        packed = {k: torch.frombuffer(bytearray(zlib.compress(np.ascontiguousarray(v).tobytes(), 6)), dtype=torch.uint8)
                  for k, v in arrays.items()}
        return {"entries": n, "packed": packed, "prior_weight": self.prior_weight, "depth": self.depth}

    @classmethod
    def from_dict(cls, d: dict) -> "Repertoire":
        def unpack(k, dtype):
            return np.frombuffer(zlib.decompress(d["packed"][k].numpy().tobytes()), dtype=dtype)

        keys = np.cumsum(unpack("keys", np.uint64), dtype=np.uint64).view(np.int64)  # wraps as it was stored
        return cls(keys, *(unpack(k, np.uint16) for k in ("players", "actions", "counts")), d["prior_weight"],
                   d.get("depth"))


def fit_prior_weight(repertoire: Repertoire, net_logliks: torch.Tensor, n_xa: torch.Tensor, n_x: torch.Tensor,
                     weights=PRIOR_WEIGHTS) -> tuple[float, dict]:
    """The ``k`` that gives held-out decisions the highest mean log-likelihood under the combined
    model (each decision under its own player's style), and the score of every ``k`` tried."""
    scores = {k: float(repertoire.logliks(net_logliks, n_xa, n_x, k).mean()) for k in weights}
    return max(scores, key=scores.get), scores
