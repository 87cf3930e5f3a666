"""Board and move encoding in lc0's classical format.

Positions become 112 planes of 8x8 (8 history slots of 13 planes, then castling, side to move,
rule-50 and constant planes), always seen from the side to move. Moves become one of lc0's 1858
policy indices. Both follow ../shared/LC0_FORMAT.md to the letter, because an imported Maia
network only works when its inputs and outputs are laid out exactly as lc0 lays them out.

A position is kept compactly as 64 piece codes (0 empty, 1-6 White PNBRQK, 7-12 Black PNBRQK,
square a1 = 0) plus a flag byte and the rule-50 count; :func:`planes` turns a batch of such
histories into network input with numpy, so the dataset and the live engine share one path.
"""

from __future__ import annotations

import chess
import chess.polyglot
import numpy as np

NUM_MOVES = 1858
NUM_PLANES = 112
HISTORY = 8

# Flag bits of a stored position.
BLACK_TO_MOVE = 1
WHITE_KINGSIDE, WHITE_QUEENSIDE, BLACK_KINGSIDE, BLACK_QUEENSIDE = 2, 4, 8, 16
REPETITION = 32


def _build_moves() -> list[str]:
    moves = []
    for frm in range(64):
        f0, r0 = frm % 8, frm // 8
        for to in range(64):
            if to == frm:
                continue
            df, dr = to % 8 - f0, to // 8 - r0
            queen_line = df == 0 or dr == 0 or abs(df) == abs(dr)
            knight = (abs(df), abs(dr)) in ((1, 2), (2, 1))
            if queen_line or knight:
                moves.append(chess.SQUARE_NAMES[frm] + chess.SQUARE_NAMES[to])
    for frm in range(chess.A7, chess.H7 + 1):
        for to in range(chess.A8, chess.H8 + 1):
            if abs(to % 8 - frm % 8) <= 1:
                for piece in "qrb":
                    moves.append(chess.SQUARE_NAMES[frm] + chess.SQUARE_NAMES[to] + piece)
    return moves


#: The 1858 policy moves as UCI strings from the side to move's view (White's).
MOVES: list[str] = _build_moves()
MOVE_INDEX: dict[str, int] = {m: i for i, m in enumerate(MOVES)}
assert len(MOVES) == NUM_MOVES


