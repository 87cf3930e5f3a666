"""An RLBot v5 bot folder for a style: ``bot.toml``, ``loadout.toml``, ``playas.toml`` and the model.

RLBot reads ``bot.toml`` (``[settings]``: name, agent_id, loadout_file, root_dir, run_command,
run_command_linux, logo_file, hivemind; ``[details]``), starts ``run_command_linux`` (on Linux) in
``root_dir`` with ``RLBOT_AGENT_ID`` and ``RLBOT_SERVER_PORT`` set, and the bot process reads
``playas.toml`` there (:func:`~playas.bots.rlbot.bot.load_settings`). The command is this Python
(``sys.executable -m playas.bots.rlbot.bot``), so the folder runs where playas is installed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path

from ...core.errors import PlayasError
from ...shipped import default_model

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


def _toml_str(s: str) -> str:
    """A TOML basic string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _slug(style: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (style or "mean").lower()).strip("-") or "mean"


def run_command(python: str | None = None) -> str:
    """The shell-style command that starts the bot with ``python`` (default: this one)."""
    return shlex.join([python or sys.executable, "-m", "playas.bots.rlbot.bot"])


def write_bot_folder(out_dir, style: str | None, model=None, steer: dict | None = None,
                     temperature: float = 1.0, name: str | None = None, agent_id: str | None = None,
                     copy_model: bool = True, check: bool = True) -> dict:
    """Write an RLBot v5 bot folder that drives as ``style``; returns what it wrote.

    ``model`` defaults to the shipped rocket model; ``copy_model`` copies it (and its card) into
    the folder, else ``playas.toml`` names its absolute path. ``check`` loads the model once to
    refuse a style it does not know. Files: ``bot.toml``, ``loadout.toml``, ``playas.toml``
    (and ``model.pt``).
    """
    model = Path(model or default_model("rocket")).resolve()
    if not model.is_file():
        raise PlayasError(f"model {model} does not exist")
    if check:
        _check_style(model, style, steer)
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
        model_ref = "model.pt"
        files["model"] = target
    else:
        model_ref = str(model)

    (out / "playas.toml").write_text(_settings_toml(style, model_ref, temperature, steer), encoding="utf-8")
    files["settings"] = out / "playas.toml"

    (out / "loadout.toml").write_text(LOADOUT, encoding="utf-8")
    files["loadout"] = out / "loadout.toml"

    command = run_command()
    (out / "bot.toml").write_text(_bot_toml(name, agent_id, style, command), encoding="utf-8")
    files["bot"] = out / "bot.toml"
    return {"dir": out, "name": name, "agent_id": agent_id, "style": style, "model": model_ref,
            "run_command": command, "files": files}


def _check_style(model: Path, style: str | None, steer: dict | None) -> None:
    """Load ``model`` once to refuse a style it does not know (or a file that is no styled model)."""
    from ...rocket.model import load_styled

    try:
        styled, _ = load_styled(model)
        styled.table.resolve(style, steer)
    except PlayasError:
        raise
    except Exception as e:  # noqa: BLE001  a file that is not a styled rocket model
        raise PlayasError(f"{model} is not a styled Rocket League model ({type(e).__name__}: {e})") from None


def _settings_toml(style: str | None, model_ref: str, temperature: float, steer: dict | None) -> str:
    """``playas.toml``: what the bot process drives as."""
    lines = ["# Read by the playas bot process (playas.bots.rlbot.bot); PLAYAS_* variables override.",
             "[playas]"]
    if style:
        lines.append(f"style = {_toml_str(style)}")
    lines.append(f"model = {_toml_str(model_ref)}")
    lines.append(f"temperature = {float(temperature)!r}")
    lines.append("seed = 0")
    lines.append("decide_every = 8")
    if steer:
        lines.append("")
        lines.append("[playas.steer]")
        lines += [f"{k} = {float(v)!r}" for k, v in steer.items()]
    return "\n".join(lines) + "\n"


def _bot_toml(name: str, agent_id: str, style: str | None, command: str) -> str:
    """``bot.toml`` as RLBot v5 reads it."""
    who = f"as {style}" if style else "as the mean player"
    return f"""\
[settings]
name = {_toml_str(name)}
agent_id = {_toml_str(agent_id)}
loadout_file = "loadout.toml"
root_dir = ""
run_command = {_toml_str(command)}
run_command_linux = {_toml_str(command)}
hivemind = false

[details]
description = {_toml_str(f"Drives {who}: a policy trained on real replays, styled per player (playas, MHR).")}
fun_fact = {_toml_str("It decides 15 times a second, like the replays it learned from, and holds the action in between.")}
source_link = {_toml_str(SOURCE_LINK)}
language = "python"
tags = ["1v1", "teamplay"]
"""


def add_command(commands) -> None:
    """Add ``rlbot`` to the ``playas rocket`` subcommands."""
    model = str(default_model("rocket"))
    p = commands.add_parser("rlbot", help="write an RLBot v5 bot folder that drives as a player or blend")
    p.add_argument("--style", help="a player (Posix) or a blend (Posix:0.5,Nadir:0.5); default the mean player")
    p.add_argument("--steer", action="append", metavar="PROPERTY=AMOUNT",
                   help="move the style along a property measured from replays (repeatable)")
    p.add_argument("--out", required=True, help="the bot folder to write (created if absent)")
    p.add_argument("--model", default=model, help=f"a styled rocket model (default: {model})")
    p.add_argument("--temperature", type=float, default=1.0, help="1 samples the policy as learned (seeded); 0 takes the likeliest action")
    p.add_argument("--name", help="the bot's name in the match (default: playas STYLE)")
    p.add_argument("--agent-id", help="RLBot agent id (default: playas/STYLE)")
    p.add_argument("--link-model", action="store_true",
                   help="name the model's absolute path in playas.toml instead of copying it into the folder")
    p.set_defaults(func=rlbot_cmd)


def rlbot_cmd(a) -> int:
    from ...core.table import parse_steer

    r = write_bot_folder(a.out, a.style, a.model, steer=parse_steer(a.steer), temperature=a.temperature,
                         name=a.name, agent_id=a.agent_id, copy_model=not a.link_model)
    print(f"wrote {r['dir']}: {', '.join(p.name for p in r['files'].values())} "
          f"({r['name']}, agent id {r['agent_id']}, model {r['model']})")
    print(f"RLBot starts it with: {r['run_command']}  (in {Path(r['dir']).resolve()})")
    print(f"add it to a match toml: [[cars]] config_file = \"{Path(r['dir']).resolve() / 'bot.toml'}\"")
    return 0
