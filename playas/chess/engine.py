"""The one move interface for chess: a board, limits and a style in; a move and its analysis out.

Every chess bot chooses its moves here: ``playas chess play`` (:class:`playas.chess.play.StylePlayer`),
the UCI engine and the Lichess bot. The shape is lichess-bot's ``MinimalEngine.search``: the
protocols keep their threads, clocks and options, and ask one question, :meth:`Engine.search`.

One node (the default) is one network evaluation: the move is drawn from the player's own
probabilities, sharpened or flattened by the temperature (0 plays the most likely move). More
nodes grow the small PUCT tree of :mod:`playas.chess.search` over the player's moves, and the
move is drawn from its visits the same way. Scores are python-chess's typed scores
(``PovScore`` of ``Cp`` or ``Mate``, ``PovWdl``), which each protocol writes its own way; the
value head's expected score becomes centipawns here and nowhere else (:func:`centipawns`).

A styled model answers as a player, a blend or a steered style. Each style is merged into its
own copy of the network once, on first use, and kept (:meth:`Engine.policy`); a merged network
never changes, so games in several threads may search with it at once.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import chess
import numpy as np
from chess.engine import Cp, Mate, PovScore, PovWdl, Wdl

from . import TEMP_CUTOFF_MOVE, TEMP_ENDGAME, TEMPERATURE, TOP_P
from .limits import Limits
from .policy import Policy, is_styled
from .search import Node, restrict, search

DEFAULT = object()  # the shipped think-time model, where it is
MAX_STYLES = 16  # merged networks kept; a style used longer ago than this is merged again when asked


@dataclass
class Line:
    """One line of analysis: a principal variation, and the score after its first move."""

    pv: list[chess.Move]
    score: PovScore
    wdl: PovWdl | None = None
    probability: float = 0.0  # the player's probability of the line's first move
    visits: int | None = None  # the search's visits to that move; None when there was no search


@dataclass
class Choice:
    """What :meth:`Engine.search` found: the move and how it was chosen."""

    move: chess.Move
    ponder: chess.Move | None  # the reply expected
    lines: list[Line]  # the move played first, then the likeliest (or most visited) others
    score: PovScore  # the position before the move: the value head's, or the search's mean
    nodes: int = 1
    depth: int = 1
    seldepth: int = 1
    temperature: float = TEMPERATURE
    seed: int | None = None  # the engine's seed when its own generator chose the move


@dataclass
class Judgement:
    """The value head's view of a position, for the side to move."""

    score: PovScore
    wdl: PovWdl


