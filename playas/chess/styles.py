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
from ..core.mhr import MHRConfig, Styled, adapter_parameters, routing_weights
from ..core.styles import StyleTable
from .dataset import ChessData, prepare
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
    "max_ply": None,  # train on moves within a game's first N plies only (openings), or every move
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


def within_plies(data: ChessData, idx: np.ndarray, max_ply: int | None) -> np.ndarray:
    """The rows of ``idx`` within their game's first ``max_ply`` plies (all with None)."""
    return idx if max_ply is None else idx[data.ply[idx] < max_ply]


def style_plies(blob: dict) -> int | None:
    """The plies a styled checkpoint's styles learned from (``max_ply`` of its recipe)."""
    return blob.get("card", {}).get("recipe", {}).get("max_ply")


def player_rows(model: Styled, data: ChessData) -> torch.Tensor:
    """For each dataset player id, its row in the style table (-1 when unknown)."""
    return torch.tensor([model.table.names.index(n) if n in model.table.names else -1 for n in data.players])


def styled_logits(model: Styled, batch: dict, rows: torch.Tensor, start: int) -> torch.Tensor:
    """Policy logits of each position under its mover's style (the mean style for unknowns)."""
    r = rows[batch["player"]]
    z = model.table.z
    zz = torch.where((r >= 0)[:, None, None], z[r.clamp(min=0)], z.mean(0, keepdim=True))
    if "h" in batch:  # the frozen trunk's output, cached
        h = batch["h"]
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
    train_idx = within_plies(data, data.targets("train", games=games, players=keep), r["max_ply"])
    val_idx = within_plies(data, data.targets("val", players=keep), r["max_ply"])
    val_idx = np.sort(np.random.default_rng(r["seed"]).permutation(val_idx)[: r["val_positions"]])
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
        load=lambda i: {"h": hidden(pos, i), "y": pos["y"][i], "player": pos["player"][i]},
        step_loss=step_loss, validate=validate,
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
    size = sum(p.stat().st_size for p in map(Path, pgns) if p.exists())  # prepare names a missing file
    tmp = tempfile.TemporaryDirectory(prefix="playas-")
    prepare(pgns, Path(tmp.name) / "d", owner_from_filename_=owner_from_filename, players=players,
            split=(0.0, 0.0, 1.0), workers=1 if size < 2e6 else None)
    return ChessData(Path(tmp.name) / "d"), tmp


@torch.no_grad()
def cached_positions(model: Styled, data: ChessData, idx: np.ndarray, batch_size: int = 1024,
                     legal: bool = True) -> dict:
    """The frozen trunk's output, the moves played, their movers and (with ``legal``) the legal
    moves of rows ``idx``, computed once: training, fitting and scoring styles then only run the
    adapted top of the network.

    Openings repeat, so the trunk runs once per distinct input (``data.position_keys``):
    ``out["h"]`` holds those outputs (float16 to halve memory) and ``out["hi"]`` maps each of
    ``idx``, in the caller's order, to its row there; read them with :func:`hidden`.
    """
    start = first_adapted_block(model)
    idx = np.asarray(idx, dtype=np.int64)
    n = len(idx)
    _, first, inverse = np.unique(data.position_keys[idx], return_index=True, return_inverse=True)
    # make_batch reads rows in sorted order; map each trunk output back to its key's slot
    uniq = idx[first]
    order = np.argsort(uniq, kind="stable")
    out = {"h": None, "hi": torch.from_numpy(inverse.reshape(-1)), "y": torch.empty(n, dtype=torch.long),
           "player": torch.empty(n, dtype=torch.long)}
    with Progress(len(uniq) if len(uniq) > 50_000 else None, "trunk", unit="positions") as bar:
        for s in range(0, len(uniq), batch_size):
            slots = order[s:s + batch_size]
            b = make_batch(data, uniq[slots], with_legal=False)
            h = model.base.hidden(b["x"], start).half()
            if out["h"] is None:
                out["h"] = torch.empty(len(uniq), *h.shape[1:], dtype=torch.float16)
            out["h"][torch.from_numpy(slots)] = h
            if len(uniq) > 50_000:
                bar.update(len(h))
    out["y"] = torch.from_numpy(np.asarray(data.rows["move"][idx]).astype(np.int64))
    out["player"] = torch.from_numpy(data.mover[idx].astype(np.int64))
    if legal:
        out["legal"] = torch.from_numpy(data.legal_mask(idx))
    return out


