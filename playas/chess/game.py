"""Chess's nouns for the core's style verbs (:mod:`playas.core.verbs`): the styles recipe, a
prepared dataset as training examples, PGN files as one player's query, the properties measured
from games, and each player's repertoire.

Training and ingestion live here, never in the play path: the engine and bots load a model
through :mod:`playas.chess.model` and :mod:`playas.chess.policy` alone.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..core import checkpoint, config, distributed, learning
from ..core.config import number, optional, section, setting, whole
from ..core.errors import PlayasError
from ..core.game import Examples, Game, Query, StyleData
from ..core.output import writable_file
from ..core.trunk import TrunkCache, cache_trunk
from .dataset import BOOK_PLIES, ChessData
from .model import CHESS, load_styled, save_model, style_plies
from .properties import PROPERTIES

@dataclass
class ChessAdapters(learning.Adapters):
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


# --- a prepared dataset as examples ---------------------------------------------------------------

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


def style_data(data_dir, r: dict) -> StyleData:
    """A prepared dataset's tracked players, their sampled training moves and validation moves.
    Under torchrun each rank reads its share of the games; the counts are the whole dataset's."""
    full = ChessData(data_dir)  # every game: the same player counts and sample on every rank
    data = ChessData(data_dir, part=distributed.part()) if distributed.setup().world > 1 else full
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

    def finish(model, val: TrunkCache | None) -> dict:
        # the repertoire counts every training game; its prior weight is fitted on rank 0's validation share
        if not r["book_plies"] or val is None:
            return {"repertoire": None}
        return {"repertoire": learn_repertoire(model, full, val, r["book_plies"], keep)}

    card = {"player_meta": player_meta(full),
            "data": {"input_hash": full.manifest["input_hash"], "split_seed": full.manifest["seed"]}}
    return StyleData(names, per_player, list(data.players), examples(data, train_idx),
                     examples(data, val_idx, r["book_plies"]), card, finish, r["positions_per_epoch"])


def learn_repertoire(model, data: ChessData, val: TrunkCache, book_plies: int, players=None) -> dict:
    """Each player's repertoire from every one of their training games (to ``book_plies``), and its
    prior weight fitted on the cached validation moves ``val``."""
    rows = data.targets("train", players=players)
    rows = rows[data.ply[rows] < book_plies]
    return learning.learn_repertoire(CHESS, model, situations(data, rows, book_plies), data.mover[rows],
                                     np.asarray(data.rows["move"][rows]), val, data.players, depth=book_plies)


def add_repertoire(model_path, data_dir, out, book_plies: int = 30, val_positions: int = 10_000, skip=()) -> dict:
    """A styled model's players' repertoires (replacing any it has) from a prepared dataset's
    training games, with the prior weight fitted on its validation games; written to ``out``.
    Players in ``skip`` get none (their games are counted some other way)."""
    if not 0 < book_plies <= BOOK_PLIES:
        raise PlayasError(f"the repertoire reaches 1 to {BOOK_PLIES} plies, not {book_plies}")
    writable_file(out, "model")
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


# --- PGN files as a query ---------------------------------------------------------------------------

def encode_games(pgns, *, owner_from_filename: bool = False, players=None, min_games: int | None = None,
                 plies: int | None = None) -> tuple[ChessData, tempfile.TemporaryDirectory]:
    """PGN files -> a temporary dataset with every game (to ``plies``) in its test split."""
    from .prepare import prepare

    size = sum(p.stat().st_size for p in map(Path, pgns) if p.exists())  # prepare names a missing file
    tmp = tempfile.TemporaryDirectory(prefix="playas-")
    prepare(pgns, Path(tmp.name) / "d", owner_from_filename_=owner_from_filename, players=players,
            min_games=min_games, split=(0.0, 0.0, 1.0), workers=1 if size < 2e6 else None, plies=plies)
    return ChessData(Path(tmp.name) / "d"), tmp


def read_query(model, card: dict, pgns: Sequence, player: str | None, owner_from_filename: bool = False) -> Query:
    """One player's moves in PGN files with the trunk run (only those within the first plies the
    styles learned from, when they learned from openings), and how many games they came from."""
    if bool(player) == bool(owner_from_filename):
        raise PlayasError("say whose moves these are with exactly one of --player NAME or --owner-from-filename")
    max_ply = style_plies(card)
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
        cache = cache_trunk(CHESS, model, examples(data, idx, (rep.depth or 0) if rep else 0))
        return Query(cache, int(len(data.games)), data.players[0])


# --- evaluation ---------------------------------------------------------------------------------

def forward(entry, players: list[str], steer: dict | None, book_depth: int | None):
    """The logits of one evaluation entry (:class:`~playas.core.game.Scored`) for a batch."""
    from ..core.mhr import MHRModel
    from .evaluate import styled_forward

    if entry.mode == "base":
        net = entry.model.unadapted_base() if isinstance(entry.model, MHRModel) else entry.model
        return lambda b: net(b["x"])[0]
    style = None if entry.mode == "own" else entry.mode
    return styled_forward(entry.model, players, style, steer if entry.mode != "mean" else None, book_depth,
                          style_plies(entry.card))


def score(entries, steer, data_dir=None, split: str = "test", files=None, owner_from_filename: bool = False,
          players=None, min_games=None, max_positions: int | None = None, book_depth: int | None = None):
    """Move-matching of every entry on the same positions: a dataset's ``split``, or every move of
    the tracked players in PGN ``files`` (see :meth:`playas.core.game.Game.score`)."""
    import contextlib

    from .evaluate import move_matching

    if files and not (owner_from_filename or players or min_games):
        raise PlayasError("with --games, say whose moves: --owner-from-filename, --players or --min-games")
    data, tmp = encode_games(files, owner_from_filename=owner_from_filename, players=players, min_games=min_games) \
        if files else (ChessData(data_dir), contextlib.nullcontext())
    split = "test" if files else split
    with tmp:
        idx = data.targets(split)
        if max_positions and len(idx) > max_positions:
            idx = np.random.default_rng(0).choice(idx, max_positions, replace=False)
        if not len(idx):
            raise PlayasError(f"no positions of tracked players in the {split} split")
        report = move_matching({e.label: forward(e, data.players, steer, book_depth) for e in entries}, data, idx)
    return report["positions"], report["models"]


class ChessGame(Game):
    """Chess: PGN files in, lc0's network (:data:`playas.chess.model.CHESS`) under the styles."""

    name = "chess"
    network = CHESS
    unit = "moves"
    min_enroll_games = 5
    properties = PROPERTIES
    recipe = StylesRecipe

    def style_data(self, base_card, data_dir, recipe):
        return style_data(data_dir, recipe)

    def read_query(self, model, card, files, player, **options):
        return read_query(model, card, files, player, **options)

    def score(self, entries, steer, data_dir=None, split="test", files=None, **options):
        return score(entries, steer, data_dir, split, files, **options)

    def measure(self, data_dir=None, files=None, games_per_player: int = 100, split: str | None = None,
                owner_from_filename: bool = False, players=None, min_games=None):
        from .properties import dataset_properties

        if files:
            data, tmp = encode_games(files, owner_from_filename=owner_from_filename, players=players,
                                     min_games=min_games)
            with tmp:
                return dataset_properties(data, games_per_player)
        return dataset_properties(ChessData(data_dir), games_per_player, split=split)


GAME = ChessGame()
