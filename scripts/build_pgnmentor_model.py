"""Build the shipped style model models/pgnmentor-197.pt from ../shared/data, step by step.

    python -m scripts.build_pgnmentor_model

1. prepare every game of the 197 PGN Mentor players (data/pgnmentor-all, 287,943 games; the
   shipped model saw 287,768: the older reader lost 206 games with a blank line after their
   headers, 31 of which are duplicates; split 60/10/30 by game), and a sample of 700 games each at most (data/pgnmentor) for the base; a game
   falls in the same split in both, so no test game is ever trained on;
2. phase 1, the population base: Maia-1900 fine-tuned on the sample's training games
   (configs/population.yml) -> models/population-197.pt;
3. phase 2, styles: MHR adapters and a style vector per player over that frozen base, trained on
   every training game's first 30 plies (3.0M positions, 1.52M distinct: the frozen trunk's
   output for all of them, 12.5 GB in float16, is cached in memory), ten players held out
   (configs/styles.yml);
4. the ten held-out players enrolled few-shot from 100 of their training games each;
5. steering directions from the players' properties (training games only);
6. every player's repertoire (their own opening moves) from every one of their training games;
   the ten enrolled players' from the 100 training games of step 4.
Each step is skipped when its output exists, and the training steps resume when interrupted.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
PGN = ROOT.parent / "shared" / "data" / "chess" / "pgnmentor"
# Relative to the repository (the commands run there), so model cards name portable paths.
DATA, RUNS, MODELS = Path("data/pgnmentor"), Path("runs"), Path("models")
DATA_ALL = Path("data/pgnmentor-all")


def playas(*args):
    print("+ playas", *args, flush=True)
    subprocess.run([sys.executable, "-m", "playas.cli", *map(str, args)], check=True, cwd=ROOT)


def main():
    import os

    os.chdir(ROOT)
    RUNS.mkdir(exist_ok=True)
    base = MODELS / "population-197.pt"
    if not base.exists() and not (DATA / "manifest.json").exists():
        playas("chess", "prepare", *sorted(PGN.glob("*.pgn.gz")), "--out", DATA, "--owner-from-filename",
               "--max-games-per-player", 700, "--split", "0.6,0.1,0.3")
    if not (DATA_ALL / "manifest.json").exists():
        playas("chess", "prepare", *sorted(PGN.glob("*.pgn.gz")), "--out", DATA_ALL, "--owner-from-filename",
               "--split", "0.6,0.1,0.3")
    if not base.exists():
        playas("chess", "train-base", "--data", DATA, "--out", RUNS / "population.pt", "--recipe",
               ROOT / "configs" / "population.yml", *sys.argv[1:2])
        shutil.copy(RUNS / "population.pt", base)
        shutil.copy(RUNS / "population.json", base.with_suffix(".json"))
    portable_card(base)
    styled = RUNS / "styles.pt"
    if not styled.exists():
        playas("chess", "train-styles", "--base", base, "--data", DATA_ALL, "--out", styled, "--recipe",
               ROOT / "configs" / "styles.yml")
    enrolled = RUNS / "styles-enrolled.pt"
    if not enrolled.exists():
        from playas.chess.dataset import ChessData
        from playas.chess.model import CHESS, load_styled, save_model
        from playas.chess.game import examples, style_plies, within_plies
        from playas.core import learning
        from playas.core.checkpoint import card_for_copy
        from playas.core.trunk import cache_trunk

        model, blob = load_styled(styled)
        data = ChessData(DATA_ALL)
        card = card_for_copy(blob)
        holdout = yaml.safe_load((ROOT / "configs" / "styles.yml").read_text())["holdout"]
        train = data.sample_games("train", None, 0)
        rng = np.random.default_rng(0)
        for name in holdout:
            pid = data.players.index(name)
            g = data.games
            mine = np.intersect1d(train, np.flatnonzero((g["white"] == pid) | (g["black"] == pid)))
            games = rng.permutation(mine)[:100]
            rows = np.concatenate([np.arange(g["first"][i], g["first"][i] + g["length"][i]) for i in games])
            rows = within_plies(data, np.sort(rows[data.mover[rows] == pid]), style_plies(blob["card"]))
            learning.enroll(CHESS, model, name, cache_trunk(CHESS, model, examples(data, rows)), len(games))
            card.setdefault("enrolled", {})[name] = {"games": len(games), "positions": int(len(rows)),
                                                     "from": "training split"}
            print(f"enrolled {name} from {len(games)} games", flush=True)
        card["players"] = len(model.table)
        save_model(enrolled, model, card)
    final = MODELS / "pgnmentor-197.pt"
    if not final.exists():
        playas("chess", "properties", "--data", DATA_ALL, "--split", "train", "--games-per-player", 60,
               "--model", enrolled, "--out", final)
    add_repertoires(final)
    portable_card(final, base_choice=BASE_CHOICE)
    print(json.dumps(json.loads(final.with_suffix(".json").read_text())["metrics"]))


def add_repertoires(final: Path) -> None:
    """Step 6: the repertoires of the shipped model, from every training game."""
    from playas.chess.dataset import ChessData
    from playas.chess.model import load_styled, save_model
    from playas.chess.game import add_repertoire, situations
    from playas.core.checkpoint import card_for_copy
    from playas.core.repertoire import Repertoire

    model, blob = load_styled(final)
    if "enrolled_from" in (blob["card"].get("repertoire") or {}):
        return  # done; train-styles's own repertoire has none of the enrolled ten's games
    enrolled = list(blob["card"].get("enrolled", {}))
    add_repertoire(final, DATA_ALL, final, book_plies=30, skip=enrolled)
    model, blob = load_styled(final)
    data, rep, rng = ChessData(DATA_ALL), model.table.repertoire, np.random.default_rng(0)
    train = data.sample_games("train", None, 0)
    for name in enrolled:  # as step 4: 100 of their training games
        pid, g = data.players.index(name), data.games
        games = rng.permutation(np.intersect1d(train, np.flatnonzero((g["white"] == pid) | (g["black"] == pid))))[:100]
        rows = np.concatenate([np.arange(g["first"][i], g["first"][i] + g["length"][i]) for i in games])
        rows = np.sort(rows[(data.mover[rows] == pid) & (data.ply[rows] < 30)])
        rep.add(Repertoire.count(situations(data, rows, 30), np.full(len(rows), model.table.index(name)),
                                 np.asarray(data.rows["move"][rows])))
        print(f"repertoire of {name} from {len(games)} games", flush=True)
    card = card_for_copy(blob)
    card["repertoire"].update(entries=len(rep), enrolled_from="100 training games each, as their rows")
    save_model(final, model, card)


BASE_CHOICE = ("population-197 (Maia-1900 fine-tuned on these players' training games) over the imported "
               "Maia-1900, by measurement: top-1 on the 197 players' test games 47.97% against 46.37% "
               "(59,100 positions; `python -m bench.chess_foundation`, BENCHMARKS.md). Styles then "
               "model what sets each player apart from this population, not what sets grandmasters apart "
               "from Lichess players.")


def portable_card(path: Path, **extra) -> None:
    """Rewrite a shipped model's card with repository-relative paths (and JSON-clean numbers)."""
    from playas.core import checkpoint

    blob = checkpoint.load(path, "chess")
    card = {k: v for k, v in blob["card"].items() if k not in ("versions", "game")}
    card.update(extra)
    for key in ("base", "init"):
        if isinstance(card.get(key), str):
            card[key] = rel(card[key])
    if isinstance(card.get("data"), dict) and "path" in card["data"]:
        card["data"]["path"] = rel(card["data"]["path"])
    if isinstance(card.get("recipe"), dict) and "init" in card["recipe"]:
        card["recipe"]["init"] = rel(card["recipe"]["init"])
    if card == {k: v for k, v in blob["card"].items() if k not in ("versions", "game")}:
        return  # already portable: leave the file's bytes alone
    payload = {k: v for k, v in blob.items() if k not in ("format", "version", "game", "card")}
    checkpoint.save(path, "chess", payload, card)


def rel(p: str) -> str:
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return p


if __name__ == "__main__":
    main()
