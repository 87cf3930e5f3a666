"""Compare style models on likelihood stylometry, on identical queries.

    python -m scripts.compare_stylometry models/pgnmentor-197.pt runs/block.pt --sizes 30,10

For 40 seeded trained players, query games are drawn from their held-out test games (one seed per
size, so every model sees the same games); each model ranks the players both models hold (enrolled
players left out) by mean log-likelihood of the query moves, as bench/chess_styles.py does. Prints
top-1 / top-5 per model and size. Used to judge a recipe change before a full rebench; the
last-block experiment (configs/styles.yml with ``adapt_blocks: 1``) was measured with it.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bench.chess_data import cache_queries, likelihoods, owner_rows, player_games, topk
from playas.chess.dataset import ChessData
from playas.chess.model import load_model
from playas.chess.model import style_plies
from playas.core.errors import PlayasError

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--data", default=str(ROOT / "data" / "pgnmentor"))
    ap.add_argument("--sizes", default="30,10")
    ap.add_argument("--players", type=int, default=40)
    a = ap.parse_args()
    torch.set_num_threads(2)
    data = ChessData(a.data)
    models = [load_model(p) for p in a.models]
    for model, _ in models:
        model.eval()
    first = models[0]
    common = [n for n in first[0].table.names if all(n in m.table.names for m, _ in models)
              and n not in first[1]["card"].get("enrolled", {})]
    truth_names = [common[i] for i in np.sort(np.random.default_rng(1).permutation(len(common))[:a.players])]
    truth = [common.index(n) for n in truth_names]
    for size in (int(s) for s in a.sizes.split(",")):
        rng = np.random.default_rng(size)
        chosen = {n: rng.permutation(player_games(data, data.players.index(n), "test"))[:size] for n in truth_names}
        for path, (model, blob) in zip(a.models, models):
            cols = [model.table.index(n) for n in common]
            queries = [np.sort(owner_rows(data, data.players.index(n), chosen[n], style_plies(blob["card"])))
                       for n in truth_names]
            t = time.time()
            ll = likelihoods(model, cache_queries(model, data, queries))[:, cols]
            print(f"{Path(path).name:24s} {size:3d} games  top-1 {topk(ll, truth, 1):.1%}  "
                  f"top-5 {topk(ll, truth, 5):.1%}  ({time.time() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    try:
        main()
    except PlayasError as e:
        sys.exit(f"compare_stylometry: error: {e}")
