"""The Lichess bot's configuration and its challenge filters.

The YAML keys are lichess-bot's where lichess-bot has one (``url``, ``challenge.concurrency``,
``accept_bot``, ``max_base``, ``greeting.hello``, ``engine.draw_or_resign``, ``abort_time``,
``max_takebacks_accepted``, ``pgn_directory``...), so an operator's habits carry over; the keys
that are playas' own (the style, ``rate_limit_wait``, ``challenge.max_queue``) are documented in
``configs/lichess.yml``. Each setting is declared once below (default, checker and help
together) and the file is read by the one loader (:mod:`playas.core.config`): a key of
lichess-bot's that this bot does not use (:data:`LICHESS_BOT_KEYS`: ``engine.polyglot``,
``matchmaking``...) is accepted and reported once at start-up; any other unknown key (a typo such as ``challenge.concurency``) fails with one
sentence naming the key and the file. The token is never read from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...core.config import (build, choice, flag, mapping_of_numbers, names, number, optional_text, optional_whole,
                            optional, read_mapping, section, setting, subset, text, whole)
from ...chess import TEMP_CUTOFF_MOVE, TEMP_ENDGAME, TEMPERATURE, TOP_P
from ...core.errors import PlayasError

SPEEDS = ("ultraBullet", "bullet", "blitz", "rapid", "classical", "correspondence")
VARIANTS = ("standard", "fromPosition")  # the rules this bot plays: chess, from the start or a FEN
MODES = ("casual", "rated")


# --- the sections ------------------------------------------------------------------------------

@dataclass
class DrawOrResign:
    """lichess-bot's ``engine.draw_or_resign``. Left unset, the scores and moves are the person's:
    the rules learned from how real games end (:mod:`playas.chess.endings`, models/endings.json);
    set, they are lichess-bot's rules on the value head's score in centipawns."""

    offer_draw_enabled: bool = setting(True, flag, "offer draws, and accept the opponent's, where people do")
    offer_draw_score: int | None = setting(None, optional_whole, "none: as people agree draws (the learned rule); "
                                                                 "a number: about even means at most this (cp)")
    offer_draw_moves: int | None = setting(None, optional(whole(1)), "with offer_draw_score: this many moves in a "
                                                                     "row about even (none: 10)")
    offer_draw_pieces: int | None = setting(None, optional(whole(2)), "and at most this many pieces on the board "
                                                                      "(none: any number)")
    resign_enabled: bool = setting(True, flag, "resign lost positions, where people do")
    resign_score: int | None = setting(None, optional(whole(None, 0)), "none: as people resign (the learned rule); "
                                                                       "a number: resign at or below this (cp)...")
    resign_moves: int | None = setting(None, optional(whole(1)), "...for this many moves in a row (none: 3)")


@dataclass
class EngineConfig:
    """lichess-bot's ``engine`` section: the model and how it plays."""

    model: str | None = setting(None, optional_text, "default: the shipped styled model, else Maia-1900")
    style: str | None = setting(None, optional_text,
                                "a player or a blend; none is the mean style (or the plain model)")
    styles: list[str] = setting([], names, "several: each game plays one (see style_for)")
    steer: dict[str, float] = setting({}, mapping_of_numbers, "steer the style along measured properties")
    temperature: float = setting(TEMPERATURE, number(0, 100),
                                 "0 plays the most likely move, 1 samples the player's own choices")
    top_p: float = setting(TOP_P, number(0, 1), "draw only among the likeliest moves that reach this probability "
                                              "together (1: every move)")
    temp_cutoff_move: int = setting(TEMP_CUTOFF_MOVE, whole(0), "lc0's: from this move on the temperature is "
                                                               "temp_endgame (0: never)")
    temp_endgame: float = setting(TEMP_ENDGAME, number(0, 100), "the temperature from temp_cutoff_move on (0: the "
                                                               "search's most visited move)")
    nodes: int = setting(0, whole(0), "0: search as long as the move's time allows; 1: one network evaluation "
                                      "a move, the pure style; more: at most this many")
    human_time: bool = setting(True, flag, "take as long over each move as the person would (the think-time "
                                           "model); off: a slice of the clock, as engines do")
    own_book: bool = setting(True, flag, "the player's own games decide where they reach (their repertoire)")
    book_depth: int | None = setting(None, optional_whole, "...up to this ply; none: as deep as the repertoire goes")
    move_overhead: int = setting(1000, whole(0), "milliseconds kept back from each move's time for the network")
    threads: int = setting(1, whole(1), "torch threads; the games share the model and run side by side")
    draw_or_resign: DrawOrResign = section(DrawOrResign, "draws and resignation")


