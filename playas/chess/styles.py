"""Chess style vectors: train a style table from a prepared dataset, enroll a player from PGN,
score PGN games under every style.

The style machinery itself is :mod:`playas.core.styled`, the same for every game; this module
turns chess data into its :class:`~playas.core.game.Examples` (the moves of tracked players,
their positions as lc0 planes, the legal moves) and reads the recipe.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core import checkpoint, config, distributed, styled
from ..core.config import number, optional, section, setting, whole
from ..core.errors import PlayasError
from ..core.game import Examples
from ..core.trunk import TrunkCache, cache_trunk
from .dataset import BOOK_PLIES, ChessData
from .prepare import prepare
from .model import CHESS, load_base, load_styled, save_model

@dataclass
class ChessAdapters(styled.Adapters):
    """The adapters of a chess styled model: the last residual block's convolutions too, by default."""

    adapt_blocks: int = setting(1, whole(0), "residual blocks below the policy head that get adapters too")


@dataclass
class StylesRecipe:
    """``playas chess train-styles``' recipe (configs/styles.yml)."""

    mhr: ChessAdapters = section(ChessAdapters, "the adapters")
    batch_size: int = setting(256, whole(1), "positions a step")
    epochs: int = setting(3, whole(1), "passes")
    positions_per_epoch: int | None = setting(300_000, optional(whole(1)),
                                              "positions a pass (none: every cached training position)")
    games_per_player: int | None = setting(300, optional(whole(1)),
                                           "training games per player, a random sample of the train split")
    lr_adapters: float = setting(0.001, number(0), "the adapters' learning rate")
    lr_styles: float = setting(0.1, number(0), "the style vectors' (MHR's two speeds: much faster than adapters)")
    val_positions: int = setting(10_000, whole(0), "validation positions after each epoch")
    max_ply: int | None = setting(None, optional(whole(1)),
                                  "train on moves within a game's first N plies only (openings); none: every move")
    holdout: list[str] = setting([], config.names, "players left out of training (to enroll later, few-shot)")
    book_plies: int = setting(30, whole(0, BOOK_PLIES),
                              "each player's repertoire: their own moves in every training game to this ply (0: none)")
    seed: int = setting(0, whole(0), "the seed of every random choice")


RECIPE_SCHEMA = StylesRecipe  # the name the command line reads recipes with


def recipe_from(values: dict | None, where: str = "recipe") -> dict:
    """The recipe: ``values`` checked against :class:`StylesRecipe`, over its defaults."""
    return config.recipe(StylesRecipe, (values, where))


def examples(data: ChessData, idx: np.ndarray, book_plies: int = 0) -> Examples:
    """The moves at rows ``idx`` of a prepared dataset, for the core; those within the first
    ``book_plies`` plies of their game name their position for a repertoire."""
    idx = np.asarray(idx, dtype=np.int64)

    def inputs(i):
        rows = idx[i]
        order = np.argsort(rows, kind="stable")  # sequential reads from the memory-mapped arrays
        x = np.empty((len(rows),) + (112, 8, 8), np.float32)
        x[order] = data.planes(rows[order])
        return torch.from_numpy(x)

    return Examples(players=list(data.players), player=data.mover[idx].astype(np.int64),
                    target=np.asarray(data.rows["move"][idx]).astype(np.int64), inputs=inputs,
                    keys=data.position_keys[idx], allowed=lambda i: torch.from_numpy(data.legal_mask(idx[i])),
                    situations=situations(data, idx, book_plies))


def situations(data: ChessData, idx: np.ndarray, book_plies: int) -> np.ndarray:
    """The polyglot key of each row's position within the first ``book_plies`` plies, else 0."""
    keys = np.asarray(data.rows["zobrist"][idx]).view(np.int64)
    return np.where(data.ply[idx] < min(book_plies, BOOK_PLIES), keys, 0)


def within_plies(data: ChessData, idx: np.ndarray, max_ply: int | None) -> np.ndarray:
    """The rows of ``idx`` within their game's first ``max_ply`` plies (all with None)."""
    return idx if max_ply is None else idx[data.ply[idx] < max_ply]


def style_plies(card: dict) -> int | None:
    """The plies a styled model's styles learned from (``max_ply`` of the recipe in its card)."""
    return (card.get("recipe") or {}).get("max_ply")


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


