"""A small tree search over the policy: the player's own moves, checked by the value head.

The move interface (:mod:`playas.chess.engine`) runs it when a move may cost more than one node.

With ``nodes`` network evaluations it grows a PUCT tree as AlphaZero and lc0 do. Each step walks
down by ``Q + c·P·√N / (1 + n)`` (P the player's probability of the move, Q its mean value so
far, N and n visit counts), evaluates the new position once and backs its value up. The player's
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


@dataclass(eq=False)
class Node:
    """A move in the tree; ``total`` sums the values seen below it for the player who made it."""

    move: chess.Move | None
    prior: float
    visits: int = 0
    total: float = 0.0
    children: list["Node"] = field(default_factory=list)
    terminal: float | None = None  # the game is over here: the value for the side to move

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


def search(policy, board: chess.Board, nodes: int, stop=lambda: False, root_moves=None) -> Tree:
    """Grow a tree of up to ``nodes`` evaluations from ``board`` (left as it was).

    ``stop()`` is polled between evaluations (time or the GUI's ``stop``); the root is always
    evaluated, so there is always a move. ``root_moves`` restricts the moves at the root.
    """
    root = Node(None, 1.0)
    tree = Tree(root)
    root.visits, root.total = 1, -_expand(policy, board, root, root_moves)
    while root.visits < nodes and not stop():
        node, path = root, [root]
        while node.children:
            node = _select(node)
            board.push(node.move)
            path.append(node)
        value = node.terminal if node.terminal is not None else _evaluate(policy, board, node)
        for n in reversed(path):  # values alternate sides on the way up
            n.visits += 1
            n.total -= value
            value = -value
        for _ in path[1:]:
            board.pop()
        tree.seldepth = max(tree.seldepth, len(path) - 1)
    return tree


def _select(node: Node) -> Node:
    sqrt_n = math.sqrt(node.visits)
    fpu = -node.q - FPU_REDUCTION  # the parent's value for the side to move here, a little lowered
    return max(node.children, key=lambda c: (c.q if c.visits else fpu) + CPUCT * c.prior * sqrt_n / (1 + c.visits))


def _evaluate(policy, board: chess.Board, node: Node) -> float:
    """The value of a new leaf for the side to move: by the rules when the game is over, else the net."""
    if board.is_checkmate():
        node.terminal = -1.0
    elif (board.is_stalemate() or board.is_insufficient_material() or board.halfmove_clock >= 100
          or board.is_repetition(2)):  # inside the tree one repetition is as good as a draw
        node.terminal = 0.0
    else:
        return _expand(policy, board, node)
    return node.terminal


def _expand(policy, board: chess.Board, node: Node, only=None) -> float:
    an = policy.analyse(board)
    moves, probs = restrict(an.moves, an.probs, only)
    node.children = [Node(m, float(p)) for m, p in zip(moves, probs)]
    return an.value


def restrict(moves: list[chess.Move], probs: np.ndarray, only) -> tuple[list[chess.Move], np.ndarray]:
    """Keep the moves in ``only`` (the GUI's ``searchmoves``) with probabilities renormalised."""
    if not only:
        return moves, probs
    keep = [i for i, m in enumerate(moves) if m in only]
    if not keep:
        return moves, probs
    p = probs[keep]
    return [moves[i] for i in keep], p / p.sum() if p.sum() > 0 else np.full(len(keep), 1 / len(keep))
