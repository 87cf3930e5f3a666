"""Streaming a Lichess-style database dump (.pgn.zst of online games with clocks and usernames)
through prepare: shards, filters, clocks and ratings kept, resume after a kill, append."""

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time

import chess.pgn
import numpy as np
import pytest
import zstandard

from playas.chess import encoding as enc
from playas.chess.dataset import BOOK_PLIES, ChessData
from playas.chess.prepare import GameFilter, Matcher, encode_game, prepare, speed
from playas.core.errors import PlayasError


@pytest.fixture(scope="module")
def dumps(shared_data, tmp_path_factory):
    """The Titled Tuesday games of 2014 and of 2015 as two zstd-compressed PGN dumps."""
    folder = tmp_path_factory.mktemp("dumps")
    out = {}
    for year in (2014, 2015):
        text = gzip.decompress((shared_data / "chess" / "titled-tuesday" / f"titled-tuesday-{year}.pgn.gz").read_bytes())
        out[year] = folder / f"titled-tuesday-{year}.pgn.zst"
        out[year].write_bytes(zstandard.ZstdCompressor(level=3).compress(text))
    return out


@pytest.fixture(scope="module")
def stream(dumps, tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "tt"
    return prepare([dumps[2015]], out, min_games=20, shard_games=700, workers=2), ChessData(out)


def test_a_dump_streams_into_shards_with_usernames_clocks_and_ratings(stream, dumps):
    m, data = stream
    assert m["complete"] and len(m["shards"]) >= 4
    assert m["games"] > 3000 and m["positions"] == len(data) == sum(s["positions"] for s in m["shards"])
    assert "Hikaru" in data.players and all(" " not in n for n in data.players)  # usernames, as written
    headers = list(data.headers())
    assert len(headers) == len(data.games)
    # Clocks and ratings are kept: compare with python-chess reading the same games.
    with zstandard.ZstdDecompressor().stream_reader(open(dumps[2015], "rb")) as r:
        f = io.TextIOWrapper(r, encoding="utf-8")
        by_key = {}
        while (g := chess.pgn.read_game(f)) is not None and len(by_key) < 400:
            by_key[(g.headers["White"], g.headers["Black"], g.headers.get("EndTime"), g.headers["Date"])] = g
    checked = 0
    for gi, h in enumerate(headers[:600]):
        g = data.games[gi]
        assert (g["base"], g["increment"]) == (180, 2) and g["rated"] == 1
        assert g["white_elo"] == int(h["WhiteElo"]) and g["black_elo"] == int(h["BlackElo"])
        ref = [k for k in by_key if k[0] == h["White"] and k[1] == h["Black"] and k[3] == h["Date"]]
        if len(ref) != 1:
            continue
        clocks = [n.clock() for n in by_key[ref[0]].mainline()]
        got = data.rows["clock"][g["first"]:g["first"] + g["length"]]
        assert np.allclose(got, [-1 if c is None else c for c in clocks], atol=1e-3)
        checked += 1
    assert checked > 100


def enc_names(text):
    h = chess.pgn.read_headers(io.StringIO(text))
    return h["White"], h["Black"]


def test_rows_equal_python_chess_board_by_board(dumps):
    """The fast reader (SAN to board, rows made with numpy) against python-chess's own game tree."""
    with zstandard.ZstdDecompressor().stream_reader(open(dumps[2014], "rb")) as r:
        text = io.TextIOWrapper(r, encoding="utf-8").read()
    texts = ["[Event" + t for t in text.split("\n[Event")[1:]][:300]
    everyone = Matcher([], {n: 0 for t in texts for n in enc_names(t)})
    compared = 0
    for t in texts:
        game = chess.pgn.read_game(io.StringIO(t))
        if not list(game.mainline_moves()):
            continue
        rows, meta = encode_game(t, everyone)
        board = game.board()
        codes = enc.unpack_codes(rows["codes"])
        for i, node in enumerate(game.mainline()):
            assert np.array_equal(codes[i], enc.position_codes(board))
            rep = board.is_repetition(2) and enc._occurred_before(board)
            assert rows["flags"][i] == enc.position_flags(board, rep)
            assert rows["zobrist"][i] == (chess.polyglot.zobrist_hash(board) if i < BOOK_PLIES else 0)
            assert rows["ep"][i] == (enc.NO_EP if board.ep_square is None else board.ep_square)
            assert rows["move"][i] == enc.move_to_index(board, node.move)
            assert rows["clock"][i] == pytest.approx(node.clock() if node.clock() is not None else -1, abs=1e-3)
            board.push(node.move)
            compared += 1
    assert compared > 20_000


def test_filters_by_rating_speed_and_rated(dumps, tmp_path):
    assert speed(180, 2) == "blitz" and speed(60, 0) == "bullet" and speed(900, 10) == "rapid"
    assert speed(15, 0) == "ultrabullet" and speed(5400, 30) == "classical" and speed(-1, -1) == "correspondence"
    band = prepare([dumps[2014]], tmp_path / "band", min_games=5, keep=GameFilter(min_rating=2300, max_rating=2700),
                   workers=1)
    g = ChessData(tmp_path / "band").games
    assert band["filtered"] > 0 and g["white_elo"].min() >= 2300 and g["black_elo"].max() <= 2700
    with pytest.raises(PlayasError, match="no player has 5 or more games"):
        prepare([dumps[2014]], tmp_path / "bullet", min_games=5, keep=GameFilter(speeds=("bullet",)), workers=1)
    rated = prepare([dumps[2014]], tmp_path / "rated", min_games=5, keep=GameFilter(rated_only=True), workers=1)
    assert rated["filtered"] == 0  # Titled Tuesday games are all rated


def test_rank_parts_split_the_targets(stream):
    _, data = stream
    whole = data.targets("train")
    for world in (2, 3, 7):  # fewer and more ranks than shards
        parts = [ChessData(data.path, part=(r, world)) for r in range(world)]
        got = [p.targets("train") for p in parts]
        assert sum(len(x) for x in got) == len(whole)
        moves = np.sort(np.concatenate([np.asarray(p.rows["move"][x]) for p, x in zip(parts, got)]))
        assert np.array_equal(moves, np.sort(np.asarray(data.rows["move"][whole])))


def test_prepare_resumes_after_a_kill_and_ends_equal(dumps, tmp_path):
    cmd = [sys.executable, "-m", "playas", "chess", "prepare", str(dumps[2015]), "--out", str(tmp_path / "k"),
           "--min-games", "20", "--shard-games", "300", "--workers", "1"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    manifest = tmp_path / "k" / "manifest.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (manifest.exists() and len(json.loads(manifest.read_text())["shards"]) >= 2):
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert not json.loads(manifest.read_text())["complete"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "resuming the unfinished run" in r.stdout
    once = prepare([dumps[2015]], tmp_path / "once", min_games=20, shard_games=300, workers=2)
    resumed = json.loads(manifest.read_text())
    for k in ("games", "positions", "targets", "players", "games_per_player", "skipped"):
        assert resumed[k] == once[k], k
    a, b = ChessData(tmp_path / "k"), ChessData(tmp_path / "once")
    for k in ("codes", "move", "clock", "game"):
        assert np.array_equal(np.asarray(a.rows[k]), np.asarray(b.rows[k])), k
    assert np.array_equal(a.games, b.games)


def test_next_month_appends_and_the_same_input_is_refused(dumps, tmp_path):
    out = tmp_path / "a"
    first = prepare([dumps[2015]], out, min_games=20, shard_games=1000, workers=2)
    both = prepare([dumps[2014]], out, min_games=20, shard_games=1000, workers=2, append=True)
    alone = prepare([dumps[2014]], tmp_path / "b", min_games=1, shard_games=1000, workers=2)
    assert both["games"] > first["games"] and both["players"][:len(first["players"])] == first["players"]
    assert len(both["shards"]) > len(first["shards"])
    assert ChessData(out).games.shape[0] == both["games"]
    with pytest.raises(PlayasError, match="already in"):
        prepare([dumps[2014]], out, min_games=20, shard_games=1000, append=True)
    with pytest.raises(PlayasError, match="was made with"):
        prepare([dumps[2014]], out, min_games=20, shard_games=500, append=True)
    with pytest.raises(PlayasError, match="already holds a dataset"):
        prepare([dumps[2014]], out, min_games=20, shard_games=1000)
    assert alone["games"] >= both["games"] - first["games"]


def test_cli_filters_append_and_a_bad_speed(dumps, tmp_path):
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "playas", "chess", "prepare", "--out", str(out), "--min-games", "10",
           "--speed", "blitz", "--rated-only", "--min-rating", "2000", "--shard-games", "400"]
    r = subprocess.run(cmd + [str(dumps[2014])], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "shards" in r.stdout and "filtered: rating" in r.stdout
    r = subprocess.run(cmd + [str(dumps[2015]), "--append"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "manifest.json").read_text())["inputs"][1]["done"]
    before = (out / "manifest.json").read_text()
    r = subprocess.run(cmd[:-2] + ["--shard-games", "400", "--speed", "hyperbullet", str(dumps[2014])],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "is not a list of speeds" in r.stderr
    r = subprocess.run(cmd + [str(dumps[2014]), "--append"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().endswith("a dataset takes each input once")
    assert (out / "manifest.json").read_text() == before  # nothing already written is lost


def test_a_cut_off_dump_keeps_its_games_and_says_so(dumps, tmp_path):
    cut = tmp_path / "cut.pgn.zst"
    cut.write_bytes(dumps[2014].read_bytes()[:200_000])  # a download that stopped part-way
    m = prepare([cut], tmp_path / "c", min_games=1, workers=1)
    assert m["games"] > 100 and m["skipped"].get("truncated file") == 1
    assert m["damaged_files"] == [f"{cut} is damaged (compressed file ended before the end of the stream)"]
