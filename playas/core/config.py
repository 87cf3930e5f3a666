"""The settings users write (training recipes, the Lichess bot's config, the RLBot bot's settings):
declared once, read by one loader.

A settings class is a dataclass whose fields are declared with :func:`setting` (the default, the
checker and the help text of one setting, together) or :func:`section` (a nested settings class)::

    @dataclass
    class Recipe:
        epochs: int = setting(2, whole(1), "passes over the training positions")

:func:`load` reads a YAML or TOML file (by its suffix) into such a class; :func:`build` lays
checked layers (a file, the command line, the environment) over the declared defaults, the one
merge there is; :func:`recipe` is the same, as the plain dict a model card keeps. An unknown key
fails with one sentence that names it and suggests the near one ("did you mean"); a value of the
wrong kind fails with one sentence naming the dotted key and the file. A checker is
``check(key, value) -> value``, raising one :class:`PlayasError` that names the (dotted) key.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
from dataclasses import field
from pathlib import Path

from .errors import PlayasError


# --- declaring ---------------------------------------------------------------------------------

def setting(default, check, help: str):
    """A field of a settings class: its ``default``, its checker and its ``help``, in one place."""
    meta = {"check": check, "help": help}
    if isinstance(default, (list, dict)):  # a fresh copy for each instance
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


def section(cls, help: str = ""):
    """A field of a settings class holding the nested settings class ``cls`` (a mapping in the file)."""
    return field(default_factory=cls, metadata={"section": cls, "help": help})


def declared(cls) -> dict:
    """The settings of class ``cls`` by key: its :func:`setting` and :func:`section` fields (a field
    declared otherwise, such as where the file was, is not read from files)."""
    return {f.name: f for f in dataclasses.fields(cls) if "check" in f.metadata or "section" in f.metadata}


def describe(cls, prefix: str = "") -> list[tuple[str, object, str]]:
    """(dotted key, default, help) of every setting of ``cls``, sections' settings in place."""
    out = []
    for key, f in declared(cls).items():
        if "section" in f.metadata:
            out += describe(f.metadata["section"], f"{prefix}{key}.")
        else:
            out.append((prefix + key, getattr(cls(), key), f.metadata["help"]))
    return out


# --- reading -----------------------------------------------------------------------------------

def read_mapping(path, what: str) -> dict:
    """The mapping in file ``path``, YAML or (``.toml``) TOML; ``what`` names it in errors ("recipe").

    A missing file, bad YAML or TOML or text encoding, or a document that is not a mapping fails
    with one sentence. An empty YAML file is an empty mapping.
    """
    p = Path(path)
    if not p.is_file():
        raise PlayasError(f"{what} {p} does not exist")
    toml = p.suffix.lower() == ".toml"
    try:
        data = _parse(p.read_text(encoding="utf-8"), toml)
    except (ValueError, UnicodeDecodeError) as e:  # yaml.YAMLError and TOMLDecodeError are ValueErrors here
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise PlayasError(f"{what} {p} is not valid {'TOML' if toml else 'YAML'} ({first})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PlayasError(f"{what} {p} must be a mapping of settings")
    return data


def _parse(text: str, toml: bool):
    if toml:
        import tomllib

        return tomllib.loads(text)
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(str(e)) from None


def load(path, cls, what: str, unused=()) -> tuple:
    """File ``path`` read into settings class ``cls`` over its defaults, and the ``unused`` keys it
    holds (see :func:`check`)."""
    return build(cls, [(read_mapping(path, what), f"{what} {path}")], unused)


def build(cls, layers, unused=()) -> tuple:
    """Settings class ``cls``: its defaults, then each layer's checked values over them, in turn.

    ``layers`` holds (mapping, where) pairs: a file's settings, the command line's, the
    environment's; ``where`` starts each layer's error. Returns the instance and the ``unused``
    keys found (see :func:`check`).
    """
    values = _as_dict(cls())
    found: list[str] = []
    for data, where in layers:
        checked, more = check(cls, data or {}, where, unused)
        _lay(cls, values, checked)
        found += more
    return _instance(cls, values), found


def recipe(cls, *layers) -> dict:
    """A training recipe as a model card keeps it: :func:`build` of ``cls`` as a plain dict."""
    return _as_dict(build(cls, layers)[0])


def recipe_with(path, cls, overrides: dict) -> dict:
    """The recipe of settings class ``cls``: its defaults, then recipe file ``path`` (if any), then
    the command line's ``overrides`` (the ones given, not None)."""
    layers = [(read_mapping(path, "recipe"), f"recipe {path}")] if path else []
    layers.append(({k: v for k, v in overrides.items() if v is not None}, "command line"))
    return recipe(cls, *layers)


def check(cls, data: dict, where: str, unused=()) -> tuple[dict, list[str]]:
    """``data`` checked against settings class ``cls``: (the checked values of the keys present, the
    unused keys found).

    A section's value must be a mapping (an empty one is empty). ``unused`` holds dotted keys that
    other tools read (lichess-bot's ``engine.polyglot``...): they are accepted whole and listed. Any
    other unknown key, or a bad value, raises one PlayasError that starts with ``where``.
    """
    found: list[str] = []
    try:
        return _check(data, cls, "", set(unused), found), found
    except PlayasError as e:
        raise PlayasError(f"{where}: {e}") from None


def _check(data: dict, cls, prefix: str, unused: set, found: list) -> dict:
    known = declared(cls)
    out = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        f = known.get(key) if isinstance(key, str) else None
        if f is None:
            if dotted in unused:
                found.append(dotted)
                continue
            raise PlayasError(f"unknown setting {dotted!r}{_suggestion(key, known, prefix)}")
        if "section" in f.metadata:
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise PlayasError(f"{dotted} must be a mapping of settings, not {value!r}")
            out[key] = _check(value, f.metadata["section"], f"{dotted}.", unused, found)
        else:
            out[key] = f.metadata["check"](dotted, value)
    return out


def _suggestion(key, known: dict, prefix: str) -> str:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    return f"; did you mean {prefix + close[0]!r}?" if close else ""


def _as_dict(obj) -> dict:
    """A settings instance as nested dicts of its fields (copies)."""
    return dataclasses.asdict(obj)


def _lay(cls, values: dict, checked: dict) -> None:
    """``checked`` over ``values`` in place: a section key by key, any other setting whole."""
    known = declared(cls)
    for key, v in checked.items():
        if "section" in known[key].metadata:
            _lay(known[key].metadata["section"], values[key], v)
        else:
            values[key] = v


def _instance(cls, values: dict):
    """Settings class ``cls`` from nested dicts, sections built as their own classes."""
    kwargs = dict(values)
    for key, f in declared(cls).items():
        if "section" in f.metadata:
            kwargs[key] = _instance(f.metadata["section"], kwargs[key])
    return cls(**kwargs)


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
