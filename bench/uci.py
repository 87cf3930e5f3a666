"""UCI engine benchmark: start-up, bestmove latency, and playing strength by style against Stockfish.

    python -m bench.uci                                   # speed, plus a small strength run
    python -m bench.uci --styles mean Tal Petrosian Tal:0.5,Petrosian:0.5 --skills 0 3 6 10 --games 10 --tc 60+0.6

Speed: the engine on a pipe, as a GUI runs it. Start-up is from launching the process to
``uciok`` (``uci`` sent at once) and to the first ``readyok`` (model loaded); latency is from
writing ``go`` to reading ``bestmove`` over positions of real games, with a clock of a minute.
Strength: short clocked matches of each style against Stockfish at fixed skill levels, colours
alternating (Stockfish from Debian: ``apt-get install stockfish``). Prints the tables and writes
them to BENCHMARKS.md (section "uci").
"""

from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import chess
import chess.engine
import chess.pgn
import numpy as np

from playas.bots.arena import play_clocked
from playas.shipped import default_model
from playas.chess.pgn import iter_game_texts
from playas.chess.play import find_engine
from playas.core.errors import PlayasError

from .common import ROOT, SHARED, record, table

ENGINE = [sys.executable, "-m", "playas.bots.uci"]


class Pipe:
    """The engine as a GUI sees it: lines in, lines out, timed."""

    def __init__(self, model: str):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(ENGINE + ["--model", model], cwd=ROOT, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)
        self.q: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [self.q.put((time.monotonic(), x.strip())) for x in self.p.stdout],
                         daemon=True).start()

    def send(self, line: str) -> float:
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return time.monotonic()

    def until(self, prefix: str, timeout: float = 120) -> float:
        """The time the first line starting with ``prefix`` arrived."""
        while True:
            t, line = self.q.get(timeout=timeout)
            if line.startswith(prefix):
                return t

    def close(self) -> None:
        self.send("quit")
        self.p.wait(timeout=30)


def bench_startup(model: str, runs: int) -> tuple[float, float]:
    uciok, ready = [], []
    for _ in range(runs):
        e = Pipe(model)
        e.send("uci")
        uciok.append(e.until("uciok") - e.t0)
        e.send("isready")
        ready.append(e.until("readyok") - e.t0)
        e.close()
    return float(np.median(uciok)), float(np.median(ready))


def game_positions(n: int, seed: int = 0) -> list[list[str]]:
    """Move lists leading to ``n`` positions of real games (pgnmentor), else of random games."""
    rng = np.random.default_rng(seed)
    out = []
    src = SHARED / "chess" / "pgnmentor" / "Tal.pgn.gz"
    if src.exists():
        import io

        for text in iter_game_texts(src):
            game = chess.pgn.read_game(io.StringIO(text))
            moves = [m.uci() for m in game.mainline_moves()]
            if len(moves) > 10:
                out.append(moves[: int(rng.integers(1, len(moves)))])
            if len(out) >= n:
                return out
    while len(out) < n:  # no game files: random legal play
        board = chess.Board()
        for _ in range(int(rng.integers(1, 80))):
            moves = list(board.legal_moves)
            if not moves:
                break
            board.push(moves[int(rng.integers(len(moves)))])
        if any(board.legal_moves):
            out.append([m.uci() for m in board.move_stack])
    return out


def bench_latency(model: str, positions: list[list[str]], nodes: int) -> tuple[float, float]:
    e = Pipe(model)
    e.send("uci")
    e.until("uciok")
    e.send("setoption name HumanTime value false")  # the engine's own latency, not a person's think
    e.send("isready")
    e.until("readyok")
    times = []
    for moves in positions:
        e.send("position startpos moves " + " ".join(moves) if moves else "position startpos")
        t = e.send(f"go wtime 60000 btime 60000 winc 0 binc 0 nodes {nodes}")
        times.append(e.until("bestmove") - t)
    e.close()
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 95) * 1000)


def bench_search_speed(model: str, positions: list[list[str]], nodes: int) -> dict[int, float]:
    """Tree-search nodes a second on one torch thread, one leaf at a time (batch 1, as before)
    and in batches of :data:`~playas.chess.search.BATCH`, taking turns position by position so a
    busy machine slows both alike."""
    import torch

    from playas.chess.policy import Policy
    from playas.chess.search import BATCH, search

    torch.set_num_threads(1)
    policy = Policy.load(model)
    spent = {1: 0.0, BATCH: 0.0}
    counted = {1: 0, BATCH: 0}
    for moves in positions:
        board = chess.Board()
        for m in moves:
            board.push_uci(m)
        for batch in spent:
            t = time.perf_counter()
            counted[batch] += search(policy, board, nodes, batch=batch).nodes
            spent[batch] += time.perf_counter() - t
    return {b: counted[b] / spent[b] for b in spent}


def stockfish_path(given: str | None) -> str:
    try:
        return find_engine(given or "stockfish")
    except PlayasError as e:
        sys.exit(f"bench/uci.py: {str(e).replace('--engine', '--stockfish')}")


