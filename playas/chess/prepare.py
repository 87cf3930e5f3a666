"""Preparing a dataset (:mod:`playas.chess.dataset`) from PGN: collections, Lichess database
dumps (``.pgn.zst``, read as a stream) and berserk exports.

The main process reads the input and hands games, a few hundred at a time, to worker processes
that parse and encode them; results come back in input order and are written shard by shard.
Whose moves count is chosen by rule: the file's owner (PGN Mentor collections), a list of names,
or everyone with enough games among those the filters keep (ratings, speeds, rated only). A run
killed part-way resumes at its last finished shard; a new month's dump is appended.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import re
import shutil
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

import chess
import numpy as np

from ..core.errors import PlayasError
from ..core.progress import Progress
from . import encoding as enc
from .dataset import BOOK_PLIES, FORMAT_VERSION, GAME_DTYPE, ROW_ARRAYS, SHARD_GAMES, SPLITS, RESULTS, UNKNOWN_RESULT
from .pgn import NamePattern, check_pgn, header_names, iter_game_texts, mainline, owner_from_filename, read_tags


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
        if not self.patterns:  # exact names only: no cache, which would grow with every name in a dump
            return -1, 0
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


def _time_control(tc: str | None) -> tuple[int, int]:
    """``"180+2"`` -> (180, 2); (-1, -1) when absent or not a clock (``-``, daily ``1/86400``)."""
    m = re.fullmatch(r"(\d+)(?:\+(\d+))?", (tc or "").strip())
    return (int(m.group(1)), int(m.group(2) or 0)) if m else (-1, -1)


#: Lichess's speed categories by estimated duration (base + 40 x increment, in seconds).
SPEEDS = (("ultrabullet", 30), ("bullet", 180), ("blitz", 480), ("rapid", 1500), ("classical", 1 << 30))


def speed(base: int, increment: int) -> str:
    """A time control's Lichess category: ultrabullet, bullet, blitz, rapid, classical or
    correspondence (no clock)."""
    if base < 0:
        return "correspondence"
    estimate = base + 40 * increment
    return next(name for name, below in SPEEDS if estimate < below)


@dataclass
class GameFilter:
    """Which games to keep, by headers: both ratings within a band, time-control categories
    (:func:`speed`), rated only (a game is rated unless its Event says casual, as Lichess writes)."""

    min_rating: int | None = None
    max_rating: int | None = None
    speeds: tuple[str, ...] = ()
    rated_only: bool = False

    def reason(self, tags: dict) -> str | None:
        """Why a game is filtered out, or None to keep it."""
        if self.min_rating is not None or self.max_rating is not None:
            elos = (_elo(tags.get("WhiteElo")), _elo(tags.get("BlackElo")))
            if min(elos) == 0 or (self.min_rating is not None and min(elos) < self.min_rating) \
                    or (self.max_rating is not None and max(elos) > self.max_rating):
                return "filtered: rating"
        if self.speeds and speed(*_time_control(tags.get("TimeControl"))) not in self.speeds:
            return "filtered: time control"
        if self.rated_only and "casual" in tags.get("Event", "").lower():
            return "filtered: casual"
        return None

    def to_dict(self) -> dict:
        return {"min_rating": self.min_rating, "max_rating": self.max_rating, "speeds": list(self.speeds),
                "rated_only": self.rated_only}


def encode_game(text: str, matcher: Matcher, plies: int | None = None,
                keep: GameFilter | None = None) -> tuple[dict, dict]:
    """Parse one game and encode every position (or the first ``plies``); raises _Skip(reason)
    for a game to skip.

    Each move is read with python-chess (``Board.parse_san`` and ``push``); the board's state is
    kept as integers and the rows are made from them at once with numpy
    (:func:`~playas.chess.encoding.encode_snapshots`). Legal moves are not stored: a dataset
    computes them for the rows that need them (:meth:`~playas.chess.dataset.ChessData.legal_mask`).
    """
    truncated = text.endswith("*TRUNCATED*")
    h, movetext = read_tags(text)
    white_name, black_name = h.get("White", "?"), h.get("Black", "?")
    white, ws = matcher.match(white_name)
    black, bs = matcher.match(black_name)
    if min(ws, bs) < 1 <= max(ws, bs):  # a spelling-alike opponent of an exact match is not the player
        white, ws = (white, ws) if ws >= 1 else (-1, 0)
        black, bs = (black, bs) if bs >= 1 else (-1, 0)
    if white < 0 and black < 0:
        raise _Skip("no tracked player")
    if truncated:
        raise _Skip("truncated file")
    if keep is not None and (why := keep.reason(h)):
        raise _Skip(why)
    if h.get("Variant", "Standard").lower() not in ("standard", "chess", "normal", "from position"):
        raise _Skip("not standard chess")
    try:
        board = chess.Board(h["FEN"]) if "FEN" in h else chess.Board()
    except ValueError:
        raise _Skip("bad FEN header") from None
    board.castling_rights = board.clean_castling_rights()
    setup = "FEN" in h and not (board.board_fen() == chess.STARTING_BOARD_FEN and board.turn == chess.WHITE
                                and board.castling_rights == chess.BB_CORNERS)
    start_ep = -1 if board.ep_square is None else board.ep_square
    sans, clocks = mainline(movetext)
    n = len(sans) if plies is None else min(plies, len(sans))
    if not n:
        raise _Skip("no moves")
    snaps, moves, uci = [], [], []
    repeated = np.zeros(n, bool)
    seen: set = set()
    snapshot, parse_san, push = enc.snapshot, board.parse_san, board.push
    for i, san in enumerate(sans):
        try:
            m = parse_san(san)
        except ValueError:
            raise _Skip("illegal or unreadable move") from None
        if not m:
            raise _Skip("illegal or unreadable move")  # a null move
        if i < n:
            s = snapshot(board)
            key = s[:11]  # lc0's notion of "the same position"
            if key in seen:
                repeated[i] = True
            seen.add(key)
            snaps.append(s)
            moves.append((m.from_square, m.to_square, m.promotion))
        uci.append(m.uci())  # the whole game names it, however much is encoded
        push(m)
    rows = enc.encode_snapshots(snaps, repeated, BOOK_PLIES)
    rows = {"codes": enc.pack_codes(rows.pop("codes")), **rows, "move": enc.move_indices(snaps, moves),
            "clock": np.array(clocks[:n], np.float32)}
    result = RESULTS.get(h.get("Result", "*"), UNKNOWN_RESULT)
    year = _year(h.get("Date", ""))
    ident = f"{_surname(white_name)}|{_surname(black_name)}|{year}|{result}|{h.get('FEN', '')}|{' '.join(uci)}"
    key = int.from_bytes(hashlib.blake2b(ident.encode(), digest_size=8).digest(), "little", signed=True)
    base, increment = _time_control(h.get("TimeControl"))
    meta = {"key": key, "white": white, "black": black, "white_score": ws, "black_score": bs,
            "result": result, "white_elo": _elo(h.get("WhiteElo")), "black_elo": _elo(h.get("BlackElo")),
            "year": year, "length": n, "setup": int(setup), "start_ep": start_ep,
            "base": base, "increment": increment, "rated": int("casual" not in h.get("Event", "").lower()),
            "headers": {**{k: h.get(k, "?") for k in HEADERS[:5]}, **{k: h[k] for k in HEADERS[5:] if k in h}}}
    return rows, meta


HEADERS = ("White", "Black", "Date", "Event", "Result", "Site", "TimeControl", "WhiteElo", "BlackElo")  # kept per game


def _encode_chunk(args) -> tuple[list, Counter, int]:
    texts, matcher, plies, keep = args
    out, skipped, encoded = [], Counter(), 0
    for text in texts:
        try:
            rows, meta = encode_game(text, matcher, plies, keep)
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

def _count_names(paths, keep: GameFilter | None) -> Counter:
    """Games per header name among the games ``keep`` lets through (a pass over headers only)."""
    counts: Counter = Counter()
    for p in paths:
        for text in _readable_games(p):
            tags = read_tags(text[:4000])[0]  # the headers alone
            if keep is None or keep.reason(tags) is None:
                counts[tags.get("White", "?")] += 1
                counts[tags.get("Black", "?")] += 1
    return counts


def _readable_games(path):
    """The games of ``path`` up to any damage, which the encoding pass reports."""
    try:
        yield from iter_game_texts(path)
    except PlayasError:
        return


def _tracked_ids(matcher: Matcher, text: str) -> set[int]:
    """The ids of the tracked players among a game's two header names."""
    return {matcher.match(n)[0] for n in header_names(text)} - {-1}


