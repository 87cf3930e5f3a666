"""Games between styles, or between a style and a UCI engine, written as PGN."""

from __future__ import annotations

import datetime
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import chess
import chess.engine
import chess.pgn
import numpy as np

from ..core.errors import PlayasError
from . import TEMP_CUTOFF_MOVE, TEMP_ENDGAME, TEMPERATURE, TOP_P
from .engine import Engine
from .policy import Policy


@dataclass
class StylePlayer:
    """A move chooser: a policy as its style, at ``temperature`` (0: the most likely move), through
    the move interface (:class:`playas.chess.engine.Engine`) as every bot."""

    policy: Policy
    temperature: float = TEMPERATURE
    name: str = "playas"
    top_p: float = TOP_P
    temp_cutoff_move: int = TEMP_CUTOFF_MOVE
    temp_endgame: float = TEMP_ENDGAME

    def __post_init__(self):
        self.engine = Engine(self.policy, self.temperature, book_depth=self.policy.book_depth, top_p=self.top_p,
                             temp_cutoff_move=self.temp_cutoff_move, temp_endgame=self.temp_endgame)

    @property
    def pgn_name(self) -> str:
        """The name a PGN gives this side: a model of the person's play, not the person."""
        return f"{self.name} (playas model)"

    def move(self, board: chess.Board, rng: np.random.Generator) -> chess.Move:
        return self.engine.search(board, style=self.policy.style, steer=self.policy.steer, rng=rng).move


@dataclass
class EnginePlayer:
    engine: chess.engine.SimpleEngine
    limit: chess.engine.Limit
    name: str = "engine"

    @property
    def pgn_name(self) -> str:
        return self.name

    def move(self, board: chess.Board, rng) -> chess.Move:
        return self.engine.play(board, self.limit).move


# Where distributions put chess programs that may not be on PATH (Debian's games are not on root's)
ENGINE_DIRS = ("/usr/games", "/usr/local/games", "/usr/local/bin", "/opt/homebrew/bin")


def find_engine(name: str) -> str:
    """The path of the program ``name`` (``stockfish``, or a path): on PATH, else in ENGINE_DIRS.

    Raises PlayasError saying how to install it or point at it when it is nowhere.
    """
    if Path(name).is_file():
        return str(Path(name).absolute())  # as given: popen would look a bare name up on PATH instead
    if os.sep in name:
        raise PlayasError(f"UCI engine {name} does not exist; pass --engine PATH of an installed engine")
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(ENGINE_DIRS))
    if not found:
        raise PlayasError(f"UCI engine {name!r} is not on PATH or in {', '.join(ENGINE_DIRS)}; install it "
                          f"(apt-get install {name}) or pass --engine PATH")
    return found


def open_engine(path: str, options: dict | None = None) -> chess.engine.SimpleEngine:
    """A UCI engine by name or path (see :func:`find_engine`), with ``options`` set."""
    path = find_engine(path)
    try:
        engine = chess.engine.SimpleEngine.popen_uci(path)
    except OSError as e:  # there but cannot run (not executable, wrong architecture)
        raise PlayasError(f"UCI engine {path} cannot be started ({e.strerror or e})") from None
    if options:
        engine.configure(options)
    return engine


def play_game(white, black, rng: np.random.Generator, max_plies: int = 400,
              start: chess.Board | None = None) -> chess.pgn.Game:
    """One game; ends by the rules (draws claimed as players would) or at ``max_plies`` (a draw)."""
    board = start.copy() if start else chess.Board()
    while not board.is_game_over(claim_draw=True) and len(board.move_stack) < max_plies:
        player = white if board.turn == chess.WHITE else black
        board.push(player.move(board, rng))
    outcome = board.outcome(claim_draw=True)
    game = chess.pgn.Game.from_board(board)
    game.headers.update({"Event": "playas games", "Site": "playas", "Date": datetime.date.today().strftime("%Y.%m.%d"),
                         "White": white.pgn_name, "Black": black.pgn_name,
                         "Result": outcome.result() if outcome else "1/2-1/2"})
    # the PGN standard's supplemental tag: every side here is a program (readers show it, Lichess keeps it)
    game.headers.update({"WhiteType": "program", "BlackType": "program"})
    if not outcome:
        game.headers["Termination"] = f"adjudicated draw at {max_plies} plies"
    return game


def play_match(a, b, games: int, seed: int = 0, out=None, max_plies: int = 400, progress=None) -> list:
    """``games`` games, colours alternating, ``a`` White first; appends each game to ``out``."""
    rng = np.random.default_rng(seed)
    played = []
    for i in range(games):
        white, black = (a, b) if i % 2 == 0 else (b, a)
        game = play_game(white, black, rng, max_plies)
        game.headers["Round"] = str(i + 1)
        played.append(game)
        if out is not None:
            print(game, file=out, end="\n\n", flush=True)
        if progress:
            progress.update(1)
    return played
