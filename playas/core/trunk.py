"""The frozen trunk's output, computed once.

Below the adapters the network is the frozen base, the same for every style, so training,
enrollment and stylometry all start from its output. :func:`cache_trunk` runs it once per
distinct input (examples sharing a key share a pass) and keeps the result in float16.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .game import Examples, Network
from .progress import Progress


@dataclass
class TrunkCache:
    """Examples with the trunk already run: ``h`` holds one output per distinct input and
    ``index`` maps each example, in the caller's order, to its row there."""

    h: torch.Tensor  # (distinct, ...) float16
    index: torch.Tensor  # (n,)
    target: torch.Tensor  # (n,) long
    player: torch.Tensor  # (n,) long
    allowed: torch.Tensor | None = None  # (n, actions) bool
    situation: torch.Tensor | None = None  # (n,) int64 repertoire keys, 0 for none

    def __len__(self) -> int:
        return len(self.target)

    def hidden(self, i) -> torch.Tensor:
        """The trunk output (float32) of examples ``i``."""
        return self.h[self.index[i]].float()


@torch.no_grad()
def cache_trunk(game: Network, model, ex: Examples, batch_size: int = 1024, allowed: bool = True) -> TrunkCache:
    """Run ``game``'s trunk of ``model`` once per distinct input of ``ex`` (with ``allowed``, keep
    the legal actions too, which likelihoods need and training does not)."""
    n = len(ex)
    keys = ex.keys if ex.keys is not None else np.arange(n)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # batches in the examples' order: reads stay sequential
    h = None
    big = len(first) > 50_000
    with Progress(len(first) if big else None, "trunk", unit="positions") as bar:
        for s in range(0, len(first), batch_size):
            slots = order[s:s + batch_size]
            out = game.trunk(model, ex.inputs(first[slots])).half()
            if h is None:
                h = torch.empty(len(first), *out.shape[1:], dtype=torch.float16)
            h[torch.from_numpy(slots)] = out
            if big:
                bar.update(len(out))
    every = np.arange(n)
    return TrunkCache(h, torch.from_numpy(inverse.reshape(-1)), torch.from_numpy(np.asarray(ex.target, np.int64)),
                      torch.from_numpy(np.asarray(ex.player, np.int64)),
                      ex.allowed(every) if allowed and ex.allowed is not None else None,
                      None if ex.situations is None else torch.from_numpy(np.asarray(ex.situations, np.int64)))