def _count_players(paths, matchers) -> Counter:
    """Games per tracked player id, from headers only (for --max-games-per-player)."""
    counts: Counter = Counter()
    for p, m in zip(paths, matchers):
        for text in _readable_games(p):
            counts.update(_tracked_ids(m, text))
    return counts


def _movetext_fraction(text: str) -> float:
    """A stable number in [0, 1) from a game's moves, the same whichever file holds the game."""
    body = text[text.rfind("]") + 1:].split()
    return int.from_bytes(hashlib.blake2b(" ".join(body).encode(), digest_size=8).digest(), "little") / 2**64


def _split_of(key: int, seed: int, fractions) -> int:
    u = int.from_bytes(hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest(), "little") / 2**64
    return 0 if u < fractions[0] else 1 if u < fractions[0] + fractions[1] else 2


def owner_games(path, split: str, fractions, seed: int = 0):
    """The games of one player's collection (the owner named by the file, as ``--owner-from-filename``
    reads it) that :func:`prepare` with these split ``fractions`` and ``seed`` puts in ``split``:
    (game text, the owner's colour) pairs. Benchmarks read the games a model never learned from
    this way, without the prepared dataset at hand."""
    matcher = Matcher([(0, owner_from_filename(path))], {})
    want = SPLITS.index(split)
    for text in _readable_games(path):
        try:
            _, meta = encode_game(text, matcher, plies=1)
        except _Skip:
            continue
        if _split_of(meta["key"], seed, fractions) == want:
            yield text, chess.WHITE if meta["white"] == 0 else chess.BLACK


