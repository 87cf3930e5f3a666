"""``playas chess enroll --lichess-user``: a user's public games fetched with the real berserk client
over real HTTP from a Lichess export endpoint on loopback (real Titled Tuesday games, served as
that user's), through a rate limit and a dropped stream, then enrolled; and the Lichess bot that
plays the style says whose model it is. Nothing mocked."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import torch

from playas.chess.model import load_model
from playas.chess.pgn import header_names, iter_game_texts
from tests.lichess_server import LichessServer
from tests.test_lichess import FAST, TOKEN as BOT_TOKEN
from tests.test_lichess import bot_on

ROOT = Path(__file__).resolve().parents[1]
USER = "GeorgMeier"  # 106 games in Titled Tuesday 2015
TOKEN = "lip_EnrollToken5e4d3c2b1a"  # distinctive, to look for in every output and file
STYLE = "Georg (blitz)"


class ExportServer:
    """Lichess' ``GET /api/games/user/{username}`` on loopback: PGN or ndjson as the Accept header
    asks, newest first, with ``max``, ``until``, ``perfType`` and ``pgnInJson``. ``faults`` are
    used up one a request: "429" (with Retry-After: 1) or ("drop", n): n games, then the
    connection is cut mid-stream."""

    def __init__(self, games: dict[str, list[str]]):
        self.games = {}  # username (lowercase) -> export objects, newest first
        for user, texts in games.items():
            self.games[user.lower()] = [{"id": f"tt{i:06d}", "rated": True, "variant": "standard", "speed": "blitz",
                                         "perf": "blitz", "createdAt": 1_430_000_000_000 - 600_000 * i,
                                         "lastMoveAt": 1_430_000_000_000 - 600_000 * i + 300_000, "pgn": t}
                                        for i, t in enumerate(texts)]
        self.faults: list = []
        self.requests: list[dict] = []  # query, Accept and Authorization of every request
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.answer(self)

        return Handler

    def answer(self, h) -> None:
        url = urlparse(h.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append({"path": url.path, "query": q, "accept": h.headers.get("Accept"),
                              "authorization": h.headers.get("Authorization")})
        fault = self.faults.pop(0) if self.faults else None
        m = re.fullmatch(r"/api/games/user/([\w-]+)", url.path)
        if fault == "429":
            return _send(h, 429, b'{"error":"Too many requests. Try again later."}', {"Retry-After": "1"})
        if not m or m.group(1).lower() not in self.games:
            return _send(h, 404, b'{"error":"Not found"}')
        until = int(q.get("until", 2**62))
        games = [g for g in self.games[m.group(1).lower()]
                 if g["speed"] in q.get("perfType", g["speed"]).split(",") and g["createdAt"] < until]
        games = games[:int(q["max"])] if "max" in q else games
        ndjson = "ndjson" in (h.headers.get("Accept") or "")
        if ndjson and q.get("pgnInJson", "").lower() != "true":
            games = [{k: v for k, v in g.items() if k != "pgn"} for g in games]
        items = [json.dumps(g).encode() + b"\n" if ndjson else g["pgn"].strip().encode() + b"\n\n\n" for g in games]
        _stream(h, "application/x-ndjson" if ndjson else "application/x-chess-pgn", items,
                fault[1] if isinstance(fault, tuple) else None)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _send(h, status: int, body: bytes, headers: dict | None = None) -> None:
    h.send_response(status)
    for k, v in {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}.items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


def _stream(h, content_type: str, items: list[bytes], drop_after: int | None) -> None:
    """A chunked body of ``items``; cut without its last chunk after ``drop_after`` of them."""
    h.send_response(200)
    h.send_header("Content-Type", content_type)
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    for i, data in enumerate(items):
        if i == drop_after:
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    h.wfile.write(b"0\r\n\r\n")


def games_of(shared_data: Path, user: str, n: int) -> list[str]:
    """The first ``n`` games with moves that ``user`` played in Titled Tuesday 2015, as written."""
    out = []
    for text in iter_game_texts(shared_data / "chess" / "titled-tuesday" / "titled-tuesday-2015.pgn.gz"):
        if user in header_names(text) and re.search(r"^1\. ", text, re.MULTILINE):
            out.append(text)
            if len(out) == n:
                break
    return out


def playas(*args, token=TOKEN):
    # one torch thread: on a busy 2-core machine two threads make the enrollment several times slower
    env = {**os.environ, "LICHESS_TOKEN": token, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "playas.cli", "chess", *map(str, args)], check=False,
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


@pytest.fixture(scope="module")
def lichess(shared_data):
    server = ExportServer({USER: games_of(shared_data, USER, 40), "Dlugy": games_of(shared_data, "Dlugy", 3)})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A styled model of three players over a small untrained network, quick to enroll into."""
    from playas.chess.model import CHESS, ChessNet, NetConfig, save_model
    from playas.core import learning as styled

    net = ChessNet(NetConfig(blocks=2, filters=16, se_ratio=4)).eval()  # untrained: the styles are names here
    torch.manual_seed(0)
    names = ["Tal", "Petrosian", "Carlsen"]
    model = styled.new_styled(CHESS, net, names, [10, 10, 10], {"heads": 4, "skills": 4, "rank": 2})
    path = tmp_path_factory.mktemp("tiny") / "tiny.pt"
    save_model(path, model.eval(), {"kind": "styled", "players": 3, "games_per_player": dict.fromkeys(names, 10)})
    return path


