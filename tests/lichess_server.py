"""A small Lichess on loopback that speaks the Bot API, for the Lichess bot's tests and benchmark.

A real threaded HTTP server on 127.0.0.1 (an ephemeral port): ndjson event and game streams in
chunked encoding with keep-alive lines, as Lichess sends them, and the endpoints berserk calls
(account, challenge accept/decline, move, chat, abort, resign, draw and takeback answers, claim
victory). It keeps the rules with python-chess, runs clocks, ends games on mate, stalemate or
resignation, and plays the bot's opponents itself:

- ``feeder``: walks into mate. Each move gives the bot a mate in one when it can (else as many
  checks as it can), never mates or stalemates the bot and never leaves it a stalemating reply,
  so a game ends in a checkmate the bot delivers, in a few dozen plies, whatever the bot's style
  or temperature (200 of 200 games of Maia-1100 sampling at temperature 1 did, 28 plies on
  average, 76 at most).
- ``random``: legal moves at random (seeded), for long games in the benchmark.
- ``manual``: nothing; the test moves with :meth:`LichessServer.play`.

A test can also make it misbehave: answer HTTP 429 or drop the connection on the next requests
matching a pattern (:meth:`fail`), and cut open streams (:meth:`drop_streams`).
"""

from __future__ import annotations

import json
import queue
import random
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import chess

DROP = object()  # a stream item: cut the connection without ending the chunked body
END = None  # a stream item: end the body properly


def speed_of(limit: int, increment: int) -> str:
    """Lichess' speed from the estimated game duration, base + 40 increments, in seconds."""
    t = limit + 40 * increment
    return ("ultraBullet" if t < 30 else "bullet" if t < 180 else "blitz" if t < 480
            else "rapid" if t < 1500 else "classical")


def feeder_move(board: chess.Board) -> chess.Move:
    """A move that hands the side not to move a mate in one if there is one, else the most checks,
    and never a stalemate: among the moves that leave the other side no stalemating reply."""
    def replies(b: chess.Board) -> tuple[int, int, int]:
        mates = checks = stalemates = 0
        for r in b.legal_moves:
            check = b.gives_check(r)
            b.push(r)
            if check:
                checks += 1
                mates += b.is_checkmate()
            else:
                stalemates += b.is_stalemate()  # cheap: stops at the first legal move
            b.pop()
        return -stalemates, mates, checks

    best, choice = None, None
    for m in sorted(board.legal_moves, key=lambda m: m.uci()):
        board.push(m)
        if board.is_checkmate() or board.is_stalemate():
            board.pop()
            continue  # the feeder never wins and never stalemates
        key = replies(board)
        board.pop()
        if best is None or key > best:
            best, choice = key, m
    return choice or next(iter(board.legal_moves))


@dataclass
class ServerGame:
    id: str
    bot_color: bool
    opponent: dict
    initial_fen: str
    rated: bool
    speed: str
    clock: tuple[int, int] | None  # initial and increment, ms
    mode: str = "feeder"
    delay: float = 0.0
    max_plies: int | None = None
    board: chess.Board = None
    status: str = "started"
    winner: str | None = None
    times: list = field(default_factory=lambda: [0, 0])  # ms left: [black, white] (chess.BLACK is 0)
    last_move_at: float = 0.0
    flags: dict = field(default_factory=lambda: dict.fromkeys(("wdraw", "bdraw", "wtakeback", "btakeback"), False))
    subscribers: list = field(default_factory=list)
    chat: list = field(default_factory=list)  # (room, text) the bot wrote
    latencies: list = field(default_factory=list)  # (ply, seconds) from the bot's turn to its move
    bot_turn_since: float | None = None
    bot_draw_offers: int = 0
    gone: bool = False
    created: float = field(default_factory=time.time)
    started_at: float = field(default_factory=time.monotonic)
    ended_at: float | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def __post_init__(self):
        self.board = chess.Board(self.initial_fen)
        if self.clock:
            self.times = [self.clock[0], self.clock[0]]

    @property
    def moves(self) -> list[str]:
        return [m.uci() for m in self.board.move_stack]

    @property
    def over(self) -> bool:
        return self.status not in ("created", "started")

    @property
    def result(self) -> str:
        return {"white": "1-0", "black": "0-1"}.get(self.winner, "1/2-1/2" if self.over else "*")


