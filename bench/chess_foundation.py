"""Chess foundation benchmark: move-matching, ingestion, training and inference throughput.

    python -m bench.chess_foundation --data data/pgnmentor --base models/base-pgnmentor.pt

``--data`` is the 197-player dataset made by
``playas chess prepare ../shared/data/chess/pgnmentor/*.pgn.gz --out data/pgnmentor
--owner-from-filename --max-games-per-player 700 --split 0.6,0.1,0.3``.
Prints one table and writes it to BENCHMARKS.md.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import chess
import chess.pgn
import numpy as np
import torch

from playas.chess.dataset import ChessData
from playas.chess.evaluate import move_matching
from playas.chess.model import load_model
from playas.chess.policy import Policy
from playas.chess.train import make_batch, policy_value_loss
from playas.core.train import prefetch

from .common import ROOT, SHARED, arguments, finish, table

INGEST_FILES = ["Alekhine", "Botvinnik", "Fischer", "Karpov", "Kasparov", "Tal"]


def per_player_sample(data: ChessData, split: str, per_player: int, seed: int = 0) -> np.ndarray:
    idx = data.targets(split)
    rng = np.random.default_rng(seed)
    mover = data.mover[idx]
    return np.sort(np.concatenate([rng.permutation(idx[mover == p])[:per_player] for p in np.unique(mover)]))


def bench_matching(data: ChessData, models: dict, per_player: int) -> tuple[list, dict]:
    idx = per_player_sample(data, "test", per_player)
    nets = {name: load_model(path)[0] for name, path in models.items()}
    rep = move_matching({n: (lambda b, m=m: m(b["x"])[0]) for n, m in nets.items()}, data, idx)
    rows = []
    for name, r in rep["models"].items():
        rows.append([name, f"{r['top1']:.2%}", f"{r['top3']:.2%}", f"{r['loglik']:.3f}"])
    return rows, rep


def bench_ingest(tmp: Path) -> dict:
    files = [SHARED / "chess" / "pgnmentor" / f"{n}.pgn.gz" for n in INGEST_FILES]
    t = time.perf_counter()
    plies = 0
    for f in files:  # the plain way: one process, python-chess's own reader on the gzip stream
        with gzip.open(f, "rt", encoding="latin-1") as h:
            while (g := chess.pgn.read_game(h)) is not None:
                plies += sum(1 for _ in g.mainline_moves())
    plain = plies / (time.perf_counter() - t)
    t = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "playas.cli", "chess", "prepare", *map(str, files), "--out",
                    str(tmp / "ingest"), "--owner-from-filename"], check=True, capture_output=True)
    secs = time.perf_counter() - t
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    m = json.loads((tmp / "ingest" / "manifest.json").read_text())
    return {"plies": m["plies_parsed"], "plain": plain, "ours": m["plies_parsed"] / secs, "peak_mb": peak,
            "files": len(files)}


def bench_training(data: ChessData, steps: int = 40, batch: int = 256) -> dict:
    net = load_model(ROOT / "models" / "maia-1900.pt")[0].train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    idx = data.targets("train")
    rng = np.random.default_rng(0)
    plan = [rng.choice(idx, batch, replace=False) for _ in range(steps + 3)]

    def step(b):
        loss, _ = policy_value_loss(*net(b["x"]), b, 0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()

    x = torch.randn(batch, 112, 8, 8)
    fake = {"x": x, "y": torch.randint(0, 1858, (batch,)), "wdl": torch.randint(0, 3, (batch,))}
    for _ in range(3):
        step(fake)
    t = time.perf_counter()
    for _ in range(steps):
        step(fake)
    raw = steps * batch / (time.perf_counter() - t)
    it = prefetch(plan, lambda i: make_batch(data, i))
    for _ in range(3):
        step(next(it))
    t = time.perf_counter()
    for _ in range(steps):
        step(next(it))
    real = steps * batch / (time.perf_counter() - t)
    return {"raw": raw, "real": real}


@torch.inference_mode()
def bench_inference(data: ChessData) -> dict:
    net = load_model(ROOT / "models" / "maia-1900.pt")[0]
    x = torch.from_numpy(data.planes(data.targets("test")[:256]))
    for _ in range(2):
        net(x)
    t = time.perf_counter()
    n = 10
    for _ in range(n):
        net(x)
    batch = n * 256 / (time.perf_counter() - t)
    policy = Policy(net)
    board = chess.Board()
    times = []
    for i in range(120):
        t = time.perf_counter()
        an = policy.analyse(board)
        times.append(time.perf_counter() - t)
        board.push(an.moves[0])
        if board.is_game_over():
            board = chess.Board()
    times = np.array(times[20:]) * 1000
    return {"batch": batch, "p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95))}


def main() -> None:
    ap = arguments(__doc__, model_and_data=False)
    ap.add_argument("--data", default=str(ROOT / "data" / "pgnmentor"))
    ap.add_argument("--base", default=str(ROOT / "models" / "base-pgnmentor.pt"), help="the base trained here")
    ap.add_argument("--per-player", type=int, default=300, help="test positions per player")
    a = ap.parse_args()
    torch.set_num_threads(2)
    data = ChessData(a.data)
    models = {f"maia-{r}": ROOT / "models" / f"maia-{r}.pt" for r in (1100, 1500, 1900)}
    base_card = {}
    if Path(a.base).exists():
        base_card = json.loads(Path(a.base).with_suffix(".json").read_text())
        init = base_card.get("recipe", {}).get("init")
        label = f"{Path(a.base).stem} (trained here" + (f", from {Path(init).stem})" if init else ", from scratch)")
        models[label] = Path(a.base)
    rows, rep = bench_matching(data, models, a.per_player)
    with tempfile.TemporaryDirectory() as tmp:
        ing = bench_ingest(Path(tmp))
    load = os.getloadavg()[0]  # other work on the machine shows in the speeds below
    tr = bench_training(data)
    inf = bench_inference(data)

    players = len(rep["models"][next(iter(rep["models"]))]["players"])
    out = [f"Move-matching on the test split of {players} players ({rep['positions']:,} positions: up to "
           f"{a.per_player} per player, games never used in training), legal moves only:", "",
           table(rows, ["model", "top-1", "top-3", "mean log-lik"])]
    if base_card:
        cpu = sum(h for h in [base_card.get("cpu_seconds_total", base_card.get("cpu_seconds_this_run", 0))])
        out += ["", f"The base trained here ({base_card.get('source', 'playas train-base')}): "
                    f"{base_card['recipe']['net']}, "
                    f"{base_card['recipe']['epochs']} epochs x {base_card['recipe']['positions_per_epoch']:,} "
                    f"positions, {cpu / 60:.0f} CPU-minutes (2 cores)."]
    perf = [
        ["ingestion (prepare, 2 processes)", f"{ing['ours']:,.0f} plies/s",
         f"{ing['ours'] / ing['plain']:.2f}x plain python-chess read ({ing['plain']:,.0f} plies/s, 1 process)",
         f"{ing['plies']:,} plies, {ing['files']} files; peak RSS {ing['peak_mb']:.0f} MB"],
        ["training (real data pipeline)", f"{tr['real']:,.0f} positions/s",
         f"{tr['real'] / tr['raw']:.2f}x raw forward/backward on random tensors ({tr['raw']:,.0f}/s)",
         "6x64 SE-ResNet, batch 256"],
        ["inference, batch of 256", f"{inf['batch']:,.0f} positions/s", "", "6x64 SE-ResNet"],
        ["inference, one position", f"p50 {inf['p50']:.1f} ms, p95 {inf['p95']:.1f} ms", "",
         "Policy.analyse: encoding + forward + legal softmax"],
    ]
    out += ["", table(perf, ["what", "speed", "against", "notes"]),
            "", f"Load average when the speed measurements began: {load:.2f} (2 cores)."]
    body = "\n".join(out)
    finish(a, "chess_foundation", "Chess foundation: move-matching, ingestion, training, inference", body)


if __name__ == "__main__":
    main()
