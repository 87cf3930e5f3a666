"""``playas rocket ...``: each subcommand parses its flags and calls one library function."""

from __future__ import annotations

import json

from ..core import commands as cc
from ..shipped import default_model, driving_model
from .vocabulary import TEMPERATURE  # light: no imports

DEFAULT_MODEL = str(default_model("rocket"))  # the behaviour-cloned styles: what reads people
DRIVING_MODEL = str(driving_model("rocket"))  # the styles fine-tuned in play: what drives
STYLE_EXAMPLE = "Posix:0.5,Nadir:0.5"


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


def train_base_cmd(a) -> int:
    from ..core.distributed import is_main
    from .train import BaseRecipe, train_base

    card = train_base(a.data, a.out, cc.training_recipe(a, BaseRecipe), checkpoint_seconds=a.checkpoint_seconds)
    m = card["metrics"]
    if is_main():  # under torchrun, rank 0 alone reports
        print(f"wrote {a.out}: train_acc {m.get('train_acc')}, val_acc {m.get('val_acc')}")
    return 0


def train_play_cmd(a) -> int:
    from ..core.output import writable_file
    from .dataset import replay_files
    from .finetune import PlayRecipe, train_play

    out = writable_file(a.out)
    files = replay_files(a.games) if a.games else []
    card = train_play(a.model, files, out, cc.training_recipe(a, PlayRecipe, flags=("--agent-steps",)),
                      checkpoint_seconds=a.checkpoint_seconds, data=a.data, anchor=a.anchor)
    f = card["fine_tune"]
    print(f"wrote {out}: {f['agent_steps']:,} agent steps in {f['wall_seconds']:,.0f} s "
          f"({f['agent_steps_per_second']:,} a second); last updates: {f['last']}")
    return 0


def pair_cmd(a) -> int:
    from ..core.output import writable_file
    from .model import pair

    out = writable_file(a.out)
    card = pair(a.model, a.person, out, a.strength, a.temperature)
    d = card["decisions"]
    print(f"wrote {out}: {a.model} deciding with the person policy of {a.person} at strength {d['strength']:g}"
          + (f", temperature {d['temperature']:g}" if "temperature" in d else ""))
    return 0


def predict_cmd(a) -> int:
    from ..core.table import parse_steer
    from .predict import predict

    r = predict(a.model, a.game, a.player, a.at, a.style, parse_steer(a.steer), a.top)
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


def play_cmd(a) -> int:
    from ..core.output import writable_folder
    from .match import play_match, summary_text, write_match

    out = writable_folder(a.out)
    r = play_match(a.style or ["mean"], a.vs or ["mean"], minutes=a.minutes, seed=a.seed, model=a.model,
                   temperature=a.temperature, strength=a.strength)
    paths = write_match(r, out)
    print(summary_text(r), end="")
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def _query_flags(p) -> None:
    p.add_argument("--seconds", type=cc.number(0, above=True), help="only the first N seconds of their play")


GAME_COMMANDS = cc.GameCommands(
    name="rocket", game="playas.rocket.game:GAME", default_model=DEFAULT_MODEL,
    files="replay files (.replay) or folders of them", style_example=STYLE_EXAMPLE,
    recipe_example="configs/rocket-styles.yml",
    map_colors=("speed", "boost_per_minute", "supersonic", "airborne", "ball_distance", "height"),
    query_flags=_query_flags, query_options=lambda a: {"seconds": getattr(a, "seconds", None)})


