"""Encoded chess datasets: PGN is parsed once by ``prepare``; training and evaluation read arrays.

A dataset is a folder of flat arrays, one row per position (the position before each move of
every kept game, both sides, so history is always at hand):

- ``codes``: 64 piece codes packed two per byte; ``flags``: side to move, castling, repetition;
  ``rule50``; ``move``: the move played as one of the 1858 policy indices; ``legal``: the legal
  moves' indices (ragged, ``legal_count`` per row); ``clock``: the mover's clock after the move
  in seconds, or -1; ``game``: the row's game.
- ``games.npy``: one row per game (first row, length, player ids of White and Black or -1,
  result, ratings, year, split); ``games.jsonl`` the headers a person wants to see.
- ``manifest.json``: players and their games per split, skipped games and why, input hash.

Only the moves of tracked players are targets; the rest give history.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing as mp
import os
import re
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

import chess
import chess.pgn
import chess.polyglot
import numpy as np

from ..core.errors import PlayasError
from ..core.progress import Progress
from . import encoding as enc
from .pgn import NamePattern, header_names, iter_game_texts, owner_from_filename

ROW_ARRAYS = {  # name: (dtype, per-row shape)
    "codes": (np.uint8, (32,)),
    "flags": (np.uint8, ()),
    "rule50": (np.uint8, ()),
    "move": (np.int16, ()),
    "legal_count": (np.uint8, ()),
    "clock": (np.float32, ()),
    "game": (np.int32, ()),
    "zobrist": (np.uint64, ()),  # the position's polyglot key, within the first BOOK_PLIES plies (else 0)
}
BOOK_PLIES = enc.BOOK_PLIES  # how deep positions get a polyglot key: as deep as a repertoire can reach
FORMAT_VERSION = 2  # 2: rows carry polyglot keys
GAME_DTYPE = np.dtype([("first", np.int64), ("length", np.int32), ("white", np.int32),
                       ("black", np.int32), ("result", np.int8), ("white_elo", np.int16),
                       ("black_elo", np.int16), ("year", np.int16), ("split", np.int8),
                       ("file", np.int16), ("setup", np.int8), ("start_ep", np.int8)])
SPLITS = ("train", "val", "test")
RESULTS = {"1-0": 1, "0-1": -1, "1/2-1/2": 0}
UNKNOWN_RESULT = -2


# --- who is who --------------------------------------------------------------------------

@dataclass
class Matcher:
    """Finds the tracked player (an id) behind a header name, with a specificity score."""

    patterns: list[tuple[int, NamePattern]]
    exact: dict[str, int]

    def __post_init__(self):
        self._cache: dict[str, tuple[int, float]] = {}  # names recur in every game of a player

    def match(self, name: str) -> tuple[int, float]:
        if name in self.exact:
            return self.exact[name], 100
        if name not in self._cache:
            best = (-1, 0)
            for pid, pat in self.patterns:
                s = pat.score(name)
                if s > best[1]:
                    best = (pid, s)
            self._cache[name] = best
        return self._cache[name]


# --- parsing (worker processes) ----------------------------------------------------------

class _Skip(Exception):
    pass


_NONE = np.zeros(0, np.int16)


def _year(date: str) -> int:
    m = re.match(r"(\d{4})", date or "")
    return int(m.group(1)) if m else 0


def _elo(s: str | None) -> int:
    try:
        return max(0, min(int(s), 32767))
    except (TypeError, ValueError):
        return 0


def _surname(name: str) -> str:
    m = re.match(r"\s*([^\s,]+)", name or "")
    return m.group(1).lower() if m else "?"


def encode_game(text: str, matcher: Matcher, anyone: Matcher | None = None,
                plies: int | None = None) -> tuple[dict, dict]:
    """Parse one game and encode every position (or the first ``plies``); raises _Skip(reason)
    for a game to skip.

    Legal moves (the costliest part) are kept only for sides that ``anyone`` tracks: the
    players of all input files, so a game merged from another player's file has them too.
    """
    truncated = text.endswith("*TRUNCATED*")
    white_name, black_name = header_names(text)
    white, ws = matcher.match(white_name)
    black, bs = matcher.match(black_name)
    if min(ws, bs) < 1 <= max(ws, bs):  # a spelling-alike opponent of an exact match is not the player
        white, ws = (white, ws) if ws >= 1 else (-1, 0)
        black, bs = (black, bs) if bs >= 1 else (-1, 0)
    if white < 0 and black < 0:
        raise _Skip("no tracked player")
    if truncated:
        raise _Skip("truncated file")
    game = chess.pgn.read_game(io.StringIO(text))
    if game is None:
        raise _Skip("broken header")
    if game.errors:
        raise _Skip("illegal or unreadable move")
    h = game.headers
    if h.get("Variant", "Standard").lower() not in ("standard", "chess", "normal", "from position"):
        raise _Skip("not standard chess")
    try:
        board = game.board()
    except ValueError:
        raise _Skip("bad FEN header") from None
    anyone = anyone or matcher
    need_legal = (white >= 0 or anyone.match(white_name)[0] >= 0,
                  black >= 0 or anyone.match(black_name)[0] >= 0)
    setup = not (board.board_fen() == chess.STARTING_BOARD_FEN and board.turn == chess.WHITE
                 and board.castling_rights == chess.BB_CORNERS)
    start_ep = -1 if board.ep_square is None else board.ep_square
    nodes = list(game.mainline())
    uci = [node.move.uci() for node in nodes]  # the whole game names it, however much is encoded
    nodes = nodes[:plies]
    if not nodes:
        raise _Skip("no moves")
    n = len(nodes)
    codes = np.empty((n, 64), np.uint8)
    flags = np.empty(n, np.uint8)
    rule50 = np.empty(n, np.uint8)
    move = np.empty(n, np.int16)
    legal_count = np.empty(n, np.uint8)
    clock = np.full(n, -1.0, np.float32)
    zobrist = np.zeros(n, np.uint64)
    legal = []
    seen = Counter()
    for i, node in enumerate(nodes):
        key = enc._lc0_key(board)  # lc0's notion of "the same position"
        seen[key] += 1
        codes[i] = enc.position_codes(board)
        flags[i] = enc.position_flags(board, seen[key] > 1)
        rule50[i] = min(board.halfmove_clock, 255)
        li = enc.legal_indices(board) if need_legal[board.turn == chess.BLACK] else _NONE
        legal.append(li)
        legal_count[i] = len(li)
        move[i] = enc.move_to_index(board, node.move)
        c = node.clock()
        if c is not None:
            clock[i] = c
        if i < BOOK_PLIES:
            zobrist[i] = chess.polyglot.zobrist_hash(board)
        board.push(node.move)
    result = RESULTS.get(h.get("Result", "*"), UNKNOWN_RESULT)
    year = _year(h.get("Date", ""))
    ident = f"{_surname(white_name)}|{_surname(black_name)}|{year}|{result}|{h.get('FEN', '')}|{' '.join(uci)}"
    key = int.from_bytes(hashlib.blake2b(ident.encode(), digest_size=8).digest(), "little", signed=True)
    rows = {"codes": enc.pack_codes(codes), "flags": flags, "rule50": rule50, "move": move,
            "legal_count": legal_count, "clock": clock, "zobrist": zobrist, "legal": np.concatenate(legal)}
    meta = {"key": key, "white": white, "black": black, "white_score": ws, "black_score": bs,
            "result": result, "white_elo": _elo(h.get("WhiteElo")), "black_elo": _elo(h.get("BlackElo")),
            "year": year, "length": n, "setup": int(setup), "start_ep": start_ep,
            "headers": {k: h.get(k, "?") for k in ("White", "Black", "Date", "Event", "Result")}}
    return rows, meta


def _encode_chunk(args) -> tuple[list, Counter, int]:
    texts, matcher, anyone, plies = args
    out, skipped, encoded = [], Counter(), 0
    for text in texts:
        try:
            rows, meta = encode_game(text, matcher, anyone, plies)
        except _Skip as e:
            skipped[str(e)] += 1
            continue
        except Exception as e:  # a parser corner we did not foresee: skip the game, say why
            skipped[f"unreadable game ({e.__class__.__name__})"] += 1
            continue
        encoded += meta["length"]
        out.append((rows, meta))
    return out, skipped, encoded


# --- prepare -----------------------------------------------------------------------------

def _count_names(paths) -> Counter:
    counts: Counter = Counter()
    for p in paths:
        for text in iter_game_texts(p):
            w, b = header_names(text)
            counts[w] += 1
            counts[b] += 1
    return counts


def _tracked_ids(matcher: Matcher, text: str) -> set[int]:
    """The ids of the tracked players among a game's two header names."""
    return {matcher.match(n)[0] for n in header_names(text)} - {-1}


