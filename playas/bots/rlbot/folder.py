"""An RLBot v5 bot folder for a style, that runs where RLBot users run it (Windows, mostly).

Files: ``bot.toml`` (what RLBot reads), ``loadout.toml``, ``playas.toml`` (what the car drives
as, :mod:`.settings`), ``bot.py`` (what RLBot runs), ``requirements.txt`` and ``README.txt`` (what
the folder needs), and ``model.pt``.

RLBotServer starts a bot with ``[settings] run_command`` through ``cmd.exe /c`` on Windows, or
``run_command_linux`` through ``/bin/sh -c "..."`` on Linux, in ``root_dir`` (here: the folder),
with ``RLBOT_AGENT_ID`` and ``RLBOT_SERVER_PORT`` set (RLBot/core, ``Launcher.RunCommandInShell``).
So each command is quoted for its own shell. By default both run ``bot.py`` with the Python of a
``venv`` inside the folder, as RLBot's own Python bots do (``.\\venv\\Scripts\\python.exe bot.py``,
``./venv/bin/python bot.py``); README.txt says how to make that venv. ``python=`` names an
interpreter instead, for the system the folder is written on.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from ...core.config import declared
from ...core.errors import PlayasError
from ...core.output import writable_folder
from ...shipped import driving_model
from .settings import SETTINGS_FILE, Drive, settings_toml, toml_value

SOURCE_LINK = "https://arxiv.org/abs/2502.14998"
_TEAM_LOADOUT = """\
[{team}_loadout]
team_color_id = {colour}
custom_color_id = 0
car_id = 23
decal_id = 0
wheels_id = 0
boost_id = 0
antenna_id = 0
hat_id = 0
paint_finish_id = 0
custom_finish_id = 0
engine_audio_id = 0
trails_id = 0
goal_explosion_id = 0
"""
LOADOUT = ("# Car looks, by team (RLBot v5 loadout). 23 is the Octane.\n"
           + "\n".join(_TEAM_LOADOUT.format(team=t, colour=c) for c, t in enumerate(("blue", "orange"))))


def _slug(style: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (style or "mean").lower()).strip("-") or "mean"


VENV_PYTHON = {"windows": r".\venv\Scripts\python.exe", "linux": "./venv/bin/python"}
_CMD_SPECIAL = set(' \t&()[]{}^=;!\'+,`~|<>')
_SH_SAFE = re.compile(r"[\w@%+=:,./-]+")


def cmd_command(args) -> str:
    """``args`` as one command line for ``cmd.exe /c``: an argument with a space or a character
    cmd.exe reads ((, &, ^...) in double quotes, and then the whole line in double quotes too
    (cmd.exe /c strips the first and the last quote of a line holding more than two)."""
    out = []
    for a in map(str, args):
        if '"' in a or "%" in a:
            raise PlayasError(f"{a!r} cannot be quoted for cmd.exe (it holds \" or %)")
        out.append(f'"{a}"' if not a or set(a) & _CMD_SPECIAL else a)
    line = " ".join(out)
    return f'"{line}"' if '"' in line else line


def sh_command(args) -> str:
    """``args`` as one command line for ``/bin/sh -c``: an argument with anything but letters,
    digits and ``@%+=:,./-`` in single quotes (a ``'`` as ``'\\''``). RLBot passes the line inside
    double quotes, so a ``"`` cannot be in it."""
    out = []
    for a in map(str, args):
        if '"' in a:
            raise PlayasError(f"{a!r} cannot be in an RLBot command on Linux (it holds \")")
        out.append(a if _SH_SAFE.fullmatch(a) else "'" + a.replace("'", "'\\''") + "'")
    return " ".join(out)


def run_commands(python: str | None = None, windows: bool | None = None) -> dict:
    """bot.toml's ``run_command`` (Windows) and ``run_command_linux``: ``bot.py`` run by the
    folder's own venv, or by ``python`` on the system this is (``windows``: default, this one's)."""
    windows = os.name == "nt" if windows is None else windows
    commands = {"run_command": cmd_command([VENV_PYTHON["windows"], "bot.py"]),
                "run_command_linux": sh_command([VENV_PYTHON["linux"], "bot.py"])}
    if python:
        if windows:
            commands["run_command"] = cmd_command([python, "bot.py"])
        else:
            commands["run_command_linux"] = sh_command([python, "bot.py"])
    return commands


def write_bot_folder(out_dir, style: str | None, model=None, steer: dict | None = None,
                     temperature: float | None = None, name: str | None = None, agent_id: str | None = None,
                     copy_model: bool = True, check: bool = True, python: str | None = None,
                     strength: float | None = None) -> dict:
    """Write an RLBot v5 bot folder that drives as ``style``; returns what it wrote.

    ``model`` defaults to the shipped rocket model; ``copy_model`` copies it (and its card) into
    the folder, else ``playas.toml`` names its absolute path. ``check`` loads the model once to
    refuse a style it does not know (and a ``strength`` for a model with no person policy).
    ``temperature``, ``strength`` (and every setting not given) are left to the declared default. ``python``: see :func:`run_commands`.
    """
    writable_folder(out_dir, "bot folder")
    model = Path(model or driving_model("rocket")).resolve()
    if not model.is_file():
        raise PlayasError(f"model {model} does not exist")
    if check:
        _check_style(model, style, steer, strength)
    # a Python that cannot be quoted, or a bad setting, fails before anything is written
    commands = run_commands(python)
    model_ref = "model.pt" if copy_model else str(model)
    settings = settings_toml(style=style, model=model_ref, temperature=temperature, strength=strength, steer=steer)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = name or f"playas {style or 'mean'}"
    agent_id = agent_id or f"playas/{_slug(style)}"
    files = {}
    if copy_model:
        target = out / "model.pt"
        if model != target.resolve():
            shutil.copyfile(model, target)
        card = model.with_suffix(".json")
        if card.is_file() and card.resolve() != target.with_suffix(".json").resolve():
            shutil.copyfile(card, target.with_suffix(".json"))
        files["model"] = target
    texts = {"settings": (SETTINGS_FILE, settings),
             "loadout": ("loadout.toml", LOADOUT), "launcher": ("bot.py", LAUNCHER),
             "requirements": ("requirements.txt", requirements()),
             "readme": ("README.txt", readme(name, style, commands, python)),
             "bot": ("bot.toml", _bot_toml(name, agent_id, style, commands))}
    for key, (filename, body) in texts.items():
        (out / filename).write_text(body, encoding="utf-8")
        files[key] = out / filename
    return {"dir": out, "name": name, "agent_id": agent_id, "style": style, "model": model_ref,
            "run_command": commands["run_command" if os.name == "nt" else "run_command_linux"],
            "commands": commands, "files": files}


def _check_style(model: Path, style: str | None, steer: dict | None, strength: float | None = None) -> None:
    """Load ``model`` once to refuse a style it does not know (or a file that is no styled model,
    or a ``strength`` other than 1 for a model with no person policy)."""
    from ...rocket.model import check_strength, load_person, load_styled

    try:
        styled, blob = load_styled(model)
        styled.table.resolve(style, steer)
        check_strength(strength, load_person(styled, blob) is not None, model)
    except PlayasError:
        raise
    except Exception as e:  # noqa: BLE001  a file that is not a styled rocket model
        raise PlayasError(f"{model} is not a styled Rocket League model ({type(e).__name__}: {e})") from None


LAUNCHER = """\
\"\"\"Starts the playas bot of this folder: RLBot runs this file (bot.toml), README.txt says what it needs.

``python bot.py --check`` reads the settings and says what the bot would drive as, then ends.
\"\"\"
import os
import sys

os.environ.setdefault("PLAYAS_BOT_DIR", os.path.dirname(os.path.abspath(__file__)))
try:
    from playas.bots.rlbot.bot import main
except ImportError as e:
    sys.exit(f"playas: error: {sys.executable} cannot run the playas bot ({e}); see README.txt")
sys.exit(main(sys.argv[1:]))
"""


def _checkout() -> Path | None:
    """The source checkout playas runs from, if it does (not from an installed package)."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() and (root / "playas").is_dir() else None


def requirements() -> str:
    """``requirements.txt``: playas with its Rocket League extra, from the checkout that wrote the
    folder when there is one (playas is not on a package index)."""
    root = _checkout()
    where = f"{root.as_posix()}[rocket]" if root else "playas[rocket]"
    return ("# What the bot needs: playas with its Rocket League extra (rlbot 2.0.0b56, torch, RocketSim).\n"
            "# A playas checkout elsewhere? Put its path here instead, followed by [rocket].\n"
            f"{where}\n")


def readme(name: str, style: str | None, commands: dict, python: str | None) -> str:
    """``README.txt``: what the folder needs and how RLBot starts it, plainly."""
    venv = "the Python named in bot.toml" if python else "a virtual environment named venv in this folder"
    return f"""\
{name}: a playas bot for RLBot v5 that drives as {style or "the mean player"}.
RLBot matches only: a bot that drives in ranked online play is cheating.

WHAT IT NEEDS
- Python 3.11 or newer, and playas with its Rocket League extra installed in
  {venv}. To make such a venv, in this folder:
    Windows:  py -3.11 -m venv venv
              venv\\Scripts\\python -m pip install -r requirements.txt
    Linux:    python3 -m venv venv
              ./venv/bin/python -m pip install -r requirements.txt
  requirements.txt names the playas checkout this folder was written from; on another
  computer, put the path of your playas checkout there (playas is not on PyPI).
- Check it before a match (prints what the bot drives as, or one line saying what is wrong):
    Windows:  venv\\Scripts\\python bot.py --check
    Linux:    ./venv/bin/python bot.py --check

HOW RLBOT STARTS IT
RLBotServer runs, in this folder, with RLBOT_AGENT_ID and RLBOT_SERVER_PORT set:
  Windows (cmd.exe /c):   {commands["run_command"]}
  Linux (/bin/sh -c):     {commands["run_command_linux"]}
Add bot.toml to a match (RLBot's GUI, or [[cars]] config_file = ".../bot.toml" in a match toml).

FILES
  bot.toml          what RLBot reads: the name, the agent id, the run commands
  loadout.toml      the car's looks
  {SETTINGS_FILE:<17} what the car drives as (style, model, temperature...); PLAYAS_STYLE,
                    PLAYAS_MODEL, PLAYAS_TEMPERATURE, PLAYAS_STRENGTH, PLAYAS_SEED in the
                    environment win
  bot.py            what the run commands start
  requirements.txt  what pip installs into the venv
"""


def _bot_toml(name: str, agent_id: str, style: str | None, commands: dict) -> str:
    """``bot.toml`` as RLBot v5 reads it."""
    who = f"as {style}" if style else "as the mean player"
    return f"""\
[settings]
name = {toml_value(name)}
agent_id = {toml_value(agent_id)}
loadout_file = "loadout.toml"
root_dir = ""
# RLBotServer runs these in this folder: run_command through cmd.exe /c (Windows), run_command_linux
# through /bin/sh -c (Linux). README.txt says what they need.
run_command = {toml_value(commands["run_command"])}
run_command_linux = {toml_value(commands["run_command_linux"])}
hivemind = false

[details]
description = {toml_value(f"Drives {who}: a policy trained on real replays, styled per player (playas, MHR).")}
fun_fact = {toml_value("It decides 15 times a second, like the replays it learned from, and holds the action in between.")}
source_link = {toml_value(SOURCE_LINK)}
language = "python"
tags = ["1v1", "teamplay"]
"""


def add_command(commands) -> None:
    """Add ``rlbot`` to the ``playas rocket`` subcommands."""
    model = str(driving_model("rocket"))
    p = commands.add_parser("rlbot", help="write an RLBot v5 bot folder that drives as a player or blend")
    p.add_argument("--style", help="a player (Posix) or a blend (Posix:0.5,Nadir:0.5); default the mean player")
    p.add_argument("--steer", action="append", metavar="PROPERTY=AMOUNT",
                   help="move the style along a property measured from replays (repeatable)")
    p.add_argument("--out", required=True, help="the bot folder to write (created if absent)")
    p.add_argument("--model", default=model, help=f"a styled rocket model (default: {model})")
    p.add_argument("--temperature", type=float, help=declared(Drive)["temperature"].metadata["help"])
    p.add_argument("--strength", type=float, help=declared(Drive)["strength"].metadata["help"])
    p.add_argument("--python", help="run the bot with this Python (on the system the folder is written on) "
                                    "instead of a venv inside the folder (README.txt)")
    p.add_argument("--name", help="the bot's name in the match (default: playas STYLE)")
    p.add_argument("--agent-id", help="RLBot agent id (default: playas/STYLE)")
    p.add_argument("--link-model", action="store_true",
                   help="name the model's absolute path in playas.toml instead of copying it into the folder")
    p.set_defaults(func=rlbot_cmd)


def rlbot_cmd(a) -> int:
    from ...core.table import parse_steer

    r = write_bot_folder(a.out, a.style, a.model, steer=parse_steer(a.steer), temperature=a.temperature,
                         strength=a.strength,
                         name=a.name, agent_id=a.agent_id, copy_model=not a.link_model, python=a.python)
    print(f"wrote {r['dir']}: {', '.join(p.name for p in r['files'].values())} "
          f"({r['name']}, agent id {r['agent_id']}, model {r['model']})")
    print(f"RLBot starts it in {Path(r['dir']).resolve()} with: {r['commands']['run_command']} (Windows), "
          f"{r['commands']['run_command_linux']} (Linux); README.txt there says what that needs")
    print(f"add it to a match toml: [[cars]] config_file = \"{Path(r['dir']).resolve() / 'bot.toml'}\"")
    return 0
