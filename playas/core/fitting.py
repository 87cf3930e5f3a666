"""Few-shot enrollment and stylometry, game-agnostic.

Enrolling a player fits one new row of routing logits on their games with everything else
frozen. Identifying who played some games fits a row the same way and ranks the known players
by the similarity of their rows to it; or scores the games' moves under each known style and
ranks by likelihood (arXiv 2502.14998, section 4).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch


def fit_rows(nll: Callable[[torch.Tensor, object], torch.Tensor], init: torch.Tensor, batches: Sequence,
             steps: int = 150, lr: float = 0.1) -> tuple[torch.Tensor, list[float]]:
    """Minimise ``nll(Z, batch)`` over style rows ``Z`` (initialised at ``init``, shape (G, H, S))
    with Adam, everything else frozen; ``batches`` are cycled. Fitting many rows at once (one per
    query, each batch mixing queries) costs what fitting one costs per position.

    Returns the fitted rows and the loss per step.
    """
    z = torch.nn.Parameter(init.detach().clone())
    step_z = adam(z, lr)
    losses = []
    for step in range(steps):
        loss = nll(z, batches[step % len(batches)])
        z.grad = None
        loss.backward()
        step_z()
        losses.append(loss.item())
    return z.detach(), losses


def adam(p: torch.Tensor, lr: float, betas=(0.9, 0.999), eps: float = 1e-8) -> Callable[[], None]:
    """A step function doing what ``torch.optim.Adam([p], lr)`` does (tests compare them). A
    torch optimizer's first construction imports the compiler (1.4 s here); enrolling one
    player should not wait for it."""
    m, v, t = torch.zeros_like(p), torch.zeros_like(p), [0]

    @torch.no_grad()
    def step():
        t[0] += 1
        m.lerp_(p.grad, 1 - betas[0])
        v.mul_(betas[1]).addcmul_(p.grad, p.grad, value=1 - betas[1])
        denom = (v.sqrt() / (1 - betas[1] ** t[0]) ** 0.5).add_(eps)
        p.addcdiv_(m, denom, value=-lr / (1 - betas[0] ** t[0]))
    return step


def rank_by_similarity(z: torch.Tensor, table_z: torch.Tensor) -> np.ndarray:
    """Cosine similarity of fitted rows (H, S) or (Q, H, S) to every known row, relative to the
    mean style; (P,) or (Q, P)."""
    mean = table_z.mean(0, keepdim=True)
    a = torch.nn.functional.normalize((table_z - mean).reshape(len(table_z), -1), dim=1)
    q = torch.nn.functional.normalize((z.reshape(-1, *table_z.shape[1:]) - mean).reshape(-1, a.shape[1]), dim=1)
    sims = (q @ a.T).numpy()
    return sims[0] if z.dim() == table_z.dim() - 1 else sims