def prepare(paths, out, *, owner_from_filename_: bool = False, players: list[str] | None = None,
            min_games: int | None = None, seed: int = 0, split=(0.8, 0.1, 0.1),
            workers: int | None = None, chunk_games: int = 200,
            max_games_per_player: int | None = None, plies: int | None = None,
            keep: GameFilter | None = None, shard_games: int = SHARD_GAMES, append: bool = False) -> dict:
    """Parse PGN files (plain, .gz or .zst, streamed) into an encoded dataset in folder ``out``;
    returns the manifest.

    Exactly one way of choosing whose moves count must be given: the file name is the player
    (``owner_from_filename_``), a list of names (``players``), or every name with at least
    ``min_games`` games among the games ``keep`` lets through (ratings, time controls, rated).
    ``max_games_per_player`` keeps a uniform random sample of about that many games of each
    player (over their whole career, not the first ones in the file). ``plies`` encodes only the
    first plies of each game (a query of styles that learned openings).

    The output is shards of ``shard_games`` games. A finished shard is never rewritten (unless a
    duplicate game merges into it), so a killed run resumes where its last shard ended when run
    again, and ``append`` adds new inputs (next month's dump) to a finished dataset. Memory stays
    flat however large the input: the game texts in flight, one shard's game table and, with
    ``min_games``, a count per distinct name.
    """
    paths = [Path(p) for p in paths]
    _check_arguments(paths, owner_from_filename_, players, min_games, split)
    out = Path(out)
    t0 = time.monotonic()
    options = {"owner": "filename" if owner_from_filename_ else "players" if players else f"min-games {min_games}",
               "seed": seed, "split": dict(zip(SPLITS, split)), "max_games_per_player": max_games_per_player,
               "plies": plies, "filter": (keep or GameFilter()).to_dict(), "shard_games": shard_games}
    old = _existing(out, paths, options, append)
    inputs = old["inputs"] if old else []
    known = {i["hash"] for i in inputs if i["done"]}
    new_inputs = [{"path": str(p), "hash": _inputs_hash([p]), "games_read": 0, "done": False}
                  for p in paths if not any(i["path"] == str(p) and not i["done"] for i in inputs)]
    for i in new_inputs:
        if i["hash"] in known:
            raise PlayasError(f"{i['path']} is already in {out}; a dataset takes each input once")
    inputs = inputs + new_inputs
    todo = [i for i in inputs if not i["done"]]
    owners = _choose_owners([Path(i["path"]) for i in todo], owner_from_filename_, players, min_games, keep,
                            old["players"] if old else [], resuming=bool(old) and not old["complete"])
    sampled = _game_sampler([Path(i["path"]) for i in todo], owners.matchers, max_games_per_player)
    out.mkdir(parents=True, exist_ok=True)
    with _ShardWriter(out, old, options, owners.names, inputs, dedup=owner_from_filename_) as writer:
        chunks = _chunks(todo, sampled, chunk_games, writer)
        _encode(chunks, owners, workers or os.cpu_count() or 1, writer, plies, keep)
        manifest = writer.finish(round(time.monotonic() - t0 + (old or {}).get("seconds", 0), 1))
    return manifest


