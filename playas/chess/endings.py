"""When a person resigns, and when they agree a draw: rules learned from how real games end.

People do not resign at a fixed score. Titled Tuesday players resign when Stockfish says they
are about 600 centipawns down, almost never above 300, and they play on in positions they go on
to save. The rules here read the same network a style plays with: at each of its own turns the
value head gives the mover's expected score (win - loss, in [-1, 1]) and the chance of a draw.

- :class:`Resign`: resign when the expected score has stayed at or below ``value`` for the last
  ``moves`` own turns (from ply ``min_ply`` on). Where the value head reads ``below`` or worse, a
  rule with ``nodes`` reads the bot's own search of that many nodes instead: a sharper reading of
  how lost the position is, paid for only in bad positions.
- :class:`OfferDraw`: offer (or accept) a draw when the draw chance has stayed at or above
  ``draw`` for ``moves`` own turns from ply ``min_ply`` on, or at once in a dead position
  (insufficient material) or one the mover can claim (threefold repetition, fifty moves) unless
  clearly better.

:func:`learn` fits both to games that ended by resignation and by agreement, choosing the rule
that ends most games where the person ended them (within :data:`WINDOW` plies) among those that
resign at most :data:`MAX_FALSE` of games the side went on to draw or win (and offer draws in at
most :data:`MAX_FALSE_DRAWS` of games the side went on to win).

    endings = Endings.load("models/endings.json")
    endings.should_resign(values, board.ply())  # the mover's expected scores at their own turns, oldest first
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import chess
import numpy as np

from ..core.errors import PlayasError
from .pgn import iter_game_texts, mainline, read_tags

FORMAT = 2  # 2: the resignation rule may read a search (Resign.nodes, below)
WINDOW = 6  # plies: a rule "resigns where the person did" when it fires at most this many plies before the end
MAX_FALSE = 0.005  # resignations allowed in games the side did not lose (half the 1% the issue allows, for new players)
MAX_FALSE_DRAWS = 0.02  # draw offers allowed in games the side went on to win
ACCEPT_BELOW = -0.25  # a draw offered to a side this much worse (win - loss) is accepted
MIN_PLY = 20  # nobody resigns or agrees a draw before this here (a rule may ask for later)


# --- how a game ended -------------------------------------------------------------------------

@dataclass
class Ending:
    """One real game and how it ended, with the network's view of every position in it."""

    white: str
    black: str
    result: str  # "1-0", "0-1" or "1/2-1/2"
    how: str  # "resigned", "mate", "time", "agreed", "drawn" (by rule), "other"
    sans: list[str]
    fen: str = chess.STARTING_FEN
    value: np.ndarray = field(default_factory=lambda: np.zeros(0))  # mover's win - loss at positions 0..N
    draw: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the draw chance there

    @property
    def plies(self) -> int:
        return len(self.sans)

    def loser(self) -> bool | None:
        """The side that lost (chess.WHITE / chess.BLACK), None for a draw."""
        return {"1-0": chess.BLACK, "0-1": chess.WHITE}.get(self.result)

    def __post_init__(self):
        self.first = chess.Board(self.fen).turn  # who moved first (rules score each side many times)

    def positions(self) -> Iterator[chess.Board]:
        """The game's boards from its first position to its last (one board, moved on)."""
        board = chess.Board(self.fen)
        yield board
        for san in self.sans:
            board.push_san(san)
            yield board

    def turns(self, side: bool) -> np.ndarray:
        """The positions (0..N) where ``side`` was to move."""
        return np.arange(0 if self.first == side else 1, self.plies + 1, 2)


_HOW = (("resigned", ("resign", "desist", "abandon")), ("time", ("time", "tempo")),
        ("mate", ("mate", "checkmate")), ("agreed", ("agree", "acordo", "mutual")),
        ("drawn", ("repeti", "insuffic", "insufici", "stalemate", "afogamento", "50")))


