"""Endings: how real games ended, and the resign and draw rules learned from them."""

import itertools
from pathlib import Path

import chess
import numpy as np
import pytest

from playas.chess import endings as en
from playas.core.errors import PlayasError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def titled(shared_data):
    return shared_data / "chess" / "titled-tuesday" / "titled-tuesday-2015.pgn.gz"


@pytest.fixture(scope="module")
def policy():
    from playas.chess.policy import Policy

    return Policy.load(ROOT / "models" / "population-197.pt")


@pytest.fixture(scope="module")
def games(titled, policy):
    """80 finished games of real blitz with the population network's view of every position."""
    games = list(itertools.islice(en.endings_from_pgn(titled), 80))
    en.add_values(games, policy)
    return games


def test_how_games_ended_is_read_from_the_termination_tag_and_the_board(titled):
    from playas.chess.pgn import iter_game_texts, read_tags

    seen = {}
    for text, e in zip(iter_game_texts(titled), en.endings_from_pgn(titled, min_plies=0)):
        tags, _ = read_tags(text)
        seen.setdefault(e.how, tags.get("Termination", ""))
        if len(seen) == 5:
            break
    assert "desist" in seen["resigned"] and "tempo" in seen["time"] and "mate" in seen["mate"]
    assert "acordo" in seen["agreed"]
    board = chess.Board("8/8/8/8/8/8/k7/6K1 w - - 0 60")  # bare kings, no tag: drawn by rule
    assert en.how_it_ended({"Result": "1/2-1/2"}, board) == "drawn"
    assert en.how_it_ended({"Result": "1/2-1/2"}, chess.Board()) == "agreed"
    assert en.how_it_ended({"Result": "0-1"}, chess.Board()) == "resigned"  # PGN Mentor: no tag, not mate


def test_values_follow_the_game_to_its_end(games):
    resigned = [e for e in games if e.how == "resigned"]
    assert len(resigned) > 20 and all(len(e.value) == e.plies + 1 for e in games)
    # at the position a person resigned in, the network sees them lost far more often than at move 5
    final = [e.value[e.turns(e.loser())][-1] for e in resigned]
    early = [e.value[e.turns(e.loser())][5] for e in resigned]
    assert np.median(final) < -0.5 < np.median(early)


def test_rules_need_the_run_of_turns_and_the_ply():
    rule = en.Resign(value=-0.8, moves=2, min_ply=20)
    assert rule.fires([-0.9, -0.7, -0.9, -0.95], [20, 22, 24, 26]).tolist() == [False, False, False, True]
    assert not rule.fires([-0.9, -0.95], [14, 16]).any()  # too early in the game
    draw = en.OfferDraw(draw=0.9, moves=1, min_ply=40)
    e = en.Endings(rule, draw)
    assert e.should_offer_draw(chess.Board("8/8/8/8/8/8/k7/6K1 w - - 0 60"), [])  # dead: at once
    assert not e.should_offer_draw(chess.Board(), [0.95])  # the start: no
    # a claimable repetition is offered, unless the mover is clearly better and plays on to win
    rep = chess.Board("8/8/8/8/8/5k2/8/R5K1 w - - 0 60")
    for m in ("a1a2", "f3e3", "a2a1", "e3f3") * 2:
        rep.push_uci(m)
    assert rep.can_claim_draw() and not rep.is_insufficient_material()
    assert e.should_offer_draw(rep, [0.1], value=0.0) and e.should_offer_draw(rep, [0.1])
    assert not e.should_offer_draw(rep, [0.1], value=0.9)
    assert e.should_resign([-0.9, -0.9], ply=30) and not e.should_resign([-0.5, -0.9], ply=30)


def test_a_learned_rule_resigns_where_people_do_and_keeps_saved_games(games, tmp_path):
    rule = en.fit_resign(games, max_false=0.0)
    s = en.score_resign(rule, games)
    assert s.false == 0.0 and s.where > 0.15  # no side that drew or won resigned; some resign where the person did
    worse = en.score_resign(en.Resign(-0.2, 1, 20), games)
    assert worse.false > 0  # the check can fail: a timid rule resigns games people saved
    model = en.Endings(rule, en.fit_draw(games), {"games": len(games)})
    model.save(tmp_path / "e.json")
    again = en.Endings.load(tmp_path / "e.json")
    assert again.resign == rule and again.card["games"] == len(games)
    (tmp_path / "bad.json").write_text('{"format": 99}')
    with pytest.raises(PlayasError, match="another format"):
        en.Endings.load(tmp_path / "bad.json")


def test_a_searching_rule_reads_its_search_only_in_bad_positions(games, policy):
    from playas.chess.search import search

    e = next(e for e in games if e.how == "resigned" and e.loser() == e.first ^ (e.plies % 2 == 1)
             and e.value[-1] <= -0.7)  # the loser is to move in the final position, and it reads lost
    board = chess.Board(e.fen)
    for san in e.sans:
        board.push_san(san)
    rule = en.Resign(nodes=16)
    searched = rule.reads(policy, board, e.value[-1])
    assert searched == pytest.approx(-search(policy, board, 16).root.q) and searched != e.value[-1]
    assert en.Resign().reads(policy, board, e.value[-1]) == e.value[-1]  # no nodes: the value head
    assert rule.reads(policy, chess.Board(), 0.05) == 0.05  # not a bad position: no search
    few = games[:20]
    en.add_searched(few, policy, rule)
    changed = [i for g in few for i in np.flatnonzero(g.searched != g.value)]
    assert changed and all(g.searched[i] == g.value[i] for g in few for i in range(en.MIN_PLY))
    assert en.fit_resign(few, max_false=0.0, what="searched", nodes=16).nodes == 16


def test_the_shipped_rules_are_the_learned_ones():
    from playas.chess.engine import shipped_endings

    model = shipped_endings()
    assert model.card.get("games", 0) >= 1000 and -1 < model.resign.value < -0.3
    assert model.card["resign_false"] <= 0.01
