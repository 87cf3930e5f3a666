"""Chess style vectors: train a style table over a frozen base, enroll a player, identify one.

Adapters sit on the last residual block(s) and the policy head, so everything below them is the
frozen base's and is computed once per position (``ChessNet.hidden``): training, enrollment and
stylometry then only run the top of the network per style.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core import fitting
from ..core import train as core_train
from ..core.errors import PlayasError
from ..core.progress import Progress
from ..core.mhr import MHRConfig, Styled, adapter_parameters
from ..core.styles import StyleTable
from .dataset import ChessData, prepare
from .encoding import NUM_MOVES
from .model import ChessNet, load_model, save_model
from .train import epoch_plan, make_batch

DEFAULT_RECIPE = {
    "mhr": {"heads": 8, "skills": 8, "rank": 4, "adapt_blocks": 1},
    "batch_size": 256,
    "epochs": 3,
    "positions_per_epoch": 300_000,
    "games_per_player": 300,  # training games per player, a random sample of the train split
    "lr_adapters": 0.001,
    "lr_styles": 0.1,  # style vectors learn ~100x faster than adapters (MHR's two speeds)
    "val_positions": 10_000,
    "holdout": [],  # players left out of training (to enroll later, for few-shot measurement)
    "seed": 0,
}


def adapter_targets(net: ChessNet, adapt_blocks: int) -> tuple[str, ...]:
    """The convolutions of the last ``adapt_blocks`` residual blocks and of the policy head."""
    n = len(net.blocks)
    blocks = [f"blocks.{i}.{c}.0" for i in range(n - adapt_blocks, n) for c in ("conv1", "conv2")]
    return tuple(blocks + ["policy1.0", "policy"])


def first_adapted_block(model: Styled) -> int:
    """Index of the first residual block with adapters (the frozen part ends before it)."""
    idx = [int(t.split(".")[1]) for t in model.cfg.targets if t.startswith("blocks.")]
    return min(idx) if idx else len(model.base.blocks)


def load_styled(path) -> tuple[Styled, dict]:
    model, blob = load_model(path)
    if not isinstance(model, Styled):
        raise PlayasError(f"{path} has no style table; train one with `playas chess train-styles`")
    return model, blob


def load_base(path) -> ChessNet:
    model, _ = load_model(path)
    if isinstance(model, Styled):
        raise PlayasError(f"{path} already has styles; give a base model (e.g. models/maia-1900.pt)")
    return model


def sample_games(data: ChessData, split: str, per_player: int | None, seed: int) -> np.ndarray:
    """Up to ``per_player`` games of each player from ``split``, a seeded random sample."""
    g = data.games
    in_split = g["split"] == ["train", "val", "test"].index(split)
    rng = np.random.default_rng(seed)
    chosen = set()
    for pid in range(len(data.players)):
        mine = np.flatnonzero(in_split & ((g["white"] == pid) | (g["black"] == pid)))
        chosen.update(rng.permutation(mine)[:per_player].tolist() if per_player else mine.tolist())
    return np.array(sorted(chosen), dtype=np.int64)


def player_rows(model: Styled, data: ChessData) -> torch.Tensor:
    """For each dataset player id, its row in the style table (-1 when unknown)."""
    return torch.tensor([model.table.names.index(n) if n in model.table.names else -1 for n in data.players])


def styled_logits(model: Styled, batch: dict, rows: torch.Tensor, start: int) -> torch.Tensor:
    """Policy logits of each position under its mover's style (the mean style for unknowns)."""
    r = rows[batch["player"]]
    z = model.table.z
    zz = torch.where((r >= 0)[:, None, None], z[r.clamp(min=0)], z.mean(0, keepdim=True))
    if "h" in batch:  # the frozen trunk's output, cached
        h = batch["h"].float()
    else:
        with torch.no_grad():
            h = model.base.hidden(batch["x"], start)
    return model(h, z=zz, start=start)[0]


def player_meta(data: ChessData) -> dict:
    """Median year and mean rating of each player's games (for the style map)."""
    g = data.games
    out = {}
    for pid, name in enumerate(data.players):
        w, b = g["white"] == pid, g["black"] == pid
        years = g["year"][w | b]
        elos = np.concatenate([g["white_elo"][w], g["black_elo"][b]])
        meta = {}
        if (years > 0).any():
            meta["year"] = int(np.median(years[years > 0]))
        if (elos > 0).any():
            meta["elo"] = int(elos[elos > 0].mean())
        out[name] = meta
    return out