class Engine:
    """A chess model that chooses moves as any of its styles.

    ``model`` is a checkpoint path, a loaded network (plain or styled), or a :class:`Policy`
    (whose style is then ready without another merge). ``temperature``, ``nodes`` and ``seed``
    are the defaults of every search; a protocol may override the first two per move.
    ``top_p`` keeps the draw to the likeliest moves that reach that probability together.
    From move ``temp_cutoff_move`` on (0: never) the temperature is ``temp_endgame`` instead, as
    lc0's options of those names: the person's variety in the opening, their best move after it.
    ``book_depth`` limits where a style's own games (its repertoire) decide, in plies.
    ``thinktime`` is the think-time model (a path or a :class:`~playas.chess.thinktime.ThinkTime`;
    default the shipped one; None: none, so :meth:`think_time` answers None).
    """

    def __init__(self, model, temperature: float = TEMPERATURE, nodes: int = 1, seed: int | None = None,
                 book_depth: int | None = None, thinktime=DEFAULT, top_p: float = TOP_P,
                 temp_cutoff_move: int = TEMP_CUTOFF_MOVE, temp_endgame: float = TEMP_ENDGAME):
        self.path: Path | None = None
        self._thinktime = None if thinktime is DEFAULT or isinstance(thinktime, (str, Path, type(None))) else thinktime
        self._thinktime_path = shipped_thinktime() if thinktime is DEFAULT else (
            Path(thinktime) if isinstance(thinktime, (str, Path)) else None)
        self.book_depth = book_depth  # the style's own games decide up to this ply (None: as deep as they go; 0: never)
        self._policies: OrderedDict[tuple, Policy] = OrderedDict()
        self._lock = threading.Lock()
        if isinstance(model, Policy):
            self.model, self.card = model.model, model.card
            self._policies[_key(model.style, model.steer)] = model
        elif isinstance(model, (str, Path)):
            from .model import load_model

            self.path = Path(model)
            self.model, blob = load_model(self.path)
            self.card = blob.get("card") or {}
        else:
            self.model, self.card = model, {}
        self.model.eval()
        self.styled = is_styled(self.model)  # whether it has players to play as (else a plain network)
        self.players: list[str] = list(self.model.table.names) if self.styled else []
        self.temperature, self.nodes, self.top_p = temperature, nodes, top_p
        self.temp_cutoff_move, self.temp_endgame = temp_cutoff_move, temp_endgame
        self.reseed(seed)

    @property
    def name(self) -> str:
        """The model's file name without its suffix ("playas" for a model given in memory)."""
        return self.path.stem if self.path else "playas"

    def reseed(self, seed: int | None) -> None:
        """Choose from now on as a generator seeded with ``seed`` would (None: unpredictably)."""
        self.seed, self.rng = seed, np.random.default_rng(seed)

    def policy(self, style: str | None = None, steer: dict[str, float] | None = None) -> Policy:
        """The model as ``style`` steered by ``steer``: merged on first use, then kept.

        Raises PlayasError (an unknown player, a style asked of a plain model) before anything is kept.
        """
        key = _key(style, steer)
        with self._lock:
            policy = self._policies.get(key)
            if policy is None:
                policy = Policy(self.model, self.card, key[0], dict(key[1]))
                self._policies[key] = policy
                while len(self._policies) > MAX_STYLES:
                    self._policies.popitem(last=False)
            self._policies.move_to_end(key)
            return policy.with_book(self.book_depth)

    def think_time(self, board: chess.Board, limits: Limits, style: str | None = None,
                   steer: dict[str, float] | None = None, *, base: float | None = None,
                   own_spent: float | None = None, opponent_spent: float | None = None,
                   rng: np.random.Generator | None = None) -> float | None:
        """The seconds the person would think over ``board`` on the clock of ``limits``: a draw from
        the think-time model (:mod:`playas.chess.thinktime`; its median without ``rng``). None
        without a clock, or where no think-time model is at hand. ``base`` is the game's initial
        clock in seconds (else the larger clock now); ``own_spent`` and ``opponent_spent`` the last
        thinks of each side (:class:`~playas.chess.thinktime.ClockLog` reads them off the clocks)."""
        clocks = limits.clocks(board.turn == chess.WHITE)
        model = self.thinking()
        if clocks is None or model is None or not any(board.legal_moves):
            return None
        from .thinktime import Moment

        own, other, inc = clocks
        policy = self.policy(style, steer)
        before = last = None
        if board.move_stack:  # the position before the opponent's move, read first: the policy keeps
            last = board.pop()  # its last answer, and the search asks about ``board`` next
            try:
                before = policy.analyse(board)
            finally:
                board.push(last)
        an = policy.analyse(board)
        p = an.probs[an.probs > 0]
        moment = Moment(board, own, other, base or max(own, other), inc, opponent_spent, own_spent,
                        float(an.probs[0]), float(-(p * np.log(p)).sum()), an.value)
        if before is not None:
            moment.expected = float(dict(zip(before.moves, before.probs)).get(last, 0.0))
            moment.swing = an.value + before.value
        return model.seconds(moment, rng, style)

    def thinking(self):
        """The think-time model (loaded on first use): ``thinktime`` given at start, else the shipped one."""
        if self._thinktime is None and self._thinktime_path is not None:
            from .thinktime import ThinkTime

            self._thinktime = ThinkTime.load(self._thinktime_path)
        return self._thinktime

    def judge(self, board: chess.Board, style: str | None = None, steer: dict[str, float] | None = None) -> Judgement:
        """The value head's score and win/draw/loss of ``board`` for its side to move."""
        an = self.policy(style, steer).analyse(board)
        return Judgement(PovScore(Cp(centipawns(an.value)), board.turn),
                         PovWdl(_permille(an.wdl[0], an.wdl[2]), board.turn))

    def search(self, board: chess.Board, limits: Limits | None = None, style: str | None = None,
               steer: dict[str, float] | None = None, root_moves=(), stop=None, *, multipv: int = 1,
               ponder: bool = False, temperature: float | None = None, top_p: float | None = None,
               temp_cutoff_move: int | None = None, temp_endgame: float | None = None,
               rng: np.random.Generator | None = None) -> Choice:
        """The move to play on ``board`` (left as it was) as ``style``, steered by ``steer``.

        At most ``limits.nodes`` evaluations (else the engine's ``nodes``); ``stop()`` is polled
        between them, so the caller's clock ends a search (the root is always evaluated, so
        there is always a move). ``root_moves`` (else ``limits.searchmoves``) restricts the moves
        considered. ``multipv`` lines are reported, the move played first; ``ponder`` also finds
        the reply expected. ``temperature``, ``top_p``, ``temp_cutoff_move`` and ``temp_endgame``
        (else the engine's) and ``rng`` (else the engine's seeded generator) choose among the moves.
        """
        limits = limits or Limits()
        policy = self.policy(style, steer)
        t = self.temperature if temperature is None else temperature
        cutoff = self.temp_cutoff_move if temp_cutoff_move is None else temp_cutoff_move
        if cutoff and board.fullmove_number >= cutoff:
            t = self.temp_endgame if temp_endgame is None else temp_endgame
        p = self.top_p if top_p is None else top_p
        seed = self.seed if rng is None else None
        rng = self.rng if rng is None else rng
        only = list(root_moves) or limits.searchmoves
        nodes = limits.nodes or self.nodes
        if nodes <= 1:
            choice = _policy_move(policy, board, only, t, p, rng, multipv, ponder)
        else:
            choice = _tree_move(policy, board, only, t, p, rng, multipv, ponder, nodes, stop)
        choice.temperature, choice.seed = t, seed
        return choice


