"""Move-matching: how often a model's top moves are the ones the players actually played."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import PlayasError
from ..core.mhr import MHRModel
from ..core.progress import Progress
from ..core.learning import routed_rows, table_rows
from .dataset import ChessData
from .model import CHESS
from .train import make_batch


def styled_forward(model, players: list[str], style: str | None = None, steer: dict | None = None,
                   book_depth: int | None = None, style_plies: int | None = None):
    """Policy logits of a batch: a plain net's, or a styled one's under each mover's own style
    (``players`` are the dataset's names; movers not in the table get the mean style), or under
    ``style``/``steer`` for every position. Where the style has a repertoire (to ``book_depth``
    plies; 0: none), the logits are the log-probabilities of the person's combined model; from
    ``style_plies`` on (where the styles stopped learning), the base network's, as in play."""
    if not isinstance(model, MHRModel):
        if style or steer:
            raise PlayasError("--style and --steer need a styled model")
        return lambda b: model(b["x"])[0]
    if style or steer:
        z = model.table.resolve(style, steer)
        shares = model.table.shares(style)
        net = lambda b: CHESS.head(model, CHESS.trunk(model, b["x"]), z)  # noqa: E731
        shares_of = None if shares is None else (lambda b: torch.from_numpy(shares).float().expand(len(b["y"]), -1))
    else:
        rows = table_rows(model, players)
        net = lambda b: CHESS.head(model, CHESS.trunk(model, b["x"]), routed_rows(model, b["player"], rows))  # noqa: E731
        shares_of = lambda b: F.one_hot(rows[b["player"]].clamp(min=0), len(model.table)).float() * \
            (rows[b["player"]] >= 0)[:, None]  # noqa: E731
    if style_plies:
        styled_net, plain = net, model.unadapted_base()

        def net(b):
            late = (b["ply"] >= style_plies)[:, None]
            return torch.where(late, plain(b["x"])[0], styled_net(b))

    rep = model.table.repertoire
    if rep is None or shares_of is None or book_depth == 0:
        return net
    return lambda b: with_repertoire(net(b), b, rep, shares_of(b), rep.reach(book_depth))


def with_repertoire(logits: torch.Tensor, b: dict, rep, shares: torch.Tensor, depth: int | None) -> torch.Tensor:
    """Log-probabilities of the combined model (:mod:`playas.core.repertoire`) from the network's
    ``logits`` and each position's counts under ``shares`` (N, players) of each player."""
    p = torch.softmax(logits.masked_fill(~b["legal"], float("-inf")), 1)
    own, everyone = torch.zeros_like(p), torch.zeros_like(p)
    reach = torch.ones(len(p), dtype=torch.bool) if depth is None else b["ply"] < depth
    for i in torch.nonzero(reach & (b["position"] != 0) & (shares.sum(1) > 0)).flatten().tolist():
        for counts, found in zip((own, everyone), rep.counts_at(int(b["position"][i]), shares[i].numpy())):
            for move, c in found.items():
                counts[i, move] = c
    # no counts: the network's own p
    return torch.log(rep.mix(own, own.sum(1, keepdim=True), everyone, everyone.sum(1, keepdim=True), p))


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
            per[data.players[pid]] = {"examples": int(m.sum()), "top1": float(h["top1"][m].mean()),
                                      "top3": float(h["top3"][m].mean()), "loglik": float(h["ll"][m].mean())}
        report["models"][name] = {"top1": float(h["top1"].mean()), "top3": float(h["top3"].mean()),
                                  "loglik": float(h["ll"].mean()), "players": per}
    return report

