"""``playas chess ...``: each subcommand parses its flags and calls one library function."""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from pathlib import Path

from ..core import commands as cc
from ..core.errors import PlayasError
from ..shipped import default_model
from . import TEMP_CUTOFF_MOVE, TEMP_ENDGAME, TEMPERATURE, TOP_P

DEFAULT_MODEL = str(default_model("chess"))
SPEEDS = ("ultrabullet", "bullet", "blitz", "rapid", "classical", "correspondence")  # Lichess's, one spelling


def _player_flags(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_mutually_exclusive_group(required=required)
    g.add_argument("--owner-from-filename", action="store_true",
                   help="each file holds one player's games, named after them (Anand.pgn.gz)")
    g.add_argument("--players", metavar="NAME,...", help="names or usernames as in the headers")
    g.add_argument("--min-games", type=int, metavar="N", help="every name with at least N games")


def _speeds(s: str) -> list[str]:
    names = [x.strip().lower() for x in s.split(",") if x.strip()]
    bad = [n for n in names if n not in SPEEDS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"{s!r} is not a list of speeds ({', '.join(SPEEDS)})")
    return names


def _plies(s: str) -> int:
    from .encoding import BOOK_PLIES

    if not s.isdigit() or int(s) > BOOK_PLIES:
        raise argparse.ArgumentTypeError(f"{s!r} is not a number of plies from 0 to {BOOK_PLIES}")
    return int(s)


def _book_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--book-depth", type=_plies, metavar="PLIES",
                   help="the style's own games (its repertoire) decide up to this ply; 0: the network alone "
                        "(default: as deep as the repertoire goes)")


def _players(s: str | None) -> list[str] | None:
    return [x.strip() for x in s.split(",") if x.strip()] if s else None


