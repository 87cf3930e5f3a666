"""One Lichess game: a thread that reads its game stream into an inbox, one that plays from it.

The playing thread keeps the board (rebuilt from the moves Lichess sends, so takebacks and
reconnections need no special case), moves only on its turn and only once per position, answers
draw offers and takebacks by the config, chats, aborts a game whose opponent never moves, claims
the win when the opponent has left, and saves the finished game as PGN.
"""

from __future__ import annotations

import datetime
import logging
import queue
import re
import threading
import time
import zlib
from pathlib import Path
from typing import Protocol

import chess
import chess.pgn
import numpy as np

from ...chess.limits import ClockLog, Limits
from .api import Backoff, Lichess, LichessError, Refused, TokenRefused, Trouble
from .config import Config
from .engine_wrapper import EngineWrapper

LOG = logging.getLogger("playas.lichess")
LIVE = ("created", "started")  # game statuses of a game still being played
DRAWN = ("draw", "stalemate")

RESIGN, FINISH, WAKE = "resign", "finish", "wake"  # what the bot tells a game besides stream events


def _ms(v) -> int | None:
    """A clock value in milliseconds (berserk turns some into timedelta, gameFull's stay numbers)."""
    if v is None:
        return None
    if isinstance(v, datetime.timedelta):
        return int(v.total_seconds() * 1000)
    return int(v)


def _status(v) -> str:
    """A status as a name: game streams send "mate", the event stream {"id": 30, "name": "mate"}."""
    return (v.get("name") if isinstance(v, dict) else v) or "started"


def _terminal(event: dict) -> bool:
    if event.get("type") == "gameFull":
        return _status((event.get("state") or {}).get("status")) not in LIVE
    if event.get("type") == "gameState":
        return _status(event.get("status")) not in LIVE
    return False


def _fill(template: str, **values) -> str:
    """``template`` with ``{me}``, ``{opponent}``, ``{style}`` replaced (other braces left alone)."""
    for k, v in values.items():
        template = template.replace("{" + k + "}", str(v))
    return template


class Host(Protocol):
    """What a game needs of the bot that runs it (:class:`~playas.bots.lichess.bot.LichessBot`): its
    account, its settings and engine, and where a game reports back."""

    api: Lichess
    cfg: Config
    engine: EngineWrapper
    closing: threading.Event
    pgn_lock: threading.Lock
    user_id: str
    username: str

    def fail(self, message: str) -> None: ...

    def game_ended(self, game: Game) -> None: ...

    def chat_reply(self, game: Game, command: str, spectator: bool) -> str | None: ...