def _count_players(paths, matchers) -> Counter:
    """Games per tracked player id, from headers only (for --max-games-per-player)."""
    counts: Counter = Counter()
    for p, m in zip(paths, matchers):
        for text in iter_game_texts(p):
            counts.update(_tracked_ids(m, text))
    return counts


def _movetext_fraction(text: str) -> float:
    """A stable number in [0, 1) from a game's moves, the same whichever file holds the game."""
    body = text[text.rfind("]") + 1:].split()
    return int.from_bytes(hashlib.blake2b(" ".join(body).encode(), digest_size=8).digest(), "little") / 2**64


def _split_of(key: int, seed: int, fractions) -> int:
    u = int.from_bytes(hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest(), "little") / 2**64
    return 0 if u < fractions[0] else 1 if u < fractions[0] + fractions[1] else 2


def prepare(paths, out, *, owner_from_filename_: bool = False, players: list[str] | None = None,
            min_games: int | None = None, seed: int = 0, split=(0.8, 0.1, 0.1),
            workers: int | None = None, chunk_games: int = 200,
            max_games_per_player: int | None = None, plies: int | None = None) -> dict:
    """Parse PGN files into an encoded dataset in folder ``out``; returns the manifest.

    Exactly one way of choosing whose moves count must be given: the file name is the player
    (``owner_from_filename_``), a list of names (``players``), or every name with at least
    ``min_games`` games. ``max_games_per_player`` keeps a uniform random sample of about that
    many games of each player (over their whole career, not the first ones in the file).
    ``plies`` encodes only the first plies of each game (a query of styles that learned openings).
    """
    paths = [Path(p) for p in paths]
    _check_arguments(paths, owner_from_filename_, players, min_games, split)
    out = _new_dataset_folder(out)
    owners = _choose_owners(paths, owner_from_filename_, players, min_games)
    sampled = _game_sampler(paths, owners.matchers, max_games_per_player)
    with _DatasetWriter(out, seed, split) as writer:
        t0 = time.monotonic()
        chunks = _chunks(paths, sampled, chunk_games, writer.damaged)
        _encode(chunks, owners, workers or os.cpu_count() or 1, writer, plies)
    table = writer.save_games()
    manifest = _manifest(paths, owners, table, writer, seed=seed, split=split,
                         max_games_per_player=max_games_per_player,
                         seconds=round(time.monotonic() - t0, 1))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _check_arguments(paths: list[Path], owner_from_filename_, players, min_games, split) -> None:
    """Refuse, in one sentence, a call that cannot make a dataset, before any work is done."""
    if sum([bool(owner_from_filename_), bool(players), min_games is not None]) != 1:
        raise PlayasError("choose whose moves to keep with exactly one of --owner-from-filename, "
                          "--players or --min-games")
    if not paths:
        raise PlayasError("no PGN files given")
    for p in paths:
        if not p.exists():
            raise PlayasError(f"PGN file {p} does not exist")
    if abs(sum(split) - 1) > 1e-6 or min(split) < 0:
        raise PlayasError(f"split fractions {split} must be non-negative and sum to 1")


