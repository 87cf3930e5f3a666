"""The chess subcommands end to end, as a user runs them: real files, real processes."""

import gzip
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch

from playas.chess.dataset import ChessData
from playas.chess.prepare import prepare
from playas.chess.model import load_model

ROOT = Path(__file__).resolve().parents[1]
MAIA = ROOT / "models" / "maia-1900.pt"


def playas(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "playas.cli", *map(str, args)], capture_output=True, text=True,
                       cwd=ROOT)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def dataset(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "ds"
    pg = shared_data / "chess" / "pgnmentor"
    prepare([pg / "DeLaBourdonnais.pgn.gz", pg / "McDonnell.pgn.gz", pg / "MacKenzie.pgn.gz"], out,
            owner_from_filename_=True, workers=2, split=(0.7, 0.1, 0.2))
    return out


def test_predict_on_the_shipped_model():
    r = playas("chess", "predict", "--model", MAIA, "--fen", "startpos", "--json")
    out = json.loads(r.stdout)
    assert [m["uci"] for m in out["moves"][:2]] == ["e2e4", "d2d4"]
    assert abs(out["moves"][0]["prob"] - 0.56) < 0.02
    r = playas("chess", "predict", "--moves", "e4", "--top", "3")
    assert "c5" in r.stdout and "value" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--fen", "not a fen"], "bad FEN"),
    (["--moves", "e4", "Ke3"], "is not a legal move"),
    (["--fen", "8/8/8/8/8/8/8/8 w - - 0 1"], "illegal position"),
    (["--model", "pyproject.toml"], "is not a playas checkpoint"),
    (["--model", "nope.pt"], "does not exist"),
])
def test_predict_bad_input_is_one_sentence(args, message):
    r = playas("chess", "predict", *args, check=False)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_import_lc0_cli(shared_data, tmp_path):
    out = tmp_path / "m.pt"
    playas("chess", "import-lc0", shared_data / "chess" / "maia" / "maia-1100.pb.gz", "--out", out)
    net, blob = load_model(out)
    assert (tmp_path / "m.json").exists()
    assert blob["card"]["game"] == "chess"
    r = playas("chess", "import-lc0", ROOT / "pyproject.toml", "--out", tmp_path / "x.pt", check=False)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_train_base_learns_and_resumes(dataset, tmp_path):
    out = tmp_path / "tiny.pt"
    r = playas("chess", "train-base", "--data", dataset, "--out", out, "--recipe", ROOT / "configs" / "tiny.yml")
    card = json.loads((tmp_path / "tiny.json").read_text())
    assert len(card["history"]) == 1
    first_acc = card["metrics"]["val_acc"]
    assert first_acc > 0.02  # far above chance among ~1,858 moves
    # Asking for a second epoch resumes from the saved state instead of starting over.
    r = playas("chess", "train-base", "--data", dataset, "--out", out, "--recipe", ROOT / "configs" / "tiny.yml",
               "--epochs", "2")
    assert "resuming" in r.stdout
    card = json.loads((tmp_path / "tiny.json").read_text())
    assert [h["epoch"] for h in card["history"]] == [1, 2]


def test_eval_compares_models_on_the_same_positions(dataset, tmp_path):
    r = playas("chess", "eval", "--model", MAIA, "--model", ROOT / "models" / "maia-1100.pt", "--data", dataset,
               "--json")
    rep = json.loads(r.stdout)
    n = len(ChessData(dataset).targets("test"))
    assert rep["examples"] == n > 1000 and rep["unit"] == "moves"
    for name in ("maia-1900", "maia-1100"):
        m = rep["models"][name]
        assert 0.25 < m["top1"] < m["top3"] < 1
        assert set(m["players"]) == {"DeLaBourdonnais", "McDonnell", "MacKenzie"}
    text = playas("chess", "eval", "--model", MAIA, "--data", dataset).stdout
    assert "top1" in text and "MacKenzie" in text


def test_eval_on_pgn_files(shared_data):
    pgn = shared_data / "chess" / "pgnmentor" / "McDonnell.pgn.gz"
    r = playas("chess", "eval", "--model", MAIA, "--games", pgn, "--owner-from-filename", "--json")
    rep = json.loads(r.stdout)
    assert rep["examples"] > 3000
    assert list(rep["models"]["maia-1900"]["players"]) == ["McDonnell"]
    r = playas("chess", "eval", "--model", MAIA, "--games", pgn, check=False)
    assert r.returncode == 2 and "whose moves" in r.stderr


