"""The chess move interface (playas.chess.engine) that every bot calls: temperature, seed, nodes,
typed scores, styles kept per style string, and the bots' keeping to it."""

import io
import re
import threading
from pathlib import Path

import chess
import numpy as np
import pytest
from chess.engine import Cp, Mate, PovScore

from playas.bots.uci import UciEngine, uci_score
from playas.chess.engine import Engine, temperature_weights
from playas.chess.limits import Limits
from playas.chess.play import StylePlayer
from playas.chess.policy import Policy
from playas.core.errors import PlayasError

ROOT = Path(__file__).resolve().parents[1]
MAIA = ROOT / "models" / "maia-1900.pt"
MATE_IN_ONE = "6k1/5ppp/8/8/8/8/5PPP/R5K1 w - - 0 1"  # Ra8#
OPENING = ["e4", "e5", "Nf3", "Nc6", "Bc4", "Bc5", "c3", "Nf6"]


@pytest.fixture(scope="module")
def engine():
    return Engine(MAIA)


def positions() -> list[chess.Board]:
    board, out = chess.Board(), [chess.Board()]
    for san in OPENING:
        board.push_san(san)
        out.append(board.copy())
    return out


def test_temperature_zero_plays_the_policys_most_likely_move(engine):
    for board in positions():
        top = engine.policy().analyse(board).moves[0]
        choices = [engine.search(board, temperature=0) for _ in range(3)]
        assert {c.move for c in choices} == {top} and choices[0].temperature == 0
        assert choices[0].nodes == 1 and choices[0].lines[0].visits is None


def test_a_seed_reproduces_the_moves(engine):
    def moves(e):
        return [e.search(b).move for b in positions() for _ in range(3)]

    a, b = Engine(MAIA, seed=11), Engine(MAIA, seed=11)
    first = moves(a)
    assert first == moves(b) and a.search(chess.Board()).seed == 11
    assert first != moves(Engine(MAIA, seed=12))
    a.reseed(11)
    assert moves(a) == first
    rng = np.random.default_rng(5)  # a caller's own generator: the engine's seed does not apply
    assert engine.search(chess.Board(), rng=rng).seed is None


def test_top_p_draws_only_from_the_likeliest_moves(engine):
    log_p = np.log([0.5, 0.3, 0.15, 0.05])
    assert np.allclose(temperature_weights(log_p, 1.0, 0.8), [0.625, 0.375, 0, 0])  # 0.5 + 0.3 reach 0.8
    assert np.allclose(temperature_weights(log_p, 1.0, 0.81), [0.5, 0.3, 0.15, 0] / np.float64(0.95))
    assert np.allclose(temperature_weights(log_p, 1.0, 0.0), [1, 0, 0, 0])  # the likeliest alone
    assert np.allclose(temperature_weights(log_p, 1.0, 1.0), [0.5, 0.3, 0.15, 0.05])
    board = positions()[3]
    an = engine.policy().analyse(board)
    nucleus = set(an.moves[: int(np.searchsorted(np.cumsum(an.probs), 0.6)) + 1])
    assert len(nucleus) < len(an.moves)
    drawn = {Engine(MAIA, seed=s, top_p=0.6).search(board).move for s in range(40)}
    assert drawn <= nucleus and len(drawn) >= min(2, len(nucleus))
    wide = {engine.search(board, rng=np.random.default_rng(s)).move for s in range(40)}
    assert wide - nucleus  # without top-p the tail is drawn too
    tree = {engine.search(board, Limits(nodes=32), top_p=0.0, rng=np.random.default_rng(s)).move for s in range(4)}
    assert len(tree) == 1  # from the visits, too: top-p 0 is the most visited move


def test_past_the_cutoff_move_the_engine_plays_its_best_move():
    board = chess.Board("r1bq1rk1/pp2bppp/2n1pn2/3p4/2PP4/2N2N2/PP2BPPP/R2QKB1R w KQ - 0 12")  # move 12
    early = board.copy()
    early.fullmove_number = 5
    e = Engine(MAIA)  # temperature 1 until move 10, then 0 (lc0's TempCutoffMove, TempEndgame)
    top = e.policy().analyse(board).moves[0]
    late = [e.search(board, rng=np.random.default_rng(s)) for s in range(12)]
    assert {c.move for c in late} == {top} and all(c.temperature == 0 for c in late)
    assert len({e.search(early, rng=np.random.default_rng(s)).move for s in range(24)}) > 1  # the opening: sampled
    never = {e.search(board, temp_cutoff_move=0, rng=np.random.default_rng(s)).move for s in range(24)}
    assert len(never) > 1  # no cutoff: sampled all game long
    assert Engine(MAIA, temp_endgame=1.0).search(board).temperature == 1.0