def _new_dataset_folder(out) -> Path:
    """Create folder ``out``; one that already holds a dataset is refused, never overwritten."""
    out = Path(out)
    if (out / "manifest.json").exists():
        raise PlayasError(f"{out} already holds a dataset; choose another --out or remove it")
    out.mkdir(parents=True, exist_ok=True)
    return out


# --- whose moves count -------------------------------------------------------------------

@dataclass
class _Owners:
    """The tracked players (an id is the index in ``names``) and how to find them in headers.

    ``matchers`` has one matcher per input file: with owners from file names, a file's games
    count only for its owner. ``anyone`` knows every tracked player; it decides which sides
    keep their legal moves. ``label`` says in the manifest how the players were chosen.
    """

    names: list[str]
    matchers: list[Matcher]
    anyone: Matcher
    label: str

    def job(self, fi: int, texts: list[str]) -> tuple:
        """The argument of ``_encode_chunk`` for game texts read from input file ``fi``."""
        return texts, self.matchers[fi], self.anyone


def _choose_owners(paths, owner_from_filename_, players, min_games) -> _Owners:
    """Whose moves count, by the one way the caller chose (``_check_arguments`` made sure)."""
    if owner_from_filename_:
        return _owners_from_filenames(paths)
    if players:
        names = list(players)
        anyone = Matcher([(i, NamePattern(n)) for i, n in enumerate(names)], {})
        return _Owners(names, [anyone] * len(paths), anyone, "players")
    return _owners_by_game_count(paths, min_games)


