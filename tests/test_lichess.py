"""The Lichess bot against a Lichess on loopback (tests/lichess_server.py): the real berserk client
over real HTTP, ndjson streams and all; nothing mocked. The server's opponents walk into mate, so
every played game ends in a checkmate on the board, delivered by the bot."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import chess
import chess.pgn
import pytest
import torch
import yaml

from tests.lichess_server import LichessServer
from playas import cli
from playas.bots.lichess import EngineWrapper, LichessBot, connect
from playas.bots.lichess.config import ChallengeConfig, decline_reason, load_config, parse_config
from playas.core.errors import PlayasError

ROOT = Path(__file__).resolve().parents[1]
MAIA = ROOT / "models" / "maia-1100.pt"
# Protocol tests move at once (one test below takes human time), and sample all game long: the
# feeder's games end in the bot's mate whatever it samples, while the policy's likeliest move alone
# (temp_endgame 0, no search) can walk round a repetition and offer a draw instead.
FAST = {"human_time": False, "nodes": 1, "temp_endgame": 1.0}
TOKEN = "lip_TestToken9f8e7d6c5b4a"  # distinctive, to look for in logs
FEN_BLACK_TO_PLAY = "r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - 2 3"


# --- fixtures and helpers ----------------------------------------------------------------------

@pytest.fixture
def server():
    with LichessServer(token=TOKEN, keepalive=0.5) as s:
        yield s


@pytest.fixture(scope="module")
def engine():
    return EngineWrapper(parse_config({"engine": {"model": str(MAIA), **FAST}}).engine)


@pytest.fixture(scope="module")
def styled_model(tmp_path_factory):
    """A styled model of two players over Maia-1100 (untrained adapters: the styles are names here)."""
    from playas.chess.model import load_model, save_model
    from playas.chess.model import CHESS
    from playas.core.mhr import MHRConfig, MHRModel
    from playas.core.table import StyleTable

    net, _ = load_model(MAIA)
    torch.manual_seed(0)
    model = MHRModel(net, MHRConfig(heads=2, skills=2, rank=2, targets=CHESS.adapter_targets(net, {"adapt_blocks": 1})),
                   StyleTable(["Tal", "Petrosian"], 2, 2, [10, 10]))
    path = tmp_path_factory.mktemp("styled") / "styled.pt"
    save_model(path, model, {"kind": "styled", "players": 2, "games_per_player": {"Tal": 10, "Petrosian": 10}})
    return path


@contextmanager
def bot_on(server, engine, /, **settings):
    """A bot in a thread of this process, logged in to ``server``; closed on leaving."""
    settings["engine"] = {**FAST, **settings.get("engine", {})}
    cfg = parse_config({"url": server.url, "rate_limit_wait": 0.5, **settings})
    api, account = connect(cfg, TOKEN)
    bot = LichessBot(cfg, engine, api, account)
    bot.out = {}

    def run():
        try:
            bot.out["rc"] = bot.run()
        except PlayasError as e:
            bot.out["error"] = str(e)

    bot.thread = threading.Thread(target=run, daemon=True)
    bot.thread.start()
    try:
        yield bot
    finally:
        bot.close()
        bot.thread.join(10)


def until(condition, timeout=30.0, what="the condition"):
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def plies(server, gid, n, timeout=30.0):
    """Wait until game ``gid`` has at least ``n`` plies on the server."""
    def enough():
        g = server.games.get(gid)
        return g if g and len(g.board.move_stack) >= n else None

    return server.wait(enough, timeout, f"{n} plies in {gid}")


def finished(server, gid, timeout=40.0):
    return server.wait(lambda: gid in server.games and server.games[gid].over and server.games[gid], timeout,
                       f"the end of {gid}")


def read_pgn(path: Path) -> chess.pgn.Game:
    with open(path, encoding="utf-8") as f:
        return chess.pgn.read_game(f)


def bot_process(server, tmp_path, **settings):
    """``playas chess lichess`` as a user starts it, in its own process."""
    cfg = tmp_path / "lichess.yml"
    cfg.write_text(yaml.safe_dump({"url": server.url, "engine": {"model": str(MAIA), **FAST}, **settings}))
    env = {**os.environ, "LICHESS_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "playas.cli", "chess", "lichess", "--config", str(cfg)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# --- configuration and filters (no network) ----------------------------------------------------

def test_config_reads_lichess_bot_keys_and_refuses_bad_values(tmp_path):
    cfg = load_config(ROOT / "configs" / "lichess.yml")
    assert cfg.url == "https://lichess.org/" and cfg.challenge.concurrency == 1 and cfg.rate_limit_wait == 60
    assert cfg.unused == []
    assert cfg.pgn_directory == str(ROOT / "configs" / "game_records")  # beside the config, not the working folder
    cfg = parse_config({"engine": {"style": "Tal", "protocol": "uci", "draw_or_resign": {"resign_enabled": True},
                                   "polyglot": {"enabled": False}},
                        "challenge": {"concurrency": 3, "accept_bot": False, "variants": "standard"},
                        "matchmaking": {"allow_matchmaking": False}, "greeting": {"hello": "hi {opponent}"}})
    assert cfg.engine.style == "Tal" and cfg.engine.draw_or_resign.resign_enabled
    assert cfg.challenge.concurrency == 3 and cfg.challenge.variants == ["standard"]
    assert sorted(cfg.unused) == ["engine.polyglot", "engine.protocol", "matchmaking"]  # lichess-bot's, not used
    bad = [({"challenge": {"concurrency": 0}}, "challenge.concurrency must be a whole number of at least 1"),
           ({"challenge": {"variants": ["chess960"]}}, "challenge.variants may hold only standard, fromPosition"),
           ({"challenge": {"time_controls": ["blitz", "hyper"]}}, "'hyper'"),
           ({"engine": {"temperature": "hot"}}, "engine.temperature must be a number from 0 to 100"),
           ({"engine": {"style": "Tal", "styles": ["Tal"]}}, "either style (one) or styles"),
           ({"challenge": {"min_base": 600, "max_base": 60}}, "min_ setting is above its max_"),
           ({"url": "lichess.org"}, "url must start with http"),
           ({"token": "lip_secret"}, "LICHESS_TOKEN"),
           ({"engine": "maia"}, "engine must be a mapping"),
           ({"challenge": {"concurency": 2}}, "unknown setting 'challenge.concurency'; did you mean "
                                              "'challenge.concurrency'?"),
           ({"polyglot": {"enabled": False}}, "unknown setting 'polyglot'")]  # lichess-bot has it under engine
    for data, message in bad:
        with pytest.raises(PlayasError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_config(data)
    (tmp_path / "bad.yml").write_text("challenge: [unclosed\n")
    with pytest.raises(PlayasError, match="is not valid YAML"):
        load_config(tmp_path / "bad.yml")
    with pytest.raises(PlayasError, match="does not exist"):
        load_config(tmp_path / "missing.yml")


def _challenge(name="alice", title=None, rating=1500, rated=False, variant="standard", speed="blitz",
               tc=None):
    return {"id": "c1", "challenger": {"id": name.lower(), "name": name, "title": title, "rating": rating},
            "variant": {"key": variant}, "rated": rated, "speed": speed,
            "timeControl": tc or {"type": "clock", "limit": 300, "increment": 3}}


def test_filters_give_lichess_decline_reasons():
    c = ChallengeConfig(accept_bot=False, modes=["casual"], time_controls=["bullet", "blitz", "correspondence"],
                        min_base=60, max_base=600, min_increment=1, max_increment=10, max_days=3,
                        variants=["standard"], block_list=["Mallory"], allow_list=[], min_rating=1000,
                        max_rating=2000, bullet_requires_increment=True)
    assert decline_reason(_challenge(), c) is None
    cases = [
        (_challenge(title="BOT"), "noBot"),
        (_challenge(rated=True), "casual"),
        (_challenge(variant="fromPosition"), "variant"),
        (_challenge(speed="rapid", tc={"type": "clock", "limit": 900, "increment": 5}), "timeControl"),
        (_challenge(tc={"type": "clock", "limit": 30, "increment": 5}), "tooFast"),
        (_challenge(tc={"type": "clock", "limit": 300, "increment": 0}), "tooFast"),
        (_challenge(tc={"type": "clock", "limit": 900, "increment": 3}), "tooSlow"),
        (_challenge(tc={"type": "clock", "limit": 300, "increment": 30}), "tooSlow"),
        (_challenge(speed="bullet", tc={"type": "clock", "limit": 60, "increment": 0}), "tooFast"),
        (_challenge(speed="correspondence", tc={"type": "correspondence", "daysPerTurn": 7}), "tooSlow"),
        (_challenge(name="mallory"), "generic"),
        (_challenge(rating=800), "generic"),
        (_challenge(rating=2400), "generic"),
    ]
    for ch, reason in cases:
        assert decline_reason(ch, c) == reason, (ch, reason)
    bullet = _challenge(speed="bullet", tc={"type": "clock", "limit": 60, "increment": 0})
    needs_increment = ChallengeConfig(time_controls=["bullet"], bullet_requires_increment=True)
    assert decline_reason(bullet, needs_increment) == "timeControl"
    assert decline_reason(_challenge(), ChallengeConfig(only_bot=True)) == "onlyBot"
    assert decline_reason(_challenge(), ChallengeConfig(modes=["rated"])) == "rated"
    assert decline_reason(_challenge(name="zoe"), ChallengeConfig(allow_list=["Alice"])) == "generic"
    assert decline_reason(_challenge(name="ALICE"), ChallengeConfig(allow_list=["alice"])) is None


# --- games over HTTP ---------------------------------------------------------------------------

@pytest.mark.parametrize("color", ["white", "black"])
def test_a_full_game_from_challenge_to_checkmate(server, engine, tmp_path, color, caplog):
    caplog.set_level(logging.DEBUG)
    with bot_on(server, engine, pgn_directory=str(tmp_path)) as bot:
        gid = server.challenge("alice", bot_color=color, rated=True, limit=60, increment=1)
        g = finished(server, gid)
        until(lambda: bot.finished == 1, what="the bot to finish the game")
        until(lambda: len(server.chat_of(gid)) == 4, what="the goodbyes")
    assert server.accepted == [gid]
    assert g.status == "mate" and g.board.is_checkmate() and g.winner == color
    assert not server.refusals  # every move was legal and on the bot's turn
    assert server.connections[gid] == 1 and server.connections["event"] == 1
    me = "PlayasBot"
    assert server.chat_of(gid) == [
        ("player", f"Hi! I'm {me}, playing as maia-1100. Good luck! Type !help for the commands I answer."),
        ("spectator", f"I'm {me}, playing as maia-1100. Type !help for the commands I answer."),
        ("player", "Good game!"), ("spectator", "Thanks for watching!")]
    (path,) = tmp_path.glob("*.pgn")
    pgn = read_pgn(path)
    white, black = (me, "alice") if color == "white" else ("alice", me)
    assert (pgn.headers["White"], pgn.headers["Black"]) == (white, black)
    assert pgn.headers["Result"] == ("1-0" if color == "white" else "0-1")
    assert pgn.headers["Site"] == server.url + gid and pgn.headers["Event"] == "Rated Bullet game"
    assert pgn.headers["TimeControl"] == "60+1" and "FEN" not in pgn.headers
    assert [m.uci() for m in pgn.mainline_moves()] == g.moves and pgn.end().board().is_checkmate()
    # the token went out in the Authorization header of every request, and nowhere else
    assert all(h.get("Authorization") == f"Bearer {TOKEN}" for h in server.headers_seen)
    assert TOKEN not in caplog.text and "Bearer" not in caplog.text
    assert f"game {gid} over: {pgn.headers['Result']} (mate)" in caplog.text
    assert f"finished games are saved as PGN in {tmp_path.resolve()}" in caplog.text


def test_a_game_from_a_position_as_black(server, engine, tmp_path):
    with bot_on(server, engine, pgn_directory=str(tmp_path), pgn_file_grouping="all") as bot:
        gid = server.challenge("bob", bot_color="black", variant="fromPosition", fen=FEN_BLACK_TO_PLAY)
        g = finished(server, gid)
        until(lambda: bot.finished == 1)
    assert g.status == "mate" and g.winner == "black"
    pgn = read_pgn(tmp_path / "PlayasBot games.pgn")
    assert pgn.headers["FEN"] == FEN_BLACK_TO_PLAY and pgn.headers["SetUp"] == "1"
    assert pgn.headers["Variant"] == "From Position" and pgn.headers["Result"] == "0-1"
    assert [m.uci() for m in pgn.mainline_moves()] == g.moves and pgn.end().board().is_checkmate()


def test_challenges_declined_over_http_with_the_right_reasons(server, engine):
    settings = {"challenge": {"accept_bot": False, "modes": ["casual"], "time_controls": ["blitz", "rapid"],
                              "min_base": 240, "max_base": 900, "variants": ["standard"], "block_list": ["mallory"]}}
    with bot_on(server, engine, **settings):
        expected = {
            server.challenge("robot", title="BOT"): "noBot",
            server.challenge("carol", rated=True, limit=300): "casual",
            server.challenge("dave", limit=15, increment=0): "timeControl",  # ultraBullet
            server.challenge("erin", limit=1200, increment=0): "tooSlow",
            server.challenge("frank", limit=180, increment=2): "tooFast",
            server.challenge("gina", limit=300, variant="fromPosition", fen=FEN_BLACK_TO_PLAY): "variant",
            server.challenge("mallory", limit=300): "generic",
        }
        ok = server.challenge("heidi", limit=300, increment=3, opponent="manual")
        server.wait(lambda: len(server.declined) == len(expected) and server.accepted, 20, "the answers")
    assert server.declined == expected
    assert server.accepted == [ok]


def test_two_games_at_once_a_waiting_one_and_a_later(server, engine):
    with bot_on(server, engine, challenge={"concurrency": 2, "max_queue": 1}) as bot:
        a = server.challenge("alice", delay=0.03)
        b = server.challenge("bob", bot_color="black", delay=0.03)
        c = server.challenge("carol")
        d = server.challenge("dave")
        server.wait(lambda: d in server.declined, 10, "dave's challenge to be declined")
        assert server.declined == {d: "later"}
        assert c not in server.games  # waiting for a slot
        ga, gb, gc = finished(server, a), finished(server, b), finished(server, c)
        until(lambda: bot.finished == 3)
    assert [g.status for g in (ga, gb, gc)] == ["mate"] * 3 and gb.winner == "black"
    assert ga.started_at < gb.ended_at and gb.started_at < ga.ended_at  # the two games overlapped
    assert gc.started_at >= min(ga.ended_at, gb.ended_at)  # the third waited for a free slot
    assert server.accepted == [a, b, c]


def test_reconnects_after_dropped_streams_and_waits_out_429(server, engine):
    server.fail(r"GET /api/stream/event", "429")  # the first connection is rate-limited
    with bot_on(server, engine, rate_limit_wait=0.5) as bot:
        gid = server.challenge("alice", opponent="manual")
        plies(server, gid, 1)
        server.fail(rf"GET /api/bot/game/stream/{gid}", "500")  # the reconnection fails once, too
        server.drop_streams("event")
        server.drop_streams(gid)
        server.fail(rf"POST /api/bot/game/{gid}/move", "drop")  # the next move is lost on the way...
        server.fail(rf"POST /api/bot/game/{gid}/move", "429")  # ...and its retry is rate-limited
        server.resume_opponent(gid, "feeder")
        g = finished(server, gid)
        until(lambda: bot.finished == 1)
        # a new challenge still arrives over the reconnected event stream
        again = server.challenge("bob", opponent="manual")
        server.wait(lambda: again in server.accepted, 10, "the second challenge")
    assert g.status == "mate" and g.winner == "white"
    assert server.connections["event"] == 2 and server.connections[gid] >= 2
    events = [t for t, m, p in server.requests if p == "/api/stream/event"]
    assert events[1] - events[0] >= 0.5  # waited rate_limit_wait after the 429
    moves = [t for t, m, p in server.requests if m == "POST" and p.startswith(f"/api/bot/game/{gid}/move")]
    assert len(moves) == (len(g.moves) + 1) // 2 + 2  # each of the bot's moves once, and two retries
    assert moves[3] - moves[2] >= 0.5  # the retry after the 429 waited rate_limit_wait


def test_restart_during_a_game_resumes_it(server, engine, tmp_path):
    p = bot_process(server, tmp_path)
    try:
        gid = server.challenge("alice", opponent="manual", limit=300, increment=3)
        plies(server, gid, 1, timeout=60)  # the process is up and has played its first move
        server.play(gid)
        plies(server, gid, 3)
        server.wait(lambda: len(server.games[gid].chat) >= 2, 10, "the greetings")
    finally:
        p.kill()  # no goodbye: a crash, a lost machine
        p.wait()
    server.play(gid)  # the opponent moves while the bot is down
    before = server.games[gid].moves
    with bot_on(server, engine, pgn_directory=str(tmp_path)) as bot:
        plies(server, gid, 5)  # the new bot found the game and answered
        server.resume_opponent(gid, "feeder")
        g = finished(server, gid)
        until(lambda: bot.finished == 1)
    assert len(before) == 4 and g.moves[:4] == before
    assert g.status == "mate" and g.winner == "white"
    hellos = [t for room, t in g.chat if t.startswith("Hi!")]
    assert len(hellos) == 1  # the resumed game is not greeted again
    assert not server.refusals
    pgn = read_pgn(next(tmp_path.glob("*.pgn")))
    assert [m.uci() for m in pgn.mainline_moves()] == g.moves


def test_chat_commands_draw_offers_and_takebacks(server, engine):
    with bot_on(server, engine, max_takebacks_accepted=1) as bot:
        gid = server.challenge("alice", opponent="manual")
        plies(server, gid, 1)
        for text, room in [("!style", "player"), ("!help", "player"), ("!eval", "player"), ("!eval", "spectator"),
                           ("good luck", "player"), ("!queue", "spectator")]:
            server.say(gid, text, room)
        server.wait(lambda: len(server.games[gid].chat) >= 7, 10, "the answers")
        replies = server.chat_of(gid)[2:]
        assert replies[0] == ("player", "I play as maia-1100 (maia-1100, temperature 1).")
        assert replies[1][1].startswith("Commands: !style")
        assert replies[2] == ("player", "I don't tell that to my opponent, sorry.")
        assert replies[3][0] == "spectator" and replies[3][1].startswith("maia-1100's view for PlayasBot: win ")
        assert replies[4] == ("spectator", "No challenges are waiting.")
        # a draw offer with all 32 pieces on the board (offer_draw_pieces is 10): declined
        server.offer_draw(gid)
        server.wait(lambda: any(p.endswith(f"{gid}/draw/no") for _, _, p in server.requests), 10, "the draw answer")
        # one takeback is granted (max_takebacks_accepted: 1), the next is not
        server.play(gid)
        plies(server, gid, 3)
        server.offer_takeback(gid)
        server.wait(lambda: len(server.games[gid].board.move_stack) == 1, 10, "the takeback")
        server.play(gid)
        plies(server, gid, 3)
        server.offer_takeback(gid)
        server.wait(lambda: any(p.endswith(f"{gid}/takeback/no") for _, _, p in server.requests), 10, "a refusal")
        # the opponent leaves: the bot claims the win
        server.opponent_gone(gid, claim_in=0)
        g = finished(server, gid)
    assert g.status == "timeout" and g.winner == "white" and len(g.moves) == 3
    assert not server.refusals


def test_draws_resignation_and_abort_by_config(server, engine, tmp_path):
    settings = {"abort_time": 1, "pgn_directory": str(tmp_path),
                "engine": {"draw_or_resign": {"offer_draw_pieces": 32, "offer_draw_score": 10000, "offer_draw_moves": 1,
                                              "resign_enabled": True, "resign_score": -500, "resign_moves": 1}}}
    with bot_on(server, engine, **settings) as bot:
        drawn = server.challenge("alice", opponent="manual")
        plies(server, drawn, 1)
        server.offer_draw(drawn)
        g = finished(server, drawn, 10)
        lost = server.challenge("carol", bot_color="black", fen="4k3/8/8/8/8/8/8/QR2K3 w - - 0 1",
                                variant="fromPosition")
        resigned = finished(server, lost, 10)
        never = server.challenge("bob", opponent="manual", bot_color="black")
        aborted = finished(server, never, 10)
        until(lambda: bot.finished == 3)
    assert g.bot_draw_offers == 1  # its first move came with a draw offer (about even, one move in a row)
    assert g.status == "draw" and read_pgn(next(tmp_path.glob("* - " + drawn + ".pgn"))).headers["Result"] == "1/2-1/2"
    assert resigned.status == "resign" and resigned.winner == "white" and len(resigned.moves) == 1
    assert aborted.status == "aborted" and not aborted.moves
    assert len(list(tmp_path.glob("*.pgn"))) == 2  # an aborted game is not saved


def test_resigns_as_people_do_by_default(server, tmp_path):
    """draw_or_resign unset: the person's rules, read off what they were learned on (the value head, and
    the bot's own search where the value head reads a bad position)."""
    from playas.chess.engine import shipped_endings

    rule = shipped_endings().resign
    engine = EngineWrapper(parse_config({"engine": {"model": str(ROOT / "models" / "population-197.pt"),
                                                    **FAST}}).engine)
    with bot_on(server, engine, pgn_directory=str(tmp_path)) as bot:
        assert bot.cfg.engine.draw_or_resign.resign_enabled
        lost = server.challenge("carol", opponent="manual", bot_color="black",
                                fen="4k3/8/8/8/8/8/8/QR2K3 w - - 0 40", variant="fromPosition")
        for n in range(rule.moves):
            plies(server, lost, 2 * n)
            board = server.games[lost].board
            server.play(lost, next(m.uci() for m in board.legal_moves if _quiet(board, m)))
        resigned = finished(server, lost, 20)
        even = server.challenge("dave", opponent="manual")  # an even game: nothing to resign
        plies(server, even, 1)
        server.play(even, "e7e5")
        plies(server, even, 3)
        assert not server.games[even].over
    assert resigned.status == "resign" and resigned.winner == "white"
    assert len(resigned.moves) == 2 * rule.moves - 1  # its run of lost turns, resigning at the last


