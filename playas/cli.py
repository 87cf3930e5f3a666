"""The ``playas`` command: ``playas GAME COMMAND ...``. Each game registers its own commands."""

from __future__ import annotations

import argparse
import importlib
import sys

from .core.errors import PlayasError

GAMES = {"chess": "playas.chess.cli", "rocket": "playas.rocket.cli"}  # game -> module whose register(games) adds its commands


def _add_bots(game: str, commands) -> None:
    from .bots.commands import ADD

    if game in ADD:
        ADD[game](commands)


class Parser(argparse.ArgumentParser):
    """argparse, with a mistake on the command line said in one line (and exit 2), as every
    other mistake is."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (--help shows the usage)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="playas", description="Play games as a particular person.")
    games = parser.add_subparsers(dest="game", metavar="GAME", required=True)
    for game, module in GAMES.items():
        _add_bots(game, importlib.import_module(module).register(games))
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    finished = False
    try:
        code = args.func(args)
        finished = True
        return code
    except PlayasError as e:
        print(f"playas: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("playas: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        # a command trained under torchrun leaves its process group; looked up rather than
        # imported, so that commands that never touch torch do not load it
        dist = sys.modules.get("playas.core.distributed")
        if dist is not None:
            dist.teardown(finished)


if __name__ == "__main__":
    sys.exit(main())
