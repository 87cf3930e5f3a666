"""The Lichess bot's configuration and its challenge filters.

The YAML keys are lichess-bot's where lichess-bot has one (``url``, ``challenge.concurrency``,
``accept_bot``, ``max_base``, ``greeting.hello``, ``engine.draw_or_resign``, ``abort_time``,
``max_takebacks_accepted``, ``pgn_directory``...), so an operator's habits carry over; the keys
that are playas' own (the style, ``rate_limit_wait``, ``challenge.max_queue``) are documented in
``configs/lichess.yml``. The file is read by the one validated loader
(:func:`playas.core.config.load_config`): a key of lichess-bot's that this bot does not use
(:data:`LICHESS_BOT_KEYS`: ``engine.polyglot``, ``matchmaking``...) is accepted and reported once
at start-up; any other unknown key (a typo such as ``challenge.concurency``) fails with one
sentence naming the key and the file. The token is never read from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...core.config import (check_config, choice, flag, mapping_of_numbers, names, number, optional_text,
                            optional_whole, read_yaml_mapping, subset, text, whole)
from ...core.errors import PlayasError

SPEEDS = ("ultraBullet", "bullet", "blitz", "rapid", "classical", "correspondence")
VARIANTS = ("standard", "fromPosition")  # the rules this bot plays: chess, from the start or a FEN
MODES = ("casual", "rated")


# --- the sections ------------------------------------------------------------------------------

@dataclass
class DrawOrResign:
    """lichess-bot's ``engine.draw_or_resign``, judged by the value head (scores in centipawns)."""

    offer_draw_enabled: bool = True  # offer draws, and accept the opponent's, when about even
    offer_draw_score: int = 30  # "about even": the bot's score is at most this
    offer_draw_moves: int = 10  # offer only after this many moves in a row about even
    offer_draw_pieces: int = 10  # and with at most this many pieces on the board
    resign_enabled: bool = False
    resign_score: int = -1000  # resign when the score stays at or below this...
    resign_moves: int = 3  # ...for this many moves in a row

    CHECKS = {"offer_draw_enabled": flag, "offer_draw_score": whole(0), "offer_draw_moves": whole(1),
              "offer_draw_pieces": whole(2), "resign_enabled": flag,
              "resign_score": whole(None, 0), "resign_moves": whole(1)}


@dataclass
class EngineConfig:
    model: str | None = None  # default: the shipped styled model, else Maia-1900
    style: str | None = None  # a player or a blend; none is the mean style (or the plain model)
    styles: list[str] = field(default_factory=list)  # several: each game plays one (see style_for)
    steer: dict[str, float] = field(default_factory=dict)
    temperature: float = 1.0  # 0 plays the most likely move, 1 samples the player's own choices
    nodes: int = 1  # 1: one network evaluation a move, the pure style; more: a small search
    own_book: bool = True  # the player's own games decide where they reach (their repertoire)
    book_depth: int | None = None  # ...up to this ply; none: as deep as the repertoire goes
    move_overhead: int = 1000  # milliseconds kept back from each move's time for the network
    threads: int = 1  # torch threads; the games share the model and run side by side
    draw_or_resign: DrawOrResign = field(default_factory=DrawOrResign)

    CHECKS = {"model": optional_text, "style": optional_text, "styles": names, "steer": mapping_of_numbers,
              "temperature": number(0, 100), "nodes": whole(1), "own_book": flag,
              "book_depth": optional_whole, "move_overhead": whole(0), "threads": whole(1)}


@dataclass
class ChallengeConfig:
    """lichess-bot's ``challenge`` section: which challenges to accept, and how many games at once."""

    concurrency: int = 1
    sort_by: str = "best"  # the queue: best (highest rated first) or first (first come)
    preference: str = "none"  # none, human or bot: who goes first in the queue
    max_queue: int = 10  # challenges that wait for a free slot; beyond this they are declined (later)
    accept_bot: bool = True
    only_bot: bool = False
    max_increment: int = 180
    min_increment: int = 0
    max_base: int = 10800
    min_base: int = 0
    max_days: int = 14
    min_days: int = 1
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    time_controls: list[str] = field(default_factory=lambda: ["bullet", "blitz", "rapid", "classical"])
    modes: list[str] = field(default_factory=lambda: list(MODES))
    bullet_requires_increment: bool = False
    max_simultaneous_games_per_user: int = 5
    allow_list: list[str] = field(default_factory=list)  # when set, only these may challenge
    block_list: list[str] = field(default_factory=list)
    min_rating: int | None = None
    max_rating: int | None = None

    CHECKS = {"concurrency": whole(1), "sort_by": choice("best", "first"), "preference": choice("none", "human", "bot"),
              "max_queue": whole(0), "accept_bot": flag, "only_bot": flag, "max_increment": whole(0),
              "min_increment": whole(0), "max_base": whole(0), "min_base": whole(0), "max_days": whole(1),
              "min_days": whole(1), "variants": subset(*VARIANTS), "time_controls": subset(*SPEEDS),
              "modes": subset(*MODES), "bullet_requires_increment": flag,
              "max_simultaneous_games_per_user": whole(1), "allow_list": names, "block_list": names,
              "min_rating": optional_whole, "max_rating": optional_whole}


