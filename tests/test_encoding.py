"""Tests of lc0's classical encoding (playas.chess.encoding), derived from ../shared/LC0_FORMAT.md.

The expected values are rebuilt here from the format's rules by other means than the module uses
(python-chess attack tables for the move list, an explicit per-square reference encoder for the
planes, a full scan of the game for repetitions), plus literal values worked out by hand.
"""

from __future__ import annotations

import random

import chess
import numpy as np
import pytest

from playas.chess import encoding as enc
from playas.chess.encoding import (
    MOVE_INDEX,
    MOVES,
    POLICY_MAP,
    board_planes,
    history,
    index_to_move,
    legal_indices,
    move_to_index,
    pack_codes,
    planes,
    position_codes,
    position_flags,
    unpack_codes,
)

SQ = chess.parse_square


# --- independent references ----------------------------------------------------------------


def _name(square: int) -> str:
    return "abcdefgh"[square % 8] + str(square // 8 + 1)


def _empty_board_targets(square: int) -> list[int]:
    """Queen-line and knight targets of ``square`` on an empty board, from python-chess's tables."""
    b = chess.BaseBoard(None)
    b.set_piece_at(square, chess.Piece(chess.QUEEN, chess.WHITE))
    queen = int(b.attacks_mask(square))
    return sorted(chess.SquareSet(queen | chess.BB_KNIGHT_ATTACKS[square]))


def _reference_moves() -> list[str]:
    regular = [_name(f) + _name(t) for f in range(64) for t in _empty_board_targets(f)]
    promos = []
    for f in range(48, 56):  # a7..h7
        for t in range(56, 64):  # a8..h8, ascending
            if abs(t % 8 - f % 8) <= 1:
                promos += [_name(f) + _name(t) + s for s in "qrb"]
    return regular + promos


_DIRECTION = {(0, 1): 0, (1, 1): 1, (1, 0): 2, (1, -1): 3, (0, -1): 4, (-1, -1): 5, (-1, 0): 6,
              (-1, 1): 7}  # N NE E SE S SW W NW
_KNIGHT = [(1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2)]


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _reference_policy_entry(uci: str) -> int:
    frm, to = SQ(uci[:2]), SQ(uci[2:4])
    df, dr = to % 8 - frm % 8, to // 8 - frm // 8
    if len(uci) == 5:
        plane = 64 + 3 * {-1: 0, 0: 1, 1: 2}[df] + {"r": 0, "b": 1, "q": 2}[uci[4]]
    elif (df, dr) in _KNIGHT:
        plane = 56 + _KNIGHT.index((df, dr))
    else:
        assert df == 0 or dr == 0 or abs(df) == abs(dr)
        plane = 7 * _DIRECTION[_sign(df), _sign(dr)] + max(abs(df), abs(dr)) - 1
    return plane * 64 + frm


def _mirror(square: int) -> int:
    return (7 - square // 8) * 8 + square % 8


def _expected_uci(board: chess.Board, move: chess.Move) -> str:
    """The policy string of a legal move: side-to-move view, king takes rook, knight unmarked."""
    frm, to = move.from_square, move.to_square
    if board.piece_type_at(frm) == chess.KING and abs(frm % 8 - to % 8) == 2:
        to = frm - frm % 8 + (7 if to % 8 > frm % 8 else 0)  # rook's corner on the same rank
    if board.turn == chess.BLACK:
        frm, to = _mirror(frm), _mirror(to)
    suffix = {None: "", chess.KNIGHT: "", chess.QUEEN: "q", chess.ROOK: "r", chess.BISHOP: "b"}
    return _name(frm) + _name(to) + suffix[move.promotion]


def _key(board: chess.Board):
    """Identity of a position for repetitions: pieces, side to move, castling, raw e.p. square."""
    return board.board_fen(), board.turn, board.castling_xfen(), board.ep_square


_KEYS: dict = {}


def _game_keys(board: chess.Board) -> list:
    """Keys of every position of the game so far, oldest first (memoised on game prefixes)."""
    root_fen, stack = board.root().fen(), tuple(board.move_stack)
    if (root_fen, stack) not in _KEYS:
        if stack and (root_fen, stack[:-1]) in _KEYS:
            keys = _KEYS[root_fen, stack[:-1]] + [_key(board)]
        else:
            replay = chess.Board(root_fen)
            keys = [_key(replay)]
            for m in stack:
                replay.push(m)
                keys.append(_key(replay))
        _KEYS[root_fen, stack] = keys
    return _KEYS[root_fen, stack]


def _reference_planes(board: chess.Board) -> np.ndarray:
    """lc0's 112 planes written out square by square from the format's description."""
    out = np.zeros((112, 8, 8), dtype=np.float32)
    us = board.turn
    flip = us == chess.BLACK
    keys = _game_keys(board)
    now = len(keys) - 1
    root = board.root()
    if root.ep_square is not None:  # lc0 fills with the root before its double step
        pawn = root.ep_square + (8 if root.turn == chess.BLACK else -8)
        before = root.ep_square + (-8 if root.turn == chess.BLACK else 8)
        root.set_piece_at(before, root.remove_piece_at(pawn))
    is_startpos = root.fen() == chess.STARTING_FEN
    b = board.copy()
    for i in range(8):
        t = now - i
        if t < 0:
            if is_startpos:
                break  # before the game's start: zero
            b = root  # a game from a FEN: lc0 repeats its first position
        for square, piece in b.piece_map().items():
            rank, file = square // 8, square % 8
            if flip:
                rank = 7 - rank
            plane = (0 if piece.color == us else 6) + piece.piece_type - 1
            out[13 * i + plane, rank, file] = 1
        if t > 0 and keys[t] in keys[:t]:
            out[13 * i + 12] = 1
        if t > 0:
            b.pop()
    them = not us
    out[104] = board.has_queenside_castling_rights(us)
    out[105] = board.has_kingside_castling_rights(us)
    out[106] = board.has_queenside_castling_rights(them)
    out[107] = board.has_kingside_castling_rights(them)
    out[108] = flip
    out[109] = board.halfmove_clock
    out[111] = 1
    return out


def _random_games(seed: int = 20240611, games: int = 14, plies: int = 60) -> list[chess.Board]:
    """Positions (with their move stacks) from seeded random games, both colours to move."""
    rng = random.Random(seed)
    boards = []
    for _ in range(games):
        b = chess.Board()
        boards.append(b.copy())
        for _ in range(plies):
            moves = list(b.legal_moves)
            if not moves:
                break
            # Prefer captures and pawn pushes now and then so games reach promotions.
            pushes = [m for m in moves if m.promotion or b.is_capture(m)]
            b.push(rng.choice(pushes if pushes and rng.random() < 0.4 else moves))
            boards.append(b.copy())
    return boards


POSITIONS = _random_games()

# Hand-made positions that random games may miss.
SPECIAL_FENS = [
    "r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1",  # all four castlings
    "r3k2r/8/8/8/8/8/8/R3K2R b KQkq - 0 1",
    "4k3/8/8/3pP3/8/8/8/4K3 w - d6 0 2",  # en passant, White
    "4k3/8/8/8/3Pp3/8/8/4K3 b - d3 0 2",  # en passant, Black
    "1r2k1n1/P6P/8/8/8/8/8/4K3 w - - 0 1",  # promotions with and without capture, both edges
    "4k3/8/8/8/8/8/p6p/1R2K1N1 b - - 0 1",
    "4k3/8/8/8/8/8/8/RK6 w - - 0 1",  # king next to own rook, off its start square
    "rk6/8/8/8/8/8/8/4K3 b - - 0 1",
]
SPECIAL = [chess.Board(f) for f in SPECIAL_FENS]


def test_random_positions_cover_both_colours_and_special_moves():
    assert len(POSITIONS) > 300
    assert {b.turn for b in POSITIONS} == {chess.WHITE, chess.BLACK}
    kinds = set()
    for b in POSITIONS:
        for m in b.legal_moves:
            if b.is_castling(m):
                kinds.add(("castle", b.turn))
            if b.is_en_passant(m):
                kinds.add(("ep", b.turn))
    assert ("castle", chess.WHITE) in kinds and ("castle", chess.BLACK) in kinds


# --- the 1858 moves --------------------------------------------------------------------------


def test_move_list_size_and_uniqueness():
    assert len(MOVES) == 1858 == enc.NUM_MOVES
    assert len(set(MOVES)) == 1858
    assert sum(len(m) == 4 for m in MOVES) == 1792
    assert sum(len(m) == 5 for m in MOVES) == 66
    assert len(MOVE_INDEX) == 1858
    for i, m in enumerate(MOVES):
        assert MOVE_INDEX[m] == i


def test_move_list_equals_independent_reconstruction():
    assert MOVES == _reference_moves()


def test_move_list_ordering_rules():
    regular, promos = MOVES[:1792], MOVES[1792:]
    keys = [(SQ(m[:2]), SQ(m[2:4])) for m in regular]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)  # from, then to, ascending
    assert all(len(m) == 4 for m in regular)
    # Promotions: from a7..h7 ascending, to the 8th rank at file distance <= 1, then q, r, b.
    assert [m[4] for m in promos] == list("qrb") * 22
    triples = [promos[i:i + 3] for i in range(0, 66, 3)]
    assert all(len({t[:4] for t in tri}) == 1 for tri in triples)
    squares = [(SQ(t[0][:2]), SQ(t[0][2:4])) for t in triples]
    assert squares == sorted(squares)
    for f, t in squares:
        assert chess.square_rank(f) == 6 and chess.square_rank(t) == 7
        assert abs(chess.square_file(f) - chess.square_file(t)) <= 1
    # Edge files have two targets, inner files three.
    assert [sum(1 for f, _ in squares if f == s) for s in range(48, 56)] == [2, 3, 3, 3, 3, 3, 3, 2]


def test_known_indices():
    # a1 reaches b1..h1 (0-6), a2 b2 c2 (7-9), a3 b3 c3 (10-12), then a4 d4 a5 e5 a6 f6 a7 g7 a8 h8.
    assert MOVES[:13] == ["a1b1", "a1c1", "a1d1", "a1e1", "a1f1", "a1g1", "a1h1",
                          "a1a2", "a1b2", "a1c2", "a1a3", "a1b3", "a1c3"]
    assert MOVES[22] == "a1h8" and MOVES[23] == "b1a1"
    assert MOVES[1791] == "h8g8"  # last regular move: highest from-square, highest target
    assert MOVES[1792:1798] == ["a7a8q", "a7a8r", "a7a8b", "a7b8q", "a7b8r", "a7b8b"]
    assert MOVES[1798] == "b7a8q"
    assert MOVES[-3:] == ["h7h8q", "h7h8r", "h7h8b"]
    # Indices as lc0 numbers them (count of earlier moves by the rules above).
    counts = [len(_empty_board_targets(s)) for s in range(64)]
    for uci in ["e2e4", "d2d4", "g1f3", "c2c4", "h8a1", "e1h1", "e1a1"]:
        f, t = SQ(uci[:2]), SQ(uci[2:])
        expected = sum(counts[:f]) + _empty_board_targets(f).index(t)
        assert MOVE_INDEX[uci] == expected
    assert (MOVE_INDEX["e2e4"], MOVE_INDEX["d2d4"], MOVE_INDEX["g1f3"], MOVE_INDEX["c2c4"]) == \
        (322, 293, 159, 264)
    # Promotion index: 1792 + 3 * (earlier promotion targets) + suffix.
    assert MOVE_INDEX["c7d8r"] == 1792 + 3 * (2 + 3 + 2) + 1
    assert MOVE_INDEX["h7g8b"] == 1792 + 3 * 20 + 2


def test_no_knight_promotion_or_castling_strings():
    assert not any(m.endswith("n") for m in MOVES)
    assert "e1h1" in MOVE_INDEX and "e1a1" in MOVE_INDEX


# --- the policy map --------------------------------------------------------------------------


def test_policy_map_shape_and_uniqueness():
    assert POLICY_MAP.shape == (1858,)
    assert np.issubdtype(POLICY_MAP.dtype, np.integer)
    assert len(np.unique(POLICY_MAP)) == 1858
    assert POLICY_MAP.min() >= 0 and POLICY_MAP.max() < 73 * 64  # planes 73..79 unused
    used_planes = set((POLICY_MAP // 64).tolist())
    assert used_planes == set(range(73))
    for i, m in enumerate(MOVES):
        assert POLICY_MAP[i] % 64 == SQ(m[:2])  # entry p*64 + from-square


def test_policy_map_equals_formula_for_every_move():
    expected = np.array([_reference_policy_entry(m) for m in MOVES])
    mismatch = [MOVES[i] for i in np.flatnonzero(expected != POLICY_MAP)]
    assert not mismatch, mismatch[:10]


@pytest.mark.parametrize("uci, plane", [
    ("e2e4", 1),  # N, distance 2
    ("a7a8", 0),  # knight promotion: ordinary N, distance 1
    ("a1h8", 7 * 1 + 6),  # NE 7
    ("e4f3", 7 * 3 + 0),  # SE 1
    ("h8a1", 7 * 5 + 6),  # SW 7
    ("h1a8", 7 * 7 + 6),  # NW 7
    ("d4a4", 7 * 6 + 2),  # W 3
    ("e1h1", 7 * 2 + 2),  # castling kingside = E 3
    ("e1a1", 7 * 6 + 3),  # castling queenside = W 4
    ("b1c3", 56),  # (+1,+2)
    ("g1f3", 63),  # (-1,+2)
    ("e4d2", 60),  # (-1,-2)
    ("e4c5", 62),  # (-2,+1)
    ("b7a8r", 64),  # NW rook
    ("b7a8b", 65),
    ("b7a8q", 66),
    ("a7a8r", 67),  # N rook
    ("h7h8q", 69),
    ("a7b8r", 70),  # NE rook
    ("g7h8q", 72),
])
def test_policy_map_samples(uci, plane):
    assert POLICY_MAP[MOVE_INDEX[uci]] == plane * 64 + SQ(uci[:2])


def test_policy_plane_populations():
    planes_of = np.bincount(POLICY_MAP // 64, minlength=80)
    for d, (df, dr) in enumerate([(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0),
                                  (-1, 1)]):
        for k in range(1, 8):
            expected = (8 - k) ** 2 if df and dr else 8 * (8 - k)
            assert planes_of[7 * d + k - 1] == expected, (d, k)
    assert list(planes_of[56:64]) == [42] * 8
    assert list(planes_of[64:73]) == [7, 7, 7, 8, 8, 8, 7, 7, 7]
    assert list(planes_of[73:]) == [0] * 7


def test_policy_gather_from_conv_output():
    conv = np.arange(80 * 64).reshape(80, 64)  # value = plane*64 + square
    picked = conv.reshape(-1)[POLICY_MAP]
    assert picked[MOVE_INDEX["e2e4"]] == 1 * 64 + SQ("e2")
    assert picked[MOVE_INDEX["a7b8q"]] == 72 * 64 + SQ("a7")


# --- moves <-> indices -----------------------------------------------------------------------


def test_every_legal_move_round_trips():
    for board in POSITIONS + SPECIAL:
        _check_round_trip(board)


def _check_round_trip(board: chess.Board):
    legal = list(board.legal_moves)
    idx = [move_to_index(board, m) for m in legal]
    assert len(set(idx)) == len(idx)
    for m, i in zip(legal, idx):
        assert 0 <= i < 1858
        assert MOVES[i] == _expected_uci(board, m), (board.fen(), m.uci(), MOVES[i])
        assert index_to_move(board, i) == m, (board.fen(), m.uci())
    got = legal_indices(board)
    assert np.issubdtype(got.dtype, np.integer)
    assert got.tolist() == idx, board.fen()


def test_every_index_decodes_consistently():
    """An index that decodes to a legal move is that move's index; all legal moves are reached."""
    for board in POSITIONS[::12] + SPECIAL:
        reached = set()
        for i in range(1858):
            m = index_to_move(board, i)
            if board.is_legal(m):
                assert move_to_index(board, m) == i, (board.fen(), MOVES[i], m.uci())
                reached.add(m)
        assert reached == set(board.legal_moves), board.fen()


@pytest.mark.parametrize("fen, move, policy", [
    ("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1", "e1g1", "e1h1"),
    ("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1", "e1c1", "e1a1"),
    ("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1", "e1f1", "e1f1"),
    ("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1", "e1d1", "e1d1"),
    ("r3k2r/8/8/8/8/8/8/R3K2R b KQkq - 0 1", "e8g8", "e1h1"),
    ("r3k2r/8/8/8/8/8/8/R3K2R b KQkq - 0 1", "e8c8", "e1a1"),
    ("r3k2r/8/8/8/8/8/8/R3K2R b KQkq - 0 1", "h8h1", "h1h8"),
    ("r3k2r/8/8/8/8/8/8/R3K2R b KQkq - 0 1", "a8a5", "a1a4"),
    ("4k3/8/8/3pP3/8/8/8/4K3 w - d6 0 2", "e5d6", "e5d6"),
    ("4k3/8/8/8/3Pp3/8/8/4K3 b - d3 0 2", "e4d3", "e5d6"),
    ("1r2k1n1/P6P/8/8/8/8/8/4K3 w - - 0 1", "a7a8q", "a7a8q"),
    ("1r2k1n1/P6P/8/8/8/8/8/4K3 w - - 0 1", "a7a8r", "a7a8r"),
    ("1r2k1n1/P6P/8/8/8/8/8/4K3 w - - 0 1", "a7a8b", "a7a8b"),
    ("1r2k1n1/P6P/8/8/8/8/8/4K3 w - - 0 1", "a7a8n", "a7a8"),
    ("1r2k1n1/P6P/8/8/8/8/8/4K3 w - - 0 1", "a7b8q", "a7b8q"),
    ("1r2k1n1/P6P/8/8/8/8/8/4K3 w - - 0 1", "a7b8n", "a7b8"),
    ("1r2k1n1/P6P/8/8/8/8/8/4K3 w - - 0 1", "h7g8b", "h7g8b"),
    ("4k3/8/8/8/8/8/p6p/1R2K1N1 b - - 0 1", "a2a1q", "a7a8q"),
    ("4k3/8/8/8/8/8/p6p/1R2K1N1 b - - 0 1", "a2a1r", "a7a8r"),
    ("4k3/8/8/8/8/8/p6p/1R2K1N1 b - - 0 1", "a2a1b", "a7a8b"),
    ("4k3/8/8/8/8/8/p6p/1R2K1N1 b - - 0 1", "a2a1n", "a7a8"),
    ("4k3/8/8/8/8/8/p6p/1R2K1N1 b - - 0 1", "a2b1r", "a7b8r"),
    ("4k3/8/8/8/8/8/p6p/1R2K1N1 b - - 0 1", "a2b1n", "a7b8"),
    ("4k3/8/8/8/8/8/p6p/1R2K1N1 b - - 0 1", "h2g1q", "h7g8q"),
    ("rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq e3 0 1", "g8f6", "g1f3"),
    ("rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq e3 0 1", "c7c5", "c2c4"),
])
def test_special_moves(fen, move, policy):
    board = chess.Board(fen)
    m = chess.Move.from_uci(move)
    assert board.is_legal(m)
    i = move_to_index(board, m)
    assert MOVES[i] == policy
    assert index_to_move(board, i) == m
    assert i in legal_indices(board).tolist()


def test_castling_given_as_king_takes_rook():
    board = chess.Board("r3k2r/8/8/8/8/8/8/R3K2R b KQkq - 0 1")
    assert move_to_index(board, chess.Move.from_uci("e8h8")) == MOVE_INDEX["e1h1"]
    assert move_to_index(board, chess.Move.from_uci("e8a8")) == MOVE_INDEX["e1a1"]


def test_knight_promotion_index_decodes_to_knight():
    w = chess.Board("1r2k1n1/P6P/8/8/8/8/8/4K3 w - - 0 1")
    assert index_to_move(w, MOVE_INDEX["a7a8"]) == chess.Move.from_uci("a7a8n")
    assert index_to_move(w, MOVE_INDEX["a7b8"]) == chess.Move.from_uci("a7b8n")
    b = chess.Board("4k3/8/8/8/8/8/p6p/1R2K1N1 b - - 0 1")
    assert index_to_move(b, MOVE_INDEX["h7g8"]) == chess.Move.from_uci("h2g1n")
    assert index_to_move(b, MOVE_INDEX["h7g8r"]) == chess.Move.from_uci("h2g1r")


def test_black_moves_mirrored_vertically_not_horizontally():
    board = chess.Board()
    board.push_uci("e2e4")
    # Black's e7e5 is e2e4 in the policy (vertical mirror keeps files).
    assert move_to_index(board, chess.Move.from_uci("e7e5")) == MOVE_INDEX["e2e4"]
    assert move_to_index(board, chess.Move.from_uci("b8c6")) == MOVE_INDEX["b1c3"]
    assert index_to_move(board, MOVE_INDEX["d2d4"]) == chess.Move.from_uci("d7d5")


# --- positions -------------------------------------------------------------------------------


def _piece_plane(squares: list[str], flip: bool = False) -> np.ndarray:
    p = np.zeros((8, 8), dtype=np.float32)
    for s in squares:
        r, f = int(s[1]) - 1, "abcdefgh".index(s[0])
        p[7 - r if flip else r, f] = 1
    return p


def test_start_position_planes():
    x = board_planes(chess.Board())
    assert x.shape == (112, 8, 8) and x.dtype == np.float32
    rank = lambda r: [f + str(r) for f in "abcdefgh"]  # noqa: E731
    expected = {
        0: rank(2), 1: ["b1", "g1"], 2: ["c1", "f1"], 3: ["a1", "h1"], 4: ["d1"], 5: ["e1"],
        6: rank(7), 7: ["b8", "g8"], 8: ["c8", "f8"], 9: ["a8", "h8"], 10: ["d8"], 11: ["e8"],
    }
    for p, squares in expected.items():
        np.testing.assert_array_equal(x[p], _piece_plane(squares), err_msg=f"plane {p}")
    assert x[12].sum() == 0  # not a repetition
    assert x[13:104].sum() == 0  # before the game's start
    for p in (104, 105, 106, 107, 111):
        assert (x[p] == 1).all(), p
    for p in (108, 109, 110):
        assert (x[p] == 0).all(), p


def test_black_to_move_is_mirrored_and_colour_swapped():
    board = chess.Board()
    board.push_uci("e2e4")
    x = board_planes(board)
    # Slot 0, from Black's side: Black's pawns on rank index 1, White's e-pawn on "e5".
    np.testing.assert_array_equal(x[0], _piece_plane([f + "2" for f in "abcdefgh"]))
    np.testing.assert_array_equal(x[4], _piece_plane(["d1"]))  # Black's queen d8 -> d1
    np.testing.assert_array_equal(x[5], _piece_plane(["e1"]))
    np.testing.assert_array_equal(
        x[6], _piece_plane([f + "7" for f in "abcdfgh"] + ["e5"]))
    np.testing.assert_array_equal(x[10], _piece_plane(["d8"]))
    np.testing.assert_array_equal(x[11], _piece_plane(["e8"]))
    np.testing.assert_array_equal(x[9], _piece_plane(["a8", "h8"]))
    # Slot 1: the start position, also from Black's side.
    np.testing.assert_array_equal(x[13 + 0], _piece_plane([f + "2" for f in "abcdefgh"]))
    np.testing.assert_array_equal(x[13 + 6], _piece_plane([f + "7" for f in "abcdefgh"]))
    np.testing.assert_array_equal(x[13 + 10], _piece_plane(["d8"]))
    assert x[26:104].sum() == 0
    assert (x[108] == 1).all() and (x[104:108] == 1).all()
    assert (x[109] == 0).all()


def test_history_slot_one_is_one_ply_earlier_from_current_side():
    board = chess.Board()
    for m in ["e2e4", "e7e5", "g1f3"]:
        board.push_uci(m)
    x = board_planes(board)  # Black to move
    # Slot 0: White knight on f3 -> seen from Black as their knight on f6.
    assert x[7, 5, 5] == 1 and x[7, 7, 6] == 0
    # Slot 1 (after 1...e5): knight still on g1 -> "g8"; Black's e5 pawn -> our pawn on "e4".
    assert x[13 + 7, 7, 6] == 1 and x[13 + 7, 5, 5] == 0
    assert x[13 + 0, 3, 4] == 1 and x[13 + 0, 1, 4] == 0
    # Slot 2 (after 1.e4): Black's e-pawn at home; slot 3 the start; slots 4.. empty.
    assert x[26 + 0, 1, 4] == 1 and x[26 + 6, 4, 4] == 1
    assert x[39 + 6, 6, 4] == 1 and x[39 + 6, 4, 4] == 0
    assert x[52:104].sum() == 0


def test_repetition_planes_knight_shuffle():
    board = chess.Board()
    for m in ["g1f3", "g8f6", "f3g1", "f6g8"]:
        board.push_uci(m)
    x = board_planes(board)
    assert (x[12] == 1).all()  # the start position again
    assert x[25].sum() == x[38].sum() == x[51].sum() == x[64].sum() == 0
    board.push_uci("g1f3")
    x = board_planes(board)
    rep = [x[13 * i + 12].max() for i in range(8)]
    # slot 0 = after 1.Nf3 again, slot 1 = start again; slots 6-7 before the game.
    assert rep == [1, 1, 0, 0, 0, 0, 0, 0]
    assert x[13 * 5:13 * 5 + 12].sum() == 32 and x[13 * 6:104].sum() == 0
    assert (x[109] == 5).all()


def test_repetition_needs_same_en_passant_square():
    """After 1.e4 the e.p. square is e3; the same pieces later without it are a new position."""
    board = chess.Board()
    for m in ["e2e4", "g8f6", "g1f3", "f6g8", "f3g1"]:
        board.push_uci(m)
    assert board_planes(board)[12].sum() == 0
    for m in ["g8f6", "g1f3", "f6g8", "f3g1"]:
        board.push_uci(m)
    assert (board_planes(board)[12] == 1).all()


def test_repetition_needs_same_castling_rights():
    board = chess.Board("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1")
    for m in ["e1f1", "e8f8", "f1e1", "f8e8"]:  # same pieces, rights gone
        board.push_uci(m)
    assert board_planes(board)[12].sum() == 0
    assert (board_planes(board)[104:108] == 0).all()


def test_castling_planes_after_king_and_rook_moves():
    board = chess.Board()
    for m in ["e2e4", "e7e5", "e1e2"]:
        board.push_uci(m)
    x = board_planes(board)  # Black to move: we keep both, the opponent has none
    assert [x[p].max() for p in (104, 105, 106, 107)] == [1, 1, 0, 0]
    board.push_uci("e8e7")
    x = board_planes(board)
    assert (x[104:108] == 0).all()
    b = chess.Board("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1")
    b.push_uci("h1h2")  # White keeps only queenside
    assert [board_planes(b)[p].max() for p in (104, 105, 106, 107)] == [1, 1, 1, 0]
    b = chess.Board("r3k2r/8/8/8/8/8/8/R3K2R w Kq - 0 1")
    assert [board_planes(b)[p].max() for p in (104, 105, 106, 107)] == [0, 1, 1, 0]
    b = chess.Board("r3k2r/8/8/8/8/8/8/R3K2R b Kq - 0 1")
    assert [board_planes(b)[p].max() for p in (104, 105, 106, 107)] == [1, 0, 0, 1]
    for p in range(104, 108):  # whole planes, not single squares
        assert board_planes(b)[p].sum() in (0, 64)


def test_rule50_plane_is_raw_count():
    b = chess.Board("8/8/4k3/8/8/3K4/8/5R2 b - - 37 80")
    x = board_planes(b)
    assert (x[109] == 37).all()
    b.push_uci("e6e5")
    assert (board_planes(b)[109] == 38).all()
    b.push_uci("f1f5")
    assert (board_planes(b)[109] == 39).all()
    b.push_uci("e5f5")  # capture resets
    assert (board_planes(b)[109] == 0).all()


@pytest.mark.parametrize("fen", [
    "r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - 2 3",
    "r1bqk2r/pppp1ppp/2n2n2/2b1p3/2B1P3/3P1N2/PPP2PPP/RNBQK2R b KQkq - 0 5",
    "8/5k2/8/3Pp3/8/8/2K5/8 w - e6 0 40",
])
def test_position_from_fen(fen):
    board = chess.Board(fen)
    x = board_planes(board)
    ref = _reference_planes(board)
    np.testing.assert_array_equal(x, ref)
    assert (x[109] == board.halfmove_clock).all()
    assert (x[108] == (board.turn == chess.BLACK)).all()


def test_fen_history_is_filled_like_lc0():
    """lc0 (HistoryFill=fen_only) repeats a set-up position in the empty history slots, with a
    double step that set the en-passant square taken back; a game from the start stays zero."""
    board = chess.Board("8/5k2/8/3Pp3/8/8/2K5/8 w - e6 0 40")
    x = board_planes(board)
    assert x[6, 4, 4] == 1 and x[6, 6, 4] == 0  # now: their pawn on e5
    for i in range(1, 8):
        assert x[13 * i + 6, 4, 4] == 0 and x[13 * i + 6, 6, 4] == 1  # before: on e7
        np.testing.assert_array_equal(x[13 * i: 13 * i + 6], x[:6])
        np.testing.assert_array_equal(x[13 * i + 7: 13 * i + 13], x[7:13])
    board.push_uci("c2d3")  # Black to move: the copies follow the current view
    x = board_planes(board)
    assert x[13 + 0, 3, 4] == 1  # slot 1: our (Black's) pawn on e5 -> "e4"
    for i in range(2, 8):
        assert x[13 * i + 0, 1, 4] == 1 and x[13 * i + 0, 3, 4] == 0  # e7 -> "e2"
    b = chess.Board("4k3/8/8/8/8/8/8/4K2R b K - 5 30")
    x = board_planes(b)
    for i in range(1, 8):
        np.testing.assert_array_equal(x[13 * i: 13 * i + 13], x[:13])
    assert board_planes(chess.Board())[13:104].sum() == 0


def test_fen_black_to_move_explicit():
    board = chess.Board("4k3/1p6/8/8/8/8/6Q1/4K3 b - - 3 60")
    x = board_planes(board)
    np.testing.assert_array_equal(x[0], _piece_plane(["b7"], flip=True))  # our pawn: b2
    np.testing.assert_array_equal(x[5], _piece_plane(["e8"], flip=True))
    np.testing.assert_array_equal(x[10], _piece_plane(["g2"], flip=True))  # their queen: g7
    np.testing.assert_array_equal(x[11], _piece_plane(["e1"], flip=True))
    assert x[:12].sum() == 4
    assert (x[104:108] == 0).all() and (x[108] == 1).all() and (x[109] == 3).all()


def test_random_positions_match_reference_planes():
    bad = []
    for b in POSITIONS:
        if not np.array_equal(board_planes(b), _reference_planes(b)):
            bad.append(b.fen())
    assert not bad, bad[:3]


def test_random_positions_with_repetitions_match_reference():
    """Pieces stepping back and forth (and the odd pawn move) produce many repetitions."""
    rng = random.Random(7)
    checked = reps = 0
    for start in ["r3k1nr/ppp2ppp/8/8/8/8/PPP2PPP/RN2K2R w KQkq - 0 1", chess.STARTING_FEN]:
        b = chess.Board(start)
        for _ in range(80):
            moves = list(b.legal_moves)
            if not moves:
                break
            back = None
            if len(b.move_stack) >= 2:
                prev = b.move_stack[-2]
                back = chess.Move(prev.to_square, prev.from_square)
            if back in moves and not b.is_castling(back) and rng.random() < 0.6:
                b.push(back)
            else:
                pieces = [m for m in moves if b.piece_type_at(m.from_square) != chess.PAWN]
                b.push(rng.choice(moves if rng.random() < 0.15 or not pieces else pieces))
            x = board_planes(b)
            np.testing.assert_array_equal(x, _reference_planes(b), err_msg=b.fen())
            checked += 1
            reps += int(x[12].max())
    assert checked > 100 and reps > 20


# --- compact codes and the batch path ---------------------------------------------------------


def test_position_codes_and_flags():
    c = position_codes(chess.Board())
    assert c.dtype == np.uint8 and c.shape == (64,)
    assert c[SQ("a1")] == 4 and c[SQ("e1")] == 6 and c[SQ("d1")] == 5 and c[SQ("b1")] == 2
    assert (c[8:16] == 1).all() and (c[16:48] == 0).all() and (c[48:56] == 7).all()
    assert c[SQ("a8")] == 10 and c[SQ("e8")] == 12 and c[SQ("c8")] == 9
    f = position_flags(chess.Board())
    assert f == enc.WHITE_KINGSIDE | enc.WHITE_QUEENSIDE | enc.BLACK_KINGSIDE | enc.BLACK_QUEENSIDE
    f = position_flags(chess.Board("r3k2r/8/8/8/8/8/8/R3K2R b Kq - 0 1"), repetition=True)
    assert f == enc.BLACK_TO_MOVE | enc.WHITE_KINGSIDE | enc.BLACK_QUEENSIDE | enc.REPETITION


@pytest.mark.parametrize("shape", [(64,), (5, 64), (3, 8, 64)])
def test_pack_unpack_round_trip(shape):
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 13, size=shape).astype(np.uint8)
    packed = pack_codes(codes)
    assert packed.shape == shape[:-1] + (32,) and packed.dtype == np.uint8
    np.testing.assert_array_equal(unpack_codes(packed), codes)


def test_pack_layout_and_real_positions():
    codes = np.zeros(64, dtype=np.uint8)
    codes[0], codes[1], codes[62], codes[63] = 1, 12, 7, 6
    packed = pack_codes(codes)
    assert packed[0] == 1 | (12 << 4) and packed[31] == 7 | (6 << 4)
    assert len(np.unique(pack_codes(np.stack([position_codes(b) for b in POSITIONS[:50]])),
                         axis=0)) > 40
    for b in POSITIONS[::25]:
        c = position_codes(b)
        np.testing.assert_array_equal(unpack_codes(pack_codes(c)), c)


def test_history_arrays():
    board = chess.Board()
    for m in ["g1f3", "g8f6", "f3g1", "f6g8", "g1f3"]:
        board.push_uci(m)
    codes, flags, rule50 = history(board)
    assert codes.shape == (8, 64) and flags.shape == (8,) and rule50 == 5
    np.testing.assert_array_equal(codes[1], position_codes(chess.Board()))
    assert (codes[6:] == 0).all() and (flags[6:] == 0).all()
    assert [bool(f & enc.REPETITION) for f in flags] == [True, True] + [False] * 6
    assert [bool(f & enc.BLACK_TO_MOVE) for f in flags[:6]] == [True, False] * 3


def test_batch_planes_equals_stacked_board_planes():
    boards = POSITIONS[::7] + SPECIAL
    assert {b.turn for b in boards} == {chess.WHITE, chess.BLACK}
    hs = [history(b) for b in boards]
    codes = np.stack([h[0] for h in hs])
    flags = np.stack([h[1] for h in hs])
    rule50 = np.array([h[2] for h in hs])
    codes_in, flags_in = codes.copy(), flags.copy()
    x = planes(codes, flags, rule50)
    assert x.shape == (len(boards), 112, 8, 8) and x.dtype == np.float32
    np.testing.assert_array_equal(x, np.stack([board_planes(b) for b in boards]))
    np.testing.assert_array_equal(codes, codes_in)  # inputs untouched
    np.testing.assert_array_equal(flags, flags_in)
    # Packed storage gives the same input.
    y = planes(unpack_codes(pack_codes(codes)), flags, rule50)
    np.testing.assert_array_equal(x, y)
    # Order within the batch does not matter.
    perm = np.random.default_rng(0).permutation(len(boards))
    np.testing.assert_array_equal(planes(codes[perm], flags[perm], rule50[perm]), x[perm])
