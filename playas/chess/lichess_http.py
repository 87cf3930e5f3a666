"""What went wrong on the way to Lichess, in a few words, for one-sentence errors.

Both Lichess clients say it the same way: the game fetcher (:mod:`playas.chess.lichess_games`)
and the bot (:mod:`playas.bots.lichess.api`, which may import the chess package, not the other
way round).
"""

from __future__ import annotations

import requests


def network_problem(e: Exception) -> str:
    """``e`` (a requests error, or berserk's ApiError wrapping one) as "timed out", "the connection
    dropped", "no connection", "an unreadable answer", or else its type's name."""
    inner = getattr(e, "error", None) or e
    if isinstance(inner, requests.Timeout):
        return "timed out"
    if isinstance(inner, requests.exceptions.ChunkedEncodingError):
        return "the connection dropped"
    if isinstance(inner, requests.ConnectionError):
        return "no connection"
    if isinstance(inner, ValueError):
        return "an unreadable answer"
    return type(inner).__name__