def how_it_ended(tags: dict[str, str], board: chess.Board) -> str:
    """The way a game ended, from its ``Termination`` tag (chess.com writes it in English or
    Portuguese; Lichess writes Normal / Time forfeit) and its last position. Without one, a
    decisive game that did not end in mate ended by resignation and a draw that no rule ends was
    agreed, as over-the-board collections like PGN Mentor record them."""
    result = tags.get("Result", "*")
    term = tags.get("Termination", "").lower()
    if board.is_checkmate():
        return "mate"
    for how, words in _HOW:
        if any(w in term for w in words) and how != "mate":
            return how
    if result in ("1-0", "0-1"):
        return "resigned"
    if result == "1/2-1/2":
        dead = (board.is_stalemate() or board.is_insufficient_material() or board.can_claim_draw())
        return "drawn" if dead else "agreed"
    return "other"


def endings_from_pgn(path: str | Path, min_plies: int = MIN_PLY) -> Iterator[Ending]:
    """Every finished game of at least ``min_plies`` plies in a PGN file, with how it ended (the
    network's view is filled in by :func:`add_values`)."""
    for text in iter_game_texts(path):
        tags, movetext = read_tags(text)
        if tags.get("Result") not in ("1-0", "0-1", "1/2-1/2") or tags.get("Variant", "Standard") != "Standard":
            continue
        fen = tags.get("FEN", chess.STARTING_FEN)
        sans, _ = mainline(movetext)
        if len(sans) < min_plies:
            continue
        try:
            board = chess.Board(fen)
            for san in sans:
                board.push_san(san)
        except ValueError:
            continue
        yield Ending(tags.get("White", "?"), tags.get("Black", "?"), tags["Result"], how_it_ended(tags, board),
                     sans, fen)


def add_values(endings: list[Ending], policy, batch: int = 256, progress=None) -> None:
    """Fill each game's ``value`` and ``draw`` at every position from ``policy``'s network (the
    same evaluation a bot makes at its turn). ``progress(n)`` hears of each batch of positions."""
    from . import encoding as enc

    todo: list[tuple[Ending, int, np.ndarray]] = []

    def flush():
        early, late = [], []  # a styled network answers past style_plies with its base
        for t in todo:
            (early if policy.style_plies is None or t[1] < policy.style_plies else late).append(t)
        for group, ply in ((early, 0), (late, 10**6)):
            if group:
                _, wdl = policy.logits(np.stack([t[2] for t in group]), ply)
                for (e, i, _), w in zip(group, wdl):
                    e.value[i], e.draw[i] = w[0] - w[2], w[1]
        if progress:
            progress(len(todo))
        todo.clear()

    for e in endings:
        e.value, e.draw = np.zeros(e.plies + 1), np.zeros(e.plies + 1)
        board = chess.Board(e.fen)
        for i in range(e.plies + 1):
            if board.is_game_over():
                w = 1.0 if board.is_checkmate() else 0.0  # mated: the mover has lost
                e.value[i], e.draw[i] = -w, 1.0 - w
            else:
                todo.append((e, i, enc.board_planes(board)))
            if i < e.plies:
                board.push_san(e.sans[i])
            if len(todo) >= batch:
                flush()
    if todo:
        flush()


def add_searched(endings: list[Ending], policy, rule: "Resign") -> None:
    """Fill each game's ``searched``: what ``rule`` reads at every position (:meth:`Resign.reads`),
    from the ``value`` :func:`add_values` filled in."""
    for e in endings:
        e.searched = e.value.copy()
        if rule.nodes:
            for i, board in enumerate(e.positions()):
                e.searched[i] = rule.reads(policy, board, e.value[i])


# --- the rules --------------------------------------------------------------------------------

def _runs(flags: np.ndarray, moves: int) -> np.ndarray:
    """For each turn, whether ``flags`` held at it and at the ``moves - 1`` turns before it."""
    out = flags.copy()
    for k in range(1, moves):
        out[k:] &= flags[:-k]
        out[:k] = False
    return out


@dataclass
class Resign:
    """Resign when the expected score has been <= ``value`` for the last ``moves`` own turns."""

    value: float = -0.9
    moves: int = 2
    min_ply: int = MIN_PLY
    nodes: int = 0  # read a search of this many nodes where the value head reads ``below`` or worse (0: never)
    below: float = -0.7

    def reads(self, policy, board: chess.Board, value: float) -> float:
        """The mover's expected score this rule reads on ``board``, whose value head reads ``value``."""
        if self.nodes and value <= self.below and board.ply() >= MIN_PLY and not board.is_game_over():
            from .search import search

            return -search(policy, board, self.nodes).root.q  # the root's q is the last mover's
        return value

    def fires(self, values: Iterable[float], plies: Iterable[int]) -> np.ndarray:
        """For each own turn (values oldest first, at ``plies``), whether the rule resigns there."""
        v = np.asarray(list(values), dtype=float)
        return _runs(v <= self.value, self.moves) & (np.asarray(list(plies)) >= self.min_ply)