def _quiet(board: chess.Board, move: chess.Move) -> bool:
    """A waiting move: it ends nothing and leaves nothing to capture."""
    board.push(move)
    try:
        return not board.is_game_over() and not any(board.is_capture(m) for m in board.legal_moves)
    finally:
        board.pop()


def test_styles_each_game_plays_one_and_keeps_it(server, styled_model):
    styles = ["Tal", "Petrosian", "Tal:0.5,Petrosian:0.5"]
    cfg = parse_config({"engine": {"model": str(styled_model), "styles": styles, "temperature": 0, **FAST}})
    engine = EngineWrapper(cfg.engine)
    assert EngineWrapper(cfg.engine).style_for("abcd1234") == engine.style_for("abcd1234")  # same after a restart
    ids = {}
    for n in range(100):  # two game ids that play different styles
        ids.setdefault(engine.style_for(f"st{n:06d}"), f"st{n:06d}")
    (s1, g1), (s2, g2) = list(ids.items())[:2]
    with bot_on(server, engine, challenge={"concurrency": 2}) as bot:
        server.challenge("alice", game_id=g1, opponent="manual")
        server.challenge("bob", game_id=g2, opponent="manual")
        for gid in (g1, g2):
            plies(server, gid, 1)
            server.say(gid, "!style")
        server.wait(lambda: all(len(server.games[g].chat) >= 3 for g in (g1, g2)), 10, "the answers")
    for gid, style in ((g1, s1), (g2, s2)):
        chat = server.chat_of(gid)
        assert chat[0][1].startswith(f"Hi! I'm PlayasBot, playing as {style}.")
        assert chat[2] == ("player", f"I play as {style} ({styled_model.stem}, temperature 0).")