@dataclass
class Greeting:
    """Chat at the start and end of each game; ``{me}``, ``{opponent}`` and ``{style}`` are filled in."""

    hello: str = "Hi! I'm {me}, playing as {style}. Good luck! Type !help for the commands I answer."
    goodbye: str = "Good game!"
    hello_spectators: str = "I'm {me}, playing as {style}. Type !help for the commands I answer."
    goodbye_spectators: str = "Thanks for watching!"

    CHECKS = {"hello": text, "goodbye": text, "hello_spectators": text, "goodbye_spectators": text}


@dataclass
class Config:
    url: str = "https://lichess.org/"
    engine: EngineConfig = field(default_factory=EngineConfig)
    challenge: ChallengeConfig = field(default_factory=ChallengeConfig)
    greeting: Greeting = field(default_factory=Greeting)
    abort_time: float = 30  # seconds to wait for the opponent's first move before aborting
    rate_limit_wait: float = 60  # seconds to pause after HTTP 429, as Lichess asks
    stream_timeout: float = 30  # a stream silent this long (no keep-alive either) is reconnected
    max_takebacks_accepted: int = 0  # per game
    pgn_directory: str | None = None  # where finished games go (relative: from the config's folder); none: not saved
    pgn_file_grouping: str = "game"  # game (a file each), opponent (a file per opponent) or all
    path: Path | None = None
    unused: list[str] = field(default_factory=list)  # lichess-bot's keys found that this bot does not use

    CHECKS = {"url": text, "abort_time": number(1), "rate_limit_wait": number(0), "stream_timeout": number(1),
              "max_takebacks_accepted": whole(0), "pgn_directory": optional_text,
              "pgn_file_grouping": choice("game", "opponent", "all")}


# lichess-bot's keys (its config.yml.default and lib/config.py) that this bot accepts and does not use:
# the engine binary and its options, opening books and tablebases, matchmaking, correspondence.
LICHESS_BOT_KEYS = (
    "fake_think_time", "rate_limiting_delay", "move_overhead", "quit_after_all_games_finish", "correspondence",
    "matchmaking", "engine.dir", "engine.name", "engine.debug", "engine.interpreter", "engine.interpreter_options",
    "engine.working_dir", "engine.protocol", "engine.ponder", "engine.uci_ponder", "engine.polyglot",
    "engine.online_moves", "engine.lichess_bot_tbs", "engine.engine_options", "engine.homemade_options",
    "engine.uci_options", "engine.xboard_options", "engine.silence_stderr",
    "engine.draw_or_resign.resign_for_egtb_minus_two", "engine.draw_or_resign.offer_draw_for_egtb_zero",
    "challenge.games_reserved_for_humans", "challenge.online_block_list", "challenge.recent_bot_challenge_age",
    "challenge.max_recent_bot_challenges", "challenge.rating_difference",
)
SCHEMA = {**Config.CHECKS, "engine": {**EngineConfig.CHECKS, "draw_or_resign": DrawOrResign.CHECKS},
          "challenge": ChallengeConfig.CHECKS, "greeting": Greeting.CHECKS}


