"""Build the Rocket League models from the shared replays, each step skipped when its output exists.

1. ``data/rocket-all``: every replay in ``../shared/data/rocket/replays``, prepared (remove one
   prepared before manifest format 2, whose 110 features hold no boost pads: the models built on
   it would not see them).
2. ``runs/rocket-split-base.pt`` and ``runs/rocket-split-styles.pt``: trained with one game of every
   player with 3+ games held out (and five such players left out of the style table): what
   ``bench/rocket_styles.py`` measures.
3. ``models/rocket-replays.pt`` (shipped): base and styles trained on every game.
4. ``models/rocket-play.pt`` (shipped, what cars drive with): the shipped styles fine-tuned in play
   (``playas rocket train-play``, configs/rocket-play.yml, :data:`PLAY_STEPS` agent steps, about 85
   minutes; resumable: a killed run continues from ``runs/rocket-play.train-state``), then further
   (:data:`FURTHER`: the play policy with rewards for where the ball goes; the person policy with
   the people's own moves, two stages), the play policy paired with the person policy
   (``playas rocket pair``, :data:`STRENGTH`, :data:`TEMPERATURE`), and the pair fine-tuned through
   itself (configs/rocket-play-paired.yml: PPO and the people's moves on the mix the car drives by).
5. ``runs/rocket-split-play-paired.pt``: the split styles fine-tuned the same way (every stage of 4,
   ``runs/rocket-split-play*.pt``, about 46 M agent steps: several sessions, each stage resuming from
   its state file), for the held-out action accuracy and stylometry of the fine-tuned styles
   (``bench/rocket_styles.py --tuned``).

    python -m scripts.build_rocket_models
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playas.cli import main as playas

ROOT = Path(__file__).resolve().parents[1]
REPLAYS = ROOT.parent / "shared" / "data" / "rocket" / "replays"
PLAY_STEPS = 20_000_000  # the shipped fine-tune's agent steps
FURTHER = [("rocket-play.pt", "rocket-play-goal.pt", "rocket-play-goal.yml"),  # the play policy
           ("rocket-play.pt", "rocket-play-bc.pt", "rocket-play-bc.yml"),  # the person policy, stage 1
           ("rocket-play-bc.pt", "rocket-play-bc2.pt", "rocket-play-bc2.yml")]  # and 2
PLAY, PERSON = "rocket-play-goal.pt", "rocket-play-bc2.pt"
# the paired model's decisions: the strength chosen in exploratory matches against ATBA, seeds 1000+
# (the bench records 300+); temperature 1, as at 0.7 both cars waited 11 s at 2 of 8 kickoffs
STRENGTH, TEMPERATURE = 0.35, 1.0
HOLDOUT = ["Tidalwave", "Krusmir", "Destiphy", "Cozmanic", "ItsAloof"]  # recurring players enrolled few-shot


def step(out: Path, *argv) -> None:
    if out.exists():
        print(f"have {out.relative_to(ROOT)}")
        return
    print("playas " + " ".join(map(str, argv)), flush=True)
    if playas([str(a) for a in argv]) != 0:
        sys.exit(1)


def main() -> None:
    data, runs = ROOT / "data" / "rocket-all", ROOT / "runs"
    runs.mkdir(exist_ok=True)
    step(data / "manifest.json", "rocket", "prepare", REPLAYS, "--out", data)
    step(runs / "rocket-split-base.pt", "rocket", "train-base", "--data", data, "--out", runs / "rocket-split-base.pt",
         "--recipe", ROOT / "configs" / "rocket-base.yml")
    recipe = runs / "rocket-styles-holdout.yml"
    recipe.write_text((ROOT / "configs" / "rocket-styles.yml").read_text().replace(
        "holdout: []", f"holdout: [{', '.join(HOLDOUT)}]"))
    step(runs / "rocket-split-styles.pt", "rocket", "train-styles", "--base", runs / "rocket-split-base.pt",
         "--data", data, "--out", runs / "rocket-split-styles.pt", "--recipe", recipe)
    shipped = ROOT / "models" / "rocket-replays.pt"
    if not shipped.exists():  # its base, on every game, is needed only to train it
        every = runs / "rocket-base-every-game.yml"
        every.write_text((ROOT / "configs" / "rocket-base.yml").read_text().replace("test: true", "test: false")
                         .replace("val_games: 8", "val_games: 0"))
        step(runs / "rocket-all-base.pt", "rocket", "train-base", "--data", data, "--out", runs / "rocket-all-base.pt",
             "--recipe", every)
        step(shipped, "rocket", "train-styles", "--base", runs / "rocket-all-base.pt",
             "--data", data, "--out", shipped, "--recipe", ROOT / "configs" / "rocket-styles.yml")
        portable_card(shipped)
        shipped.with_suffix(".train-state").unlink(missing_ok=True)
    play = ROOT / "models" / "rocket-play.pt"
    if not play.exists():  # trained in runs/ (their state files resume there), then shipped
        paired = play_chain(shipped, "rocket")
        shutil.copy(paired, play)
        shutil.copy(paired.with_suffix(".json"), play.with_suffix(".json"))
        portable_card(play)
    play_chain(runs / "rocket-split-styles.pt", "rocket-split")


def play_chain(styles: Path, prefix: str) -> Path:
    """``styles`` fine-tuned in play the way the shipped model is, into ``runs/{prefix}-play*.pt``
    (each stage resumable from its state file there): the play policy (:data:`PLAY_STEPS`, then
    :data:`FURTHER`), the person policy, the two paired (:data:`STRENGTH`, :data:`TEMPERATURE`)
    and the pair fine-tuned through itself. Returns the last."""
    runs = ROOT / "runs"
    name = lambda f: runs / f.replace("rocket-", f"{prefix}-", 1)  # noqa: E731  (runs/rocket-play-bc.pt for "rocket")
    step(name("rocket-play.pt"), "rocket", "train-play", "--model", styles, "--games", REPLAYS, "--out",
         name("rocket-play.pt"), "--recipe", ROOT / "configs" / "rocket-play.yml", "--agent-steps", PLAY_STEPS)
    for start, out, recipe in FURTHER:
        step(name(out), "rocket", "train-play", "--model", name(start), "--anchor", styles, "--games", REPLAYS,
             "--out", name(out), "--recipe", ROOT / "configs" / recipe)
    pair = name("rocket-pair.pt")
    step(pair, "rocket", "pair", "--model", name(PLAY), "--person", name(PERSON), "--strength", STRENGTH,
         "--temperature", TEMPERATURE, "--out", pair)
    paired = name("rocket-play-paired.pt")
    step(paired, "rocket", "train-play", "--model", pair, "--anchor", styles, "--games", REPLAYS, "--out", paired,
         "--recipe", ROOT / "configs" / "rocket-play-paired.yml")
    return paired


def portable_card(path: Path) -> None:
    """The shipped card names its base and data relative to the repository, not this machine."""
    from playas.core.checkpoint import card_for_copy
    from playas.rocket.model import load_styled, save_model

    model, blob = load_styled(path)
    card = card_for_copy(blob)
    rel = lambda p: str(Path(p).resolve().relative_to(ROOT)) if Path(p).resolve().is_relative_to(ROOT) else p  # noqa: E731
    fixed = {**card, "base": rel(card["base"]), "data": {**card["data"], "path": rel(card["data"]["path"])}}
    if fixed != card:
        save_model(path, model, fixed, extra=blob.get("extra"))


if __name__ == "__main__":
    main()