def test_nodes_search_a_tree_and_report_it(engine):
    board = chess.Board()
    c = engine.search(board, Limits(nodes=24), multipv=3)
    assert c.nodes == 24 and c.depth >= 1 and c.seldepth >= c.depth and len(c.lines) == 3
    assert sum(line.visits for line in c.lines) <= 23 and c.lines[0].pv[0] == c.move
    assert all(isinstance(line.score.relative, Cp) for line in c.lines) and not board.move_stack
    stopped = engine.search(board, Limits(nodes=10_000), stop=lambda: True)
    assert stopped.nodes == 1 and stopped.move in board.legal_moves  # the root is always evaluated
    searching = Engine(MAIA, nodes=16)
    assert searching.search(board).nodes == 16 and searching.search(board, Limits(nodes=1)).nodes == 1


def test_scores_are_typed_and_a_mate_in_one_is_mate(engine):
    board = chess.Board(MATE_IN_ONE)
    ra8 = chess.Move.from_uci("a1a8")
    one = engine.search(board, root_moves=[ra8])
    assert one.move == ra8 and one.lines[0].score == PovScore(Mate(1), chess.WHITE)
    assert isinstance(one.score.relative, Cp)  # the position before the move: the value head's view
    several = engine.search(board, multipv=4, temperature=0, root_moves=[ra8, chess.Move.from_uci("a1d1")])
    assert [line.score.relative for line in several.lines][0] == Mate(1) and several.lines[0].wdl.relative.wins == 1000
    assert isinstance(several.lines[1].score.relative, Cp) and sum(several.lines[1].wdl.relative) == 1000
    tree = engine.search(board, Limits(nodes=48), temperature=0)
    assert tree.move == ra8 and tree.lines[0].score.relative == Mate(1)
    judged = engine.judge(chess.Board())
    assert isinstance(judged.score.relative, Cp) and sum(judged.wdl.relative) == 1000


def test_a_move_and_its_judgement_take_one_pass_through_the_network():
    policy = Policy.load(MAIA)
    passes = []
    logits = policy.logits
    policy.logits = lambda planes, ply=0: passes.append(len(planes)) or logits(planes, ply)
    board = positions()[4]
    first = policy.analyse(board)
    assert policy.analyse(board) is first and passes == [1]  # the move, then the resignation check
    board.push(first.moves[0])
    after = policy.analyse(board)
    assert passes == [1, 1] and after.moves != first.moves
    board.pop()
    assert policy.analyse(board).moves == first.moves and passes == [1, 1, 1]  # only the last is kept


def test_uci_writes_the_typed_scores():
    assert uci_score(PovScore(Mate(1), chess.WHITE)) == "mate 1"
    assert uci_score(PovScore(Mate(-2), chess.BLACK)) == "mate -2"
    assert uci_score(PovScore(Cp(-35), chess.BLACK)) == "cp -35"
    out = io.StringIO()
    uci = UciEngine(MAIA, out=out)
    for line in ["isready", f"position fen {MATE_IN_ONE}", "go nodes 1 searchmoves a1a8", "isready",
                 "position startpos", "go nodes 1", "isready"]:
        uci.handle(line)
    uci._finish()
    text = out.getvalue()
    assert "score mate 1" in text and "bestmove a1a8" in text
    assert re.search(r"multipv 1 score cp -?\d+ nodes 1 ", text)


def test_styles_are_kept_per_style_string_and_refused_on_a_plain_model(engine):
    assert engine.policy() is engine.policy("") is engine.policy(None, {})
    with pytest.raises(PlayasError, match="no style table"):
        engine.policy("Tal")
    with pytest.raises(PlayasError, match="no style table"):
        engine.search(chess.Board(), style="Tal")


def test_threads_search_one_engine_at_once(engine):
    boards, found, errors = positions(), {}, []

    def play(i):
        try:
            rng = np.random.default_rng(i)
            mine = [b.copy() for b in boards]  # a search pushes and pops on its board: one board per game
            found[i] = [engine.search(b, Limits(nodes=4 if i % 2 else 1), rng=rng).move for b in mine]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=play, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(found) == 4
    assert all(m in b.legal_moves for moves in found.values() for m, b in zip(moves, boards))


def test_style_player_chooses_through_the_engine():
    policy = Policy.load(MAIA)
    player = StylePlayer(policy, 0.0)
    for board in positions():
        assert player.move(board, np.random.default_rng(0)) == policy.analyse(board).moves[0]


def test_bots_choose_moves_only_through_the_engine():
    """No bot encodes a board, runs the network, samples a move or converts a score itself."""
    forbidden = re.compile(r"board_planes|\.logits\(|\.analyse\(|\.choice\(|with_temperature|"
                           r"temperature_weights|centipawns\(|import .*centipawns|chess\.search import|"
                           r"chess\.policy import")
    for path in sorted((ROOT / "playas" / "bots").rglob("*.py")):
        hits = [line.strip() for line in path.read_text().splitlines() if forbidden.search(line)]
        assert not hits, (path.name, hits)