def _check_arguments(paths: list[Path], owner_from_filename_, players, min_games, split) -> None:
    """Refuse, in one sentence, a call that cannot make a dataset, before any work is done."""
    if sum([bool(owner_from_filename_), bool(players), min_games is not None]) != 1:
        raise PlayasError("choose whose moves to keep with exactly one of --owner-from-filename, "
                          "--players or --min-games")
    if not paths:
        raise PlayasError("no PGN files given")
    for p in paths:
        check_pgn(p)
    if abs(sum(split) - 1) > 1e-6 or min(split) < 0:
        raise PlayasError(f"split fractions {split} must be non-negative and sum to 1")


def _existing(out: Path, paths: list[Path], options: dict, append: bool) -> dict | None:
    """The manifest already in ``out`` to resume or append to, or None for a new dataset.

    A finished dataset is only added to with ``append``; an unfinished one (a killed run) is
    resumed by the same command. Either way the options must be the ones it was made with.
    """
    mf = out / "manifest.json"
    if not mf.exists():
        return None
    old = json.loads(mf.read_text())
    if old.get("format") != "playas-chess-dataset" or old.get("version") != FORMAT_VERSION:
        raise PlayasError(f"{out} holds something other than a dataset of this playas; choose another --out")
    if old["complete"] and not append:
        raise PlayasError(f"{out} already holds a dataset; choose another --out, remove it, or add to it "
                          "with --append")
    if not old["complete"] and [i["path"] for i in old["inputs"] if not i["done"]] != \
            [str(p) for p in paths if str(p) not in {i["path"] for i in old["inputs"] if i["done"]}]:
        raise PlayasError(f"{out} holds an unfinished run of other inputs; run that command again to resume, "
                          "or choose another --out")
    for k, v in options.items():
        if old["options"][k] != v:
            raise PlayasError(f"{out} was made with {k} {old['options'][k]!r}, not {v!r}; give the same options "
                              "to resume or append")
    if not old["complete"]:
        print(f"resuming the unfinished run in {out}: {len(old['shards'])} shards done", flush=True)
    return old


# --- whose moves count -------------------------------------------------------------------

@dataclass
class _Owners:
    """The tracked players (an id is the index in ``names``) and how to find them in headers.

    ``matchers`` has one matcher per input file: with owners from file names, a file's games
    count only for its owner.
    """

    names: list[str]
    matchers: list[Matcher]


