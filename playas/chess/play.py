"""Games between styles, or between a style and a UCI engine, written as PGN."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import chess
import chess.engine
import chess.pgn
import numpy as np

from ..core.errors import PlayasError
from .engine import Engine
from .policy import Policy


@dataclass
class StylePlayer:
    """A move chooser: a policy as its style, at ``temperature`` (0: the most likely move), through
    the move interface (:class:`playas.chess.engine.Engine`) as every bot."""

    policy: Policy
    temperature: float = 1.0
    name: str = "playas"

    def __post_init__(self):
        self.engine = Engine(self.policy, self.temperature, book_depth=self.policy.book_depth)

    def move(self, board: chess.Board, rng: np.random.Generator) -> chess.Move:
        return self.engine.search(board, style=self.policy.style, steer=self.policy.steer, rng=rng).move


@dataclass
class EnginePlayer:
    engine: chess.engine.SimpleEngine
    limit: chess.engine.Limit
    name: str = "engine"

    def move(self, board: chess.Board, rng) -> chess.Move:
        return self.engine.play(board, self.limit).move


def open_engine(path: str, options: dict | None = None) -> chess.engine.SimpleEngine:
    try:
        engine = chess.engine.SimpleEngine.popen_uci(path)
    except FileNotFoundError:
        raise PlayasError(f"UCI engine {path!r} not found; install it (e.g. apt-get install stockfish) "
                          "or pass --engine PATH") from None
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
                         "White": white.name, "Black": black.name,
                         "Result": outcome.result() if outcome else "1/2-1/2"})
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
