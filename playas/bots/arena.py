"""Clocked games between UCI (or xboard) engines, refereed as a tournament manager would.

Each side gets ``base`` seconds plus ``inc`` per move; the wall time of each reply comes off its
clock, and a clock below zero loses the game. An illegal move loses too. Used by the tests and
``bench/uci.py`` to play the engine against Stockfish through python-chess.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import chess
import chess.engine


@dataclass
class Result:
    board: chess.Board
    result: str  # "1-0", "0-1" or "1/2-1/2"
    termination: str  # checkmate, stalemate, ..., time forfeit, illegal move, adjudicated
    loser: chess.Color | None = None
    seconds: dict = field(default_factory=lambda: {chess.WHITE: [], chess.BLACK: []})  # per move
    clock: dict = field(default_factory=dict)  # what each side had left at the end

    def score(self, color: chess.Color) -> float:
        return {"1-0": 1.0, "0-1": 0.0}.get(self.result, 0.5) if color == chess.WHITE else \
            {"1-0": 0.0, "0-1": 1.0}.get(self.result, 0.5)


def play_clocked(white, black, base: float, inc: float = 0.0, max_plies: int = 300,
                 ponder: tuple[bool, bool] = (False, False), start: chess.Board | None = None) -> Result:
    """One game between two python-chess engines (``ponder``: whether White, Black may ponder)."""
    board = start.copy() if start else chess.Board()
    engines = {chess.WHITE: white, chess.BLACK: black}
    may_ponder = {chess.WHITE: ponder[0], chess.BLACK: ponder[1]}
    clock = {chess.WHITE: float(base), chess.BLACK: float(base)}
    seconds = {chess.WHITE: [], chess.BLACK: []}
    for e in engines.values():  # ucinewgame and isready before the clocks start, as GUIs do
        e.ping()
    while True:
        outcome = board.outcome(claim_draw=True)
        if outcome:
            result = Result(board, outcome.result(), outcome.termination.name.lower().replace("_", " "))
            break
        if len(board.move_stack) >= max_plies:
            result = Result(board, "1/2-1/2", "adjudicated")
            break
        side = board.turn
        limit = chess.engine.Limit(white_clock=clock[chess.WHITE], black_clock=clock[chess.BLACK],
                                   white_inc=inc, black_inc=inc)
        t0 = time.monotonic()
        try:
            played = engines[side].play(board, limit, ponder=may_ponder[side])
        except chess.engine.EngineError:  # python-chess refuses an illegal bestmove
            result = Result(board, "0-1" if side == chess.WHITE else "1-0", "illegal move", side)
            break
        spent = time.monotonic() - t0
        seconds[side].append(spent)
        clock[side] -= spent
        if clock[side] < 0:
            result = Result(board, "0-1" if side == chess.WHITE else "1-0", "time forfeit", side)
            break
        clock[side] += inc
        if played.move is None or played.move not in board.legal_moves:
            result = Result(board, "0-1" if side == chess.WHITE else "1-0", "illegal move", side)
            break
        board.push(played.move)
    result.seconds, result.clock = seconds, clock
    return result