def _owners_from_filenames(paths) -> _Owners:
    """The PGN Mentor way: each file holds one player's games and is named after them."""
    names = [owner_from_filename(p).label for p in paths]
    if len(set(names)) != len(names):
        raise PlayasError("two files name the same player; --owner-from-filename needs one file per player")
    matchers = [Matcher([(i, owner_from_filename(p))], {}) for i, p in enumerate(paths)]
    anyone = Matcher([(i, owner_from_filename(p)) for i, p in enumerate(paths)], {})
    return _Owners(names, matchers, anyone, "filename")


def _owners_by_game_count(paths, min_games: int) -> _Owners:
    """Every header name, spelled exactly, with at least ``min_games`` games in the files."""
    counts = _count_names(paths)
    names = sorted(n for n, c in counts.items() if c >= min_games and n.strip() not in ("", "?", "NN"))
    if not names:
        raise PlayasError(f"no player has {min_games} or more games in these files")
    anyone = Matcher([], {n: i for i, n in enumerate(names)})
    return _Owners(names, [anyone] * len(paths), anyone, f"min-games {min_games}")


def _game_sampler(paths, matchers, max_games_per_player: int | None):
    """A test ``(file index, game text) -> bool`` of which games to read.

    Without ``max_games_per_player`` every game is read. With it, each player keeps about that
    many games: a game is kept when its moves' hash falls below the larger of its players'
    keep fractions, so the sample spans whole careers and the same game is kept or dropped
    in every file that holds it.
    """
    if not max_games_per_player:
        return lambda fi, text: True
    counts = _count_players(paths, matchers)
    keep_fraction = {pid: min(1.0, max_games_per_player / c) for pid, c in counts.items()}

    def sampled(fi: int, text: str) -> bool:
        ids = _tracked_ids(matchers[fi], text)
        return _movetext_fraction(text) < max((keep_fraction[i] for i in ids), default=0.0)
    return sampled


# --- encoding and writing ----------------------------------------------------------------

def _chunks(paths, sampled, chunk_games: int, damaged: list[str]):
    """Yield ``(file index, game texts)``: the sampled games of each file, ``chunk_games`` at a time.

    A damaged file (a cut or corrupt stream) ends early: its reason goes to ``damaged`` and the
    games read before it are kept.
    """
    for fi, p in enumerate(paths):
        buf = []
        try:
            for text in iter_game_texts(p):
                if not sampled(fi, text):
                    continue
                buf.append(text)
                if len(buf) >= chunk_games:
                    yield fi, buf
                    buf = []
        except PlayasError as e:
            damaged.append(str(e))
        if buf:
            yield fi, buf


