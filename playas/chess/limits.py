"""How long a move may take: the clock, a fixed time, or a number of nodes (UCI's ``go`` terms).

The UCI engine fills a :class:`Limits` from ``go``; the Lichess bot from a game's clock. The
move interface (:mod:`playas.chess.engine`) reads its ``nodes`` and ``searchmoves``; the
protocols turn :meth:`Limits.budget` into a deadline, since only they know when the clock runs
(UCI's ``ponderhit``, the moment Lichess sent the position). :data:`BOOK_PLIES` bounds the
other limit a protocol offers: how deep a style's own games (its repertoire) may decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import chess

from .encoding import BOOK_PLIES  # noqa: F401  (re-exported: the bots' BookDepth/book_depth range)


@dataclass
class Limits:
    """The parameters of one move; times in milliseconds, as UCI and Lichess send them."""

    wtime: int | None = None
    btime: int | None = None
    winc: int | None = None
    binc: int | None = None
    movestogo: int | None = None
    movetime: int | None = None
    nodes: int | None = None
    depth: int | None = None
    mate: int | None = None
    infinite: bool = False
    ponder: bool = False
    searchmoves: list[chess.Move] = field(default_factory=list)

    def budget(self, white: bool, overhead_ms: int, think: float | None = None) -> float | None:
        """Seconds this move may take: ``movetime``; else with a clock the seconds a person would
        ``think`` (:mod:`playas.chess.thinktime`), or without them a slice of the clock; None without
        a clock. Whatever asks, the move never takes more than :meth:`safe` allows."""
        if self.movetime is not None:
            return max(self.movetime - overhead_ms, 0) / 1000
        cap = self.safe(white, overhead_ms)
        if cap is None:
            return None
        if think is not None:
            return min(max(think - overhead_ms / 1000, 0), cap)
        left = self.wtime if white else self.btime
        inc = (self.winc if white else self.binc) or 0
        moves = max(self.movestogo or 30, 1)
        return min(max((left / moves + 0.75 * inc - overhead_ms) / 1000, 0), cap)

    def safe(self, white: bool, overhead_ms: int) -> float | None:
        """The most seconds a move may take on this clock: a quarter of what is left plus most of
        the increment (a twentieth without increment, which nothing refills), never more than half
        of what is left, less the move overhead (None without a clock). Spending this on every
        move still leaves time for the rest of the game."""
        left = self.wtime if white else self.btime
        if left is None:
            return None
        inc = (self.winc if white else self.binc) or 0
        moves = max(self.movestogo or (4 if inc > 0 else 20), 1)  # with moves to go, a share of them
        return max(min(left / moves + 0.75 * inc, left / 2) - overhead_ms, 0) / 1000

    def clocks(self, white: bool) -> tuple[float, float, float] | None:
        """The mover's and the opponent's clocks and the mover's increment, in seconds (None without a clock)."""
        own, other = (self.wtime, self.btime) if white else (self.btime, self.wtime)
        if own is None:
            return None
        inc = (self.winc if white else self.binc) or 0
        return own / 1000, (other if other is not None else own) / 1000, inc / 1000


class ClockLog:
    """One game's clocks as a protocol sees them at each of its moves, and the think times they
    imply: its own last move's and the opponent's (a GUI and Lichess send clocks, not times).

    ``base`` is the game's initial clock: the larger clock at the first sight of the game.
    """

    def __init__(self):
        self.base: float | None = None
        self.last: tuple[int, float, float] | None = None  # ply, own clock, opponent's clock

    def see(self, ply: int, own: float, other: float, inc: float, other_inc: float | None = None
            ) -> tuple[float, float | None, float | None]:
        """Record the clocks (seconds) at our move at ``ply``; the base, our last think and theirs."""
        if self.last is not None and ply <= self.last[0]:  # a new game, or a takeback: start again
            self.base = self.last = None
        if self.base is None:
            self.base = max(own, other)
        own_spent = other_spent = None
        if self.last is not None and ply == self.last[0] + 2:
            _, was_own, was_other = self.last
            own_spent = max(was_own + inc - own, 0.0)
            other_spent = max(was_other + (inc if other_inc is None else other_inc) - other, 0.0)
        self.last = (ply, own, other)
        return self.base, own_spent, other_spent
