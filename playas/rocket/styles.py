"""Rocket League players as styles: properties measured from replays, and queries from replay
files (identify who drove, enroll a new player, predict a decision under a style).

The style machinery is :mod:`playas.core.styled`, the same as chess; this module turns a
player's decisions in replays into its inputs.
"""

from __future__ import annotations

import numpy as np
import torch

from ..core import checkpoint, fitting, styled
from ..core.errors import PlayasError
from ..core.trunk import TrunkCache
from .dataset import SCALARS, RocketData, load_replays
from .model import ROCKET, load_styled, pack, save_model
from .train import cache

PROPERTIES = {
    "speed": "average speed (uu/s)",
    "boost_per_minute": "boost used per minute (0-100 a tank)",
    "supersonic": "share of time supersonic",
    "airborne": "share of time in the air",
    "ball_distance": "average distance to the ball (uu)",
    "height": "average height (uu)",
}


def properties(scalars: np.ndarray) -> dict:
    """The :data:`PROPERTIES` of one stretch of a player's play (rows of ``scalars.npy``)."""
    s = np.asarray(scalars, np.float64)
    col = {k: s[:, i] for i, k in enumerate(SCALARS)}
    used = np.clip(-np.diff(col["boost"]), 0, 34).sum()  # drops only; a pad refills (+12 or +100)
    minutes = len(s) / 15 / 60
    return {"speed": float(col["speed"].mean()), "boost_per_minute": float(used / max(minutes, 1e-9)),
            "supersonic": float(col["supersonic"].mean()), "airborne": float(col["airborne"].mean()),
            "ball_distance": float(col["ball_distance"].mean()), "height": float(col["height"].mean())}


def player_properties(data: RocketData, games=None) -> dict:
    """Each player's :data:`PROPERTIES` over their sequences in ``games`` (all where None), weighted by time."""
    out: dict = {}
    for s in data.sequences:
        if games is not None and s["game"] not in games:
            continue
        p = properties(data.scalars[s["start"]:s["start"] + s["length"]])
        acc = out.setdefault(data.manifest["names"][s["key"]], {"n": 0, **{k: 0.0 for k in PROPERTIES}})
        for k in PROPERTIES:
            acc[k] += p[k] * s["length"]
        acc["n"] += s["length"]
    return {name: {k: acc[k] / acc["n"] for k in PROPERTIES} for name, acc in out.items()}


def add_directions(model, values: dict) -> dict:
    """Store a steering direction per property in ``model``'s table from players' ``values``."""
    for prop in PROPERTIES:
        model.table.directions[prop] = model.table.steering_direction({n: v[prop] for n, v in values.items()})
    return model.table.directions


# --- queries from replay files ------------------------------------------------------------------

def find_player(data: RocketData, player: str, where: str) -> int:
    """The index of ``player`` (an in-game name, any case, or a platform key) in replays ``data``."""
    for i, (key, name) in enumerate(zip(data.keys, data.players)):
        if player in (key, name) or player.lower() == name.lower() \
                or player.lower() == data.manifest["players"][key]["name"].lower():
            return i
    raise PlayasError(f"{player!r} did not play in {where}; players there: {', '.join(sorted(data.players))}")


def player_rows(data: RocketData, player: int, seconds: float | None = None) -> np.ndarray:
    """The player's decisions, or the first ``seconds`` of their play."""
    rows = data.rows(players=[player])
    return rows[: int(seconds * 15)] if seconds else rows


def query(model, replays, player: str, seconds: float | None = None) -> tuple[TrunkCache, int, RocketData]:
    """One player's decisions in replay files with the trunk run, their game count and the data."""
    data = load_replays(replays)
    p = find_player(data, player, ", ".join(str(r) for r in replays))
    rows = player_rows(data, p, seconds)
    return cache(model, data, rows), len(data.games_of(p)), data


def identify(model_path, replays, player: str, method: str = "likelihood", seconds: float | None = None) -> dict:
    """Rank the known players of a styled model by how likely they drove ``player``'s car."""
    model, _ = load_styled(model_path)
    c, games, _ = query(model, replays, player, seconds)
    scores = styled.identify(ROCKET, model, c, method)
    return {"games": games, "decisions": len(c), "seconds": round(len(c) / 15, 1), "method": method,
            "names": model.table.names, "scores": scores,
            "ranking": fitting.ranking(model.table.names, scores)}


def enroll(model_path, name: str, replays, player: str, out, min_games: int = 1) -> dict:
    """Add ``name`` to the style table from ``player``'s play in ``replays``: only the new row trains."""
    model, blob = load_styled(model_path)
    if name in model.table.names:
        raise PlayasError(f"player {name!r} is already in {model_path}")
    c, games, _ = query(model, replays, player)
    if games < min_games:
        raise PlayasError(f"{games} games of {player} found; enrollment needs at least {min_games}")
    styled.enroll(ROCKET, model, name, c, games)
    card = checkpoint.card_for_copy(blob)
    card.setdefault("enrolled", {})[name] = {"games": games, "decisions": len(c), "player": player}
    card["players"] = len(model.table)
    save_model(out, model, card)
    return {"name": name, "games": games, "decisions": len(c), "similar": model.table.similar(name, 5)}


@torch.no_grad()
def predict(model_path, replay, player: str, at: float, style: str | None = None, steer=None, top: int = 5) -> dict:
    """The action distribution of ``style`` (default: the player's own row where known, else the
    mean) at the decision ``at`` seconds into ``player``'s play in ``replay``, and what they did."""
    from .actions import TABLE

    model, _ = load_styled(model_path)
    data = load_replays([replay])
    p = find_player(data, player, str(replay))
    rows = player_rows(data, p)
    i = int(np.clip(round(at * 15), 0, len(rows) - 1))
    if style is None and data.players[p] in model.table.names:
        style = data.players[p]
    z = model.table.resolve(style, steer)
    inputs = data.windows(rows[i:i + 1], model.base.config.context)
    logits = ROCKET.head(model, ROCKET.trunk(model, pack(*inputs)), z)[0]
    probs = torch.softmax(logits, 0)
    order = torch.argsort(probs, descending=True)[:top]
    did = int(data.action[rows[i]])
    return {"player": data.players[p], "style": style or "mean", "at": round(i / 15, 2),
            "top": [{"action": int(a), "p": round(float(probs[a]), 4), "controls": TABLE[int(a)].tolist()} for a in order],
            "did": {"action": did, "p": round(float(probs[did]), 4), "controls": TABLE[did].tolist()}}
