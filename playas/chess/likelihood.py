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
    b2, minus_inf = net.policy.base.bias, torch.tensor(float("-inf"))
    out = torch.empty(len(z), len(cache.target))
    for s in range(0, len(cache.h), chunk):  # distinct positions, a chunk at a time
        h = cache.h[s:s + chunk].float()
        rows = torch.nonzero((cache.index >= s) & (cache.index < s + chunk)).flatten()
        plan = _legal_plan(cache, rows, cache.index[rows] - s, len(h), net.policy_map)
        base1, skills1 = conv1.base(h), conv1.skills(h)
        for p in range(len(z)):
            x = F.relu((base1 + conv1.routed(skills1, weights[p:p + 1])) * scale + shift)
            x = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1).reshape(-1, x.shape[1])  # (n*10*10, C)
            patches = x[plan["nbr"]].flatten(1)  # (pairs, 9*C): each from-square's neighbourhood
            logit = torch.cat([(patches @ w2[p] + b2).flatten(), minus_inf[None]])  # (pairs*80 + 1,)
            lse = torch.logsumexp(logit[plan["legal"]], dim=1)  # per distinct position
            out[p, rows] = logit[plan["played"]] - lse[plan["pos"]]
    return out


def _legal_plan(cache, rows: torch.Tensor, local: torch.Tensor, n: int, policy_map: torch.Tensor) -> dict:
    """Where :func:`head_logliks` finds things for ``n`` distinct positions (``rows`` of the
    cache, at ``local`` among them): the 3x3 neighbourhood of each legal move's from-square (a
    *pair*), and, among the pairs' 80 policy outputs, every position's legal moves and each row's
    played move."""
    first = torch.full((n,), -1, dtype=torch.long)
    first[local.flip(0)] = rows.flip(0)  # a row of each position: legal moves are the same for all
    pu, pm = torch.nonzero(cache.allowed[first], as_tuple=True)
    flat = policy_map[pm]
    pairs, pair_of = torch.unique(pu * 64 + flat % 64, return_inverse=True)
    counts = torch.bincount(pu, minlength=n)
    legal = torch.full((n, max(int(counts.max()), 1)), len(pairs) * 80, dtype=torch.long)  # -inf slot
    legal[pu, torch.arange(len(pu)) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)] = \
        pair_of * 80 + flat // 64
    pp, sq = pairs // 64, pairs % 64
    offsets = torch.tensor([dy * 10 + dx for dy in range(3) for dx in range(3)])
    nbr = pp[:, None] * 100 + (sq // 8 * 10 + sq % 8)[:, None] + offsets  # padded 10x10 board
    lookup = torch.full((n * 64,), -1, dtype=torch.long)
    lookup[pairs] = torch.arange(len(pairs))
    y = policy_map[cache.target[rows]]
    return {"nbr": nbr, "legal": legal, "played": lookup[local * 64 + y % 64] * 80 + y // 64, "pos": local}
