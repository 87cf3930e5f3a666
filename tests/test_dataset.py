"""PGN ingestion on real PGN Mentor files: owners, duplicates, splits, encodings, damage."""

import gzip
import json
import subprocess
import sys

import chess
import chess.polyglot
import numpy as np
import pytest
import zstandard

from playas.chess import encoding as enc
from playas.chess.dataset import BOOK_PLIES, ChessData
from playas.chess.prepare import owner_games, prepare
from playas.chess.pgn import NamePattern, iter_game_texts
from playas.core.errors import PlayasError


@pytest.fixture(scope="module")
def pgnmentor(shared_data):
    return shared_data / "chess" / "pgnmentor"


@pytest.fixture(scope="module")
def small(pgnmentor, tmp_path_factory):
    """De la Bourdonnais and McDonnell: ~100 games each, 85 of them against each other."""
    out = tmp_path_factory.mktemp("ds") / "small"
    files = [pgnmentor / "DeLaBourdonnais.pgn.gz", pgnmentor / "McDonnell.pgn.gz"]
    return prepare(files, out, owner_from_filename_=True, workers=2), ChessData(out)


def test_name_patterns_match_header_spellings():
    cases = {("Anand", "Anand, Viswanathan"): True, ("Anand", "Anand,V"): True,
             ("GurevichD", "Gurevich,D"): True, ("GurevichD", "Gurevich,M"): False,
             ("Le", "Le Quang Liem"): True, ("Le", "Levenfish, Grigory"): False,
             ("So", "So,W"): True, ("So", "Sokolov, Ivan"): False,
             ("TorreRepetto", "Carlos Torre Repetto"): True, ("SultanKhan", "Mir Sultan Khan"): True,
             ("DeLaBourdonnais", "De Labourdonnais, Louis"): True,
             ("McDonnell", "MacDonnell, George Alcock"): False, ("WangH", "Wang Yue"): False,
             ("Janowski", "Janowsky, Dawid Markelowicz"): True, ("IvanovA", "Ivanova, X"): False,
             ("GurevichM", "GurevichM (playas model)"): True, ("GurevichM", "GurevichD (playas model)"): False,
             ("Carlsen", "Carlsen, Magnus (NOR)"): True}
    for (pattern, header), want in cases.items():
        assert (NamePattern(pattern).score(header) > 0) == want, (pattern, header)
    assert NamePattern("WangH").score("Wang Hao") > NamePattern("Wang").score("Wang Hao")


def test_prepare_merges_duplicates_and_tracks_both_sides(small):
    manifest, data = small
    assert manifest["players"] == ["DeLaBourdonnais", "McDonnell"]
    assert manifest["duplicates_merged"] >= 80  # their match games sit in both files
    both = (data.games["white"] >= 0) & (data.games["black"] >= 0)
    assert both.sum() >= 80
    assert manifest["games"] == len(data.games) < 101 + 106
    per = manifest["games_per_player"]
    assert sum(per["McDonnell"].values()) >= 95


def test_dataset_planes_equal_live_board_planes(small):
    _, data = small
    checked = 0
    for gi in range(0, len(data.games), 17):
        g = data.games[gi]
        board = chess.Board()
        for row in range(g["first"], g["first"] + g["length"]):
            assert np.array_equal(data.planes(np.array([row]))[0], enc.board_planes(board))
            ply = row - g["first"]
            assert int(data.rows["zobrist"][row]) == (chess.polyglot.zobrist_hash(board) if ply < BOOK_PLIES else 0)
            move = enc.index_to_move(board, int(data.rows["move"][row]))
            assert move in board.legal_moves
            if data.mover[row] >= 0:
                mask = data.legal_mask(np.array([row]))[0]
                assert mask.sum() == board.legal_moves.count()
                assert mask[int(data.rows["move"][row])]
            board.push(move)
            checked += 1
    assert checked > 500


def test_split_is_by_game_and_deterministic(pgnmentor, small, tmp_path):
    manifest, data = small
    again = prepare([pgnmentor / "DeLaBourdonnais.pgn.gz", pgnmentor / "McDonnell.pgn.gz"],
                    tmp_path / "again", owner_from_filename_=True, workers=1)
    assert again["games_per_player"] == manifest["games_per_player"]
    other = prepare([pgnmentor / "DeLaBourdonnais.pgn.gz", pgnmentor / "McDonnell.pgn.gz"],
                    tmp_path / "other", owner_from_filename_=True, seed=7)
    assert other["games_per_player"] != manifest["games_per_player"]
    splits = data.games["split"][data.rows["game"]]
    for gi in range(len(data.games)):
        rows = slice(data.games["first"][gi], data.games["first"][gi] + data.games["length"][gi])
        assert len(set(splits[rows].tolist())) == 1
    t = data.targets("train")
    v = data.targets("test")
    assert not set(data.rows["game"][t].tolist()) & set(data.rows["game"][v].tolist())


def _first_games(path, n):
    return "".join(t for _, t in zip(range(n), iter_game_texts(path)))