def train_styles(base_path, data_dir, out, recipe: dict | None = None, checkpoint_seconds: float = 120.0) -> dict:
    """Train adapters and one style vector per dataset player over a frozen base (resumable).

    Under torchrun each rank caches and trains on its share of the games (DDP keeps the table
    and adapters the same everywhere); rank 0 learns the repertoire and writes ``out``."""
    r = recipe_from(recipe)
    world = distributed.setup().world
    full = ChessData(data_dir)  # every game: the same player counts and sample on every rank
    data = ChessData(data_dir, part=distributed.part()) if world > 1 else full
    net = load_base(base_path)
    unknown = [n for n in r["holdout"] if n not in full.players]
    if unknown:
        raise PlayasError(f"holdout players not in the dataset: {', '.join(unknown)}")
    names = [n for n in full.players if n not in r["holdout"]]
    keep = [full.players.index(n) for n in names]
    games = full.sample_games("train", r["games_per_player"], r["seed"])
    train_idx = within_plies(data, data.targets("train", games=games, players=keep), r["max_ply"])
    val_idx = within_plies(data, data.targets("val", players=keep), r["max_ply"])
    val_idx = np.sort(np.random.default_rng(r["seed"]).permutation(val_idx)[: distributed.share(r["val_positions"])])
    if len(train_idx) < r["batch_size"]:
        raise PlayasError(f"{data_dir} has too few training positions ({len(train_idx)})")
    g = full.games[games]
    per_player = [int(((g["white"] == p) | (g["black"] == p)).sum()) for p in keep]
    torch.manual_seed(r["seed"])
    model = styled.new_styled(CHESS, net, names, per_player, r["mhr"])
    t0 = time.process_time()
    # The base is frozen below the adapters: its output for every training position is computed
    # once (float16), so each epoch only runs the adapted top of the network.
    train = cache_trunk(CHESS, model, examples(data, train_idx), allowed=False)
    val = cache_trunk(CHESS, model, examples(data, val_idx, r["book_plies"]))
    history = styled.train_styles(
        CHESS, model, train, val, data.players, epochs=r["epochs"], batch_size=distributed.share(r["batch_size"]),
        lr_adapters=r["lr_adapters"], lr_styles=r["lr_styles"], per_epoch=distributed.share(r["positions_per_epoch"]),
        seed=r["seed"], state_path=Path(out).with_suffix(".train-state"), checkpoint_seconds=checkpoint_seconds)
    train_positions = distributed.sum_across(len(train_idx))
    if not distributed.is_main():  # rank 0 alone counts the repertoire and writes the model
        return {"players": len(model.table), "history": history, "metrics": history[-1] if history else {}}
    # the repertoire counts every training game; its prior weight is fitted on rank 0's validation share
    book = learn_repertoire(model, full, val, r["book_plies"], keep) if r["book_plies"] else None
    card = {"kind": "styled", "base": str(base_path), "recipe": r, "world_size": world,
            "player_meta": player_meta(full),
            "players": len(model.table), "games_per_player": dict(zip(model.table.names, model.table.games)),
            "data": {"path": str(data_dir), "input_hash": full.manifest["input_hash"],
                     "train_positions": train_positions, "split_seed": full.manifest["seed"]},
            "cpu_seconds_this_run": round(time.process_time() - t0, 1),
            "history": history, "metrics": history[-1] if history else {}, "repertoire": book}
    model.eval()
    save_model(out, model, card)
    return card


def learn_repertoire(model, data: ChessData, val: TrunkCache, book_plies: int, players=None) -> dict:
    """Each player's repertoire from every one of their training games (to ``book_plies``), and its
    prior weight fitted on the cached validation moves ``val``."""
    rows = data.targets("train", players=players)
    rows = rows[data.ply[rows] < book_plies]
    return styled.learn_repertoire(CHESS, model, situations(data, rows, book_plies), data.mover[rows],
                                   np.asarray(data.rows["move"][rows]), val, data.players, depth=book_plies)


