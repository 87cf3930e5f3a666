"""Commands every game shares, registered by each game's CLI: ``playas GAME styles list|similar|map``."""

from __future__ import annotations

import argparse
import importlib

from .errors import PlayasError


def add_styles_command(commands, model_module: str, default_model: str) -> None:
    """Add ``styles list|similar|map`` to a game's subcommands; ``model_module`` (the game's
    ``playas.GAME.model``, imported only when the command runs: it needs torch) has
    ``load_styled(path)``, which returns the styled model and its checkpoint blob."""
    p = commands.add_parser("styles", help="the style table: list the players, similar players, a map")
    p.add_argument("action", choices=["list", "similar", "map"])
    p.add_argument("name", nargs="?", help="a player (for similar)")
    p.add_argument("--model", default=default_model, help=f"a styled model (default: {default_model})")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--out", help="the picture to write (map), .png or .svg")
    p.add_argument("--color-by", default="year", choices=["year", "elo"])
    p.set_defaults(func=lambda a: styles_command(a, model_module))


def styles_command(a: argparse.Namespace, model_module: str) -> int:
    model, blob = importlib.import_module(model_module).load_styled(a.model)
    t = model.table
    meta = blob["card"].get("player_meta", {})
    if a.action == "list":
        print(f"{len(t)} players in {a.model}")
        for i, n in enumerate(t.names):
            info = ", ".join(f"{k} {v}" for k, v in meta.get(n, {}).items())
            print(f"{n:<22} {t.games[i]:>5} games" + (f"  ({info})" if info else ""))
        return 0
    if a.action == "similar":
        if not a.name:
            raise PlayasError("`styles similar` needs a player name")
        for n, s in t.similar(a.name, a.top):
            print(f"{n:<22} {s:+.3f}")
        return 0
    if not a.out:
        raise PlayasError("`styles map` needs --out map.png")
    from .plot import style_map

    style_map(t, meta, a.out, color_by=a.color_by)
    print(f"wrote {a.out}")
    return 0