def test_unknown_styles_are_refused_in_one_sentence(styled_model):
    with pytest.raises(PlayasError, match="unknown player 'Fischer'"):
        EngineWrapper(parse_config({"engine": {"model": str(styled_model), "styles": ["Tal", "Fischer"]}}).engine)
    with pytest.raises(PlayasError, match="no style table"):
        EngineWrapper(parse_config({"engine": {"model": str(MAIA), "style": "Tal"}}).engine)


# --- stopping ----------------------------------------------------------------------------------

def test_first_ctrl_c_takes_no_more_challenges_and_lets_games_finish(server, engine):
    with bot_on(server, engine) as bot:
        gid = server.challenge("alice", opponent="manual")
        plies(server, gid, 1)
        bot.interrupt()  # what the first Ctrl-C does
        late = server.challenge("bob")
        server.wait(lambda: late in server.declined, 10, "the late challenge")
        server.resume_opponent(gid, "feeder")
        g = finished(server, gid)
        bot.thread.join(10)
        assert not bot.thread.is_alive() and bot.out == {"rc": 0}, (bot.out, list(bot.games), bot.accepted)
    # finished over the board (the feeder walks into mate, but a random-sampling bot can miss it
    # long enough for a rules draw): not resigned, aborted or lost on time
    assert server.declined == {late: "later"} and g.status in ("mate", "draw", "stalemate")


