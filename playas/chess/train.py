"""Training the base chess policy from a prepared dataset (behaviour cloning of tracked players)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core import config, distributed
from ..core.config import number, optional, optional_text, section, setting, whole
from ..core import train as core_train
from ..core.errors import PlayasError
from .dataset import ChessData
from .model import ChessNet, NetConfig, load_base, save_model


@dataclass
class Net:
    """The SE-ResNet's shape (Maia-1 is 6 blocks of 64 filters, SE ratio 8)."""

    blocks: int = setting(6, whole(1), "residual blocks")
    filters: int = setting(64, whole(1), "channels of every block")
    se_ratio: int = setting(8, whole(1), "squeeze-and-excitation reduction ratio")


@dataclass
class BaseRecipe:
    """``playas chess train-base``'s recipe (configs/base.yml)."""

    net: Net = section(Net, "the network's shape (ignored with init: the checkpoint's own)")
    batch_size: int = setting(256, whole(1), "positions a step")
    epochs: int = setting(2, whole(1), "passes")
    positions_per_epoch: int | None = setting(200_000, optional(whole(1)),
                                              "a random subset of the training targets per epoch (none: all)")
    lr: float = setting(0.002, number(0), "AdamW's learning rate")
    weight_decay: float = setting(1e-4, number(0), "AdamW's weight decay")
    value_weight: float = setting(0.5, number(0), "the value head's share of the loss")
    val_positions: int = setting(10_000, whole(0), "validation positions after each epoch")
    games_per_player: int | None = setting(None, optional(whole(1)),
                                           "a random sample of each player's training games (none: all)")
    init: str | None = setting(None, optional_text,
                               "a plain checkpoint to start from (fine-tuning), instead of random weights")
    seed: int = setting(0, whole(0), "the seed of every random choice")


def recipe_from(values: dict | None, where: str = "recipe") -> dict:
    """The recipe: ``values`` checked against :class:`BaseRecipe`, over its defaults."""
    return config.recipe(BaseRecipe, (values, where))


def make_batch(data: ChessData, idx: np.ndarray, with_legal: bool = False) -> dict:
    """Tensors for rows ``idx``: planes, the move played, the mover's result, and the mover id."""
    idx = np.sort(idx)  # sequential reads from the memory-mapped arrays
    batch = {"x": torch.from_numpy(data.planes(idx)),
             "y": torch.from_numpy(np.asarray(data.rows["move"][idx], dtype=np.int64)),
             "wdl": torch.from_numpy(data.wdl(idx)),
             "player": torch.from_numpy(data.mover[idx].astype(np.int64))}
    if with_legal:
        batch["legal"] = torch.from_numpy(data.legal_mask(idx))
        batch["position"] = torch.from_numpy(np.asarray(data.rows["zobrist"][idx]).view(np.int64))
        batch["ply"] = torch.from_numpy(data.ply[idx])
    return batch


def policy_value_loss(logits, wdl_logits, batch, value_weight: float):
    """Cross-entropy on the move played plus a weighted WDL cross-entropy where the result is known."""
    policy = F.cross_entropy(logits, batch["y"])
    known = batch["wdl"] >= 0
    value = F.cross_entropy(wdl_logits[known], batch["wdl"][known]) if known.any() else logits.sum() * 0
    acc = (logits.argmax(1) == batch["y"]).float().mean()
    return policy + value_weight * value, {"policy": policy.item(), "value": value.item(), "acc": acc.item()}


@torch.inference_mode()
def validate(net: torch.nn.Module, data: ChessData, idx: np.ndarray, batch_size: int = 512,
             forward=None) -> dict:
    """Loss and top-1 accuracy (legal moves only) on rows ``idx``."""
    dev = next(net.parameters()).device
    forward = forward or (lambda b: net(b["x"].to(dev)))
    nll = correct = total = 0.0
    for s in range(0, len(idx), batch_size):
        b = make_batch(data, idx[s:s + batch_size], with_legal=True)
        logits = forward(b)[0].float().cpu()
        logits = logits.masked_fill(~b["legal"], float("-inf"))
        nll += F.cross_entropy(logits, b["y"], reduction="sum").item()
        correct += (logits.argmax(1) == b["y"]).sum().item()
        total += len(b["y"])
    return {"val_loss": round(nll / max(total, 1), 4), "val_acc": round(correct / max(total, 1), 4)}


def train_base(data_dir, out, recipe: dict | None = None, checkpoint_seconds: float = 120.0) -> dict:
    """Train a fresh SE-ResNet on the training split; resumable; writes a checkpoint at ``out``.

    Under torchrun each rank trains on its share of the games (DDP) and rank 0 writes ``out``;
    per-epoch counts are split between the ranks, so an epoch is as much work as alone."""
    r = recipe_from(recipe)
    world = distributed.setup().world
    full = ChessData(data_dir)  # every game: the same sample on every rank
    data = ChessData(data_dir, part=distributed.part()) if world > 1 else full
    games = None
    if r["games_per_player"]:
        games = full.sample_games("train", r["games_per_player"], r["seed"])
    train_idx, val_idx = data.targets("train", games=games), data.targets("val")
    if len(train_idx) < r["batch_size"]:
        raise PlayasError(f"{data_dir} has {len(train_idx)} training positions; need at least one batch "
                          f"of {r['batch_size']}")
    rng = np.random.default_rng(r["seed"])
    val_idx = rng.permutation(val_idx)[: distributed.share(r["val_positions"])]
    torch.manual_seed(r["seed"])
    if r["init"]:
        net = load_base(r["init"])
        net.freeze_norm = True  # the trained statistics stay; a fine-tune only nudges weights
        r["net"] = net.config.to_dict()
    else:
        net = ChessNet(NetConfig(**r["net"]))
    opt = torch.optim.AdamW(net.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
    out = Path(out)
    started = time.process_time()
    # each rank a share of the batch: the same steps on the same global batch as one process
    per_epoch, batch = distributed.share(r["positions_per_epoch"]), distributed.share(r["batch_size"])
    history = core_train.fit(
        net, opt, epochs=r["epochs"],
        batches=lambda e: core_train.epoch_plan(train_idx, per_epoch, batch, r["seed"], e),
        load=lambda idx: distributed.to_device(make_batch(data, idx)),
        step_loss=lambda m, b: policy_value_loss(*m(b["x"]), b, r["value_weight"]),
        validate=lambda: validate(net, data, val_idx),
        state_path=out.with_suffix(".train-state"), desc="train-base", checkpoint_seconds=checkpoint_seconds)
    source = f"fine-tuned from {r['init']} by playas train-base" if r["init"] else "trained from scratch by playas train-base"
    card = {"kind": "base", "source": source, "recipe": r, "world_size": world,
            "data": {"path": str(data_dir), "input_hash": data.manifest["input_hash"],
                     "players": len(data.players), "train_positions": distributed.sum_across(len(train_idx))},
            "cpu_seconds_this_run": round(time.process_time() - started, 1),
            "history": history, "metrics": history[-1] if history else {}}
    if distributed.is_main():  # one writer
        save_model(out, net, card)
    return card
