"""Think time: reading it off real clocks, learning it, and spending it safely."""

import itertools
import math
from pathlib import Path

import chess
import numpy as np
import pytest

from playas.chess.limits import ClockLog, Limits
from playas.chess.thinktime import Moment, ThinkTime, thoughts_from_pgn
from playas.core.errors import PlayasError


@pytest.fixture(scope="module")
def titled(shared_data):
    return shared_data / "chess" / "titled-tuesday" / "titled-tuesday-2014.pgn.gz"


@pytest.fixture(scope="module")
def thoughts(titled):
    return list(itertools.islice(thoughts_from_pgn(titled), 8_000))


def test_spent_is_read_off_the_clocks_of_a_real_game(titled):
    from playas.chess.pgn import iter_game_texts, mainline, read_tags

    g, text = next((g, t) for g, t in enumerate(iter_game_texts(titled)) if t.count("%clk") > 10)
    tags, movetext = read_tags(text)
    base, inc = map(float, tags["TimeControl"].split("+"))
    _, clocks = mainline(movetext)
    first = [t for t in itertools.islice(thoughts_from_pgn(titled), 2000) if t.game == g][:6]
    assert [t.player for t in first[:2]] == [tags["White"], tags["Black"]]
    assert first[0].spent == pytest.approx(base + inc - clocks[0])
    assert first[2].spent == pytest.approx(clocks[0] + inc - clocks[2])  # White's second move
    assert first[2].moment.clock == pytest.approx(clocks[0]) and first[2].moment.opponent_clock == pytest.approx(clocks[1])
    assert first[2].moment.own_spent == pytest.approx(first[0].spent)
    assert first[2].moment.opponent_spent == pytest.approx(first[1].spent)


def test_a_fitted_model_learns_what_people_do(thoughts, tmp_path):
    model = ThinkTime.fit(thoughts)
    path = tmp_path / "t.json"
    model.save(path)
    again = ThinkTime.load(path)
    board = chess.Board()
    for san in ["e4", "e5", "Nf3", "Nc6", "Bb5", "a6"]:
        board.push_san(san)
    opening = Moment(board, 170, 170, 180, 2, opponent_spent=2, own_spent=2)
    at_18 = chess.Board(board.fen().rsplit(" ", 1)[0] + " 18")  # the same position at move 18
    middle = Moment(at_18, 120, 120, 180, 2, opponent_spent=2, own_spent=2)
    t_open, t_mid = again.predict([opening, middle])
    assert t_mid > 1.25 * t_open  # at the same recent pace, people think longer at move 18 than at move 4
    assert np.allclose(again.predict([middle]), model.predict([middle]))
    draws = [again.seconds(middle, np.random.default_rng(i)) for i in range(200)]
    assert min(draws) < t_mid < max(draws) and abs(math.log(np.median(draws) / t_mid)) < 0.3
    # learned from 3+2 alone, it scales to other time controls by their nominal length
    for base, inc in [(60, 0), (180, 0), (600, 5), (900, 10)]:
        other = Moment(at_18, base * 2 / 3, base * 2 / 3, base, inc, opponent_spent=2 * base / 180,
                       own_spent=2 * base / 180)
        share = again.predict([other])[0] / other.nominal
        assert 0.5 < share / (t_mid / middle.nominal) < 2, (base, inc)


def test_too_few_moves_and_a_bad_file_are_refused(thoughts, tmp_path):
    with pytest.raises(PlayasError, match="too few"):
        ThinkTime.fit(thoughts[:10])
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": 99}')
    with pytest.raises(PlayasError, match="another format"):
        ThinkTime.load(bad)


def test_the_clock_log_reads_each_sides_last_think():
    log = ClockLog()
    assert log.see(0, 180, 180, 2, 2) == (180, None, None)
    # we spent 3 s (+2 increment), they spent 5 s (+2)
    assert log.see(2, 179, 177, 2, 2) == (180, pytest.approx(3), pytest.approx(5))
    assert log.see(5, 100, 90, 2, 2)[1:] == (None, None)  # a jump: nothing to read
    assert log.see(1, 60, 60, 0, 0) == (60, None, None)  # back to the start: a new game


def test_a_think_never_risks_the_clock():
    lim = Limits(wtime=10_000, btime=10_000, winc=1000, binc=1000)
    assert lim.budget(True, 50, think=1.0) == pytest.approx(0.95)
    assert lim.budget(True, 50, think=60.0) == pytest.approx(3.2)  # a quarter of what is left and 3/4 of the increment
    lim = Limits(wtime=10_000, btime=10_000)
    assert lim.budget(True, 50, think=60.0) == pytest.approx(0.45)  # no increment: a twentieth, less overhead
    assert Limits(wtime=1000, winc=2000).budget(True, 0, think=60.0) == pytest.approx(0.5)  # never half the clock
    assert Limits(movetime=700, wtime=10_000).budget(True, 100, think=60.0) == pytest.approx(0.6)  # UCI's movetime
    assert Limits().budget(True, 50, think=1.0) is None  # no clock, no budget
    assert Limits(wtime=60_000, btime=60_000).budget(True, 0) == pytest.approx(2.0)  # engines' slice, as before


SHIPPED = Path(__file__).resolve().parents[1] / "models" / "thinktime.json"


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped think-time model")
def test_the_shipped_model_hurries_when_short_of_time_and_thinks_where_people_do():
    from playas.chess.engine import Engine

    engine = Engine(Path(__file__).resolve().parents[1] / "models" / "maia-1900.pt", thinktime=SHIPPED)
    board = chess.Board()
    for san in "e4 c5 Nf3 d6 d4 cxd4 Nxd4 Nf6 Nc3 a6 Be3 e5 Nb3 Be6 f3 Be7 Qd2 O-O O-O-O Nbd7 g4 b5".split():
        board.push_san(san)
    at = lambda own, other: engine.think_time(board, Limits(wtime=own * 1000, btime=other * 1000, winc=2000,  # noqa: E731
                                                            binc=2000), base=180, own_spent=3, opponent_spent=3)
    calm, hurried = at(120, 120), at(10, 120)
    assert 1 < calm < 30 and hurried < calm / 2
    forced = chess.Board("8/8/8/8/8/5k2/r7/4K3 b - - 0 59")
    forced.push_san("Ra1+")  # one legal reply (Kd2): people play it at once
    assert engine.think_time(forced, Limits(wtime=60_000, btime=60_000, winc=2000, binc=2000), base=180,
                             own_spent=3, opponent_spent=3) < calm / 2
    assert engine.think_time(board, Limits()) is None  # no clock, no think