def parse_config(data: dict, path: Path | None = None) -> Config:
    """A checked Config from the YAML mapping ``data`` (read from ``path``, if from a file).

    A bad value or an unknown key fails with one sentence naming the key and the file. A
    relative ``pgn_directory`` is taken from the config file's folder, not from wherever the
    bot was started.
    """
    where = f"config file {path}" if path else "config"
    if "token" in data:
        raise PlayasError(f"{path or 'the config'} holds a token; delete it and set the LICHESS_TOKEN "
                          "environment variable instead (playas reads the token only from there)")
    values, unused = check_config(data, SCHEMA, where, LICHESS_BOT_KEYS)
    engine = values.pop("engine", {})
    draw_or_resign = DrawOrResign(**engine.pop("draw_or_resign", {}))
    cfg = Config(engine=EngineConfig(**engine, draw_or_resign=draw_or_resign),
                 challenge=ChallengeConfig(**values.pop("challenge", {})),
                 greeting=Greeting(**values.pop("greeting", {})), **values)
    try:
        _check_together(cfg)
    except PlayasError as e:
        raise PlayasError(f"{where}: {e}") from None
    if cfg.pgn_directory and path is not None:
        cfg.pgn_directory = str(Path(path).parent / Path(cfg.pgn_directory).expanduser())
    cfg.path, cfg.unused = path, unused
    return cfg


def _check_together(cfg: Config) -> None:
    """The checks that take more than one setting."""
    if not cfg.url.startswith(("http://", "https://")):
        raise PlayasError(f"url must start with http:// or https://, not {cfg.url!r}")
    c = cfg.challenge
    if c.min_base > c.max_base or c.min_increment > c.max_increment or c.min_days > c.max_days:
        raise PlayasError("challenge: a min_ setting is above its max_")
    if c.min_rating is not None and c.max_rating is not None and c.min_rating > c.max_rating:
        raise PlayasError("challenge.min_rating is above challenge.max_rating")
    if cfg.engine.style and cfg.engine.styles:
        raise PlayasError("engine: give either style (one) or styles (several), not both")


def load_config(path) -> Config:
    """Read and check a YAML config; a missing file, bad YAML or a bad key fails with one sentence."""
    return parse_config(read_yaml_mapping(path, "config file"), Path(path))


# --- challenges --------------------------------------------------------------------------------

def decline_reason(ch: dict, c: ChallengeConfig) -> str | None:
    """Lichess' reason to decline the challenge ``ch`` under the filters ``c``; None accepts it.

    The reasons are the ones Lichess shows the challenger: ``generic`` (lists, rating),
    ``noBot``/``onlyBot``, ``variant``, ``timeControl`` (a speed not played), ``tooFast``/
    ``tooSlow`` (base, increment or days out of range) and ``casual``/``rated`` (the mode
    this bot does play).
    """
    who = ch.get("challenger") or {}
    name = str(who.get("name") or who.get("id") or "").lower()
    if c.allow_list and name not in {n.lower() for n in c.allow_list}:
        return "generic"
    if name in {n.lower() for n in c.block_list}:
        return "generic"
    bot = who.get("title") == "BOT"
    if bot and not c.accept_bot:
        return "noBot"
    if not bot and c.only_bot:
        return "onlyBot"
    if (ch.get("variant") or {}).get("key", "standard") not in c.variants:
        return "variant"
    reason = _time_control_reason(ch, c)
    if reason:
        return reason
    if ("rated" if ch.get("rated") else "casual") not in c.modes:
        return "casual" if ch.get("rated") else "rated"
    rating = who.get("rating")
    if isinstance(rating, int) and ((c.min_rating is not None and rating < c.min_rating)
                                    or (c.max_rating is not None and rating > c.max_rating)):
        return "generic"
    return None


def _time_control_reason(ch: dict, c: ChallengeConfig) -> str | None:
    tc = ch.get("timeControl") or {}
    speed = ch.get("speed") or ("correspondence" if tc.get("type") in ("correspondence", "unlimited") else None)
    if speed not in c.time_controls:
        return "timeControl"
    if tc.get("type") == "clock":
        base, inc = tc.get("limit", 0), tc.get("increment", 0)
        if base < c.min_base or inc < c.min_increment:
            return "tooFast"
        if base > c.max_base or inc > c.max_increment:
            return "tooSlow"
        if c.bullet_requires_increment and speed in ("ultraBullet", "bullet") and inc == 0:
            return "timeControl"
    elif tc.get("type") == "correspondence":
        days = tc.get("daysPerTurn", 1)
        if days < c.min_days:
            return "tooFast"
        if days > c.max_days:
            return "tooSlow"
    return None


def queue_key(ch: dict, c: ChallengeConfig):
    """Order of waiting challenges: the preferred kind of player, then best rated (or first come)."""
    who = ch.get("challenger") or {}
    bot = who.get("title") == "BOT"
    preferred = c.preference == "none" or (c.preference == "bot") == bot
    rating = who.get("rating") if isinstance(who.get("rating"), int) else 0
    return (not preferred, -rating if c.sort_by == "best" else 0)
