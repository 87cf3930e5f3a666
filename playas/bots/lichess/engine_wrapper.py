"""The bot's engine: the chess move interface set up by the config's ``engine`` section.

As lichess-bot's ``engine_wrapper`` stands between its games and an engine, this stands between
the games and :class:`playas.chess.engine.Engine`: it knows which style each game plays (several
``styles`` share one model), the steering, and how to name a style in chat. Every move and every
score comes from the chess engine.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path

import chess
import numpy as np

from ...chess.limits import Limits
from ...core.errors import PlayasError

SEARCH_NODES = 100_000  # the most nodes one move searches


class EngineWrapper:
    """The shared model, merged once per style at start-up, and the move choice (temperature, nodes).

    Each style is merged into its own network before any game starts, so every game reads a
    fixed network and games think side by side in their own threads.
    """

    def __init__(self, cfg, model=None):
        import torch

        from ...chess.engine import Engine, shipped_endings
        from ...shipped import default_model

        self.path = Path(model or cfg.model or default_model("chess"))
        self.temperature, self.nodes, self.steer = cfg.temperature, cfg.nodes, dict(cfg.steer)
        torch.set_num_threads(cfg.threads)
        self.engine = Engine(self.path, cfg.temperature, cfg.nodes, book_depth=cfg.book_depth if cfg.own_book else 0,
                             top_p=cfg.top_p, temp_cutoff_move=cfg.temp_cutoff_move, temp_endgame=cfg.temp_endgame)
        self.endings = shipped_endings()  # when the person resigns and agrees draws (draw_or_resign unset)
        self.styles: list[str | None] = list(cfg.styles) or [cfg.style]
        for s in dict.fromkeys(self.styles):
            try:
                self.engine.policy(s, self.steer)
            except PlayasError as e:
                raise PlayasError(f"cannot play {'style ' + repr(s) if s else 'the steered style'} "
                                  f"with {self.path.name}: {e}") from None
        self.styled, self.players = self.engine.styled, len(self.engine.players)
        self.people = {name: e["source"]["lichess_user"] for name, e in (self.engine.card.get("enrolled") or {}).items()
                       if (e.get("source") or {}).get("lichess_user")}  # styles enrolled from a Lichess account
        self.engine.judge(chess.Board(), self.styles[0], self.steer)  # the first forward pass is slow; take it now

    def style_for(self, game_id: str) -> str | None:
        """The style of a game: one of ``styles``, picked by the game's id, so a bot restarted in
        the middle of a game goes on as the same person."""
        return self.styles[zlib.crc32(game_id.encode()) % len(self.styles)]

    def describe(self, style: str | None) -> str:
        if style:
            name = style
        elif self.styled:
            name = f"the mean style of {self.players} players"
        else:
            name = self.path.stem
        if self.steer:
            name += " steered " + ", ".join(f"{k} {v:+g}" for k, v in self.steer.items())
        return name

    def not_them(self, style: str | None) -> str:
        """For a style that is (or blends) a model of people's Lichess accounts, the sentence the
        greeting adds: the bot plays in their style and is not them; '' for any other style."""
        shares = self.engine.model.table.shares(style) if style and self.people else None
        users = [] if shares is None else list(dict.fromkeys(
            self.people[n] for n, w in zip(self.engine.players, shares) if w > 0 and n in self.people))
        if not users:
            return ""
        who = " and ".join(users)
        return f"I play in the style of {who}, learned from public games; I am not {'them' if len(users) > 1 else who}."

    def think(self, board: chess.Board, style: str | None, rng: np.random.Generator, deadline: float | None = None,
              wait: bool = False):
        """The move to play as ``style`` (a :class:`playas.chess.engine.Choice`), searched until
        ``deadline`` (a time.monotonic() value) at the latest; with ``wait``, not sent before it
        either (the person's think time). ``nodes`` 0 searches as long as the deadline allows."""
        stop = None if deadline is None else (lambda: time.monotonic() >= deadline)
        nodes = self.nodes or (SEARCH_NODES if deadline is not None else 1)
        choice = self.engine.search(board, Limits(nodes=nodes), style=style, steer=self.steer, stop=stop, rng=rng)
        if wait and deadline is not None:
            time.sleep(max(deadline - time.monotonic(), 0))
        return choice

    def judge(self, board: chess.Board, style: str | None):
        """The value head's view of ``board`` for its side to move (a :class:`playas.chess.engine.Judgement`)."""
        return self.engine.judge(board, style, self.steer)
