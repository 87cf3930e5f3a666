"""A UCI chess engine that plays as a person: any player of a styled model, a blend, or steered.

Any chess GUI (or python-chess, cutechess, polyglot for xboard GUIs) can run ``playas-uci``.
Thin by design: this module speaks the protocol (threads, clocks, options) and every move comes
from the chess move interface, :meth:`playas.chess.engine.Engine.search`, which also scores it;
here the typed scores are written as UCI's ``score cp N`` / ``score mate N``. By default a move
is one network evaluation, the pure style, in milliseconds; the ``Nodes`` option adds a small
search for a stronger opponent whose moves are still the player's.

Three threads: the main thread reads stdin and answers each command at once, so ``isready``,
``stop`` and ``ponderhit`` work while a worker thread thinks about a ``go``. The model loads in
a third thread from start-up, so ``uciok`` comes back before torch is even imported (the
``Player`` names come from the model card); ``isready`` waits for the load, as UCI intends.

Options: ``Player`` (a known player, or ``mean``), ``PlayerName`` (the same choice typed, for
GUIs that show only part of a long list: xboard through polyglot shows 16 of a combo's entries),
``Style`` (a blend such as ``Tal:0.7,Petrosian:0.3``; overrides Player), ``Steer`` (``capture_rate=1.5,early_queen=-1``),
``Temperature`` (0 plays the most likely move, 1 samples the player's own distribution),
``TopP`` (draw only among the likeliest moves that reach this probability together; 1: all),
``TempCutoffMove`` and ``TempEndgame`` (lc0's: from that move on, the temperature is TempEndgame;
by default 0 from move 10, the most visited move of the search: the person's best, not a sample),
``Nodes`` (1 is the pure style; more searches; 0, the default, as many as the move's time allows),
``HumanTime`` (on by default: with a clock, take as long as the person would, and search in that
time; off: a slice of the clock, as engines do), ``MultiPV``, ``Seed`` (0: random), ``Model``,
``Threads``, ``Move Overhead``, ``Ponder``, ``UCI_ShowWDL``, ``UCI_Opponent`` (recorded only).
A bad value is refused with an ``info string`` saying why, and the option keeps its value;
values are written as UCI writes them (``true``, ``<empty>``).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import chess

from .. import __version__
from ..chess import TEMP_CUTOFF_MOVE, TEMP_ENDGAME, TOP_P
from ..chess.limits import BOOK_PLIES, ClockLog, Limits
from ..core.card import card_players
from ..core.errors import PlayasError
from ..shipped import default_model

MEAN = "mean"  # the Player value for the mean style of all players
GO_NUMBERS = ("wtime", "btime", "winc", "binc", "movestogo", "movetime", "nodes", "depth", "mate")
GO_WORDS = set(GO_NUMBERS) | {"infinite", "ponder", "searchmoves"}
SEARCH_NODES = 100_000  # the most nodes one move searches


# --- options -------------------------------------------------------------------------------

@dataclass
class Option:
    """One UCI option: how it is declared after ``uci`` and how a ``setoption`` value is read."""

    name: str
    type: str  # check, spin, combo or string
    default: object
    min: int | None = None
    max: int | None = None
    vars: list[str] = field(default_factory=list)
    open: bool = False  # a combo that also takes values off its list, for the engine to check (typed names)

    def declaration(self) -> str:
        line = f"option name {self.name} type {self.type} default {uci_text(self.default)}"
        if self.type == "spin":
            line += f" min {self.min} max {self.max}"
        return line + "".join(f" var {v}" for v in self.vars)

    def parse(self, text: str):
        """The value ``text`` stands for; a bad one raises PlayasError saying why in one sentence."""
        text = text.strip()
        if self.type == "check":
            if text.lower() not in ("true", "false"):
                raise PlayasError(f"{self.name} is true or false, not {text!r}")
            return text.lower() == "true"
        if self.type == "spin":
            try:
                value = int(text)
            except ValueError:
                value = None
            if value is None or not self.min <= value <= self.max:
                raise PlayasError(f"{self.name} is a whole number from {self.min} to {self.max}, not {text!r}")
            return value
        if self.type == "combo":
            for v in self.vars:
                if v.lower() == text.lower():
                    return v
            if self.open:
                return text
            raise PlayasError(f"{self.name} {text!r} is not one of the {len(self.vars)} choices")
        return "" if text == "<empty>" else text


def uci_text(value) -> str:
    """A value as UCI writes it: ``true``/``false``, ``<empty>`` for an empty string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "<empty>" if value == "" else str(value)