def add_repertoire(model_path, data_dir, out, book_plies: int = 30, val_positions: int = 10_000, skip=()) -> dict:
    """A styled model's players' repertoires (replacing any it has) from a prepared dataset's
    training games, with the prior weight fitted on its validation games; written to ``out``.
    Players in ``skip`` get none (their games are counted some other way)."""
    if not 0 < book_plies <= BOOK_PLIES:
        raise PlayasError(f"the repertoire reaches 1 to {BOOK_PLIES} plies, not {book_plies}")
    model, blob = load_styled(model_path)
    data = ChessData(data_dir)
    known = [i for i, n in enumerate(data.players) if n in model.table.names and n not in skip]
    if not known:
        raise PlayasError(f"no player of {data_dir} is in {model_path}")
    val_idx = within_plies(data, data.targets("val", players=known), book_plies)
    val_idx = np.sort(np.random.default_rng(0).permutation(val_idx)[:val_positions])
    book = learn_repertoire(model, data, cache_trunk(CHESS, model, examples(data, val_idx, book_plies)), book_plies,
                            known)
    card = checkpoint.card_for_copy(blob)
    card["repertoire"] = {**book, "data": str(data_dir)}
    save_model(out, model, card)
    return book


# --- PGN queries: enroll and identify ----------------------------------------------------------

def encode_games(pgns, *, owner_from_filename: bool = False, players=None,
                 plies: int | None = None) -> tuple[ChessData, tempfile.TemporaryDirectory]:
    """PGN files -> a temporary dataset with every game (to ``plies``) in its test split."""
    size = sum(p.stat().st_size for p in map(Path, pgns) if p.exists())  # prepare names a missing file
    tmp = tempfile.TemporaryDirectory(prefix="playas-")
    prepare(pgns, Path(tmp.name) / "d", owner_from_filename_=owner_from_filename, players=players,
            split=(0.0, 0.0, 1.0), workers=1 if size < 2e6 else None, plies=plies)
    return ChessData(Path(tmp.name) / "d"), tmp


def query(model, pgns, *, owner_from_filename=False, player=None, max_ply: int | None = None) -> tuple[TrunkCache, int]:
    """One player's moves in PGN files with the trunk run (only those within the first
    ``max_ply`` plies of each game when the styles learned from openings), and the game count."""
    data, tmp = encode_games(pgns, owner_from_filename=owner_from_filename, players=[player] if player else None,
                             plies=max_ply)
    with tmp:
        if len(data.players) != 1:
            raise PlayasError(f"these files name {len(data.players)} players; give the games of one player "
                              "(one file with --owner-from-filename, or --player NAME)")
        idx = within_plies(data, data.targets(), max_ply)
        if not len(idx):
            raise PlayasError("no moves of the player were found in these games; check --player")
        rep = model.table.repertoire
        return cache_trunk(CHESS, model, examples(data, idx, (rep.depth or 0) if rep else 0)), int(len(data.games))


def enroll(model_path, name: str, pgns, out, *, owner_from_filename=False, player=None, min_games: int = 5,
           source: dict | None = None) -> dict:
    """Add ``name`` to the style table from their games; only the new row is trained. ``source``
    (where the games came from, e.g. ``{"lichess_user": ...}``) goes on the model card."""
    model, blob = load_styled(model_path)
    if name in model.table.names:
        raise PlayasError(f"player {name!r} is already in {model_path}")
    cache, n_games = query(model, pgns, owner_from_filename=owner_from_filename, player=player,
                           max_ply=style_plies(blob["card"]))
    if n_games < min_games:
        raise PlayasError(f"{n_games} games of {name} found; enrollment needs at least {min_games}")
    styled.enroll(CHESS, model, name, cache, n_games)
    card = checkpoint.card_for_copy(blob)
    card.setdefault("enrolled", {})[name] = {"games": n_games, "positions": len(cache),
                                             **({"source": source} if source else {})}
    card["players"] = len(model.table)
    save_model(out, model, card)
    return {"name": name, "games": n_games, "similar": model.table.similar(name, 5)}


def identify(model_path, pgns, *, owner_from_filename=False, player=None, method: str = "likelihood") -> dict:
    """Rank the known players of a styled model by how likely they played the moves in ``pgns``."""
    model, blob = load_styled(model_path)
    cache, n_games = query(model, pgns, owner_from_filename=owner_from_filename, player=player,
                           max_ply=style_plies(blob["card"]))
    scores = styled.identify(CHESS, model, cache, method)
    return {"games": n_games, "moves": len(cache), "method": method, "names": model.table.names, "scores": scores}
