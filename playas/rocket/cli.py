"""``playas rocket ...``: each subcommand parses its flags and calls one library function."""

from __future__ import annotations

import argparse
import json

from ..core.config import recipe_with as _recipe
from ..core.errors import PlayasError
from ..shipped import default_model

DEFAULT_MODEL = str(default_model("rocket"))




def _style_flags(p) -> None:
    p.add_argument("--style", help="a player (Posix) or a blend (Posix:0.5,Nadir:0.5)")
    p.add_argument("--steer", action="append", metavar="PROPERTY=AMOUNT",
                   help="move the style along a property measured from replays: speed, boost_per_minute, "
                        "supersonic, airborne, ball_distance, height (repeatable)")


def _controls(c) -> str:
    """An action's controls that are not at rest: ``throttle +1 steer -1 boost``."""
    names = ("throttle", "steer", "pitch", "yaw", "roll", "jump", "boost", "handbrake")
    on = [f"{n} {v:+g}" if i < 5 else n for i, (n, v) in enumerate(zip(names, c)) if v]
    return " ".join(on) or "nothing (coast)"


def prepare_cmd(a) -> int:
    from .dataset import prepare

    m = prepare(a.replays, a.out, workers=a.workers)
    recurring = sum(p["games"] >= 3 for p in m["players"].values())
    print(f"wrote {a.out}: {len(m['games'])} games, {m['decisions']:,} decisions of {len(m['players'])} players "
          f"({recurring} in 3+ games), {m['frames']:,} frames in {m['seconds']}s ({m['frames_per_second']:,} frames/s, "
          f"{m['workers']} processes)")
    agree = ", ".join(f"{k} {v['rate'] * 100:.1f}%" for k, v in m["agreement"].items() if v["rate"] is not None)
    print(f"physics-inferred controls agree with the recorded ones: {agree}")
    for f, why in sorted(m["skipped"].items()):
        print(f"skipped {f}: {why}")
    return 0


def _is_main() -> bool:
    from ..core.distributed import is_main  # under torchrun, rank 0 alone reports

    return is_main()


def train_base_cmd(a) -> int:
    from .train import BASE_SCHEMA, train_base

    card = train_base(a.data, a.out, _recipe(a.recipe, BASE_SCHEMA, {"epochs": a.epochs}),
                      checkpoint_seconds=a.checkpoint_seconds)
    m = card["metrics"]
    if _is_main():
        print(f"wrote {a.out}: train_acc {m.get('train_acc')}, val_acc {m.get('val_acc')}")
    return 0


def train_styles_cmd(a) -> int:
    from .train import STYLES_SCHEMA, train_styles

    card = train_styles(a.base, a.data, a.out, _recipe(a.recipe, STYLES_SCHEMA, {"epochs": a.epochs}),
                        checkpoint_seconds=a.checkpoint_seconds)
    m = card["metrics"]
    if _is_main():
        print(f"wrote {a.out}: {card['players']} players, val_acc {m.get('val_acc')}")
    return 0


def eval_cmd(a) -> int:
    from .dataset import RocketData
    from .evaluate import predictions, scores
    from .model import load_model
    from .train import split_games

    data = RocketData.open(a.data)
    results = {}
    for path in a.model:
        model, blob = load_model(path)
        split = blob["card"].get("split") or split_games(data)
        rows = data.rows(split[a.split])
        if not len(rows):
            raise PlayasError(f"{path} has no {a.split} games in {a.data}")
        styles = ["own", "mean", "base"] if "styles" in blob else ["base"]
        for st in styles:
            results[f"{path} [{st}]"] = scores(predictions(model, data, rows, st), data.action[rows])
    if a.json:
        print(json.dumps(results, indent=1))
        return 0
    cols = list(next(iter(results.values())))
    print(f"{'model':<44}" + "".join(f"{c:>10}" for c in cols))
    for name, r in results.items():
        print(f"{name:<44}" + "".join(f"{r[c]:>10.2f}" for c in cols))
    return 0


def identify_cmd(a) -> int:
    from .styles import identify

    r = identify(a.model, a.replay, a.player, method=a.method, seconds=a.seconds)
    ranked = r["ranking"][: a.top]
    if a.json:
        print(json.dumps({"games": r["games"], "seconds": r["seconds"], "method": a.method, "ranking": ranked}))
        return 0
    print(f"{a.player}: {r['decisions']:,} decisions ({r['seconds']:.0f} s of play) in {r['games']} game(s); "
          f"ranked by {a.method}")
    for i, x in enumerate(ranked, 1):
        print(f"{i:>3}. {x['name']:<28} {x['score']:+.4f}")
    return 0