def test_ctrl_c_twice_resigns_cleanly(server, tmp_path):
    p = bot_process(server, tmp_path, pgn_directory=str(tmp_path))
    try:
        gid = server.challenge("alice", opponent="manual", bot_color="black")
        server.wait(lambda: gid in server.games, 60, "the game")
        server.play(gid, "e2e4")
        plies(server, gid, 2)
        p.send_signal(signal.SIGINT)
        late = server.challenge("bob")
        server.wait(lambda: late in server.declined, 10, "the late challenge")
        server.play(gid, "d2d4")
        plies(server, gid, 4)  # still playing after the first Ctrl-C
        p.send_signal(signal.SIGINT)
        g = finished(server, gid, 10)
        rc = p.wait(20)
    finally:
        p.kill()
    err = p.stderr.read()
    assert rc == 130, err
    assert g.status == "resign" and g.winner == "white" and server.declined == {late: "later"}
    assert read_pgn(next(tmp_path.glob("*.pgn"))).headers["Result"] == "1-0"
    assert "resigning 1 game" in err and "Traceback" not in err and TOKEN not in err


# --- the command's errors ----------------------------------------------------------------------

def _run_cli(capsys, config: Path) -> tuple[int, str]:
    rc = cli.main(["chess", "lichess", "--config", str(config)])
    err = capsys.readouterr().err
    return rc, err


