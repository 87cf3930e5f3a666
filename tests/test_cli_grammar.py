"""One command-line grammar: the same verb and the same flag for the same idea in both games,
help for every flag, and a mistake on the command line said in one line with exit 2."""

import argparse
from pathlib import Path

import pytest

from playas.cli import build_parser, main

SHARED = ("train-styles", "enroll", "identify", "properties", "styles", "eval", "predict", "play", "prepare",
          "train-base")
# flags of a shared verb that only one game has, because the idea exists in one game only
OWN = {
    ("chess", "enroll"): {"--owner-from-filename", "--lichess-user", "--max", "--speed", "--lichess-url"},
    ("rocket", "enroll"): {"--seconds"},
    ("chess", "identify"): {"--owner-from-filename"},
    ("rocket", "identify"): {"--seconds"},
    ("chess", "properties"): {"--split", "--owner-from-filename", "--players", "--min-games", "--games-per-player"},
    ("chess", "train-styles"): {"--positions-per-epoch", "--games-per-player"},
    ("chess", "train-base"): {"--positions-per-epoch", "--init"},
    ("chess", "eval"): {"--owner-from-filename", "--players", "--min-games", "--max-positions",
                        "--book-depth"},
    ("chess", "predict"): {"--fen", "--moves", "--book-depth"},
    ("rocket", "predict"): {"--game", "--player", "--at"},
    ("chess", "play"): {"--engine", "--skill", "--engine-time", "--rounds", "--max-plies", "--book-depth", "--steer",
                        "--top-p", "--temp-cutoff-move", "--temp-endgame"},
    ("rocket", "play"): {"--minutes", "--strength"},  # the person and play policies: rocket pairs them
    ("chess", "prepare"): {"--owner-from-filename", "--players", "--min-games", "--seed", "--split",
                           "--max-games-per-player", "--min-rating", "--max-rating", "--speed", "--rated-only",
                           "--shard-games", "--append"},
}


def _commands():
    games = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    out = {}
    for game, gp in games.choices.items():
        sub = next(a for a in gp._actions if isinstance(a, argparse._SubParsersAction))
        out[game] = sub.choices
    return out


def _flags(p) -> set[str]:
    return {s for a in p._actions for s in a.option_strings if s.startswith("--") and s != "--help"}


@pytest.mark.parametrize("verb", SHARED)
def test_both_games_share_each_verbs_flags(verb):
    cmds = _commands()
    chess, rocket = _flags(cmds["chess"][verb]), _flags(cmds["rocket"][verb])
    assert chess - OWN.get(("chess", verb), set()) == rocket - OWN.get(("rocket", verb), set())
    assert not OWN.get(("chess", verb), set()) - chess and not OWN.get(("rocket", verb), set()) - rocket


def test_every_flag_of_every_command_has_help():
    for game, cmds in _commands().items():
        for name, p in cmds.items():
            for a in p._actions:
                if a.option_strings and a.help != argparse.SUPPRESS:
                    assert a.help, f"playas {game} {name} {a.option_strings[0]} has no help"


def test_help_says_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["rocket", "play", "--help"])
    out = capsys.readouterr().out
    assert "(default: 5.0)" in out and "rocket-replays.pt" in out
    flat = " ".join(out.split())  # the temperature's default is the model card's, and says so
    assert "default: the model's (its card's decisions, else 1)" in flat


@pytest.mark.parametrize("argv, says", [
    (["chess", "predict", "--top", "-3"], "'-3' is less than 1"),
    (["chess", "predict", "--top", "x"], "'x' is not a whole number"),
    (["rocket", "play", "--minutes", "nan", "--out", "m"], "is not a finite number"),
    (["chess", "play", "--rounds", "0", "--out", "x.pgn"], "'0' is less than 1"),
    (["chess", "identify"], "the following arguments are required: --games"),
])
def test_a_command_line_mistake_is_one_line_and_exit_2(capsys, argv, says):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and says in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("argv, says", [
    (["chess", "predict", "--style", "base"], "'base' is the network before any style"),
    (["chess", "play", "--out", "{tmp}"], "is a folder; give a file name"),
    (["chess", "play", "--out", "{ro}/x.pgn"], "cannot write in"),
    (["chess", "enroll", "--name", "Me", "--games", "{tmp}/none.pgn", "--player", "Me", "--out", "{ro}/m.pt"],
     "cannot write in"),
    (["chess", "properties", "--games", "{tmp}/none.pgn", "--model", "{tmp}/m.pt"], "--model and --out go together"),
    (["rocket", "play", "--out", "{file}"], "is a file, not a folder"),
    (["rocket", "play", "--style", "a", "--style", "b", "--style", "c", "--style", "d", "--out", "{tmp}/m"],
     "1 to 3 cars a side"),
    (["chess", "styles", "map", "--out", "{ro}/map.png"], "cannot write in"),
    (["rocket", "rlbot", "--out", "{file}"], "is a file, not a folder"),
    (["rocket", "rlbot", "--out", "{ro}/bot"], "cannot write in"),
    (["chess", "import-lc0", "{tmp}/none.pb.gz", "--out", "{tmp}"], "is a folder; give a file name"),
])
def test_a_mistake_is_said_before_any_work(capsys, tmp_path, argv, says):
    ro = Path("/proc/playas-test")  # a folder no one, root included, can write in
    (tmp_path / "f").write_text("x")
    argv = [a.format(tmp=tmp_path, ro=ro, file=tmp_path / "f") for a in argv]
    before = sorted(tmp_path.rglob("*"))
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written


def test_an_output_inside_a_file_is_refused(tmp_path):
    from playas.core.errors import PlayasError
    from playas.core.output import writable_file, writable_folder

    (tmp_path / "f").write_text("x")
    with pytest.raises(PlayasError, match="is a file, not a folder"):
        writable_file(tmp_path / "f" / "model.pt")
    with pytest.raises(PlayasError, match="is a file, not a folder"):
        writable_folder(tmp_path / "f" / "match")
    assert writable_file(tmp_path / "new" / "deeper" / "m.pt") and not (tmp_path / "new").exists()