def _encode(chunks, owners: _Owners, workers: int, writer: _DatasetWriter, plies: int | None = None) -> None:
    """Encode the chunks, in this process or ``workers`` forked ones, with a progress line.

    Results reach the writer in input order either way, so the dataset does not depend on
    the number of workers.
    """
    with Progress(None, "prepare", unit="plies") as bar:
        def take(fi: int, result: tuple) -> None:
            writer.consume(fi, result)
            bar.update(result[2], games=len(writer.games))

        if workers == 1:
            for fi, buf in chunks:
                take(fi, _encode_chunk((*owners.job(fi, buf), plies)))
        else:
            _encode_in_pool(chunks, owners, workers, take, plies)


def _encode_in_pool(chunks, owners: _Owners, workers: int, take, plies: int | None) -> None:
    """``_encode_chunk`` on a pool of forked processes, results handed to ``take`` in order.

    At most ``2 * workers`` chunks wait at a time, so memory stays flat however large the input.
    """
    with mp.get_context("fork").Pool(workers) as pool:
        pending = deque()
        for fi, buf in chunks:
            pending.append((fi, pool.apply_async(_encode_chunk, ((*owners.job(fi, buf), plies),))))
            while len(pending) > 2 * workers:
                f, r = pending.popleft()
                take(f, r.get())
        for f, r in pending:
            take(f, r.get())


class _DatasetWriter:
    """Owns a new dataset's open files; appends each encoded game once and tallies the run.

    The row arrays (``*.bin``), the legal moves and ``games.jsonl`` are written as games come;
    the game table is kept in memory and saved by ``save_games`` once the files are closed.
    A game met again (the same game from another player's file) is merged, not written twice.
    """

    def __init__(self, out: Path, seed: int, split):
        self.out, self.seed, self.split = out, seed, split
        self.files = {k: open(out / f"{k}.bin", "wb") for k in list(ROW_ARRAYS) + ["legal"]}
        self.headers = open(out / "games.jsonl", "w", encoding="utf-8")
        self.games: list[tuple] = []  # rows of GAME_DTYPE
        self.scores: list[list[int]] = []  # per game: how well its White and Black ids matched
        self.index_of_key: dict[int, int] = {}
        self.skipped: Counter = Counter()
        self.damaged: list[str] = []
        self.duplicates = self.parsed = self.rows_written = self.legal_written = 0

    def __enter__(self) -> _DatasetWriter:
        return self

    def __exit__(self, *exc) -> None:
        for f in self.files.values():
            f.close()
        self.headers.close()

    def consume(self, fi: int, result: tuple) -> None:
        """Take one ``_encode_chunk`` result for games of input file ``fi``."""
        encoded, skip, plies = result
        self.skipped.update(skip)
        self.parsed += plies
        for rows, meta in encoded:
            if meta["key"] in self.index_of_key:
                self.duplicates += 1
                self._merge(self.index_of_key[meta["key"]], meta)
            else:
                self._append(fi, rows, meta)

    def _merge(self, gi: int, meta: dict) -> None:
        """Game ``gi`` seen again: each side takes the better-matched tracked player.

        A match game sits in both players' files; each file's reader knows only its owner, so
        the copies together say who both sides are.
        """
        g = list(self.games[gi])
        for side, col in (("white", 2), ("black", 3)):
            if meta[side + "_score"] > self.scores[gi][col - 2]:
                g[col] = meta[side]
                self.scores[gi][col - 2] = meta[side + "_score"]
        self.games[gi] = tuple(g)

    def _append(self, fi: int, rows: dict, meta: dict) -> None:
        """Write a new game's rows, legal moves and headers, and add its game-table row."""
        key, n, gi = meta["key"], meta["length"], len(self.games)
        self.index_of_key[key] = gi
        rows["game"] = np.full(n, gi, np.int32)
        for k in ROW_ARRAYS:
            self.files[k].write(np.ascontiguousarray(rows[k], dtype=ROW_ARRAYS[k][0]).tobytes())
        self.files["legal"].write(rows["legal"].astype(np.int16).tobytes())
        self.games.append((self.rows_written, n, meta["white"], meta["black"], meta["result"],
                           meta["white_elo"], meta["black_elo"], meta["year"],
                           _split_of(key, self.seed, self.split), fi, meta["setup"], meta["start_ep"]))
        self.scores.append([meta["white_score"], meta["black_score"]])
        self.headers.write(json.dumps(meta["headers"], ensure_ascii=False) + "\n")
        self.rows_written += n
        self.legal_written += len(rows["legal"])

    def save_games(self) -> np.ndarray:
        """Save the game table as ``games.npy`` and return it."""
        table = np.array(self.games, dtype=GAME_DTYPE)
        np.save(self.out / "games.npy", table)
        return table