def _choose_owners(paths, owner_from_filename_, players, min_games, keep, old_names: list[str],
                   resuming: bool) -> _Owners:
    """Whose moves count, by the one way the caller chose (``_check_arguments`` made sure).

    Players of an earlier run keep their ids; new inputs add players after them. A resumed run
    takes the players its first part chose, without counting again.
    """
    if owner_from_filename_:
        new = [owner_from_filename(p).label for p in paths]
        names = old_names + [n for n in new if n not in old_names]
        if len(set(new)) != len(new):
            raise PlayasError("two files name the same player; --owner-from-filename needs one file per player")
        return _Owners(names, [Matcher([(names.index(owner_from_filename(p).label), owner_from_filename(p))], {})
                               for p in paths])
    if players:
        names = old_names + [n for n in players if n not in old_names]
        anyone = Matcher([(i, NamePattern(n)) for i, n in enumerate(names)], {})
        return _Owners(names, [anyone] * len(paths))
    if resuming:
        names = old_names
    else:
        counts = _count_names(paths, keep)
        chosen = sorted(n for n, c in counts.items() if c >= min_games and n.strip() not in ("", "?", "NN"))
        names = old_names + [n for n in chosen if n not in set(old_names)]
        if not names:
            raise PlayasError(f"no player has {min_games} or more games in these files")
    anyone = Matcher([], {n: i for i, n in enumerate(names)})
    return _Owners(names, [anyone] * len(paths))


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

def _chunks(todo: list[dict], sampled, chunk_games: int, writer: _ShardWriter):
    """Yield ``(file index, texts read, game texts)``: the sampled games of each input still to
    do, ``chunk_games`` at a time, after the games an interrupted run already took.

    A damaged file (a cut or corrupt stream) ends early: its reason goes to the writer and the
    games read before it are kept.
    """
    for fi, inp in enumerate(todo):
        buf, read, skip = [], 0, inp["games_read"]
        try:
            for text in iter_game_texts(inp["path"]):
                if skip:
                    skip -= 1
                    continue
                read += 1
                if not sampled(fi, text):
                    continue
                buf.append(text)
                if len(buf) >= chunk_games:
                    yield fi, read, buf
                    buf, read = [], 0
        except PlayasError as e:
            writer.damaged.append(str(e))
        yield fi, read, buf  # also an empty one: it tells the writer the input is done
        writer.input_done(fi)


def _encode(chunks, owners: _Owners, workers: int, writer: _ShardWriter, plies: int | None,
            keep: GameFilter | None) -> None:
    """Encode the chunks, in this process or ``workers`` forked ones, with a progress line.

    Results reach the writer in input order either way, so the dataset does not depend on
    the number of workers.
    """
    with Progress(None, "prepare", unit="plies") as bar:
        def take(fi: int, read: int, result: tuple) -> None:
            writer.consume(fi, read, result)
            bar.update(result[2], games=writer.games_total)

        if workers == 1:
            for fi, read, buf in chunks:
                take(fi, read, _encode_chunk((buf, owners.matchers[fi], plies, keep)))
        else:
            _encode_in_pool(chunks, owners, workers, take, plies, keep)


def _encode_in_pool(chunks, owners: _Owners, workers: int, take, plies, keep) -> None:
    """``_encode_chunk`` on a pool of forked processes, results handed to ``take`` in order.

    At most ``2 * workers`` chunks wait at a time, so memory stays flat however large the input.
    """
    with mp.get_context("fork").Pool(workers) as pool:
        pending = deque()
        for fi, read, buf in chunks:
            job = (buf, owners.matchers[fi], plies, keep)
            pending.append((fi, read, pool.apply_async(_encode_chunk, (job,))))
            while len(pending) > 2 * workers:
                f, n, r = pending.popleft()
                take(f, n, r.get())
        for f, n, r in pending:
            take(f, n, r.get())


