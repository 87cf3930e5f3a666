"""Reading the YAML files users write (training recipes, bot configs), with one-sentence errors."""

from __future__ import annotations

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
