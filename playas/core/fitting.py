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


def fit_row(nll: Callable[[torch.Tensor, object], torch.Tensor], init: torch.Tensor, batches: Sequence,
            steps: int = 150, lr: float = 0.1) -> tuple[torch.Tensor, list[float]]:
    """Minimise ``nll(z, batch)`` over one style row ``z`` (initialised at ``init``) with Adam.

    ``batches`` are cycled; returns the fitted row and the loss per step.
    """
    z = torch.nn.Parameter(init.detach().clone())
    opt = torch.optim.Adam([z], lr=lr)
    losses = []
    for step in range(steps):
        loss = nll(z, batches[step % len(batches)])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return z.detach(), losses


def rank_by_similarity(z: torch.Tensor, table_z: torch.Tensor) -> np.ndarray:
    """Cosine similarity of a fitted row to every known row, both relative to the mean style."""
    mean = table_z.mean(0, keepdim=True)
    a = (table_z - mean).reshape(len(table_z), -1)
    q = (z[None] - mean).reshape(1, -1)
    return torch.nn.functional.cosine_similarity(a, q, dim=1).numpy()


@torch.no_grad()
def rank_by_likelihood(loglik: Callable[[torch.Tensor], float], table_z: torch.Tensor) -> np.ndarray:
    """Mean log-likelihood of the query moves under each known style row."""
    return np.array([loglik(table_z[i]) for i in range(len(table_z))])


def ranking(names: list[str], scores: np.ndarray, top: int | None = None) -> list[dict]:
    order = np.argsort(-scores, kind="stable")[:top]
    return [{"name": names[i], "score": round(float(scores[i]), 4)} for i in order]
