"""Blends and steering benchmark: do blends sit between their parents, does steering move the
steered property? On what the styles learned: opening moves, and properties settled in the opening
(castling side, early queen moves) next to one that is not (capture rate).

    python -m bench.chess_blends --model models/pgnmentor-197.pt --data data/pgnmentor

Blends are scored on each parent's held-out test moves (top-1 and mean log-likelihood) and in
self-play; steering moves the mean style (and one parent) along a property's direction and plays
it. About 17 minutes on 2 cores. Prints the tables and writes them to BENCHMARKS.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import chess
import numpy as np
import torch

from playas.chess.dataset import ChessData
from playas.chess.model import CHESS, load_model
from playas.chess.play import StylePlayer, play_match
from playas.chess.policy import Policy
from playas.chess.properties import dataset_properties, game_properties
from playas.chess.game import examples, style_plies
from playas.core.learning import style_logliks
from playas.core.trunk import cache_trunk

from .chess_data import accuracy, owner_rows, player_games, styled_logits
from .common import arguments, finish, table


def bench_blends_steering(model, data, trained, max_ply, a, rng) -> str:
    """Blends and steering, on what the styles learned: opening moves, and properties settled in
    the opening (castling side, early queen moves) next to one that is not (capture rate)."""
    props = dataset_properties(data, games_per_player=60, split="train")  # as the build's directions
    blend_prop = "castle_queenside"
    ranked = sorted((n for n in trained if props[n]["games"] >= 30), key=lambda n: props[n][blend_prop])
    a_name, b_name = ranked[-1], ranked[0]  # the two players farthest apart on it
    blend = f"{a_name}:0.5,{b_name}:0.5"
    styles = (a_name, blend, b_name)
    where = f"in the first {max_ply} plies" if max_ply else "(all plies)"
    pair_rows = []
    for target in (a_name, b_name):
        pid = data.players.index(target)
        idx = np.sort(rng.permutation(owner_rows(data, pid, player_games(data, pid, "test"), max_ply))[:1000])
        pos = cache_trunk(CHESS, model, examples(data, idx))
        ll = style_logliks(CHESS, model, pos, torch.stack([model.table.resolve(s) for s in styles]))
        top1 = [accuracy(styled_logits(model, model.table.resolve(s)), data, idx).mean() for s in styles]
        pair_rows.append([f"{target}'s test moves ({len(idx)})",
                          *(f"{t:.2%} / {v:.3f}" for t, v in zip(top1, ll.mean(1).tolist()))])

    def self_play(style, steer=None):
        """Properties of ``style``'s side in games against the mean style (temperature 1): each
        property's mean over games and its standard error."""
        me = StylePlayer(Policy(model, style=style, steer=steer), 1.0, name="styled")
        games = play_match(me, StylePlayer(Policy(model), 1.0, name="mean"), a.steer_games, seed=1,
                           max_plies=a.steer_plies)
        per = [game_properties(chess.Board(), list(g.mainline_moves()), chess.WHITE if i % 2 == 0 else chess.BLACK,
                               None) for i, g in enumerate(games)]
        out = {}
        for k in per[0]:
            v = np.array([g[k] for g in per], dtype=float)
            v = v[~np.isnan(v)]
            if len(v):  # results are not scored in self-play
                out[k] = f"{v.mean():.3f} ± {v.std() / np.sqrt(len(v)):.3f}"
        return out

    shown = ("castle_queenside", "castle_kingside", "early_queen", "capture_rate")
    blend_play = [[s, *(p[k] for k in shown)] for s, p in ((s, self_play(s)) for s in styles)]
    steer_rows = []
    for prop, amounts in (("castle_queenside", (-8, -4, 0, 4, 8)), ("early_queen", (-8, 0, 8)),
                          ("capture_rate", (-8, 0, 8))):
        if prop not in model.table.directions:
            continue
        for base in (None, b_name) if prop == blend_prop else (None,):
            for amount in amounts if base is None else (0, 4, 8):
                p = self_play(base, {prop: amount} if amount else None)
                steer_rows.append([base or "mean style", f"{prop} {amount:+g}", p[prop]])
    return (
        f"Blends sit between their parents. The parents are the trained players farthest apart on "
        f"`{blend_prop}` in their training games ({a_name} {props[a_name][blend_prop]:.2f}, {b_name} "
        f"{props[b_name][blend_prop]:.2f}). Each parent's test moves {where}, top-1 / "
        "mean log-likelihood under each style:\n\n"
        + table(pair_rows, ["moves", a_name, "50/50 blend", b_name])
        + f"\n\nThe same styles in {a.steer_games} self-play games against the mean style (temperature 1, "
        f"{a.steer_plies} plies at most), properties of the styled side (mean ± standard error over games):\n\n"
        + table(blend_play, ["style", *shown])
        + f"\n\nSteering: a style moved along a property's direction (amount x direction added to its routing "
          f"weights), {a.steer_games} games each, measured the same way (mean ± standard error):\n\n"
        + table(steer_rows, ["style", "steer", "property"]))


def main():
    ap = arguments(__doc__)
    ap.add_argument("--steer-games", type=int, default=96, help="self-play games per blend or steered style")
    ap.add_argument("--steer-plies", type=int, default=80, help="plies per self-play game at most")
    a = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.time()
    model, blob = load_model(a.model)
    model.eval()
    data = ChessData(a.data)
    trained = [n for n in model.table.names if n in data.players and n not in blob["card"].get("enrolled", {})]
    body = bench_blends_steering(model, data, trained, style_plies(blob["card"]), a, np.random.default_rng(0))
    body += f"\n\nTotal benchmark time {time.time() - t0:.0f} s."
    finish(a, "chess_blends", f"Chess blends and steering: {Path(a.model).name}", body)


if __name__ == "__main__":
    main()