def hidden(pos: dict, i) -> torch.Tensor:
    """The cached trunk output (float32) of cached positions ``i``."""
    return pos["h"][pos["hi"][i]].float()


def _logits(model: Styled, h: torch.Tensor, z: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    start = first_adapted_block(model)
    return model(h, z=z, start=start)[0].masked_fill(~legal, float("-inf"))


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
        return F.cross_entropy(_logits(model, hidden(pos, idx), z[group[idx]], pos["legal"][idx]), pos["y"][idx])

    init = model.table.z.detach().mean(0).expand(groups, -1, -1)
    z, _ = fitting.fit_rows(nll, init, batches, steps=len(batches), lr=lr)
    return z


@torch.no_grad()
def style_logliks(model: Styled, pos: dict, z: torch.Tensor | None = None, chunk: int = 2048) -> torch.Tensor:
    """Log-likelihood of every cached move under every style: (styles, moves). The styles are the
    table's rows, or the routing logits ``z`` (styles, H, S).

    Scoring all styles shares what does not depend on the style. With adapters on the policy
    head only (the shipped models), the trunk output and the first head convolution's base and
    skill features are computed once; per style only the routed mix and the last convolution
    run, and that one only at the from-squares of legal moves, which is all the likelihood reads.
    """
    z = model.table.z.detach() if z is None else z
    net = model.base
    if first_adapted_block(model) < len(net.blocks):  # adapters deeper in: one merged net per style
        return torch.stack([_merged_logliks(model, pos, zi) for zi in z])
    conv1, bn = net.policy1[0], net.policy1[1]
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps))[:, None, None]
    shift = (bn.bias - bn.running_mean * scale[:, 0, 0])[:, None, None]
    weights = routing_weights(z, False)
    # conv2 merged per style, in the (dy, dx, channel) order of gathered 3x3 neighbourhoods
    w2 = torch.stack([net.policy.merged(w).weight.permute(0, 2, 3, 1).reshape(net.policy.base.out_channels, -1)
                      for w in weights]).transpose(1, 2)  # (styles, 9*C, 80)
    b2, minus_inf = net.policy.base.bias, torch.tensor(float("-inf"))
    out = torch.empty(len(z), len(pos["y"]))
    for s in range(0, len(pos["h"]), chunk):  # distinct positions, a chunk at a time
        h = pos["h"][s:s + chunk].float()
        rows = torch.nonzero((pos["hi"] >= s) & (pos["hi"] < s + chunk)).flatten()
        plan = _legal_plan(pos, rows, pos["hi"][rows] - s, len(h), net.policy_map)
        base1, skills1 = conv1.base(h), conv1.skills(h)
        for p in range(len(z)):
            x = F.relu((base1 + conv1.routed(skills1, weights[p:p + 1])) * scale + shift)
            x = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1).reshape(-1, x.shape[1])  # (n*10*10, C)
            patches = x[plan["nbr"]].flatten(1)  # (pairs, 9*C): each from-square's neighbourhood
            logit = torch.cat([(patches @ w2[p] + b2).flatten(), minus_inf[None]])  # (pairs*80 + 1,)
            lse = torch.logsumexp(logit[plan["legal"]], dim=1)  # per distinct position
            out[p, rows] = logit[plan["played"]] - lse[plan["pos"]]
    return out