def register(games):
    """Add ``rocket`` and its commands to the top-level parser; returns its subcommands."""
    rk = games.add_parser("rocket", help="Rocket League: replays, models, styles").add_subparsers(
        dest="cmd", metavar="COMMAND", required=True)
    p = cc.command(rk, "prepare", "real .replay files into per-player decisions, encoded once")
    p.add_argument("replays", nargs="+", help=".replay files or folders of them")
    p.add_argument("--out", required=True, help="dataset folder to create")
    p.add_argument("--workers", type=cc.whole(1), help="processes (default: all cores)")
    p.set_defaults(func=prepare_cmd)

    p = cc.command(rk, "train-base", "train the base policy on every player's decisions (resumable)")
    cc.training_flags(p, "configs/rocket-base.yml")
    p.set_defaults(func=train_base_cmd)

    cc.add_style_verbs(rk, GAME_COMMANDS)

    p = cc.command(rk, "train-play", "fine-tune the styles by playing in RocketSim: PPO held near each cloned "
                   "style by a KL term (resumable)")
    cc.model_flag(p, DEFAULT_MODEL, "styled (behaviour-cloned) model to start from")
    p.add_argument("--games", nargs="*", metavar="FILE", help="replays whose moments start episodes (folders too)")
    p.add_argument("--out", required=True, help="the fine-tuned model file to write")
    p.add_argument("--data", help="prepared replays the style reward learns the people from (where the recipe's "
                   "rewards.style > 0; default: the dataset the model's card names)")
    p.add_argument("--anchor", metavar="MODEL", help="the cloned styled model the KL term holds the styles near "
                   "(default: --model itself; give it when --model is already fine-tuned)")
    p.add_argument("--recipe", help="a YAML recipe, e.g. configs/rocket-play.yml")
    p.add_argument("--agent-steps", type=cc.whole(1), help="decisions of learning cars in all (default: the recipe's)")
    p.add_argument("--checkpoint-seconds", type=cc.number(0, above=True), default=120.0,
                   help="how often to save the state a killed run resumes from")
    p.set_defaults(func=train_play_cmd)

    p = cc.command(rk, "pair", "keep a person policy beside styles fine-tuned in play: cars act by both (piKL), "
                   "from the person (strength 0) to the play policy (1)")
    cc.model_flag(p, DRIVING_MODEL, "styles fine-tuned in play")
    p.add_argument("--person", required=True, metavar="MODEL", help="styles of the same cloned model that act like "
                   "the people (fine-tuned with the people's own moves: a train-play recipe with bc)")
    p.add_argument("--strength", type=cc.number(0, 1), required=True,
                   help="the default weight of the play policy against the person policy, 0 to 1")
    p.add_argument("--temperature", type=cc.number(0), help="the default sampling temperature of the cars")
    p.add_argument("--out", required=True, help="the paired model file to write")
    p.set_defaults(func=pair_cmd)

    p = cc.command(rk, "predict", "a style's action probabilities at a moment of a replay")
    cc.model_flag(p, DEFAULT_MODEL, "styled model")
    p.add_argument("--game", required=True, metavar="FILE", help="a replay file")
    p.add_argument("--player", required=True, help="whose car (their in-game name)")
    p.add_argument("--at", type=cc.number(0), default=30.0, help="seconds into their play")
    cc.style_flags(p, STYLE_EXAMPLE)
    cc.output_flags(p, top=5)
    p.set_defaults(func=predict_cmd)

    p = cc.command(rk, "play", "a simulated soccar match (RocketSim), a style driving every car")
    cc.model_flag(p, DRIVING_MODEL, f"styled model (the behaviour-cloned styles: {DEFAULT_MODEL})")
    cc.style_flags(p, STYLE_EXAMPLE, repeat="repeat for each blue car, 1 to 3", steer=False)
    p.add_argument("--vs", action="append", help="an orange car's style, or atba (a scripted bot: full throttle at the ball); "
                   "repeat for each orange car (default: mean)")
    p.add_argument("--minutes", type=cc.number(), default=5.0, help="match length, in minutes of play (at most 60)")
    p.add_argument("--seed", type=cc.whole(0), default=0, help="the same seed plays the same match")
    p.add_argument("--temperature", type=cc.number(0),
                   help=f"1 samples the policy as learned; 0 takes the likeliest action (a car can stall); "
                        f"default: the model's (its card's decisions, else {TEMPERATURE:g})")
    p.add_argument("--strength", type=cc.number(0, 1),
                   help="a model paired with its person policy (playas rocket pair): 0 acts as the person "
                        "policy, 1 as the play policy; default: the model's")
    p.add_argument("--out", required=True, help="folder for summary.txt/.json, trajectories.npz, pitch.svg")
    p.set_defaults(func=play_cmd)
    return rk
