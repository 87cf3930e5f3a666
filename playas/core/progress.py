"""A small progress line on stderr (no dependency), quiet when stderr is not a terminal."""

from __future__ import annotations

import sys
import time


class Progress:
    """``with Progress(total, "prepare") as p: p.update(n, plies=...)``."""

    def __init__(self, total: int | None, desc: str, unit: str = "it", every: float = 0.5, quiet: bool = False):
        self.total, self.desc, self.unit, self.every, self.quiet = total, desc, unit, every, quiet
        self.done = self.before = 0  # before: done in an earlier run, not by this one
        self.start = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()
        if not self.tty:
            self.every = max(every, 15.0)  # logs want a line now and then, not a stream
        self.extra: dict = {}

    def update(self, n: int = 1, **extra) -> None:
        self.done += n
        self.extra.update(extra)
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._draw(end="\r" if self.tty else "\n")

    def resume(self, n: int) -> None:
        """Count ``n`` as done before this run began: in the total, not in the rate or the eta."""
        self.done += n
        self.before += n

    def _draw(self, end: str) -> None:
        if self.quiet:  # e.g. every rank but the first under torchrun: one line is enough
            return
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = (self.done - self.before) / elapsed
        parts = [f"{self.desc}: {self.done:,}" + (f"/{self.total:,}" if self.total else "") + f" {self.unit}",
                 f"{rate:,.0f} {self.unit}/s", f"{elapsed:,.0f}s"]
        if self.total and rate > 0:
            parts.append(f"eta {(self.total - self.done) / rate:,.0f}s")
        parts += [f"{k} {v}" for k, v in self.extra.items()]
        if self.tty or end == "\n":
            sys.stderr.write("  ".join(parts) + "\x1b[K" * self.tty + end)
            sys.stderr.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.done:
            self._draw(end="\n")
