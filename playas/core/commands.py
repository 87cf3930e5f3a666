"""The command line of the style verbs, the same for every game: ``playas GAME train-styles |
enroll | identify | properties | styles``, and the flags every game's own commands share.

A game's CLI describes itself once (:class:`GameCommands`) and calls :func:`add_style_verbs`; the
same idea is then the same flag in every game. Nothing here imports torch or a game until a
command runs, so ``playas --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
from dataclasses import dataclass, field
from typing import Callable

from .errors import PlayasError


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help with each flag's default said where it has one."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def command(commands, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand whose help says every flag's default."""
    return commands.add_parser(name, help=help, description=help, formatter_class=HelpFormatter)


def whole(least: int = 0):
    """An argparse type: a whole number of at least ``least``."""
    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not a whole number") from None
        if v < least:
            raise argparse.ArgumentTypeError(f"{s!r} is less than {least}")
        return v
    return parse


def number(low: float | None = None, high: float | None = None, above: bool = False):
    """An argparse type: a finite number in [low, high] (above ``low`` with ``above``)."""
    def parse(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{s!r} is not a finite number")
        if low is not None and (v <= low if above else v < low):
            raise argparse.ArgumentTypeError(f"{s!r} must be {'more than' if above else 'at least'} {low:g}")
        if high is not None and v > high:
            raise argparse.ArgumentTypeError(f"{s!r} must be at most {high:g}")
        return v
    return parse


# --- flags every game's commands share ------------------------------------------------------------

def model_flag(p, default: str, what: str = "model") -> None:
    p.add_argument("--model", default=default, help=f"the {what} to use")


def style_flags(p, example: str, repeat: str = "", steer: bool = True) -> None:
    """``--style`` and (with ``steer``) ``--steer``; ``repeat`` says what a repeated ``--style``
    means, if anything."""
    p.add_argument("--style", action="append" if repeat else "store",
                   help=f"a player ({example.split(':')[0]}), a blend ({example}) or mean, the mean of all "
                        f"styles{'; ' + repeat if repeat else ''} (default: mean)")
    if not steer:
        return
    p.add_argument("--steer", action="append", metavar="PROPERTY=AMOUNT",
                   help="move the style along a measured property (`properties` lists them); repeatable")


def output_flags(p, top: int | None = 10) -> None:
    if top is not None:
        p.add_argument("--top", type=whole(1), default=top, help="how many to show")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def training_flags(p, recipe_example: str) -> None:
    p.add_argument("--data", required=True, help="a prepared dataset (`prepare`)")
    p.add_argument("--out", required=True, help="the model file to write")
    p.add_argument("--recipe", help=f"a YAML recipe, e.g. {recipe_example}")
    p.add_argument("--epochs", type=whole(1), help="passes over the data (default: the recipe's)")
    p.add_argument("--checkpoint-seconds", type=number(0, above=True), default=120.0,
                   help="how often to save the state a killed run resumes from")


@dataclass
class GameCommands:
    """How one game's command line reaches the core's verbs.

    ``game`` names the game object (``"playas.chess.game:GAME"``), imported when a command runs.
    ``query_flags`` adds the game's own flags for reading files into one player's query and
    ``query_options`` reads them back as keyword arguments of :meth:`Game.read_query`;
    ``recipe_flags`` are the recipe settings a flag may override (flag -> (type, help)).
    """

    name: str
    game: str
    default_model: str
    files: str
    style_example: str
    recipe_example: str
    map_colors: tuple[str, ...]
    query_flags: Callable = lambda p: None
    query_options: Callable = lambda a: {}
    measure_flags: Callable = lambda p: None
    measure_options: Callable = lambda a: {}
    eval_flags: Callable = lambda p: None
    eval_options: Callable = lambda a: {}
    recipe_flags: dict = field(default_factory=dict)
    enroll_source: Callable | None = None  # a: -> context manager of (files, player, source)

    def load(self):
        module, _, attr = self.game.partition(":")
        return getattr(importlib.import_module(module), attr)


def add_style_verbs(commands, gc: GameCommands) -> None:
    """Add train-styles, enroll, identify, properties and styles to a game's subcommands."""
    p = command(commands, "train-styles", "train MHR adapters and a style vector per player (resumable)")
    p.add_argument("--base", required=True, help="the base model the styles adapt (`train-base`, or imported)")
    training_flags(p, gc.recipe_example)
    for flag, (kind, text) in gc.recipe_flags.items():
        p.add_argument(flag, type=kind, help=text + " (default: the recipe's)")
    p.set_defaults(func=lambda a: _train_styles(a, gc))

    p = command(commands, "enroll", "add a player to a styled model from a few of their games")
    model_flag(p, gc.default_model, "styled model")
    p.add_argument("--name", required=True, help="the name their style gets")
    p.add_argument("--games", nargs="+", required=gc.enroll_source is None, metavar="FILE", help=gc.files)
    p.add_argument("--player", help="whose decisions in the files are theirs (as the files name them)")
    p.add_argument("--min-games", type=whole(1), help="refuse fewer games than this (default: the game's)")
    gc.query_flags(p)
    p.add_argument("--out", required=True, help="the model file to write (may be --model itself)")
    p.set_defaults(func=lambda a: _enroll(a, gc))

    p = command(commands, "identify", "who played these games (behavioral stylometry)")
    model_flag(p, gc.default_model, "styled model")
    p.add_argument("--games", nargs="+", required=True, metavar="FILE", help=gc.files)
    p.add_argument("--player", help="whose decisions to read (as the files name them)")
    gc.query_flags(p)
    p.add_argument("--method", default="likelihood", choices=["likelihood", "vector"],
                   help="likelihood of the decisions under each style (measured better), or the similarity "
                        "of a style row fitted on them")
    output_flags(p)
    p.set_defaults(func=lambda a: _identify(a, gc))

    p = command(commands, "eval", "accuracy of one or more models on the same held-out decisions, side by side")
    p.add_argument("--model", action="append", required=True, help="a model file; repeat to compare")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="a prepared dataset")
    src.add_argument("--games", nargs="+", metavar="FILE", help=gc.files + ", instead of a dataset")
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="with --data: which games")
    gc.eval_flags(p)
    style_flags(p, gc.style_example)
    output_flags(p, top=None)
    p.set_defaults(func=lambda a: _eval(a, gc))

    p = command(commands, "properties", "measured style properties of players; with --model, steering directions")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="a prepared dataset")
    src.add_argument("--games", nargs="+", metavar="FILE", help=gc.files)
    gc.measure_flags(p)
    p.add_argument("--model", help="a styled model: write a copy of it with a steering direction per property")
    p.add_argument("--out", help="where to write that copy")
    output_flags(p, top=None)
    p.set_defaults(func=lambda a: _properties(a, gc))

    p = command(commands, "styles", "the style table: list the players, similar players, a map")
    p.add_argument("action", choices=["list", "similar", "map"], help="what to show")
    p.add_argument("name", nargs="?", help="a player (for similar)")
    model_flag(p, gc.default_model, "styled model")
    p.add_argument("--top", type=whole(1), default=10, help="how many similar players")
    p.add_argument("--out", help="the picture to write (map), .png or .svg")
    p.add_argument("--color-by", default=gc.map_colors[0], choices=gc.map_colors, help="what colours the map")
    p.set_defaults(func=lambda a: _styles(a, gc))


