"""Importing lc0/Maia-1 networks: the published sanity values, bad files, a checkpoint round trip."""

import gzip
import struct
import time

import chess
import pytest
import torch

from playas.chess.encoding import board_planes, move_to_index
from playas.chess.lc0 import LICENCE, card_for, import_lc0
from playas.chess.model import load_model, save_model
from playas.core.errors import PlayasError

ELOS = range(1100, 2000, 100)


@pytest.fixture(scope="module")
def maia(shared_data):
    folder = shared_data / "chess" / "maia"
    if not folder.is_dir():
        pytest.skip(f"Maia networks folder {folder} is absent")
    return folder


@pytest.fixture(scope="module")
def maia1900(maia):
    return import_lc0(maia / "maia-1900.pb.gz")


def legal_probs(net, board: chess.Board) -> dict[str, float]:
    """Softmax over the legal moves' logits only, keyed by SAN."""
    with torch.no_grad():
        logits, _ = net(torch.from_numpy(board_planes(board))[None])
    moves = list(board.legal_moves)
    p = torch.softmax(logits[0, [move_to_index(board, m) for m in moves]], 0)
    return {board.san(m): p[i].item() for i, m in enumerate(moves)}


def top(probs: dict[str, float], n: int) -> list[str]:
    return sorted(probs, key=probs.get, reverse=True)[:n]


def board_after(sans: str) -> chess.Board:
    board = chess.Board()
    for san in sans.split():
        board.push_san(san)
    return board


@pytest.mark.parametrize("elo", [1100, 1500, 1900])
def test_maia_loads(maia, elo):
    net = import_lc0(maia / f"maia-{elo}.pb.gz")
    assert not net.training
    c = net.config
    assert (c.blocks, c.filters, c.se_ratio, c.value_channels, c.value_hidden) == (6, 64, 8, 32, 128)
    assert all(torch.isfinite(p).all() for p in net.state_dict().values() if p.is_floating_point())


def test_start_position(maia1900):
    p = legal_probs(maia1900, chess.Board())
    for san, expected in {"e4": 0.56, "d4": 0.29, "c4": 0.05, "Nf3": 0.04}.items():
        assert p[san] == pytest.approx(expected, abs=0.02), san


def test_replies_to_e4(maia1900):
    assert top(legal_probs(maia1900, board_after("e4")), 3) == ["c5", "e5", "e6"]


def test_black_to_move(maia1900):
    # 1.e4 e5 2.Nf3: Black defends the pawn; the value is near even from Black's side.
    board = board_after("e4 e5 Nf3")
    p = legal_probs(maia1900, board)
    assert top(p, 1) == ["Nc6"] and p["Nc6"] > 0.5
    with torch.no_grad():
        _, wdl = maia1900(torch.from_numpy(board_planes(board))[None])
    win, _, loss = torch.softmax(wdl[0], 0).tolist()
    assert abs(win - loss) < 0.2
    # Closed Ruy Lopez: castling (scored as king takes rook) is Black's most likely move.
    assert top(legal_probs(maia1900, board_after("e4 e5 Nf3 Nc6 Bb5 a6 Ba4 Nf6 O-O Be7 Re1 b5 Bb3 d6 c3")),
               1) == ["O-O"]


def test_fen_position_fills_history(maia1900):
    # Set up from a FEN, the history repeats the position (lc0's default), so the net stays sensible.
    board = chess.Board("rnbqkbnr/pppp1ppp/8/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R b KQkq - 1 2")
    assert top(legal_probs(maia1900, board), 1) == ["Nc6"]


@pytest.mark.parametrize("elo", ELOS)
def test_all_nets_import(maia, elo):
    start = time.perf_counter()
    net = import_lc0(maia / f"maia-{elo}.pb.gz")
    assert time.perf_counter() - start < 5  # about 0.1 s; generous for a loaded machine
    assert top(legal_probs(net, chess.Board()), 2) == ["e4", "d4"]


