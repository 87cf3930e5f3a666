"""A Lichess user's public games, fetched with berserk to enroll them as a style.

The export endpoint (``GET /api/games/user/{username}``) is read as ndjson with the PGN of each
game inside (``pgnInJson``): every game then comes with its id and start time, so a stream that
drops part-way resumes with the games before the last one written (``until``) instead of starting
again, and none is written twice. Lichess' manners as the bot keeps them (playas.bots.lichess.api,
which the chess package may not import, hence this small loop of its own): back off and retry on
a dropped connection or a server error, and pause after HTTP 429 (for the ``Retry-After`` the
answer names, else a minute) before trying again.

A token is optional (it raises the rate Lichess allows); it is sent in a header and never written
or logged. Every failure a user can cause is a :class:`PlayasError` of one sentence.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import berserk
import requests

from .. import __version__
from ..core.errors import PlayasError
from ..core.progress import Progress
from .lichess_http import network_problem
from .pgn import header_names

LOG = logging.getLogger("playas.chess.lichess")
LICHESS_URL = "https://lichess.org/"
TOKEN_VARIABLE = "LICHESS_TOKEN"
SPEEDS = ("ultraBullet", "bullet", "blitz", "rapid", "classical", "correspondence")  # standard chess only, as the API spells them


def api_speed(name: str) -> str:
    """A speed as Lichess's API spells it (``ultraBullet``), from any case (``ultrabullet``)."""
    return next((s for s in SPEEDS if s.lower() == name.lower()), name)
DEFAULT_PERFS = ("bullet", "blitz", "rapid", "classical", "correspondence")
RATE_LIMIT_WAIT = 60.0  # seconds Lichess asks for after HTTP 429 when it does not say
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,29}")


@dataclass
class Fetched:
    """What :func:`fetch_games` wrote."""

    games: int
    username: str  # as Lichess spells it in the games' headers (the player to enroll)


class ExportSession(requests.Session):
    """The session berserk sends through: playas' User-Agent, a time-out on every read, and the
    token (if any) in the Authorization header, the only place it is kept."""

    def __init__(self, token: str | None = None, timeout: tuple[float, float] = (10, 60)):
        super().__init__()
        self.headers["User-Agent"] = f"playas/{__version__}"
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def request(self, method, url, **kw):
        kw.setdefault("timeout", self.timeout)
        return super().request(method, url, **kw)


@dataclass
class _Written:
    """The games written so far: their ids, where to resume, and the user's spelling."""

    username: str
    ids: set = field(default_factory=set)
    until: int | None = None  # ms: resume with the games that began before this
    spelled: str | None = None

    def add(self, game: dict, out) -> bool:
        """Write ``game`` (an export object) unless it was written already; whether it was."""
        created = game.get("createdAt")
        if created is not None:
            self.until = round(created.timestamp() * 1000) + 1  # the last game again, skipped by its id
        text = str(game.get("pgn") or "").strip()
        if not text or game.get("id") in self.ids:
            return False
        self.ids.add(game.get("id"))
        out.write(text + "\n\n\n")
        self.spelled = self.spelled or next(
            (n for n in header_names(text) if n.lower() == self.username.lower()), None)
        return True


def check_request(username: str, max_games: int, perfs, url: str) -> None:
    """Refuse, in one sentence, a request Lichess could not answer, before anything is sent."""
    if not _USERNAME.fullmatch(username or ""):
        raise PlayasError(f"{username!r} is not a Lichess username (2 to 30 letters, digits, _ or -)")
    if max_games < 1:
        raise PlayasError(f"--max must be at least 1, not {max_games}")
    unknown = [p for p in perfs if p not in SPEEDS]
    if unknown or not perfs:
        raise PlayasError(f"--speed takes speeds of standard chess ({','.join(s.lower() for s in SPEEDS)}), "
                          f"not {','.join(unknown)!r}")
    if not url.startswith(("http://", "https://")):
        raise PlayasError(f"the Lichess URL must start with http:// or https://, not {url!r}")


def fetch_games(username: str, out_path, max_games: int = 200, perfs=DEFAULT_PERFS, *, url: str = LICHESS_URL,
                token: str | None = None, tries: int = 5, rate_limit_wait: float = RATE_LIMIT_WAIT) -> Fetched:
    """Write ``username``'s latest public games (at most ``max_games``, of the speeds ``perfs``) to
    the PGN file ``out_path``; retried and resumed as the module says."""
    perfs = [api_speed(p) for p in perfs]
    check_request(username, max_games, perfs, url)
    url = url if url.endswith("/") else url + "/"
    written, failures = _Written(username), 0
    with ExportSession(token) as session, open(out_path, "w", encoding="utf-8") as out, \
            Progress(max_games, f"{username}'s games from {url}", unit="games") as progress:
        games = berserk.Client(session, base_url=url).games
        while True:
            try:
                for game in games.export_by_player(
                        username, as_pgn=False, pgn_in_json=True, perf_type=",".join(perfs), until=written.until,
                        max=max_games if written.until is None else max_games - len(written.ids) + 1):
                    if written.add(game, out):
                        failures = 0
                        progress.update(1)
                    if len(written.ids) >= max_games:
                        break
                break  # the export ended, or gave all we asked for
            except Exception as e:  # sorted by _wait: try again, one sentence, or a bug that must surface
                failures += 1
                time.sleep(_wait(e, username, url, failures, tries, rate_limit_wait))
    if not written.ids:
        Path(out_path).unlink(missing_ok=True)
        raise PlayasError(f"Lichess has no public {','.join(perfs)} games of {username}")
    return Fetched(len(written.ids), written.spelled or username)


def _wait(e: Exception, username: str, url: str, failures: int, tries: int, rate_limit_wait: float) -> float:
    """Seconds to wait before asking again after ``e``; raises PlayasError where asking again
    cannot help or ``tries`` are spent, and ``e`` itself if it is not about the network."""
    status = e.status_code if isinstance(e, berserk.exceptions.ResponseError) else None
    if status == 404:
        raise PlayasError(f"there is no Lichess user {username!r} at {url}") from None
    if status == 401:
        raise PlayasError(f"Lichess refused the token in {TOKEN_VARIABLE} (HTTP 401); unset it to fetch public "
                          "games without one, or create a new one") from None
    if status is not None and status < 500 and status != 429:
        raise PlayasError(f"Lichess refused to export the games of {username} (HTTP {status})") from None
    if status is None and not isinstance(e, (berserk.exceptions.BerserkError, requests.RequestException,
                                             OSError, ValueError)):
        raise e
    problem = f"HTTP {status}" if status else network_problem(e)
    if failures >= tries:
        raise PlayasError(f"could not fetch the games of {username} from {url} ({problem}, {tries} times); "
                          "check the network and try again") from None
    if status == 429:
        delay = _retry_after(e.response, rate_limit_wait)
        LOG.warning("Lichess asked for a pause (HTTP 429): waiting %gs", delay)
    else:
        delay = min(0.5 * 2 ** (failures - 1), 8.0)
        LOG.warning("fetching the games of %s: %s; trying again in %gs", username, problem, delay)
    return delay


def _retry_after(response, default: float) -> float:
    """The seconds an HTTP 429 answer asks for in its ``Retry-After`` header, else ``default``."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except (TypeError, ValueError):
        return default

