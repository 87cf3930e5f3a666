"""What a model thinks of a position: move probabilities over the legal moves, and a value.

This is the one inference path: ``playas chess predict`` reads it directly, and every move a bot
plays comes through it by way of the move interface (:mod:`playas.chess.engine`), which adds the
temperature, the search and the scores.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import chess
import numpy as np
import torch

from ..core.errors import PlayasError
from . import encoding as enc
from .model import ChessNet, load_model, style_plies


@dataclass
class Analysis:
    """Legal moves, most likely first, with probabilities summing to 1; value for the mover."""

    moves: list[chess.Move]
    probs: np.ndarray
    wdl: np.ndarray  # win, draw, loss for the side to move
    book: float = 0.0  # the style's own games that reached this position (0: the network alone)

    @property
    def value(self) -> float:
        """Expected score in [-1, 1] for the side to move."""
        return float(self.wdl[0] - self.wdl[2])

    def top(self, k: int) -> list[tuple[chess.Move, float]]:
        return [(m, float(p)) for m, p in zip(self.moves[:k], self.probs[:k])]


@dataclass
class Question:
    """A position as :meth:`Policy.answer` takes it: its planes, ply, legal moves (and their
    policy indices) and the style's own counts of those moves, if its repertoire reaches it."""

    planes: np.ndarray
    ply: int
    moves: list[chess.Move]
    idx: np.ndarray
    counts: tuple[np.ndarray, np.ndarray] | None


