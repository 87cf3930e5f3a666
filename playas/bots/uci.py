"""A UCI chess engine that plays as a person: any player of a styled model, a blend, or steered.

Any chess GUI (or python-chess, cutechess, polyglot for xboard GUIs) can run ``playas-uci``.
Every move comes from :class:`playas.chess.policy.Policy`: the player's move probabilities and
the value head's score. By default a move is one network evaluation, the pure style, in
milliseconds; the ``Nodes`` option adds a small search (:mod:`playas.bots.search`) for a
stronger opponent whose moves are still the player's.

Three threads: the main thread reads stdin and answers each command at once, so ``isready``,
``stop`` and ``ponderhit`` work while a worker thread thinks about a ``go``. The model loads in
a third thread from start-up, so ``uciok`` comes back before torch is even imported (the
``Player`` names come from the model card); ``isready`` waits for the load, as UCI intends.

Options: ``Player`` (a known player, or ``mean``), ``Style`` (a blend such as
``Tal:0.7,Petrosian:0.3``; overrides Player), ``Steer`` (``capture_rate=1.5,early_queen=-1``),
``Temperature`` (0 plays the most likely move, 1 samples the player's own distribution),
``Nodes`` (1 is the pure style; more searches), ``MultiPV``, ``Seed`` (0: random), ``Model``,
``Threads``, ``Move Overhead``, ``Ponder``, ``UCI_ShowWDL``, ``UCI_Opponent`` (recorded only).
A bad value is refused with an ``info string`` saying why, and the option keeps its value.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import chess
import numpy as np

from .. import __version__
from ..core.errors import PlayasError
from ..shipped import default_chess_model as default_model
from .search import centipawns, choose, restrict, search, with_temperature

MEAN = "mean"  # the Player value for the mean style of all players
GO_NUMBERS = ("wtime", "btime", "winc", "binc", "movestogo", "movetime", "nodes", "depth", "mate")
GO_WORDS = set(GO_NUMBERS) | {"infinite", "ponder", "searchmoves"}


def card_players(model: Path) -> list[str] | None:
    """Player names from the JSON card beside a checkpoint, without loading torch.

    ``[]`` for a plain model; None when the card cannot say for sure (then the engine waits for
    the model itself). The names must add up to the card's player count to be trusted.
    """
    try:
        card = json.loads(Path(model).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(card, dict):
        return None
    if card.get("kind") != "styled":
        return []
    names = list(card.get("games_per_player") or {})
    names += [n for n in card.get("enrolled") or {} if n not in names]
    return names if len(names) == card.get("players") else None


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

    def declaration(self) -> str:
        d = ("true" if self.default else "false") if self.type == "check" else self.default
        line = f"option name {self.name} type {self.type} default {'<empty>' if d == '' else d}"
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
            raise PlayasError(f"{self.name} {text!r} is not one of the {len(self.vars)} choices")
        return "" if text == "<empty>" else text


def make_options(model: Path, players: list[str]) -> dict[str, Option]:
    opts = [
        Option("Player", "combo", MEAN, vars=[MEAN] + sorted(players, key=str.lower)),
        Option("Style", "string", ""),  # a blend like Tal:0.7,Petrosian:0.3; overrides Player
        Option("Steer", "string", ""),  # capture_rate=1.5,early_queen=-1
        Option("Temperature", "string", "1"),
        Option("Nodes", "spin", 1, 1, 100_000),
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


def parse_temperature(text: str) -> float:
    try:
        t = float(text)
    except ValueError:
        t = math.nan
    if not 0 <= t <= 100:  # also rejects nan and inf
        raise PlayasError(f"Temperature is a number from 0 (the most likely move) to 100, not {text!r}")
    return t


def parse_steer_option(text: str) -> dict[str, float]:
    from ..core.styles import parse_steer

    return parse_steer([s for s in re.split(r"[,\s]+", text) if s])


# --- go --------------------------------------------------------------------------------------

@dataclass
class Limits:
    """The parameters of one ``go``; times in milliseconds, as UCI sends them."""

    wtime: int | None = None
    btime: int | None = None
    winc: int | None = None
    binc: int | None = None
    movestogo: int | None = None
    movetime: int | None = None
    nodes: int | None = None
    depth: int | None = None
    mate: int | None = None
    infinite: bool = False
    ponder: bool = False
    searchmoves: list[chess.Move] = field(default_factory=list)

    def budget(self, white: bool, overhead_ms: int) -> float | None:
        """Seconds this move may take: ``movetime``, else a slice of the clock; None without either."""
        if self.movetime is not None:
            return max(self.movetime - overhead_ms, 0) / 1000
        left = self.wtime if white else self.btime
        if left is None:
            return None
        inc = (self.winc if white else self.binc) or 0
        moves = max(self.movestogo or 30, 1)
        slice_ = min(left / moves + 0.75 * inc, left / 2)  # never more than half of what is left
        return max(slice_ - overhead_ms, 0) / 1000


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


@dataclass
class Line:
    """One line of ``info``: a principal variation and its score from the engine's side."""

    pv: list[chess.Move]
    score: str  # "cp 35" or "mate 1"
    wdl: tuple[int, int, int] | None = None