def test_checkpoint_of_another_kind_is_refused(tmp_path):
    p = tmp_path / "x.pt"
    torch.save({"format": "playas-checkpoint", "version": 1, "game": "rocket"}, p)
    r = playas("chess", "predict", "--model", p, check=False)
    assert r.returncode == 2 and "is a rocket model, not a chess model" in r.stderr


def test_train_base_fine_tunes_from_an_imported_net(dataset, tmp_path):
    out = tmp_path / "ft.pt"
    playas("chess", "train-base", "--data", dataset, "--out", out, "--recipe", ROOT / "configs" / "tiny.yml",
           "--init", ROOT / "models" / "maia-1100.pt", "--positions-per-epoch", "512")
    tuned, _ = load_model(out)
    maia, _ = load_model(ROOT / "models" / "maia-1100.pt")
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["source"].startswith("fine-tuned from") and card["recipe"]["net"]["filters"] == 64
    # batch-norm statistics are kept; the weights moved
    assert torch.equal(tuned.input[1].running_mean, maia.input[1].running_mean)
    assert not torch.equal(tuned.input[0].weight, maia.input[0].weight)


@pytest.fixture(scope="module")
def comma_names(tmp_path_factory):
    """A styled model whose players are spelled as PGN headers spell them ("Carlsen, Magnus"), with
    rows and adapters that differ, so the right row is seen to be chosen."""
    from playas.chess.model import CHESS, save_model
    from playas.core import learning as styled

    net, _ = load_model(ROOT / "models" / "maia-1100.pt")
    torch.manual_seed(0)
    names = ["Carlsen, Magnus", "Tal, Mikhail", "Nakamura: Hikaru"]
    model = styled.new_styled(CHESS, net, names, [10, 10, 10], {"heads": 4, "skills": 4, "rank": 2})
    with torch.no_grad():
        model.table.z.normal_(0, 3)
        for _, layer in model.base.named_modules():
            if hasattr(layer, "B"):
                layer.B.normal_(0, 0.3)
    path = tmp_path_factory.mktemp("names") / "names.pt"
    save_model(path, model.eval(), {"kind": "styled", "players": 3, "games_per_player": dict.fromkeys(names, 10)})
    return path


def test_names_with_commas_and_colons_can_be_chosen(comma_names):
    def probs(style):
        moves = json.loads(playas("chess", "predict", "--model", comma_names, "--style", style, "--json").stdout)["moves"]
        return {m["uci"]: m["prob"] for m in moves}

    carlsen, tal = probs("Carlsen, Magnus"), probs("Tal, Mikhail")
    assert carlsen != tal
    assert probs('"Carlsen, Magnus":1') == carlsen and probs('"Nakamura: Hikaru"') == probs("Nakamura: Hikaru")
    blend = probs('"Carlsen, Magnus":0.5,"Tal, Mikhail":0.5')
    assert blend not in (carlsen, tal)
    r = playas("chess", "predict", "--model", comma_names, "--style", "Carlsen, Magnus:0.5,Tal", check=False)
    assert r.returncode == 2 and "unknown player 'Carlsen'" in r.stderr  # unquoted, the comma splits