@dataclass
class OfferDraw:
    """Offer or accept a draw when the draw chance has been >= ``draw`` for ``moves`` own turns."""

    draw: float = 0.9
    moves: int = 4
    min_ply: int = 40

    def fires(self, draws: Iterable[float], plies: Iterable[int]) -> np.ndarray:
        d = np.asarray(list(draws), dtype=float)
        return _runs(d >= self.draw, self.moves) & (np.asarray(list(plies)) >= self.min_ply)


def _own_plies(n: int, ply: int) -> range:
    """The plies of a side's last ``n`` turns, the last at ``ply``."""
    return range(ply - 2 * (n - 1), ply + 1, 2)


# --- scoring and learning ---------------------------------------------------------------------

@dataclass
class Score:
    """How a resignation rule does on games: ``where`` = resigned within WINDOW plies of the
    person's own resignation (share of resigned games); ``false`` = resigned games the side drew
    or won (share of such sides); ``early`` = resigned more than WINDOW plies before the person."""

    games: int
    where: float
    early: float
    never: float
    false: float
    saved_sides: int

    def row(self) -> dict:
        return asdict(self)


def first_fire(rule, e: Ending, side: bool, what: str = "value") -> int | None:
    """The first position (ply) where ``rule`` fires for ``side`` in game ``e``, None if never."""
    t = e.turns(side)  # the final position too: people resign facing the move that beat them
    fired = rule.fires(getattr(e, what)[t], t)
    hit = np.flatnonzero(fired)
    return int(t[hit[0]]) if len(hit) else None


def score_resign(rule: Resign, endings: list[Ending], what: str = "value") -> Score:
    """How ``rule`` resigns ``endings`` read through their ``what`` (an expected score per position)."""
    resigned = [e for e in endings if e.how == "resigned" and e.loser() is not None]
    where = early = never = 0
    for e in resigned:
        p = first_fire(rule, e, e.loser(), what)
        if p is None:
            never += 1
        elif e.plies - p <= WINDOW:
            where += 1
        else:
            early += 1
    saved = [(e, side) for e in endings for side in (chess.WHITE, chess.BLACK) if e.loser() != side]
    false = sum(first_fire(rule, e, side, what) is not None for e, side in saved)
    n = max(len(resigned), 1)
    return Score(len(resigned), where / n, early / n, never / n, false / max(len(saved), 1), len(saved))


def score_draw(rule: OfferDraw, endings: list[Ending]) -> dict:
    """Agreed draws offered within WINDOW plies of the agreement; offers in games the side won."""
    agreed = [e for e in endings if e.how == "agreed"]
    where = sum(any((p := first_fire(rule, e, s, "draw")) is not None and e.plies - p <= WINDOW
                    for s in (chess.WHITE, chess.BLACK)) for e in agreed)
    won = [(e, not e.loser()) for e in endings if e.loser() is not None]
    false = sum(first_fire(rule, e, s, "draw") is not None for e, s in won)
    return {"games": len(agreed), "where": where / max(len(agreed), 1), "false": false / max(len(won), 1),
            "won_sides": len(won)}


def fit_resign(endings: list[Ending], max_false: float = MAX_FALSE, what: str = "value", nodes: int = 0) -> Resign:
    """The resignation rule that resigns where people did most often, among those that resign
    at most ``max_false`` of the games a side went on to save (read through ``what``: for a rule
    of ``nodes``, the ``searched`` that :func:`add_searched` filled in)."""
    best, best_where = None, -1.0
    for moves in (1, 2, 3, 4):
        for value in np.round(np.arange(-0.99, -0.39, 0.01), 2):
            for min_ply in (MIN_PLY, 30, 40):
                rule = Resign(float(value), moves, min_ply, nodes)
                s = score_resign(rule, endings, what)
                if s.false <= max_false and s.where > best_where:
                    best, best_where = rule, s.where
    if best is None:
        raise PlayasError("no resignation rule keeps false resignations this low on these games")
    return best