@pytest.fixture(scope="module")
def enrolled(lichess, tiny, tmp_path_factory):
    """GeorgMeier enrolled from Lichess, asked for as ``georgmeier``, through a 429 and a stream
    dropped after 15 games."""
    out_dir = tmp_path_factory.mktemp("enrolled")
    lichess.faults[:] = ["429", ("drop", 15)]
    start = len(lichess.requests)
    r = playas("enroll", "--lichess-user", "georgmeier", "--max", 40, "--speed", "blitz", "--name", STYLE,
               "--lichess-url", lichess.url, "--model", tiny, "--out", out_dir / "georg.pt")
    return {"run": r, "dir": out_dir, "model": out_dir / "georg.pt", "requests": lichess.requests[start:]}


def test_enroll_from_a_lichess_account_through_a_429_and_a_dropped_stream(enrolled):
    r = enrolled["run"]
    assert r.returncode == 0, r.stderr
    assert f"fetched 40 public Lichess games of {USER}\n" in r.stdout and f"enrolled {STYLE} from 40 games," in r.stdout
    model, blob = load_model(enrolled["model"])
    assert model.table.names == ["Tal", "Petrosian", "Carlsen", STYLE] and model.table.games[-1] == 40
    source = blob["card"]["enrolled"][STYLE]["source"]
    assert source["lichess_user"] == USER and source["perfs"] == ["blitz"] and source["url"].startswith("http://127")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT.*", source["fetched"])
    # asked three times: rate-limited, dropped after 15 games, then resumed before the 15th (not from the start)
    reqs = enrolled["requests"]
    assert len(reqs) == 3 and all(q["path"] == "/api/games/user/georgmeier" for q in reqs)
    assert reqs[0]["query"]["perfType"] == "blitz" and reqs[0]["query"]["max"] == "40"
    assert all(q["accept"] == "application/x-ndjson" and q["query"]["pgnInJson"] == "True" for q in reqs)
    assert "until" not in reqs[1]["query"] and int(reqs[2]["query"]["max"]) == 40 - 15 + 1
    assert int(reqs[2]["query"]["until"]) == 1_430_000_000_000 - 600_000 * 14 + 1
    assert "Lichess asked for a pause (HTTP 429): waiting 1s" in r.stderr
    assert "the connection dropped" in r.stderr
    # the token went to Lichess and nowhere else
    assert all(q["authorization"] == f"Bearer {TOKEN}" for q in reqs)
    assert TOKEN not in r.stdout + r.stderr
    written = list(enrolled["dir"].iterdir())
    assert {p.suffix for p in written} >= {".pt", ".json"}
    assert not any(TOKEN.encode() in p.read_bytes() for p in written)


