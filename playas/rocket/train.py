"""Training Rocket League policies: the base for everyone, then a style per player.

Games are split whole (never by frame): :func:`split_games` holds out one game of every player
with 3 or more for testing, and a few others for validation. :func:`train_base` trains
:class:`~playas.rocket.model.RocketNet` on every training decision of every player, predicting
each decision of a window from the ones before it; :mod:`playas.rocket.game` freezes it, puts MHR
adapters on its last block and learns one style row per player with 2 or more training games,
through :mod:`playas.core.learning` unchanged.

The base sees the action taken before each decision (``net.previous_action``), but only through
dropout (``previous_action_dropout``): with the previous action always there, the base predicted
69% of held-out actions, mostly by repeating the one before, and in closed loop a policy that
learned that copies itself instead of answering what it sees. Dropped, a token holds
:data:`~playas.rocket.model.NO_ACTION`, what the first decision of every history holds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core import config, distributed, learning
from ..core.config import number, optional, section, setting, whole
from ..core import train as core_train
from .dataset import RocketData
from .model import NO_ACTION, PolicyConfig, RocketNet, save_model

@dataclass
class Net:
    """The causal transformer's shape (:class:`~playas.rocket.model.PolicyConfig`)."""

    context: int = setting(16, whole(1), "decisions a window sees (itself and those before it)")
    width: int = setting(128, whole(8), "the model's width")
    layers: int = setting(2, whole(1), "transformer blocks")
    heads: int = setting(4, whole(1), "attention heads")
    previous_action: bool = setting(True, config.flag, "feed each decision the action taken before it")


@dataclass
class BaseRecipe:
    """``playas rocket train-base``'s recipe (configs/rocket-base.yml)."""

    net: Net = section(Net, "the network's shape")
    batch_size: int = setting(256, whole(1), "windows a step; every decision of a window is a target")
    epochs: int = setting(8, whole(1), "passes")
    windows_per_epoch: int | None = setting(None, optional(whole(1)),
                                            "windows a pass (none: as many as training decisions / context)")
    previous_action_dropout: float = setting(0.5, number(0, 1),
                                             "chance a decision's previous action is hidden in training")
    lr: float = setting(0.002, number(0), "AdamW's learning rate")
    weight_decay: float = setting(0.01, number(0), "AdamW's weight decay")
    test: bool = setting(True, config.flag,
                         "hold out a game of every player with 3+ games (false: train on every game)")
    val_games: int = setting(8, whole(0), "games held out for validation")
    seed: int = setting(0, whole(0), "the seed of every random choice")


@dataclass
class StylesRecipe:
    """``playas rocket train-styles``' recipe (configs/rocket-styles.yml)."""

    mhr: learning.Adapters = section(learning.Adapters, "the adapters (adapt_blocks 0: the last block's MLP only)")
    batch_size: int = setting(512, whole(1), "decisions a step")
    epochs: int = setting(4, whole(1), "passes")
    lr_adapters: float = setting(0.002, number(0), "the adapters' learning rate")
    lr_styles: float = setting(0.1, number(0), "the style rows' (MHR's two speeds: much faster than adapters)")
    min_games: int = setting(2, whole(1), "training games a player needs for a style row of their own")
    holdout: list[str] = setting([], config.names, "players left out of the table (enrolled few-shot later)")
    seed: int = setting(0, whole(0), "the seed of every random choice")


def base_recipe(values=None, where="recipe") -> dict:
    """The base recipe: ``values`` checked against :class:`BaseRecipe`, over its defaults."""
    return config.recipe(BaseRecipe, (values, where))


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


def drop_previous(prev: torch.Tensor, p: float) -> torch.Tensor:
    """``prev`` (N, T) with each previous action replaced by :data:`NO_ACTION` with chance ``p``."""
    if p <= 0:
        return prev
    return torch.where(torch.rand(prev.shape, device=prev.device) < p, torch.full_like(prev, NO_ACTION), prev)


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
    net = RocketNet(PolicyConfig(obs_size=data.obs.shape[1], **r["net"]))  # the features its data holds
    # each rank's share of the epoch (its own decisions / context when unset)
    per_epoch = distributed.share(r["windows_per_epoch"]) or max(len(train_idx) // k, r["batch_size"])
    opt = torch.optim.AdamW(net.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])

    def step_loss(model, batch):
        obs, prev, valid, y = batch
        logits = model(obs, drop_previous(prev, r["previous_action_dropout"]), valid)
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