class _ShardWriter:
    """Writes a dataset shard by shard and keeps its manifest; tallies the run.

    The row arrays (``*.bin``) and ``games.jsonl`` of the open shard are written as games come;
    its game table is saved when the shard is full, and then the manifest records the shard and
    how far each input has been read: what a resumed run starts from. A game met again (the same
    game from another player's file, with owners from file names) is merged, not written twice.
    """

    def __init__(self, out: Path, old: dict | None, options: dict, names: list[str], inputs: list[dict],
                 dedup: bool):
        self.out, self.options, self.names, self.inputs = out, options, names, inputs
        self.todo = [i for i in inputs if not i["done"]]
        self.split = list(options["split"].values())
        self.shards: list[dict] = list(old["shards"]) if old else []
        self.skipped: Counter = Counter((old or {}).get("skipped", {}))
        self.damaged: list[str] = list((old or {}).get("damaged_files", []))
        self.duplicates = (old or {}).get("duplicates_merged", 0)
        self.parsed = (old or {}).get("plies_parsed", 0)
        self.dedup = dedup
        self.tables: dict[int, list] = {}  # shard -> its game rows, kept while they may still change
        self.index_of_key: dict[int, tuple[int, int]] = {}
        # games per player and split, and target moves, of the finished shards: kept up to date
        # here rather than counted again from every shard each time the manifest is written
        self.per_player = np.zeros((len(names), len(SPLITS)), np.int64)
        self.targets = 0
        for si, sh in enumerate(self.shards):
            table = np.load(out / sh["name"] / "games.npy")
            self._tally(table)
            if dedup:
                self.tables[si] = table.tolist()
                self.index_of_key.update({row[GAME_DTYPE.names.index("key")]: (si, gi)
                                          for gi, row in enumerate(self.tables[si])})
        self.dirty: set[int] = set()
        self.files = None
        self._open()

    def __enter__(self) -> _ShardWriter:
        return self

    def _tally(self, table: np.ndarray, sign: int = 1) -> None:
        """Count (or, with ``sign`` -1, uncount) the games of ``table`` in the totals."""
        for side in ("white", "black"):
            mine = table[side] >= 0
            np.add.at(self.per_player, (table[side][mine], table["split"][mine]), sign)
        self.targets += sign * _target_count(table)

    def __exit__(self, *exc) -> None:
        self._close_files()

    @property
    def games_total(self) -> int:
        return sum(sh["games"] for sh in self.shards) + len(self.games)

    def _open(self) -> None:
        """Start the next shard (an unfinished one of a killed run is started again)."""
        self.si = len(self.shards)
        self.dir = self.out / f"shard-{self.si:05d}"
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir()
        self.files = {k: open(self.dir / f"{k}.bin", "wb") for k in ROW_ARRAYS}
        self.headers = open(self.dir / "games.jsonl", "w", encoding="utf-8")
        self.games = self.tables.setdefault(self.si, []) if self.dedup else []
        self.rows_written = 0

    def _close_files(self) -> None:
        if self.files:
            for f in self.files.values():
                f.close()
            self.headers.close()
            self.files = None

    def consume(self, fi: int, read: int, result: tuple) -> None:
        """Take one ``_encode_chunk`` result: ``read`` texts of input ``fi`` (to do) made it."""
        encoded, skip, plies = result
        self.skipped.update(skip)
        self.parsed += plies
        for rows, meta in encoded:
            if meta["key"] in self.index_of_key:
                self.duplicates += 1
                self._merge(*self.index_of_key[meta["key"]], meta)
            else:
                self._append(fi, rows, meta)
        self.todo[fi]["games_read"] += read
        if len(self.games) >= self.options["shard_games"]:
            self._end_shard()
            self._open()

    def input_done(self, fi: int) -> None:
        self.todo[fi]["done"] = True

    def _merge(self, si: int, gi: int, meta: dict) -> None:
        """Game ``gi`` of shard ``si`` seen again: each side takes the better-matched tracked player.

        A match game sits in both players' files; each file's reader knows only its owner, so
        the copies together say who both sides are.
        """
        g = list(self.tables[si][gi])
        for side in ("white", "black"):
            col, score = GAME_DTYPE.names.index(side), GAME_DTYPE.names.index(side + "_score")
            if meta[side + "_score"] > g[score]:
                g[col], g[score] = meta[side], meta[side + "_score"]
        if si != self.si:  # a finished shard's game: its counts change with it
            self._tally(np.array([self.tables[si][gi]], dtype=GAME_DTYPE), -1)
            self._tally(np.array([tuple(g)], dtype=GAME_DTYPE))
        self.tables[si][gi] = tuple(g)
        self.dirty.add(si)

    def _append(self, fi: int, rows: dict, meta: dict) -> None:
        """Write a new game's rows and headers, and add its game-table row."""
        key, n, gi = meta["key"], meta["length"], len(self.games)
        if self.dedup:
            self.index_of_key[key] = (self.si, gi)
        rows["game"] = np.full(n, gi, np.int32)
        for k in ROW_ARRAYS:
            self.files[k].write(np.ascontiguousarray(rows[k], dtype=ROW_ARRAYS[k][0]).tobytes())
        file_index = self.inputs.index(self.todo[fi])
        self.games.append((self.rows_written, n, meta["white"], meta["black"], meta["result"],
                           meta["white_elo"], meta["black_elo"], meta["year"],
                           _split_of(key, self.options["seed"], self.split), file_index, meta["setup"],
                           meta["start_ep"], meta["base"], meta["increment"], meta["rated"], key,
                           meta["white_score"], meta["black_score"]))
        self.headers.write(json.dumps(meta["headers"], ensure_ascii=False) + "\n")
        self.rows_written += n

    def _end_shard(self) -> None:
        """Save the open shard's game table, then the manifest that counts it (in that order: a
        kill in between leaves a shard the manifest does not name, which a resume rewrites)."""
        self._close_files()
        table = np.array(self.games, dtype=GAME_DTYPE)
        np.save(self.dir / "games.npy", table)
        self._tally(table)
        for si in self.dirty - {self.si}:
            np.save(self.out / self.shards[si]["name"] / "games.npy", np.array(self.tables[si], dtype=GAME_DTYPE))
        self.dirty.clear()
        self.shards.append({"name": self.dir.name, "games": len(self.games), "positions": self.rows_written})
        self._write_manifest(complete=False)

    def finish(self, seconds: float) -> dict:
        """End the last shard (unless empty), count what the dataset holds, mark it complete."""
        if self.games or not self.shards:
            self._end_shard()
        else:
            self._close_files()
            shutil.rmtree(self.dir)
            for si in self.dirty:
                np.save(self.out / self.shards[si]["name"] / "games.npy",
                        np.array(self.tables[si], dtype=GAME_DTYPE))
        return self._write_manifest(complete=True, seconds=seconds)

    def _write_manifest(self, complete: bool, seconds: float = 0.0) -> dict:
        per_player, targets = self.per_player, self.targets
        m = {
            "format": "playas-chess-dataset", "version": FORMAT_VERSION, "complete": complete,
            "options": self.options, "inputs": self.inputs, "input_hash": _hash_of(self.inputs),
            "owner": self.options["owner"], "players": self.names,
            "games_per_player": {n: dict(zip(SPLITS, map(int, c))) for n, c in zip(self.names, per_player)},
            "shards": self.shards, "games": sum(s["games"] for s in self.shards),
            "positions": sum(s["positions"] for s in self.shards), "plies_parsed": self.parsed,
            "targets": int(targets), "split": self.options["split"], "seed": self.options["seed"],
            "max_games_per_player": self.options["max_games_per_player"],
            "duplicates_merged": self.duplicates, "skipped": dict(self.skipped),
            "skipped_total": sum(v for k, v in self.skipped.items()
                                 if k != "no tracked player" and not k.startswith("filtered")),
            "filtered": sum(v for k, v in self.skipped.items() if k.startswith("filtered")),
            "damaged_files": self.damaged, "seconds": seconds,
        }
        tmp = self.out / "manifest.json.tmp"
        tmp.write_text(json.dumps(m, indent=1) + "\n")
        os.replace(tmp, self.out / "manifest.json")
        return m


# --- manifest ----------------------------------------------------------------------------

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


def _hash_of(inputs: list[dict]) -> str:
    """One hash for all of a dataset's inputs."""
    return hashlib.sha256("".join(i["hash"] for i in inputs).encode()).hexdigest()


def _target_count(table: np.ndarray) -> int:
    return int(np.where(table["white"] >= 0, (table["length"] + 1) // 2, 0).sum()
               + np.where(table["black"] >= 0, table["length"] // 2, 0).sum())