# --- manifest ----------------------------------------------------------------------------

def _manifest(paths, owners: _Owners, table: np.ndarray, writer: _DatasetWriter, *, seed: int, split,
              max_games_per_player: int | None, seconds: float) -> dict:
    """What a dataset holds and how it was made: enough to tell whether to prepare it again."""
    skipped = writer.skipped
    return {
        "format": "playas-chess-dataset", "version": FORMAT_VERSION,
        "inputs": [str(p) for p in paths], "input_hash": _inputs_hash(paths),
        "owner": owners.label,
        "players": owners.names, "games_per_player": _games_per_player(table, owners.names),
        "games": len(table), "positions": writer.rows_written, "plies_parsed": writer.parsed,
        "legal_entries": writer.legal_written,
        "targets": int(_target_count(table)),
        "split": dict(zip(SPLITS, split)), "seed": seed, "max_games_per_player": max_games_per_player,
        "duplicates_merged": writer.duplicates, "skipped": dict(skipped),
        "skipped_total": sum(v for k, v in skipped.items() if k != "no tracked player"),
        "damaged_files": writer.damaged, "seconds": seconds,
    }


def _games_per_player(table: np.ndarray, names: list[str]) -> dict:
    """Each player's games (as either colour) per split."""
    per_player = {}
    for pid, name in enumerate(names):
        mine = (table["white"] == pid) | (table["black"] == pid)
        per_player[name] = {s: int((mine & (table["split"] == i)).sum()) for i, s in enumerate(SPLITS)}
    return per_player


def _inputs_hash(paths) -> str:
    """Hash of names, sizes and modification-independent content heads (fast on GB inputs)."""
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:".encode())
        with open(p, "rb") as f:
            h.update(f.read(1 << 16))
            if st.st_size > 1 << 17:
                f.seek(-(1 << 16), 2)
                h.update(f.read())
    return h.hexdigest()