def train_styles(base_path, data_dir, out, recipe: dict | None = None) -> dict:
    """Train adapters and one style vector per dataset player over a frozen base (resumable)."""
    r = {**DEFAULT_RECIPE, **(recipe or {})}
    r["mhr"] = {**DEFAULT_RECIPE["mhr"], **(recipe or {}).get("mhr", {})}
    data = ChessData(data_dir)
    net = load_base(base_path)
    unknown = [n for n in r["holdout"] if n not in data.players]
    if unknown:
        raise PlayasError(f"holdout players not in the dataset: {', '.join(unknown)}")
    names = [n for n in data.players if n not in r["holdout"]]
    keep = [data.players.index(n) for n in names]
    games = sample_games(data, "train", r["games_per_player"], r["seed"])
    train_idx = data.targets("train", games=games, players=keep)
    val_idx = np.random.default_rng(r["seed"]).permutation(data.targets("val", players=keep))[: r["val_positions"]]
    if len(train_idx) < r["batch_size"]:
        raise PlayasError(f"{data_dir} has too few training positions ({len(train_idx)})")
    m = r["mhr"]
    cfg = MHRConfig(heads=m["heads"], skills=m["skills"], rank=m["rank"],
                    targets=adapter_targets(net, m["adapt_blocks"]))
    g = data.games[games]
    per_player = [int(((g["white"] == p) | (g["black"] == p)).sum()) for p in keep]
    torch.manual_seed(r["seed"])
    table = StyleTable(names, cfg.heads, cfg.skills, per_player)
    model = Styled(net, cfg, table)
    model.freeze_base()
    opt = torch.optim.AdamW([
        {"params": adapter_parameters(model.base), "lr": r["lr_adapters"], "weight_decay": 0.0},
        {"params": [table.z], "lr": r["lr_styles"], "weight_decay": 0.0}])
    start = first_adapted_block(model)
    rows = player_rows(model, data)

    def step_loss(mdl, b):
        logits = styled_logits(mdl, b, rows, start)
        loss = F.cross_entropy(logits, b["y"])
        return loss, {"policy": loss.item(), "acc": (logits.argmax(1) == b["y"]).float().mean().item()}

    def validate():
        from .train import validate as val

        return val(None, data, val_idx, forward=lambda b: (styled_logits(model, b, rows, start), None))

    out = Path(out)
    t0 = time.process_time()
    # The base is frozen below the adapters: its output for every training position is computed
    # once (float16), so each epoch only runs the adapted top of the network.
    pos = cached_positions(model, data, train_idx, legal=False)
    history = core_train.fit(
        model, opt, epochs=r["epochs"],
        batches=lambda e: epoch_plan(np.arange(len(train_idx)), r["positions_per_epoch"], r["batch_size"],
                                     r["seed"], e),
        load=lambda i: {k: v[i] for k, v in pos.items()}, step_loss=step_loss, validate=validate,
        state_path=out.with_suffix(".train-state"), desc="train-styles")
    card = {"kind": "styled", "base": str(base_path), "recipe": r, "player_meta": player_meta(data),
            "players": len(table), "games_per_player": dict(zip(table.names, table.games)),
            "data": {"path": str(data_dir), "input_hash": data.manifest["input_hash"],
                     "train_positions": int(len(train_idx)), "split_seed": data.manifest["seed"]},
            "cpu_seconds_this_run": round(time.process_time() - t0, 1),
            "history": history, "metrics": history[-1] if history else {}}
    model.eval()
    save_model(out, model, card)
    return card


# --- few-shot: enroll and identify -------------------------------------------------------------

def encode_games(pgns, *, owner_from_filename: bool = False, players=None) -> tuple[ChessData, tempfile.TemporaryDirectory]:
    """PGN files -> a temporary dataset with every game in its test split."""
    tmp = tempfile.TemporaryDirectory(prefix="playas-")
    prepare(pgns, Path(tmp.name) / "d", owner_from_filename_=owner_from_filename, players=players,
            split=(0.0, 0.0, 1.0), workers=1 if sum(Path(p).stat().st_size for p in pgns) < 2e6 else None)
    return ChessData(Path(tmp.name) / "d"), tmp


@torch.no_grad()
def cached_positions(model: Styled, data: ChessData, idx: np.ndarray, batch_size: int = 1024,
                     legal: bool = True) -> dict:
    """The frozen trunk's output (float16 to halve memory), the moves played, their movers and
    (with ``legal``) the legal moves of rows ``idx``, computed once: training, fitting and scoring
    styles then only run the adapted top of the network."""
    start = first_adapted_block(model)
    n = len(idx)
    out = {"h": None, "y": torch.empty(n, dtype=torch.long), "player": torch.empty(n, dtype=torch.long)}
    if legal:
        out["legal"] = torch.empty(n, NUM_MOVES, dtype=torch.bool)
    with Progress(n if n > 50_000 else None, "trunk", unit="positions") as bar:
        for s in range(0, n, batch_size):
            # make_batch reads rows in sorted order; put each back where the caller asked for it
            # (callers group positions by query, and a chunk can span two queries)
            chunk = np.asarray(idx[s:s + batch_size])
            order = np.argsort(chunk, kind="stable")
            b = make_batch(data, chunk[order], with_legal=legal)
            h = model.base.hidden(b["x"], start).half()
            if out["h"] is None:
                out["h"] = torch.empty(n, *h.shape[1:], dtype=torch.float16)
            dest = torch.from_numpy(s + order)
            out["h"][dest], out["y"][dest], out["player"][dest] = h, b["y"], b["player"]
            if legal:
                out["legal"][dest] = b["legal"]
            if n > 50_000:
                bar.update(len(h))
    return out


