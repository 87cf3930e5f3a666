"""The bots' commands, added under their game: ``playas chess uci``, ``playas chess lichess``,
``playas rocket rlbot``.

Light on purpose (the bots load only when their command runs), so ``playas --help`` stays fast.
"""

from __future__ import annotations

from ..shipped import default_model


def add_chess_commands(commands) -> None:
    """Add ``uci`` and ``lichess`` to the ``playas chess`` subcommands."""
    model = str(default_model("chess"))
    p = commands.add_parser("uci", help="a UCI engine that plays as a player or blend, for any chess GUI")
    p.add_argument("--model", default=model, help=f"a chess model (default: {model})")
    p.set_defaults(func=lambda a: _uci(a.model))

    p = commands.add_parser("lichess", help="play on Lichess as a styled bot account (token from LICHESS_TOKEN)")
    p.add_argument("--config", required=True, help="YAML in lichess-bot's style (configs/lichess.yml)")
    p.add_argument("--model", help="a chess model; overrides engine.model in the config")
    p.set_defaults(func=lambda a: _lichess(a.config, a.model))


def _uci(model) -> int:
    from .uci import run

    return run(model)


def _lichess(config, model) -> int:
    from .lichess import run

    return run(config, model)


def add_rocket_commands(commands) -> None:
    """Add ``rlbot`` (write an RLBot v5 bot folder) to the ``playas rocket`` subcommands."""
    from .rlbot.folder import add_command

    add_command(commands)


ADD = {"chess": add_chess_commands, "rocket": add_rocket_commands}  # game -> what adds its bots' commands
