"""Move-matching: how often a model's top moves are the ones the players actually played."""

from __future__ import annotations

import numpy as np
import torch

from ..core.errors import PlayasError
from ..core.mhr import Styled
from ..core.progress import Progress
from ..core.styled import routed_rows, table_rows
from .dataset import ChessData
from .model import CHESS
from .train import make_batch


def styled_forward(model, players: list[str], style: str | None = None, steer: dict | None = None):
    """Policy logits of a batch: a plain net's, or a styled one's under each mover's own style
    (``players`` are the dataset's names; movers not in the table get the mean style), or under
    ``style``/``steer`` for every position."""
    if not isinstance(model, Styled):
        if style or steer:
            raise PlayasError("--style and --steer need a styled model")
        return lambda b: model(b["x"])[0]
    if style or steer:
        z = model.table.resolve(style, steer)
        return lambda b: CHESS.head(model, CHESS.trunk(model, b["x"]), z)
    rows = table_rows(model, players)
    return lambda b: CHESS.head(model, CHESS.trunk(model, b["x"]), routed_rows(model, b["player"], rows))


@torch.inference_mode()
def move_matching(forwards: dict, data: ChessData, idx: np.ndarray, batch_size: int = 512) -> dict:
    """Evaluate every ``forwards[name](batch) -> policy logits`` on the same rows ``idx``.

    Returns ``{"positions": N, "models": {name: {"top1", "top3", "loglik", "players": {...}}}}``,
    accuracy over the legal moves only, log-likelihood of the move played in nats.
    """
    idx = np.sort(np.asarray(idx))
    players = data.mover[idx]
    hits = {n: {"top1": np.zeros(len(idx), bool), "top3": np.zeros(len(idx), bool),
                "ll": np.zeros(len(idx))} for n in forwards}
    with Progress(len(idx), "eval", unit="positions") as bar:
        for s in range(0, len(idx), batch_size):
            b = make_batch(data, idx[s:s + batch_size], with_legal=True)
            y = b["y"]
            for name, fwd in forwards.items():
                logits = fwd(b).float().masked_fill(~b["legal"], float("-inf"))
                logp = torch.log_softmax(logits, dim=1)
                top3 = logits.topk(3, dim=1).indices
                h = hits[name]
                sl = slice(s, s + len(y))
                h["top1"][sl] = (top3[:, 0] == y).numpy()
                h["top3"][sl] = (top3 == y[:, None]).any(1).numpy()
                h["ll"][sl] = logp.gather(1, y[:, None])[:, 0].numpy()
            bar.update(len(y))
    report = {"positions": int(len(idx)), "models": {}}
    for name, h in hits.items():
        per = {}
        for pid in np.unique(players):
            m = players == pid
            per[data.players[pid]] = {"positions": int(m.sum()), "top1": float(h["top1"][m].mean()),
                                      "top3": float(h["top3"][m].mean()), "loglik": float(h["ll"][m].mean())}
        report["models"][name] = {"top1": float(h["top1"].mean()), "top3": float(h["top3"].mean()),
                                  "loglik": float(h["ll"].mean()), "players": per}
    return report


def format_report(report: dict, per_player: int = 20) -> str:
    """A plain-text table: one row per model, then a per-player top-1 table side by side."""
    names = list(report["models"])
    lines = [f"positions: {report['positions']:,}", "",
             f"{'model':<28} {'top1':>7} {'top3':>7} {'loglik':>8}"]
    for n in names:
        r = report["models"][n]
        lines.append(f"{n:<28} {r['top1']:>7.2%} {r['top3']:>7.2%} {r['loglik']:>8.3f}")
    first = report["models"][names[0]]["players"]
    players = sorted(first, key=lambda p: -first[p]["positions"])
    if len(players) > 1:
        lines += ["", f"{'player (top-1)':<20} {'positions':>9} " + " ".join(f"{n[:14]:>14}" for n in names)]
        for p in players[:per_player]:
            row = " ".join(f"{report['models'][n]['players'][p]['top1']:>14.2%}" for n in names)
            lines.append(f"{p:<20} {first[p]['positions']:>9,} {row}")
        if len(players) > per_player:
            lines.append(f"... {len(players) - per_player} more players (--json for all)")
    return "\n".join(lines)