class Game:
    """One game: a thread that reads its stream into an inbox and a thread that plays from it."""

    def __init__(self, bot: Host, game_id: str, start: dict | None = None):
        self.bot, self.api, self.cfg, self.engine = bot, bot.api, bot.cfg, bot.engine
        self.id = game_id
        self.opponent_name = str(((start or {}).get("opponent") or {}).get("username") or "?")
        self.inbox: queue.Queue = queue.Queue()
        self.style = self.engine.style_for(game_id)
        # Seeded by the game's id, as the style is: a game can be replayed move for move to find a fault.
        self.rng = np.random.default_rng(zlib.crc32(game_id.encode()))
        self.color: bool | None = None
        self.initial_fen = chess.STARTING_FEN
        self.board = chess.Board()
        self.moves: list[str] = []
        self.status, self.winner = "started", None
        self.state: dict = {}
        self.state_at = time.monotonic()
        self.info: dict = {}  # the gameFull: players, clock, speed, rated
        self.moved_at: int | None = None  # the move count we last answered, so we never move twice
        self.opponent_draw = self.opponent_takeback = False
        self.takebacks = 0
        self.scores: list[int] = []
        self.clocks = ClockLog()  # the clocks at each of our moves, for the think times they imply
        self.last_draw_offer = -100
        self.values: list[float] = []  # the value head's expected score at each of our turns (endings rules)
        self.draws: list[float] = []  # and its draw chance
        self.greeted = False
        self.seen_at = time.monotonic()
        self.claim_at: float | None = None
        self.resign_sent_at: float | None = None
        self.finish_event: dict | None = None  # the event stream's gameFinish, while the game stream catches up
        self.finish_at: float | None = None
        self.over = False
        self.stream_over = threading.Event()
        self.reader_id: int | None = None
        self.player = threading.Thread(target=self._play, daemon=True, name=f"game-{game_id}")
        self.reader = threading.Thread(target=self._read, daemon=True, name=f"stream-{game_id}")

    def start(self) -> None:
        self.reader.start()
        self.player.start()

    # --- the stream (reader thread) ----------------------------------------------------------
    def _read(self) -> None:
        """Game events into the inbox until the game is over, reconnecting after any drop."""
        self.reader_id = threading.get_ident()
        backoff, missing = Backoff(0.5, 30), 0
        while not self.stream_over.is_set() and not self.bot.closing.is_set():
            try:
                for event in self.api.game_stream(self.id):
                    backoff.reset()
                    missing = 0
                    self.inbox.put(event)
                    if _terminal(event):
                        self.stream_over.set()
                if self.stream_over.is_set() or self.bot.closing.is_set():
                    break
                LOG.info("game %s: the stream ended early; reconnecting", self.id)
            except Refused as e:
                missing += 1
                LOG.warning("game %s: %s", self.id, e)
                if missing >= 3:  # the game is gone; the event stream's gameFinish (or the bot) ends it
                    self.inbox.put((FINISH, None))
                    return
            except TokenRefused as e:
                self.bot.fail(str(e))
                return
            except LichessError as e:
                if self.stream_over.is_set() or self.bot.closing.is_set():
                    break  # we cut it ourselves: the game is over, or the bot is closing
                LOG.warning("game %s: %s; reconnecting", self.id, e)
            self.bot.closing.wait(backoff.next())

    # --- playing (player thread) -------------------------------------------------------------
    def _play(self) -> None:
        try:
            while not self.over and not self.bot.closing.is_set():
                try:
                    item = self.inbox.get(timeout=0.5)
                except queue.Empty:
                    item = WAKE
                try:
                    self._handle(item)
                    if not self.over:
                        self._timers()
                        self._maybe_move()
                except LichessError as e:
                    LOG.warning("game %s: %s", self.id, e)
                    if isinstance(e, TokenRefused):
                        self.bot.fail(str(e))
                except Exception:  # a bug must not cost the game: say so and go on with the next event
                    LOG.exception("game %s: error handling %s", self.id, _describe_item(item))
            if self.over:
                self._finish()
        finally:
            self.stream_over.set()
            if self.reader_id is not None:
                self.api.cut_streams(self.reader_id)
            self.bot.game_ended(self)

    def _handle(self, item) -> None:
        if isinstance(item, dict):
            kind = item.get("type")
            if kind == "gameFull":
                self._on_full(item)
            elif kind == "gameState":
                self._on_state(item)
            elif kind == "chatLine":
                self._on_chat(item)
            elif kind == "opponentGone":
                self._on_gone(item)
        elif isinstance(item, tuple) and item[0] == FINISH:
            # our own stream has the last move and the final state, maybe already in the inbox behind
            # this: give it a moment to bring them before ending on the event stream's word
            pending = self.reader.is_alive() or not self.inbox.empty()
            self.finish_event, self.finish_at = item[1], time.monotonic() + (3 if pending else 0)
        elif item == RESIGN and not self.over:
            LOG.info("game %s: resigning, as asked by a second Ctrl-C", self.id)
            self.resign_sent_at = time.monotonic()
            try:
                self.api.resign(self.id)
            except Refused:  # already over
                pass

    def _on_full(self, full: dict) -> None:
        self.info = full
        white, black = full.get("white") or {}, full.get("black") or {}
        me = self.bot.user_id
        if str(white.get("id", "")).lower() == me:
            self.color = chess.WHITE
        elif str(black.get("id", "")).lower() == me:
            self.color = chess.BLACK
        else:
            LOG.error("game %s: %s is neither player; leaving it", self.id, self.bot.username)
            self.over = True
            self.status = "unknown"
            return
        opp = black if self.color == chess.WHITE else white
        self.opponent_name = str(opp.get("name") or opp.get("id") or "AI")
        fen = full.get("initialFen") or "startpos"
        self.initial_fen = chess.STARTING_FEN if fen == "startpos" else fen
        self.board = chess.Board(self.initial_fen)
        self.moves = []
        first = not self.greeted
        self._on_state(full.get("state") or {})
        if first:
            resumed = len(self.moves) > 1
            LOG.info("game %s: %s %s as %s against %s (%s)", self.id, "resuming" if resumed else "playing",
                     "White" if self.color else "Black", self.engine.describe(self.style), self.opponent_name,
                     _describe_clock(full))
            if not resumed and not self.over:
                self._greet(self.cfg.greeting.hello, self.cfg.greeting.hello_spectators)
                note = self.engine.not_them(self.style)  # said even with the greetings off
                self._say(note)
                self._say(note, spectator=True)
            self.greeted = True

    def _on_state(self, state: dict) -> None:
        self.state, self.state_at = state, time.monotonic()
        moves = (state.get("moves") or "").split()
        self._sync(moves)
        self.status, self.winner = _status(state.get("status")), state.get("winner")
        if self.status not in LIVE:
            self.over = True
            return
        if self.color is None:
            return
        opp = "b" if self.color == chess.WHITE else "w"
        draw, takeback = bool(state.get(f"{opp}draw")), bool(state.get(f"{opp}takeback"))
        if draw and not self.opponent_draw:
            self._answer_draw()
        if takeback and not self.opponent_takeback:
            self._answer_takeback()
        self.opponent_draw, self.opponent_takeback = draw, takeback

    def _sync(self, moves: list[str]) -> None:
        """Bring the board to ``moves``: push the new ones, or rebuild after a takeback."""
        if moves[: len(self.moves)] != self.moves:
            self.board, self.moves = chess.Board(self.initial_fen), []
        for uci in moves[len(self.moves):]:
            try:
                self.board.push_uci(uci)
            except ValueError:
                LOG.error("game %s: Lichess sent %r, not a legal move in %s", self.id, uci, self.board.fen())
                break
            self.moves.append(uci)
        if self.moved_at is not None and len(self.moves) < self.moved_at:
            self.moved_at = None  # a takeback: this move count may come round again

    def _on_finish_event(self, game: dict | None) -> None:
        """The event stream says the game is over (our own stream may have missed the end)."""
        if self.over:
            return
        if game:
            self.status = _status(game.get("status")) if game.get("status") else "unknownFinish"
            self.winner = game.get("winner", self.winner)
        elif self.status in LIVE:
            self.status = "unknownFinish"
        self.over = True

    def _on_gone(self, event: dict) -> None:
        gone, secs = event.get("gone"), event.get("claimWinInSeconds")
        self.claim_at = time.monotonic() + float(secs) if gone and secs is not None else None
        if gone:
            claim = f"; victory can be claimed in {secs}s" if secs is not None else ""
            LOG.info("game %s: the opponent left%s", self.id, claim)

    def _timers(self) -> None:
        now = time.monotonic()
        if self.claim_at is not None and now >= self.claim_at:
            self.claim_at = None
            LOG.info("game %s: claiming victory; the opponent is gone", self.id)
            try:
                self.api.claim_victory(self.id)
            except Refused as e:
                LOG.info("game %s: %s", self.id, e)
        if (self.color is not None and self.info.get("clock") and not self._opponent_moved()
                and self.board.turn != self.color and now - self.seen_at > self.cfg.abort_time):
            LOG.info("game %s: aborting; the opponent made no move in %gs", self.id, self.cfg.abort_time)
            self.seen_at = now  # once per abort_time, whatever the answer
            try:
                self.api.abort(self.id)
            except Refused as e:
                LOG.info("game %s: %s", self.id, e)
        if self.finish_at is not None and now >= self.finish_at and self.inbox.empty():
            self._on_finish_event(self.finish_event)
        if self.resign_sent_at is not None and now - self.resign_sent_at > 10:
            self._on_finish_event(None)  # resigned, but the stream never said so: stop waiting

    def _opponent_moved(self) -> bool:
        first_mover = chess.Board(self.initial_fen).turn
        return len(self.moves) >= (1 if first_mover != self.color else 2)

    # --- moving ------------------------------------------------------------------------------
    def _my_turn(self) -> bool:
        return (self.color is not None and self.status == "started" and self.board.turn == self.color
                and not self.over and self.resign_sent_at is None and not self.board.is_game_over())

    def _maybe_move(self) -> None:
        n = len(self.moves)
        if not self._my_turn() or self.moved_at == n:
            return
        w, d, lo = self.engine.judge(self.board, self.style).wdl.relative  # first: a search it reads comes
        self.values.append(self._resign_reading((w - lo) / 1000))  # out of this move's time, not after it
        self.draws.append(d / 1000)
        think = self._human_time()
        choice = self.engine.think(self.board, self.style, self.rng, self._deadline(think), wait=think is not None)
        cp = choice.score.relative.score(mate_score=100_000)
        self.scores.append(cp)
        if self._should_resign():
            LOG.info("game %s: resigning at %+d cp", self.id, cp)
            self.moved_at = n
            self.api.resign(self.id)
            return
        offer = self._should_offer_draw()
        self.moved_at = n
        try:
            self.api.move(self.id, choice.move.uci(), offer)
        except Refused as e:
            LOG.warning("game %s: %s", self.id, e)  # the game moved on (or ended); the stream will say
            return
        except Trouble:
            self.moved_at = None  # not sent: think again at the next wake-up
            raise
        if offer:
            self.last_draw_offer = n
            LOG.info("game %s: offered a draw with %s", self.id, choice.move.uci())

    def _limits(self) -> Limits:
        s = self.state
        return Limits(wtime=_ms(s.get("wtime")), btime=_ms(s.get("btime")), winc=_ms(s.get("winc")),
                      binc=_ms(s.get("binc")))

    def _human_time(self) -> float | None:
        """The seconds the person would think here (``engine.human_time``), None to slice the clock."""
        limits = self._limits()
        clocks = limits.clocks(self.color == chess.WHITE)
        if not self.cfg.engine.human_time or clocks is None:
            return None
        own, other, inc = clocks
        other_inc = ((limits.binc if self.color == chess.WHITE else limits.winc) or 0) / 1000
        base, own_spent, other_spent = self.clocks.see(self.board.ply(), own, other, inc, other_inc)
        initial = (self.info.get("clock") or {}).get("initial")
        return self.engine.engine.think_time(self.board, limits, self.style, self.engine.steer,
                                             base=initial / 1000 if initial else base, own_spent=own_spent,
                                             opponent_spent=other_spent, rng=self.rng)

    def _deadline(self, think: float | None = None) -> float | None:
        """When this move must be sent: after the person's ``think`` time, or a slice of our clock,
        less the move overhead."""
        budget = self._limits().budget(self.color == chess.WHITE, self.cfg.engine.move_overhead, think)
        return None if budget is None else self.state_at + budget

    def _pieces(self) -> int:
        return chess.popcount(self.board.occupied)

    def _should_offer_draw(self) -> bool:
        d = self.cfg.engine.draw_or_resign
        moves = d.offer_draw_moves or 10
        if not d.offer_draw_enabled or len(self.moves) - self.last_draw_offer < 2 * moves:
            return False
        if d.offer_draw_pieces is not None and self._pieces() > d.offer_draw_pieces:
            return False
        if d.offer_draw_score is None:
            return self.engine.endings.should_offer_draw(self.board, self.draws)
        recent = self.scores[-moves:]
        return len(recent) == moves and all(abs(s) <= d.offer_draw_score for s in recent)

    def _resign_reading(self, value: float) -> float:
        """The expected score the learned resignation rule reads here: the value head's ``value``,
        or the bot's own search in a bad position (:meth:`~playas.chess.endings.Resign.reads`)."""
        if not self._people_resign():
            return value  # no rule of the person's reads it
        return self.engine.endings.resign.reads(self.engine.engine.policy(self.style, self.engine.steer), self.board,
                                                value)

    def _people_resign(self) -> bool:
        """Whether resigning is on with the person's learned rule (no lichess-bot score or moves set)."""
        d = self.cfg.engine.draw_or_resign
        return d.resign_enabled and d.resign_score is None and d.resign_moves is None

    def _should_resign(self) -> bool:
        d = self.cfg.engine.draw_or_resign
        if not d.resign_enabled:
            return False
        if self._people_resign():
            return self.engine.endings.should_resign(self.values, self.board.ply())
        moves, score = d.resign_moves or 3, -1000 if d.resign_score is None else d.resign_score
        recent = self.scores[-moves:]
        return len(recent) == moves and all(s <= score for s in recent)

    def _answer_draw(self) -> None:
        d = self.cfg.engine.draw_or_resign
        judged = (self.engine.judge(self.board, self.style)
                  if self.color is not None and any(self.board.legal_moves) else None)
        score = judged.score.pov(self.color).score(mate_score=100_000) if judged else None
        if not d.offer_draw_enabled or judged is None or (d.offer_draw_pieces is not None
                                                          and self._pieces() > d.offer_draw_pieces):
            accept = False
        elif d.offer_draw_score is None:  # as people do: where they would offer one, or when worse
            w, dr, lo = judged.wdl.pov(self.color)
            accept = self.engine.endings.accepts_draw(self.board, self.draws + [dr / 1000], (w - lo) / 1000)
        else:
            accept = score <= d.offer_draw_score
        LOG.info("game %s: %s a draw offer (score %s cp, %d pieces)", self.id, "accepting" if accept else "declining",
                 score, self._pieces())
        try:
            self.api.answer_draw(self.id, accept)
        except Refused as e:
            LOG.info("game %s: %s", self.id, e)

    def _answer_takeback(self) -> None:
        accept = self.takebacks < self.cfg.max_takebacks_accepted
        LOG.info("game %s: %s a takeback request", self.id, "accepting" if accept else "declining")
        try:
            self.api.answer_takeback(self.id, accept)
            self.takebacks += accept
        except Refused as e:
            LOG.info("game %s: %s", self.id, e)

    # --- chat --------------------------------------------------------------------------------
    def _say(self, text: str, spectator: bool = False) -> None:
        if not text:
            return
        try:
            self.api.chat(self.id, text, spectator)
        except LichessError as e:  # chat is a courtesy: never let it hold up the game
            LOG.info("game %s: %s", self.id, e)

    def _greet(self, players: str, spectators: str) -> None:
        values = dict(me=self.bot.username, opponent=self.opponent_name, style=self.engine.describe(self.style))
        self._say(_fill(players, **values))
        self._say(_fill(spectators, **values), spectator=True)

    def _on_chat(self, line: dict) -> None:
        if str(line.get("username", "")).lower() == self.bot.user_id:
            return
        words = str(line.get("text", "")).strip().split()
        if not words or not words[0].startswith("!"):
            return
        spectator = line.get("room") == "spectator"
        reply = self.bot.chat_reply(self, words[0][1:].lower(), spectator)
        if reply:
            self._say(reply, spectator)

    def eval_text(self) -> str:
        if self.color is None or not any(self.board.legal_moves):
            return "There is nothing left to evaluate."
        judged = self.engine.judge(self.board, self.style)
        w, d, l = (x / 1000 for x in judged.wdl.pov(self.color))
        score = judged.score.pov(self.color).score(mate_score=100_000)
        return (f"{self.engine.describe(self.style)}'s view for {self.bot.username}: win {w:.0%}, draw {d:.0%}, "
                f"loss {l:.0%} ({score / 100:+.2f})")

    # --- the end -----------------------------------------------------------------------------
    def result(self) -> str:
        if self.winner in ("white", "black"):
            return "1-0" if self.winner == "white" else "0-1"
        if self.status in DRAWN or (self.status in ("outoftime", "timeout") and not self.winner):
            return "1/2-1/2"
        if self.board.is_checkmate():
            return "0-1" if self.board.turn == chess.WHITE else "1-0"
        return "*"

    def _finish(self) -> None:
        result = self.result()
        LOG.info("game %s over: %s (%s) after %d moves", self.id, result, self.status, len(self.moves))
        if self.status != "aborted" and self.color is not None:
            self._greet(self.cfg.greeting.goodbye, self.cfg.greeting.goodbye_spectators)
            try:
                path = self.save_pgn()
                if path:
                    LOG.info("game %s: saved to %s", self.id, path)
            except OSError as e:
                LOG.error("game %s: could not save the PGN (%s)", self.id, e)

    def pgn(self) -> chess.pgn.Game:
        """The game as PGN, with Lichess' headers (and FEN/SetUp when it began from a position)."""
        g = chess.pgn.Game.from_board(self.board)
        full = self.info
        white, black = full.get("white") or {}, full.get("black") or {}
        created = full.get("createdAt")
        day = created if isinstance(created, datetime.datetime) else datetime.datetime.now(datetime.timezone.utc)
        speed = str(full.get("speed") or "").capitalize()
        h = g.headers
        h["Event"] = f"{'Rated' if full.get('rated') else 'Casual'} {speed} game".replace("  ", " ")
        h["Site"] = self.api.url + self.id
        h["Date"] = day.strftime("%Y.%m.%d")
        h["Round"] = "-"
        h["White"], h["Black"] = _player(white), _player(black)
        h["Result"] = self.result()
        for side, p in (("White", white), ("Black", black)):
            if p.get("rating"):
                h[f"{side}Elo"] = str(p["rating"])
            if p.get("title"):
                h[f"{side}Title"] = str(p["title"])
        clock = full.get("clock") or {}
        h["TimeControl"] = f"{clock['initial'] // 1000}+{clock['increment'] // 1000}" if clock else "-"
        h["Variant"] = "From Position" if self.initial_fen != chess.STARTING_FEN else "Standard"
        h["Termination"] = {"outoftime": "Time forfeit", "timeout": "Abandoned"}.get(self.status, "Normal")
        h["PlayasStyle"] = self.engine.describe(self.style)
        return g

    def save_pgn(self) -> Path | None:
        directory = self.cfg.pgn_directory
        if not directory:
            return None
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        g = self.pgn()
        grouping = self.cfg.pgn_file_grouping
        if grouping == "game":
            name = f"{g.headers['White']} vs {g.headers['Black']} - {self.id}.pgn"
        elif grouping == "opponent":
            name = f"{self.bot.username} games vs. {self.opponent_name}.pgn"
        else:
            name = f"{self.bot.username} games.pgn"
        path = d / _safe_name(name)
        with self.bot.pgn_lock, open(path, "w" if grouping == "game" else "a", encoding="utf-8") as f:
            f.write(str(g) + "\n\n")  # under the lock: games ending together append whole games
        return path


def _player(p: dict) -> str:
    return str(p.get("name") or p.get("id") or (f"AI level {p['aiLevel']}" if p.get("aiLevel") else "?"))


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w .+-]", "_", name)


def _describe_clock(full: dict) -> str:
    clock = full.get("clock")
    mode = "rated" if full.get("rated") else "casual"
    if clock:
        return f"{clock['initial'] / 60000:g}+{clock['increment'] // 1000}, {mode}"
    return f"{full.get('speed', 'correspondence')}, {mode}"


def _describe_item(item) -> str:
    return item.get("type", "an event") if isinstance(item, dict) else repr(item)