def _build_policy_map() -> np.ndarray:
    """For each of the 1858 moves, its entry ``plane * 64 + from_square`` in the 80x64 conv policy."""
    directions = [(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1)]
    knights = [(1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2)]
    out = np.empty(NUM_MOVES, dtype=np.int64)
    for i, m in enumerate(MOVES):
        frm, to = chess.parse_square(m[:2]), chess.parse_square(m[2:4])
        df, dr = to % 8 - frm % 8, to // 8 - frm // 8
        if len(m) == 5:
            plane = 64 + 3 * (df + 1) + "rbq".index(m[4])
        elif (df, dr) in knights:
            plane = 56 + knights.index((df, dr))
        else:
            k = max(abs(df), abs(dr))
            plane = 7 * directions.index((df // k, dr // k)) + k - 1
        out[i] = plane * 64 + frm
    return out


#: Index into the flattened 80x64 convolutional policy for each of the 1858 moves.
POLICY_MAP: np.ndarray = _build_policy_map()


def _castling_target(board: chess.Board, move: chess.Move) -> int:
    """lc0 scores castling as the king taking its own rook."""
    if board.chess960:
        return move.to_square
    rank = chess.square_rank(move.from_square)
    return chess.square(7 if board.is_kingside_castling(move) else 0, rank)


def move_to_index(board: chess.Board, move: chess.Move) -> int:
    """The policy index of a legal ``move`` in ``board`` (Black's moves are mirrored)."""
    to = _castling_target(board, move) if board.is_castling(move) else move.to_square
    frm = move.from_square
    if board.turn == chess.BLACK:
        frm, to = chess.square_mirror(frm), chess.square_mirror(to)
    uci = chess.SQUARE_NAMES[frm] + chess.SQUARE_NAMES[to]
    if move.promotion and move.promotion != chess.KNIGHT:
        uci += chess.piece_symbol(move.promotion)
    return MOVE_INDEX[uci]


def index_to_move(board: chess.Board, index: int) -> chess.Move:
    """The python-chess move for policy ``index`` in ``board``; may be illegal there."""
    uci = MOVES[index]
    frm, to = chess.parse_square(uci[:2]), chess.parse_square(uci[2:4])
    if board.turn == chess.BLACK:
        frm, to = chess.square_mirror(frm), chess.square_mirror(to)
    promotion = chess.Piece.from_symbol(uci[4]).piece_type if len(uci) == 5 else None
    piece = board.piece_at(frm)
    if piece is not None and piece.piece_type == chess.PAWN and chess.square_rank(to) in (0, 7) \
            and promotion is None:
        promotion = chess.KNIGHT
    if piece is not None and piece.piece_type == chess.KING and not board.chess960 \
            and frm in (chess.E1, chess.E8) and chess.square_rank(to) == chess.square_rank(frm) \
            and abs(chess.square_file(to) - 4) >= 2:
        # Castling is only king takes own rook (e1h1, e1a1); python-chess writes it e1g1/e1c1,
        # so the plain two-step index (e1g1, e1c1) must not decode to castling too.
        if chess.square_file(to) not in (0, 7) or board.piece_at(to) != chess.Piece(chess.ROOK,
                                                                                    piece.color):
            return chess.Move.null()
        to = chess.square(6 if chess.square_file(to) == 7 else 2, chess.square_rank(frm))
    return chess.Move(frm, to, promotion)


def _build_lookup() -> list[list[int]]:
    """``[colour][from * 64 + to]`` -> policy index of a non-promotion move (-1 if none)."""
    table = [[-1] * 4096, [-1] * 4096]
    for black in (0, 1):
        for frm in range(64):
            for to in range(64):
                f, t = (chess.square_mirror(frm), chess.square_mirror(to)) if black else (frm, to)
                uci = chess.SQUARE_NAMES[f] + chess.SQUARE_NAMES[t]
                table[black][frm * 64 + to] = MOVE_INDEX.get(uci, -1)
    return table


_LOOKUP = _build_lookup()


def legal_indices(board: chess.Board) -> np.ndarray:
    """Policy indices of all legal moves, in python-chess's generation order.

    Equivalent to ``move_to_index`` over ``board.legal_moves``, but a table look-up per move:
    this runs for every position of every game ingested.
    """
    table = _LOOKUP[board.turn == chess.BLACK]
    king = board.king(board.turn)
    out = []
    for m in board.generate_legal_moves():
        frm, to = m.from_square, m.to_square
        if m.promotion and m.promotion != chess.KNIGHT:
            out.append(move_to_index(board, m))
        elif frm == king and abs(to - frm) == 2 and not board.chess960:
            out.append(table[frm * 64 + (frm | 7 if to > frm else frm & ~7)])  # king takes rook
        elif frm == king and board.chess960 and board.is_castling(m):
            out.append(move_to_index(board, m))
        else:
            out.append(table[frm * 64 + to])
    return np.array(out, dtype=np.int16)


# --- positions ---------------------------------------------------------------------------

def position_codes(board: chess.Board) -> np.ndarray:
    """The 64 piece codes of ``board`` (a1 = 0), uint8."""
    codes = np.zeros(64, dtype=np.uint8)
    for color, base in ((chess.WHITE, 0), (chess.BLACK, 6)):
        mask_of = board.occupied_co[color]
        for pt, bb in ((1, board.pawns), (2, board.knights), (3, board.bishops), (4, board.rooks),
                       (5, board.queens), (6, board.kings)):
            for sq in chess.scan_forward(bb & mask_of):
                codes[sq] = base + pt
    return codes


def position_flags(board: chess.Board, repetition: bool = False) -> int:
    """Side to move, castling rights and repetition as one flag byte."""
    flags = BLACK_TO_MOVE if board.turn == chess.BLACK else 0
    if board.has_kingside_castling_rights(chess.WHITE):
        flags |= WHITE_KINGSIDE
    if board.has_queenside_castling_rights(chess.WHITE):
        flags |= WHITE_QUEENSIDE
    if board.has_kingside_castling_rights(chess.BLACK):
        flags |= BLACK_KINGSIDE
    if board.has_queenside_castling_rights(chess.BLACK):
        flags |= BLACK_QUEENSIDE
    if repetition:
        flags |= REPETITION
    return flags


def pack_codes(codes: np.ndarray) -> np.ndarray:
    """Two piece codes per byte: (..., 64) -> (..., 32)."""
    return (codes[..., 0::2] | (codes[..., 1::2] << 4)).astype(np.uint8)


def unpack_codes(packed: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_codes`."""
    out = np.empty(packed.shape[:-1] + (64,), dtype=np.uint8)
    out[..., 0::2] = packed & 15
    out[..., 1::2] = packed >> 4
    return out


# Colour swap for Black to move: White's pieces (1-6) become "theirs" (7-12) and back.
_SWAP = np.array([0, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6], dtype=np.uint8)
_ONE_HOT = np.eye(13, dtype=np.float32)[:, 1:]  # code -> 12 piece planes


def planes(codes: np.ndarray, flags: np.ndarray, rule50: np.ndarray) -> np.ndarray:
    """lc0's 112 input planes for a batch of positions with history.

    ``codes``: (N, 8, 64) piece codes, slot 0 the current position, slot i the position i plies
    earlier, all-zero slots for positions before the game's start. ``flags``: (N, 8) flag bytes of
    the same slots (slot 0's gives side to move and castling; every slot's gives its repetition).
    ``rule50``: (N,) half-move clocks. Returns float32 (N, 112, 8, 8).
    """
    n = codes.shape[0]
    black = (flags[:, 0] & BLACK_TO_MOVE).astype(bool)
    codes = codes.reshape(n, HISTORY, 8, 8).copy()
    if black.any():
        codes[black] = _SWAP[codes[black][:, :, ::-1, :]]  # mirror ranks, swap colours
    out = np.zeros((n, NUM_PLANES, 8, 8), dtype=np.float32)
    pieces = _ONE_HOT[codes]  # (N, 8, 8, 8, 12)
    hist = out[:, :104].reshape(n, HISTORY, 13, 8, 8)
    hist[:, :, :12] = pieces.transpose(0, 1, 4, 2, 3)
    hist[:, :, 12] = ((flags & REPETITION) > 0)[:, :, None, None]
    f = flags[:, 0]
    wk, wq = (f & WHITE_KINGSIDE) > 0, (f & WHITE_QUEENSIDE) > 0
    bk, bq = (f & BLACK_KINGSIDE) > 0, (f & BLACK_QUEENSIDE) > 0
    us_k, us_q = np.where(black, bk, wk), np.where(black, bq, wq)
    them_k, them_q = np.where(black, wk, bk), np.where(black, wq, bq)
    out[:, 104] = us_q[:, None, None]
    out[:, 105] = us_k[:, None, None]
    out[:, 106] = them_q[:, None, None]
    out[:, 107] = them_k[:, None, None]
    out[:, 108] = black[:, None, None]
    out[:, 109] = rule50.astype(np.float32)[:, None, None]
    out[:, 111] = 1.0
    return out


def _lc0_key(b: chess.Board) -> tuple:
    return (b.pawns, b.knights, b.bishops, b.rooks, b.queens, b.kings, b.occupied_co[chess.WHITE],
            b.turn, b.clean_castling_rights(), b.ep_square)


def _occurred_before(board: chess.Board) -> bool:
    """Whether the position occurred before as lc0 decides: same pieces, side to move, castling
    rights and en-passant square, which lc0 sets after every double step. python-chess's
    ``is_repetition`` ignores a square no capture can use, so after 1.e4 Nf6 2.Nf3 Ng8 3.Ng1 it
    sees the position after 1.e4 again; lc0 does not. Only called when ``is_repetition(2)``."""
    key = _lc0_key(board)
    popped = []
    try:
        for _ in range(min(board.halfmove_clock, len(board.move_stack)) // 2):
            popped += [board.pop(), board.pop()]
            if _lc0_key(board) == key:
                return True
        return False
    finally:
        for move in reversed(popped):
            board.push(move)


def fill_setup_history(codes: np.ndarray, flags: np.ndarray, i: int, ep_square: int | None) -> None:
    """Repeat slot ``i`` (a set-up position, the game's first) in the older slots, in place.

    lc0 does this by default (``HistoryFill=fen_only``) and takes back a double pawn step that the
    position's en-passant square records.
    """
    codes[i + 1:], flags[i + 1:] = codes[i], flags[i]
    if ep_square is not None:
        d = -8 if ep_square // 8 == 5 else 8  # the pawn stands on ep + d: below rank 6, above rank 3
        codes[i + 1:, ep_square - d] = codes[i, ep_square + d]
        codes[i + 1:, ep_square + d] = 0


def history(board: chess.Board) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes (8, 64) and flags (8,) of ``board`` and up to 7 earlier positions, plus rule-50.

    The history comes from the board's move stack. Slots before it stay zero for a game from the
    standard position; a game set up from another position (a FEN) repeats that position in them,
    as lc0 does by default (``HistoryFill=fen_only``).
    """
    codes = np.zeros((HISTORY, 64), dtype=np.uint8)
    flags = np.zeros(HISTORY, dtype=np.uint8)
    b = board.copy()  # the full stack: repetitions may reach further back than 8 plies
    rule50 = board.halfmove_clock
    for i in range(HISTORY):
        codes[i] = position_codes(b)
        flags[i] = position_flags(b, b.is_repetition(2) and _occurred_before(b))
        if not b.move_stack:
            startpos = (b.board_fen() == chess.STARTING_BOARD_FEN and b.turn == chess.WHITE
                        and b.castling_rights == chess.BB_CORNERS)
            if not startpos:
                fill_setup_history(codes, flags, i, b.ep_square)
            break
        b.pop()
    return codes, flags, rule50


def board_planes(board: chess.Board) -> np.ndarray:
    """lc0's 112 input planes for one python-chess board, history from its move stack."""
    codes, flags, rule50 = history(board)
    return planes(codes[None], flags[None], np.array([rule50]))[0]


BOOK_PLIES = 60  # how deep a repertoire (a player's own opening choices) can reach, in plies


def book_key(board: chess.Board) -> int:
    """The position's polyglot (Zobrist) key as a signed 64-bit integer: how a repertoire
    (:mod:`playas.core.repertoire`) and the prepared dataset's rows name a position."""
    h = chess.polyglot.zobrist_hash(board)
    return h - (1 << 64) if h >= 1 << 63 else h


# --- whole games at once (dataset preparation) and back (legal moves of stored rows) -----------

#: What :func:`snapshot` keeps of a board, in order; everything a stored row needs.
SNAPSHOT = ("pawns", "knights", "bishops", "rooks", "queens", "kings", "white", "black",
            "castling", "turn", "ep", "rule50")
NO_EP = 255  # a row's en-passant square when there is none


def snapshot(b: chess.Board) -> tuple:
    """The board as plain integers (see :data:`SNAPSHOT`); its first 11 name the position the way
    lc0 counts repetitions (pieces, side to move, castling rights, en-passant square after every
    double step). Cheap: a game's rows are encoded from these at once by :func:`encode_snapshots`.
    """
    return (b.pawns, b.knights, b.bishops, b.rooks, b.queens, b.kings, b.occupied_co[chess.WHITE],
            b.occupied_co[chess.BLACK], b.castling_rights, b.turn, b.ep_square, b.halfmove_clock)


def _bits(boards: np.ndarray) -> np.ndarray:
    """(..., 64) booleans of uint64 bitboards, square a1 = 0."""
    b = np.ascontiguousarray(boards, dtype="<u8")
    return np.unpackbits(b.view(np.uint8).reshape(b.shape + (8,)), axis=-1, bitorder="little").astype(bool)


_POLYGLOT = np.array(chess.polyglot.POLYGLOT_RANDOM_ARRAY, dtype=np.uint64)
# piece code (1-12) -> polyglot piece kind (pawn black 0, pawn white 1, knight black 2, ...)
_POLYGLOT_KIND = np.array([0] + [2 * i + 1 for i in range(6)] + [2 * i for i in range(6)], dtype=np.int64)
_CASTLING_BITS = ((chess.BB_H1, WHITE_KINGSIDE), (chess.BB_A1, WHITE_QUEENSIDE),
                  (chess.BB_H8, BLACK_KINGSIDE), (chess.BB_A8, BLACK_QUEENSIDE))


def _build_move_table() -> np.ndarray:
    """``[from * 64 + to, promotion]`` -> policy index from White's view (-1 if none); column 0
    for no promotion (and a knight's, which lc0 writes as the plain move)."""
    table = np.full((4096, 7), -1, dtype=np.int16)
    for frm in range(64):
        for to in range(64):
            uci = chess.SQUARE_NAMES[frm] + chess.SQUARE_NAMES[to]
            table[frm * 64 + to, [0, chess.KNIGHT]] = MOVE_INDEX.get(uci, -1)
            for piece in (chess.BISHOP, chess.ROOK, chess.QUEEN):
                table[frm * 64 + to, piece] = MOVE_INDEX.get(uci + chess.piece_symbol(piece), -1)
    return table


_MOVE_TABLE = _build_move_table()


def move_indices(snaps: list[tuple], moves: list[tuple]) -> np.ndarray:
    """Policy indices of standard-chess ``moves`` ((from, to, promotion or None) each) played in
    the boards of ``snaps``: :func:`move_to_index` for a whole game at once."""
    m = np.array([(f, t, p or 0) for f, t, p in moves], dtype=np.int64).reshape(-1, 3)
    frm, to, promo = m[:, 0], m[:, 1], m[:, 2]
    kings = np.array([s[5] for s in snaps], dtype=np.uint64)
    king = (kings >> frm.astype(np.uint64)) & np.uint64(1) == 1
    castle = king & (np.abs(to - frm) == 2)
    to = np.where(castle, np.where(to > frm, frm | 7, frm & ~7), to)  # lc0: the king takes its rook
    black = ~np.array([s[9] for s in snaps], dtype=bool)
    frm, to = np.where(black, frm ^ 56, frm), np.where(black, to ^ 56, to)
    return _MOVE_TABLE[frm * 64 + to, promo]


def encode_snapshots(snaps: list[tuple], repeated: np.ndarray, book_plies: int) -> dict:
    """Rows of a game from its boards' snapshots: piece codes (N, 64), flags, rule-50, en-passant
    square and the polyglot key of the first ``book_plies`` positions (0 after), all with numpy.

    Equal, row for row, to :func:`position_codes`, :func:`position_flags` and
    ``chess.polyglot.zobrist_hash`` on the same boards (tested on real games).
    """
    a = np.array([s[:9] for s in snaps], dtype=np.uint64)  # pieces, colours, castling
    bits = _bits(a[:, :8])  # (N, 8, 64)
    kind = (bits[:, :6] * np.arange(1, 7, dtype=np.uint8)[None, :, None]).sum(1).astype(np.uint8)
    codes = np.where(bits[:, 7], kind + 6, kind).astype(np.uint8)
    turn = np.array([s[9] for s in snaps], dtype=bool)
    flags = np.where(turn, 0, BLACK_TO_MOVE).astype(np.uint8)
    for square, bit in _CASTLING_BITS:
        flags |= np.where(a[:, 8] & np.uint64(square), bit, 0).astype(np.uint8)
    flags |= np.where(repeated, REPETITION, 0).astype(np.uint8)
    ep = np.array([NO_EP if s[10] is None else s[10] for s in snaps], dtype=np.uint8)
    rule50 = np.minimum([s[11] for s in snaps], 255).astype(np.uint8)
    zobrist = np.zeros(len(snaps), np.uint64)
    k = min(book_plies, len(snaps))
    if k:
        c = codes[:k].astype(np.int64)
        keys = np.where(c > 0, _POLYGLOT[64 * _POLYGLOT_KIND[c] + np.arange(64)], 0)
        z = np.bitwise_xor.reduce(keys.astype(np.uint64), axis=1)
        for i, (square, _) in enumerate(_CASTLING_BITS):
            z ^= np.where(a[:k, 8] & np.uint64(square), _POLYGLOT[768 + i], np.uint64(0))
        z ^= np.where(turn[:k], _POLYGLOT[780], np.uint64(0))
        for i in np.flatnonzero(ep[:k] != NO_EP):  # rare: a double step; polyglot counts it only if
            s = snaps[i]                            # a pawn of the side to move stands beside it
            behind = chess.shift_down(chess.BB_SQUARES[s[10]]) if s[9] else chess.shift_up(chess.BB_SQUARES[s[10]])
            beside = chess.shift_left(behind) | chess.shift_right(behind)
            if beside & s[0] & (s[6] if s[9] else s[7]):
                z[i] ^= _POLYGLOT[772 + s[10] % 8]
        zobrist[:k] = z
    return {"codes": codes, "flags": flags, "rule50": rule50, "ep": ep, "zobrist": zobrist}


def board_of(codes: np.ndarray, flags: int, ep: int) -> chess.Board:
    """The python-chess board of a stored row (64 codes, flag byte, en-passant square): enough
    for its legal moves, which a dataset computes when asked instead of storing them."""
    b = chess.Board(None)
    masks = [int(m) for m in np.packbits(codes[None] == np.arange(1, 13)[:, None], axis=1,
                                         bitorder="little").view("<u8")[:, 0]]
    b.pawns, b.knights, b.bishops, b.rooks, b.queens, b.kings = (masks[i] | masks[i + 6] for i in range(6))
    b.occupied_co[chess.WHITE] = masks[0] | masks[1] | masks[2] | masks[3] | masks[4] | masks[5]
    b.occupied_co[chess.BLACK] = masks[6] | masks[7] | masks[8] | masks[9] | masks[10] | masks[11]
    b.occupied = b.occupied_co[chess.WHITE] | b.occupied_co[chess.BLACK]
    b.turn = not flags & BLACK_TO_MOVE
    b.castling_rights = sum(square for square, bit in _CASTLING_BITS if flags & bit)
    b.ep_square = None if ep == NO_EP else int(ep)
    return b