def _legal_plan(pos: dict, rows: torch.Tensor, local: torch.Tensor, n: int, policy_map: torch.Tensor) -> dict:
    """Where :func:`style_logliks` finds things for ``n`` distinct positions (``rows`` of the
    cache, at ``local`` among them): the 3x3 neighbourhood of each legal move's from-square (a
    *pair*), and, among the pairs' 80 policy outputs, every position's legal moves and each row's
    played move."""
    first = torch.full((n,), -1, dtype=torch.long)
    first[local.flip(0)] = rows.flip(0)  # a row of each position: legal moves are the same for all
    pu, pm = torch.nonzero(pos["legal"][first], as_tuple=True)
    flat = policy_map[pm]
    pairs, pair_of = torch.unique(pu * 64 + flat % 64, return_inverse=True)
    counts = torch.bincount(pu, minlength=n)
    legal = torch.full((n, max(int(counts.max()), 1)), len(pairs) * 80, dtype=torch.long)  # -inf slot
    legal[pu, torch.arange(len(pu)) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)] = \
        pair_of * 80 + flat // 64
    pp, sq = pairs // 64, pairs % 64
    offsets = torch.tensor([dy * 10 + dx for dy in range(3) for dx in range(3)])
    nbr = pp[:, None] * 100 + (sq // 8 * 10 + sq % 8)[:, None] + offsets  # padded 10x10 board
    lookup = torch.full((n * 64,), -1, dtype=torch.long)
    lookup[pairs] = torch.arange(len(pairs))
    y = policy_map[pos["y"][rows]]
    return {"nbr": nbr, "legal": legal, "played": lookup[local * 64 + y % 64] * 80 + y // 64, "pos": local}


def _merged_logliks(model: Styled, pos: dict, z: torch.Tensor) -> torch.Tensor:
    net, start = model.merged_base(z), first_adapted_block(model)
    out = []
    for s in range(0, len(pos["y"]), 1024):
        i = torch.arange(s, min(s + 1024, len(pos["y"])))
        logits = net(hidden(pos, i), start=start)[0].masked_fill(~pos["legal"][i], float("-inf"))
        out.append(-F.cross_entropy(logits, pos["y"][i], reduction="none"))
    return torch.cat(out)


METHODS = ("vector", "likelihood")


def identify_positions(model: Styled, pos: dict, method: str = "likelihood") -> np.ndarray:
    """Scores of every known player for one query's cached positions (higher is more likely)."""
    if method == "vector":
        return fitting.rank_by_similarity(fit_styles(model, pos)[0], model.table.z.detach())
    if method == "likelihood":
        return style_logliks(model, pos).mean(1).numpy()  # mean log-likelihood per style
    raise PlayasError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def query_positions(model: Styled, pgns, *, owner_from_filename=False, player=None,
                    max_ply: int | None = None) -> tuple[dict, int]:
    """One player's moves in PGN files, cached for scoring; only those within the first
    ``max_ply`` plies of each game when the styles learned from openings (:func:`style_plies`)."""
    data, tmp = encode_games(pgns, owner_from_filename=owner_from_filename, players=[player] if player else None)
    with tmp:
        if len(data.players) != 1:
            raise PlayasError(f"these files name {len(data.players)} players; give the games of one player "
                              "(one file with --owner-from-filename, or --player NAME)")
        idx = within_plies(data, data.targets(), max_ply)
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
    pos, n_games = query_positions(model, pgns, owner_from_filename=owner_from_filename, player=player,
                                   max_ply=style_plies(blob))
    if n_games < min_games:
        raise PlayasError(f"{n_games} games of {name} found; enrollment needs at least {min_games}")
    add_player(model, name, pos, n_games)
    card = {k: v for k, v in blob["card"].items() if k != "versions"}
    card.setdefault("enrolled", {})[name] = {"games": n_games, "positions": int(len(pos["y"]))}
    card["players"] = len(model.table)
    save_model(out, model, card)
    return {"name": name, "games": n_games, "similar": model.table.similar(name, 5)}
