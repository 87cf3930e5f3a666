"""What a model thinks of a position: move probabilities over the legal moves, and a value.

This is the one inference path for predict, the UCI engine, the Lichess bot and self-play.
"""

from __future__ import annotations

from dataclasses import dataclass

import chess
import numpy as np
import torch

from ..core.errors import PlayasError
from . import encoding as enc
from .model import ChessNet, load_model


@dataclass
class Analysis:
    """Legal moves, most likely first, with probabilities summing to 1; value for the mover."""

    moves: list[chess.Move]
    probs: np.ndarray
    wdl: np.ndarray  # win, draw, loss for the side to move

    @property
    def value(self) -> float:
        """Expected score in [-1, 1] for the side to move."""
        return float(self.wdl[0] - self.wdl[2])

    @property
    def centipawns(self) -> int:
        """lc0's conversion of an expected score to centipawns, for GUIs that want a number."""
        q = max(min(self.value, 0.999), -0.999)
        return int(round(90 * np.tan(1.5637541897 * q)))

    def top(self, k: int) -> list[tuple[chess.Move, float]]:
        return [(m, float(p)) for m, p in zip(self.moves[:k], self.probs[:k])]


class Policy:
    """A chess model ready to answer positions as one style.

    ``Policy.load(path, style="Tal:0.7,Petrosian:0.3", steer={"capture_rate": 1})``. A styled
    model has its chosen style merged into plain layers, so a styled move costs what a base move
    costs; ``set_style`` switches style without reloading.
    """

    def __init__(self, model, card: dict | None = None, style: str | None = None,
                 steer: dict[str, float] | None = None):
        self.model = model.eval()
        self.card = card or {}
        self.net: ChessNet = model
        self.style = None
        if self.styled or style or steer:
            self.set_style(style, steer)

    @classmethod
    def load(cls, path, style: str | None = None, steer: dict[str, float] | None = None) -> "Policy":
        model, blob = load_model(path)
        return cls(model, blob.get("card"), style, steer)

    @property
    def styled(self) -> bool:
        from ..core.mhr import Styled

        return isinstance(self.model, Styled)

    @property
    def players(self) -> list[str]:
        return list(self.model.table.names) if self.styled else []

    def set_style(self, style: str | None, steer: dict[str, float] | None = None) -> None:
        """Play as ``style`` (a player or a blend; None is the mean style) with optional steering."""
        if not self.styled:
            if style or steer:
                raise PlayasError("this model has no style table; use a styled model (train-styles)")
            return
        z = self.model.table.resolve(style, steer)  # raises on unknown players before anything changes
        self.net = self.model.merged_base(z).eval()
        self.style = style

    @torch.inference_mode()
    def logits(self, planes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw policy logits (N, 1858) and WDL probabilities (N, 3) for a batch of planes."""
        p, v = self.net(torch.from_numpy(planes))
        return p.numpy(), torch.softmax(v, dim=1).numpy()

    def analyse(self, board: chess.Board, temperature: float = 1.0) -> Analysis:
        """Probabilities of the legal moves of ``board`` (history from its move stack)."""
        if board.is_game_over(claim_draw=False) and not any(board.legal_moves):
            raise PlayasError("the position has no legal moves")
        if not board.is_valid():
            raise PlayasError(f"illegal position: {board.fen()}")
        logits, wdl = self.logits(enc.board_planes(board)[None])
        moves = list(board.legal_moves)
        idx = np.array([enc.move_to_index(board, m) for m in moves])
        z = logits[0, idx].astype(np.float64)
        probs = softmax(z, temperature)
        order = np.argsort(-probs, kind="stable")
        return Analysis([moves[i] for i in order], probs[order], wdl[0])


def softmax(z: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax with temperature; temperature 0 puts all mass on the arg-max."""
    if temperature <= 0:
        out = np.zeros_like(z)
        out[np.argmax(z)] = 1.0
        return out
    z = z / temperature
    e = np.exp(z - z.max())
    return e / e.sum()
