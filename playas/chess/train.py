"""Training the base chess policy from a prepared dataset (behaviour cloning of tracked players)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core import config, distributed
from ..core import train as core_train
from ..core.errors import PlayasError
from .dataset import ChessData
from .model import ChessNet, NetConfig, load_base, save_model

DEFAULT_RECIPE = {
    "net": {"blocks": 6, "filters": 64, "se_ratio": 8},
    "batch_size": 256,
    "epochs": 2,
    "positions_per_epoch": 200_000,  # a random subset of the training targets per epoch
    "lr": 0.002,
    "weight_decay": 1e-4,
    "value_weight": 0.5,
    "val_positions": 10_000,
    "games_per_player": None,  # a random sample of each player's training games (None: all)
    "init": None,  # a plain checkpoint to start from (fine-tuning), instead of random weights
    "seed": 0,
}

RECIPE_SCHEMA = {
    "net": {"blocks": config.whole(1), "filters": config.whole(1), "se_ratio": config.whole(1)},
    "batch_size": config.whole(1), "epochs": config.whole(1), "positions_per_epoch": config.optional(config.whole(1)),
    "lr": config.number(0), "weight_decay": config.number(0), "value_weight": config.number(0),
    "val_positions": config.whole(0), "games_per_player": config.optional(config.whole(1)),
    "init": config.optional_text, "seed": config.whole(0),
}


def recipe_from(values: dict | None, where: str = "recipe") -> dict:
    """The recipe: ``values`` checked against :data:`RECIPE_SCHEMA` over the defaults."""
    r, _ = config.check_config(values or {}, RECIPE_SCHEMA, where)
    return {**DEFAULT_RECIPE, **r, "net": {**DEFAULT_RECIPE["net"], **r.get("net", {})}}


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
