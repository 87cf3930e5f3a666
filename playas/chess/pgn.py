"""Reading PGN collections as they come: plain, gzip or zstd; UTF-8 or Latin-1; CRLF or LF.

Files are streamed game by game as raw text, so a multi-GB database dump costs no more memory
than one game; parsing happens later, in worker processes. Player names in headers are matched
the way people write them (``Anand,V``, ``Anand, Viswanathan``, ``Dominguez Perez, Leinier``).
"""

from __future__ import annotations

import zlib
import difflib
import os
import re
from pathlib import Path
from typing import Iterator

from ..core.errors import PlayasError


def _byte_chunks(path: Path, size: int = 1 << 16) -> Iterator[bytes]:
    """The file's bytes, decompressed by name; everything readable is yielded before an error.

    gzip is decompressed by hand (zlib) rather than through ``gzip.GzipFile``, which drops the
    last decompressed block of a truncated file: a cut-off download still gives its games.
    """
    name = path.name.lower()
    with open(path, "rb") as f:
        if name.endswith(".gz"):
            d, fed = zlib.decompressobj(wbits=31), False
            while block := f.read(size):
                while block:
                    yield d.decompress(block)
                    fed = True
                    block = d.unused_data if d.eof else b""
                    if d.eof:  # another gzip member may follow
                        d, fed = zlib.decompressobj(wbits=31), False
            if fed and not d.eof:
                yield d.flush()
                raise EOFError("compressed file ended before the end of the stream")
        elif name.endswith(".zst"):
            import zstandard

            # by hand, frame by frame, like gzip: a stream reader ends a cut-off file quietly
            d, fed = zstandard.ZstdDecompressor().decompressobj(), False
            while block := f.read(size):
                while block:
                    yield d.decompress(block)
                    fed = True
                    block = d.unused_data if d.eof else b""
                    if d.eof:  # another frame may follow
                        d, fed = zstandard.ZstdDecompressor().decompressobj(), False
            if fed and not d.eof:
                raise EOFError("compressed file ended before the end of the stream")
        else:
            while block := f.read(size):
                yield block


# The first bytes of files that get given as PGN by mistake, and what they are
_MAGIC = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
          b"%PDF": "a PDF document", b"PK\x03\x04": "a zip archive", b"BZh": "bzip2-compressed",
          b"\xfd7zXZ": "xz-compressed", b"7z\xbc\xaf": "a 7-Zip archive", b"\x7fELF": "a program",
          b"\xff\xfe": "UTF-16 text; save it as UTF-8", b"\xfe\xff": "UTF-16 text; save it as UTF-8"}
_COMPRESSED = {b"\x1f\x8b": ("gzip", ".gz"), b"\x28\xb5\x2f\xfd": ("zstd", ".zst")}  # read by name, not content
_PGN_START = re.compile(rb'^\s*\[\w+\s+"|(?:^|\s)1\.\s*(?:[KQRBN]?[a-h]?[1-8]?x?[a-h][1-8]|O-O)', re.M)
SNIFF_BYTES = 1 << 16  # a PGN shows a tag pair or its first move long before this


def _pgn_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path, if it names a file; else PlayasError saying what it is."""
    path = Path(path)
    if not path.exists():
        raise PlayasError(f"PGN file {path} does not exist")
    if path.is_dir():
        raise PlayasError(f"{path} is a directory, not a PGN file")
    return path


def check_pgn(path: str | os.PathLike) -> None:
    """Refuse, in one sentence naming it, a file that is not PGN (an image, a zip, text without
    tags or moves), which would otherwise read as a file of no games. Reads the first 64 KB only.

    A compressed file damaged after its start passes: reading it keeps the games before the damage.
    """
    path = _pgn_file(path)
    with open(path, "rb") as f:
        raw = f.read(16)
    for magic, kind in _MAGIC.items():
        if raw.startswith(magic):
            raise PlayasError(f"{path} is not a PGN file (it is {kind})")
    for magic, (kind, suffix) in _COMPRESSED.items():
        if raw.startswith(magic) and not path.name.lower().endswith(suffix):
            raise PlayasError(f"{path} is {kind}-compressed; name it {path.name}{suffix} to have it read")
    head = _head(path)
    if b"\0" in head:
        raise PlayasError(f"{path} is not a PGN file (it holds binary data)")
    if head.strip() and not _PGN_START.search(head):
        raise PlayasError(f"{path} is not a PGN file (no [Tag \"value\"] pair or first move in its first "
                          f"{SNIFF_BYTES // 1024} KB)")


def _head(path: Path) -> bytes:
    """The first SNIFF_BYTES of the file's text (decompressed), or as much as reads before damage."""
    head = b""
    try:
        for chunk in _byte_chunks(path):
            head += chunk
            if len(head) >= SNIFF_BYTES:
                break
    except Exception as e:
        if not _damage(e):
            raise
        if not head:  # not even the start reads
            kind = {suffix: kind for kind, suffix in _COMPRESSED.values()}.get(path.suffix.lower())
            said = f"is not {kind}-compressed as its name says" if kind else "cannot be read"
            raise PlayasError(f"{path} {said} ({e})") from None
    return head[:SNIFF_BYTES]