def _target_count(table: np.ndarray) -> int:
    return int(np.where(table["white"] >= 0, (table["length"] + 1) // 2, 0).sum()
               + np.where(table["black"] >= 0, table["length"] // 2, 0).sum())


# --- reading -----------------------------------------------------------------------------

class ChessData:
    """A prepared dataset, memory-mapped: targets by split and player, batches of planes."""

    def __init__(self, path):
        self.path = path = Path(path)
        mf = path / "manifest.json"
        if not mf.exists():
            raise PlayasError(f"{path} is not a prepared dataset (no manifest.json); run `playas chess prepare`")
        self.manifest = json.loads(mf.read_text())
        if self.manifest.get("format") != "playas-chess-dataset":
            raise PlayasError(f"{path} is not a playas chess dataset")
        if self.manifest.get("version", 1) < FORMAT_VERSION:
            raise PlayasError(f"{path} was prepared by an older playas (its rows lack position keys); "
                              "prepare it again with `playas chess prepare`")
        self.players: list[str] = self.manifest["players"]
        n = self.manifest["positions"]
        self.rows = {}
        for k, (dt, shape) in ROW_ARRAYS.items():
            self.rows[k] = np.memmap(path / f"{k}.bin", dtype=dt, mode="r", shape=(n,) + shape) if n else \
                np.zeros((0,) + shape, dt)
        self.legal = np.memmap(path / "legal.bin", dtype=np.int16, mode="r") if self.manifest["legal_entries"] \
            else np.zeros(0, np.int16)
        self._legal_start = None
        self.games = np.load(path / "games.npy")
        self._mover = None
        self._ply = None
        self._keys = None

    def __len__(self) -> int:
        return self.manifest["positions"]

    @property
    def mover(self) -> np.ndarray:
        """Tracked player id of the side to move at each row, -1 when untracked."""
        if self._mover is None:
            g = self.games[self.rows["game"]]
            black = (np.asarray(self.rows["flags"]) & enc.BLACK_TO_MOVE) > 0
            self._mover = np.where(black, g["black"], g["white"]).astype(np.int32)
        return self._mover

    @property
    def ply(self) -> np.ndarray:
        """Plies played before each row in its game (0 for a game's first position)."""
        if self._ply is None:
            self._ply = (np.arange(len(self)) - self.games["first"][self.rows["game"]]).astype(np.int32)
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
            setup = self.games["setup"][self.rows["game"]].astype(bool)
            keys[setup] = np.uint64(1 << 63) | np.flatnonzero(setup).astype(np.uint64)
            self._keys = keys
        return self._keys

    def targets(self, split: str | None = None, players=None, games=None) -> np.ndarray:
        """Row indices whose mover is tracked, optionally within a split, players or game ids.

        A row without stored legal moves is left out: it is a side that only became tracked when
        a duplicate game from another file was merged in, under a spelling the first file's
        reader did not know (a few dozen rows in the 197-player set).
        """
        keep = (self.mover >= 0) & (np.asarray(self.rows["legal_count"]) > 0)
        if split is not None:
            keep &= self.games["split"][self.rows["game"]] == SPLITS.index(split)
        if players is not None:
            keep &= np.isin(self.mover, np.asarray(players))
        if games is not None:
            keep &= np.isin(self.rows["game"], np.asarray(games))
        return np.flatnonzero(keep)

    def sample_games(self, split: str, per_player: int | None, seed: int) -> np.ndarray:
        """Up to ``per_player`` games of each player from ``split`` (all with None), a seeded sample."""
        g = self.games
        in_split = g["split"] == SPLITS.index(split)
        rng = np.random.default_rng(seed)
        chosen = set()
        for pid in range(len(self.players)):
            mine = np.flatnonzero(in_split & ((g["white"] == pid) | (g["black"] == pid)))
            chosen.update(rng.permutation(mine)[:per_player].tolist() if per_player else mine.tolist())
        return np.array(sorted(chosen), dtype=np.int64)

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
        """Boolean (N, 1858): the legal moves of rows ``idx``."""
        if self._legal_start is None:
            self._legal_start = np.concatenate([[0], np.cumsum(self.rows["legal_count"], dtype=np.int64)])
        idx = np.asarray(idx, dtype=np.int64)
        starts = self._legal_start[idx]
        counts = self._legal_start[idx + 1] - starts
        rows = np.repeat(np.arange(len(idx)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        mask = np.zeros((len(idx), enc.NUM_MOVES), dtype=bool)
        mask[rows, self.legal[np.repeat(starts, counts) + offsets]] = True
        return mask

    def wdl(self, idx: np.ndarray) -> np.ndarray:
        """Game result from the mover's view: 0 win, 1 draw, 2 loss, -1 unknown."""
        g = self.games[self.rows["game"][idx]]
        black = (self.rows["flags"][idx] & enc.BLACK_TO_MOVE) > 0
        r = np.where(black, -g["result"], g["result"]).astype(np.int64)
        return np.where(g["result"] == UNKNOWN_RESULT, -1, 1 - r)