def make_options(model: Path, players: list[str]) -> dict[str, Option]:
    opts = [
        Option("Player", "combo", MEAN, vars=[MEAN] + sorted(players, key=str.lower), open=True),
        Option("PlayerName", "string", ""),  # Player typed: any player (polyglot shows 16 combo entries)
        Option("Style", "string", ""),  # a blend like Tal:0.7,Petrosian:0.3; overrides Player
        Option("Steer", "string", ""),  # capture_rate=1.5,early_queen=-1
        Option("Temperature", "string", "1"),
        Option("TopP", "string", f"{TOP_P:g}"),  # draw only among the likeliest moves that reach this together
        Option("TempCutoffMove", "spin", TEMP_CUTOFF_MOVE, 0, 1000),  # lc0's: from this move on, TempEndgame (0: never)
        Option("TempEndgame", "string", f"{TEMP_ENDGAME:g}"),
        Option("Nodes", "spin", 0, 0, SEARCH_NODES),  # 0: as many as the time allows (one without a clock)
        Option("HumanTime", "check", True),  # with a clock: think as long as the person would
        Option("OwnBook", "check", True),  # the player's own games decide where they reach (their repertoire)
        Option("BookDepth", "spin", BOOK_PLIES, 0, BOOK_PLIES),  # ...up to this ply
        Option("MultiPV", "spin", 1, 1, 256),
        Option("Seed", "spin", 0, 0, 2**31 - 1),  # 0: a new random seed each run
        Option("Model", "string", str(model)),
        Option("Threads", "spin", 1, 1, max(os.cpu_count() or 1, 1)),
        Option("Move Overhead", "spin", 30, 0, 5000),
        Option("Ponder", "check", False),
        Option("UCI_ShowWDL", "check", False),
        Option("UCI_Opponent", "string", ""),
    ]
    return {o.name.lower(): o for o in opts}


def book_depth(values: dict) -> int:
    """The ply up to which the player's own games decide: BookDepth, or 0 with OwnBook off."""
    return values["BookDepth"] if values["OwnBook"] else 0


def _number(text: str, high: float, sentence: str) -> float:
    """``text`` as a number from 0 to ``high``, else PlayasError(``sentence`` + the text)."""
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not 0 <= x <= high:  # also rejects nan and inf
        raise PlayasError(f"{sentence}, not {text!r}")
    return x


def parse_temperature(text: str, name: str = "Temperature") -> float:
    return _number(text, 100, f"{name} is a number from 0 (the most likely move) to 100")


def parse_top_p(text: str) -> float:
    return _number(text, 1, "TopP is a probability from 0 (the likeliest move) to 1 (every move)")


def parse_steer_option(text: str) -> dict[str, float]:
    from ..core.table import parse_steer

    return parse_steer([s for s in re.split(r"[,\s]+", text) if s])


# --- go --------------------------------------------------------------------------------------

def parse_go(tokens: list[str], board: chess.Board | None) -> tuple[Limits, list[str]]:
    """``go`` tokens as Limits, and notes about any token that made no sense."""
    limits, notes, i = Limits(), [], 0
    while i < len(tokens):
        word = tokens[i]
        if word in GO_NUMBERS:
            try:
                setattr(limits, word, max(int(tokens[i + 1]), 0))  # some GUIs send negative clocks
                i += 2
                continue
            except (IndexError, ValueError):
                notes.append(f"go {word} needs a whole number")
        elif word in ("infinite", "ponder"):
            setattr(limits, word, True)
        elif word == "searchmoves":
            while i + 1 < len(tokens) and tokens[i + 1] not in GO_WORDS:
                i += 1
                try:
                    move = chess.Move.from_uci(tokens[i])
                    if board is None or not board.is_legal(move):
                        raise ValueError
                    limits.searchmoves.append(move)
                except ValueError:
                    notes.append(f"searchmoves: {tokens[i]!r} is not a legal move here")
        else:
            notes.append(f"go: ignored {word!r}")
        i += 1
    return limits, notes


