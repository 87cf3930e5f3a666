"""Learning styles over a frozen base, for any game (arXiv 2502.14998, sections 3 and 4).

- :func:`new_styled` puts MHR adapters on a base network and gives it a style table.
- :func:`train_styles` trains adapters and style rows together at two speeds, the trunk's output
  cached once, one epoch at a time, resumable, validated on held-out examples each epoch.
- :func:`fit_styles` fits new rows with everything else frozen: :func:`enroll` keeps one as a new
  player; :func:`identify` ranks known players by the similarity of a row fitted on a query, or
  by the likelihood of the query's actions under each style (:func:`style_logliks`).

Each takes the :class:`~playas.core.game.Network` whose network it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import fitting
from . import train as core_train
from .config import setting, whole
from .distributed import any_across
from .errors import PlayasError
from .game import Network
from .mhr import MHRConfig, MHRModel, adapter_parameters
from .repertoire import Repertoire, fit_prior_weight
from .table import StyleTable
from .trunk import TrunkCache

METHODS = ("likelihood", "vector")


@dataclass
class Adapters:
    """A recipe's ``mhr`` section: the MHR adapters of a styled model (DESIGN.md, "MHR layer")."""

    heads: int = setting(8, whole(1), "heads: each adapted layer's dimensions split in this many parts")
    skills: int = setting(8, whole(1), "skills: LoRA pairs in each head's inventory")
    rank: int = setting(4, whole(1), "the rank of each LoRA pair")
    adapt_blocks: int = setting(0, whole(0), "blocks below the head that get adapters too (where: the game's)")


def new_styled(game: Network, net, names: list[str], games: list[int], mhr: dict, temperature: float = 1.0) -> MHRModel:
    """``net`` with MHR adapters where ``game`` puts them and a fresh row per player; the base frozen."""
    cfg = MHRConfig(heads=mhr["heads"], skills=mhr["skills"], rank=mhr["rank"], temperature=temperature,
                    targets=game.adapter_targets(net, mhr))
    model = MHRModel(net, cfg, StyleTable(names, cfg.heads, cfg.skills, games))
    model.freeze_base()
    return model