def _split(s: str) -> tuple[float, ...]:
    try:
        parts = tuple(float(x) for x in s.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not three fractions like 0.8,0.1,0.1") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"{s!r} is not three fractions like 0.8,0.1,0.1")
    return parts




# --- data and models -------------------------------------------------------------------------

def prepare_cmd(a) -> int:
    from .prepare import GameFilter, prepare

    keep = GameFilter(a.min_rating, a.max_rating, tuple(a.speeds or ()), a.rated_only)
    m = prepare(a.pgn, a.out, owner_from_filename_=a.owner_from_filename, players=_players(a.players),
                min_games=a.min_games, seed=a.seed, split=a.split, workers=a.workers,
                max_games_per_player=a.max_games_per_player, keep=keep, shard_games=a.shard_games,
                append=a.append)
    counts = [sum(v.values()) for v in m["games_per_player"].values()]
    print(f"wrote {a.out}: {m['games']:,} games in {len(m['shards'])} shards, {m['positions']:,} positions, "
          f"{m['targets']:,} target moves, {len(m['players'])} players ({min(counts, default=0)}-"
          f"{max(counts, default=0)} games each), {m['duplicates_merged']:,} duplicates merged, {m['seconds']}s")
    if m["skipped"]:
        print("skipped: " + ", ".join(f"{v:,} {k}" for k, v in sorted(m["skipped"].items(), key=lambda kv: -kv[1])))
    for d in m["damaged_files"]:
        print(f"damaged: {d}")
    return 0


def import_lc0_cmd(a) -> int:
    from ..core.output import writable_file
    from .lc0 import card_for, import_lc0
    from .model import save_model

    writable_file(a.out, "model")
    net = import_lc0(a.weights)
    save_model(a.out, net, card_for(a.weights, net))
    c = net.config
    print(f"wrote {a.out}: {c.blocks} blocks x {c.filters} filters, SE ratio {c.se_ratio}")
    return 0


def learn_time_cmd(a) -> int:
    from ..core.output import writable_file
    from ..core.progress import Progress
    from .policy import Policy
    from .thinktime import learn

    writable_file(a.out, "think-time model")
    policy = Policy.load(a.model)
    with Progress(None, "describing positions", unit="moves") as bar:
        model = learn(a.pgn, policy, a.max_moves, a.seed, progress=bar.update)
    model.save(a.out)
    c = model.card
    print(f"wrote {a.out}: {c['moves_fitted']:,} of {c['moves_with_clocks']:,} moves with clocks, "
          f"{c['players']} players")
    return 0


def learn_endings_cmd(a) -> int:
    from ..core.output import writable_file
    from ..core.progress import Progress
    from .endings import learn
    from .policy import Policy

    writable_file(a.out, "endings model")
    policy = Policy.load(a.model)
    with Progress(None, "reading positions", unit="positions") as bar:
        model = learn(a.pgn, policy, a.max_games, a.seed, a.search_nodes, progress=bar.update)
    model.card["model"] = Path(a.model).name  # the value head the rules read
    model.save(a.out)
    c, r, d = model.card, model.resign, model.draw
    print(f"wrote {a.out}: from {c['games']:,} games ({c['resigned']:,} resigned, {c['agreed']:,} agreed drawn)\n"
          f"resign: value <= {r.value:+.2f} for {r.moves} moves from ply {r.min_ply}"
          + (f" (a {r.nodes}-node search's where the value head reads {r.below:+.2f} or worse)" if r.nodes else "")
          + ": within 6 plies of the person "
          f"in {c['resign_where']:.1%}, false {c['resign_false']:.2%}\n"
          f"draw: draw chance >= {d.draw:.2f} for {d.moves} moves from ply {d.min_ply}: offered within 6 plies "
          f"of {c['draw']['where']:.1%} of agreed draws, in {c['draw']['false']:.2%} of won games")
    return 0


def train_base_cmd(a) -> int:
    from ..core.distributed import is_main
    from .train import BaseRecipe, train_base

    card = train_base(a.data, a.out, cc.training_recipe(a, BaseRecipe, ["--positions-per-epoch", "--init"]),
                      checkpoint_seconds=a.checkpoint_seconds)
    m = card["metrics"]
    if is_main():  # under torchrun, rank 0 alone reports
        print(f"wrote {a.out}: val_acc {m.get('val_acc')}, val_loss {m.get('val_loss')}")
    return 0


def repertoire_cmd(a) -> int:
    from .game import add_repertoire

    r = add_repertoire(a.model, a.data, a.out, a.plies)
    gain = max(r["val_loglik_by_prior_weight"].values()) - r["val_loglik_network_alone"]
    print(f"wrote {a.out}: {r['entries']:,} repertoire entries to ply {a.plies}, prior weights {r['prior_weight']:g} "
          f"(everyone's choices, in the player's counts) and {r['network_weight']:g} (the network, in everyone's); "
          f"held-out opening moves {gain:+.3f} nats a move over the network alone")
    return 0


# --- what a model thinks ---------------------------------------------------------------------

def _board(fen: str, moves) -> "chess.Board":  # noqa: F821
    import chess

    try:
        board = chess.Board() if fen == "startpos" else chess.Board(fen)
    except ValueError as e:
        raise PlayasError(f"bad FEN {fen!r} ({e})") from None
    for m in moves or []:
        try:
            board.push_uci(m) if len(m) in (4, 5) and m[1].isdigit() else board.push_san(m)
        except ValueError:
            raise PlayasError(f"{m!r} is not a legal move in {board.fen()}") from None
    if not board.is_valid():
        raise PlayasError(f"illegal position: {board.fen()}")
    if not any(board.legal_moves):
        raise PlayasError("the position has no legal moves (the game is over)")
    return board


def predict_cmd(a) -> int:
    from ..core.table import parse_steer
    from .policy import Policy

    board = _board(a.fen, a.moves)
    steer = parse_steer(a.steer)
    policy = Policy.load(a.model, style=a.style, steer=steer, book_depth=a.book_depth)
    an = policy.analyse(board)
    top = an.top(a.top)
    if a.json:
        print(json.dumps({"fen": board.fen(), "wdl": [round(float(x), 4) for x in an.wdl],
                          "value": round(an.value, 4), "book": round(float(an.book), 2),
                          "moves": [{"uci": m.uci(), "san": board.san(m), "prob": round(p, 4)} for m, p in top]}))
        return 0
    if policy.styled:
        steered = "".join(f", steered {k} {v:+g}" for k, v in steer.items())
        print(f"style     {a.style or 'mean of ' + str(len(policy.players)) + ' players'}{steered}")
    print(f"position  {board.fen()}")
    if an.book:
        print(f"book      {an.book:g} of the style's own games reached this position")
    print(f"value     {an.value:+.3f} for {'White' if board.turn else 'Black'}  "
          f"(win {an.wdl[0]:.1%}, draw {an.wdl[1]:.1%}, loss {an.wdl[2]:.1%})")
    for m, p in top:
        print(f"  {board.san(m):<8} {m.uci():<6} {p:6.1%}  {'#' * int(round(p * 40))}")
    return 0


@contextlib.contextmanager
def _enroll_source(a):
    """The games to enroll from: the PGN files given, or with ``--lichess-user`` the user's public
    games fetched to a temporary PGN (the card says where they came from; a token is not kept)."""
    if not a.lichess_user:
        if not a.games:
            raise PlayasError("give the player's games: --games PGN... or --lichess-user USERNAME")
        yield a.games, a.player, {"pgn": [Path(g).name for g in a.games]}
        return
    import datetime
    import os

    from .lichess_games import DEFAULT_PERFS, LICHESS_URL, TOKEN_VARIABLE, fetch_games

    if a.games or a.player or a.owner_from_filename:
        raise PlayasError("--lichess-user names the player and the games: leave out --games, --player and "
                          "--owner-from-filename")
    perfs, url = a.speed or list(DEFAULT_PERFS), a.lichess_url or LICHESS_URL
    with tempfile.TemporaryDirectory(prefix="playas-") as tmp:
        pgn = Path(tmp) / f"{a.lichess_user}.pgn"
        got = fetch_games(a.lichess_user, pgn, a.max, perfs, url=url, token=os.environ.get(TOKEN_VARIABLE) or None)
        print(f"fetched {got.games} public Lichess games of {got.username}")
        yield [pgn], got.username, {"lichess_user": got.username, "url": url, "perfs": perfs, "max": a.max,
                                    "fetched": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


# --- playing ---------------------------------------------------------------------------------

def play_cmd(a) -> int:
    import chess.engine

    from ..core.progress import Progress
    from ..core.table import parse_steer
    from .play import EnginePlayer, StylePlayer, open_engine, play_match
    from .policy import Policy

    from ..core.output import writable_file

    out_path = writable_file(a.out, "PGN file")
    steer = parse_steer(a.steer)
    me = StylePlayer(Policy.load(a.model, style=a.style, steer=steer, book_depth=a.book_depth), a.temperature,
                     name=(a.style or "mean style") + (f" steer {','.join(a.steer)}" if a.steer else ""), top_p=a.top_p,
                     temp_cutoff_move=a.temp_cutoff_move, temp_endgame=a.temp_endgame)
    engine = None
    if a.vs in ("stockfish", "engine") or (a.vs and Path(a.vs).is_file()):
        engine = open_engine(a.engine or ("stockfish" if a.vs in ("stockfish", "engine") else a.vs),
                             {"Skill Level": a.skill} if a.skill is not None else None)
        other = EnginePlayer(engine, chess.engine.Limit(time=a.engine_time), name=f"{a.vs}" +
                             (f" skill {a.skill}" if a.skill is not None else ""))
    else:
        other = StylePlayer(Policy.load(a.model, style=a.vs, book_depth=a.book_depth), a.temperature,
                            name=a.vs or "mean style", top_p=a.top_p, temp_cutoff_move=a.temp_cutoff_move,
                            temp_endgame=a.temp_endgame)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(out_path, "a", encoding="utf-8") as out, Progress(a.rounds, "play", unit="games") as bar:
            games = play_match(me, other, a.rounds, a.seed, out, a.max_plies, bar)
    finally:
        if engine:
            engine.quit()
    score = 0.0
    for i, g in enumerate(games):
        r = {"1-0": 1.0, "0-1": 0.0}.get(g.headers["Result"], 0.5)
        score += r if i % 2 == 0 else 1 - r
    print(f"wrote {len(games)} games to {out_path}: {me.name} scored {score:g}/{len(games)} against {other.name}")
    return 0


# --- the parser ------------------------------------------------------------------------------

def _query_flags(p) -> None:
    p.add_argument("--owner-from-filename", action="store_true",
                   help="the player is the one the file is named after (Anand.pgn), instead of --player")


def _measure_flags(p) -> None:
    p.add_argument("--split", choices=["train", "val", "test"], help="with --data: one split's games only")
    _player_flags(p, required=False)
    p.add_argument("--games-per-player", type=cc.whole(1), default=100, help="games measured per player")


def _eval_flags(p) -> None:
    _player_flags(p, required=False)
    p.add_argument("--max-positions", type=cc.whole(1), help="score a random subset of this many positions")
    _book_flag(p)


GAME_COMMANDS = cc.GameCommands(
    name="chess", game="playas.chess.game:GAME", default_model=DEFAULT_MODEL,
    files="PGN files (.pgn, .pgn.gz, .pgn.zst)", style_example="Tal:0.7,Petrosian:0.3",
    recipe_example="configs/styles.yml", map_colors=("year", "elo"),
    query_flags=_query_flags, query_options=lambda a: {"owner_from_filename": a.owner_from_filename},
    measure_flags=_measure_flags,
    measure_options=lambda a: {"games_per_player": a.games_per_player, "split": a.split,
                               "owner_from_filename": a.owner_from_filename, "players": _players(a.players),
                               "min_games": a.min_games},
    eval_flags=_eval_flags,
    eval_options=lambda a: {"owner_from_filename": a.owner_from_filename, "players": _players(a.players),
                            "min_games": a.min_games, "max_positions": a.max_positions, "book_depth": a.book_depth},
    recipe_flags={"--positions-per-epoch": (cc.whole(1), "positions an epoch"),
                  "--games-per-player": (cc.whole(1), "training games sampled per player")},
    enroll_source=_enroll_source)


def register(games):
    """Add ``chess`` and its commands to the top-level ``playas`` parser's games; returns the
    chess subcommands (the bots add theirs there)."""
    ch = games.add_parser("chess", help="chess: data, models, styles, engines and bots").add_subparsers(
        dest="cmd", metavar="COMMAND", required=True)
    _data_commands(ch)
    _model_commands(ch)
    cc.add_style_verbs(ch, GAME_COMMANDS)
    _enroll_from_lichess_flags(ch.choices["enroll"])
    _play_commands(ch)
    return ch


def _enroll_from_lichess_flags(p) -> None:
    p.add_argument("--lichess-user", metavar="USERNAME",
                   help="instead of --games: fetch the user's public games from Lichess (a token in LICHESS_TOKEN "
                        "is optional)")
    p.add_argument("--max", type=cc.whole(1), default=200, help="with --lichess-user: the latest N games")
    p.add_argument("--speed", type=_speeds, metavar="SPEED,...",
                   help=f"with --lichess-user: these speeds only, of {', '.join(SPEEDS)} (default: all but "
                        "ultrabullet)")
    p.add_argument("--lichess-url", help="with --lichess-user: where Lichess is (default https://lichess.org)")


def _data_commands(ch) -> None:
    p = cc.command(ch, "prepare", "encode PGN collections into a dataset, once")
    p.add_argument("pgn", nargs="+", help=".pgn, .pgn.gz or .pgn.zst files")
    p.add_argument("--out", required=True, help="dataset folder to create")
    _player_flags(p)
    p.add_argument("--seed", type=cc.whole(0), default=0, help="seed of the train/val/test split by game")
    p.add_argument("--split", type=_split, default=(0.8, 0.1, 0.1), help="train,val,test fractions")
    p.add_argument("--max-games-per-player", type=cc.whole(1), metavar="N",
                   help="keep a uniform random sample of about N games per player")
    p.add_argument("--min-rating", type=int, metavar="ELO", help="keep games whose players are both rated ELO or more")
    p.add_argument("--max-rating", type=int, metavar="ELO", help="keep games whose players are both rated ELO or less")
    p.add_argument("--speed", dest="speeds", type=_speeds, metavar="SPEED,...",
                   help=f"keep games of these Lichess speeds: {', '.join(SPEEDS)}")
    p.add_argument("--rated-only", action="store_true", help="drop casual games (Event says casual)")
    p.add_argument("--shard-games", type=cc.whole(1), default=50_000, metavar="N", help="games per shard")
    p.add_argument("--append", action="store_true", help="add these inputs to the dataset already in --out")
    p.add_argument("--workers", type=cc.whole(1), default=None, help="processes (default: all cores)")
    p.set_defaults(func=prepare_cmd)

    p = cc.command(ch, "import-lc0", "import an lc0/Maia network (.pb.gz)")
    p.add_argument("weights", help="lc0 network file (.pb.gz), e.g. maia-1900.pb.gz")
    p.add_argument("--out", required=True, help="the model file to write")
    p.set_defaults(func=import_lc0_cmd)


def _model_commands(ch) -> None:
    p = cc.command(ch, "train-base", "train the base policy from a prepared dataset (resumable)")
    cc.training_flags(p, "configs/base.yml")
    p.add_argument("--positions-per-epoch", type=cc.whole(1), help="positions an epoch (default: the recipe's)")
    p.add_argument("--init", help="start from this plain model (fine-tune), e.g. models/maia-1900.pt")
    p.set_defaults(func=train_base_cmd)

    p = cc.command(ch, "repertoire", "each player's own opening choices from a dataset, in a copy of a styled model")
    cc.model_flag(p, DEFAULT_MODEL, "styled model")
    p.add_argument("--data", required=True, help="a prepared dataset: training games are counted, validation "
                                                 "games fit the prior weight")
    p.add_argument("--plies", type=cc.whole(0), default=30, help="how deep into each game (1 to 60)")
    p.add_argument("--out", required=True, help="the model file to write")
    p.set_defaults(func=repertoire_cmd)

    p = cc.command(ch, "learn-time", "learn how long people think over a move, from games with clocks")
    p.add_argument("pgn", nargs="+", help="PGN files whose moves carry [%%clk] comments")
    cc.model_flag(p, str(default_model("chess").parent / "population-197.pt"),
                  "chess model whose policy describes each position")
    p.add_argument("--max-moves", type=cc.whole(1), default=100_000, help="learn from this many moves, "
                   "drawn uniformly (seeded)")
    p.add_argument("--seed", type=cc.whole(0), default=0, help="seed of the move sample and the fit")
    p.add_argument("--out", required=True, help="the think-time model to write (.json)")
    p.set_defaults(func=learn_time_cmd)

    p = cc.command(ch, "learn-endings", "learn when people resign and agree draws, from how their games ended")
    p.add_argument("pgn", nargs="+", help="PGN files of finished games (a Termination tag helps; without one, a "
                                          "decisive game not ending in mate counts as resigned)")
    cc.model_flag(p, str(default_model("chess").parent / "population-197.pt"),
                  "chess model whose value head the rules read (the one the bots play with)")
    p.add_argument("--max-games", type=cc.whole(1), default=3000, help="learn from this many games, drawn "
                   "uniformly (seeded)")
    p.add_argument("--seed", type=cc.whole(0), default=0, help="seed of the game sample")
    p.add_argument("--search-nodes", type=cc.whole(0), default=64, help="the resignation rule reads the bot's "
                   "search of this many nodes where the value head reads -0.7 or worse (0: the value head alone; "
                   "slow to learn: about a second a bad position)")
    p.add_argument("--out", required=True, help="the endings model to write (.json)")
    p.set_defaults(func=learn_endings_cmd)

    p = cc.command(ch, "predict", "the model's move probabilities and value for one position")
    cc.model_flag(p, DEFAULT_MODEL)
    p.add_argument("--fen", default="startpos", help="a FEN, or startpos")
    p.add_argument("--moves", nargs="*", help="moves played from the FEN (UCI or SAN), giving history")
    cc.style_flags(p, GAME_COMMANDS.style_example)
    _book_flag(p)
    cc.output_flags(p, top=5)
    p.set_defaults(func=predict_cmd)


def _play_commands(ch) -> None:
    p = cc.command(ch, "play", "games between styles, or a style against a UCI engine")
    cc.model_flag(p, DEFAULT_MODEL)
    cc.style_flags(p, GAME_COMMANDS.style_example)
    p.add_argument("--vs", help="the other side: a style, or stockfish (or a UCI engine's path) (default: mean)")
    p.add_argument("--engine", help="path of the UCI engine for --vs stockfish (default: found on PATH or /usr/games)")
    p.add_argument("--skill", type=int, help="the engine's Skill Level option (Stockfish: 0-20)")
    p.add_argument("--engine-time", type=cc.number(0, above=True), default=0.05, help="engine seconds per move")
    p.add_argument("--rounds", type=cc.whole(1), default=2, help="games to play, colours alternating")
    p.add_argument("--temperature", type=cc.number(0), default=TEMPERATURE, help="0 plays the most likely move")
    p.add_argument("--top-p", type=cc.number(0, 1), default=TOP_P,
                   help="draw only among the likeliest moves that reach this probability together (1: every move)")
    p.add_argument("--temp-cutoff-move", type=cc.whole(0), default=TEMP_CUTOFF_MOVE,
                   help="from this move on the temperature is --temp-endgame (0: never), as lc0's option")
    p.add_argument("--temp-endgame", type=cc.number(0), default=TEMP_ENDGAME,
                   help="the temperature from --temp-cutoff-move on (0: the most likely move)")
    p.add_argument("--max-plies", type=cc.whole(1), default=400, help="a game longer than this is a draw")
    p.add_argument("--seed", type=cc.whole(0), default=0, help="the same seed plays the same games")
    _book_flag(p)
    p.add_argument("--out", required=True, help="PGN file to append the games to")
    p.set_defaults(func=play_cmd)