class Job:
    """One ``go`` being thought about: its board, limits, and the GUI's signals while it runs."""

    def __init__(self, board: chess.Board, limits: Limits, engine, settings: dict, think: float | None = None):
        self.board, self.limits, self.engine = board, limits, engine
        self.think = think  # the seconds the person would take (HumanTime), None to slice the clock
        self.settings = settings  # the options as they were at go: a late setoption waits for the next go
        self.start = time.monotonic()
        self.stop = threading.Event()  # think no more
        self.released = threading.Event()  # bestmove may be sent (ponder and infinite hold it)
        self.deadline = None
        if not (limits.ponder or limits.infinite):
            self.released.set()
            self._set_deadline()

    def _set_deadline(self) -> None:
        budget = self.limits.budget(self.board.turn == chess.WHITE, self.settings["Move Overhead"], self.think)
        self.deadline = None if budget is None else time.monotonic() + budget

    def ponderhit(self) -> None:
        """The opponent played the expected move: our clock runs from now."""
        self.limits.ponder = False
        self._set_deadline()
        if not self.limits.infinite:
            self.released.set()

    def halt(self) -> None:
        self.stop.set()
        self.released.set()

    def wait_out(self) -> None:
        """With the person's think time: take the rest of it, as they would (a ``stop`` ends it)."""
        if self.think is not None and self.deadline is not None:
            self.stop.wait(max(self.deadline - time.monotonic(), 0))

    def should_stop(self) -> bool:
        return self.stop.is_set() or (self.deadline is not None and time.monotonic() >= self.deadline)


# --- the engine ------------------------------------------------------------------------------