def _policy_move(policy: Policy, board: chess.Board, only, temperature: float, top_p: float, rng, multipv: int,
                 ponder: bool) -> Choice:
    """One evaluation: a move drawn from the player's probabilities at ``temperature`` and ``top_p``."""
    an = policy.analyse(board)
    moves, probs = restrict(an.moves, an.probs, only)
    with np.errstate(divide="ignore"):
        move = moves[int(rng.choice(len(moves), p=temperature_weights(np.log(probs), temperature, top_p)))]
    shown = [move] + [m for m in moves if m != move][: multipv - 1]
    reply = _reply(policy, board, move) if ponder else None
    if multipv == 1:
        scores = [(_score_after(board, move, an.value), PovWdl(_permille(an.wdl[0], an.wdl[2]), board.turn))]
    else:
        scores = _child_scores(policy, board, shown)
    p = dict(zip(moves, probs))
    lines = [Line([m] + ([reply] if reply and m == move else []), s, w, float(p[m]))
             for m, (s, w) in zip(shown, scores)]
    return Choice(move, reply, lines, PovScore(Cp(centipawns(an.value)), board.turn),
                  nodes=1 if multipv == 1 else 1 + len(shown))


def _tree_move(policy: Policy, board: chess.Board, only, temperature: float, top_p: float, rng, multipv: int,
               ponder: bool, nodes: int, stop) -> Choice:
    """A PUCT tree of up to ``nodes`` evaluations; a move drawn from its visits at ``temperature`` and ``top_p``."""
    tree = search(policy, board, nodes, stop or (lambda: False), only)
    root = tree.root
    chosen = _choose(root, temperature, top_p, rng)
    others = sorted((c for c in root.children if c is not chosen), key=lambda c: (-c.visits, -c.prior))
    lines = []
    for c in [chosen] + others[: multipv - 1]:
        q = c.q if c.visits else -root.q  # an unvisited move: the position's own value
        score = Mate(1) if c.terminal == -1.0 else Cp(centipawns(q))
        lines.append(Line([c.move] + c.pv(), PovScore(score, board.turn), None, c.prior, c.visits))
    pv = lines[0].pv
    depth = len(pv)
    reply = pv[1] if len(pv) > 1 else _reply(policy, board, chosen.move) if ponder else None
    if reply and len(pv) == 1:
        pv.append(reply)
    return Choice(chosen.move, reply, lines, PovScore(Cp(centipawns(-root.q)), board.turn),
                  tree.nodes, depth, tree.seldepth)


