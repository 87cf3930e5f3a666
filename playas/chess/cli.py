"""``playas chess ...``: each subcommand parses its flags and calls one library function."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from ..core.config import recipe_with as _recipe
from ..core.errors import PlayasError
from ..shipped import default_model

DEFAULT_MODEL = str(default_model("chess"))


def _player_flags(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_mutually_exclusive_group(required=required)
    g.add_argument("--owner-from-filename", action="store_true",
                   help="each file holds one player's games, named after them (Anand.pgn.gz)")
    g.add_argument("--players", metavar="NAME,...", help="names or usernames as in the headers")
    g.add_argument("--min-games", type=int, metavar="N", help="every name with at least N games")


def _one_player_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--player", help="the player's name as in the headers")
    p.add_argument("--owner-from-filename", action="store_true", help="the file is named after the player")


def _style_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", help="a player (Tal) or a blend (Tal:0.7,Petrosian:0.3); quote a name that "
                                   "holds a comma or colon: '\"Carlsen, Magnus\":0.5,Tal:0.5'")
    p.add_argument("--steer", action="append", metavar="PROPERTY=AMOUNT",
                   help="move the style along a measured property (repeatable)")


def _positive(s: str) -> int:
    if not s.isdigit() or int(s) < 1:
        raise argparse.ArgumentTypeError(f"{s!r} is not a whole number of at least 1")
    return int(s)


def _speeds(s: str) -> list[str]:
    from .prepare import SPEEDS

    names = [x.strip().lower() for x in s.split(",") if x.strip()]
    known = [n for n, _ in SPEEDS] + ["correspondence"]
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"{s!r} is not a list of speeds ({', '.join(known)})")
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


def _model_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"a chess model (default: {DEFAULT_MODEL})")


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




def _one_player(a) -> dict:
    if bool(a.player) == bool(a.owner_from_filename):
        raise PlayasError("say whose moves these are with exactly one of --player NAME or --owner-from-filename")
    return dict(owner_from_filename=a.owner_from_filename, player=a.player)


def _data_or_games(a) -> None:
    if bool(a.data) == bool(a.games):
        raise PlayasError("give either --data DIR or --games PGN...")
    if a.games and not (a.owner_from_filename or a.players or a.min_games):
        raise PlayasError("with --games, say whose moves: --owner-from-filename, --players or --min-games")


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
    from .lc0 import card_for, import_lc0
    from .model import save_model

    net = import_lc0(a.weights)
    save_model(a.out, net, card_for(a.weights, net))
    c = net.config
    print(f"wrote {a.out}: {c.blocks} blocks x {c.filters} filters, SE ratio {c.se_ratio}")
    return 0


def _is_main() -> bool:
    from ..core.distributed import is_main  # under torchrun, rank 0 alone reports

    return is_main()


def train_base_cmd(a) -> int:
    from .train import RECIPE_SCHEMA, train_base

    recipe = _recipe(a.recipe, RECIPE_SCHEMA, {"epochs": a.epochs, "positions_per_epoch": a.positions_per_epoch,
                                               "init": a.init})
    card = train_base(a.data, a.out, recipe, checkpoint_seconds=a.checkpoint_seconds)
    m = card["metrics"]
    if _is_main():
        print(f"wrote {a.out}: val_acc {m.get('val_acc')}, val_loss {m.get('val_loss')}")
    return 0


def train_styles_cmd(a) -> int:
    from .styles import RECIPE_SCHEMA, train_styles

    recipe = _recipe(a.recipe, RECIPE_SCHEMA, {"epochs": a.epochs, "positions_per_epoch": a.positions_per_epoch,
                                               "games_per_player": a.games_per_player})
    card = train_styles(a.base, a.data, a.out, recipe, checkpoint_seconds=a.checkpoint_seconds)
    m = card["metrics"]
    if _is_main():
        print(f"wrote {a.out}: {card['players']} players, val_acc {m.get('val_acc')}, val_loss {m.get('val_loss')}")
    return 0


def repertoire_cmd(a) -> int:
    from .styles import add_repertoire

    r = add_repertoire(a.model, a.data, a.out, a.plies)
    gain = max(r["val_loglik_by_prior_weight"].values()) - r["val_loglik_network_alone"]
    print(f"wrote {a.out}: {r['entries']:,} repertoire entries to ply {a.plies}, prior weights {r['prior_weight']:g} "
          f"(everyone's choices, in the player's counts) and {r['network_weight']:g} (the network, in everyone's); "
          f"held-out opening moves {gain:+.3f} nats a move over the network alone")
    return 0


# --- what a model thinks ---------------------------------------------------------------------

def eval_cmd(a) -> int:
    import numpy as np

    from ..core.styles import parse_steer
    from .dataset import ChessData
    from .prepare import prepare
    from .evaluate import format_report, move_matching, styled_forward
    from .model import load_model

    _data_or_games(a)
    from .styles import style_plies

    nets, plies = {}, {}
    for path in a.model:
        net, blob = load_model(path)
        name = Path(path).stem if Path(path).stem not in nets else str(path)
        nets[name], plies[name] = net, style_plies(blob["card"])
    steer = parse_steer(a.steer)
    with tempfile.TemporaryDirectory(prefix="playas-eval-") as tmp:
        if a.games:
            prepare(a.games, Path(tmp) / "d", owner_from_filename_=a.owner_from_filename,
                    players=_players(a.players), min_games=a.min_games, split=(0.0, 0.0, 1.0))
            data, split = ChessData(Path(tmp) / "d"), "test"
        else:
            data, split = ChessData(a.data), a.split
        idx = data.targets(split)
        if a.max_positions and len(idx) > a.max_positions:
            idx = np.random.default_rng(0).choice(idx, a.max_positions, replace=False)
        if not len(idx):
            raise PlayasError(f"no positions of tracked players in the {split} split")
        report = move_matching({n: styled_forward(net, data.players, a.style, steer, a.book_depth, plies[n])
                                for n, net in nets.items()}, data, idx)
    print(json.dumps(report) if a.json else format_report(report))
    return 0


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
    from ..core.styles import parse_steer
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


# --- players: enroll, identify, properties ---------------------------------------------------

def enroll_cmd(a) -> int:
    from .styles import enroll

    if a.lichess_user:
        return _enroll_from_lichess(a)
    r = enroll(a.model, a.name, a.games, a.out, **_one_player(a), source={"pgn": [Path(g).name for g in a.games]})
    print(f"wrote {a.out}: enrolled {r['name']} from {r['games']} games; nearest styles: "
          + ", ".join(f"{n} ({s:.2f})" for n, s in r["similar"]))
    return 0


def _enroll_from_lichess(a) -> int:
    """``enroll --lichess-user``: the user's public games, fetched to a temporary PGN, enrolled as
    that user's moves; the card says where they came from (the token, if any, is not kept)."""
    import datetime
    import os

    from .lichess_games import DEFAULT_PERFS, LICHESS_URL, TOKEN_VARIABLE, fetch_games
    from .styles import enroll

    if a.player or a.owner_from_filename:
        raise PlayasError("--lichess-user names the player: leave out --player and --owner-from-filename")
    perfs, url = _players(a.perf) or list(DEFAULT_PERFS), a.lichess_url or LICHESS_URL
    with tempfile.TemporaryDirectory(prefix="playas-") as tmp:
        pgn = Path(tmp) / f"{a.lichess_user}.pgn"
        got = fetch_games(a.lichess_user, pgn, a.max, perfs, url=url, token=os.environ.get(TOKEN_VARIABLE) or None)
        source = {"lichess_user": got.username, "url": url, "perfs": perfs, "max": a.max,
                  "fetched": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        r = enroll(a.model, a.name, [pgn], a.out, player=got.username, source=source)
    print(f"wrote {a.out}: enrolled {r['name']} from {r['games']} of {got.games} public Lichess games of "
          f"{got.username}; nearest styles: " + ", ".join(f"{n} ({s:.2f})" for n, s in r["similar"]))
    return 0


def identify_cmd(a) -> int:
    from ..core.fitting import ranking
    from .styles import identify

    r = identify(a.model, a.games, **_one_player(a), method=a.method)
    ranked = ranking(r["names"], r["scores"], a.top)
    if a.json:
        print(json.dumps({"games": r["games"], "method": a.method, "ranking": ranked}))
        return 0
    print(f"{r['games']} games, {r['moves']:,} moves; ranked by {a.method}")
    for i, x in enumerate(ranked, 1):
        print(f"{i:>3}. {x['name']:<24} {x['score']:+.4f}")
    return 0


def properties_cmd(a) -> int:
    from .dataset import ChessData
    from .properties import PROPERTIES, dataset_properties, steering_directions

    _data_or_games(a)
    if a.model and not a.out:
        raise PlayasError("--model needs --out: where to write the model with steering directions")
    if a.games:
        from .styles import encode_games

        data, tmp = encode_games(a.games, owner_from_filename=a.owner_from_filename, players=_players(a.players))
        with tmp:
            props = dataset_properties(data, a.games_per_player)
    else:
        props = dataset_properties(ChessData(a.data), a.games_per_player, split=a.split)
    if a.model:
        from ..core.checkpoint import card_for_copy
        from .model import load_styled, save_model

        model, blob = load_styled(a.model)
        model.table.directions.update(steering_directions(model.table, props))
        card = card_for_copy(blob)
        card["steering"] = {"properties": sorted(model.table.directions), "games_per_player": a.games_per_player}
        save_model(a.out, model, card)
    if a.json:
        print(json.dumps(props))
        return 0
    short = {"capture_rate": "capture", "check_rate": "check", "early_queen": "queen<10", "castle_kingside": "O-O",
             "castle_queenside": "O-O-O", "pawn_storm": "storm", "game_length": "plies", "draw_rate": "draws"}
    print(f"{'player':<20} {'games':>5} " + " ".join(f"{short[k]:>8}" for k in PROPERTIES))
    for name, p in sorted(props.items()):
        print(f"{name:<20} {p['games']:>5} " + " ".join(
            f"{p[k]:>8.1f}" if k == "game_length" else f"{p[k]:>8.3f}" for k in PROPERTIES))
    if a.model:
        print(f"wrote {a.out} with steering directions for {', '.join(sorted(model.table.directions))}")
    return 0


# --- playing ---------------------------------------------------------------------------------

def play_cmd(a) -> int:
    import chess.engine

    from ..core.progress import Progress
    from ..core.styles import parse_steer
    from .play import EnginePlayer, StylePlayer, open_engine, play_match
    from .policy import Policy

    steer = parse_steer(a.steer)
    me = StylePlayer(Policy.load(a.model, style=a.style, steer=steer, book_depth=a.book_depth), a.temperature,
                     name=(a.style or "mean style") + (f" steer {','.join(a.steer)}" if a.steer else ""))
    engine = None
    if a.vs in ("stockfish", "engine") or (a.vs and Path(a.vs).is_file()):
        engine = open_engine(a.engine or ("stockfish" if a.vs in ("stockfish", "engine") else a.vs),
                             {"Skill Level": a.skill} if a.skill is not None else None)
        other = EnginePlayer(engine, chess.engine.Limit(time=a.engine_time), name=f"{a.vs}" +
                             (f" skill {a.skill}" if a.skill is not None else ""))
    else:
        other = StylePlayer(Policy.load(a.model, style=a.vs, book_depth=a.book_depth), a.temperature,
                            name=a.vs or "mean style")
    out_path = Path(a.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(out_path, "a", encoding="utf-8") as out, Progress(a.games, "play", unit="games") as bar:
            games = play_match(me, other, a.games, a.seed, out, a.max_plies, bar)
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

def register(games):
    """Add ``chess`` and its commands to the top-level ``playas`` parser's games; returns the
    chess subcommands (the bots add theirs there)."""
    from ..core.commands import add_styles_command

    ch = games.add_parser("chess", help="chess: data, models, styles, engines and bots").add_subparsers(
        dest="cmd", metavar="COMMAND", required=True)
    _data_commands(ch)
    _model_commands(ch)
    _player_commands(ch)
    add_styles_command(ch, "playas.chess.model", DEFAULT_MODEL)
    _play_commands(ch)
    return ch


def _data_commands(ch) -> None:
    p = ch.add_parser("prepare", help="encode PGN collections into a dataset, once")
    p.add_argument("pgn", nargs="+", help=".pgn, .pgn.gz or .pgn.zst files")
    p.add_argument("--out", required=True, help="dataset folder to create")
    _player_flags(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the train/val/test split by game")
    p.add_argument("--split", type=_split, default=(0.8, 0.1, 0.1), help="train,val,test fractions")
    p.add_argument("--max-games-per-player", type=int, metavar="N",
                   help="keep a uniform random sample of about N games per player")
    p.add_argument("--min-rating", type=int, metavar="ELO", help="keep games whose players are both rated ELO or more")
    p.add_argument("--max-rating", type=int, metavar="ELO", help="keep games whose players are both rated ELO or less")
    p.add_argument("--time-control", dest="speeds", type=_speeds, metavar="SPEED,...",
                   help="keep games of these Lichess speeds: ultrabullet, bullet, blitz, rapid, classical, "
                        "correspondence")
    p.add_argument("--rated-only", action="store_true", help="drop casual games (Event says casual)")
    p.add_argument("--shard-games", type=_positive, default=50_000, metavar="N", help="games per shard (default 50000)")
    p.add_argument("--append", action="store_true", help="add these inputs to the dataset already in --out")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.set_defaults(func=prepare_cmd)

    p = ch.add_parser("import-lc0", help="import an lc0/Maia network (.pb.gz)")
    p.add_argument("weights")
    p.add_argument("--out", required=True)
    p.set_defaults(func=import_lc0_cmd)

    p = ch.add_parser("properties", help="style properties of players, from their games")
    p.add_argument("--data", help="a prepared dataset")
    p.add_argument("--split", choices=["train", "val", "test"])
    p.add_argument("--games", nargs="+", help="PGN files instead of a dataset")
    _player_flags(p, required=False)
    p.add_argument("--games-per-player", type=int, default=100)
    p.add_argument("--model", help="a styled model: store steering directions in a copy of it")
    p.add_argument("--out", help="where to write that copy")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=properties_cmd)


def _model_commands(ch) -> None:
    p = ch.add_parser("train-base", help="train the base policy from a prepared dataset (resumable)")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--recipe", help="YAML recipe (configs/base.yml)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--positions-per-epoch", type=int)
    p.add_argument("--init", help="start from this plain model (fine-tune), e.g. models/maia-1900.pt")
    p.add_argument("--checkpoint-seconds", type=float, default=120.0, help="save the state to resume from this often")
    p.set_defaults(func=train_base_cmd)

    p = ch.add_parser("train-styles", help="train MHR adapters and a style vector per player (resumable)")
    p.add_argument("--base", required=True, help="a base model (imported Maia or train-base)")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--recipe", help="YAML recipe (configs/styles.yml)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--positions-per-epoch", type=int)
    p.add_argument("--games-per-player", type=int)
    p.add_argument("--checkpoint-seconds", type=float, default=120.0, help="save the state to resume from this often")
    p.set_defaults(func=train_styles_cmd)

    p = ch.add_parser("repertoire", help="each player's own opening choices from a dataset, in a copy of a "
                                         "styled model")
    _model_flag(p)
    p.add_argument("--data", required=True, help="a prepared dataset: training games are counted, validation "
                                                 "games fit the prior weight")
    p.add_argument("--plies", type=int, default=30, help="how deep into each game (at most 60)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=repertoire_cmd)

    p = ch.add_parser("eval", help="move-matching accuracy of one or more models, side by side")
    p.add_argument("--model", action="append", required=True, help="a checkpoint; repeat to compare")
    p.add_argument("--data", help="a prepared dataset")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--games", nargs="+", help="PGN files instead of a dataset")
    _player_flags(p, required=False)
    p.add_argument("--max-positions", type=int, help="score a random subset of this many positions")
    _style_flags(p)
    _book_flag(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=eval_cmd)

    p = ch.add_parser("predict", help="the model's move probabilities and value for one position")
    _model_flag(p)
    p.add_argument("--fen", default="startpos", help="a FEN, or startpos")
    p.add_argument("--moves", nargs="*", help="moves played from the FEN (UCI or SAN), giving history")
    p.add_argument("--top", type=int, default=5)
    _style_flags(p)
    _book_flag(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=predict_cmd)


def _player_commands(ch) -> None:
    p = ch.add_parser("enroll", help="add a player to a styled model from a few of their games")
    _model_flag(p)
    p.add_argument("--name", required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--games", nargs="+", help="PGN files of the player's games")
    g.add_argument("--lichess-user", metavar="USERNAME",
                   help="fetch the user's public games from Lichess (a token in LICHESS_TOKEN is optional)")
    _one_player_flags(p)
    p.add_argument("--max", type=int, default=200, help="with --lichess-user: the latest N games (default 200)")
    p.add_argument("--perf", metavar="SPEED,...", help="with --lichess-user: these speeds only, of ultraBullet, "
                   "bullet, blitz, rapid, classical, correspondence (default: all but ultraBullet)")
    p.add_argument("--lichess-url", help="with --lichess-user: where Lichess is (default https://lichess.org)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=enroll_cmd)

    p = ch.add_parser("identify", help="who played these games (behavioral stylometry)")
    _model_flag(p)
    p.add_argument("--games", nargs="+", required=True)
    _one_player_flags(p)
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--method", default="likelihood", choices=["likelihood", "vector"],
                   help="likelihood of the moves under each style (default, measured better), or the "
                        "similarity of a style row fitted on them")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=identify_cmd)


def _play_commands(ch) -> None:
    p = ch.add_parser("play", help="games between styles, or a style against a UCI engine")
    _model_flag(p)
    _style_flags(p)
    p.add_argument("--vs", help="a style, or stockfish (or a UCI engine's path); default the mean style")
    p.add_argument("--engine", help="path of the UCI engine for --vs stockfish")
    p.add_argument("--skill", type=int, help="the engine's Skill Level option (Stockfish: 0-20)")
    p.add_argument("--engine-time", type=float, default=0.05, help="engine seconds per move")
    p.add_argument("--games", type=int, default=2)
    p.add_argument("--temperature", type=float, default=1.0, help="0 plays the most likely move")
    p.add_argument("--max-plies", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    _book_flag(p)
    p.add_argument("--out", required=True, help="PGN file to append the games to")
    p.set_defaults(func=play_cmd)