def _logits(model: Styled, h: torch.Tensor, z: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    start = first_adapted_block(model)
    return model(h.float(), z=z, start=start)[0].masked_fill(~legal, float("-inf"))


def fit_styles(model: Styled, pos: dict, group: torch.Tensor | None = None, groups: int = 1,
               epochs: int = 4, lr: float = 0.1, batch_size: int = 256, seed: int = 0) -> torch.Tensor:
    """Fit one new style row per group of cached positions, everything else frozen: (groups, H, S).

    Many queries are fitted at once (each batch mixes them), which costs per position what one
    costs; a single query is ``groups=1``.
    """
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    n = len(pos["y"])
    group = torch.zeros(n, dtype=torch.long) if group is None else group
    g = torch.Generator().manual_seed(seed)
    order = torch.cat([torch.randperm(n, generator=g) for _ in range(epochs)])
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    while len(batches) < 60:  # a handful of games still gets enough steps to move the row
        batches += batches[: 60 - len(batches)]

    def nll(z, idx):
        return F.cross_entropy(_logits(model, pos["h"][idx], z[group[idx]], pos["legal"][idx]), pos["y"][idx])

    init = model.table.z.detach().mean(0).expand(groups, -1, -1)
    z, _ = fitting.fit_rows(nll, init, batches, steps=len(batches), lr=lr)
    return z


@torch.no_grad()
def loglik_scores(model: Styled, pos: dict, max_positions: int = 2000) -> np.ndarray:
    """Mean log-likelihood of the cached moves under every known style (merged, base speed)."""
    n = min(len(pos["y"]), max_positions)
    h, y, legal = pos["h"][:n].float(), pos["y"][:n], pos["legal"][:n]
    start = first_adapted_block(model)

    def ll(z):
        net = model.merged_base(z)
        total = 0.0
        for s in range(0, n, 1024):
            logits = net(h[s:s + 1024], start=start)[0].masked_fill(~legal[s:s + 1024], float("-inf"))
            total -= F.cross_entropy(logits, y[s:s + 1024], reduction="sum").item()
        return total / n

    return fitting.rank_by_likelihood(ll, model.table.z.detach())


METHODS = ("vector", "likelihood")


def identify_positions(model: Styled, pos: dict, method: str = "vector") -> np.ndarray:
    """Scores of every known player for one query's cached positions (higher is more likely)."""
    if method == "vector":
        return fitting.rank_by_similarity(fit_styles(model, pos)[0], model.table.z.detach())
    if method == "likelihood":
        return loglik_scores(model, pos)
    raise PlayasError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def query_positions(model: Styled, pgns, *, owner_from_filename=False, player=None) -> list[dict]:
    data, tmp = encode_games(pgns, owner_from_filename=owner_from_filename, players=[player] if player else None)
    with tmp:
        if len(data.players) != 1:
            raise PlayasError(f"these files name {len(data.players)} players; give the games of one player "
                              "(one file with --owner-from-filename, or --player NAME)")
        idx = data.targets()
        if not len(idx):
            raise PlayasError("no moves of the player were found in these games; check --player")
        return cached_positions(model, data, idx), int(len(data.games))


def add_player(model: Styled, name: str, pos: dict, games: int) -> torch.Tensor:
    """Enroll ``name`` into ``model``'s table from cached positions: fit their row, append it."""
    if name in model.table.names:
        raise PlayasError(f"player {name!r} is already in the style table")
    z = fit_styles(model, pos)[0]
    model.table.add(name, games=games, init=z)
    return z


def enroll(model_path, name: str, pgns, out, *, owner_from_filename=False, player=None, min_games: int = 5) -> dict:
    """Add ``name`` to the style table from their games; only the new row is trained."""
    model, blob = load_styled(model_path)
    if name in model.table.names:
        raise PlayasError(f"player {name!r} is already in {model_path}")
    pos, n_games = query_positions(model, pgns, owner_from_filename=owner_from_filename, player=player)
    if n_games < min_games:
        raise PlayasError(f"{n_games} games of {name} found; enrollment needs at least {min_games}")
    add_player(model, name, pos, n_games)
    card = {k: v for k, v in blob["card"].items() if k != "versions"}
    card.setdefault("enrolled", {})[name] = {"games": n_games, "positions": int(len(pos["y"]))}
    card["players"] = len(model.table)
    save_model(out, model, card)
    return {"name": name, "games": n_games, "similar": model.table.similar(name, 5)}
