"""The one training loop: epochs of batches, checkpoints to resume from, validation per epoch.

Games plug in three functions: ``batches(epoch)`` yields index arrays (cheap, deterministic per
epoch, so a resumed run skips what it already did without building it), ``load(indices)`` builds
a batch of tensors (run ahead on a thread so the network never waits on data), and
``step_loss(model, batch)`` returns the loss and named metrics. Two speeds (style vectors learning
much faster than adapters; the recipe sets both rates) are just two optimizer parameter groups.

Under torchrun (:mod:`.distributed`) the same loop runs on every rank: each rank's ``batches``
are its own share of the data, DDP averages the gradients, every rank takes the same number of
steps, and rank 0 alone prints and writes the state file.
"""

from __future__ import annotations

import math
import os
import queue
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from . import distributed
from .progress import Progress


def prefetch(items: Iterable, load: Callable, depth: int = 3) -> Iterator:
    """``map(load, items)`` computed ``depth`` ahead on a background thread."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work():
        try:
            for it in items:
                if stop.is_set():
                    return
                q.put(load(it))
        except BaseException as e:  # hand errors to the consumer
            q.put(e)
        q.put(done)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    try:
        while (x := q.get()) is not done:
            if isinstance(x, BaseException):
                raise x
            yield x
    finally:
        stop.set()


def epoch_plan(examples: np.ndarray, per_epoch: int | None, batch_size: int, seed: int, epoch: int) -> list:
    """The batches of one epoch: a deterministic random subset of ``examples`` (all with None)."""
    rng = np.random.default_rng([seed, epoch])
    chosen = rng.permutation(examples)[:per_epoch] if per_epoch else rng.permutation(examples)
    return [chosen[i:i + batch_size] for i in range(0, len(chosen) - batch_size + 1, batch_size)]


def cosine_lr(step: int, total: int, warmup: int = 100, floor: float = 0.1) -> float:
    """Multiplier: linear warm-up, then cosine decay to ``floor``."""
    if step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


class _Loss(torch.nn.Module):
    """``step_loss(model, batch)`` as a module, for DDP to wrap: some step losses do not call
    ``model(...)`` (styles run ``game.head(model, ...)``), and DDP syncs gradients only through
    the forward of the module it wraps."""

    def __init__(self, model: torch.nn.Module, step_loss: Callable):
        super().__init__()
        self.model, self.step_loss = model, step_loss

    def forward(self, batch):
        return self.step_loss(self.model, batch)


def _resume(state_path: Path, model, optimizer, main: bool) -> tuple[int, int, list]:
    """(epoch, batch, history) to start from: the state file's, or the beginning."""
    if not state_path.exists():
        return 0, 0, []
    st = torch.load(state_path, map_location="cpu", weights_only=False)  # every rank reads the same file
    model.load_state_dict(st["model"])
    optimizer.load_state_dict(st["optimizer"])
    if main:
        print(f"resuming from {state_path}: epoch {st['epoch'] + 1}, batch {st['batch']}", flush=True)
    return st["epoch"], st["batch"], st["history"]


def _distributed(loss_of: torch.nn.Module, rank: distributed.Rank) -> torch.nn.Module:
    """``loss_of`` wrapped in DDP when there are several ranks."""
    if rank.world == 1:
        return loss_of
    # Real DDP: gradients are all-reduced (averaged) in buckets during backward; frozen
    # parameters (requires_grad=False) are left out by DDP itself. static_graph: every step
    # uses the same parameters, though not all of them (Rocket's unused previous-action
    # embedding), which DDP then learns once instead of searching the graph every step.
    return torch.nn.parallel.DistributedDataParallel(
        loss_of, device_ids=[rank.local_rank] if rank.device.startswith("cuda") else None, static_graph=True)