def routed_rows(model: MHRModel, player: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Each example's routing logits: its player's row (``rows`` maps player ids to table rows,
    -1 for players not in the table, who get the mean style)."""
    r = rows[player]
    z = model.table.z
    return torch.where((r >= 0)[:, None, None], z[r.clamp(min=0)], z.mean(0, keepdim=True))


def table_rows(model: MHRModel, players: list[str]) -> torch.Tensor:
    """For each of ``players`` (a dataset's names), its row in the table, or -1."""
    return torch.tensor([model.table.names.index(n) if n in model.table.names else -1 for n in players])


def _own_logits(game: Network, model: MHRModel, cache: TrunkCache, rows: torch.Tensor, batch_size: int = 1024):
    """(example indices, logits over the allowed actions) a batch at a time, each example under its
    own player's style."""
    model.eval()
    for s in range(0, len(cache), batch_size):
        i = torch.arange(s, min(s + batch_size, len(cache)))
        dev = model.table.z.device
        logits = game.head(model, cache.hidden(i).to(dev), routed_rows(model, cache.player[i].to(dev), rows.to(dev)))
        logits = logits.float().cpu()
        if cache.allowed is not None:
            logits = logits.masked_fill(~cache.allowed[i], float("-inf"))
        yield i, logits


@torch.no_grad()
def evaluate(game: Network, model: MHRModel, cache: TrunkCache, rows: torch.Tensor) -> dict:
    """Loss and top-1 accuracy over the allowed actions, each example under its player's style."""
    was_training = model.training
    nll = correct = 0.0
    for i, logits in _own_logits(game, model, cache, rows):
        nll += F.cross_entropy(logits, cache.target[i], reduction="sum").item()
        correct += (logits.argmax(1) == cache.target[i]).sum().item()
    model.train(was_training)
    n = max(len(cache), 1)
    return {"val_loss": round(nll / n, 4), "val_acc": round(correct / n, 4)}


@torch.no_grad()
def learn_repertoire(game: Network, model: MHRModel, situations, players, actions, val: TrunkCache,
                     names: list[str], depth: int | None = None) -> dict:
    """Give ``model``'s table a repertoire: the counts of ``actions`` taken by ``players`` (ids into
    ``names``) in ``situations``, and the prior weights (k, k_net) that fit the held-out examples
    ``val`` best. Returns the log-likelihood of ``val`` for each pair tried."""
    rows = table_rows(model, names)
    players = rows[torch.as_tensor(np.asarray(players, np.int64))].numpy()
    keep = players >= 0
    rep = Repertoire.count(np.asarray(situations)[keep], players[keep], np.asarray(actions)[keep], depth=depth)
    known = rows[val.player] >= 0
    own = torch.empty(len(val))
    for i, logits in _own_logits(game, model, val, rows):
        own[i] = -F.cross_entropy(logits, val.target[i], reduction="none")
    counts = rep.lookup(val.situation.numpy(), val.target.numpy(), len(model.table))
    counts = counts.of(rows[val.player].clamp(min=0)).select(known)
    (rep.prior_weight, rep.network_weight), scores = fit_prior_weight(rep, own[known], counts)
    model.table.repertoire = rep
    return {"entries": len(rep), "prior_weight": rep.prior_weight, "network_weight": rep.network_weight,
            "val_loglik_by_prior_weight": scores, "val_loglik_network_alone": float(own[known].mean())}


def train_styles(game: Network, model: MHRModel, train: TrunkCache, val: TrunkCache | None, players: list[str], *,
                 epochs: int, batch_size: int, lr_adapters: float, lr_styles: float, per_epoch: int | None,
                 seed: int, state_path, desc: str = "train-styles", checkpoint_seconds: float = 120.0) -> list[dict]:
    """Train ``model``'s adapters and style rows on cached examples of ``players`` (the names the
    caches' player ids index). Style rows learn at ``lr_styles``, adapters at ``lr_adapters``:
    MHR's two speeds. Resumes from ``state_path``; returns the per-epoch history.

    Under torchrun each rank passes the caches of its own share of the examples (and its share
    of ``per_epoch``); the table and adapters stay the same on every rank (DDP)."""
    if len(train) < batch_size:
        raise PlayasError(f"too few training examples ({len(train)}) for one batch of {batch_size}")
    opt = torch.optim.AdamW([
        {"params": adapter_parameters(model.base), "lr": lr_adapters, "weight_decay": 0.0},
        {"params": [model.table.z], "lr": lr_styles, "weight_decay": 0.0}])
    rows = table_rows(model, players)

    def step_loss(mdl, i):  # the caches stay in CPU memory; a batch goes where the model is
        dev = mdl.table.z.device
        h, player, target = (t.to(dev) for t in (train.hidden(i), train.player[i], train.target[i]))
        logits = game.head(mdl, h, routed_rows(mdl, player, rows.to(dev)))
        loss = F.cross_entropy(logits, target)
        return loss, {"policy": loss.item(), "acc": (logits.argmax(1) == target).float().mean().item()}

    return core_train.fit(
        model, opt, epochs=epochs,
        batches=lambda e: core_train.epoch_plan(np.arange(len(train)), per_epoch, batch_size, seed, e),
        load=torch.from_numpy, step_loss=step_loss,
        # every rank validates or none does (validation ends in an all-reduce)
        validate=(lambda: evaluate(game, model, val, rows)) if any_across(val is not None and len(val) > 0) else None,
        state_path=state_path, desc=desc, checkpoint_seconds=checkpoint_seconds)


def fit_styles(game: Network, model: MHRModel, cache: TrunkCache, group: torch.Tensor | None = None, groups: int = 1,
               epochs: int = 4, lr: float = 0.1, batch_size: int = 256, seed: int = 0) -> torch.Tensor:
    """Fit one new style row per group of cached examples, everything else frozen: (groups, H, S).

    Many queries are fitted at once (each batch mixes them), which costs per example what one
    costs; a single query is ``groups=1``.
    """
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    n = len(cache)
    group = torch.zeros(n, dtype=torch.long) if group is None else group
    g = torch.Generator().manual_seed(seed)
    order = torch.cat([torch.randperm(n, generator=g) for _ in range(epochs)])
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    while len(batches) < 60:  # a handful of games still gets enough steps to move the row
        batches += batches[: 60 - len(batches)]

    def nll(z, i):
        logits = game.head(model, cache.hidden(i), z[group[i]])
        if cache.allowed is not None:
            logits = logits.masked_fill(~cache.allowed[i], float("-inf"))
        return F.cross_entropy(logits, cache.target[i])

    init = model.table.z.detach().mean(0).expand(groups, -1, -1)
    z, _ = fitting.fit_rows(nll, init, batches, steps=len(batches), lr=lr)
    return z


@torch.no_grad()
def style_logliks(game: Network, model: MHRModel, cache: TrunkCache, z: torch.Tensor | None = None,
                  batch_size: int = 1024) -> torch.Tensor:
    """Log-likelihood of every cached action under every style: (styles, examples). The styles
    are the table's rows, or the routing logits ``z`` (styles, H, S)."""
    z = model.table.z.detach() if z is None else z
    fast = game.style_logliks(model, cache, z)
    if fast is not None:
        return fast
    model.eval()
    out = torch.empty(len(z), len(cache))
    for s in range(0, len(cache), batch_size):
        i = torch.arange(s, min(s + batch_size, len(cache)))
        h = cache.hidden(i)
        for p, zp in enumerate(z):
            logits = game.head(model, h, zp)
            if cache.allowed is not None:
                logits = logits.masked_fill(~cache.allowed[i], float("-inf"))
            out[p, i] = -F.cross_entropy(logits, cache.target[i], reduction="none")
    return out


def person_logliks(game: Network, model: MHRModel, cache: TrunkCache) -> torch.Tensor:
    """Log-likelihood of every cached action under every known person: (players, examples). A
    person is their style row and, where the table has one, their repertoire
    (:mod:`playas.core.repertoire`); without, the routed network alone."""
    ll = style_logliks(game, model, cache)
    rep = model.table.repertoire
    if rep is None or cache.situation is None:
        return ll
    return rep.logliks(ll, rep.lookup(cache.situation.numpy(), cache.target.numpy(), len(model.table)))


def identify(game: Network, model: MHRModel, cache: TrunkCache, method: str = "likelihood") -> np.ndarray:
    """Scores of every known player for one query's cached examples (higher is more likely theirs)."""
    if method == "vector":
        return fitting.rank_by_similarity(fit_styles(game, model, cache)[0], model.table.z.detach())
    if method == "likelihood":
        return person_logliks(game, model, cache).mean(1).numpy()  # mean log-likelihood per person
    raise PlayasError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def enroll(game: Network, model: MHRModel, name: str, cache: TrunkCache, games: int) -> torch.Tensor:
    """Add ``name`` to ``model``'s table from their cached examples: fit their row, append it,
    and count their choices into the table's repertoire where it has one."""
    model.table.check_new(name)
    z = fit_styles(game, model, cache)[0]
    row = model.table.add(name, games=games, init=z)
    rep = model.table.repertoire
    if rep is not None and cache.situation is not None:
        rep.add(Repertoire.count(cache.situation.numpy(), np.full(len(cache), row), cache.target.numpy()))
    return z