class Policy:
    """A chess model ready to answer positions as one style.

    ``Policy.load(path, style="Tal:0.7,Petrosian:0.3", steer={"capture_rate": 1})``. A styled
    model has its chosen style merged into plain layers once, here, so a styled move costs what a
    base move costs, and the merged network never changes afterwards: several threads may ask it
    at once. Another style is another Policy over the same model (the engine keeps one per style).

    Where the style's players met the position in their own games (their repertoire, up to
    ``book_depth`` plies; 0 turns it off), their counts and the network combine as in
    :mod:`playas.core.repertoire`: the person's openings, with the network as the prior. Past
    the plies the styles learned from (their recipe's ``max_ply``), the base network answers:
    a style row adds nothing measurable there (BENCHMARKS.md, moves by phase).
    """

    def __init__(self, model, card: dict | None = None, style: str | None = None,
                 steer: dict[str, float] | None = None, book_depth: int | None = None):
        self.model = model.eval()
        self.card = card or {}
        self.net: ChessNet = model
        self.style, self.steer = style, dict(steer or {})
        self.book_depth = book_depth
        self.shares = None  # each player's share of the style, for its repertoire
        self.base_net, self.style_plies = None, None  # past style_plies, base_net answers
        self._last: tuple | None = None  # the last position analysed and its analysis
        if self.styled or style or steer:
            self._merge(style, self.steer)
            self.shares = self.model.table.shares(style)
            self.style_plies = style_plies(self.card)
            if self.style_plies:
                self.base_net = self.model.unadapted_base()

    @classmethod
    def load(cls, path, style: str | None = None, steer: dict[str, float] | None = None,
             book_depth: int | None = None) -> "Policy":
        model, blob = load_model(path)
        return cls(model, blob.get("card"), style, steer, book_depth)

    def with_book(self, book_depth: int | None) -> "Policy":
        """The same style (no new merge) with its repertoire used to ``book_depth`` plies."""
        if book_depth == self.book_depth:
            return self
        other = copy.copy(self)
        other.book_depth, other._last = book_depth, None
        return other

    @property
    def styled(self) -> bool:
        return is_styled(self.model)

    @property
    def players(self) -> list[str]:
        return list(self.model.table.names) if self.styled else []

    def _merge(self, style: str | None, steer: dict[str, float]) -> None:
        """Answer as ``style`` (a player or a blend; None is the mean style), steered by ``steer``."""
        if not self.styled:
            raise PlayasError("this model has no style table; use a styled model (train-styles)")
        z = self.model.table.resolve(style, steer)  # raises on unknown players
        self.net = self.model.merged_base(z).eval()

    @torch.inference_mode()
    def logits(self, planes: np.ndarray, ply: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Raw policy logits (N, 1858) and WDL probabilities (N, 3) for a batch of planes of
        positions ``ply`` plies into their game."""
        net = self.base_net if self.base_net is not None and ply >= self.style_plies else self.net
        p, v = net(torch.from_numpy(planes))
        return p.numpy(), torch.softmax(v, dim=1).numpy()

    def wdl_after(self, board: chess.Board, moves: list[chess.Move]) -> np.ndarray:
        """Win, draw, loss (N, 3) for the side to move after each of ``moves``, in one batch."""
        planes = []
        for m in moves:
            board.push(m)
            try:
                planes.append(enc.board_planes(board))
            finally:
                board.pop()
        return self.logits(np.stack(planes), board.ply() + 1)[1]

    def analyse(self, board: chess.Board) -> Analysis:
        """Probabilities of the legal moves of ``board`` (history from its move stack).

        The last answer is kept: a bot asks about the position it is to move in for its think
        time, its move and its resignation, and one network pass serves all three."""
        key = (board.fen(), tuple(board.move_stack[-8:]))
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        analysis = self.answer([self.ask(board)])[0]
        self._last = (key, analysis)
        return analysis

    def ask(self, board: chess.Board) -> "Question":
        """What :meth:`answer` needs of ``board`` (its planes and legal moves), read now, so a
        search can gather several leaves and send them through the network at once."""
        if board.is_game_over(claim_draw=False) and not any(board.legal_moves):
            raise PlayasError("the position has no legal moves")
        if not board.is_valid():
            raise PlayasError(f"illegal position: {board.fen()}")
        moves = list(board.legal_moves)
        idx = np.array([enc.move_to_index(board, m) for m in moves])
        return Question(enc.board_planes(board), board.ply(), moves, idx, self.book_counts(board, idx))

    def answer(self, questions: list["Question"]) -> list[Analysis]:
        """The analyses of several positions, one pass through the network for each net they need
        (a styled model answers past its style plies with the base)."""
        out: list[Analysis | None] = [None] * len(questions)
        late = [self.base_net is not None and q.ply >= self.style_plies for q in questions]
        for group in ([i for i, x in enumerate(late) if not x], [i for i, x in enumerate(late) if x]):
            if not group:
                continue
            logits, wdl = self.logits(np.stack([questions[i].planes for i in group]), questions[group[0]].ply)
            for row, i in enumerate(group):
                out[i] = self._finish(questions[i], logits[row], wdl[row])
        return out

    def _finish(self, q: "Question", logits: np.ndarray, wdl: np.ndarray) -> Analysis:
        probs = softmax(logits[q.idx].astype(np.float64))
        if q.counts is not None:
            own, everyone = q.counts
            probs = self.model.table.repertoire.mix(own, own.sum(), everyone, everyone.sum(), probs)
        order = np.argsort(-probs, kind="stable")
        return Analysis([q.moves[i] for i in order], probs[order], wdl, 0.0 if q.counts is None else q.counts[0].sum())

    def book_counts(self, board: chess.Board, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The counts of the moves ``idx`` (policy indices) at ``board`` in the style's players' own
        games, and in everyone's; None where nobody played it, the repertoire does not reach (or is
        off), or the style is the mean."""
        rep = self.model.table.repertoire if self.styled else None
        if rep is None or self.shares is None or self.book_depth == 0:
            return None
        reach = rep.reach(self.book_depth)
        if reach is not None and board.ply() >= reach:
            return None
        own, everyone = rep.counts_at(enc.book_key(board), self.shares)
        if not everyone:
            return None
        return tuple(np.array([c.get(int(i), 0.0) for i in idx]) for c in (own, everyone))


def is_styled(model) -> bool:
    """Whether ``model`` has a style table (players to play as), or is a plain network."""
    from ..core.mhr import MHRModel

    return isinstance(model, MHRModel)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()
