"""Training Rocket League policies: the base for everyone, then a style per player.

Games are split whole (never by frame): :func:`split_games` holds out one game of every player
with 3 or more for testing, and a few others for validation. :func:`train_base` trains
:class:`~playas.rocket.model.RocketNet` on every training decision of every player, predicting
each decision of a window from the ones before it; :mod:`playas.rocket.game` freezes it, puts MHR
adapters on its last block and learns one style row per player with 2 or more training games,
through :mod:`playas.core.learning` unchanged.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core import config, distributed
from ..core import train as core_train
from .dataset import RocketData
from .model import PolicyConfig, RocketNet, save_model

BASE_RECIPE = {
    "net": {"context": 16, "width": 128, "layers": 2, "heads": 4, "previous_action": False},
    "batch_size": 256,  # windows; every decision of a window is a target
    "epochs": 8,
    "windows_per_epoch": None,  # None: as many windows as training decisions / context
    "lr": 0.002,
    "weight_decay": 0.01,
    "test": True,  # hold out a game of every player with 3+ games (False: train on every game)
    "val_games": 8,
    "seed": 0,
}
BASE_SCHEMA = {
    "net": {"context": config.whole(1), "width": config.whole(8), "layers": config.whole(1), "heads": config.whole(1),
            "previous_action": config.flag},
    "batch_size": config.whole(1), "epochs": config.whole(1), "windows_per_epoch": config.optional(config.whole(1)),
    "lr": config.number(0), "weight_decay": config.number(0), "test": config.flag, "val_games": config.whole(0),
    "seed": config.whole(0),
}
STYLES_RECIPE = {
    "mhr": {"heads": 8, "skills": 8, "rank": 4, "adapt_blocks": 0},
    "batch_size": 512,
    "epochs": 4,
    "lr_adapters": 0.002,
    "lr_styles": 0.1,
    "min_games": 2,  # training games a player needs for a style row of their own
    "holdout": [],  # players left out of the table (enrolled few-shot later)
    "seed": 0,
}
STYLES_SCHEMA = {
    "mhr": {"heads": config.whole(1), "skills": config.whole(1), "rank": config.whole(1),
            "adapt_blocks": config.whole(0)},
    "batch_size": config.whole(1), "epochs": config.whole(1), "lr_adapters": config.number(0),
    "lr_styles": config.number(0), "min_games": config.whole(1), "holdout": config.names, "seed": config.whole(0),
}


def _recipe(defaults: dict, schema: dict, values: dict | None, where: str, nested: str) -> dict:
    r, _ = config.check_config(values or {}, schema, where)
    return {**defaults, **r, nested: {**defaults[nested], **r.get(nested, {})}}


def base_recipe(values=None, where="recipe") -> dict:
    return _recipe(BASE_RECIPE, BASE_SCHEMA, values, where, "net")


def styles_recipe(values=None, where="recipe") -> dict:
    return _recipe(STYLES_RECIPE, STYLES_SCHEMA, values, where, "mhr")


def split_games(data: RocketData, test: bool = True, val_games: int = 8, seed: int = 0) -> dict:
    """Whole games for training, validation and testing.

    Test: one game of every player with 3+ games (chosen at random, so each keeps 2+ to learn
    from). Validation: ``val_games`` other games, preferring games with none of those players.
    """
    rng = np.random.default_rng(seed)
    games_of = {p: data.games_of(p) for p in range(len(data.players))}
    recurring = sorted((p for p, g in games_of.items() if len(g) >= 3), key=lambda p: (len(games_of[p]), p))
    test_set: set[int] = set()
    if test:
        for p in recurring:
            if test_set & set(games_of[p]):
                continue
            options = [g for g in rng.permutation(games_of[p])
                       if all(len(set(games_of[q]) - test_set - {g}) >= 2 for q in recurring if g in games_of[q])]
            if options:
                test_set.add(int(options[0]))
    rest = [g for g in range(len(data.games)) if g not in test_set]
    busy = {g for p in recurring for g in games_of[p]}
    quiet = [g for g in rng.permutation(rest) if g not in busy] + [g for g in rng.permutation(rest) if g in busy]
    val = sorted(int(g) for g in quiet[:val_games]) if len(rest) > val_games + 2 else []
    train = sorted(g for g in rest if g not in val)
    return {"train": train, "val": val, "test": sorted(test_set)}


def window_targets(data: RocketData, idx: np.ndarray, context: int):
    """Inputs and the action at every position of windows ending at ``idx`` (-100 on padding)."""
    obs, prev, valid = data.windows(idx, context)
    j = np.asarray(idx)[:, None] - (context - 1) + np.arange(context)[None]
    y = torch.from_numpy(np.where(valid.numpy(), data.action[np.maximum(j, 0)], -100))
    return obs, prev, valid, y


@torch.no_grad()
def accuracy(net: RocketNet, data: RocketData, idx: np.ndarray, context: int, batch_size: int = 2048) -> dict:
    """Loss and top-1 accuracy of the base at decisions ``idx``, each the last of its window."""
    nll = correct = 0.0
    for s in range(0, len(idx), batch_size):
        i = idx[s:s + batch_size]
        logits = net(*distributed.to_device(data.windows(i, context), next(net.parameters()).device))[:, -1].float().cpu()
        y = torch.from_numpy(data.action[i])
        nll += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    n = max(len(idx), 1)
    return {"val_loss": round(nll / n, 4), "val_acc": round(correct / n, 4)}


def mine(games: list[int]) -> list[int]:
    """This rank's share of ``games`` (whole replays): every world-th one, all in a single process."""
    p = distributed.part()
    return list(games) if p is None else list(games)[p[0]::p[1]]