@dataclass
class Thought:
    """What a go found: the move, the reply we expect, the info lines and search statistics."""

    move: chess.Move
    ponder: chess.Move | None = None
    lines: list[Line] = field(default_factory=list)
    nodes: int = 1
    depth: int = 1
    seldepth: int = 1


class Job:
    """One ``go`` being thought about: its board, limits, and the GUI's signals while it runs."""

    def __init__(self, board: chess.Board, limits: Limits, policy, settings: dict):
        self.board, self.limits, self.policy = board, limits, policy
        self.settings = settings  # the options as they were at go: a late setoption waits for the next go
        self.start = time.monotonic()
        self.stop = threading.Event()  # think no more
        self.released = threading.Event()  # bestmove may be sent (ponder and infinite hold it)
        self.deadline = None
        if not (limits.ponder or limits.infinite):
            self.released.set()
            self._set_deadline()

    def _set_deadline(self) -> None:
        budget = self.limits.budget(self.board.turn == chess.WHITE, self.settings["Move Overhead"])
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

    def should_stop(self) -> bool:
        return self.stop.is_set() or (self.deadline is not None and time.monotonic() >= self.deadline)


# --- the engine ------------------------------------------------------------------------------

class UciEngine:
    """The protocol: ``handle`` one line at a time; ``run`` reads them from a stream."""

    def __init__(self, model=None, out=None):
        self.model_path = Path(model) if model else default_model()
        if not self.model_path.is_file():
            raise PlayasError(f"model file {self.model_path} does not exist")
        self.out = out or sys.stdout
        self.out_lock = threading.Lock()
        self.policy = None
        self.load_error: str | None = None
        self.loaded = threading.Event()
        self.names = card_players(self.model_path)
        self.options: dict[str, Option] | None = None
        self.values: dict[str, object] = {}
        self.temperature = 1.0
        self.rng = np.random.default_rng()
        self.board: chess.Board | None = chess.Board()
        self.job: Job | None = None
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
            self.policy = self._load(self.model_path, threads=1)
        except PlayasError as e:
            self.load_error = str(e)
        except Exception as e:  # never let a load kill the engine; say what happened instead
            self.load_error = f"could not load {self.model_path} ({type(e).__name__}: {e})"
        finally:
            self.loaded.set()

    @staticmethod
    def _load(path: Path, threads: int):
        import torch

        from ..chess.policy import Policy

        torch.set_num_threads(threads)  # one thread: the lowest latency, and fair to the GUI's other engine
        policy = Policy.load(path)
        policy.analyse(chess.Board())  # the first forward pass is slow; take it before readyok
        return policy

    def _ready(self):
        """The policy, once loaded (None if loading failed, said in an info string)."""
        self.loaded.wait()
        if self.policy is None and self.load_error:
            self.note(self.load_error)
        return self.policy

    def _ensure_options(self) -> dict[str, Option]:
        if self.options is None:
            names = self.names
            if names is None:  # the card did not say: ask the model
                policy = self._ready()
                names = policy.players if policy else []
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

    def cmd_setoption(self, args) -> None:
        m = re.match(r"name\s+(.+?)(?:\s+value(?:\s+(.*))?)?$", " ".join(args))
        if not m:
            raise PlayasError("write setoption name NAME value VALUE")
        opts = self._ensure_options()
        name, text = m.group(1).strip(), (m.group(2) or "").strip()
        opt = opts.get(name.lower())
        if opt is None:
            raise PlayasError(f"unknown option {name!r}")
        try:
            value = opt.parse(text)
            if opt.name != "Model" or value != self.values["Model"]:  # the rest are cheap to re-apply
                self._apply(opt.name, value)
                self.values[opt.name] = value
        except PlayasError as e:
            raise PlayasError(f"{e}; {opt.name} stays {self.values[opt.name]!r}") from None

    def _apply(self, name: str, value) -> None:
        """Make an option take effect; raises (changing nothing) when the value cannot work."""
        if name in ("Player", "Style", "Steer"):
            v = {**self.values, name: value}
            policy = self._ready()
            if policy is None:
                raise PlayasError("no model is loaded")
            style = v["Style"] or (None if v["Player"] == MEAN else v["Player"])
            policy.set_style(style, parse_steer_option(v["Steer"]))
            if name == "Player" and v["Style"]:
                self.note("Style is set, and overrides Player until it is cleared")
        elif name == "Temperature":
            self.temperature = parse_temperature(value)
        elif name == "Seed":
            self.rng = np.random.default_rng(value or None)
        elif name == "Threads":
            self._ready()
            import torch

            torch.set_num_threads(value)
        elif name == "Model":
            self._finish()
            policy = self._load(Path(value), self.values["Threads"])
            style = self.values["Style"] or (None if self.values["Player"] == MEAN else self.values["Player"])
            try:
                policy.set_style(style, parse_steer_option(self.values["Steer"]))
            except PlayasError as e:
                self.note(f"{e}; playing the mean style of {value}")
                self.values.update(Player=MEAN, Style="", Steer="")
            self.policy, self.model_path = policy, Path(value)

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
        policy = self._ready()
        if policy is None or board is None or not any(board.legal_moves):
            if policy is None:
                self.note("no model is loaded; set the Model option")
            elif board is None:
                self.note("no valid position; send position first")
            else:
                self.send("info depth 0 score " + ("mate 0" if board.is_checkmate() else "cp 0"))
            self.send("bestmove (none)")
            return
        self.job = Job(board, limits, policy, dict(self.values, temperature=self.temperature))
        self.worker = threading.Thread(target=self._think, args=(self.job,), daemon=True, name="playas-go")
        self.worker.start()

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
        try:
            t = self._policy_move(job) if self._nodes(job) <= 1 else self._search(job)
        except Exception as e:  # never leave the GUI without a move
            self.note(f"error while thinking: {type(e).__name__}: {e}")
            t = Thought(next(iter(job.board.legal_moves)))
        elapsed = max(time.monotonic() - job.start, 1e-6)
        for i, line in enumerate(t.lines, 1):
            wdl = f" wdl {' '.join(map(str, line.wdl))}" if line.wdl and job.settings["UCI_ShowWDL"] else ""
            self.send(f"info depth {t.depth} seldepth {max(t.seldepth, len(line.pv))} multipv {i} "
                      f"score {line.score}{wdl} nodes {t.nodes} nps {int(t.nodes / elapsed)} "
                      f"time {int(elapsed * 1000)} pv {' '.join(m.uci() for m in line.pv)}")
        job.released.wait()  # go ponder / go infinite: the move waits for ponderhit or stop
        self.send(f"bestmove {t.move.uci()}" + (f" ponder {t.ponder.uci()}" if t.ponder else ""))

    def _nodes(self, job: Job) -> int:
        return job.limits.nodes if job.limits.nodes else job.settings["Nodes"]

    def _policy_move(self, job: Job):
        """One evaluation: sample the player's distribution (at Temperature) and report it."""
        board, policy = job.board, job.policy
        an = policy.analyse(board, 1.0)
        moves, probs = restrict(an.moves, an.probs, job.limits.searchmoves)
        move = moves[int(self.rng.choice(len(moves), p=with_temperature(probs, job.settings["temperature"])))]
        k = job.settings["MultiPV"]
        shown = [move] + [m for m in moves if m != move][: k - 1]  # the move played comes first
        ponder = self._ponder_move(job, move)
        if k == 1:
            scores = [(self._score(board, move, an.value), _wdl(an.wdl))]
        else:
            scores = self._child_scores(policy, board, shown)
        lines = [Line([m] + ([ponder] if ponder and m == move else []), s, w) for m, (s, w) in zip(shown, scores)]
        self._report_probabilities(job, moves, probs, shown)
        return Thought(move, ponder, lines, nodes=1 if k == 1 else 1 + len(shown))

    def _search(self, job: Job):
        """A small tree (``Nodes`` evaluations, within the clock's budget) over the player's moves."""
        board = job.board
        tree = search(job.policy, board, self._nodes(job), job.should_stop, job.limits.searchmoves)
        root = tree.root
        chosen = choose(root, job.settings["temperature"], self.rng)
        others = sorted((c for c in root.children if c is not chosen), key=lambda c: (-c.visits, -c.prior))
        shown = [chosen] + others[: job.settings["MultiPV"] - 1]
        lines = []
        for c in shown:
            q = c.q if c.visits else -root.q  # an unvisited move: the position's own value
            lines.append(Line([c.move] + c.pv(), "mate 1" if c.terminal == -1.0 else f"cp {centipawns(q)}"))
        pv = lines[0].pv
        depth = len(pv)
        ponder = pv[1] if len(pv) > 1 else self._ponder_move(job, chosen.move)
        if ponder and len(pv) == 1:
            pv.append(ponder)
        moves = [c.move for c in root.children]
        self._report_probabilities(job, moves, np.array([c.prior for c in root.children]), [c.move for c in shown],
                                   visits={c.move: c.visits for c in root.children})
        return Thought(chosen.move, ponder, lines, tree.nodes, depth, tree.seldepth)

    def _ponder_move(self, job: Job, move: chess.Move) -> chess.Move | None:
        """The reply we expect (the most likely one), only when the GUI lets us ponder."""
        if not job.settings["Ponder"]:
            return None
        board = job.board
        board.push(move)
        try:
            return job.policy.analyse(board, 1.0).moves[0] if any(board.legal_moves) else None
        finally:
            board.pop()

    @staticmethod
    def _score(board: chess.Board, move: chess.Move, value: float) -> str:
        board.push(move)
        mate = board.is_checkmate()
        board.pop()
        return "mate 1" if mate else f"cp {centipawns(value)}"

    @staticmethod
    def _child_scores(policy, board: chess.Board, moves: list[chess.Move]) -> list[tuple[str, tuple | None]]:
        """Each move's score from the value of the position after it, in one batch."""
        from ..chess.encoding import board_planes

        out, planes, where = [], [], []
        for m in moves:
            board.push(m)
            if board.is_checkmate():
                out.append(("mate 1", (1000, 0, 0)))
            elif board.is_stalemate() or board.is_insufficient_material():
                out.append(("cp 0", (0, 1000, 0)))
            else:
                out.append(None)
                where.append(len(out) - 1)
                planes.append(board_planes(board))
            board.pop()
        if planes:
            _, wdl = policy.logits(np.stack(planes))
            for i, (w, d, l) in zip(where, wdl):
                out[i] = (f"cp {centipawns(float(l - w))}", _wdl(np.array([l, d, w])))  # their loss is our win
        return out

    def _report_probabilities(self, job: Job, moves, probs, shown, visits=None) -> None:
        """One info string: how likely the player is to play each shown move (and visits, if searched)."""
        p = dict(zip(moves, probs))
        style = (job.settings["Style"] or job.settings["Player"]) if job.policy.styled else self.model_path.stem
        parts = [f"{m.uci()} {100 * float(p.get(m, 0)):.2f}%" + (f" n={visits[m]}" if visits else "") for m in shown]
        self.note(f"{style} plays " + ", ".join(parts))


def _wdl(wdl: np.ndarray) -> tuple[int, int, int]:
    """Win, draw, loss in permille, summing to 1000."""
    w, l = int(round(1000 * float(wdl[0]))), int(round(1000 * float(wdl[2])))
    return w, 1000 - w - l, l


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
    p.add_argument("--model", help=f"a chess model (default: {default_model()})")
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
