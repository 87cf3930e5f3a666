"""Shared by the benchmarks: the machine's description and writing a section of BENCHMARKS.md."""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads)")


def table(rows: list[list], header: list[str]) -> str:
    """A Markdown table."""
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in cells[1:]])


def record(name: str, title: str, body: str, command: str) -> None:
    """Replace (or add) the section ``name`` of BENCHMARKS.md with ``body``, stamped with date and machine."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n\nEvery table here is printed and written by a script in `bench/`; the command is under each title.\n"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        # A run from uncommitted code says so: the commit alone would not reproduce it.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "bench", "playas"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        commit += " with uncommitted changes" if dirty else ""
    except OSError:
        commit = "?"
    section = (f"<!-- bench:{name} -->\n## {title}\n\n`{command}` — {datetime.date.today()}, commit {commit}, "
               f"{machine()}\n\n{body.strip()}\n<!-- /bench:{name} -->")
    pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


def arguments(doc: str, model_and_data: bool = True):
    """A bench's argument parser: ``--no-record`` and, for the style benches, the shipped model and
    the prepared PGN Mentor dataset."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    if model_and_data:
        ap.add_argument("--model", default=str(ROOT / "models" / "pgnmentor-197.pt"))
        ap.add_argument("--data", default=str(ROOT / "data" / "pgnmentor-all"),
                        help="the prepared dataset the model learned from (scripts/build_pgnmentor_model.py)")
    ap.add_argument("--no-record", action="store_true", help="print the table only; leave BENCHMARKS.md as it is")
    return ap


def command_line(name: str) -> str:
    """The command that ran bench ``name``, with its arguments, as a section records it."""
    import shlex
    import sys

    return " ".join([f"python -m bench.{name}", *map(shlex.quote, sys.argv[1:])])


def finish(a, name: str, title: str, body: str, module: str | None = None) -> None:
    """Print a bench's table and, unless ``--no-record``, record it under ``name`` (the section of
    BENCHMARKS.md; ``module``, the bench that ran, where it is not ``name``)."""
    print(body)
    if not a.no_record:
        record(name, title, body, command_line(module or name))