def _is_main() -> bool:
    from .distributed import is_main  # under torchrun, rank 0 alone reports

    return is_main()


def training_recipe(a, settings: type, flags=()) -> dict:
    """The recipe of settings class ``settings``: its defaults, then the ``--recipe`` file, then
    ``--epochs`` and the other ``flags`` that were given."""
    from .config import recipe_with

    keys = ("epochs", *(f.lstrip("-").replace("-", "_") for f in flags))
    return recipe_with(a.recipe, settings, {k: getattr(a, k, None) for k in keys})


def _train_styles(a, gc: GameCommands) -> int:
    from .verbs import train_styles

    game = gc.load()
    recipe = training_recipe(a, game.recipe, gc.recipe_flags)
    card = train_styles(game, a.base, a.data, a.out, recipe, checkpoint_seconds=a.checkpoint_seconds)
    m = card["metrics"]
    if _is_main():
        print(f"wrote {a.out}: {card['players']} players, val_acc {m.get('val_acc')}, val_loss {m.get('val_loss')}")
    return 0


def _enroll(a, gc: GameCommands) -> int:
    from .verbs import enroll

    game = gc.load()
    source = gc.enroll_source(a) if gc.enroll_source else contextlib.nullcontext((a.games, a.player, None))
    with source as (files, player, where):
        r = enroll(game, a.model, a.name, files, a.out, player=player, min_games=a.min_games, source=where,
                   **gc.query_options(a))
    print(f"wrote {a.out}: enrolled {r.name} from {_count(r.games, 'game')}, {r.examples:,} {game.unit}; nearest styles: "
          + ", ".join(f"{n} ({s:+.2f})" for n, s in r.similar))
    return 0


