"""Scale: preparing a .pgn.zst dump on 1 and 2 processes, and training on 1 and 2 DDP ranks.

Prepare: the Titled Tuesday games (online blitz with clocks, ../shared/data) as a zstd dump, at
two sizes (one year; both years four times over), every player tracked so every game is
encoded. Throughput is plies over the whole command's wall time; peak memory is the summed RSS
of the command's process tree. The peer is plain single-process python-chess parsing of the same
stream (``chess.pgn.read_game`` in a loop), measured in the same run.

Training: ``playas chess train-base`` on the one-year dataset with a fixed recipe, as 1 process
of 1 thread, 1 process of 2 threads, and ``torchrun`` 2 processes of 1 thread each; throughput
is training positions over the training loop's wall time (the card's history records it).
Each command runs --repeats times (2) in turn, so a slow spell of the machine hits all alike;
the fastest of each is kept. Run it alone: it measures the whole machine.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import zstandard

from bench.common import SHARED, arguments, command_line, record, table

RECIPE = {"net": {"blocks": 6, "filters": 64, "se_ratio": 8}, "batch_size": 256, "epochs": 1,
          "positions_per_epoch": 40_960, "val_positions": 512, "seed": 0}


def make_dump(years: list[int], copies: int, path: Path) -> Path:
    """The games of ``years`` repeated ``copies`` times, as one .pgn.zst."""
    text = b"".join(gzip.decompress((SHARED / "chess" / "titled-tuesday" / f"titled-tuesday-{y}.pgn.gz").read_bytes())
                    for y in years)
    path.write_bytes(zstandard.ZstdCompressor(level=10).compress(text * copies))
    return path


def tree_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            pass
    return total


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """Run ``cmd``; return wall seconds, peak summed RSS of its process tree, and its output."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env={**os.environ, **(env or {})})
    peak = [0]

    def sample():
        while p.poll() is None:
            peak[0] = max(peak[0], tree_rss(p.pid))
            time.sleep(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out = p.communicate()[0]
    seconds = time.monotonic() - t0
    t.join()
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out[-2000:]}")
    return seconds, peak[0], out


PLAIN = """
import io, sys, chess.pgn, zstandard
plies = 0
with zstandard.ZstdDecompressor().stream_reader(open(sys.argv[1], "rb")) as r:
    f = io.TextIOWrapper(r, encoding="utf-8")
    while (g := chess.pgn.read_game(f)) is not None:
        plies += sum(1 for _ in g.mainline_moves())
print(plies)
"""


def bench_prepare(dump: Path, work: Path, repeats: int) -> list[dict]:
    """Plain python-chess parsing, then prepare with 1 and 2 processes, of one dump; each run
    ``repeats`` times in turn (so a slow spell of the machine hits all alike), the best kept."""
    prepare = [sys.executable, "-m", "playas", "chess", "prepare", str(dump)]
    runs = [("python-chess read_game, 1 process", [sys.executable, "-c", PLAIN, str(dump)]),
            ("playas chess prepare, 1 process", prepare + ["--min-games", "1", "--workers", "1"]),
            ("playas chess prepare, 2 processes", prepare + ["--min-games", "1", "--workers", "2"]),
            # A dump is mostly games of players nobody tracks: their headers are read, their moves not.
            ("prepare, 2 processes, 1 player tracked (scan rate)", prepare + ["--players", "Hikaru", "--workers", "2"])]
    best: dict[str, dict] = {}
    for rep in range(repeats):
        for i, (what, cmd) in enumerate(runs):
            folder = work / f"{dump.stem}-{i}-{rep}"
            s, rss, out = run_measured(cmd + (["--out", str(folder)] if i else []))
            if not i:
                plies = int(out.split()[-1])
            elif i < 3:
                assert json.loads((folder / "manifest.json").read_text())["positions"] == plies
            if what not in best or s < best[what]["s"]:
                best[what] = {"what": what, "plies": plies, "s": s, "rss": max(rss, best.get(what, {}).get("rss", 0))}
    rows = list(best.values())
    for r in rows:
        r["rate"] = r["plies"] / r["s"]
    return rows


def bench_train(data: Path, work: Path, repeats: int) -> list[dict]:
    """train-base with one recipe as 1x1, 1x2 threads and torchrun 2x1, each ``repeats`` times in
    turn, the fastest training loop kept."""
    recipe = work / "recipe.yml"
    recipe.write_text(json.dumps(RECIPE))  # JSON is YAML
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    runs = [("1 process x 1 thread", [sys.executable, "-m", "playas"], "1"),
            ("1 process x 2 threads", [sys.executable, "-m", "playas"], "2"),
            ("torchrun 2 processes x 1 thread", [torchrun, "--standalone", "--nproc_per_node=2", "-m", "playas"], "1")]
    best: dict[str, dict] = {}
    for rep in range(repeats):
        for i, (what, launch, threads) in enumerate(runs):
            out = work / f"base-{i}-{rep}.pt"
            s, rss, log = run_measured(launch + ["chess", "train-base", "--data", str(data), "--out", str(out),
                                                 "--recipe", str(recipe)], env={"OMP_NUM_THREADS": threads})
            h = _card(out)["history"][0]
            row = {"what": what, "positions": h["batches"] * RECIPE["batch_size"],  # the global batch
                   "s": h["train_seconds"], "wall": s, "rss": rss, "val_loss": h.get("val_loss")}
            if what not in best or row["s"] < best[what]["s"]:
                best[what] = row
    rows = list(best.values())
    for r in rows:
        r["rate"] = r["positions"] / r["s"]
    return rows


def _card(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)["card"]


def main() -> None:
    ap = arguments(__doc__, model_and_data=False)
    ap.add_argument("--skip-train", action="store_true", help="prepare only")
    ap.add_argument("--repeats", type=int, default=2, help="runs of each command, in turn, the best kept")
    a = ap.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"the shared data folder {SHARED} is absent")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        small = make_dump([2015], 1, work / "tt-1x.pgn.zst")
        large = make_dump([2014, 2015], 4, work / "tt-4x.pgn.zst")
        prep = {"one year": bench_prepare(small, work, a.repeats),
                "both years x4": bench_prepare(large, work, a.repeats)}
        train = [] if a.skip_train else bench_train(work / f"{small.stem}-2-0", work, a.repeats)
    rows = []
    for size, rs in prep.items():
        base = rs[0]["rate"]
        for r in rs:
            rows.append([size, r["what"], f"{r['plies']:,}", f"{r['s']:.1f}", f"{r['rate']:,.0f}",
                         f"{r['rate'] / base:.2f}x", f"{r['rss'] / 2**20:.0f}"])
    body = table(rows, ["input", "run", "plies", "s", "plies/s", "vs read_game", "peak MB"])
    if train:
        base = train[0]["rate"]
        trows = [[r["what"], f"{r['positions']:,}", f"{r['s']:.1f}", f"{r['rate']:,.0f}", f"{r['rate'] / base:.2f}x",
                  f"{r['wall']:.1f}", f"{r['val_loss']}"] for r in train]
        body += "\n\nTraining (train-base, 6x64 SE-ResNet, batch 256, one year of Titled Tuesday):\n\n" + \
            table(trows, ["run", "positions", "loop s", "positions/s", "vs 1x1", "command s", "val loss"])
    print(body)
    if not a.no_record:
        record("scale", "Scale: streaming prepare and DDP training", body, command_line("scale"))


if __name__ == "__main__":
    main()
