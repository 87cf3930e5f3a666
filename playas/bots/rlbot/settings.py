"""What the RLBot bot drives as: its settings, declared once, read from ``playas.toml``.

The file sits in the bot folder beside ``bot.toml`` (``playas rocket rlbot`` writes it) and holds
one table, ``[playas]``; it is read by the one loader (:mod:`playas.core.config`), so an unknown
key fails with "did you mean" and a wrong type with one sentence naming the key and the file. The
environment wins over the file: ``PLAYAS_STYLE``, ``PLAYAS_MODEL``, ``PLAYAS_TEMPERATURE``,
``PLAYAS_STRENGTH``, ``PLAYAS_SEED``, and ``PLAYAS_BOT_DIR`` says where the file is (default: the working directory).

Light on purpose (no rlbot, no torch): the folder writer uses the declaration too.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from ...core.config import (build, check, describe, mapping_of_numbers, number, optional, optional_text, read_mapping,
                            section, setting, whole)

from ...rocket.vocabulary import TEMPERATURE, TICKS_PER_DECISION

SETTINGS_FILE = "playas.toml"
DECIDE_EVERY = TICKS_PER_DECISION  # physics ticks per decision, as the replays were cut
ENVIRONMENT = ("style", "model", "temperature", "strength", "seed")  # the settings a PLAYAS_* variable overrides


@dataclass
class Drive:
    """The ``[playas]`` table: who the car drives as, and how."""

    style: str | None = setting(None, optional_text,
                                'a player, or a blend: "Posix:0.5,Nadir:0.5"; left out: the mean player')
    model: str | None = setting(None, optional_text,
                                "a styled rocket model, relative to the folder or absolute; left out: the shipped one")
    temperature: float | None = setting(None, optional(number(0, 100)),
                                        "1 samples the policy as learned (seeded); 0 takes the likeliest action, "
                                        "which can leave a car standing still; left out: the model's "
                                        f"(its card's decisions, else {TEMPERATURE:g})")
    strength: float | None = setting(None, optional(number(0, 1)),
                                     "a model paired with its person policy: 0 acts as the person policy, 1 as "
                                     "the play policy; left out: the model's")
    seed: int = setting(0, whole(0), "the seed of the sampling")
    decide_every: int = setting(DECIDE_EVERY, whole(1),
                                "physics ticks per decision (120 Hz / 8 = 15 a second, as trained)")
    steer: dict[str, float] = setting({}, mapping_of_numbers, "move the style along measured properties")


@dataclass
class SettingsFile:
    playas: Drive = section(Drive, "what the car drives as")


def load_settings(folder=None, env=None) -> dict:
    """The bot's settings: ``[playas]`` of ``playas.toml`` in ``folder`` (default ``PLAYAS_BOT_DIR``
    or the working directory) over the declared defaults, then the ``PLAYAS_*`` variables.

    Keys: those of :class:`Drive` (model made absolute, from the folder) and ``source``, the file
    read (None without one). A bad file or variable raises one PlayasError.
    """
    env = os.environ if env is None else env
    folder = Path(folder or env.get("PLAYAS_BOT_DIR") or os.getcwd())
    path = folder / SETTINGS_FILE
    layers = [(read_mapping(path, "bot settings"), f"bot settings {path}")] if path.is_file() else []
    for key in ENVIRONMENT:
        name = f"PLAYAS_{key.upper()}"
        if env.get(name):
            layers.append(({"playas": {key: _from_environment(key, env[name])}}, f"environment variable {name}"))
    out = asdict(build(SettingsFile, layers)[0].playas)
    if out["model"] and not Path(out["model"]).is_absolute():
        out["model"] = str((folder / out["model"]).resolve())
    out["source"] = str(path) if path.is_file() else None
    return out


def _from_environment(key: str, raw: str):
    """A variable's text as its setting's kind: text stays text; a number is read as TOML reads it
    (anything else stays text, for the checker to refuse in one sentence)."""
    if key in ("style", "model"):
        return raw
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


# --- writing -----------------------------------------------------------------------------------

HEADER = """\
# What the playas bot in this folder drives as (playas rocket rlbot writes this file beside bot.toml).
# The bot process reads it from its folder; PLAYAS_STYLE, PLAYAS_MODEL, PLAYAS_TEMPERATURE,
# PLAYAS_STRENGTH and PLAYAS_SEED in the environment override it. A setting left out takes the default shown.
"""


def settings_toml(**values) -> str:
    """``playas.toml`` with ``values`` (style, model, temperature, steer...) set and every other
    setting of :class:`Drive` shown commented out at its default, each with its help. A bad value
    fails as it would when read."""
    check(SettingsFile, {"playas": {k: v for k, v in values.items() if v is not None}}, "the bot's settings")
    lines = [HEADER.rstrip("\n"), "[playas]"]
    tables = []
    for dotted, default, help in describe(Drive):
        key = dotted.split(".", 1)[0]
        value = values.get(key)
        if isinstance(default, dict):  # a table of its own, after the plain keys
            body = [f"{k} = {toml_value(v)}" for k, v in (value or {}).items()] or ["# speed = 0.5"]
            tables += ["", f"# {help}", f"[playas.{key}]" if value else f"# [playas.{key}]", *body]
        elif value is not None:
            lines += [f"# {help}", f"{key} = {toml_value(value)}"]
        else:
            lines += [f"# {help}", f"# {key} = {toml_value(default) if default is not None else '...'}"]
    return "\n".join(lines + tables) + "\n"


def toml_value(v) -> str:
    """``v`` (text, a number, true/false) as TOML writes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    s = str(v)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
