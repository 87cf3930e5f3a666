"""Reading the YAML files users write (training recipes, bot configs), checked against a schema.

A schema maps each key to a checker (``check(key, value) -> value``, raising one sentence that
names the dotted key) or to a nested schema (a section). ``load_config`` reads a file and checks
it; an unknown key or a value of the wrong kind fails with one sentence naming the key and the file.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from .errors import PlayasError


def read_yaml_mapping(path, what: str) -> dict:
    """The mapping in YAML file ``path``; ``what`` names the file in errors ("recipe", "config file").

    A missing file, bad YAML or bad text encoding, or a document that is not a mapping fails
    with one sentence. An empty file is an empty mapping.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise PlayasError(f"{what} {p} does not exist")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise PlayasError(f"{what} {p} is not valid YAML ({first})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PlayasError(f"{what} {p} must be a mapping of settings")
    return data


def load_config(path, schema: dict, what: str, unused=()) -> tuple[dict, list[str]]:
    """The checked settings of YAML file ``path`` and the ``unused`` keys it holds (see check_config)."""
    return check_config(read_yaml_mapping(path, what), schema, f"{what} {path}", unused)


def recipe_with(path, schema: dict, overrides: dict) -> dict:
    """A recipe file's checked settings (none without a file), then the command line's (set ones)."""
    recipe = load_config(path, schema, "recipe")[0] if path else {}
    recipe.update({k: v for k, v in overrides.items() if v})
    return recipe


def check_config(data: dict, schema: dict, where: str, unused=()) -> tuple[dict, list[str]]:
    """``data`` checked against ``schema``: (the checked values of the keys present, the unused keys found).

    ``schema`` maps a key to a checker or to a nested schema (a section, whose value must be a
    mapping; an empty section is an empty mapping). ``unused`` holds dotted keys that other tools
    read (lichess-bot's ``polyglot``...): they are accepted whole and listed. Any other unknown
    key, or a bad value, raises one PlayasError that starts with ``where`` (the file).
    """
    found: list[str] = []
    try:
        return _check(data, schema, "", set(unused), found), found
    except PlayasError as e:
        raise PlayasError(f"{where}: {e}") from None


def _check(data: dict, schema: dict, prefix: str, unused: set, found: list) -> dict:
    out = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        rule = schema.get(key) if isinstance(key, str) else None
        if rule is None:
            if dotted in unused:
                found.append(dotted)
                continue
            raise PlayasError(f"unknown setting {dotted!r}{_suggestion(key, schema, prefix)}")
        if isinstance(rule, dict):
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise PlayasError(f"{dotted} must be a mapping of settings, not {value!r}")
            out[key] = _check(value, rule, f"{dotted}.", unused, found)
        else:
            out[key] = rule(dotted, value)
    return out


def _suggestion(key, schema: dict, prefix: str) -> str:
    close = difflib.get_close_matches(str(key), [k for k in schema if isinstance(k, str)], n=1)
    return f"; did you mean {prefix + close[0]!r}?" if close else ""


# --- checkers: each returns the value or raises one sentence naming the (dotted) key ----------

def whole(lo: int | None = 0, hi: int | None = None):
    def check(key, v):
        if isinstance(v, bool) or not isinstance(v, int) or (lo is not None and v < lo) or (hi is not None and v > hi):
            span = f" of at least {lo}" if hi is None else f" of at most {hi}" if lo is None else f" from {lo} to {hi}"
            raise PlayasError(f"{key} must be a whole number{span}, not {v!r}")
        return v
    return check


def number(lo: float | None = None, hi: float | None = None):
    def check(key, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (lo is not None and v < lo) \
                or (hi is not None and v > hi):
            span = (f" from {lo} to {hi}" if lo is not None and hi is not None
                    else f" of at least {lo}" if lo is not None else f" of at most {hi}" if hi is not None else "")
            raise PlayasError(f"{key} must be a number{span}, not {v!r}")
        return float(v)
    return check


def optional(checker):
    """``checker``, but None (an empty YAML value) is allowed and kept as None."""
    def check(key, v):
        return None if v is None else checker(key, v)
    return check


optional_whole = optional(whole(0))


def anything(key, v):
    """Any value, unchecked (opaque data another part reads)."""
    return v


def flag(key, v):
    if not isinstance(v, bool):
        raise PlayasError(f"{key} must be true or false, not {v!r}")
    return v


def text(key, v):
    if v is None:
        return ""
    if not isinstance(v, (str, int, float)) or isinstance(v, bool):
        raise PlayasError(f"{key} must be text, not {v!r}")
    return str(v)


def optional_text(key, v):
    """Text, with None and the empty text as None."""
    return text(key, v) or None


def names(key, v):
    """A list of names; one name alone is a list of one (YAML makes that easy to write)."""
    if v is None:
        return []
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in v):
        raise PlayasError(f"{key} must be a list of names, not {v!r}")
    return [str(x).strip() for x in v if str(x).strip()]


def choice(*options):
    def check(key, v):
        if v not in options:
            raise PlayasError(f"{key} must be one of {', '.join(map(str, options))}, not {v!r}")
        return v
    return check


def subset(*options):
    def check(key, v):
        items = names(key, v)
        bad = [x for x in items if x not in options]
        if bad:
            raise PlayasError(f"{key} may hold only {', '.join(options)}, not {', '.join(map(repr, bad))}")
        return items
    return check


def mapping_of_numbers(key, v):
    """A mapping of names to numbers (e.g. steering amounts ``capture_rate: 1.5``); None is empty."""
    if v is None:
        return {}
    if not isinstance(v, dict) or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in v.values()):
        raise PlayasError(f"{key} must map names to numbers, like capture_rate: 1.5, not {v!r}")
    return {str(k): float(a) for k, a in v.items()}