def train_base(data_dir, out, recipe: dict | None = None, checkpoint_seconds: float = 120.0) -> dict:
    """Train the base policy on every training decision of every player (resumable). Under
    torchrun each rank trains and validates on its share of the games; rank 0 writes ``out``."""
    r = base_recipe(recipe)
    data = RocketData.open(data_dir)
    split = split_games(data, r["test"], r["val_games"], r["seed"])
    train_idx, val_idx = data.rows(mine(split["train"])), data.rows(mine(split["val"]))
    k = r["net"]["context"]
    torch.manual_seed(r["seed"])
    net = RocketNet(PolicyConfig(**r["net"]))
    # each rank's share of the epoch (its own decisions / context when unset)
    per_epoch = distributed.share(r["windows_per_epoch"]) or max(len(train_idx) // k, r["batch_size"])
    opt = torch.optim.AdamW(net.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])

    def step_loss(model, batch):
        obs, prev, valid, y = batch
        logits = model(obs, prev, valid)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
        last = (logits[:, -1].argmax(1) == y[:, -1]).float().mean()
        return loss, {"policy": loss.item(), "acc": last.item()}

    t0 = time.process_time()
    history = core_train.fit(
        net, opt, epochs=r["epochs"],
        batches=lambda e: core_train.epoch_plan(train_idx, per_epoch, distributed.share(r["batch_size"]), r["seed"], e),
        load=lambda i: distributed.to_device(window_targets(data, i, k)), step_loss=step_loss,
        validate=(lambda: accuracy(net, data, val_idx, k)) if distributed.any_across(len(val_idx) > 0) else None,
        state_path=Path(out).with_suffix(".train-state"), desc="train-base", checkpoint_seconds=checkpoint_seconds)
    card = {"kind": "base", "recipe": r, "split": split, "world_size": distributed.setup().world,
            "data": {"path": str(data_dir), "input_hash": data.manifest["input_hash"], "games": len(data.games),
                     "train_decisions": distributed.sum_across(len(train_idx))},
            "players": 0, "cpu_seconds_this_run": round(time.process_time() - t0, 1),
            "history": history, "metrics": history[-1] if history else {}}
    net.eval()
    if distributed.is_main():  # one writer
        save_model(out, net, card)
    return card