def fit_draw(endings: list[Ending], max_false: float = MAX_FALSE_DRAWS) -> OfferDraw:
    """The draw-offer rule that offers where people agreed most often, among those that offer in
    at most ``max_false`` of the games a side went on to win."""
    best, best_where = OfferDraw(), -1.0
    for moves in (1, 2, 4, 6):
        for draw in np.round(np.arange(0.5, 0.99, 0.02), 2):
            for min_ply in (MIN_PLY, 40, 60):
                rule = OfferDraw(float(draw), moves, min_ply)
                s = score_draw(rule, endings)
                if s["false"] <= max_false and s["where"] > best_where:
                    best, best_where = rule, s["where"]
    return best


# --- the learned rules, as a file -------------------------------------------------------------

@dataclass
class Endings:
    """The learned rules: when to resign and when to offer or accept a draw."""

    resign: Resign = field(default_factory=Resign)
    draw: OfferDraw = field(default_factory=OfferDraw)
    card: dict = field(default_factory=dict)

    def should_resign(self, values: list[float], ply: int) -> bool:
        """Whether to resign now, given the expected scores at each own turn so far (this one last)."""
        return bool(len(values) and self.resign.fires(values, _own_plies(len(values), ply))[-1])

    def should_offer_draw(self, board: chess.Board, draws: list[float], value: float | None = None) -> bool:
        """Whether to offer (or accept) a draw now: a dead position, or the draw chance at each own
        turn so far (this one last) has stayed high long enough. A repetition or fifty-move draw
        the mover could claim is offered unless its expected score ``value`` says it is clearly
        better (at or above -:data:`ACCEPT_BELOW`): people play on to win those."""
        if board.is_insufficient_material():
            return True
        if board.can_claim_draw() and (value is None or value < -ACCEPT_BELOW):
            return True
        return bool(len(draws) and self.draw.fires(draws, _own_plies(len(draws), board.ply()))[-1])

    def accepts_draw(self, board: chess.Board, draws: list[float], value: float) -> bool:
        """Whether to accept a draw offered now: where the person would offer one, or clearly
        worse (an expected score at or below :data:`ACCEPT_BELOW`) from the rule's first ply on."""
        return self.should_offer_draw(board, draws, value) or (value <= ACCEPT_BELOW and board.ply() >= self.draw.min_ply)

    def save(self, path: str | Path) -> None:
        from ..core.output import write_text

        write_text(path, json.dumps({"format": FORMAT, "resign": asdict(self.resign), "draw": asdict(self.draw),
                                     "card": self.card}, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Endings":
        try:
            blob = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise PlayasError(f"cannot read the endings model {path}: {e}") from None
        if blob.get("format") not in (1, FORMAT):  # 1 read the value head alone: a rule of no nodes
            raise PlayasError(f"{path} is an endings model of another format; learn it again (playas chess learn-endings)")
        return cls(Resign(**blob["resign"]), OfferDraw(**blob["draw"]), blob.get("card") or {})


def learn(pgns: Iterable[str | Path], policy, max_games: int = 3000, seed: int = 0, nodes: int = 0,
          progress=None) -> Endings:
    """Learn both rules from the finished games of ``pgns``: a uniform sample of ``max_games``; the
    resignation rule reads a search of ``nodes`` nodes in bad positions (0: the value head)."""
    games = [e for p in pgns for e in endings_from_pgn(p)]
    if not any(e.how == "resigned" for e in games):
        raise PlayasError("these games hold no resignations to learn from")
    rng = np.random.default_rng(seed)
    if len(games) > max_games:
        games = [games[i] for i in sorted(rng.choice(len(games), max_games, replace=False))]
    add_values(games, policy, progress=progress)
    what = "value"
    if nodes:
        add_searched(games, policy, Resign(nodes=nodes))
        what = "searched"
    resign, draw = fit_resign(games, what=what, nodes=nodes), fit_draw(games)
    s = score_resign(resign, games, what)
    card = {"games": len(games), "resigned": s.games, "agreed": sum(e.how == "agreed" for e in games),
            "resign_where": round(s.where, 4), "resign_false": round(s.false, 4),
            "draw": score_draw(draw, games)}
    return Endings(resign, draw, card)