def _choose(root: Node, temperature: float, top_p: float, rng: np.random.Generator) -> Node:
    """The child to play: the most visited at temperature 0, else drawn by visits^(1/T) within ``top_p``."""
    visited = [c for c in root.children if c.visits]
    if temperature <= 0 or len(visited) < 2:
        return root.best()
    w = temperature_weights(np.log([c.visits for c in visited]), temperature, top_p)
    return visited[int(rng.choice(len(visited), p=w))]


def temperature_weights(log_weights: np.ndarray, temperature: float, top_p: float = 1.0) -> np.ndarray:
    """Probabilities proportional to ``exp(log_weights / T)``; T = 0 is all on the largest.

    ``top_p`` < 1 is nucleus sampling: only the likeliest moves whose probabilities (at ``T``)
    reach ``top_p`` together keep theirs, renormalised; the long tail of unlikely moves, where
    blunders live, is never drawn.
    """
    if temperature <= 0:
        out = np.zeros(len(log_weights))
        out[int(np.argmax(log_weights))] = 1.0
        return out
    z = np.asarray(log_weights, dtype=float) / temperature
    w = np.exp(z - z.max())
    w /= w.sum()
    if top_p < 1.0:
        order = np.argsort(-w, kind="stable")
        # the tolerance: 0.5 + 0.3 reaches 0.8 whatever the last bit of the sum on this CPU
        keep = order[: int(np.searchsorted(np.cumsum(w[order]), top_p - 1e-9)) + 1]
        nucleus = np.zeros_like(w)
        nucleus[keep] = w[keep]
        w = nucleus / nucleus.sum()
    return w


def _reply(policy: Policy, board: chess.Board, move: chess.Move) -> chess.Move | None:
    """The reply the player expects to ``move``: the opponent's likeliest move."""
    board.push(move)
    try:
        return policy.analyse(board).moves[0] if any(board.legal_moves) else None
    finally:
        board.pop()


def _score_after(board: chess.Board, move: chess.Move, value: float) -> PovScore:
    """Mate in one if ``move`` mates, else the position's value in centipawns."""
    board.push(move)
    mate = board.is_checkmate()
    board.pop()
    return PovScore(Mate(1) if mate else Cp(centipawns(value)), board.turn)


def _child_scores(policy: Policy, board: chess.Board, moves: list[chess.Move]) -> list[tuple[PovScore, PovWdl]]:
    """Each move's score from the value of the position after it, the evaluations in one batch."""
    out: list = []
    for m in moves:
        board.push(m)
        if board.is_checkmate():
            out.append((Mate(1), Wdl(1000, 0, 0)))
        elif board.is_stalemate() or board.is_insufficient_material():
            out.append((Cp(0), Wdl(0, 1000, 0)))
        else:
            out.append(None)
        board.pop()
    todo = [i for i, s in enumerate(out) if s is None]
    if todo:
        for i, (w, _, l) in zip(todo, policy.wdl_after(board, [moves[i] for i in todo])):
            out[i] = (Cp(centipawns(float(l - w))), _permille(l, w))  # their loss is our win
    return [(PovScore(s, board.turn), PovWdl(w, board.turn)) for s, w in out]


def _permille(win: float, loss: float) -> Wdl:
    """Win, draw, loss in permille, summing to 1000."""
    w, l = int(round(1000 * float(win))), int(round(1000 * float(loss)))
    return Wdl(w, 1000 - w - l, l)


def centipawns(q: float) -> int:
    """An expected score in [-1, 1] as centipawns (lc0's conversion), for scores people read."""
    q = max(min(q, 0.999), -0.999)
    return int(round(90 * math.tan(1.5637541897 * q)))


@functools.lru_cache(maxsize=1)
def shipped_endings():
    """The shipped rules for resigning and draws (:class:`~playas.chess.endings.Endings`), learned
    from how real games end; the defaults of that class where the file is absent."""
    from ..shipped import MODELS
    from .endings import Endings

    path = MODELS / "endings.json"
    return Endings.load(path) if path.exists() else Endings()


def shipped_thinktime() -> Path | None:
    """The shipped think-time model, None where the file is absent."""
    from ..shipped import MODELS

    path = MODELS / "thinktime.json"
    return path if path.exists() else None


def _key(style: str | None, steer: dict[str, float] | None) -> tuple:
    """The cache key of a style: blank and None are the same (mean) style; steering in name order."""
    return ((style or "").strip() or None, tuple(sorted((steer or {}).items())))