def _config(tmp_path, **data) -> Path:
    path = tmp_path / f"bot{len(list(tmp_path.glob('bot*.yml')))}.yml"
    path.write_text(yaml.safe_dump({"engine": {"model": str(MAIA), **FAST}, **data}))
    return path


def test_token_and_account_errors_are_one_sentence(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LICHESS_TOKEN", raising=False)
    cases = []
    rc, err = _run_cli(capsys, _config(tmp_path, url="http://127.0.0.1:9/"))
    cases.append((rc, err, "set the LICHESS_TOKEN environment variable"))
    monkeypatch.setenv("LICHESS_TOKEN", "lip_wrong")
    with LichessServer(token=TOKEN) as s:
        rc, err = _run_cli(capsys, _config(tmp_path, url=s.url))
    cases.append((rc, err, "Lichess refused the token in LICHESS_TOKEN (HTTP 401)"))
    monkeypatch.setenv("LICHESS_TOKEN", TOKEN)
    with LichessServer(token=TOKEN, title=None) as s:
        rc, err = _run_cli(capsys, _config(tmp_path, url=s.url))
    cases.append((rc, err, "the Lichess account PlayasBot is not a bot account"))
    rc, err = _run_cli(capsys, _config(tmp_path, url="http://127.0.0.1:9/"))  # nothing listens there
    cases.append((rc, err, "cannot reach Lichess at http://127.0.0.1:9/"))
    for rc, err, message in cases:
        assert rc == 2 and err.startswith("playas: error: ") and message in err, err
        assert err.count("\n") == 1 and "Traceback" not in err and TOKEN not in err


def test_config_errors_are_one_sentence(tmp_path, capsys, monkeypatch, styled_model):
    monkeypatch.setenv("LICHESS_TOKEN", TOKEN)
    (tmp_path / "bad.yml").write_text("engine: {style: [\n")
    typo = _config(tmp_path, challenge={"concurency": 2})
    two = _config(tmp_path, challenge={"concurrency": "two"})
    cases = [(tmp_path / "missing.yml", "config file"),
             (tmp_path / "bad.yml", "is not valid YAML"),
             (_config(tmp_path, token="lip_x"), "holds a token"),
             (two, f"config file {two}: challenge.concurrency must be a whole number of at least 1, not 'two'\n"),
             (typo, f"config file {typo}: unknown setting 'challenge.concurency'; "
                    "did you mean 'challenge.concurrency'?"),
             (_config(tmp_path, engine={"model": str(MAIA), "temprature": 0}), "unknown setting 'engine.temprature'"),
             (_config(tmp_path, engine={"model": str(styled_model), "style": "Fischer"}), "unknown player 'Fischer'"),
             (_config(tmp_path, engine={"model": str(tmp_path / "none.pt")}), "does not exist")]
    for path, message in cases:
        rc, err = _run_cli(capsys, path)
        assert rc == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_lichess_bot_keys_are_listed_once_and_games_saved_beside_the_config(tmp_path, capsys, caplog, monkeypatch):
    monkeypatch.setenv("LICHESS_TOKEN", TOKEN)
    caplog.set_level(logging.INFO)
    path = _config(tmp_path, url="http://127.0.0.1:9/", pgn_directory="records", matchmaking={"allow_matchmaking": True},
                   engine={"model": str(MAIA), "polyglot": {"enabled": False}})
    rc, err = _run_cli(capsys, path)
    assert rc == 2 and "cannot reach Lichess" in err  # nothing listens there; the config itself was good
    assert caplog.text.count("not used by playas") == 1 and "engine.polyglot, matchmaking" in caplog.text
    assert load_config(path).pgn_directory == str(tmp_path / "records")  # not the working folder
