"""How much a player's own games add to move-matching, beyond everyone's games.

    python -m bench.chess_personal_signal --model models/pgnmentor-197.pt --data data/pgnmentor

The styles benchmark asks MHR for +3 points of move-matching over the base. This one measures
what the data can give, with no learning at all: on each trained player's held-out test moves,
the base's top-1 move, then the same with an opening book laid over it (where the exact position
was seen in training, play the book's most common move there). A book built from everyone's
training games measures what plain memory adds; one built from the player's own games measures
what *personal* memory adds; the difference between them is the repertoire signal a style could
capture. Next to them, the style model under each player's own row and under the mean row: the
gap between those two is what the style vectors learned about the person.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch

from playas.chess.dataset import ChessData
from playas.chess.model import CHESS, load_model
from playas.chess.train import make_batch

from .chess_data import owner_rows, player_games
from .common import arguments, finish, table


def position_key(data: ChessData, row: int) -> bytes:
    """The board and side/castling flags of a row: equal keys are the same position."""
    return data.rows["codes"][row].tobytes() + bytes([int(data.rows["flags"][row])])


def books(data: ChessData, players: list[str], games: np.ndarray) -> tuple[dict, dict]:
    """Everyone's book and each player's own: position -> Counter of the moves they played there."""
    everyone: dict = defaultdict(Counter)
    own: dict = {}
    for name in players:
        pid = data.players.index(name)
        mine: dict = defaultdict(Counter)
        for r in owner_rows(data, pid, np.intersect1d(games, player_games(data, pid, "train"))):
            k, m = position_key(data, r), int(data.rows["move"][r])
            mine[k][m] += 1
            everyone[k][m] += 1
        own[name] = mine
    return everyone, own


def with_book(pred: np.ndarray, keys: list[bytes], book: dict) -> np.ndarray:
    out = pred.copy()
    for j, k in enumerate(keys):
        seen = book.get(k)
        if seen:
            out[j] = seen.most_common(1)[0][0]
    return out


def main():
    ap = arguments(__doc__)
    ap.add_argument("--per-player", type=int, default=200, help="test positions per player")
    a = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.time()
    model, blob = load_model(a.model)
    card = blob["card"]
    base = load_model(card["base"])[0]
    data = ChessData(a.data)
    trained = [n for n in model.table.names if n in data.players and n not in card.get("enrolled", {})]
    z = model.table.z.detach()
    rng = np.random.default_rng(0)
    tests = {}
    for n in trained:
        pid = data.players.index(n)
        tests[n] = np.sort(rng.permutation(owner_rows(data, pid, player_games(data, pid, "test")))[: a.per_player])
    keys = {n: [position_key(data, r) for r in tests[n]] for n in trained}  # once, for every book
    preds: dict[str, dict] = {}
    for n in trained:
        b = make_batch(data, tests[n], with_legal=True)
        with torch.inference_mode():
            h = CHESS.trunk(model, b["x"])
            top = lambda logits: logits.masked_fill(~b["legal"], float("-inf")).argmax(1).numpy()
            preds[n] = {"y": b["y"].numpy(), "base": top(base(b["x"])[0]),
                        "own": top(CHESS.head(model, h, z[model.table.index(n)])),
                        "mean": top(CHESS.head(model, h, z.mean(0)))}
    top1 = {k: float(np.mean([(preds[n][k] == preds[n]["y"]).mean() for n in trained])) for k in ("base", "own", "mean")}
    rows = []
    per_recipe = card["recipe"].get("games_per_player")
    for label, per in ((f"{per_recipe} per player (the style model's training games)", per_recipe),
                       ("all (up to ~420 per player)", None)):
        games = data.sample_games("train", per, card["recipe"].get("seed", 0))
        everyone, own = books(data, trained, games)
        b_ = top1["base"]
        e_ = float(np.mean([(with_book(preds[n]["base"], keys[n], everyone) == preds[n]["y"]).mean() for n in trained]))
        o_ = float(np.mean([(with_book(preds[n]["base"], keys[n], own[n]) == preds[n]["y"]).mean() for n in trained]))
        rows.append([label, f"{b_:.2%}", f"{e_:.2%} ({(e_ - b_) * 100:+.2f})", f"{o_:.2%} ({(o_ - b_) * 100:+.2f})",
                     f"{(o_ - e_) * 100:+.2f}"])
    own_, mean_, base_ = top1["own"], top1["mean"], top1["base"]
    body = (f"Top-1 on {a.per_player} held-out test moves of each of {len(trained)} trained players (mean of "
            "per-player accuracy). A book replaces the base's move wherever the exact position occurs in "
            "the book's training games.\n\n"
            + table(rows, ["training games in the books", "base", "base + everyone's book", "base + own book",
                           "own book - everyone's (points)"])
            + f"\n\nStyle model `{Path(a.model).name}` on the same moves: own row {own_:.2%}, mean row {mean_:.2%}, "
            f"base {base_:.2%}: own row - mean row = {(own_ - mean_) * 100:+.2f} points (what the style vectors "
            f"know about the person), mean row - base = {(mean_ - base_) * 100:+.2f} (what the adapters learned "
            f"for everyone).\n\nTotal {time.time() - t0:.0f} s.")
    finish(a, "chess_personal_signal", "Chess: what a player's own games add to move-matching", body)


if __name__ == "__main__":
    main()