def enroll_cmd(a) -> int:
    from .styles import enroll

    r = enroll(a.model, a.name, a.replay, a.player or a.name, a.out)
    print(f"wrote {a.out}: enrolled {r['name']} from {r['games']} game(s), {r['decisions']:,} decisions")
    print("nearest styles: " + ", ".join(f"{n} {s:+.2f}" for n, s in r["similar"]))
    return 0


def predict_cmd(a) -> int:
    from ..core.styles import parse_steer
    from .styles import predict

    r = predict(a.model, a.replay, a.player, a.at, a.style, parse_steer(a.steer), a.top)
    if a.json:
        print(json.dumps(r))
        return 0
    steer = ", steered " + ", ".join(a.steer) if a.steer else ""
    print(f"{r['player']} at {r['at']:.2f} s, style {r['style']}{steer}")
    for x in r["top"]:
        mark = "  <- played" if x["action"] == r["did"]["action"] else ""
        print(f"  {x['p']:6.1%}  #{x['action']:<3} {_controls(x['controls'])}{mark}")
    if all(x["action"] != r["did"]["action"] for x in r["top"]):
        d = r["did"]
        print(f"  played #{d['action']} ({_controls(d['controls'])}) at {d['p']:.1%}")
    return 0


def match_cmd(a) -> int:
    from .match import play_match, summary_text, write_match

    styles = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    blue, orange = styles(a.blue), styles(a.orange)
    r = play_match(blue, orange, minutes=a.minutes, seed=a.seed, model=a.model, temperature=a.temperature)
    paths = write_match(r, a.out)
    print(summary_text(r), end="")
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def register(games):
    """Add ``rocket`` and its commands to the top-level parser; returns its subcommands."""
    from ..core.commands import add_styles_command

    rk = games.add_parser("rocket", help="Rocket League: replays, models, styles").add_subparsers(
        dest="cmd", metavar="COMMAND", required=True)
    p = rk.add_parser("prepare", help="real .replay files into per-player decisions, encoded once")
    p.add_argument("replays", nargs="+", help=".replay files or folders of them")
    p.add_argument("--out", required=True, help="dataset folder to create")
    p.add_argument("--workers", type=int, help="processes (default: all cores)")
    p.set_defaults(func=prepare_cmd)

    p = rk.add_parser("train-base", help="train the base policy on every player's decisions (resumable)")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--recipe", help="YAML recipe (configs/rocket-base.yml)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--checkpoint-seconds", type=float, default=120.0, help="save the state to resume from this often")
    p.set_defaults(func=train_base_cmd)

    p = rk.add_parser("train-styles", help="MHR adapters and a style vector per player (resumable)")
    p.add_argument("--base", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--recipe", help="YAML recipe (configs/rocket-styles.yml)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--checkpoint-seconds", type=float, default=120.0, help="save the state to resume from this often")
    p.set_defaults(func=train_styles_cmd)

    p = rk.add_parser("eval", help="action accuracy of models on held-out games")
    p.add_argument("--model", action="append", required=True, help="a checkpoint; repeat to compare")
    p.add_argument("--data", required=True, help="the prepared dataset the models were trained on")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=eval_cmd)

    p = rk.add_parser("identify", help="who drove this car (behavioral stylometry)")
    p.add_argument("--replay", nargs="+", required=True, help="replay file(s)")
    p.add_argument("--player", required=True, help="the in-game name of the car's driver in the replay")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"a styled model (default: {DEFAULT_MODEL})")
    p.add_argument("--seconds", type=float, help="only the first N seconds of their play")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--method", default="likelihood", choices=["likelihood", "vector"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=identify_cmd)

    p = rk.add_parser("enroll", help="add a player to a styled model from a few of their replays")
    p.add_argument("--name", required=True, help="the name their style gets")
    p.add_argument("--replay", nargs="+", required=True)
    p.add_argument("--player", help="their in-game name in the replays (default: --name)")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--out", required=True)
    p.set_defaults(func=enroll_cmd)

    p = rk.add_parser("predict", help="a style's action probabilities at a moment of a replay")
    p.add_argument("--replay", required=True)
    p.add_argument("--player", required=True, help="whose car (in-game name)")
    p.add_argument("--at", type=float, default=30.0, help="seconds into their play")
    p.add_argument("--model", default=DEFAULT_MODEL)
    _style_flags(p)
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=predict_cmd)

    p = rk.add_parser("match", help="a simulated soccar match (RocketSim) with a style driving every car")
    p.add_argument("--blue", required=True, help="a player (or mean) per blue car, comma-separated: Posix,Nadir")
    p.add_argument("--orange", required=True, help="one style per orange car, comma-separated (1 to 3)")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0, help="1 samples the policy as learned (seeded: the same seed, the same match); 0 takes the likeliest action")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--out", required=True, help="folder for summary.txt/.json, trajectories.npz, pitch.svg")
    p.set_defaults(func=match_cmd)

    add_styles_command(rk, "playas.rocket.model", DEFAULT_MODEL)
    return rk