def bench_strength(a, styles: list[str], skills: list[int]) -> list[list]:
    base, inc = (float(x) for x in a.tc.split("+"))
    sf = chess.engine.SimpleEngine.popen_uci(stockfish_path(a.stockfish))
    ours = chess.engine.SimpleEngine.popen_uci(ENGINE + ["--model", a.model], cwd=ROOT)
    rows = []
    try:
        for style in styles:
            opts = {"Temperature": str(a.temperature), "Nodes": a.engine_nodes, "Seed": a.seed + 1,
                    "HumanTime": a.human_time}
            opts.update({"Player": style, "Style": ""} if style in ours.options["Player"].var else
                        {"Player": "mean", "Style": style})
            ours.configure(opts)
            row = [style]
            for skill in skills:
                sf.configure({"Skill Level": skill, "Threads": 1, "Hash": 16})
                score, forfeits = 0.0, 0
                for g in range(a.games):
                    color = chess.WHITE if g % 2 == 0 else chess.BLACK
                    white, black = (ours, sf) if color == chess.WHITE else (sf, ours)
                    r = play_clocked(white, black, base, inc, max_plies=a.max_plies)
                    score += r.score(color)
                    forfeits += r.loser == color and r.termination in ("time forfeit", "illegal move")
                    print(f"  {style} vs skill {skill}, game {g + 1}: {r.result} ({r.termination}, "
                          f"{len(r.board.move_stack)} plies)", flush=True)
                row.append(f"{score:g}/{a.games}" + (f" ({forfeits} forfeits)" if forfeits else ""))
            rows.append(row)
    finally:
        ours.quit()
        sf.quit()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(default_model("chess")))
    ap.add_argument("--positions", type=int, default=200, help="positions for the latency percentiles")
    ap.add_argument("--nodes", type=int, nargs="+", default=[1], help="Nodes values to time")
    ap.add_argument("--search-nodes", type=int, default=400, help="nodes of each timed tree search (0: skip)")
    ap.add_argument("--search-positions", type=int, default=50, help="positions the search speed is timed on")
    ap.add_argument("--startups", type=int, default=3, help="launches to take the median start-up of")
    ap.add_argument("--styles", nargs="+", default=["mean"], help="players or blends (Tal:0.5,Petrosian:0.5)")
    ap.add_argument("--skills", type=int, nargs="+", default=[0, 3, 6], help="Stockfish Skill Levels (0-20)")
    ap.add_argument("--games", type=int, default=2, help="games per style and skill level, colours alternating")
    ap.add_argument("--tc", default="30+0.3", help="time control BASE+INC in seconds, both sides")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--engine-nodes", type=int, default=1, help="the engine's Nodes option in the matches")
    ap.add_argument("--human-time", action="store_true", help="the engine's HumanTime option in the matches "
                    "(default off: the recorded strength runs predate it)")
    ap.add_argument("--max-plies", type=int, default=300, help="adjudicate a draw after this many plies")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stockfish", help="Stockfish's path (default: found on PATH or /usr/games)")
    ap.add_argument("--no-strength", action="store_true")
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args()

    uciok, ready = bench_startup(a.model, a.startups)
    positions = game_positions(a.positions, a.seed)
    speed = [["start-up: launch → uciok", f"{uciok:.2f} s", "≤ 2 s"],
             ["start-up: launch → first readyok (model loaded)", f"{ready:.2f} s", "≤ 2 s"]]
    for n in a.nodes:
        p50, p95 = bench_latency(a.model, positions, n)
        target = "≤ 10 ms" if n == 1 else ""
        speed += [[f"bestmove latency p50, nodes={n} ({len(positions)} positions)", f"{p50:.1f} ms", target],
                  [f"bestmove latency p95, nodes={n}", f"{p95:.1f} ms", ""]]
    if a.search_nodes:
        nps = bench_search_speed(a.model, positions[: a.search_positions], a.search_nodes)
        (one, many), batch = nps.values(), max(nps)
        speed += [[f"tree search, one leaf at a time: nodes a second ({a.search_nodes}-node searches, "
                   f"{min(a.search_positions, len(positions))} positions, 1 thread)", f"{one:.0f}", ""],
                  [f"tree search, {batch} leaves a batch (the engine's): nodes a second", f"{many:.0f} ({many / one:.2f}x)", ""]]
    body = (f"The engine on one torch thread (its Threads option); load average at the start "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.\n\n" + table(speed, ["measure", "value", "target"]))
    if not a.no_strength:
        rows = bench_strength(a, a.styles, a.skills)
        body += (f"\n\nScore against Stockfish 15 (Skill Level, 1 thread) at {a.tc} s, {a.games} games per cell, "
                 f"Temperature {a.temperature:g}, Nodes {a.engine_nodes}, HumanTime {str(a.human_time).lower()}:\n\n"
                 + table(rows, ["style"] + [f"skill {s}" for s in a.skills]))
    print(body)
    if not a.no_record:
        cmd = "python -m bench.uci " + " ".join(sys.argv[1:])
        record("uci", f"UCI engine: {Path(a.model).name}", body, cmd.strip())


if __name__ == "__main__":
    main()
