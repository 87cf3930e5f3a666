"""Checking where a command will write, before it does any work: a mistake in ``--out`` should
cost one sentence, not a finished computation."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import PlayasError


def writable_file(path, what: str = "output") -> Path:
    """``path`` as a file that can be written: not a folder, in a folder that exists or can be
    made and that this user may write to. Makes no file."""
    p = Path(path)
    if p.is_dir():
        raise PlayasError(f"{what} {p} is a folder; give a file name")
    _writable_folder(p.parent, what, p)
    if p.exists() and not os.access(p, os.W_OK):
        raise PlayasError(f"{what} {p} exists and cannot be written")
    return p


def writable_folder(path, what: str = "output folder") -> Path:
    """``path`` as a folder to write into: a folder, or a name that can become one."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise PlayasError(f"{what} {p} is a file, not a folder")
    _writable_folder(p, what, p)
    return p


def _writable_folder(folder: Path, what: str, target: Path) -> None:
    existing = folder
    while not existing.exists():  # the nearest folder that exists decides whether we may create it
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise PlayasError(f"{what} {target}: {existing} is a file, not a folder")
    try:  # a real probe: permissions, read-only mounts and special file systems all answer here
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".playas-probe-")
    except OSError:
        raise PlayasError(f"{what} {target}: cannot write in {existing}") from None
    os.close(fd)
    os.unlink(probe)


def write_text(path, text: str) -> None:
    """Write a small text file atomically (a crash never leaves half of it), making its folder."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(p)