class LichessServer:
    """The server and the test's handles on it. Use as a context manager, or start() and stop()."""

    def __init__(self, token: str = "test-token", username: str = "PlayasBot", title: str | None = "BOT",
                 keepalive: float = 1.0):
        self.token, self.username, self.title, self.keepalive = token, username, title, keepalive
        self.cv = threading.Condition()
        self.challenges: dict[str, dict] = {}  # pending
        self.games: dict[str, ServerGame] = {}
        self.declined: dict[str, str] = {}  # challenge id -> reason
        self.accepted: list[str] = []
        self.event_subscribers: list[queue.Queue] = []
        self.connections = {"event": 0}  # stream connections opened, by "event" or game id
        self.requests: list[tuple[float, str, str]] = []  # (time.monotonic(), method, path)
        self.refusals: list[tuple[str, str, int]] = []  # (method, path, status) of every 4xx and 5xx sent
        self.headers_seen: list[dict] = []
        self.faults: list[list] = []  # [pattern, kind, remaining]
        self.specs: dict[str, dict] = {}  # challenge id -> how the game is to be played
        self._n = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="lichess-server")

    # --- life --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def start(self) -> "LichessServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        with self.cv:
            for q in self.event_subscribers:
                q.put(END)
            for g in self.games.values():
                for q in g.subscribers:
                    q.put(END)
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- what a test does --------------------------------------------------------------------
    def challenge(self, challenger: str = "alice", *, title: str | None = None, rating: int = 1500,
                  rated: bool = False, variant: str = "standard", limit: int = 180, increment: int = 2,
                  days: int | None = None, bot_color: str = "white", fen: str | None = None,
                  opponent: str = "feeder", delay: float = 0.0, max_plies: int | None = None,
                  game_id: str | None = None) -> str:
        """Send the bot a challenge; returns its id (the game's id if accepted)."""
        with self.cv:
            self._n += 1
            cid = game_id or f"g{self._n:03d}{random.Random(self._n).randrange(16**4):04x}"
            if days is not None:
                tc, speed = {"type": "correspondence", "daysPerTurn": days}, "correspondence"
            else:
                tc = {"type": "clock", "limit": limit, "increment": increment, "show": f"{limit / 60:g}+{increment}"}
                speed = speed_of(limit, increment)
            theirs = {"white": "black", "black": "white"}[bot_color]
            ch = {"id": cid, "url": self.url + cid, "status": "created",
                  "challenger": {"id": challenger.lower(), "name": challenger, "title": title, "rating": rating,
                                 "provisional": False, "online": True},
                  "destUser": {"id": self.username.lower(), "name": self.username, "title": self.title, "rating": 1500},
                  "variant": {"key": variant, "name": variant.capitalize(), "short": variant[:3]},
                  "rated": rated, "speed": speed, "timeControl": tc, "color": theirs, "finalColor": theirs,
                  "perf": {"icon": "", "name": speed}}
            if fen:
                ch["initialFen"] = fen
            self.challenges[cid] = ch
            self.specs[cid] = dict(opponent=opponent, delay=delay, max_plies=max_plies, bot_color=bot_color == "white",
                                   fen=fen or chess.STARTING_FEN)
            self._publish({"type": "challenge", "challenge": ch})
            return cid

    def cancel(self, cid: str) -> None:
        with self.cv:
            ch = self.challenges.pop(cid, None)
            if ch:
                self._publish({"type": "challengeCanceled", "challenge": ch})

    def play(self, gid: str, uci: str | None = None) -> None:
        """The opponent's move in a ``manual`` game: ``uci``, or the feeder's choice."""
        with self.cv:
            g = self.games[gid]
            assert g.board.turn != g.bot_color and not g.over, "not the opponent's turn"
            self._push(g, chess.Move.from_uci(uci) if uci else feeder_move(g.board))

    def say(self, gid: str, text: str, room: str = "player", username: str | None = None) -> None:
        with self.cv:
            g = self.games[gid]
            self._to_game(g, {"type": "chatLine", "username": username or g.opponent["name"], "text": text,
                              "room": room})

    def offer_draw(self, gid: str) -> None:
        self._opponent_flag(gid, "draw")

    def offer_takeback(self, gid: str) -> None:
        self._opponent_flag(gid, "takeback")

    def opponent_gone(self, gid: str, claim_in: int = 0) -> None:
        with self.cv:
            g = self.games[gid]
            g.gone = True
            self._to_game(g, {"type": "opponentGone", "gone": True, "claimWinInSeconds": claim_in})

    def resume_opponent(self, gid: str, mode: str = "feeder", delay: float = 0.0) -> None:
        """Switch a game's opponent (say from manual to feeder) and let it move if it is its turn."""
        with self.cv:
            g = self.games[gid]
            g.mode, g.delay = mode, delay
            self._opponent_turn(g)

    def fail(self, pattern: str, kind: str = "429", times: int = 1) -> None:
        """The next ``times`` requests whose "METHOD path" matches ``pattern`` get HTTP 429 (kind
        "429"), a 500 ("500"), or a closed connection and no answer at all ("drop")."""
        with self.cv:
            self.faults.append([re.compile(pattern), kind, times])

    def drop_streams(self, which: str = "event") -> None:
        """Cut the open event stream ("event") or a game's streams (its id) mid-body."""
        with self.cv:
            subs = self.event_subscribers if which == "event" else self.games[which].subscribers
            for q in subs:
                q.put(DROP)

    def wait(self, predicate, timeout: float = 30.0, what: str = "the condition"):
        """Wait until ``predicate()`` (called under the lock) is true; its value, or AssertionError."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                value = predicate()
                if value:
                    return value
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
                self.cv.wait(min(left, 0.1))

    def chat_of(self, gid: str) -> list[tuple[str, str]]:
        with self.cv:
            return list(self.games[gid].chat)

    # --- the game rules ----------------------------------------------------------------------
    def _create_game(self, cid: str) -> ServerGame:
        ch, spec = self.challenges.pop(cid), self.specs[cid]
        tc = ch["timeControl"]
        who = ch["challenger"]
        g = ServerGame(cid, spec["bot_color"], {"id": who["id"], "name": who["name"], "title": who["title"],
                                                "rating": who["rating"]},
                       spec["fen"], ch["rated"], ch["speed"],
                       (tc["limit"] * 1000, tc["increment"] * 1000) if tc["type"] == "clock" else None,
                       mode=spec["opponent"], delay=spec["delay"], max_plies=spec["max_plies"])
        self.games[cid] = g
        self.connections.setdefault(cid, 0)
        self._publish({"type": "gameStart", "game": self._game_event(g)})
        self._opponent_turn(g)
        if g.board.turn == g.bot_color:
            g.bot_turn_since = time.monotonic()
        return g

    def _push(self, g: ServerGame, move: chess.Move) -> None:
        """Play ``move`` for whoever is to move: clocks, game end, and the new state to the streams."""
        now = time.monotonic()
        mover = g.board.turn
        if g.clock and len(g.board.move_stack) >= 2:  # as on Lichess, the clocks start after both first moves
            g.times[mover] -= int((now - g.last_move_at) * 1000)
            if g.times[mover] <= 0:
                g.times[mover] = 0
                self._end(g, "outoftime", not mover)
                return
        if g.clock:
            g.times[mover] += g.clock[1]
        g.last_move_at = now
        g.board.push(move)
        for k in g.flags:
            g.flags[k] = False
        if g.board.is_checkmate():
            self._end(g, "mate", mover)
        elif g.board.is_stalemate():
            self._end(g, "stalemate", None)
        elif g.board.is_insufficient_material() or g.board.is_fivefold_repetition() or g.board.is_seventyfive_moves() \
                or (g.max_plies and len(g.board.move_stack) >= g.max_plies):
            self._end(g, "draw", None)
        else:
            self._state(g)
            if g.board.turn == g.bot_color:
                g.bot_turn_since = time.monotonic()
            self._opponent_turn(g)

    def _end(self, g: ServerGame, status: str, winner: bool | None) -> None:
        g.status = status
        g.winner = None if winner is None else ("white" if winner == chess.WHITE else "black")
        g.ended_at = time.monotonic()
        self._state(g)
        for q in g.subscribers:
            q.put(END)  # Lichess closes a game's stream when the game is over
        self._publish({"type": "gameFinish", "game": self._game_event(g)})

    def _opponent_turn(self, g: ServerGame) -> None:
        if g.over or g.board.turn == g.bot_color or g.mode == "manual":
            return
        threading.Thread(target=self._opponent_moves, args=(g, len(g.board.move_stack)), daemon=True).start()

    def _opponent_moves(self, g: ServerGame, ply: int) -> None:
        if g.delay:
            time.sleep(g.delay)
        with self.cv:
            if g.over or len(g.board.move_stack) != ply or g.board.turn == g.bot_color or g.mode == "manual":
                return
            if g.mode == "feeder":
                move = feeder_move(g.board)
            else:
                move = g.rng.choice(sorted(g.board.legal_moves, key=lambda m: m.uci()))
            self._push(g, move)

    def _opponent_flag(self, gid: str, what: str) -> None:
        with self.cv:
            g = self.games[gid]
            g.flags[("b" if g.bot_color == chess.WHITE else "w") + what] = True
            self._state(g)

    # --- messages ----------------------------------------------------------------------------
    def _players(self, g: ServerGame) -> tuple[dict, dict]:
        bot = {"id": self.username.lower(), "name": self.username, "title": self.title, "rating": 2000,
               "provisional": False}
        opp = {**g.opponent, "provisional": False}
        return (bot, opp) if g.bot_color == chess.WHITE else (opp, bot)

    def _state_json(self, g: ServerGame) -> dict:
        big = 2_147_483_647  # what Lichess sends for games without a clock
        s = {"type": "gameState", "moves": " ".join(g.moves),
             "wtime": g.times[chess.WHITE] if g.clock else big, "btime": g.times[chess.BLACK] if g.clock else big,
             "winc": g.clock[1] if g.clock else 0, "binc": g.clock[1] if g.clock else 0,
             "status": g.status, **g.flags}
        if g.winner:
            s["winner"] = g.winner
        return s

    def _full_json(self, g: ServerGame) -> dict:
        white, black = self._players(g)
        return {"type": "gameFull", "id": g.id, "rated": g.rated,
                "variant": {"key": "standard" if g.initial_fen == chess.STARTING_FEN else "fromPosition",
                            "name": "Standard", "short": "Std"},
                "clock": {"initial": g.clock[0], "increment": g.clock[1]} if g.clock else None,
                "speed": g.speed, "perf": {"name": g.speed}, "createdAt": int(g.created * 1000),
                "white": white, "black": black,
                "initialFen": "startpos" if g.initial_fen == chess.STARTING_FEN else g.initial_fen,
                "state": self._state_json(g)}

    def _game_event(self, g: ServerGame) -> dict:
        last = g.board.move_stack[-1].uci() if g.board.move_stack else ""
        ev = {"gameId": g.id, "fullId": g.id + "abcd", "color": "white" if g.bot_color else "black",
              "fen": g.board.fen(), "hasMoved": bool(g.board.move_stack),
              "isMyTurn": g.board.turn == g.bot_color and not g.over, "lastMove": last,
              "opponent": {"id": g.opponent["id"], "username": g.opponent["name"], "rating": g.opponent["rating"]},
              "perf": g.speed, "rated": g.rated, "source": "friend",
              "status": {"id": 20 if not g.over else 30, "name": g.status}, "speed": g.speed,
              "variant": {"key": "standard", "name": "Standard"}, "compat": {"bot": True, "board": True}, "id": g.id}
        if g.clock:
            ev["secondsLeft"] = g.times[g.bot_color] // 1000
        if g.winner:
            ev["winner"] = g.winner
        return ev

    def _state(self, g: ServerGame) -> None:
        self._to_game(g, self._state_json(g))

    def _to_game(self, g: ServerGame, obj: dict) -> None:
        for q in g.subscribers:
            q.put(obj)
        self.cv.notify_all()

    def _publish(self, obj: dict) -> None:
        for q in self.event_subscribers:
            q.put(obj)
        self.cv.notify_all()

    # --- HTTP --------------------------------------------------------------------------------
    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            lichess = server

            def log_message(self, *args):  # quiet
                pass

            def handle(self):
                try:
                    super().handle()
                except OSError:  # the bot went away mid-request (a test killed it): nothing to answer
                    pass

            def do_GET(self):
                server._route(self, "GET")

            def do_POST(self):
                server._route(self, "POST")

        return Handler

    ROUTES = [
        ("GET", r"/api/account", "_account"),
        ("GET", r"/api/stream/event", "_event_stream"),
        ("GET", r"/api/bot/game/stream/(\w+)", "_game_stream"),
        ("POST", r"/api/bot/game/(\w+)/move/(\w+)", "_move"),
        ("POST", r"/api/challenge/(\w+)/accept", "_accept"),
        ("POST", r"/api/challenge/(\w+)/decline", "_decline"),
        ("POST", r"/api/bot/game/(\w+)/chat", "_chat"),
        ("POST", r"/api/bot/game/(\w+)/abort", "_abort"),
        ("POST", r"/api/bot/game/(\w+)/resign", "_resign"),
        ("POST", r"/api/bot/game/(\w+)/draw/(yes|no)", "_draw"),
        ("POST", r"/api/bot/game/(\w+)/takeback/(yes|no)", "_takeback"),
        ("POST", r"/api/bot/game/(\w+)/claim-victory", "_claim"),
    ]

    def _route(self, h, method: str) -> None:
        url = urlparse(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self.cv:
            self.requests.append((time.monotonic(), method, url.path))
            self.headers_seen.append(dict(h.headers))
            fault = self._fault(f"{method} {url.path}")
        if fault == "drop":
            _cut(h)
            return
        if fault in ("429", "500"):
            return _json(h, int(fault), {"error": "Too many requests. Try again later." if fault == "429" else "oops"})
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return _json(h, 401, {"error": "No such token"})
        for m, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, url.path)
            if m == method and match:
                try:
                    return getattr(self, name)(h, *match.groups(), query=parse_qs(url.query), body=_form(h, body))
                except (BrokenPipeError, ConnectionResetError):
                    return
        _json(h, 404, {"error": "Not found"})

    def _fault(self, request: str) -> str | None:
        for f in self.faults:
            if f[2] > 0 and f[0].search(request):
                f[2] -= 1
                return f[1]
        return None

    def _account(self, h, **_):
        me = {"id": self.username.lower(), "username": self.username, "perfs": {}, "createdAt": 1_600_000_000_000,
              "seenAt": 1_700_000_000_000, "url": self.url + "@/" + self.username}
        if self.title:
            me["title"] = self.title
        _json(h, 200, me)

    def _event_stream(self, h, **_):
        q: queue.Queue = queue.Queue()
        with self.cv:
            self.connections["event"] += 1
            self.event_subscribers.append(q)
            # as Lichess: on connect, the games in progress and the open challenges
            for g in self.games.values():
                if not g.over:
                    q.put({"type": "gameStart", "game": self._game_event(g)})
            for ch in self.challenges.values():
                q.put({"type": "challenge", "challenge": ch})
            self.cv.notify_all()
        try:
            _stream(h, q, self.keepalive)
        finally:
            with self.cv:
                self.event_subscribers.remove(q)

    def _game_stream(self, h, gid, **_):
        q: queue.Queue = queue.Queue()
        with self.cv:
            g = self.games.get(gid)
            if g is None:
                return _json(h, 404, {"error": "No such game"})
            self.connections[gid] = self.connections.get(gid, 0) + 1
            q.put(self._full_json(g))
            if g.over:
                q.put(END)
            else:
                g.subscribers.append(q)
            self.cv.notify_all()
        try:
            _stream(h, q, self.keepalive)
        finally:
            with self.cv:
                if q in g.subscribers:
                    g.subscribers.remove(q)

    def _bot_game(self, h, gid) -> ServerGame | None:
        g = self.games.get(gid)
        if g is None:
            _json(h, 404, {"error": "No such game"})
        return g

    def _move(self, h, gid, uci, query, **_):
        with self.cv:
            g = self._bot_game(h, gid)
            if g is None:
                return
            if g.over or g.board.turn != g.bot_color:
                return _json(h, 400, {"error": "Not your turn, or game already over"})
            try:
                move = chess.Move.from_uci(uci)
            except ValueError:
                move = None
            if move is None or move not in g.board.legal_moves:
                return _json(h, 400, {"error": f"Illegal move {uci}"})
            if g.bot_turn_since is not None:
                g.latencies.append((len(g.board.move_stack), time.monotonic() - g.bot_turn_since))
                g.bot_turn_since = None
            if query.get("offeringDraw") == ["true"]:
                g.bot_draw_offers += 1
            self._push(g, move)
        _json(h, 200, {"ok": True})

    def _accept(self, h, cid, **_):
        with self.cv:
            if cid not in self.challenges:
                return _json(h, 404, {"error": "Challenge not found"})
            self.accepted.append(cid)
            self._create_game(cid)
        _json(h, 200, {"ok": True})

    def _decline(self, h, cid, body, **_):
        with self.cv:
            ch = self.challenges.pop(cid, None)
            if ch is None:
                return _json(h, 404, {"error": "Challenge not found"})
            self.declined[cid] = body.get("reason", "generic")
            self._publish({"type": "challengeDeclined", "challenge": {**ch, "status": "declined"}})
        _json(h, 200, {"ok": True})

    def _chat(self, h, gid, body, **_):
        with self.cv:
            g = self._bot_game(h, gid)
            if g is None:
                return
            g.chat.append((body.get("room", "player"), body.get("text", "")))
            # Lichess echoes every line, the bot's own too, to the game stream
            self._to_game(g, {"type": "chatLine", "username": self.username, "text": body.get("text", ""),
                              "room": body.get("room", "player")})
        _json(h, 200, {"ok": True})

    def _abort(self, h, gid, **_):
        with self.cv:
            g = self._bot_game(h, gid)
            if g is None:
                return
            if g.over or len(g.board.move_stack) >= 2:
                return _json(h, 400, {"error": "This game can no longer be aborted"})
            self._end(g, "aborted", None)
        _json(h, 200, {"ok": True})

    def _resign(self, h, gid, **_):
        with self.cv:
            g = self._bot_game(h, gid)
            if g is None:
                return
            if g.over:
                return _json(h, 400, {"error": "The game is over"})
            self._end(g, "resign", not g.bot_color)
        _json(h, 200, {"ok": True})

    def _draw(self, h, gid, answer, **_):
        with self.cv:
            g = self._bot_game(h, gid)
            if g is None:
                return
            theirs = ("b" if g.bot_color == chess.WHITE else "w") + "draw"
            if g.over or not g.flags[theirs]:
                return _json(h, 400, {"error": "No draw offer to answer"})
            if answer == "yes":
                self._end(g, "draw", None)
            else:
                g.flags[theirs] = False
                self._state(g)
        _json(h, 200, {"ok": True})

    def _takeback(self, h, gid, answer, **_):
        with self.cv:
            g = self._bot_game(h, gid)
            if g is None:
                return
            theirs = ("b" if g.bot_color == chess.WHITE else "w") + "takeback"
            if g.over or not g.flags[theirs]:
                return _json(h, 400, {"error": "No takeback request to answer"})
            g.flags[theirs] = False
            if answer == "yes":
                # the opponent takes back their last move, and the bot's reply to it if there is one
                while g.board.move_stack:
                    g.board.pop()
                    if g.board.turn != g.bot_color:  # that was the opponent's move
                        break
                if g.board.turn == g.bot_color:
                    g.bot_turn_since = time.monotonic()
            self._state(g)
            if answer == "yes":
                self._opponent_turn(g)
        _json(h, 200, {"ok": True})

    def _claim(self, h, gid, **_):
        with self.cv:
            g = self._bot_game(h, gid)
            if g is None:
                return
            if g.over or not g.gone:
                return _json(h, 400, {"error": "The opponent has not left"})
            self._end(g, "timeout", g.bot_color)
        _json(h, 200, {"ok": True})


def _form(h, body: bytes) -> dict:
    """A request body as a dict, whether berserk sent JSON or a form."""
    if not body:
        return {}
    if "json" in (h.headers.get("Content-Type") or ""):
        try:
            return json.loads(body)
        except ValueError:
            return {}
    return {k: v[0] for k, v in parse_qs(body.decode()).items()}


def _json(h, status: int, obj) -> None:
    if status >= 400:
        with h.lichess.cv:
            h.lichess.refusals.append((h.command, urlparse(h.path).path, status))
    data = json.dumps(obj).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def _cut(h) -> None:
    """Close the connection with no (or no more) answer, as a network fault does."""
    h.close_connection = True
    try:
        h.wfile.flush()
        h.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _stream(h, q: queue.Queue, keepalive: float) -> None:
    """An ndjson body in chunks: items from ``q``, a blank keep-alive line when quiet."""
    h.send_response(200)
    h.send_header("Content-Type", "application/x-ndjson")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()

    def chunk(data: bytes) -> None:
        h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        h.wfile.flush()

    try:
        while True:
            try:
                item = q.get(timeout=keepalive)
            except queue.Empty:
                chunk(b"\n")
                continue
            if item is DROP:
                return _cut(h)
            if item is END:
                h.wfile.write(b"0\r\n\r\n")
                h.wfile.flush()
                return
            chunk(json.dumps(item).encode() + b"\n")
    except OSError:  # the bot went away
        h.close_connection = True