class UciEngine:
    """The protocol: ``handle`` one line at a time; ``run`` reads them from a stream."""

    def __init__(self, model=None, out=None):
        self.model_path = Path(model) if model else default_model("chess")
        if not self.model_path.is_file():
            raise PlayasError(f"model file {self.model_path} does not exist")
        self.out = out or sys.stdout
        self.out_lock = threading.Lock()
        self.engine = None  # the chess move interface, once loaded
        self.load_error: str | None = None
        self.loaded = threading.Event()
        self.names = card_players(self.model_path)
        self.options: dict[str, Option] | None = None
        self.values: dict[str, object] = {}
        self.temperature, self.top_p, self.temp_endgame = 1.0, TOP_P, TEMP_ENDGAME
        self.board: chess.Board | None = chess.Board()
        self.job: Job | None = None
        self.clocks = ClockLog()  # this game's clocks at each go, for the think times they imply
        self.seen: dict[int, tuple[float, float]] = {}  # this game's value and draw chance at each go, by ply
        self.worker: threading.Thread | None = None
        self.loader = threading.Thread(target=self._load_first, daemon=True, name="playas-load")
        self.loader.start()

    # --- output ------------------------------------------------------------------------------
    def send(self, line: str) -> None:
        with self.out_lock:
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except (BrokenPipeError, ValueError, OSError):  # the GUI has gone; nothing to tell it
                pass

    def note(self, text: str) -> None:
        self.send("info string " + " ".join(str(text).split()))

    # --- the model ---------------------------------------------------------------------------
    def _load_first(self) -> None:
        try:
            self.engine = self._load(self.model_path, threads=1)
        except PlayasError as e:
            self.load_error = str(e)
        except Exception as e:  # never let a load kill the engine; say what happened instead
            self.load_error = f"could not load {self.model_path} ({type(e).__name__}: {e})"
        finally:
            self.loaded.set()

    @staticmethod
    def _load(path: Path, threads: int, seed: int | None = None):
        import torch

        from ..chess.engine import Engine

        torch.set_num_threads(threads)  # one thread: the lowest latency, and fair to the GUI's other engine
        engine = Engine(path, seed=seed)
        engine.judge(chess.Board())  # the first forward pass is slow; take it before readyok
        return engine

    def _ready(self):
        """The move interface, once loaded (None if loading failed, said in an info string)."""
        self.loaded.wait()
        if self.engine is None and self.load_error:
            self.note(self.load_error)
        return self.engine

    def _ensure_options(self) -> dict[str, Option]:
        if self.options is None:
            names = self.names
            if names is None:  # the card did not say: ask the model
                engine = self._ready()
                names = engine.players if engine else []
            self.options = make_options(self.model_path, names)
            self.values = {o.name: o.default for o in self.options.values()}
        return self.options

    # --- the loop ----------------------------------------------------------------------------
    def run(self, stream=None) -> None:
        """Answer commands from ``stream`` (stdin) until ``quit`` or the end of input."""
        stream = stream or sys.stdin
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")  # garbage bytes are ignored like any garbage
        while True:
            line = stream.readline()
            if not line or not self.handle(line):
                break
        self._finish()

    def handle(self, line: str) -> bool:
        """Act on one line; False after ``quit``. Never raises: trouble becomes an info string."""
        tokens = line.split()
        # UCI: skip unknown leading tokens and try the rest ("joho debug on" is "debug on")
        skipped = []
        while tokens and not hasattr(self, "cmd_" + tokens[0]):
            skipped.append(tokens.pop(0))
        if skipped:
            self.note(f"ignored unknown input {' '.join(skipped)[:80]!r}")
        if not tokens:
            return True
        try:
            return getattr(self, "cmd_" + tokens[0])(tokens[1:]) is not False
        except PlayasError as e:
            self.note(e)
        except Exception as e:  # a bug must not cost the game: report it and carry on
            self.note(f"error handling {line.strip()[:80]!r}: {type(e).__name__}: {e}")
        return True

    # --- commands ----------------------------------------------------------------------------
    def cmd_uci(self, args) -> None:
        opts = self._ensure_options()
        self.send(f"id name playas {__version__} ({self.model_path.stem})")
        self.send("id author the playas authors")
        for o in opts.values():
            self.send(o.declaration())
        self.send("uciok")

    def cmd_isready(self, args) -> None:
        self._ready()
        self._ensure_options()
        self.send("readyok")

    def cmd_debug(self, args) -> None:
        pass

    def cmd_register(self, args) -> None:
        pass

    def cmd_ucinewgame(self, args) -> None:
        self._finish()
        self.board = chess.Board()
        self.clocks = ClockLog()
        self.seen = {}

    def cmd_setoption(self, args) -> None:
        m = re.match(r"name\s+(.+?)(?:\s+value(?:\s+(.*))?)?$", " ".join(args))
        if not m:
            raise PlayasError("write setoption name NAME value VALUE")
        opts = self._ensure_options()
        name, text = m.group(1).strip(), (m.group(2) or "").strip()
        opt = opts.get(name.lower())
        if opt is None:
            raise PlayasError(f"unknown option {name!r}")
        if opt.name == "PlayerName":  # Player typed: one value says who plays, whichever was set
            opt, text = opts["player"], MEAN if text in ("", "<empty>") else text
        try:
            value = opt.parse(text)
            if opt.name != "Model" or value != self.values["Model"]:  # the rest are cheap to re-apply
                self._apply(opt.name, value)
                self.values[opt.name] = value
        except PlayasError as e:
            said = str(e) if str(e).endswith("?") else f"{e};"  # after "did you mean Tal?" a new clause
            raise PlayasError(f"{said} {opt.name} stays {uci_text(self.values[opt.name])}") from None

    def _apply(self, name: str, value) -> None:
        """Make an option take effect; raises (changing nothing) when the value cannot work."""
        if name in ("Player", "Style", "Steer"):
            v = {**self.values, name: value}
            engine = self._ready()
            if engine is None:
                raise PlayasError("no model is loaded")
            engine.policy(*style_of(v))  # merged now, so the next go is quick; raises for unknown players
            if name == "Player" and v["Style"]:
                self.note("Style is set, and overrides Player until it is cleared")
        elif name in ("OwnBook", "BookDepth"):
            engine = self._ready()
            if engine is not None:
                engine.book_depth = book_depth({**self.values, name: value})
        elif name == "Temperature":
            self.temperature = parse_temperature(value)
        elif name == "TopP":
            self.top_p = parse_top_p(value)
        elif name == "TempEndgame":
            self.temp_endgame = parse_temperature(value, name)
        elif name == "Seed":
            engine = self._ready()
            if engine is not None:
                engine.reseed(value or None)
        elif name == "Threads":
            self._ready()
            import torch

            torch.set_num_threads(value)
        elif name == "Model":
            self._finish()
            engine = self._load(Path(value), self.values["Threads"], self.values["Seed"] or None)
            engine.book_depth = book_depth(self.values)
            try:
                engine.policy(*style_of(self.values))
            except PlayasError as e:
                self.note(f"{e}; playing the mean style of {value}")
                self.values.update(Player=MEAN, Style="", Steer="")
            self.engine, self.model_path = engine, Path(value)

    def cmd_position(self, args) -> None:
        if not args or args[0] not in ("startpos", "fen"):
            raise PlayasError("write position startpos|fen FEN [moves ...]")
        moves_at = args.index("moves") if "moves" in args else len(args)
        self.board = None  # until the new position is known to be good
        if args[0] == "startpos":
            board = chess.Board()
        else:
            fen = " ".join(args[1:moves_at])
            try:
                board = chess.Board(fen)
            except ValueError as e:
                raise PlayasError(f"bad FEN {fen!r} ({e})") from None
            if not board.is_valid():
                problems = [f.name.lower().replace("_", " ") for f in chess.Status if f.value and f in board.status()]
                raise PlayasError(f"illegal position {fen!r} ({', '.join(problems)})")
        for i, uci in enumerate(args[moves_at + 1:]):
            try:
                board.push_uci(uci)
            except ValueError:
                self.board = board
                raise PlayasError(f"move {i + 1} {uci!r} is not legal in {board.fen()}; "
                                  "the position stops before it") from None
        self.board = board

    def cmd_go(self, args) -> None:
        self._finish()
        self._ensure_options()
        board = self.board.copy() if self.board is not None else None
        limits, notes = parse_go(args, board)
        for n in notes:
            self.note(n)
        engine = self._ready()
        if engine is None or board is None or not any(board.legal_moves):
            if engine is None:
                self.note("no model is loaded; set the Model option")
            elif board is None:
                self.note("no valid position; send position first")
            else:
                self.send("info depth 0 score " + ("mate 0" if board.is_checkmate() else "cp 0"))
            self.send("bestmove (none)")
            return
        timed = limits.infinite or limits.ponder or limits.movetime is not None or limits.wtime is not None \
            or limits.btime is not None
        limits.nodes = limits.nodes or self.values["Nodes"] or (SEARCH_NODES if timed else 1)
        self.job = Job(board, limits, engine, dict(self.values, temperature=self.temperature, top_p=self.top_p,
                                                         temp_endgame=self.temp_endgame),
                       self._human_time(engine, board, limits))
        self.worker = threading.Thread(target=self._think, args=(self.job,), daemon=True, name="playas-go")
        self.worker.start()

    def _human_time(self, engine, board: chess.Board, limits: Limits) -> float | None:
        """The seconds the person would think here (HumanTime, a clock and no movetime), else None."""
        clocks = limits.clocks(board.turn == chess.WHITE)
        if not self.values["HumanTime"] or clocks is None or limits.movetime is not None:
            return None
        own, other, inc = clocks
        other_inc = ((limits.binc if board.turn == chess.WHITE else limits.winc) or 0) / 1000
        base, own_spent, other_spent = self.clocks.see(board.ply(), own, other, inc, other_inc)
        return engine.think_time(board, limits, *style_of(self.values), base=base, own_spent=own_spent,
                                 opponent_spent=other_spent, rng=engine.rng)

    def cmd_stop(self, args) -> None:
        if self.job:
            self.job.halt()

    def cmd_ponderhit(self, args) -> None:
        if self.job:
            self.job.ponderhit()

    def cmd_quit(self, args) -> bool:
        return False

    def cmd_d(self, args) -> None:
        """Not UCI: show the position, as Stockfish does, for people typing at the engine."""
        self.note(self.board.fen() if self.board else "no valid position")

    def _finish(self) -> None:
        """Stop any search and wait for its bestmove, so each go gets exactly one."""
        if self.job:
            self.job.halt()
        if self.worker:
            self.worker.join()
        self.job = self.worker = None

    # --- thinking (the worker thread) --------------------------------------------------------
    def _think(self, job: Job) -> None:
        s = job.settings
        try:
            self._send_ending(job)  # first: a search it reads comes out of this move's time, not after it
            c = job.engine.search(job.board, job.limits, *style_of(s), stop=job.should_stop, multipv=s["MultiPV"],
                                  ponder=s["Ponder"], temperature=s["temperature"], top_p=s["top_p"],
                                  temp_cutoff_move=s["TempCutoffMove"], temp_endgame=s["temp_endgame"])
            job.wait_out()
            self._send_analysis(job, c)
            move, ponder = c.move, c.ponder
        except Exception as e:  # never leave the GUI without a move
            self.note(f"error while thinking: {type(e).__name__}: {e}")
            move, ponder = next(iter(job.board.legal_moves)), None
        job.released.wait()  # go ponder / go infinite: the move waits for ponderhit or stop
        self.send(f"bestmove {move.uci()}" + (f" ponder {ponder.uci()}" if ponder else ""))

    def _send_ending(self, job: Job) -> None:
        """UCI has no resign or draw offer: say in an info string where the person would resign or
        offer a draw (the learned rules, :mod:`playas.chess.endings`), for the operator or a GUI
        that adjudicates; the scores in the info lines are the value head's, as PolyGlot's and
        cutechess-cli's resign adjudication read them (the rule reads the bot's own search in a bad
        position, as the Lichess bot does)."""
        from ..chess.engine import shipped_endings

        endings, board = shipped_endings(), job.board
        style = style_of(job.settings)
        w, d, lo = job.engine.judge(board, *style).wdl.relative
        ply = board.ply()
        self.seen = {p: v for p, v in self.seen.items() if p < ply}  # a take-back forgets what followed
        self.seen[ply] = (endings.resign.reads(job.engine.policy(*style), board, (w - lo) / 1000), d / 1000)
        run = []
        while ply - 2 * len(run) in self.seen:
            run.append(self.seen[ply - 2 * len(run)])
        values, draws = [v for v, _ in reversed(run)], [x for _, x in reversed(run)]
        if endings.should_resign(values, ply):
            self.note(f"resign: the person would resign here (expected score {values[-1]:+.2f} for "
                      f"{endings.resign.moves} moves)")
        elif endings.should_offer_draw(board, draws):
            self.note(f"draw: the person would offer a draw here (draw chance {draws[-1]:.0%})")

    def _send_analysis(self, job: Job, c) -> None:
        """The player's probabilities as an info string, then one ``info`` line for each line."""
        searched = any(line.visits is not None for line in c.lines)
        style = (job.settings["Style"] or job.settings["Player"]) if job.engine.styled else self.model_path.stem
        self.note(f"{style} plays " + ", ".join(f"{line.pv[0].uci()} {100 * line.probability:.2f}%"
                                                 + (f" n={line.visits}" if searched else "") for line in c.lines))
        elapsed = max(time.monotonic() - job.start, 1e-6)
        for i, line in enumerate(c.lines, 1):
            wdl = ""
            if line.wdl and job.settings["UCI_ShowWDL"]:
                w = line.wdl.relative
                wdl = f" wdl {w.wins} {w.draws} {w.losses}"
            self.send(f"info depth {c.depth} seldepth {max(c.seldepth, len(line.pv))} multipv {i} "
                      f"score {uci_score(line.score)}{wdl} nodes {c.nodes} nps {int(c.nodes / elapsed)} "
                      f"time {int(elapsed * 1000)} pv {' '.join(m.uci() for m in line.pv)}")


