"""The Lichess Bot API as the bot uses it: berserk over one pooled session, with Lichess' manners.

Every request goes through :meth:`Lichess.call` or :meth:`Lichess.stream`, which sort failures
into three kinds: :class:`TokenRefused` (HTTP 401: stop), :class:`Refused` (another 4xx: retrying
will not help) and :class:`Trouble` (the network, a 5xx, or HTTP 429: retry). After a 429 every
request of every thread pauses for ``rate_limit_wait`` seconds, as Lichess asks. Error messages
name the request, never the token.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import berserk
import requests
from berserk.clients import Bots

from ... import __version__
from ...chess.lichess_http import network_problem

LOG = logging.getLogger("playas.lichess")
TOKEN_VARIABLE = "LICHESS_TOKEN"
CHAT_LIMIT = 140  # Lichess drops longer chat lines


class LichessError(Exception):
    """A request Lichess did not carry out; ``str()`` is one sentence."""


class Refused(LichessError):
    """Lichess answered with a client error (4xx other than 401 and 429): retrying will not help."""

    def __init__(self, what: str, status: int, detail: str = ""):
        super().__init__(f"Lichess refused {what} (HTTP {status}{': ' + detail if detail else ''})")
        self.status = status


class TokenRefused(LichessError):
    """HTTP 401: the token is wrong, revoked, or lacks the bot:play scope."""


class Trouble(LichessError):
    """A failure that may pass: the network, a server error, or a rate limit (HTTP 429)."""


class Backoff:
    """Exponential waits for reconnecting: 0.5 s, 1, 2, ... up to ``most``; ``reset`` on success."""

    def __init__(self, first: float = 0.5, most: float = 60.0):
        self.first, self.most, self.delay = first, most, first

    def next(self) -> float:
        d, self.delay = self.delay, min(self.delay * 2, self.most)
        return d

    def reset(self) -> None:
        self.delay = self.first


class BotSession(berserk.TokenSession):
    """berserk's TokenSession with time-outs, a connection pool for many games, and a way to cut
    a stream from another thread (a blocked read only returns when its socket is shut down)."""

    def __init__(self, token: str, stream_timeout: float, pool: int):
        super().__init__(token)
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["User-Agent"] = f"playas/{__version__}"
        self.stream_timeout = stream_timeout
        self.streams: dict[int, requests.Response] = {}  # thread id -> its open stream
        self.streams_lock = threading.Lock()

    def request(self, method, url, **kw):
        stream = kw.get("stream", False)
        # Lichess sends keep-alive lines on its streams: a stream silent this long is dead
        kw.setdefault("timeout", (10, self.stream_timeout if stream else 20))
        r = super().request(method, url, **kw)
        if stream:
            with self.streams_lock:
                self.streams[threading.get_ident()] = r
        return r

    def forget(self) -> None:
        """The calling thread's stream has ended."""
        with self.streams_lock:
            self.streams.pop(threading.get_ident(), None)

    def cut(self, thread_id: int | None = None) -> None:
        """Shut the socket of one thread's open stream (or all), so its blocked read returns."""
        with self.streams_lock:
            rs = list(self.streams.values()) if thread_id is None else [self.streams.get(thread_id)]
        for r in rs:
            sock = getattr(getattr(getattr(r, "raw", None), "connection", None), "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class BotClient(Bots):
    """berserk's Bots client with the Bot API endpoints berserk 0.14 lacks."""

    def move_offering_draw(self, game_id: str, move: str) -> None:
        self._r.post(f"/api/bot/game/{game_id}/move/{move}", params={"offeringDraw": "true"})

    def answer_draw(self, game_id: str, accept: bool) -> None:
        self._r.post(f"/api/bot/game/{game_id}/draw/{'yes' if accept else 'no'}")

    def answer_takeback(self, game_id: str, accept: bool) -> None:
        self._r.post(f"/api/bot/game/{game_id}/takeback/{'yes' if accept else 'no'}")

    def claim_victory(self, game_id: str) -> None:
        self._r.post(f"/api/bot/game/{game_id}/claim-victory")


class Lichess:
    """The Bot API with Lichess' manners: retries, backoff, and one shared pause after HTTP 429."""

    def __init__(self, token: str, url: str, *, rate_limit_wait: float = 60, stream_timeout: float = 30,
                 pool: int = 16, closing: threading.Event | None = None):
        self.url = url if url.endswith("/") else url + "/"
        self.session = BotSession(token, stream_timeout, pool)
        self.client = berserk.Client(self.session, base_url=self.url)
        self.bots = BotClient(self.session, self.url)
        self.rate_limit_wait = rate_limit_wait
        self.closing = closing or threading.Event()
        self.paused_until = 0.0

    # --- errors ------------------------------------------------------------------------------
    def _classify(self, what: str, e: Exception) -> Exception:
        """The LichessError that ``e`` stands for (``e`` itself if it is not about Lichess at all)."""
        if isinstance(e, berserk.exceptions.ResponseError):
            status = e.status_code
            if status == 401:
                return TokenRefused(f"Lichess refused the token in {TOKEN_VARIABLE} (HTTP 401); "
                                    "create a new one with the bot:play scope")
            if status == 429:
                self.paused_until = time.monotonic() + self.rate_limit_wait
                LOG.warning("Lichess asked for a pause (HTTP 429) on %s: no requests for %gs", what,
                            self.rate_limit_wait)
                return Trouble(f"{what} was rate-limited (HTTP 429)")
            if status < 500:
                return Refused(what, status, _error_text(e))
            return Trouble(f"{what} failed with HTTP {status}")
        if isinstance(e, (berserk.exceptions.BerserkError, requests.RequestException, OSError, ValueError)):
            return Trouble(f"{what} failed ({network_problem(e)})")
        return e

    def _await_pause(self) -> None:
        while (left := self.paused_until - time.monotonic()) > 0 and not self.closing.is_set():
            self.closing.wait(min(left, 1.0))

    def call(self, what: str, fn, *args, tries: int = 5, quiet: bool = False):
        """``fn(*args)``, retried on Trouble with backoff (and after a 429 pause); other errors raise.
        ``quiet`` retries without a log line (the start-up check, which fails in one sentence)."""
        backoff = Backoff(0.5, 8)
        for attempt in range(1, tries + 1):
            self._await_pause()
            try:
                return fn(*args)
            except Exception as e:  # sorted by _classify: our errors, or a bug that must surface
                err = self._classify(what, e)
                if err is e:
                    raise
                if not isinstance(err, Trouble) or attempt == tries or self.closing.is_set():
                    raise err from None
                if time.monotonic() >= self.paused_until:  # a 429 has already waited its pause
                    delay = backoff.next()
                    if not quiet:
                        LOG.warning("%s; retrying in %.1fs", err, delay)
                    self.closing.wait(delay)

    def stream(self, what: str, open_stream):
        """Yield a stream's events; failing to open or read it raises a LichessError."""
        self._await_pause()
        try:
            for event in open_stream():
                yield event
        except Exception as e:
            err = self._classify(what, e)
            if err is e:
                raise
            raise err from None
        finally:
            self.session.forget()

    # --- endpoints ---------------------------------------------------------------------------
    def account(self) -> dict:
        return self.call("the account request", self.client.account.get, tries=2, quiet=True)

    def events(self):
        return self.stream("the event stream", self.bots.stream_incoming_events)

    def game_stream(self, game_id: str):
        return self.stream(f"the stream of game {game_id}", lambda: self.bots.stream_game_state(game_id))

    def move(self, game_id: str, uci: str, offering_draw: bool = False) -> None:
        fn = self.bots.move_offering_draw if offering_draw else self.bots.make_move
        self.call(f"move {uci} in game {game_id}", fn, game_id, uci)

    def accept(self, challenge_id: str) -> None:
        self.call(f"accepting challenge {challenge_id}", self.bots.accept_challenge, challenge_id)

    def decline(self, challenge_id: str, reason: str) -> None:
        self.call(f"declining challenge {challenge_id}", self.bots.decline_challenge, challenge_id, reason)

    def chat(self, game_id: str, text: str, spectator: bool = False) -> None:
        self.call(f"chat in game {game_id}", self.bots.post_message, game_id, text[:CHAT_LIMIT], spectator, tries=2)

    def abort(self, game_id: str) -> None:
        self.call(f"aborting game {game_id}", self.bots.abort_game, game_id)

    def resign(self, game_id: str) -> None:
        self.call(f"resigning game {game_id}", self.bots.resign_game, game_id)

    def answer_draw(self, game_id: str, accept: bool) -> None:
        self.call(f"answering a draw offer in game {game_id}", self.bots.answer_draw, game_id, accept)

    def answer_takeback(self, game_id: str, accept: bool) -> None:
        self.call(f"answering a takeback in game {game_id}", self.bots.answer_takeback, game_id, accept)

    def claim_victory(self, game_id: str) -> None:
        self.call(f"claiming victory in game {game_id}", self.bots.claim_victory, game_id, tries=2)

    def cut_streams(self, thread_id: int | None = None) -> None:
        self.session.cut(thread_id)


def _error_text(e) -> str:
    cause = getattr(e, "cause", None)
    if isinstance(cause, dict):
        return str(cause.get("error") or cause)[:200]
    return ""