def test_names_with_commas_from_a_uci_gui(comma_names):
    script = ("uci\nsetoption name Player value Carlsen, Magnus\nsetoption name Temperature value 0\n"
              "position startpos\ngo nodes 1\nisready\n"
              'setoption name Style value "Carlsen, Magnus":0.5,"Tal, Mikhail":0.5\ngo nodes 1\nisready\nquit\n')
    r = subprocess.run([sys.executable, "-m", "playas.bots.uci", "--model", str(comma_names)], input=script,
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    out = r.stdout.splitlines()
    assert "option name Player type combo default mean var mean var Carlsen, Magnus var Nakamura: Hikaru " \
           "var Tal, Mikhail" in out
    said = [line for line in out if line.startswith("info string")]
    assert any(line.startswith("info string Carlsen, Magnus plays ") for line in said), said
    assert any(line.startswith('info string "Carlsen, Magnus":0.5,"Tal, Mikhail":0.5 plays ') for line in said), said
    assert not any("unknown" in line or "error" in line for line in said), said
    assert sum(line.startswith("bestmove ") for line in out) == 2


# --- playing against an engine -------------------------------------------------------------

def test_play_finds_debians_stockfish_off_path_and_names_the_model(tmp_path):
    """/usr/games is not on root's PATH; the games say the style is a model of the person."""
    out = tmp_path / "g.pgn"
    r = subprocess.run([sys.executable, "-m", "playas.cli", "chess", "play", "--style", "Tal", "--vs", "stockfish",
                        "--skill", "0", "--rounds", "2", "--max-plies", "8", "--engine-time", "0.01", "--out", out],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert text.count('[White "Tal (playas model)"]') == 1 and text.count('[Black "Tal (playas model)"]') == 1
    assert text.count('[WhiteType "program"]') == 2 and '"Tal"' not in text


@pytest.mark.parametrize("engine, message", [
    ("/no/such/stockfish", "UCI engine /no/such/stockfish does not exist; pass --engine PATH"),
    ("nosuchengine", "UCI engine 'nosuchengine' is not on PATH or in /usr/games, /usr/local/games, "
                     "/usr/local/bin, /opt/homebrew/bin; install it (apt-get install nosuchengine) or pass --engine PATH"),
])
def test_a_missing_engine_is_one_sentence(engine, message, tmp_path, capsys):
    from playas.cli import main

    out = tmp_path / "g.pgn"
    assert main(["chess", "play", "--model", str(MAIA), "--vs", "stockfish", "--engine", engine, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


# --- files that are not PGN ----------------------------------------------------------------

def _png() -> bytes:
    """A real 1x1 grey PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0\x80")) + chunk(b"IEND", b""))


@pytest.mark.parametrize("name, data, message", [
    ("Tal.png", _png(), "Tal.png is not a PGN file (it is a PNG image)"),
    ("Tal.pgn", b"my notes on Tal's games\n" * 50, 'Tal.pgn is not a PGN file (no [Tag "value"] pair or first move'),
    ("Tal.pgn.gz", b'[White "Tal"]\n\n1. e4 e5 1-0\n', "Tal.pgn.gz is not gzip-compressed as its name says"),
])
@pytest.mark.parametrize("command", ["prepare", "identify"])
def test_a_file_that_is_not_pgn_is_one_sentence_and_nothing_is_written(command, name, data, message, tmp_path,
                                                                      capsys):
    from playas.cli import main

    (tmp_path / name).write_bytes(data)
    out = tmp_path / "out"
    args = (["prepare", str(tmp_path / name), "--out", str(out), "--owner-from-filename"] if command == "prepare"
            else ["identify", "--games", str(tmp_path / name), "--player", "Tal"])
    assert main(["chess", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_pgn_is_still_read_plain_gzip_and_zstd(shared_data, tmp_path):
    """The check reads the start of real collections as PGN, whatever their compression."""
    import zstandard

    from playas.chess.pgn import check_pgn

    gz = shared_data / "chess" / "pgnmentor" / "Tal.pgn.gz"
    text = gzip.decompress(gz.read_bytes())
    (tmp_path / "Tal.pgn").write_bytes(text)
    (tmp_path / "Tal.pgn.zst").write_bytes(zstandard.ZstdCompressor().compress(text))
    (tmp_path / "bare.pgn").write_text("1. e4 e5 2. Nf3 Nc6 1/2-1/2\n")  # movetext alone is PGN too
    for p in [gz, tmp_path / "Tal.pgn", tmp_path / "Tal.pgn.zst", tmp_path / "bare.pgn"]:
        check_pgn(p)


def test_the_readmes_chess_commands_read_shipped_pgn_files():
    """Every PGN a README chess example reads (``$ playas chess ...`` with its output shown) is in
    the repository, so it runs on a fresh clone (a Lichess dump is shown as a download, not an example)."""
    commands = [x for x in (ROOT / "README.md").read_text().splitlines() if x.startswith("$ playas chess")]
    read = [w for c in commands for w in c.split("#")[0].split()[1:] if re.search(r"\.pgn(\.gz|\.zst)?$", w)
            and not re.search(r"--out\s+" + re.escape(w), c)]
    assert len(read) >= 3, read
    for w in read:
        assert list(ROOT.glob(w)), f"README reads {w}, which is not shipped"
    from playas.chess.pgn import iter_game_texts

    # as the README says: the first 100 of Tal's games, 30 of Carlsen's from 2021
    assert [len(list(iter_game_texts(ROOT / "samples" / f))) for f in ("Tal.pgn", "Carlsen.pgn")] == [100, 30]
