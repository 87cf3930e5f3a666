"""The likelihood of moves under many styles at once, sharing the work that no style changes.

With adapters on the policy head only (the shipped models), the trunk output and the first head
convolution's base and skill features are computed once per position; per style only two matrix
products run: the first convolution's adapter (its skills mixed by the style, one matrix), and
the last convolution, only at the from-squares of legal moves, which is all a likelihood reads.
Stylometry scores every known style this way.
"""

from __future__ import annotations

import torch

from ..core.mhr import routing_weights


@torch.no_grad()
def head_logliks(model, cache, z: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Log-likelihood of every cached move (a :class:`~playas.core.trunk.TrunkCache` of the trunk
    below the policy head) under every style's routing logits ``z`` (styles, H, S): (styles, moves).

    Exact: equal to running the styled head per style (tests compare them).
    """
    net = model.base
    conv1, bn = net.policy1[0], net.policy1[1]
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    weights = routing_weights(z, False)
    mix1 = conv1.routed_matrix(weights) * scale  # (styles, H*S*r, C), the batch norm's scale folded in
    # conv2 merged per style, in the (dy, dx, channel) order of gathered 3x3 neighbourhoods
    w2 = torch.stack([net.policy.merged(w).weight.permute(0, 2, 3, 1).reshape(net.policy.base.out_channels, -1)
                      for w in weights]).transpose(1, 2).contiguous()  # (styles, 9*C, 80)
    b2, minus_inf = net.policy.base.bias, torch.tensor(float("-inf"))
    out = torch.empty(len(z), len(cache.target))
    for s in range(0, len(cache.h), chunk):  # distinct positions, a chunk at a time
        h = cache.h[s:s + chunk].float()
        n, c = len(h), conv1.base.out_channels
        rows = torch.nonzero((cache.index >= s) & (cache.index < s + chunk)).flatten()
        plan = _legal_plan(cache, rows, cache.index[rows] - s, n, net.policy_map)
        # square-major (n*64, channels): the per-style products write the layout the gather reads
        base1 = conv1.base(h).permute(0, 2, 3, 1).reshape(n * 64, c) * scale + shift
        skills1 = conv1.skills(h).permute(0, 2, 3, 1).reshape(n * 64, -1)
        x = torch.zeros(n * 64 + 1, c)  # the last row: off the board
        for p in range(len(z)):
            torch.addmm(base1, skills1, mix1[p], out=x[:-1]).relu_()
            patches = x[plan["nbr"]].flatten(1)  # (pairs, 9*C): each from-square's neighbourhood
            logit = torch.cat([torch.addmm(b2, patches, w2[p]).flatten(), minus_inf[None]])  # (pairs*80 + 1,)
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
    dy, dx = torch.tensor([-1, -1, -1, 0, 0, 0, 1, 1, 1]), torch.tensor([-1, 0, 1] * 3)
    row, col = (sq // 8)[:, None] + dy, (sq % 8)[:, None] + dx
    on = (row >= 0) & (row < 8) & (col >= 0) & (col < 8)
    nbr = torch.where(on, pp[:, None] * 64 + row * 8 + col, n * 64)  # (pairs, 9) rows of x; n*64: off the board
    lookup = torch.full((n * 64,), -1, dtype=torch.long)
    lookup[pairs] = torch.arange(len(pairs))
    y = policy_map[cache.target[rows]]
    return {"nbr": nbr, "legal": legal, "played": lookup[local * 64 + y % 64] * 80 + y // 64, "pos": local}