def test_plain_crlf_latin1_and_zstd_read_the_same(pgnmentor, tmp_path):
    text = _first_games(pgnmentor / "Tal.pgn.gz", 30)
    text = text.replace("Tal, Mihail", "Tal, Mihaïl", 3)  # a non-ASCII name
    plain = tmp_path / "Tal.pgn"
    plain.write_bytes(text.encode("utf-8"))
    latin = tmp_path / "latin" / "Tal.pgn"
    latin.parent.mkdir()
    latin.write_bytes(text.replace("\n", "\r\n").encode("latin-1"))
    zst = tmp_path / "zst" / "Tal.pgn.zst"
    zst.parent.mkdir()
    zst.write_bytes(zstandard.ZstdCompressor().compress(text.encode("utf-8")))
    results = [prepare([p], tmp_path / f"out{i}", owner_from_filename_=True, workers=1)
               for i, p in enumerate([plain, latin, zst])]
    assert results[0]["games"] == 30
    for r in results[1:]:
        assert (r["games"], r["positions"], r["targets"]) == \
               (results[0]["games"], results[0]["positions"], results[0]["targets"])
    headers = list(ChessData(tmp_path / "out1").headers())
    assert any("Mihaïl" in (h["White"] + h["Black"]) for h in headers)


def test_illegal_move_and_truncated_file_are_skipped_and_counted(pgnmentor, tmp_path):
    games = [t for _, t in zip(range(20), iter_game_texts(pgnmentor / "Tal.pgn.gz"))]
    bad = games[3].replace(" 2.", " 2.Ke5 ", 1)  # an impossible second move for White
    path = tmp_path / "Tal.pgn"
    path.write_text("".join(games[:3] + [bad] + games[4:]))
    m = prepare([path], tmp_path / "o1", owner_from_filename_=True, workers=1)
    assert m["games"] == 19
    assert m["skipped"] == {"illegal or unreadable move": 1}
    blob = gzip.compress("".join(games).encode())
    cut = tmp_path / "cut" / "Tal.pgn.gz"
    cut.parent.mkdir()
    cut.write_bytes(blob[: len(blob) * 2 // 3])
    m = prepare([cut], tmp_path / "o2", owner_from_filename_=True, workers=1)
    assert 5 <= m["games"] < 20
    assert len(m["damaged_files"]) == 1 and "damaged" in m["damaged_files"][0]


def test_players_and_min_games_modes(pgnmentor, tmp_path):
    files = [pgnmentor / "DeLaBourdonnais.pgn.gz"]
    m = prepare(files, tmp_path / "p", players=["De Labourdonnais", "McDonnell"], workers=1)
    assert m["players"] == ["De Labourdonnais", "McDonnell"]
    assert all(sum(v.values()) > 50 for v in m["games_per_player"].values())
    m = prepare(files, tmp_path / "m", min_games=50, workers=1)
    assert "McDonnell, Alexander" in m["players"]
    assert all(sum(v.values()) >= 50 for v in m["games_per_player"].values())


def test_max_games_per_player_samples_uniformly(pgnmentor, tmp_path):
    m = prepare([pgnmentor / "MacKenzie.pgn.gz"], tmp_path / "s", owner_from_filename_=True,
                max_games_per_player=60, workers=1)
    assert 35 <= m["games"] <= 85
    years = ChessData(tmp_path / "s").games["year"]
    assert years.max() - years.min() > 10  # across the career, not the first games


def test_bad_inputs_say_one_sentence(tmp_path, pgnmentor):
    with pytest.raises(PlayasError, match="does not exist"):
        prepare([tmp_path / "nope.pgn"], tmp_path / "o", owner_from_filename_=True)
    with pytest.raises(PlayasError, match="exactly one"):
        prepare([pgnmentor / "McDonnell.pgn.gz"], tmp_path / "o")
    with pytest.raises(PlayasError, match="not a prepared dataset"):
        ChessData(tmp_path)
    r = subprocess.run([sys.executable, "-m", "playas.cli", "chess", "prepare", str(tmp_path / "x.pgn"),
                        "--out", str(tmp_path / "o"), "--owner-from-filename"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"playas: error: PGN file {tmp_path / 'x.pgn'} does not exist"]


def test_a_dataset_of_an_older_format_is_refused_in_one_sentence(small, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(small[1].path, old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["version"] = 1
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PlayasError, match="prepared by an older playas"):
        ChessData(old)


def test_existing_dataset_is_not_overwritten(small, pgnmentor):
    manifest, data = small
    before = (data.path / "manifest.json").read_text()
    with pytest.raises(PlayasError, match="already holds a dataset"):
        prepare([pgnmentor / "McDonnell.pgn.gz"], data.path, owner_from_filename_=True)
    assert (data.path / "manifest.json").read_text() == before


def test_owner_games_are_the_games_prepare_puts_in_a_split(pgnmentor, small):
    """Benchmarks read held-out games from the PGN (owner_games); they must be prepare's split."""
    _, data = small
    pid, g = data.players.index("McDonnell"), data.games
    for split in ("train", "test"):
        mine = ((g["white"] == pid) | (g["black"] == pid)) & (g["split"] == ("train", "val", "test").index(split))
        read = list(owner_games(pgnmentor / "McDonnell.pgn.gz", split, (0.8, 0.1, 0.1)))
        assert len(read) == int(mine.sum()) > 0
        assert sum(c == chess.WHITE for _, c in read) == int((mine & (g["white"] == pid)).sum())
