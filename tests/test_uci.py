"""The UCI engine against real peers: Stockfish through python-chess's chess.engine, Debian's
polyglot (UCI to xboard) in the loop, and the raw protocol's edge cases. No fakes.

Stockfish and polyglot come from Debian (``apt-get install stockfish polyglot``); tests that
need them skip when they are absent, except on CI, where that is a failure.
"""

import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import chess
import chess.engine
import pytest
import torch

from playas.bots.arena import play_clocked
from playas.chess.play import find_engine
from playas.chess.search import search
from playas.chess.policy import Policy
from playas.chess.prepare import prepare
from playas.chess.game import GAME
from playas.core.verbs import train_styles
from playas.chess.train import train_base
from playas.core.errors import PlayasError

ROOT = Path(__file__).resolve().parents[1]
MAIA = ROOT / "models" / "maia-1900.pt"
ENGINE = [sys.executable, "-m", "playas.bots.uci"]
MOVE = re.compile(r"([a-h][1-8][a-h][1-8][qrbn]?) ([0-9.]+)%")


def program(name: str) -> str:
    """A Debian program's path, found as ``playas chess play`` finds its engine (/usr/games too)."""
    try:
        return find_engine(name)
    except PlayasError as e:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed on CI (.ci/run installs it)")
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def stockfish():
    sf = chess.engine.SimpleEngine.popen_uci(program("stockfish"))
    # 5 s games are tight for Stockfish too: a wider overhead keeps it from flagging on a busy CI
    sf.configure({"Threads": 1, "Hash": 16, "Skill Level": 0, "Move Overhead": 300})
    yield sf
    sf.quit()


def lost_by_rule(game, color: chess.Color) -> bool:
    """Whether ``color`` lost on time or by an illegal move (Stockfish flagging is not ours)."""
    return game.loser == color and game.termination in ("illegal move", "time forfeit")


FAST = {"HumanTime": False, "Nodes": 1}  # engine testing: one evaluation a move, at once (defaults: polyglot test)


def open_engine(model=MAIA, **options) -> chess.engine.SimpleEngine:
    engine = chess.engine.SimpleEngine.popen_uci(ENGINE + ["--model", str(model)], cwd=ROOT)
    engine.configure({**FAST, **options})
    return engine


