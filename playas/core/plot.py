"""A map of style space: every player's style vector projected to 2-D, labelled and coloured."""

from __future__ import annotations

import numpy as np
import torch

from .errors import PlayasError


def project_2d(vectors: torch.Tensor) -> np.ndarray:
    """Principal-component projection of style vectors (centred) onto their top two axes."""
    x = vectors.double() - vectors.double().mean(0, keepdim=True)
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    return (x @ v[:2].T).numpy()


def style_map(table, meta: dict, out, color_by: str = "year", label: str | None = None) -> None:
    """Write a labelled scatter of the style table to ``out`` (.png or .svg); needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlayasError("the style map needs matplotlib: pip install 'playas[plot]'") from None
    xy = project_2d(table.vectors())
    values = np.array([meta.get(n, {}).get(color_by, np.nan) for n in table.names], dtype=float)
    fig, ax = plt.subplots(figsize=(16, 12), dpi=110)
    known = ~np.isnan(values)
    if known.any():
        sc = ax.scatter(xy[known, 0], xy[known, 1], c=values[known], cmap="viridis", s=36, zorder=2)
        fig.colorbar(sc, ax=ax, shrink=0.6, label=label or {"year": "median year of games", "elo": "mean rating"}.get(color_by, color_by))
    if (~known).any():
        ax.scatter(xy[~known, 0], xy[~known, 1], c="lightgray", s=36, zorder=2, label=f"no {color_by}")
        ax.legend(loc="lower right")
    for (x, y), name in zip(xy, table.names):
        ax.annotate(name, (x, y), fontsize=7, xytext=(3, 2), textcoords="offset points", zorder=3)
    ax.set_title(f"Style space of {len(table)} players (first two principal components of the style vectors)")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(out)
    except (OSError, ValueError) as e:
        raise PlayasError(f"cannot write {out} ({e})") from None
    finally:
        plt.close(fig)
