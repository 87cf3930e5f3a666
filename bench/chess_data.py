"""Chess data helpers shared by the benchmarks and scripts: a player's games and moves, top-1
accuracy, the cached queries of likelihood stylometry and their scores."""

from __future__ import annotations

import numpy as np
import torch

from playas.chess.dataset import SPLITS, ChessData
from playas.chess.model import CHESS
from playas.chess.game import examples, within_plies
from playas.chess.train import make_batch
from playas.core.learning import fit_styles, style_logliks
from playas.core.trunk import cache_trunk


def player_games(data: ChessData, pid: int, split: str | None) -> np.ndarray:
    g = data.games
    m = (g["white"] == pid) | (g["black"] == pid)
    if split:
        m &= g["split"] == SPLITS.index(split)
    return np.flatnonzero(m)


def owner_rows(data: ChessData, pid: int, games: np.ndarray, max_ply: int | None = None) -> np.ndarray:
    """The rows where player ``pid`` moves in ``games`` (within the first ``max_ply`` plies)."""
    rows = [np.arange(data.games["first"][gi], data.games["first"][gi] + data.games["length"][gi]) for gi in games]
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    return within_plies(data, rows[data.mover[rows] == pid], max_ply)


@torch.inference_mode()
def accuracy(forward, data, idx, batch=512) -> np.ndarray:
    hits = []
    for s in range(0, len(idx), batch):
        b = make_batch(data, idx[s:s + batch], with_legal=True)
        logits = forward(b).masked_fill(~b["legal"], float("-inf"))
        hits.append((logits.argmax(1) == b["y"]).numpy())
    return np.concatenate(hits) if hits else np.zeros(0, bool)


def styled_logits(model, z):
    """A batch's policy logits under the routing logits ``z`` of one style."""
    return lambda b: CHESS.head(model, CHESS.trunk(model, b["x"]), z)


def cache_queries(model, data, queries: list[np.ndarray]) -> tuple[dict, torch.Tensor]:
    """All queries' positions cached once (shared openings run the trunk once) and each row's query;
    positions within the model's repertoire carry their keys."""
    group = torch.from_numpy(np.concatenate([np.full(len(q), i) for i, q in enumerate(queries)])).long()
    rep = model.table.repertoire
    depth = (rep.depth or 0) if rep is not None else 0
    return cache_trunk(CHESS, model, examples(data, np.concatenate(queries), depth)), group


def fit_many(model, cache, epochs: int) -> torch.Tensor:
    """One style row fitted per query of ``cache`` (from :func:`cache_queries`)."""
    pos, group = cache
    return fit_styles(CHESS, model, pos, group, int(group.max()) + 1, epochs=epochs)


def likelihoods(model, cache, z=None, repertoire="table") -> np.ndarray:
    """Mean log-likelihood of each query's moves under every style: (queries, styles). The styles
    are the table's rows (or ``z``), each with its repertoire (the table's, or ``repertoire``;
    None: the network alone)."""
    return likelihoods_both(model, cache, z, repertoire)[0]


def likelihoods_both(model, cache, z=None, repertoire="table") -> tuple[np.ndarray, np.ndarray]:
    """:func:`likelihoods` with the repertoire, and of the network alone, from one pass."""
    pos, group = cache
    net = style_logliks(CHESS, model, pos, z)
    ll = net
    rep = model.table.repertoire if repertoire == "table" else repertoire
    if rep is not None and pos.situation is not None:
        ll = rep.logliks(ll, rep.lookup(pos.situation.numpy(), pos.target.numpy(), len(ll)))
    groups = range(int(group.max()) + 1)
    return tuple(np.stack([x[:, group == i].mean(1).numpy() for i in groups]) for x in (ll, net))


def repertoire_with(model, data, replace: dict[str, np.ndarray]):
    """The table's repertoire with the named players' counts replaced by those of their rows
    ``replace[name]`` (a player enrolled from other games)."""
    from playas.chess.game import situations
    from playas.core.repertoire import Repertoire

    rep = model.table.repertoire
    ids = [model.table.index(n) for n in replace]
    keep = ~np.isin(rep.players, ids)
    out = Repertoire(rep.keys[keep], rep.players[keep], rep.actions[keep], rep.counts[keep], rep.prior_weight,
                     rep.depth, rep.network_weight)
    for name, rows in replace.items():
        out.add(Repertoire.count(situations(data, rows, rep.depth), np.full(len(rows), model.table.index(name)),
                                 np.asarray(data.rows["move"][rows])))
    return out


def topk(scores: np.ndarray, truth: list[int], k: int) -> float:
    order = np.argsort(-scores, axis=1)[:, :k]
    return float(np.mean([t in o for t, o in zip(truth, order)]))