def test_the_same_games_from_a_pgn_record_their_files(lichess, tiny, tmp_path):
    pgn = tmp_path / "meier.pgn"
    pgn.write_text("".join(g["pgn"] + "\n" for g in lichess.games[USER.lower()][:8]))
    r = playas("enroll", "--games", pgn, "--player", USER, "--name", USER, "--model", tiny, "--out", tmp_path / "m.pt")
    assert r.returncode == 0, r.stderr
    assert load_model(tmp_path / "m.pt")[1]["card"]["enrolled"][USER]["source"] == {"pgn": ["meier.pgn"]}


@pytest.mark.parametrize("args, message", [
    (["--lichess-user", "nobody-here"], "there is no Lichess user 'nobody-here' at"),
    (["--lichess-user", "Dlugy"], "3 games of Dlugy found; enrollment needs at least 5"),
    (["--lichess-user", "Georg Meier"], "is not a Lichess username"),
    (["--lichess-user", USER, "--speed", "blitz,crazyhouse"], "is not a list of speeds"),
    (["--lichess-user", USER, "--player", USER], "--lichess-user names the player"),
    (["--lichess-user", USER, "--lichess-url", "CLOSED"], "could not fetch the games of GeorgMeier"),
])
def test_user_errors_are_one_sentence(lichess, tiny, tmp_path, args, message):
    args = [_closed_port() if a == "CLOSED" else a for a in args]  # the network is gone
    url = [] if "--lichess-url" in args else ["--lichess-url", lichess.url]
    r = playas("enroll", *args, *url, "--name", "x", "--model", tiny, "--out", tmp_path / "x.pt")
    assert r.returncode == 2
    said = [line for line in r.stderr.splitlines() if line.startswith("playas") and ": error: " in line]
    assert len(said) == 1 and message in said[0], r.stderr
    assert TOKEN not in r.stderr and not (tmp_path / "x.pt").exists()


def test_games_and_lichess_user_are_one_or_the_other(tiny, tmp_path):
    r = playas("enroll", "--lichess-user", USER, "--games", "a.pgn", "--name", "x", "--model", tiny, "--out", "x.pt")
    assert r.returncode == 2 and "--lichess-user names the player and the games: leave out --games" in r.stderr
    r = playas("enroll", "--name", "x", "--model", tiny, "--out", "x.pt")
    assert r.returncode == 2 and "give the player's games: --games PGN... or --lichess-user USERNAME" in r.stderr


def _closed_port() -> str:
    """A loopback URL where nothing listens: the network is gone."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_the_bot_playing_the_style_says_it_is_a_model_not_the_person(enrolled):
    from playas.bots.lichess import EngineWrapper
    from playas.bots.lichess.config import parse_config

    assert enrolled["run"].returncode == 0, enrolled["run"].stderr
    note = f"I play in the style of {USER}, learned from public games; I am not {USER}."
    # FAST: no search still running in the game's thread when the test ends (torch aborts at exit)
    engine = EngineWrapper(parse_config({"engine": {"model": str(enrolled["model"]), "style": STYLE, **FAST}}).engine)
    assert engine.not_them(STYLE) == note and engine.not_them(f'"{STYLE}":0.5,Tal:0.5') == note
    assert engine.not_them("Tal") == "" and engine.not_them(None) == ""
    with LichessServer(token=BOT_TOKEN, keepalive=0.5) as server, bot_on(server, engine):
        gid = server.challenge("alice", opponent="manual")
        server.wait(lambda: gid in server.games and len(server.games[gid].chat) >= 4, 30, "the greetings")
        chat = server.chat_of(gid)
    assert ("player", note) in chat and ("spectator", note) in chat
    assert any(room == "player" and text.startswith(f"Hi! I'm PlayasBot, playing as {STYLE}.") for room, text in chat)
