"""Encoded chess datasets: PGN is parsed once (:mod:`playas.chess.prepare`); training and
evaluation read arrays.

A dataset is a folder of shards (``shard-00000``, ...), each a set of flat arrays with one row
per position (the position before each move of every kept game, both sides, so history is
always at hand):

- ``codes``: 64 piece codes packed two per byte; ``flags``: side to move, castling, repetition;
  ``rule50``; ``ep``: the en-passant square; ``move``: the move played as one of the 1858 policy
  indices; ``clock``: the mover's clock after the move in seconds (``%clk``), or -1; ``zobrist``:
  the position's polyglot key in the opening; ``game``: the row's game in its shard.
- ``games.npy``: one row per game (first row, length, player ids of White and Black or -1,
  result, ratings, year, split, time control, rated); ``games.jsonl`` the headers a person wants.

``manifest.json`` beside the shards names the players and their games per split, the inputs
and how far each was read, skipped games and why. Shards let a distributed rank read its own
share, a killed run resume at a shard, and a new month's dump be appended.

Only the moves of tracked players are targets; the rest give history.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.errors import PlayasError
from . import encoding as enc

ROW_ARRAYS = {  # name: (dtype, per-row shape)
    "codes": (np.uint8, (32,)),
    "flags": (np.uint8, ()),
    "rule50": (np.uint8, ()),
    "ep": (np.uint8, ()),  # en-passant square after a double step (python-chess's), 255 if none
    "move": (np.int16, ()),
    "clock": (np.float32, ()),
    "game": (np.int32, ()),
    "zobrist": (np.uint64, ()),  # the position's polyglot key, within the first BOOK_PLIES plies (else 0)
}
BOOK_PLIES = enc.BOOK_PLIES  # how deep positions get a polyglot key: as deep as a repertoire can reach
FORMAT_VERSION = 3  # 3: sharded, appendable; legal moves computed on demand; time control per game
GAME_DTYPE = np.dtype([("first", np.int64), ("length", np.int32), ("white", np.int32),
                       ("black", np.int32), ("result", np.int8), ("white_elo", np.int16),
                       ("black_elo", np.int16), ("year", np.int16), ("split", np.int8),
                       ("file", np.int32), ("setup", np.int8), ("start_ep", np.int8),
                       ("base", np.int32), ("increment", np.int16), ("rated", np.int8),
                       ("key", np.int64), ("white_score", np.float32), ("black_score", np.float32)])
SHARD_GAMES = 50_000  # games per shard: a few hundred MB, a unit that a rank reads and a resume restarts
SPLITS = ("train", "val", "test")
RESULTS = {"1-0": 1, "0-1": -1, "1/2-1/2": 0}
UNKNOWN_RESULT = -2


# --- reading -----------------------------------------------------------------------------

class _Column:
    """One row array over several shards, indexed as one (with a shift per shard, for game ids)."""

    def __init__(self, parts: list[np.ndarray], shift: list[int] | None = None):
        self.parts = parts
        self.starts = np.cumsum([0] + [len(p) for p in parts])
        self.shift = shift or [0] * len(parts)
        self.dtype, self.shape = parts[0].dtype, parts[0].shape[1:]

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __array__(self, dtype=None, copy=None):
        a = np.concatenate([np.asarray(p) + s if s else np.asarray(p) for p, s in zip(self.parts, self.shift)])
        return a if dtype is None else a.astype(dtype)

    def __getitem__(self, key):
        if isinstance(key, slice):
            key = np.arange(*key.indices(len(self)))
        idx = np.asarray(key, dtype=np.int64)
        flat = idx.reshape(-1)
        shard = np.searchsorted(self.starts, flat, side="right") - 1
        out = np.empty(flat.shape + self.shape, self.dtype)
        for k in np.unique(shard):
            m = shard == k
            out[m] = self.parts[k][flat[m] - self.starts[k]] + self.dtype.type(self.shift[k])
        return out.reshape(idx.shape + self.shape)


class ChessData:
    """A prepared dataset, memory-mapped: targets by split and player, batches of planes.

    Its shards read as one: row and game indices run over all of them in order.
    """

    def __init__(self, path, part: tuple[int, int] | None = None):
        """Open the dataset at ``path``; ``part=(rank, world)`` keeps one distributed rank's share
        of the games for :meth:`targets`: its own shards (every world-th), or, with fewer shards
        than ranks, every world-th game of all of them."""
        self.path = path = Path(path)
        mf = path / "manifest.json"
        if not mf.exists():
            raise PlayasError(f"{path} is not a prepared dataset (no manifest.json); run `playas chess prepare`")
        self.manifest = json.loads(mf.read_text())
        if self.manifest.get("format") != "playas-chess-dataset":
            raise PlayasError(f"{path} is not a playas chess dataset")
        if self.manifest.get("version", 1) < FORMAT_VERSION:
            raise PlayasError(f"{path} was prepared by an older playas (rows without shards and en-passant "
                              "squares); prepare it again with `playas chess prepare`")
        if not self.manifest.get("complete"):
            raise PlayasError(f"{path} is an unfinished prepare; run the same prepare command again to finish it")
        self.players: list[str] = self.manifest["players"]
        shards = self.manifest["shards"]
        self.game_part = None
        first_game = dict(zip([sh["name"] for sh in shards], np.cumsum([0] + [sh["games"] for sh in shards])))
        if part is not None and part[1] > 1:
            if len(shards) >= part[1]:
                shards = shards[part[0]::part[1]]
            else:
                self.game_part = part
        self.shards = shards
        #: The dataset's id of each game here (a rank's share of the shards numbers its games from 0).
        self.game_ids = np.concatenate([np.arange(first_game[sh["name"]], first_game[sh["name"]] + sh["games"])
                                        for sh in shards] or [np.zeros(0, np.int64)])
        parts: dict[str, list] = {k: [] for k in ROW_ARRAYS}
        tables, game_shift, row_shift = [], [], 0
        for sh in shards:
            n = sh["positions"]
            for k, (dt, shape) in ROW_ARRAYS.items():
                parts[k].append(np.memmap(path / sh["name"] / f"{k}.bin", dtype=dt, mode="r", shape=(n,) + shape)
                                if n else np.zeros((0,) + shape, dt))
            g = np.load(path / sh["name"] / "games.npy")
            game_shift.append(sum(len(t) for t in tables))
            g["first"] += row_shift
            tables.append(g)
            row_shift += n
        self.rows = {k: v[0] if len(v) == 1 else _Column(v, game_shift if k == "game" else None)
                     for k, v in parts.items()}
        self.games = np.concatenate(tables) if tables else np.zeros(0, GAME_DTYPE)
        self._positions = row_shift
        self._game = None
        self._mover = None
        self._ply = None
        self._keys = None

    def __len__(self) -> int:
        return self._positions

    def headers(self):
        """Each game's headers (White, Black, Date, Event, Result and, where given, Site,
        TimeControl and ratings), in game order."""
        for sh in self.shards:
            with open(self.path / sh["name"] / "games.jsonl", encoding="utf-8") as f:
                yield from map(json.loads, f)

    @property
    def game(self) -> np.ndarray:
        """Each row's game (an index into :attr:`games`), read from every shard once."""
        if self._game is None:
            self._game = np.asarray(self.rows["game"])
        return self._game

    @property
    def mover(self) -> np.ndarray:
        """Tracked player id of the side to move at each row, -1 when untracked."""
        if self._mover is None:
            g = self.games[self.game]
            black = (np.asarray(self.rows["flags"]) & enc.BLACK_TO_MOVE) > 0
            self._mover = np.where(black, g["black"], g["white"]).astype(np.int32)
        return self._mover

    @property
    def ply(self) -> np.ndarray:
        """Plies played before each row in its game (0 for a game's first position)."""
        if self._ply is None:
            self._ply = (np.arange(len(self)) - self.games["first"][self.game]).astype(np.int32)
        return self._ply

    @property
    def position_keys(self) -> np.ndarray:
        """A 64-bit key per row, equal for rows whose network input is the same: a hash of the
        moves that led there from the standard start (planes, history and rule-50 count follow
        from them). Rows of set-up games get keys of their own. Openings repeat, so the frozen
        trunk runs once per key."""
        if self._keys is None:
            ply, moves = self.ply, np.asarray(self.rows["move"]).astype(np.uint64)
            keys = np.zeros(len(self), np.uint64)
            with np.errstate(over="ignore"):
                for p in range(1, int(ply.max(initial=0)) + 1):
                    r = np.flatnonzero(ply == p)
                    keys[r] = (keys[r - 1] + moves[r - 1] + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
            setup = self.games["setup"][self.game].astype(bool)
            keys[setup] = np.uint64(1 << 63) | np.flatnonzero(setup).astype(np.uint64)
            self._keys = keys
        return self._keys

    def targets(self, split: str | None = None, players=None, games=None) -> np.ndarray:
        """Row indices whose mover is tracked, optionally within a split, players or game ids
        (and this rank's share of the games, for a dataset opened with ``part``)."""
        keep = self.mover >= 0
        if split is not None:
            keep &= self.games["split"][self.game] == SPLITS.index(split)
        if players is not None:
            keep &= np.isin(self.mover, np.asarray(players))
        if games is not None:  # the dataset's game ids, as sample_games gives them
            keep &= np.isin(self.game_ids[self.game], np.asarray(games))
        if self.game_part is not None:
            keep &= self.game % self.game_part[1] == self.game_part[0]
        return np.flatnonzero(keep)

    def sample_games(self, split: str, per_player: int | None, seed: int) -> np.ndarray:
        """Up to ``per_player`` games of each player from ``split`` (all with None), a seeded sample;
        the dataset's game ids (see :attr:`game_ids`)."""
        g = self.games
        in_split = g["split"] == SPLITS.index(split)
        rng = np.random.default_rng(seed)
        chosen = set()
        for pid in range(len(self.players)):
            mine = np.flatnonzero(in_split & ((g["white"] == pid) | (g["black"] == pid)))
            chosen.update(rng.permutation(mine)[:per_player].tolist() if per_player else mine.tolist())
        return self.game_ids[np.array(sorted(chosen), dtype=np.int64)]

    def planes(self, idx: np.ndarray) -> np.ndarray:
        """lc0 planes (N, 112, 8, 8) of rows ``idx``, history from the same game."""
        idx = np.asarray(idx, dtype=np.int64)
        hist = idx[:, None] - np.arange(enc.HISTORY)[None, :]
        first = self.games["first"][self.rows["game"][idx]]
        valid = hist >= first[:, None]
        hist = np.where(valid, hist, idx[:, None])
        codes = enc.unpack_codes(self.rows["codes"][hist.ravel()]).reshape(len(idx), enc.HISTORY, 64)
        flags = self.rows["flags"][hist.ravel()].reshape(len(idx), enc.HISTORY)
        codes[~valid] = 0
        flags = np.where(valid, flags, 0).astype(np.uint8)
        g = self.games[self.rows["game"][idx]]
        for j in np.flatnonzero(g["setup"] & ~valid[:, -1]):  # set-up games: lc0's history fill
            k = int(valid[j].sum()) - 1
            enc.fill_setup_history(codes[j], flags[j], k, None if g["start_ep"][j] < 0 else int(g["start_ep"][j]))
        return enc.planes(codes, flags, self.rows["rule50"][idx])

    def legal_mask(self, idx: np.ndarray) -> np.ndarray:
        """Boolean (N, 1858): the legal moves of rows ``idx``, generated by python-chess from
        each stored position (cheaper than storing them: only held-out rows ever need them)."""
        idx = np.asarray(idx, dtype=np.int64)
        codes = enc.unpack_codes(self.rows["codes"][idx])
        flags, ep = self.rows["flags"][idx], self.rows["ep"][idx]
        mask = np.zeros((len(idx), enc.NUM_MOVES), dtype=bool)
        for j in range(len(idx)):
            mask[j, enc.legal_indices(enc.board_of(codes[j], int(flags[j]), int(ep[j])))] = True
        return mask

    def wdl(self, idx: np.ndarray) -> np.ndarray:
        """Game result from the mover's view: 0 win, 1 draw, 2 loss, -1 unknown."""
        g = self.games[self.rows["game"][idx]]
        black = (self.rows["flags"][idx] & enc.BLACK_TO_MOVE) > 0
        r = np.where(black, -g["result"], g["result"]).astype(np.int64)
        return np.where(g["result"] == UNKNOWN_RESULT, -1, 1 - r)