def uci_score(score) -> str:
    """A python-chess score as UCI writes it, from the side to move: ``cp 35`` or ``mate 1``."""
    s = score.relative
    return f"mate {s.mate()}" if s.is_mate() else f"cp {s.score()}"


def style_of(values: dict) -> tuple[str | None, dict[str, float]]:
    """The style and steering the Player, Style and Steer options ask for (Style overrides Player)."""
    style = values["Style"] or (None if values["Player"] == MEAN else values["Player"])
    return style, parse_steer_option(values["Steer"])


# --- entry points ----------------------------------------------------------------------------

def run(model=None) -> int:
    """Speak UCI on stdin and stdout until ``quit``."""
    engine = UciEngine(model)
    engine.run()
    if engine.loader.is_alive():  # quit before the model finished loading: do not wait for torch
        sys.stdout.flush()
        os._exit(0)
    return 0


def main(argv=None) -> int:
    """``playas-uci [--model MODEL]``: what a chess GUI launches."""
    p = argparse.ArgumentParser(prog="playas-uci", description="A UCI chess engine that plays as a person.")
    p.add_argument("--model", help=f"a chess model (default: {default_model('chess')})")
    a = p.parse_args(argv)
    try:
        return run(a.model)
    except PlayasError as e:
        print(f"playas-uci: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