def _identify(a, gc: GameCommands) -> int:
    from .verbs import identify

    game = gc.load()
    r = identify(game, a.model, a.games, player=a.player, method=a.method, **gc.query_options(a))
    if a.json:
        print(json.dumps(r.to_dict(a.top)))
        return 0
    print(f"{_count(r.games, 'game')}, {r.examples:,} {r.unit}; ranked by {r.method}")
    for i, (name, score) in enumerate(r.top(a.top), 1):
        print(f"{i:>3}. {name:<28} {score:+.4f}")
    return 0


def _eval(a, gc: GameCommands) -> int:
    from .table import parse_steer
    from .verbs import evaluate

    r = evaluate(gc.load(), a.model, style=a.style, steer=parse_steer(a.steer), data_dir=a.data, split=a.split,
                 files=a.games, **gc.eval_options(a))
    print(json.dumps(r) if a.json else format_report(r))
    return 0


def format_report(report: dict, per_player: int = 20) -> str:
    """One row a model (and style), its metrics as percentages (log-likelihoods in nats); then
    each player's top-1 side by side, where the game scores players."""
    models = report["models"]
    names = list(models)
    cols = [k for k, v in models[names[0]].items() if isinstance(v, (int, float))]
    width = max([28] + [len(n) + 1 for n in names])
    w = {c: max(9, len(c) + 2) for c in cols}
    show = lambda c, v: f"{v:>{w[c]}.3f}" if c == "loglik" else f"{v:>{w[c]}.2%}"  # noqa: E731
    lines = [f"{report['examples']:,} {report['unit']}", "", f"{'model':<{width}}" + "".join(f"{c:>{w[c]}}" for c in cols)]
    lines += [f"{n:<{width}}" + "".join(show(c, models[n][c]) for c in cols) for n in names]
    first = models[names[0]].get("players")
    if first and len(first) > 1:
        players = sorted(first, key=lambda p: -first[p]["examples"])
        lines += ["", f"{'player (top-1)':<24} {report['unit']:>9} " + " ".join(f"{n[:16]:>16}" for n in names)]
        for p in players[:per_player]:
            row = " ".join(f"{models[n]['players'][p]['top1']:>16.2%}" for n in names)
            lines.append(f"{p:<24} {first[p]['examples']:>9,} {row}")
        if len(players) > per_player:
            lines.append(f"... {len(players) - per_player} more players (--json for all)")
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _properties(a, gc: GameCommands) -> int:
    from .output import writable_file
    from .verbs import steer

    if bool(a.model) != bool(a.out):
        raise PlayasError("--model and --out go together: the styled model, and where to write its copy "
                          "with steering directions")
    if a.out:
        writable_file(a.out, "model")
    game = gc.load()
    props = game.measure(data_dir=a.data, files=a.games, **gc.measure_options(a))
    wrote = steer(game, a.model, props, a.out) if a.model else []
    if a.json:
        print(json.dumps(props))
        return 0
    keys = list(game.properties)
    width = max([8] + [len(k) for k in keys])
    print(f"{'player':<24} {'games':>5} " + " ".join(f"{k:>{width}}" for k in keys))
    for name, p in sorted(props.items()):
        print(f"{name:<24} {p['games']:>5} " + " ".join(f"{p[k]:>{width}.{_digits(p[k])}f}" for k in keys))
    if wrote:
        print(f"wrote {a.out} with steering directions for {', '.join(wrote)}")
    return 0


def _digits(v: float) -> int:
    """Decimals that show a value: shares to 3, counts and speeds to 1."""
    return 3 if abs(v) < 10 else 1


def _styles(a, gc: GameCommands) -> int:
    from .checkpoint import load_styled

    game = gc.load()
    model, blob = load_styled(a.model, game.network)
    t = model.table
    meta = blob["card"].get("player_meta", {})
    if a.action == "list":
        print(f"{len(t)} players in {a.model}")
        for i, n in enumerate(t.names):
            info = ", ".join(f"{k} {v}" for k, v in meta.get(n, {}).items())
            print(f"{n:<24} {t.games[i]:>5} games" + (f"  ({info})" if info else ""))
        return 0
    if a.action == "similar":
        if not a.name:
            raise PlayasError("`styles similar` needs a player name")
        for n, s in t.similar(a.name, a.top):
            print(f"{n:<24} {s:+.3f}")
        return 0
    if not a.out:
        raise PlayasError("`styles map` needs --out map.png")
    from .output import writable_file
    from .plot import style_map

    writable_file(a.out, "picture")
    style_map(t, meta, a.out, color_by=a.color_by, label=game.properties.get(a.color_by, a.color_by))
    print(f"wrote {a.out}")
    return 0