class _Stop:
    """Whether to stop after this step: Ctrl-C (and, under torchrun, SIGTERM or the loss of the
    torchrun agent that started this worker). Under torchrun every rank stops at the same step."""

    def __init__(self, world: int):
        self.world, self.signalled, self.parent = world, False, os.getppid()
        self.signals = [signal.SIGINT] + ([signal.SIGTERM] if world > 1 else [])
        self.old: dict = {}

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            self.old = {s: signal.signal(s, self._flag) for s in self.signals}
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self.old.items():
            signal.signal(s, h)

    def _flag(self, *_) -> None:
        self.signalled = True

    def now(self) -> bool:
        if self.world == 1:
            return self.signalled
        return distributed.any_across(self.signalled or os.getppid() != self.parent)  # one tiny all-reduce


def fit(model: torch.nn.Module, optimizer: torch.optim.Optimizer, *, epochs: int,
        batches: Callable[[int], list], load: Callable, step_loss: Callable,
        validate: Callable[[], dict] | None = None, state_path: str | os.PathLike,
        on_epoch: Callable[[int, dict], None] | None = None, desc: str = "train",
        checkpoint_seconds: float = 120.0, grad_clip: float | None = 10.0) -> list[dict]:
    """Train ``model``; resumes from ``state_path`` when it exists. Returns per-epoch records.

    The state file (model, optimizer, epoch, batch, history) is written every
    ``checkpoint_seconds`` and at every epoch's end, atomically; Ctrl-C writes it and stops.
    """
    state_path = Path(state_path)
    rank = distributed.setup()
    main = rank.rank == 0
    start_epoch, start_batch, history = _resume(state_path, model, optimizer, main)
    base_lrs = [g.get("initial_lr", g["lr"]) for g in optimizer.param_groups]
    for g, lr in zip(optimizer.param_groups, base_lrs):
        g["initial_lr"] = lr
    model.to(rank.device)  # a GPU under torchrun with nccl; back on the CPU when done
    loss_of = _distributed(_Loss(model, step_loss), rank)

    def save(epoch, batch):
        if not main:  # one writer; the others' parameters are the same
            return
        tmp = state_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "epoch": epoch, "batch": batch, "history": history}, tmp)
        os.replace(tmp, state_path)

    try:
        with _Stop(rank.world) as stop:
            for epoch in range(start_epoch, epochs):
                plan = batches(epoch)
                plan = plan[:distributed.min_across(len(plan))]  # every rank takes as many steps
                first = start_batch if epoch == start_epoch else 0
                model.train()
                sums: dict[str, float] = {}
                started = last_save = time.monotonic()
                with Progress(len(plan), f"{desc} epoch {epoch + 1}/{epochs}", unit="batches", quiet=not main) as bar:
                    bar.update(first)
                    for b, batch in enumerate(prefetch(plan[first:], load), start=first):
                        for g, lr in zip(optimizer.param_groups, base_lrs):
                            g["lr"] = lr * cosine_lr(epoch * len(plan) + b, len(plan) * epochs)
                        loss, metrics = loss_of(batch)
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        if grad_clip:
                            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                        optimizer.step()
                        for k, v in metrics.items():
                            sums[k] = sums.get(k, 0.0) + float(v)
                        n = b + 1 - first
                        bar.update(1, **{k: f"{s / n:.3f}" for k, s in sums.items()})
                        stopping = stop.now()
                        if stopping or time.monotonic() - last_save > checkpoint_seconds:
                            save(epoch, b + 1)
                            last_save = time.monotonic()
                        if stopping:
                            if main:
                                print(f"\ninterrupted: state saved to {state_path}; run again to resume", flush=True)
                            raise KeyboardInterrupt
                # averaged over the ranks (each trained and validates on its own share)
                n = max(len(plan) - first, 1)
                record = {"epoch": epoch + 1, **distributed.mean_across({f"train_{k}": round(s / n, 4)
                                                                           for k, s in sums.items()}),
                          "train_seconds": round(time.monotonic() - started, 2), "batches": len(plan) - first}
                if validate is not None:
                    model.eval()
                    record.update(distributed.mean_across(validate()))
                history.append(record)
                save(epoch + 1, 0)
                if main:
                    print("  ".join(f"{k} {v}" for k, v in record.items()), flush=True)
                if on_epoch:
                    on_epoch(epoch, record)
    finally:
        model.to("cpu")
    return history
