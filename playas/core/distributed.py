"""Training on several processes with PyTorch DDP, launched by torchrun.

``torchrun --nproc_per_node=N -m playas chess train-base ...`` starts N copies of the command;
torchrun tells each its place through the environment (RANK, WORLD_SIZE, LOCAL_RANK).
:func:`setup` joins them into one process group (gloo on CPU, nccl on GPUs); each rank then
reads its own share of the data (:func:`part`), DDP all-reduces the gradients, and only rank 0
writes files and prints. Without torchrun nothing here touches ``torch.distributed``: one
process, rank 0 of 1, exactly as before.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Rank:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None  # None: no process group (a single process)
    device: str = "cpu"


_RANK: Rank | None = None


def setup() -> Rank:
    """This process's place, joining torchrun's process group the first time it is called."""
    global _RANK
    if _RANK is not None:
        return _RANK
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:  # not under torchrun
        _RANK = Rank()
        return _RANK
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", 0))
    backend, device = "gloo", "cpu"
    if torch.cuda.is_available():  # one GPU per process; nccl reduces on the GPUs themselves
        backend, device = "nccl", f"cuda:{local}"
        torch.cuda.set_device(local)
    dist.init_process_group(backend)
    _RANK = Rank(rank, world, local, backend, device)
    return _RANK


def to_device(x, device: str | torch.device | None = None):
    """Tensors in ``x`` (a tensor, or a dict, tuple or list of them) on ``device`` (default: this
    rank's); a no-op on CPU."""
    device = torch.device(device or setup().device)
    if isinstance(x, torch.Tensor):
        return x if x.device == device else x.to(device, non_blocking=True)
    if isinstance(x, dict):
        return {k: to_device(v, device) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(to_device(v, device) for v in x)
    return x


def teardown(finished: bool = True) -> None:
    """Leave the process group (at the end of a command), if one was joined.

    A rank that finished waits for the others first, and what still holds the group (DDP's
    reducer, in reference cycles) is collected before it goes: a group destroyed while a peer
    still talks to it, or left to the interpreter's exit, aborts the process ("terminate
    called without an active exception", seen once in CI on a rank that had finished)."""
    global _RANK
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        if finished:
            try:
                dist.barrier()
            except RuntimeError:  # a peer already gone: nothing left to wait for
                pass
        dist.destroy_process_group()
    _RANK = None


def is_main() -> bool:
    """Whether this process is the one that writes files and prints (rank 0)."""
    return setup().rank == 0


def part() -> tuple[int, int] | None:
    """(rank, world) for a dataset to keep this rank's share; None in a single process."""
    r = setup()
    return (r.rank, r.world) if r.world > 1 else None


def _reduce(values: list[float], op) -> list[float]:
    r = setup()
    if r.world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=r.device)
    dist.all_reduce(t, op=op)
    return t.tolist()


def mean_across(record: dict) -> dict:
    """``record`` with each number averaged over the ranks (each rank passes the same keys)."""
    keys = [k for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if setup().world == 1 or not keys:
        return record
    sums = _reduce([float(record[k]) for k in keys], dist.ReduceOp.SUM)
    return {**record, **{k: round(s / setup().world, 4) for k, s in zip(keys, sums)}}


def sum_across(n: int) -> int:
    """The total of ``n`` over the ranks (a count of each rank's share)."""
    return int(_reduce([float(n)], dist.ReduceOp.SUM)[0])


def share(n: int | None) -> int | None:
    """This rank's part of a count per epoch or per step ``n`` (rounded up; None stays None), so
    that the ranks together do what one process would: a batch split over the ranks is one
    process's batch, and the steps, learning rates and loss curve stay the same."""
    world = setup().world
    return n if n is None or world == 1 else -(-n // world)


def min_across(n: int) -> int:
    """The smallest ``n`` of any rank (so that every rank does as many steps)."""
    return int(_reduce([float(n)], dist.ReduceOp.MIN)[0])


def any_across(flag: bool) -> bool:
    """Whether any rank's ``flag`` is set (so that all stop at the same step)."""
    return bool(_reduce([float(flag)], dist.ReduceOp.MAX)[0])
