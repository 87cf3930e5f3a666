"""Chess styles end to end on real games with tiny models trained here: train-styles, styles,
predict/eval with styles, blends, enroll, identify, properties and steering, play."""

import json
import subprocess
import sys
from pathlib import Path

import chess.pgn
import numpy as np
import pytest
import torch

from playas.chess.prepare import prepare
from playas.chess.encoding import book_key
from playas.chess.model import load_model
from playas.chess.pgn import iter_game_texts
from playas.chess.policy import Policy
from playas.chess.game import GAME
from playas.core.verbs import train_styles
from playas.chess.train import make_batch, train_base
from playas.core.mhr import MHRModel

ROOT = Path(__file__).resolve().parents[1]
PLAYERS = ["DeLaBourdonnais", "McDonnell", "MacKenzie", "Horwitz"]
TINY_STYLES = {"mhr": {"heads": 4, "skills": 4, "rank": 2, "adapt_blocks": 1}, "epochs": 2,
               "positions_per_epoch": 6144, "batch_size": 128, "games_per_player": 120, "val_positions": 1000}


def playas(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "playas.cli", *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def world(shared_data, tmp_path_factory):
    """A 4-player dataset, a tiny base trained on it, and a tiny style table over that base."""
    tmp = tmp_path_factory.mktemp("styles")
    pg = shared_data / "chess" / "pgnmentor"
    prepare([pg / f"{p}.pgn.gz" for p in PLAYERS], tmp / "ds", owner_from_filename_=True, split=(0.7, 0.1, 0.2))
    train_base(tmp / "ds", tmp / "base.pt", {"net": {"blocks": 2, "filters": 16, "se_ratio": 4}, "epochs": 1,
                                              "positions_per_epoch": 8192, "batch_size": 128, "val_positions": 500})
    card = train_styles(GAME, tmp / "base.pt", tmp / "ds", tmp / "styled.pt", TINY_STYLES)
    return {"tmp": tmp, "pg": pg, "ds": tmp / "ds", "model": tmp / "styled.pt", "card": card}


def test_train_styles_writes_a_styled_checkpoint(world):
    model, blob = load_model(world["model"])
    assert isinstance(model, MHRModel)
    assert model.table.names == PLAYERS
    assert all(g > 20 for g in model.table.games)
    card = json.loads(world["model"].with_suffix(".json").read_text())
    assert card["kind"] == "styled" and len(card["history"]) == 2
    assert card["player_meta"]["Horwitz"]["year"] < 1900
    # the base is frozen: its weights are exactly the base checkpoint's
    base, _ = load_model(world["tmp"] / "base.pt")
    assert torch.equal(model.base.input[0].weight, base.input[0].weight)
    assert not torch.equal(model.table.z[0], model.table.z[1])
    # every player's repertoire: their own moves in every training game, to ply 30
    rep = model.table.repertoire
    assert rep.depth == 30 and card["repertoire"]["entries"] == len(rep) > 1000
    assert (card["repertoire"]["prior_weight"], card["repertoire"]["network_weight"]) == \
        (rep.prior_weight, rep.network_weight)
    assert max(card["repertoire"]["val_loglik_by_prior_weight"].values()) > card["repertoire"]["val_loglik_network_alone"]
    from playas.chess.dataset import ChessData

    data = ChessData(world["ds"])
    rows = data.targets("train", players=[data.players.index("Horwitz")])
    as_white = int(((data.ply[rows] == 0) & (data.rows["zobrist"][rows].view(np.int64) == book_key(chess.Board()))).sum())
    start = rep.actions_at(book_key(chess.Board()), np.eye(4)[PLAYERS.index("Horwitz")])
    assert sum(start.values()) == as_white > 10  # every training game he began as White


def test_styles_list_similar_and_map(world):
    out = playas("chess", "styles", "list", "--model", world["model"]).stdout
    assert "4 players" in out and all(p in out for p in PLAYERS)
    out = playas("chess", "styles", "similar", "Horwitz", "--model", world["model"], "--top", "2").stdout
    assert len(out.strip().splitlines()) == 2 and "Horwitz" not in out
    png = world["tmp"] / "map.png"
    playas("chess", "styles", "map", "--model", world["model"], "--out", png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    r = playas("chess", "styles", "similar", "Horwtz", "--model", world["model"], check=False)
    assert r.returncode == 2 and "did you mean Horwitz" in r.stderr


def test_styles_and_blends_change_what_the_model_plays(world):
    board = chess.Board()
    for san in ["e4", "e5", "Nf3", "Nc6", "Bc4"]:
        board.push_san(san)
    probs = {}
    for style in ["DeLaBourdonnais", "Horwitz", "DeLaBourdonnais:0.5,Horwitz:0.5"]:
        an = Policy.load(world["model"], style=style, book_depth=0).analyse(board)  # the style vectors alone
        probs[style] = {m.uci(): p for m, p in zip(an.moves, an.probs)}
    a, b, mid = probs["DeLaBourdonnais"], probs["Horwitz"], probs["DeLaBourdonnais:0.5,Horwitz:0.5"]
    diff = sum(abs(a[m] - b[m]) for m in a)
    assert diff > 1e-3
    # the blend sits between its parents on the moves where they differ most
    m = max(a, key=lambda k: abs(a[k] - b[k]))
    assert min(a[m], b[m]) - 1e-6 <= mid[m] <= max(a[m], b[m]) + 1e-6
    r = playas("chess", "predict", "--model", world["model"], "--style", "Nobody", check=False)
    assert r.returncode == 2 and "unknown player 'Nobody'" in r.stderr
    r = playas("chess", "predict", "--model", ROOT / "models" / "maia-1900.pt", "--style", "Tal", check=False)
    assert r.returncode == 2 and "no style table" in r.stderr


def test_eval_scores_each_player_under_their_own_style(world):
    rep = json.loads(playas("chess", "eval", "--model", world["tmp"] / "base.pt", "--model", world["model"],
                            "--data", world["ds"], "--json").stdout)
    assert set(rep["models"]) == {"base", "styled [own]", "styled [mean]", "styled [base]"}
    own, base = rep["models"]["styled [own]"], rep["models"]["styled [base]"]
    assert own["top1"] > 0.05 and base == rep["models"]["base"]  # [base] is the network before any style
    assert own["loglik"] > base["loglik"]  # each player under their own style beats the base
    one = json.loads(playas("chess", "eval", "--model", world["model"], "--data", world["ds"], "--style", "Horwitz",
                            "--json").stdout)
    assert one["examples"] == rep["examples"] and set(one["models"]) == {"styled [Horwitz]", "styled [base]"}


def _games_file(src, dst, n, skip=0):
    texts = [t for i, t in zip(range(skip + n), iter_game_texts(src)) if i >= skip]
    dst.write_text("".join(texts))
    return dst


def test_enroll_adds_one_player_and_needs_five_games(world):
    tmp = world["tmp"]
    pgn = _games_file(world["pg"] / "Morphy.pgn.gz", tmp / "Morphy.pgn", 40)
    out = tmp / "enrolled.pt"
    r = playas("chess", "enroll", "--model", world["model"], "--name", "Morphy", "--games", pgn,
               "--owner-from-filename", "--out", out)
    assert "enrolled Morphy from 40 games" in r.stdout
    model, _ = load_model(out)
    assert model.table.names == PLAYERS + ["Morphy"] and model.table.games[-1] == 40
    old, _ = load_model(world["model"])
    assert torch.equal(model.table.z[:4], old.table.z)  # nothing else changed
    Policy.load(out, style="Morphy:0.5,Horwitz:0.5")
    (tmp / "few").mkdir(exist_ok=True)
    few = _games_file(world["pg"] / "Morphy.pgn.gz", tmp / "few" / "Morphy.pgn", 3)
    r = playas("chess", "enroll", "--model", world["model"], "--name", "Morphy", "--games", few,
               "--owner-from-filename", "--out", tmp / "x.pt", check=False)
    assert r.returncode == 2 and "at least 5" in r.stderr and not (tmp / "x.pt").exists()
    r = playas("chess", "enroll", "--model", out, "--name", "Morphy", "--games", pgn, "--owner-from-filename",
               "--out", tmp / "y.pt", check=False)
    assert r.returncode == 2 and "already" in r.stderr


@pytest.mark.parametrize("method", ["vector", "likelihood"])
def test_identify_ranks_every_known_player(world, method):
    pgn = _games_file(world["pg"] / "Horwitz.pgn.gz", world["tmp"] / f"Horwitz-{method}.pgn", 30, skip=0)
    r = playas("chess", "identify", "--model", world["model"], "--games", pgn, "--player", "Horwitz",
               "--method", method, "--json")
    ranking = json.loads(r.stdout)["ranking"]
    assert sorted(x["name"] for x in ranking) == sorted(PLAYERS)
    scores = [x["score"] for x in ranking]
    assert scores == sorted(scores, reverse=True)
    r = playas("chess", "identify", "--model", world["model"], "--games", pgn, check=False)
    assert r.returncode == 2 and "exactly one of --player" in r.stderr


def test_properties_steering_and_play(world, tmp_path):
    out = tmp_path / "steer.pt"
    r = playas("chess", "properties", "--data", world["ds"], "--games-per-player", "40", "--model", world["model"],
               "--out", out)
    assert "capture" in r.stdout and "Horwitz" in r.stdout
    props = json.loads(playas("chess", "properties", "--data", world["ds"], "--games-per-player", "40", "--json").stdout)
    assert 0.05 < props["Horwitz"]["capture_rate"] < 0.5 and props["Horwitz"]["game_length"] > 20
    model, _ = load_model(out)
    assert "capture_rate" in model.table.directions
    a = Policy.load(out, style="Horwitz").analyse(chess.Board())
    b = Policy.load(out, style="Horwitz", steer={"capture_rate": 3.0}).analyse(chess.Board())
    assert a.probs.tolist() != b.probs.tolist()
    pgn = tmp_path / "games.pgn"
    r = playas("chess", "play", "--model", out, "--style", "Horwitz", "--vs", "McDonnell", "--rounds", "2",
               "--max-plies", "60", "--out", pgn)
    assert "wrote 2 games" in r.stdout
    with open(pgn) as f:
        games = [chess.pgn.read_game(f) for _ in range(2)]
    assert [g.headers["White"] for g in games] == ["Horwitz (playas model)", "McDonnell (playas model)"]
    assert all(not g.errors and len(list(g.mainline_moves())) > 0 for g in games)
    r = playas("chess", "predict", "--model", out, "--style", "Horwitz", "--steer", "capture_rate=3")
    assert r.stdout.splitlines()[0] == "style     Horwitz, steered capture_rate +3"
    r = playas("chess", "predict", "--model", out, "--style", "Horwitz", "--steer", "elegance=1", check=False)
    assert r.returncode == 2 and "no steering direction for 'elegance'" in r.stderr


def test_trunk_cache_keeps_the_callers_order(world):
    """Queries are concatenated unsorted (one block per query); each cached row must stay with
    its own query, though the dataset is read in sorted order."""
    from playas.chess.dataset import ChessData
    from playas.chess.model import CHESS
    from playas.chess.game import examples
    from playas.core.trunk import cache_trunk

    model, _ = load_model(world["model"])
    data = ChessData(world["ds"])
    idx = data.targets()[:600]
    mixed = np.concatenate([idx[300:], idx[:300]])[::-1].copy()  # a chunk spans both blocks, reversed
    a = cache_trunk(CHESS, model, examples(data, idx), batch_size=256)
    b = cache_trunk(CHESS, model, examples(data, mixed), batch_size=256)
    where = {int(r): i for i, r in enumerate(idx)}
    perm = torch.tensor([where[int(r)] for r in mixed])
    assert torch.equal(b.target, a.target[perm]) and torch.equal(b.player, a.player[perm])
    assert torch.equal(b.allowed, a.allowed[perm])
    assert torch.allclose(b.hidden(slice(None)), a.hidden(perm), atol=1e-2)  # float16, batch-order noise
    fresh = CHESS.trunk(model, make_batch(data, idx)["x"])
    assert torch.allclose(a.hidden(slice(None)), fresh, atol=2e-2)
    assert len(a.h) < len(idx)  # openings repeat: the trunk ran once per distinct input


def test_position_keys_equal_only_for_equal_inputs(world):
    """Rows sharing a key must have identical network inputs (so one trunk pass serves them)."""
    from playas.chess.dataset import ChessData

    data = ChessData(world["ds"])
    idx = data.targets()
    keys = data.position_keys[idx]
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    shared = np.flatnonzero(first[inverse] != np.arange(len(idx)))
    assert len(shared) > 50  # the fixture's games share opening positions
    assert np.array_equal(data.planes(idx[shared]), data.planes(idx[first[inverse[shared]]]))
    later = idx[data.ply[idx] > 40]
    assert len(np.unique(data.position_keys[later])) == len(later)


def test_fast_likelihood_matches_running_each_style(world):
    """Chess's shared-work likelihood (head-only adapters) equals the core's plain path, which runs
    the routed head once per style, and each style's merged network."""
    from playas.chess.dataset import ChessData
    from playas.chess.likelihood import head_logliks
    from playas.chess.model import CHESS
    from playas.chess.game import examples
    from playas.core import learning as styled
    from playas.core.trunk import cache_trunk

    net, _ = load_model(world["tmp"] / "base.pt")
    torch.manual_seed(0)
    model = styled.new_styled(CHESS, net, PLAYERS, [0] * 4, {"heads": 4, "skills": 4, "rank": 2, "adapt_blocks": 0})
    with torch.no_grad():
        model.table.z.normal_(0, 2)
        for _, layer in model.base.named_modules():
            if hasattr(layer, "B"):
                layer.B.normal_(0, 0.5)  # B starts at zero; make the styles differ
    model.eval()
    data = ChessData(world["ds"])
    cache = cache_trunk(CHESS, model, examples(data, data.targets()[:700]))
    z = model.table.z.detach()
    got = head_logliks(model, cache, z, chunk=300)
    want = torch.stack([-torch.nn.functional.cross_entropy(
        model.merged_base(zi)(cache.hidden(slice(None)), start=len(net.blocks))[0].masked_fill(~cache.allowed, float("-inf")),
        cache.target, reduction="none") for zi in z])
    assert got.shape == (len(PLAYERS), 700)
    assert torch.allclose(got, want, atol=1e-4)
    assert torch.allclose(styled.style_logliks(CHESS, model, cache), got, atol=1e-5)  # the core takes the fast path

    class NoFastPath(type(CHESS)):
        def style_logliks(self, model, cache, z):
            return None

    assert torch.allclose(styled.style_logliks(NoFastPath(), model, cache), want, atol=1e-4)  # the routed head per style
    assert (want.max(0).values - want.min(0).values).mean() > 0.05  # the styles do score differently


def test_repertoire_command_rebuilds_a_models_repertoire(world, tmp_path):
    out = tmp_path / "rep.pt"
    r = playas("chess", "repertoire", "--model", world["model"], "--data", world["ds"], "--plies", "12", "--out", out)
    assert "repertoire entries to ply 12" in r.stdout
    model, blob = load_model(out)
    old, _ = load_model(world["model"])
    assert model.table.repertoire.depth == 12 and 0 < len(model.table.repertoire) < len(old.table.repertoire)
    assert torch.equal(model.table.z, old.table.z)  # the style rows are untouched
    assert blob["card"]["repertoire"]["data"] == str(world["ds"])
    board = chess.Board()
    for san in ["e4", "e5", "Nf3", "Nc6", "Bc4", "Bc5", "c3"]:  # ply 7: inside 12 plies, beyond 6
        board.push_san(san)
    assert Policy.load(out, style="Horwitz", book_depth=6).analyse(board).book == 0
    r = playas("chess", "repertoire", "--model", world["model"], "--data", world["ds"], "--plies", "99", "--out", out,
               check=False)
    assert r.returncode == 2 and "1 to 60 plies" in r.stderr
