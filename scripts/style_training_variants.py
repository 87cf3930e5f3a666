"""Experiment: do other ways of training the style rows learn more about each player?

    python scripts/style_training_variants.py NAME '{"lr_a": 0.003, "lr_z": 0.3}'

Trains head adapters and style rows over the frozen population base on a small, cached subset
(``games`` training games per player, default 30; cached in runs/ and reused), then prints, on
the training positions and on 40 players' held-out test moves, top-1 under each player's own row,
under the mean row, and (test) under the base. Own row minus mean row is what the rows learned
about the person. Variant keys: ``lr_a``, ``lr_z`` (Adam learning rates), ``epochs``,
``group`` (players per batch: batches grouped by player, as MHR trains one task per batch),
``noise`` (false: plain sigmoid routing in training, no relaxed-Bernoulli sample), ``clamp``
(keep every routing logit within +-clamp).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from chess_styles import owner_rows, player_games  # noqa: E402

from playas.chess.dataset import ChessData  # noqa: E402
from playas.chess.model import load_model  # noqa: E402
from playas.chess.styles import (adapter_targets, cached_positions, first_adapted_block, hidden, player_rows,  # noqa: E402
                                 sample_games)
from playas.core.mhr import MHRConfig, Styled, adapter_parameters  # noqa: E402
from playas.core.styles import StyleTable  # noqa: E402
from playas.core.train import cosine_lr  # noqa: E402


def cached(path: Path, build):
    if path.exists():
        return torch.load(path)
    value = build()
    torch.save(value, path)
    return value


def main():
    name, v = sys.argv[1], json.loads(sys.argv[2])
    torch.set_num_threads(2)
    torch.manual_seed(0)
    data = ChessData(ROOT / "data" / "pgnmentor")
    holdout = load_model(ROOT / "models" / "pgnmentor-197.pt")[1]["card"]["recipe"]["holdout"]
    names = [n for n in data.players if n not in holdout]
    net = load_model(ROOT / "models" / "population-197.pt")[0]
    cfg = MHRConfig(heads=8, skills=8, rank=2, targets=adapter_targets(net, 0))
    table = StyleTable(names, cfg.heads, cfg.skills)
    model = Styled(net, cfg, table)
    model.freeze_base()
    start = first_adapted_block(model)
    rows = player_rows(model, data)
    (ROOT / "runs").mkdir(exist_ok=True)
    games = v.get("games", 30)
    keep = [data.players.index(n) for n in names]
    pos = cached(ROOT / "runs" / f"variants-train-{games}.pt", lambda: cached_positions(
        model, data, data.targets("train", games=sample_games(data, "train", games, 0), players=keep), legal=False))

    def queries():
        rng = np.random.default_rng(1)
        players = [names[i] for i in rng.permutation(len(names))[:40]]
        idx = [np.sort(rng.permutation(owner_rows(data, data.players.index(n),
                                                  player_games(data, data.players.index(n), "test"))))[:1500]
               for n in players]
        return {"pos": cached_positions(model, data, np.concatenate(idx)), "players": players,
                "group": torch.cat([torch.full((len(i),), k) for k, i in enumerate(idx)])}

    q = cached(ROOT / "runs" / "variants-test.pt", queries)

    @torch.no_grad()
    def test_top1(row_of):  # mean over the 40 players of top-1 on their test moves
        accs = []
        for k, player in enumerate(q["players"]):
            i = torch.nonzero(q["group"] == k)[:, 0]
            logits = model(hidden(q["pos"], i), z=row_of(player), start=start)[0]
            accs.append((logits.masked_fill(~q["pos"]["legal"][i], float("-inf")).argmax(1) == q["pos"]["y"][i])
                        .float().mean().item())
        return float(np.mean(accs))

    model.eval()
    base = test_top1(lambda p: table.z.detach().mean(0))  # B starts at zero: the untrained model is the base
    opt = torch.optim.Adam([{"params": adapter_parameters(model.base), "lr": v["lr_a"]},
                            {"params": [table.z], "lr": v["lr_z"]}])
    lrs = [v["lr_a"], v["lr_z"]]
    n, bs, epochs = len(pos["y"]), 256, v.get("epochs", 1)
    steps, step, t0 = epochs * (n // bs), 0, time.time()
    for epoch in range(epochs):
        model.train(v.get("noise", True))
        if v.get("group"):  # each batch: `group` players, bs/group positions each
            per = bs // v["group"]
            chunks = []
            for p in torch.unique(pos["player"]):
                i = torch.nonzero(pos["player"] == p)[:, 0]
                i = i[torch.randperm(len(i))]
                chunks += [i[s:s + per] for s in range(0, len(i) - per + 1, per)]
            order = torch.cat([chunks[j] for j in torch.randperm(len(chunks))])
        else:
            order = torch.randperm(n)
        total = 0.0
        for s in range(0, len(order) - bs + 1, bs):
            i = order[s:s + bs]
            for g, lr in zip(opt.param_groups, lrs):
                g["lr"] = lr * cosine_lr(step, steps)
            loss = F.cross_entropy(model(hidden(pos, i), z=table.z[rows[pos["player"][i]]], start=start)[0],
                                   pos["y"][i])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if "clamp" in v:
                with torch.no_grad():
                    table.z.clamp_(-v["clamp"], v["clamp"])
            total += loss.item()
            step += 1
        z = table.z.detach()
        print(f"epoch {epoch + 1}: loss {total / (len(order) // bs):.4f}, mean |z| {z.abs().mean():.2f}, "
              f"{time.time() - t0:.0f} s", flush=True)
    model.eval()
    z = table.z.detach()
    with torch.no_grad():
        i = torch.randperm(n, generator=torch.Generator().manual_seed(5))[:20000]
        h, y = hidden(pos, i), pos["y"][i]
        own = model(h, z=z[rows[pos["player"][i]]], start=start)[0]
        mean = model(h, z=z.mean(0), start=start)[0]
    own_t = test_top1(lambda p: z[table.index(p)])
    mean_t = test_top1(lambda p: z.mean(0))
    print(f"{name}: train top-1 own {(own.argmax(1) == y).float().mean():.2%} mean row "
          f"{(mean.argmax(1) == y).float().mean():.2%} | test top-1 base {base:.2%} own {own_t:.2%} "
          f"mean row {mean_t:.2%} (own - base {100 * (own_t - base):+.2f} points)")


if __name__ == "__main__":
    main()