def _damage(e: Exception) -> bool:
    """Whether ``e`` says a file is cut off or corrupt (rather than a bug here)."""
    return isinstance(e, (OSError, EOFError, zlib.error)) or type(e).__module__.startswith("zstandard")


def decode_game(data: bytes) -> str:
    """A game's text: UTF-8 where it is valid, Latin-1 otherwise (old databases)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def iter_game_texts(path: str | os.PathLike) -> Iterator[str]:
    """Yield the raw text of each game in a PGN file, headers and movetext, in file order.

    A game starts at a tag line that follows movetext (or the file's start). A damaged file
    (truncated or corrupt compression) yields every game before the damage, then the cut-off
    game marked ``*TRUNCATED*``, then raises :class:`PlayasError` naming the file.
    """
    path = _pgn_file(path)
    lines: list[bytes] = []
    seen_moves = False
    rest = b""
    try:
        for chunk in _byte_chunks(path):
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            for line in parts:
                stripped = line.strip()
                if stripped.startswith(b"[") and seen_moves:
                    yield decode_game(b"\n".join(lines) + b"\n")
                    lines, seen_moves = [], False
                if stripped and not stripped.startswith((b"[", b"%")):
                    seen_moves = True
                lines.append(line.rstrip(b"\r"))
    except Exception as e:
        if _damage(e):
            if seen_moves:
                yield decode_game(b"\n".join(lines + [rest])) + "\n*TRUNCATED*"
            raise PlayasError(f"{path} is damaged ({e})") from None
        raise
    if rest.strip():
        lines.append(rest.rstrip(b"\r"))
    if any(x.strip() for x in lines):
        yield decode_game(b"\n".join(lines) + b"\n")


_TAG = re.compile(r'^\[(\w+)\s+"(.*)"\]\s*$', re.M)


def header_names(text: str) -> tuple[str, str]:
    """White and Black as written in a game's headers, without parsing the moves."""
    tags = read_tags(text[:4000])[0]
    return tags.get("White", "?"), tags.get("Black", "?")


def read_tags(text: str) -> tuple[dict[str, str], str]:
    """A game's headers as a dict, and the movetext after them."""
    found = list(_TAG.finditer(text))
    return {m.group(1): m.group(2) for m in found}, text[found[-1].end():] if found else text


_MOVETEXT = re.compile(r"\{([^}]*)\}|;[^\n]*|\n%[^\n]*|(\()|(\))|\$\d+|\d+\.+"
                       r"|(1-0|0-1|1/2-1/2|\*)(?=\s|$)|([^\s(){};$]+)")
_BARE = re.compile(r"(?:^|\s|\.)(?!1-0|0-1|1/2-1/2|\*)([A-Za-z0-9][^\s.$]*)(?=\s|$)")
_CLK = re.compile(r"\[%clk\s+(\d+):(\d+):(\d+(?:\.\d*)?)\]")


def mainline(movetext: str) -> tuple[list[str], list[float]]:
    """The main line's moves in SAN (annotations like ``!?`` dropped) and the mover's clock after
    each (``[%clk h:mm:ss]`` comments; -1 where none), without building a game tree.

    python-chess's ``read_game`` builds a node per move with its comments and variations; a
    dataset needs only the main line, and skipping the tree makes reading twice as fast.
    """
    if "(" not in movetext and "{" not in movetext and ";" not in movetext:  # bare moves: no tree to walk
        sans = [t.rstrip("!?") for t in _BARE.findall(movetext)]
        return sans, [-1.0] * len(sans)
    sans: list[str] = []
    clocks: list[float] = []
    depth = 0
    for m in _MOVETEXT.finditer(movetext):
        comment, opened, closed, result, san = m.groups()
        if opened:
            depth += 1
        elif closed:
            depth = max(0, depth - 1)
        elif depth:
            continue
        elif san:
            sans.append(san.rstrip("!?"))
            clocks.append(-1.0)
        elif comment and sans and "%clk" in comment:
            c = _CLK.search(comment)
            if c:
                clocks[-1] = int(c.group(1)) * 3600 + int(c.group(2)) * 60 + float(c.group(3))
        elif result:
            break
    return sans, clocks


# --- player names ------------------------------------------------------------------------

_SPLIT = re.compile(r"[\s,.\-_']+")
_CAMEL = re.compile(r"[A-Z]+[a-z0-9]*|[a-z0-9]+")


_NOTE = re.compile(r"\s*\([^()]*\)\s*$")


def name_tokens(name: str) -> list[str]:
    """``"Dominguez Perez, Leinier"`` -> ``["dominguez", "perez", "leinier"]``."""
    return [t for t in _SPLIT.split(name.lower()) if t]


class NamePattern:
    """Matches the header spellings of one person.

    A pattern is a name's tokens: the first must equal the header's first token (the surname,
    which headers put first), each later one must begin the header's token in the same place, so
    ``GurevichD`` matches ``Gurevich,D`` and ``Gurevich, Dmitry`` but not ``Gurevich,M``, and
    ``Le`` matches ``Le Quang Liem`` but not ``Levenfish``. A pattern of one token with no
    match by tokens also matches a header equal to it ignoring case (usernames). Names written
    given-name first (``Carlos Torre Repetto``) match when the pattern's run ends the name.
    """

    def __init__(self, pattern: str, label: str | None = None):
        self.label = label or pattern
        self.raw = pattern.strip().lower()
        if any(c.isspace() or c in ",." for c in pattern):
            self.tokens = name_tokens(pattern)
        else:  # a file stem such as "DominguezPerez" or "GurevichD"
            self.tokens = [t.lower() for t in _CAMEL.findall(pattern)] or [self.raw]

    def score(self, header_name: str) -> float:
        """How many tokens matched (0: no match). Higher is more specific."""
        # A trailing note is not the name: "Carlsen, Magnus (NOR)", "GurevichM (playas model)".
        header_name = _NOTE.sub("", header_name)
        if header_name.strip().lower() == self.raw:
            return len(self.tokens) + 1
        toks, want = name_tokens(header_name), self.tokens
        n = len(want)

        def run_at(i: int) -> bool:
            return toks[i] == want[0] and all(g.startswith(w) for w, g in zip(want[1:], toks[i + 1:]))

        # Surname first ("Torre Repetto, Carlos") or given names first ("Carlos Torre Repetto").
        if len(toks) >= n and (run_at(0) or run_at(len(toks) - n)):
            return n
        # Written together or apart: "De Labourdonnais" for DeLaBourdonnais, "Mackenzie".
        joined, prefix = "".join(toks), "".join(want)
        boundaries = {sum(map(len, toks[:i + 1])) for i in range(len(toks))}
        if n > 1 and len(want[-1]) > 1 and joined.startswith(prefix) and len(prefix) in boundaries:
            return n
        # Transliterations ("Janowsky" for Janowski): a weak match an exact one always beats.
        if toks and toks[0] != want[0] and len(want[0]) >= 5 and len(toks) >= n \
                and difflib.SequenceMatcher(None, toks[0], want[0]).ratio() >= 0.85 \
                and all(g.startswith(w) for w, g in zip(want[1:], toks[1:])):
            return 0.5
        return 0

    def __repr__(self) -> str:
        return f"NamePattern({self.label!r})"


def owner_from_filename(path: str | os.PathLike) -> NamePattern:
    """The PGN Mentor convention: ``Anand.pgn.gz`` holds Anand's games."""
    name = Path(path).name
    stem = re.sub(r"(\.pgn)?(\.gz|\.zst)?$", "", name, flags=re.I)
    return NamePattern(stem, label=stem)
