"""Rocket League fine-tuning throughput: agent steps a second of ``playas rocket train-play``.

Runs the real fine-tuning loop (:func:`playas.rocket.finetune.train_play`: batched RocketSim
arenas, the frozen trunk once a decision, PPO passes over the adapted top) from the shipped
behaviour-cloned model, for ``--agent-steps`` (kickoff starts only, so no replay is read), and
reports agent steps a second, split into play (simulation, observation, the policy) and learning
(PPO's passes). An agent step is one decision of one learning car; ATBA's cars are not counted.
Also the run of a fine-tuned model (``--tuned``), from its card: its agent steps and wall time.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, arguments, finish, table
from playas.rocket.finetune import train_play


def main() -> None:
    ap = arguments(__doc__, model_and_data=False)
    ap.add_argument("--model", default=str(ROOT / "models" / "rocket-replays.pt"))
    ap.add_argument("--agent-steps", type=int, default=60_000)
    ap.add_argument("--arenas", default="48,96,192", help="arena counts to measure")
    ap.add_argument("--tuned", help="a fine-tuned model whose card's run to report")
    a = ap.parse_args()
    rows = []
    for n in map(int, a.arenas.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.monotonic()
            card = train_play(a.model, [], Path(tmp) / "t.pt", {"agent_steps": a.agent_steps, "arenas": n,
                                                                "replay_starts": 0.0}, progress=False)
            wall = time.monotonic() - t0
        f = card["fine_tune"]
        play, learn = f["play_seconds"], f["learn_seconds"]
        rows.append([n, f"{f['agent_steps']:,}", f"{f['agent_steps'] / (play + learn):,.0f}",
                     f"{f['agent_steps'] / play:,.0f}", f"{f['agent_steps'] / learn:,.0f}", f"{wall:.0f}"])
    body = (f"train-play from {Path(a.model).name}, {a.agent_steps:,} agent steps a row (kickoff starts, half the "
            f"episodes against ATBA), arenas stepped in "
            f"{os.cpu_count()} threads, torch on {os.environ.get('PLAYAS_THREADS', os.cpu_count())}\n\n"
            + table(rows, ["arenas", "agent steps", "agent steps/s", "play only /s", "learning only /s",
                           "wall s (with start-up)"]))
    if a.tuned:
        t = json.loads(Path(a.tuned).with_suffix(".json").read_text())["fine_tune"]
        body += (f"\n\n{Path(a.tuned).name}: {t['agent_steps']:,} agent steps in {t['wall_seconds'] / 3600:.2f} h "
                 f"({t['agent_steps_per_second']:,} a second, the whole run)")
    finish(a, "rocket_finetune", "Rocket League fine-tuning throughput", body)


if __name__ == "__main__":
    main()