def test_card(maia, maia1900):
    card = card_for(maia / "maia-1900.pb.gz", maia1900)
    assert card["source"] == "maia-1900.pb.gz"
    assert len(card["sha256"]) == 64
    assert card["lc0_format"]["weights_encoding"] == "LINEAR16"
    assert card["lc0_format"]["policy"] == "convolutional"
    assert card["training_params"]["accuracy"] == pytest.approx(52.97, abs=0.01)
    assert card["network"]["blocks"] == 6 and card["network"]["filters"] == 64
    assert card["licence"] == LICENCE


def test_round_trip(tmp_path, maia, maia1900):
    path = tmp_path / "maia-1900.pt"
    save_model(path, maia1900, card_for(maia / "maia-1900.pb.gz", maia1900))
    net, blob = load_model(path)
    assert blob["card"]["source"] == "maia-1900.pb.gz"
    x = torch.from_numpy(board_planes(board_after("d4 Nf6 c4 e6")))[None]
    with torch.no_grad():
        for a, b in zip(maia1900(x), net(x)):
            assert torch.equal(a, b)


# --- bad files ------------------------------------------------------------------------------

def raises_one_sentence(path, match):
    with pytest.raises(PlayasError, match=match) as e:
        import_lc0(path)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_missing_file(tmp_path):
    raises_one_sentence(tmp_path / "nope.pb.gz", "does not exist")


def test_directory(tmp_path):
    raises_one_sentence(tmp_path, "directory")


def test_text_file(tmp_path):
    path = tmp_path / "notes.pb.gz"
    path.write_text("this is not a network\n")
    raises_one_sentence(path, "not gzip-compressed")


def test_truncated_gzip(tmp_path, maia):
    data = (maia / "maia-1100.pb.gz").read_bytes()
    path = tmp_path / "cut.pb.gz"
    path.write_bytes(data[: len(data) // 2])
    raises_one_sentence(path, "truncated or corrupt")


def test_damaged_gzip(tmp_path, maia):
    data = bytearray((maia / "maia-1100.pb.gz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "damaged.pb.gz"
    path.write_bytes(data)
    raises_one_sentence(path, "truncated or corrupt")


def test_truncated_protobuf(tmp_path, maia):
    data = gzip.decompress((maia / "maia-1100.pb.gz").read_bytes())
    path = tmp_path / "cut.pb.gz"
    path.write_bytes(gzip.compress(data[:-1000]))
    raises_one_sentence(path, "truncated or corrupt")


def test_gzip_of_something_else(tmp_path):
    path = tmp_path / "other.pb.gz"
    path.write_bytes(gzip.compress(b"hello, world " * 100))
    raises_one_sentence(path, "not an lc0 network")


# A minimal protobuf writer, to build headers of networks the importer must refuse.

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _msg(**fields) -> bytes:
    """``f3=5`` is a varint field 3, ``f2=b"..."`` a length-delimited field 2."""
    out = b""
    for name, value in fields.items():
        number = int(name[1:])
        if isinstance(value, bytes):
            out += _varint(number << 3 | 2) + _varint(len(value)) + value
        else:
            out += _varint(number << 3) + _varint(value)
    return out


def _net(encoding=1, **network_format) -> bytes:
    fmt = {"f1": 1, "f3": 4, "f4": 2, "f5": 2} | network_format
    magic = _varint(1 << 3 | 5) + struct.pack("<I", 0x1C0)
    return gzip.compress(magic + _msg(f4=_msg(f1=encoding, f2=_msg(**fmt))))


@pytest.mark.parametrize("header, match", [
    (_net(encoding=0), "LINEAR16"),
    (_net(f1=3), "classical 112 planes"),
    (_net(f3=3), "SE residual"),
    (_net(f4=1), "convolutional policy"),
    (_net(f5=1), "WDL value"),
    (_net(f7=1), "ReLU"),
])
def test_unsupported_format(tmp_path, header, match):
    path = tmp_path / "odd.pb.gz"
    path.write_bytes(header)
    raises_one_sentence(path, match)


def test_header_without_weights(tmp_path):
    path = tmp_path / "empty.pb.gz"
    path.write_bytes(_net())
    raises_one_sentence(path, "no residual blocks")