class Raw:
    """The engine on a pipe, spoken to line by line, to see exactly what it answers."""

    def __init__(self, *args):
        self.p = subprocess.Popen(ENGINE + ["--model", str(MAIA), *args], cwd=ROOT, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(x.decode().rstrip("\n")) for x in self.p.stdout],
                         daemon=True).start()

    def send(self, data) -> None:
        self.p.stdin.write(data if isinstance(data, bytes) else (data + "\n").encode())
        self.p.stdin.flush()

    def until(self, prefix: str, timeout: float = 60) -> list[str]:
        """Lines up to and including the first that starts with ``prefix``."""
        got, end = [], time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(end - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no {prefix!r} within {timeout}s; got {got}") from None
            got.append(line)
            if line.startswith(prefix):
                return got

    def quiet(self, seconds: float) -> list[str]:
        """Whatever arrives within ``seconds``."""
        time.sleep(seconds)
        out = []
        while not self.lines.empty():
            out.append(self.lines.get())
        return out

    def close(self) -> int:
        if self.p.poll() is None:
            self.send("quit")
        return self.p.wait(timeout=20)


@pytest.fixture
def raw():
    r = Raw()
    r.send("uci")
    r.until("uciok")
    r.send("isready")
    r.until("readyok")
    yield r
    assert r.close() == 0


def _bestmove(lines: list[str]) -> chess.Move:
    assert sum(x.startswith("bestmove") for x in lines) == 1
    return chess.Move.from_uci(lines[-1].split()[1])


# --- real games --------------------------------------------------------------------------------

def test_blitz_games_against_stockfish_legal_and_on_time(stockfish):
    ours = open_engine(Seed=7, Temperature="0.5")
    try:
        for color in (chess.WHITE, chess.BLACK):
            white, black = (ours, stockfish) if color == chess.WHITE else (stockfish, ours)
            ponder = (True, False) if color == chess.WHITE else (False, True)
            g = play_clocked(white, black, base=5.0, inc=0.05, max_plies=120, ponder=ponder)
            assert not lost_by_rule(g, color), g.termination
            assert len(g.board.move_stack) >= 20 or g.termination == "checkmate"
            assert g.clock[color] > 4.0  # a policy move costs milliseconds, whatever the clock
            assert max(g.seconds[color]) < 1.0
    finally:
        ours.quit()


def test_search_nodes_play_legal_moves_within_the_clock(stockfish):
    ours = open_engine(Nodes=24, Seed=1)
    try:
        g = play_clocked(ours, stockfish, base=3.0, inc=0.0, max_plies=40)
        assert not lost_by_rule(g, chess.WHITE), g.termination
        assert g.clock[chess.WHITE] > 0
        info = ours.analyse(chess.Board(), chess.engine.Limit(nodes=24))
        assert info["nodes"] == 24 and len(info["pv"]) >= 2 and "n=" in info["string"]
    finally:
        ours.quit()


def test_polyglot_runs_the_engine_as_an_xboard_engine(stockfish, tmp_path):
    ini = tmp_path / "playas.ini"
    ini.write_text(f"[PolyGlot]\nEngineDir = {ROOT}\nEngineCommand = {sys.executable} -m playas.bots.uci "
                   f"--model {MAIA}\nLog = false\nBook = false\n\n[Engine]\nSeed = 5\nTemperature = 0.3\n")
    xb = chess.engine.SimpleEngine.popen_xboard([program("polyglot"), str(ini)], cwd=tmp_path)
    try:
        g = play_clocked(xb, stockfish, base=6.0, inc=0.05, max_plies=50)
        assert not lost_by_rule(g, chess.WHITE), g.termination
        assert len(g.board.move_stack) >= 20 or g.termination == "checkmate"
    finally:
        xb.quit()


def test_polyglot_lets_xboard_choose_any_player(tmp_path):
    """Polyglot passes on only the first 16 entries of a combo, so xboard's Player list stops at
    the B's; PlayerName takes any player typed, and that player plays."""
    styled = ROOT / "models" / "pgnmentor-197.pt"
    log = tmp_path / "polyglot.log"
    ini = tmp_path / "playas.ini"
    ini.write_text(f"[PolyGlot]\nEngineDir = {ROOT}\nEngineCommand = {sys.executable} -m playas.bots.uci "
                   f"--model {styled}\nLog = true\nLogFile = {log}\nBook = false\n\n[Engine]\nTemperature = 0\n")
    xb = chess.engine.SimpleEngine.popen_xboard([program("polyglot"), str(ini)], cwd=tmp_path)
    try:
        assert "Tal" not in xb.options["Player"].var and "PlayerName" in xb.options
        xb.configure({"PlayerName": "Tal"})
        board = chess.Board()
        board.push_uci("e2e4")
        assert xb.play(board, chess.engine.Limit(time=2)).move in board.legal_moves
    finally:
        xb.quit()
    assert re.search(r"Engine->Adapter: info string Tal plays [a-h][1-8]", log.read_text())


# --- the protocol's edge cases ---------------------------------------------------------------

def test_uci_handshake_lists_the_options(raw):
    raw.send("uci")
    lines = raw.until("uciok")
    names = {m.group(1) for x in lines if (m := re.match(r"option name (.+?) type ", x))}
    assert {"Player", "Style", "Steer", "Temperature", "Seed", "MultiPV", "Model", "UCI_Opponent", "Ponder",
            "Nodes", "OwnBook", "BookDepth"} <= names
    assert lines[0].startswith("id name playas")


def test_stop_ends_go_infinite_and_isready_is_answered_while_thinking(raw):
    raw.send("position startpos moves e2e4")
    raw.send("go infinite")
    early = raw.quiet(0.5)
    assert not any(x.startswith("bestmove") for x in early)  # infinite: no move until stop
    raw.send("isready")
    assert raw.until("readyok", timeout=2)[-1] == "readyok"
    raw.send("stop")
    move = _bestmove(raw.until("bestmove", timeout=5))
    board = chess.Board()
    board.push_uci("e2e4")
    assert move in board.legal_moves
    raw.send("stop")  # a stray stop with nothing to stop is harmless
    assert not any(x.startswith("bestmove") for x in raw.quiet(0.3))


def test_isready_during_a_tree_search_and_stop_gives_one_bestmove(raw):
    raw.send("setoption name Nodes value 5000")
    raw.send("position startpos")
    raw.send("go wtime 600000 btime 600000")
    time.sleep(0.3)
    t = time.monotonic()
    raw.send("isready")
    lines = raw.until("readyok", timeout=3)
    assert time.monotonic() - t < 1.0 and not any(x.startswith("bestmove") for x in lines)
    raw.send("stop")
    lines = raw.until("bestmove", timeout=5)
    assert _bestmove(lines) in chess.Board().legal_moves
    info = [x for x in lines if x.startswith("info depth")][-1]
    assert 1 <= int(re.search(r" nodes (\d+)", info).group(1)) < 5000


def test_ponder_then_ponderhit(raw):
    raw.send("setoption name Ponder value true")
    raw.send("position startpos moves e2e4 e7e5")
    raw.send("go ponder wtime 10000 btime 10000")
    assert not any(x.startswith("bestmove") for x in raw.quiet(0.4))
    raw.send("ponderhit")
    lines = raw.until("bestmove", timeout=5)
    board = chess.Board()
    board.push_uci("e2e4")
    board.push_uci("e7e5")
    assert _bestmove(lines) in board.legal_moves and " ponder " in lines[-1]


def _long_game(plies: int) -> list[str]:
    rng = random.Random(3)
    while True:
        board = chess.Board()
        while len(board.move_stack) < plies and any(board.legal_moves):
            board.push(rng.choice(list(board.legal_moves)))
        if len(board.move_stack) == plies:
            return [m.uci() for m in board.move_stack]


def test_position_after_300_moves(raw):
    moves = _long_game(320)
    board = chess.Board()
    for m in moves:
        board.push_uci(m)
    raw.send("position startpos moves " + " ".join(moves))
    t = time.monotonic()
    raw.send("go wtime 100 btime 100 winc 0 binc 0")
    lines = raw.until("bestmove", timeout=5)
    assert _bestmove(lines) in board.legal_moves
    assert time.monotonic() - t < 2.0


def test_nodes_search_reports_a_mate(raw):
    raw.send("setoption name Nodes value 32")
    raw.send("setoption name Temperature value 0")  # the most visited move, not a sample by visits
    raw.send("position fen 6k1/5ppp/8/8/8/8/5PPP/R5K1 w - - 0 1")
    raw.send("go movetime 2000")
    lines = raw.until("bestmove")
    assert lines[-1].startswith("bestmove a1a8") and any("score mate 1" in x for x in lines)


def test_fen_with_en_passant_and_castling(raw):
    fen = "r3k2r/ppp2ppp/8/3pP3/8/8/PPP2PPP/R3K2R w KQkq d6 0 10"
    for only in ("e5d6", "e1g1", "e1c1"):
        raw.send(f"position fen {fen}")
        raw.send(f"go movetime 100 searchmoves {only}")
        assert _bestmove(raw.until("bestmove")).uci() == only
    raw.send(f"position fen {fen} moves e1g1 e8c8")
    raw.send("go nodes 1")
    board = chess.Board(fen)
    board.push_uci("e1g1")
    board.push_uci("e8c8")
    assert _bestmove(raw.until("bestmove")) in board.legal_moves
    raw.send("position fen 4k3/8/8/8/8/8/8/4K2R w K - 0 1")  # a four-field FEN works too
    raw.send("go")
    assert _bestmove(raw.until("bestmove")) in chess.Board("4k3/8/8/8/8/8/8/4K2R w K - 0 1").legal_moves


def test_garbage_is_ignored_with_a_note(raw):
    for junk in ["hello", "go wtime abc", "setoption name Nonexistent value 3", "setoption", "position",
                 "position fen this is not a fen", "position startpos moves e2e5", "", "   ",
                 "setoption name MultiPV value 0", "setoption name Temperature value -1",
                 "setoption name TopP value 1.5", "setoption name TempEndgame value x",
                 "setoption name Player value Nobody", "setoption name Style value Tal",
                 "setoption name Model value /no/such/model.pt", "joho isready"]:
        raw.send(junk)
    raw.send(b"\xff\xfe\x00garbage \xc3\x28\n")
    raw.send("isready")
    lines = raw.until("readyok") + raw.until("readyok")  # "joho isready" is "isready"
    notes = [x for x in lines if x.startswith("info string")]
    assert len(notes) >= 14
    assert any("MultiPV is a whole number from 1 to 256" in x and "stays 1" in x for x in notes)
    assert any("TopP is a probability from 0" in x for x in notes)
    assert any("TempEndgame is a number from 0" in x for x in notes)
    assert any("no style table" in x for x in notes) and any("does not exist" in x for x in notes)
    # the engine still plays, from the last good position (the illegal e2e5 left the start position)
    raw.send("go movetime 50")
    assert _bestmove(raw.until("bestmove")) in chess.Board().legal_moves
    raw.send("position fen 7k/6Q1/6K1/8/8/8/8/8 b - - 0 1")  # checkmated: no move to give
    raw.send("go")
    lines = raw.until("bestmove")
    assert lines[-1] == "bestmove (none)" and any("score mate 0" in x for x in lines)
    raw.send("position fen 8/8/8/8/8/8/8/8 w - - 0 1")
    raw.send("go")
    assert raw.until("bestmove")[-1] == "bestmove (none)"


def test_a_misspelt_player_gets_a_suggestion_and_values_read_as_uci_writes_them():
    r = Raw("--model", str(ROOT / "models" / "pgnmentor-197.pt"))
    try:
        for line in ["uci", "setoption name Player value Tall", "setoption name PlayerName value Petrosain",
                     "setoption name OwnBook value maybe", "setoption name Style value Tal:0.5,Nobody:0.5", "isready"]:
            r.send(line)
        notes = [x for x in r.until("readyok") if x.startswith("info string")]
        assert notes == ["info string unknown player 'Tall'; did you mean Tal? Player stays mean",
                         "info string unknown player 'Petrosain'; did you mean Petrosian? Player stays mean",
                         "info string OwnBook is true or false, not 'maybe'; OwnBook stays true",
                         "info string unknown player 'Nobody'; `styles list` shows all 197; Style stays <empty>"]
        r.send("setoption name PlayerName value petrosian")  # typed, any case: the same choice as Player
        r.send("position startpos")
        r.send("go nodes 1")
        assert any(x.startswith("info string Petrosian plays") for x in r.until("bestmove"))
    finally:
        assert r.close() == 0


def test_every_go_gets_exactly_one_bestmove(raw):
    raw.send("position startpos")
    for _ in range(5):
        raw.send("go infinite")
    raw.send("go nodes 1")
    raw.send("isready")
    lines = raw.until("readyok", timeout=20)
    lines += raw.quiet(0.5)
    assert sum(x.startswith("bestmove") for x in lines) == 6


def test_search_finds_the_mate_and_keeps_its_books():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the engine runs it: one position at a time gains nothing from more
    try:
        policy = Policy.load(MAIA)
        board = chess.Board("6k1/5ppp/8/8/8/8/5PPP/R5K1 w - - 0 1")  # Ra8 mates
        root = search(policy, board, 48).root
        assert board.fen() == "6k1/5ppp/8/8/8/8/5PPP/R5K1 w - - 0 1" and not board.move_stack
        assert root.visits == 48 and sum(c.visits for c in root.children) == 47
        assert root.best().move.uci() == "a1a8" and root.best().terminal == -1.0
        board = chess.Board()
        for m in search(policy, board, 24).root.pv():
            assert m in board.legal_moves
            board.push(m)
    finally:
        torch.set_num_threads(threads)


def test_a_batched_search_counts_every_visit_once_and_agrees_with_one_leaf_at_a_time():
    policy = Policy.load(MAIA)
    board = chess.Board("r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - 2 3")

    def walk(node):
        yield node
        for c in node.children:
            yield from walk(c)

    trees = {batch: search(policy, board, 200, batch=batch).root for batch in (1, 8)}
    for root in trees.values():
        assert root.visits == 200 and not board.move_stack
        for node in walk(root):  # the virtual losses are all taken back: visits and values add up
            assert not node.waiting and abs(node.total) <= node.visits + 1e-9
            if node.children and node.terminal is None:
                assert sum(c.visits for c in node.children) == node.visits - 1
    share = lambda root: {c.move: c.visits / 199 for c in root.children}  # noqa: E731
    one, eight = share(trees[1]), share(trees[8])
    assert sum(abs(one[m] - eight[m]) for m in one) < 0.3  # the same moves looked at, in about the same shares
    assert {m for m in one if one[m] > 0.2} == {m for m in eight if eight[m] > 0.2}


def test_cli_entry_points(tmp_path):
    r = subprocess.run([sys.executable, "-m", "playas.cli", "chess", "uci", "--model", tmp_path / "none.pt"],
                       input="uci\n", capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    script = Path(sys.executable).parent / "playas-uci"
    cmd = [str(script)] if script.exists() else ENGINE
    r = subprocess.run(cmd, input="uci\nisready\nquit\n", capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0 and "uciok" in r.stdout and r.stdout.rstrip().endswith("readyok")


# --- styles through UCI --------------------------------------------------------------------------

PLAYERS = ["DeLaBourdonnais", "Horwitz"]


@pytest.fixture(scope="module")
def styled(shared_data, tmp_path_factory):
    """A tiny styled model over two real players, trained here."""
    tmp = tmp_path_factory.mktemp("uci-styles")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small trains as fast on one thread, and far faster on a busy machine
    try:
        _train_tiny_styles(shared_data, tmp)
    finally:
        torch.set_num_threads(threads)
    return tmp / "styled.pt"


def _train_tiny_styles(shared_data, tmp):
    prepare([shared_data / "chess" / "pgnmentor" / f"{p}.pgn.gz" for p in PLAYERS], tmp / "ds",
            owner_from_filename_=True, split=(0.8, 0.1, 0.1))
    train_base(tmp / "ds", tmp / "base.pt", {"net": {"blocks": 2, "filters": 16, "se_ratio": 4}, "epochs": 1,
                                              "positions_per_epoch": 4096, "batch_size": 128, "val_positions": 256})
    train_styles(GAME, tmp / "base.pt", tmp / "ds", tmp / "styled.pt",
                 {"mhr": {"heads": 4, "skills": 4, "rank": 2, "adapt_blocks": 1}, "epochs": 2,
                  "lr_adapters": 0.01,  # 10x the recipe's: styles this tiny become distinct in seconds
                  "positions_per_epoch": 4096, "batch_size": 128, "games_per_player": 100, "val_positions": 256})


def _probabilities(engine, board, **options) -> dict[str, float]:
    engine.configure(options)
    infos = engine.analyse(board, chess.engine.Limit(nodes=1), multipv=8)
    return {m: float(p) / 100 for m, p in MOVE.findall(infos[0]["string"])}


def test_players_and_blends_change_the_move_distribution(styled):
    engine = open_engine(styled, OwnBook=False)  # the style vectors alone (the repertoire is tested below)
    try:
        assert set(PLAYERS) <= set(engine.options["Player"].var)
        positions, board = [], chess.Board()
        for san in ["e4", "e5", "Nf3", "Nc6", "Bc4", "Bc5", "c3", "Nf6", "d4"]:
            board.push_san(san)
            positions.append(board.copy())
        diff = 0.0
        for b in positions:
            a = _probabilities(engine, b, Player=PLAYERS[0])
            h = _probabilities(engine, b, Player=PLAYERS[1])
            mid = _probabilities(engine, b, Player="mean", Style=f"{PLAYERS[0]}:0.5,{PLAYERS[1]}:0.5")
            engine.configure({"Style": ""})
            diff += sum(abs(a[m] - h[m]) for m in set(a) & set(h))
            m = max(set(a) & set(h) & set(mid), key=lambda k: abs(a[k] - h[k]))
            assert min(a[m], h[m]) - 2e-4 <= mid[m] <= max(a[m], h[m]) + 2e-4  # the blend sits between
        assert diff > 0.01
    finally:
        engine.quit()


def test_own_book_plays_the_players_own_openings(styled):
    """At the start the style's own games decide (OwnBook, on by default); off, or beyond BookDepth,
    the network alone."""
    from playas.chess.policy import Policy

    engine = open_engine(styled, Player=PLAYERS[1], Temperature="0")  # the moves shown: the likeliest, not a sample
    try:
        board = chess.Board()
        own = _probabilities(engine, board)
        net = _probabilities(engine, board, OwnBook=False)
        assert _probabilities(engine, board, OwnBook=True, BookDepth=0) == net
        want = Policy.load(styled, style=PLAYERS[1]).analyse(board)
        assert want.book > 20  # Horwitz's games from the start (49 as White in the training split)
        assert own == pytest.approx({m.uci(): p for m, p in want.top(8)}, abs=1e-4)
        assert max(abs(own[m] - net.get(m, 0)) for m in own) > 0.05
        engine.configure({"OwnBook": True, "BookDepth": 60})
        assert _probabilities(engine, board) == own
    finally:
        engine.quit()


def test_temperature_and_seed(styled):
    engine = open_engine(styled, Player=PLAYERS[1])
    board = chess.Board()
    try:
        def moves(n, **options):
            engine.configure(options)
            return [engine.play(board, chess.engine.Limit(nodes=1)).move for _ in range(n)]

        assert len(set(moves(12, Temperature="0"))) == 1  # the most likely move, every time
        a = moves(12, Temperature="1", Seed=11)
        b = moves(12, Seed=12)
        c = moves(12, Seed=11)
        assert len(set(a)) > 1 and a == c and a != b  # variety, reproducible by seed
    finally:
        engine.quit()


MIDDLEGAME = "e2e4 c7c5 g1f3 d7d6 d2d4 c5d4 f3d4 g8f6 b1c3 a7a6 c1e3 e7e5 d4b3 c8e6 f2f3 f8e7 d1d2"  # a Najdorf


@pytest.mark.skipif(not (ROOT / "models" / "thinktime.json").exists(), reason="no shipped think-time model")
def test_human_time_takes_a_persons_time_and_searches_in_it(raw):
    def go(**options) -> tuple[float, int]:
        for name, value in options.items():
            raw.send(f"setoption name {name} value {value}")
        raw.send("ucinewgame")
        raw.send("position startpos")
        raw.send("go wtime 180000 btime 180000 winc 2000 binc 2000")  # the game's clock, seen at its start
        raw.until("bestmove", timeout=60)
        raw.send("position startpos moves " + MIDDLEGAME)
        t = time.monotonic()
        raw.send("go wtime 160000 btime 165000 winc 2000 binc 2000")
        lines = raw.until("bestmove", timeout=60)
        info = [x for x in lines if x.startswith("info depth")][-1]
        return time.monotonic() - t, int(re.search(r" nodes (\d+)", info).group(1))

    raw.send("setoption name Seed value 7")
    engine_like = [go(HumanTime="false", Nodes=1) for _ in range(2)]
    assert all(s < 0.5 and n == 1 for s, n in engine_like)  # as before: one evaluation, at once
    human = [go(HumanTime="true", Nodes=1) for _ in range(3)]
    assert all(n == 1 for _, n in human)
    assert 0.5 < sum(s for s, _ in human) / 3 < 160 / 4 + 2  # a person's think, never past the safe share
    searched, nodes = go(HumanTime="true", Nodes=0)
    assert nodes > 1 or searched < 0.2  # the time bought a search (unless the draw was instant)


def test_says_where_the_person_would_resign_and_offer_a_draw():
    """UCI has no resign: an info string says so, where the learned rule would (and not before).
    The rule reads what it was learned on (the population network's value head, and its search in a bad
    position)."""
    from playas.chess.engine import shipped_endings

    rule = shipped_endings().resign
    raw = Raw("--model", str(ROOT / "models" / "population-197.pt"))
    lost = "4k3/8/8/8/8/8/8/QR2K3 b - - 0 40"  # Black, alone against queen and rook
    board, said = chess.Board(lost), []
    raw.send("ucinewgame")
    for _ in range(rule.moves + 1):
        moves = " ".join(m.uci() for m in board.move_stack)
        raw.send(f"position fen {lost}" + (f" moves {moves}" if moves else ""))
        raw.send("go nodes 1")
        lines = raw.until("bestmove")
        said.append(any(x.startswith("info string resign:") for x in lines))
        board.push(_bestmove(lines))
        board.push(next(m for m in board.legal_moves if not _ends(board, m)))  # White waits: no mate, no stalemate
    assert said[:rule.moves - 1] == [False] * (rule.moves - 1) and said[rule.moves - 1]  # after its run of turns
    raw.send("ucinewgame")
    raw.send("position startpos moves e2e4 e7e5")
    raw.send("go nodes 1")
    assert not any(x.startswith(("info string resign:", "info string draw:")) for x in raw.until("bestmove"))
    raw.send("quit")
    assert raw.close() == 0


def _ends(board: chess.Board, move: chess.Move) -> bool:
    board.push(move)
    try:
        return board.is_game_over()
    finally:
        board.pop()
