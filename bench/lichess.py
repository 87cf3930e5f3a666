"""Lichess bot benchmark: eight games at once against the loopback Lichess, move latency and CPU.

    python -m bench.lichess                       # 8 games at a time for 30 s, nodes 1 and 16
    python -m bench.lichess --games 8 --seconds 60 --nodes 1 16 64 --think 0.3

The bot runs as a user runs it (``playas chess lichess --config ...`` in its own process, token from
LICHESS_TOKEN) against the test suite's Lichess on loopback (tests/lichess_server.py), whose
opponents play random legal moves after ``--think`` seconds each, with a 3+2 clock. Whenever a
game ends (mate, or a draw at ``--plies``) a new challenge takes its place, so the bot keeps
``--games`` games going for ``--seconds``, as a busy bot account does. Latency is measured by the
server, as Lichess would see it: from sending the game state that gives the bot the move to
receiving the bot's move, HTTP both ways included (a game's first move as White also opens the
game's stream). CPU is the bot process's user+system time over the window (100% is one core).
Prints one table and writes it to BENCHMARKS.md (section "lichess").
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from tests.lichess_server import LichessServer

from .common import ROOT, command_line, record, table

TOKEN = "lip_bench_token"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(model: str, games: int, seconds: float, plies: int, nodes: int, think: float) -> dict:
    """One run: a bot process kept at ``games`` games for ``seconds``; latencies, CPU, load."""
    with LichessServer(token=TOKEN) as server, tempfile.TemporaryDirectory(prefix="playas-bench-") as tmp:
        cfg = Path(tmp) / "lichess.yml"
        silent = {"hello": "", "goodbye": "", "hello_spectators": "", "goodbye_spectators": ""}
        cfg.write_text(yaml.safe_dump({"url": server.url, "engine": {"model": model, "nodes": nodes},
                                       "challenge": {"concurrency": games, "max_queue": 0}, "greeting": silent}))
        env = {**os.environ, "LICHESS_TOKEN": TOKEN}
        bot = subprocess.Popen([sys.executable, "-m", "playas.cli", "chess", "lichess", "--config", str(cfg)], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ids: list[str] = []

        def challenge() -> None:
            n = len(ids)
            ids.append(server.challenge(f"player{n}", bot_color="white" if n % 2 == 0 else "black", limit=180,
                                        increment=2, opponent="random", delay=think, max_plies=plies))

        try:
            server.wait(lambda: server.connections["event"] > 0, 120, "the bot to log in")
            cpu0 = cpu_seconds(bot.pid)
            t0 = time.monotonic()
            for _ in range(games):
                challenge()
            playing = []
            while time.monotonic() - t0 < seconds:
                with server.cv:
                    live = sum(1 for g in ids if g in server.games and not server.games[g].over)
                    waiting = sum(1 for g in ids if g not in server.games and g not in server.declined)
                playing.append(live)
                for _ in range(games - live - waiting):
                    challenge()
                time.sleep(0.1)
            wall, cpu = time.monotonic() - t0, cpu_seconds(bot.pid) - cpu0
        finally:
            bot.terminate()
            bot.wait(30)
        with server.cv:
            latencies = [s for g in ids if g in server.games for _, s in server.games[g].latencies]
            done = sum(1 for g in ids if g in server.games and server.games[g].over)
            refusals = len(server.refusals)
    return {"nodes": nodes, "latencies": np.array(latencies) * 1000, "wall": wall, "cpu": cpu,
            "playing": float(np.mean(playing)), "finished": done, "refusals": refusals}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(ROOT / "models" / "maia-1900.pt"))
    p.add_argument("--games", type=int, default=8, help="games at once")
    p.add_argument("--seconds", type=float, default=30, help="how long each row keeps the games going")
    p.add_argument("--plies", type=int, default=120, help="a game is adjudicated a draw at this many plies")
    p.add_argument("--nodes", type=int, nargs="+", default=[1, 16])
    p.add_argument("--think", type=float, default=0.3, help="the opponents' seconds a move")
    p.add_argument("--no-record", action="store_true", help="print the table only; leave BENCHMARKS.md as it is")
    a = p.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for nodes in a.nodes:
        r = run(a.model, a.games, a.seconds, a.plies, nodes, a.think)
        lat = r["latencies"]
        rows.append([a.games, r["nodes"], f"{r['playing']:.1f}", len(lat), r["finished"],
                     f"{np.percentile(lat, 50):.0f}", f"{np.percentile(lat, 95):.0f}", f"{lat.max():.0f}",
                     f"{100 * r['cpu'] / r['wall']:.0f}%", r["refusals"]])
    body = table(rows, ["games at once", "nodes", "games playing (mean)", "bot moves", "games finished",
                        "latency p50 ms", "p95 ms", "max ms", "bot CPU (100% = 1 core)", "refused requests"])
    body += (f"\n\n{a.seconds:g} s a row; model {Path(a.model).name}; 1 torch thread; opponents move at random "
             f"after {a.think}s on a 3+2 clock, and a finished game is replaced by a new challenge. Latency is "
             f"server-side, from the state that gives the bot the move to its move arriving, HTTP included. "
             f"Load average at the start: {load:.1f} on {os.cpu_count()} cores.")
    print(body)
    if not a.no_record:
        record("lichess", "Lichess bot: eight games at once", body, command_line("lichess"))


if __name__ == "__main__":
    main()
