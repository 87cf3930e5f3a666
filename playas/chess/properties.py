"""Style properties measured from games: what a player tends to do, as numbers.

Each property is a per-game number for one side, averaged over a player's games. The same
function measures a player's real games and a styled model's self-play games, so steering can
be checked on the property itself.
"""

from __future__ import annotations

from typing import Iterable

import chess
import numpy as np

PROPERTIES = {
    "capture_rate": "share of the player's moves that capture",
    "check_rate": "share of the player's moves that give check",
    "early_queen": "share of the player's first 10 moves made with the queen",
    "castle_kingside": "share of games in which the player castles kingside",
    "castle_queenside": "share of games in which the player castles queenside",
    "pawn_storm": "share of moves from move 10 on that push a pawn at the opponent king's wing",
    "game_length": "moves (plies) per game",
    "draw_rate": "share of games drawn",
}


def game_properties(board: chess.Board, moves: Iterable[chess.Move], color: chess.Color,
                    result: int | None) -> dict[str, float]:
    """Properties of one game for the side ``color``; ``result`` 1/0/-1 from White's view or None."""
    board = board.copy(stack=False)
    own = captures = checks = queen_early = storm = storm_moves = 0
    castled_k = castled_q = 0
    plies = 0
    for move in moves:
        plies += 1
        if board.turn == color:
            own += 1
            piece = board.piece_type_at(move.from_square)
            captures += board.is_capture(move)
            checks += board.gives_check(move)
            if own <= 10 and piece == chess.QUEEN:
                queen_early += 1
            if board.is_castling(move):
                castled_k += board.is_kingside_castling(move)
                castled_q += board.is_queenside_castling(move)
            if own > 10:
                storm_moves += 1
                king = board.king(not color)
                if piece == chess.PAWN and king is not None and \
                        abs(chess.square_file(move.from_square) - chess.square_file(king)) <= 1:
                    storm += 1
        board.push(move)
    return {
        "capture_rate": captures / max(own, 1), "check_rate": checks / max(own, 1),
        "early_queen": queen_early / max(min(own, 10), 1),
        "castle_kingside": float(castled_k > 0), "castle_queenside": float(castled_q > 0),
        "pawn_storm": storm / max(storm_moves, 1), "game_length": float(plies),
        "draw_rate": float(result == 0) if result is not None else float("nan"),
    }


def mean_properties(per_game: list[dict]) -> dict[str, float]:
    if not per_game:
        return {k: float("nan") for k in PROPERTIES}
    return {k: float(np.nanmean([g[k] for g in per_game])) if not all(np.isnan(g[k]) for g in per_game)
            else float("nan") for k in PROPERTIES}


def dataset_properties(data, games_per_player: int = 100, split: str | None = None, seed: int = 0) -> dict:
    """Mean properties per tracked player of a prepared dataset, from a sample of their games."""
    from .dataset import SPLITS, UNKNOWN_RESULT
    from .encoding import index_to_move

    g = data.games
    rng = np.random.default_rng(seed)
    out = {}
    for pid, name in enumerate(data.players):
        mine = (g["white"] == pid) | (g["black"] == pid)
        if split is not None:
            mine &= g["split"] == SPLITS.index(split)
        chosen = rng.permutation(np.flatnonzero(mine))[:games_per_player]
        per_game = []
        for gi in chosen:
            row = g[gi]
            if row["setup"]:
                continue  # set-up positions: the FEN is not kept; properties need the start
            board = chess.Board()
            moves = []
            for r in range(row["first"], row["first"] + row["length"]):
                m = index_to_move(board, int(data.rows["move"][r]))
                moves.append(m)
                board.push(m)
            color = chess.WHITE if row["white"] == pid else chess.BLACK
            result = None if row["result"] == UNKNOWN_RESULT else int(row["result"])
            per_game.append(game_properties(chess.Board(), moves, color, result))
        out[name] = {"games": len(per_game), **mean_properties(per_game)}
    return out

