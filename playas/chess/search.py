"""A small tree search over the policy: the player's own moves, checked by the value head.

The move interface (:mod:`playas.chess.engine`) runs it when a move may cost more than one node.

With ``nodes`` network evaluations it grows a PUCT tree as AlphaZero and lc0 do. Each step walks
down by ``Q + c·P·√N / (1 + n)`` (P the player's probability of the move, Q its mean value so
far, N and n visit counts), evaluates the new position once and backs its value up; eight
such walks go through the network together (virtual loss keeps them apart). The player's
probabilities are the only priors, so the visits go where this player would look and the value
head only steers them away from moves that lose: a stronger opponent that still plays the
style. One node is the pure policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import chess
import numpy as np

CPUCT = 1.5
FPU_REDUCTION = 0.3  # an unvisited move starts a little below its parent's value (lc0's first-play urgency)
BATCH = 8  # leaves evaluated together (see :func:`search`)


@dataclass(eq=False)
class Node:
    """A move in the tree; ``total`` sums the values seen below it for the player who made it."""

    move: chess.Move | None
    prior: float
    visits: int = 0
    total: float = 0.0
    children: list["Node"] = field(default_factory=list)
    terminal: float | None = None  # the game is over here: the value for the side to move
    waiting: bool = False  # a leaf in the batch being gathered, not yet evaluated

    @property
    def q(self) -> float:
        return self.total / self.visits if self.visits else 0.0

    def best(self) -> "Node":
        """The most visited child (ties: the more likely move)."""
        return max(self.children, key=lambda c: (c.visits, c.prior))

    def pv(self) -> list[chess.Move]:
        """The principal variation below this node: most visited children, while visited."""
        line, node = [], self
        while node.children and node.best().visits:
            node = node.best()
            line.append(node.move)
        return line


@dataclass
class Tree:
    root: Node
    seldepth: int = 0

    @property
    def nodes(self) -> int:
        return self.root.visits


def search(policy, board: chess.Board, nodes: int, stop=lambda: False, root_moves=None, batch: int = BATCH) -> Tree:
    """Grow a tree of up to ``nodes`` evaluations from ``board`` (left as it was).

    Up to ``batch`` new leaves go through the network at once (lc0's minibatch): each walk down
    marks its path with a virtual loss, so the next walk takes another line, and the real values
    replace the virtual ones when the batch is answered. One leaf at a time (``batch=1``) is the
    plain PUCT walk; a batch of 8 costs a third of the time a leaf on a CPU. ``stop()`` is polled
    between batches (time or the GUI's ``stop``); the root is always evaluated, so there is always
    a move. ``root_moves`` restricts the moves at the root.
    """
    root = Node(None, 1.0)
    tree = Tree(root)
    root.visits, root.total = 1, -_expand(root, policy.analyse(board), root_moves)
    while root.visits < nodes and not stop():
        pending: list[tuple[list[Node], object]] = []
        for _ in range(min(batch, nodes - root.visits)):
            node, path = root, [root]
            while node.children:
                node = _select(node)
                board.push(node.move)
                path.append(node)
            tree.seldepth = max(tree.seldepth, len(path) - 1)
            if node.waiting:  # a leaf already in this batch: answer what is gathered
                _unwind(board, path)
                break
            value = node.terminal if node.terminal is not None else _terminal(board, node)
            if value is not None:
                _backup(path, value)
            else:
                pending.append((path, policy.ask(board)))
                for n in path:  # the virtual loss: the walk's moves look lost until answered
                    n.visits += 1
                    n.total -= 1.0
                node.waiting = True
            _unwind(board, path)
        for (path, _), analysis in zip(pending, policy.answer([q for _, q in pending]) if pending else []):
            path[-1].waiting = False
            for n in path:
                n.visits -= 1
                n.total += 1.0
            _backup(path, _expand(path[-1], analysis))
    return tree


def _unwind(board: chess.Board, path: list[Node]) -> None:
    for _ in path[1:]:
        board.pop()


def _backup(path: list[Node], value: float) -> None:
    """Count one visit along ``path`` for a leaf worth ``value`` to its side to move."""
    for n in reversed(path):  # values alternate sides on the way up
        n.visits += 1
        n.total -= value
        value = -value


def _select(node: Node) -> Node:
    sqrt_n = math.sqrt(node.visits)
    fpu = -node.q - FPU_REDUCTION  # the parent's value for the side to move here, a little lowered
    return max(node.children, key=lambda c: (c.q if c.visits else fpu) + CPUCT * c.prior * sqrt_n / (1 + c.visits))


def _terminal(board: chess.Board, node: Node) -> float | None:
    """The value of a finished game for the side to move (kept on the node), None if it goes on."""
    if board.is_checkmate():
        node.terminal = -1.0
    elif (board.is_stalemate() or board.is_insufficient_material() or board.halfmove_clock >= 100
          or board.is_repetition(2)):  # inside the tree one repetition is as good as a draw
        node.terminal = 0.0
    return node.terminal


def _expand(node: Node, analysis, only=None) -> float:
    moves, probs = restrict(analysis.moves, analysis.probs, only)
    node.children = [Node(m, float(p)) for m, p in zip(moves, probs)]
    return analysis.value


def restrict(moves: list[chess.Move], probs: np.ndarray, only) -> tuple[list[chess.Move], np.ndarray]:
    """Keep the moves in ``only`` (the GUI's ``searchmoves``) with probabilities renormalised."""
    if not only:
        return moves, probs
    keep = [i for i, m in enumerate(moves) if m in only]
    if not keep:
        return moves, probs
    p = probs[keep]
    return [moves[i] for i in keep], p / p.sum() if p.sum() > 0 else np.full(len(keep), 1 / len(keep))