@dataclass
class ChallengeConfig:
    """lichess-bot's ``challenge`` section: which challenges to accept, and how many games at once."""

    concurrency: int = setting(1, whole(1), "games at once")
    sort_by: str = setting("best", choice("best", "first"), "the queue: best (highest rated first) or first come")
    preference: str = setting("none", choice("none", "human", "bot"), "who goes first in the queue")
    max_queue: int = setting(10, whole(0),
                             "challenges that wait for a free slot; beyond this they are declined (later)")
    accept_bot: bool = setting(True, flag, "accept challenges from bots (else: noBot)")
    only_bot: bool = setting(False, flag, "accept only bots (else: onlyBot)")
    max_increment: int = setting(180, whole(0), "seconds")
    min_increment: int = setting(0, whole(0), "seconds")
    max_base: int = setting(10800, whole(0), "seconds of initial clock")
    min_base: int = setting(0, whole(0), "seconds of initial clock")
    max_days: int = setting(14, whole(1), "correspondence: days per move")
    min_days: int = setting(1, whole(1), "correspondence: days per move")
    variants: list[str] = setting(list(VARIANTS), subset(*VARIANTS), "the rules played")
    time_controls: list[str] = setting(["bullet", "blitz", "rapid", "classical"], subset(*SPEEDS), "the speeds played")
    modes: list[str] = setting(list(MODES), subset(*MODES), "casual and/or rated")
    bullet_requires_increment: bool = setting(False, flag, "decline bullet without increment (timeControl)")
    max_simultaneous_games_per_user: int = setting(5, whole(1), "more against one player: declined (later)")
    allow_list: list[str] = setting([], names, "when set, only these may challenge")
    block_list: list[str] = setting([], names, "these may not")
    min_rating: int | None = setting(None, optional_whole, "the challenger's rating at least this")
    max_rating: int | None = setting(None, optional_whole, "the challenger's rating at most this")


@dataclass
class Greeting:
    """Chat at the start and end of each game; ``{me}``, ``{opponent}`` and ``{style}`` are filled in."""

    hello: str = setting("Hi! I'm {me}, playing as {style}. Good luck! Type !help for the commands I answer.",
                         text, "to the opponent, at the start")
    goodbye: str = setting("Good game!", text, "to the opponent, at the end")
    hello_spectators: str = setting("I'm {me}, playing as {style}. Type !help for the commands I answer.",
                                    text, "to spectators, at the start")
    goodbye_spectators: str = setting("Thanks for watching!", text, "to spectators, at the end")


@dataclass
class Config:
    url: str = setting("https://lichess.org/", text, "the Lichess server")
    engine: EngineConfig = section(EngineConfig, "the model and how it plays")
    challenge: ChallengeConfig = section(ChallengeConfig, "incoming challenges")
    greeting: Greeting = section(Greeting, "chat")
    abort_time: float = setting(30, number(1), "seconds to wait for the opponent's first move before aborting")
    rate_limit_wait: float = setting(60, number(0), "seconds to pause after HTTP 429, as Lichess asks")
    stream_timeout: float = setting(30, number(1),
                                    "a stream silent this long (no keep-alive either) is reconnected")
    max_takebacks_accepted: int = setting(0, whole(0), "per game")
    pgn_directory: str | None = setting(None, optional_text,
                                        "where finished games go (relative: from the config's folder); none: not saved")
    pgn_file_grouping: str = setting("game", choice("game", "opponent", "all"),
                                     "game (a file each), opponent (a file per opponent) or all")
    path: Path | None = None  # the file read (not a setting)
    unused: list[str] = field(default_factory=list)  # lichess-bot's keys found that this bot does not use


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
    cfg, unused = build(Config, [(data, where)], LICHESS_BOT_KEYS)
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
    return parse_config(read_mapping(path, "config file"), Path(path))


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
