"""The account's event stream: challenges accepted or declined by the filters, games started.

Thin, like the UCI engine: every move and score comes from the chess move interface
(:mod:`playas.chess.engine`, set up for the bot by :mod:`.engine_wrapper`). The Lichess Bot API
goes through ``berserk`` (:mod:`.api`), the config and challenge filters use lichess-bot's terms
(:mod:`.config`), and each game runs in :mod:`.game`. The token comes only from the environment
variable ``LICHESS_TOKEN`` and is never written anywhere; the API address is the config's ``url``.

Threads: the event stream (challenges, game starts) runs in one; each game has one that plays
and one that reads its game stream, so several games go on at once over one shared model. The
main thread only waits, and turns Ctrl-C into "take no more challenges, finish the games"; a
second Ctrl-C resigns them. Network trouble never costs a game: a dropped stream reconnects with
exponential backoff, a failed request is retried, and HTTP 429 pauses every request for
``rate_limit_wait`` seconds (60, as Lichess asks).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

from ... import __version__
from ...core.errors import PlayasError
from .api import Backoff, Lichess, LichessError, TokenRefused
from .config import Config, decline_reason, queue_key
from .engine_wrapper import EngineWrapper
from .game import FINISH, RESIGN, Game

LOG = logging.getLogger("playas.lichess")


# --- the bot -----------------------------------------------------------------------------------

HELP = "Commands: !style (who I play as), !eval (spectators), !name, !queue, !howto, !help"


class LichessBot:
    """The account's event stream: challenges by the filters, games started in their own threads."""

    def __init__(self, cfg: Config, engine: EngineWrapper, api: Lichess, account: dict):
        self.cfg, self.engine, self.api = cfg, engine, api
        self.username = str(account.get("username") or account.get("id"))
        self.user_id = str(account.get("id") or self.username).lower()
        self.lock = threading.RLock()
        self.pgn_lock = threading.Lock()
        self.games: dict[str, Game] = {}
        self.accepted: dict[str, float] = {}  # challenge id -> when accepted, until its game starts
        self.waiting: dict[str, dict] = {}  # challenges waiting for a free slot
        self.closing = api.closing
        self.done = threading.Event()
        self.stopping = self.resigning = False
        self.resign_deadline = 0.0
        self.fatal: str | None = None
        self.finished = 0
        self.signals = self.signals_handled = 0  # Ctrl-C presses, counted in the handler, acted on in _tick

    # --- running -----------------------------------------------------------------------------
    def run(self) -> int:
        """Play until stopped (Ctrl-C, or ``interrupt``); 0 after finishing, 130 after resigning."""
        styles = " / ".join(self.engine.describe(s) for s in self.engine.styles)
        LOG.info("%s is online, playing as %s (%s)", self.username, styles, self.engine.path.name)
        if self.cfg.pgn_directory:
            LOG.info("finished games are saved as PGN in %s", Path(self.cfg.pgn_directory).resolve())
        else:
            LOG.info("finished games are not saved (the config sets no pgn_directory)")
        events = threading.Thread(target=self._event_loop, daemon=True, name="lichess-events")
        old = None
        if threading.current_thread() is threading.main_thread():
            old = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            events.start()
            while not self.done.wait(0.2):
                self._tick()
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
            self.close()
        if self.fatal:
            raise PlayasError(self.fatal)
        return 130 if self.resigning else 0

    def _on_sigint(self, *_) -> None:
        self.signals += 1  # only count: the handler may run in the middle of a request or holding the lock
        if self.signals >= 3:
            self.done.set()

    def interrupt(self) -> None:
        """Ctrl-C: first take no more challenges and let the games finish; then resign them."""
        with self.lock:
            if not self.stopping:
                self.stopping = True
                waiting, self.waiting = list(self.waiting), {}
                LOG.info("stopping: no more challenges; %d game(s) will finish (Ctrl-C again resigns them)",
                         len(self.games))
            elif not self.resigning:
                self.resigning, waiting = True, []
                self.resign_deadline = time.monotonic() + 20
                LOG.info("resigning %d game(s)", len(self.games))
                for g in self.games.values():
                    g.inbox.put(RESIGN)
            else:
                self.done.set()
                return
        for cid in waiting:
            self._decline(cid, "later")

    def fail(self, message: str) -> None:
        """Something no retry can mend (the token was revoked): stop with this sentence."""
        self.fatal = self.fatal or message
        self.done.set()

    def close(self) -> None:
        """Stop every thread now (games still running stay on Lichess, to resume on restart)."""
        self.closing.set()
        self.api.cut_streams()

    def _tick(self) -> None:
        while self.signals_handled < self.signals:
            self.signals_handled += 1
            self.interrupt()
        if self.closing.is_set():
            self.done.set()
            return
        now = time.monotonic()
        with self.lock:
            for cid, t in list(self.accepted.items()):
                if now - t > 30:  # accepted, but no game came of it (the challenger left)
                    del self.accepted[cid]
            idle = not self.games and not self.accepted
        if self.stopping and idle:
            self.done.set()
        elif self.resigning and now > self.resign_deadline:
            self.done.set()
        elif not self.stopping:
            self._fill_slots()

    # --- events ------------------------------------------------------------------------------
    def _event_loop(self) -> None:
        backoff = Backoff(0.5, 60)
        while not self.closing.is_set():
            try:
                for event in self.api.events():
                    backoff.reset()
                    try:
                        self._on_event(event)
                    except LichessError as e:
                        LOG.warning("%s", e)
                    except Exception:  # a bug in one event must not stop the account
                        kind = event.get("type") if isinstance(event, dict) else "?"
                        LOG.exception("error handling a %s event", kind)
                    if self.closing.is_set():
                        return
                if self.closing.is_set():
                    return
                LOG.info("the event stream ended; reconnecting")
            except TokenRefused as e:
                self.fail(str(e))
                return
            except LichessError as e:
                if self.closing.is_set():
                    return
                LOG.warning("%s; reconnecting", e)
            self.closing.wait(backoff.next())

    def _on_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "challenge":
            self._on_challenge(event.get("challenge") or {})
        elif kind in ("challengeCanceled", "challengeDeclined"):
            cid = (event.get("challenge") or {}).get("id")
            with self.lock:
                self.waiting.pop(cid, None)
                self.accepted.pop(cid, None)
        elif kind == "gameStart":
            self._start_game(event.get("game") or {})
        elif kind == "gameFinish":
            game = event.get("game") or {}
            with self.lock:
                g = self.games.get(game.get("gameId") or game.get("id"))
            if g:
                g.inbox.put((FINISH, game))

    def _on_challenge(self, ch: dict) -> None:
        cid = ch.get("id")
        who = ch.get("challenger") or {}
        if not cid or str(who.get("id", "")).lower() == self.user_id:
            return  # our own challenge to someone else
        with self.lock:
            if cid in self.waiting or cid in self.accepted or cid in self.games:
                return  # sent again after a reconnect
            reason = decline_reason(ch, self.cfg.challenge)
            name = str(who.get("name") or who.get("id"))
            if reason is None and self.stopping:
                reason = "later"
            if reason is None and self._games_against(name) >= self.cfg.challenge.max_simultaneous_games_per_user:
                reason = "later"
            accept = reason is None and self._free_slots() > 0
            if reason is None and not accept:
                if len(self.waiting) < self.cfg.challenge.max_queue:
                    self.waiting[cid] = ch
                    LOG.info("challenge %s from %s waits for a free slot (%d waiting)", cid, name, len(self.waiting))
                    return
                reason = "later"
            if accept:
                self.accepted[cid] = time.monotonic()
        if accept:
            self._accept(cid, ch)
        else:
            LOG.info("declining challenge %s from %s: %s", cid, name, reason)
            self._decline(cid, reason)

    def _accept(self, cid: str, ch: dict) -> bool:
        who = ch.get("challenger") or {}
        tc = (ch.get("timeControl") or {}).get("show") or ch.get("speed")
        LOG.info("accepting challenge %s from %s (%s, %s)", cid, who.get("name"), tc,
                 "rated" if ch.get("rated") else "casual")
        try:
            self.api.accept(cid)
            return True
        except LichessError as e:
            LOG.info("%s", e)
            with self.lock:
                self.accepted.pop(cid, None)
            return False

    def _decline(self, cid: str, reason: str) -> None:
        try:
            self.api.decline(cid, reason)
        except LichessError as e:
            LOG.info("%s", e)

    def _free_slots(self) -> int:
        return self.cfg.challenge.concurrency - len(self.games) - len(self.accepted)

    def _games_against(self, name: str) -> int:
        return sum(g.opponent_name.lower() == name.lower() for g in self.games.values())

    def _fill_slots(self) -> None:
        """Accept waiting challenges, best first, while there are free slots."""
        while True:
            with self.lock:
                if self.stopping or not self.waiting or self._free_slots() <= 0:
                    return
                cid = min(self.waiting, key=lambda k: queue_key(self.waiting[k], self.cfg.challenge))
                ch = self.waiting.pop(cid)
                self.accepted[cid] = time.monotonic()
            self._accept(cid, ch)

    def _start_game(self, info: dict) -> None:
        gid = info.get("gameId") or info.get("id")
        if not gid:
            return
        with self.lock:
            self.accepted.pop(gid, None)
            if gid in self.games or self.closing.is_set():
                return
            game = self.games[gid] = Game(self, gid, info)
        game.start()

    def game_ended(self, game: Game) -> None:
        with self.lock:
            if self.games.get(game.id) is game:
                del self.games[game.id]
                self.finished += game.over
        if not self.stopping:
            self._fill_slots()

    # --- chat --------------------------------------------------------------------------------
    def chat_reply(self, game: Game, command: str, spectator: bool) -> str | None:
        """The answer to a chat command (lichess-bot's, plus !style), or None to stay quiet."""
        if command in ("help", "commands"):
            return HELP
        if command == "style":
            e = self.engine
            nodes = f", {e.nodes} nodes" if e.nodes > 1 else ""
            return f"I play as {e.describe(game.style)} ({e.path.stem}, temperature {e.temperature:g}{nodes})."
        if command == "eval":
            return game.eval_text() if spectator else "I don't tell that to my opponent, sorry."
        if command == "name":
            return f"{self.username} running playas {__version__} ({self.engine.path.stem})"
        if command == "howto":
            return "How to run a bot like me: pip install playas, then playas chess lichess --config lichess.yml"
        if command == "queue":
            with self.lock:
                names = [str((c.get("challenger") or {}).get("name")) for c in self.waiting.values()]
            return f"Waiting challenges: {', '.join(names)}." if names else "No challenges are waiting."
        return None
