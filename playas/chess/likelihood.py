"""The likelihood of moves under many styles at once, sharing the work that no style changes.

With adapters on the policy head only (the shipped models), the trunk output and the first head
convolution's base and skill features are computed once per position; per style only the routed
mix and the last convolution run, and that one only at the from-squares of legal moves, which is
all a likelihood reads. Stylometry scores every known style this way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.mhr import routing_weights


@torch.no_grad()
def head_logliks(model, cache, z: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Log-likelihood of every cached move (a :class:`~playas.core.trunk.TrunkCache` of the trunk
    below the policy head) under every style's routing logits ``z`` (styles, H, S): (styles, moves).

    Exact: equal to running the styled head per style (tests compare them).
    """
    net = model.base
    conv1, bn = net.policy1[0], net.policy1[1]
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps))[:, None, None]
    shift = (bn.bias - bn.running_mean * scale[:, 0, 0])[:, None, None]
    weights = routing_weights(z, False)
    # conv2 merged per style, in the (dy, dx, channel) order of gathered 3x3 neighbourhoods
    w2 = torch.stack([net.policy.merged(w).weight.permute(0, 2, 3, 1).reshape(net.policy.base.out_channels, -1)
                      for w in weights]).transpose(1, 2)  # (styles, 9*C, 80)
    b2 = net.policy.base.bias
    out = torch.empty(len(z), len(cache.target))
    for s in range(0, len(cache.h), chunk):  # distinct positions, a chunk at a time
        h = cache.h[s:s + chunk].float()
        rows = torch.nonzero((cache.index >= s) & (cache.index < s + chunk)).flatten()
        plan = _legal_plan(cache, rows, cache.index[rows] - s, len(h), net.policy_map)
        base1, skills1 = conv1.base(h), conv1.skills(h)
        logit = torch.full((len(plan["pair"]) + 1,), float("-inf"))  # one per legal move, and a -inf slot
        for p in range(len(z)):
            x = F.relu((base1 + conv1.routed(skills1, weights[p:p + 1])) * scale + shift)
            x = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1).reshape(-1, x.shape[1])  # (n*10*10, C)
            patches = x[plan["nbr"]].flatten(1)[plan["pair"]]  # (legal moves, 9*C): the from-square's neighbourhood
            for c, lo, hi in plan["planes"]:  # only the policy plane each legal move reads
                logit[lo:hi] = patches[lo:hi] @ w2[p, :, c] + b2[c]
            lse = torch.logsumexp(logit[plan["legal"]], dim=1)  # per distinct position
            out[p, rows] = logit[plan["played"]] - lse[plan["pos"]]
    return out


def _legal_plan(cache, rows: torch.Tensor, local: torch.Tensor, n: int, policy_map: torch.Tensor) -> dict:
    """Where :func:`head_logliks` finds things for ``n`` distinct positions (``rows`` of the
    cache, at ``local`` among them). The legal moves, ordered by their policy plane (``planes``:
    each plane's span), each with the 3x3 neighbourhood of its from-square (``nbr`` rows, one
    per distinct from-square, and ``pair``: each move's); every position's legal moves
    (``legal``, -1 padded: the -inf slot) and each row's played move (``played``)."""
    first = torch.full((n,), -1, dtype=torch.long)
    first[local.flip(0)] = rows.flip(0)  # a row of each position: legal moves are the same for all
    pu, pm = torch.nonzero(cache.allowed[first], as_tuple=True)  # sorted by position, then move
    flat = policy_map[pm]
    pairs, pair_of = torch.unique(pu * 64 + flat % 64, return_inverse=True)
    plane = flat // 64
    order = torch.argsort(plane, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order))
    counts = torch.bincount(pu, minlength=n)
    legal = torch.full((n, max(int(counts.max()), 1)), -1, dtype=torch.long)  # -1: the -inf slot
    legal[pu, torch.arange(len(pu)) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)] = rank
    ends = torch.cumsum(torch.bincount(plane, minlength=80), 0)
    planes = [(c, int(ends[c - 1]) if c else 0, int(ends[c])) for c in range(80)]
    planes = [(c, lo, hi) for c, lo, hi in planes if hi > lo]
    pp, sq = pairs // 64, pairs % 64
    offsets = torch.tensor([dy * 10 + dx for dy in range(3) for dx in range(3)])
    nbr = pp[:, None] * 100 + (sq // 8 * 10 + sq % 8)[:, None] + offsets  # padded 10x10 board
    played = torch.searchsorted(pu * 1858 + pm, local * 1858 + cache.target[rows])  # the move's entry
    return {"nbr": nbr, "pair": pair_of[order], "planes": planes, "legal": legal, "played": rank[played],
            "pos": local}
