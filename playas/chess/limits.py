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

    def budget(self, white: bool, overhead_ms: int) -> float | None:
        """Seconds this move may take: ``movetime``, else a slice of the clock; None without either."""
        if self.movetime is not None:
            return max(self.movetime - overhead_ms, 0) / 1000
        left = self.wtime if white else self.btime
        if left is None:
            return None
        inc = (self.winc if white else self.binc) or 0
        moves = max(self.movestogo or 30, 1)
        slice_ = min(left / moves + 0.75 * inc, left / 2)  # never more than half of what is left
        return max(slice_ - overhead_ms, 0) / 1000
