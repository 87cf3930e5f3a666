"""Rocket League end to end on real replays: prepare, train, eval, identify, enroll, predict.

Tiny models trained here on four short real replays (two of them dtracers'); skipped where
``../shared`` or the rocket extra is absent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("subtr_actor")

from playas.cli import main  # noqa: E402
from playas.core.errors import PlayasError  # noqa: E402
from playas.rocket.dataset import RocketData, kickoffs, pregame, restarts  # noqa: E402
from playas.rocket.frames import OBS_SIZE, OBS_SIZE_BEFORE_PADS  # noqa: E402
from playas.rocket.model import NO_ACTION, PolicyConfig, RocketNet  # noqa: E402
from playas.rocket.train import drop_previous  # noqa: E402

REPLAYS = Path(__file__).resolve().parents[2] / "shared" / "data" / "rocket" / "replays"
SMALL = ["0b8e1ef3b081", "e6ee235b00af", "c618e9aafdd5", "428048d3c050"]  # klay, Destiphy, dtracers x2
needs_replays = pytest.mark.skipif(not REPLAYS.exists(), reason="needs ../shared/data/rocket/replays")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A prepared dataset of the four replays (and one file that is no replay), a tiny base and styles."""
    d = tmp_path_factory.mktemp("rocket")
    files = [REPLAYS / f"{h}.replay" for h in SMALL]
    garbage = d / "garbage.replay"
    garbage.write_bytes(b"not a replay at all" * 100)
    recipe = d / "base.yml"
    recipe.write_text("net: {context: 8, width: 32, layers: 2, heads: 2}\nepochs: 1\nwindows_per_epoch: 2048\n"
                      "batch_size: 64\ntest: false\nval_games: 0\n")
    styles = d / "styles.yml"
    styles.write_text("mhr: {heads: 4, skills: 4, rank: 2}\nepochs: 1\nmin_games: 1\nbatch_size: 256\n")
    assert main(["rocket", "prepare", *map(str, files), str(garbage), "--out", str(d / "data"), "--workers", "2"]) == 0
    assert main(["rocket", "train-base", "--data", str(d / "data"), "--out", str(d / "base.pt"), "--recipe", str(recipe)]) == 0
    assert main(["rocket", "train-styles", "--base", str(d / "base.pt"), "--data", str(d / "data"),
                 "--out", str(d / "styled.pt"), "--recipe", str(styles)]) == 0
    return d


@needs_replays
def test_prepare_reads_real_replays_and_skips_bad_files(trained):
    m = json.loads((trained / "data" / "manifest.json").read_text())
    assert len(m["games"]) == 4
    assert m["skipped"] == {"garbage.replay": m["skipped"]["garbage.replay"]} and m["skipped"]["garbage.replay"]
    names = {p["name"] for p in m["players"].values()}
    assert {"klay", "Destiphy", "dtracers | calculated.gg"} <= names
    dtracers = [k for k, p in m["players"].items() if p["name"].startswith("dtracers")]
    assert len(dtracers) == 1 and dtracers[0].startswith("steam:")  # a platform id, both games one player
    assert m["players"][dtracers[0]]["games"] == 2
    data = RocketData.open(trained / "data")
    assert data.obs.shape[1] == OBS_SIZE == 144 and len(data) == m["decisions"] > 8_000  # 4 games of play
    assert 0 <= data.action.min() and data.action.max() < 90
    assert all(v["of"] > 0 for v in m["agreement"].values())


@needs_replays
def test_windows_follow_each_sequence(trained):
    data = RocketData.open(trained / "data")
    s = data.sequences[1]
    first, later = s["start"], s["start"] + 20
    obs, prev, valid = data.windows([first, later], 8)
    assert valid[0].tolist() == [False] * 7 + [True]  # the first decision sees nothing before it
    assert prev[0, -1] == 90  # and had no previous action
    assert valid[1].all() and prev[1, -1] == data.action[later - 1]
    np.testing.assert_allclose(obs[1, -1].numpy(), np.asarray(data.obs[later], np.float32))


@needs_replays
def test_histories_restart_at_kickoffs_as_the_drivers_do(trained):
    """A window never reaches back across a kickoff or a car's return to the pitch, where every
    driver forgets the car's history: there it sees itself alone, with no previous action."""
    data = RocketData.open(trained / "data")
    s = next(s for s in data.sequences if s["restarts"])
    r = s["start"] + s["restarts"][0]
    obs, prev, valid = data.windows([r, r + 3], 8)
    assert valid[0].tolist() == [False] * 7 + [True] and prev[0, -1] == NO_ACTION
    assert valid[1].tolist() == [False] * 4 + [True] * 4 and prev[1, -1] == data.action[r + 2]
    assert all(0 < r < s["length"] for s in data.sequences for r in s["restarts"])


def test_restarts_at_kickoffs_and_returns_to_the_pitch():
    present = np.ones(13, bool)
    present[6:9] = False  # demolished
    kickoff = np.zeros(13, bool)
    kickoff[11] = True  # its countdown before it dropped (a gap, but not a restart by itself)
    t = np.array([3, 4, 5, 9, 11, 12])
    assert restarts(t, kickoff, present) == [3, 4]
    assert restarts(np.array([0, 1, 4, 5]), np.zeros(6, bool), np.ones(6, bool)) == []  # standing dropped


def test_kickoffs_are_the_first_decisions_after_each_countdown():
    countdown = np.array([0, 1, 1, 0, 0, 0, 1, 0, 1, 1], bool)
    assert np.flatnonzero(kickoffs(countdown)).tolist() == [3, 7]  # a countdown at the end has none yet
    assert pregame(countdown).tolist() == [True] * 3 + [False] * 7
    assert not pregame(np.zeros(10, bool)).any()  # a replay that starts in play


def test_a_goal_is_the_ball_staying_over_a_line_and_play_resumes_at_its_reset():
    """A ball over a goal line for a moment is play (a save on the line); one that stays there
    seconds is a goal, and play has stopped until the ball is back on its spot."""
    from playas.rocket.frames import after_goals
    from playas.rocket.vocabulary import DECISIONS_PER_SECOND as H

    ball = np.zeros((20 * H, 9), np.float32)
    ball[:, 1], ball[:, 2], ball[:, 3] = 3000.0, 93.0, 500.0  # in play, rolling
    ball[2 * H:2 * H + 5, 1] = 5150.0  # a third of a second over the line: saved
    ball[6 * H:10 * H, 1] = 5300.0  # a goal: 4 s in the net, then 2 s out of sight
    ball[10 * H:12 * H, 1] = 9000.0
    ball[12 * H:, 1], ball[12 * H:, 3] = 0.0, 0.0  # on its spot for the kickoff
    dead = after_goals(ball)
    assert np.flatnonzero(dead).tolist() == list(range(6 * H, 12 * H))


def test_the_plain_judge_leaves_out_a_boost_gauge_the_replays_do_not_show():
    """Older replays never move the boost gauge: the baseline judge compares a player known only
    from those on speed, height and distance to the ball, not on an empty tank they never had."""
    from bench.rocket_styles import baseline_scores, histograms

    rng = np.random.default_rng(0)

    def play(speed, boost=None):  # the scalars: speed, boost, height, ball distance, supersonic, airborne
        s = np.zeros((3000, 6), np.float32)
        s[:, 0], s[:, 2], s[:, 3] = rng.normal(speed, 100, 3000), 17, rng.uniform(500, 4000, 3000)
        s[:, 1] = rng.uniform(0, 100, 3000) if boost is None else boost
        return s

    old = play(800, boost=0.0)  # a 2015 player: the gauge reads 0 all game
    other = play(1000)  # a player with a gauge, a little faster
    profiles = np.stack([histograms(old, np.zeros(3000, bool)), histograms(other, np.ones(3000, bool))])
    assert np.isnan(profiles[0]).any() and not np.isnan(profiles[1]).any()
    query = play(800)  # the old player's driving, now with a gauge (a simulated car of their style)
    assert baseline_scores(histograms(query), profiles).argmax() == 0
    assert baseline_scores(histograms(query), np.stack([histograms(old), histograms(other)])).argmax() == 1  # as before


def test_previous_action_dropout():
    prev = torch.randint(0, 90, (64, 16))
    assert torch.equal(drop_previous(prev, 0.0), prev)
    assert (drop_previous(prev, 1.0) == NO_ACTION).all()
    dropped = (drop_previous(prev, 0.5) == NO_ACTION).float().mean()
    assert 0.4 < dropped < 0.6


def test_a_model_reads_the_prefix_it_was_built_for():
    """A model from before the pads (110 features) reads today's 144 as their first 110; a model
    that wants more features than the data holds says so in one sentence."""
    torch.manual_seed(0)
    old = RocketNet(PolicyConfig(obs_size=OBS_SIZE_BEFORE_PADS, context=4, width=16, layers=1, heads=2)).eval()
    obs, prev, valid = torch.randn(3, 4, OBS_SIZE), torch.full((3, 4), NO_ACTION), torch.ones(3, 4, dtype=torch.bool)
    torch.testing.assert_close(old(obs, prev, valid), old(obs[..., :OBS_SIZE_BEFORE_PADS], prev, valid))
    new = RocketNet(PolicyConfig(context=4, width=16, layers=1, heads=2))
    assert new.config.obs_size == OBS_SIZE
    with pytest.raises(PlayasError, match="reads 144 features a decision, the data holds 110"):
        new(obs[..., :OBS_SIZE_BEFORE_PADS], prev, valid)


def test_trunk_and_top_are_the_whole_network():
    torch.manual_seed(0)
    net = RocketNet(PolicyConfig(obs_size=110, context=8, width=32, layers=2, heads=2)).eval()
    obs, prev = torch.randn(5, 8, 110), torch.randint(0, 91, (5, 8))
    valid = torch.ones(5, 8, dtype=torch.bool)
    valid[0, :3] = False
    whole = net(obs, prev, valid)[:, -1]
    for start in (None, 0, 1, 2):  # the frozen part and the adapted top, wherever the adapters begin
        torch.testing.assert_close(net.top(net.hidden(obs, prev, valid, start), start), whole)
    # left padding changes nothing: window 0 equals its five real decisions alone
    short = net(obs[:1, 3:], prev[:1, 3:], valid[:1, 3:])[:, -1]
    torch.testing.assert_close(net(obs[:1], prev[:1], valid[:1])[:, -1], short, atol=1e-5, rtol=1e-5)


@needs_replays
def test_eval_identify_enroll_predict(trained, capsys, tmp_path):
    styled = trained / "styled.pt"
    code, out, _ = run(capsys, "rocket", "eval", "--model", styled, "--data", trained / "data", "--split", "train", "--json")
    r = json.loads(out)
    assert code == 0 and r["unit"] == "decisions" and r["examples"] > 0
    assert set(r["models"]) == {"styled [own]", "styled [mean]", "styled [base]"}
    assert all({"top1", "throttle", "handbrake"} <= set(m) and 0 < m["top1"] <= 1 for m in r["models"].values())
    code, out, _ = run(capsys, "rocket", "identify", "--model", styled, "--games", REPLAYS / "c618e9aafdd5.replay",
                       "--player", "dtracers | calculated.gg", "--json", "--top", "3")
    ranking = json.loads(out)["ranking"]
    assert code == 0 and len(ranking) == 3 and {"name", "score"} <= set(ranking[0])
    code, out, _ = run(capsys, "rocket", "enroll", "--model", styled, "--name", "klay2",
                       "--games", REPLAYS / "0b8e1ef3b081.replay", "--player", "klay", "--out", tmp_path / "e.pt")
    assert code == 0 and "enrolled klay2" in out
    code, out, _ = run(capsys, "rocket", "styles", "list", "--model", tmp_path / "e.pt")
    assert "klay2" in out
    code, out, _ = run(capsys, "rocket", "predict", "--model", styled, "--game", REPLAYS / "0b8e1ef3b081.replay",
                       "--player", "KLAY", "--at", "12", "--json")
    p = json.loads(out)
    assert code == 0 and p["player"] == "klay" and len(p["top"]) == 5
    assert abs(sum(x["p"] for x in p["top"])) <= 1.0001


@needs_replays
def test_clear_errors(trained, capsys, tmp_path):
    styled = trained / "styled.pt"
    code, _, err = run(capsys, "rocket", "identify", "--model", styled, "--games", tmp_path / "nope.replay", "--player", "x")
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    code, _, err = run(capsys, "rocket", "identify", "--model", styled, "--games", REPLAYS / "0b8e1ef3b081.replay",
                       "--player", "Nobody")
    assert code == 2 and "did not play" in err and "klay" in err
    code, _, err = run(capsys, "rocket", "predict", "--model", styled, "--game", REPLAYS / "0b8e1ef3b081.replay",
                       "--player", "klay", "--style", "Posixx")
    assert code == 2 and "unknown player" in err
    chess_model = Path(__file__).resolve().parents[1] / "models" / "maia-1100.pt"
    code, _, err = run(capsys, "rocket", "styles", "list", "--model", chess_model)
    assert code == 2 and "chess model, not a rocket model" in err
    bad = tmp_path / "bad.replay"
    shutil.copy(REPLAYS / "0b8e1ef3b081.replay", bad)
    bad.write_bytes(bad.read_bytes()[:5000])
    code, _, err = run(capsys, "rocket", "identify", "--model", styled, "--games", bad, "--player", "klay")
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1


SHIPPED = Path(__file__).resolve().parents[1] / "models" / "rocket-replays.pt"
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "nadir-2v2-2016.replay"
AT = "22.14"  # rustixote's decision 332: 30 s into their play while kickoff countdowns were kept


@pytest.mark.skipif(not SHIPPED.exists(), reason="the shipped Rocket League model is not built")
def test_shipped_model_on_the_shipped_sample(capsys):
    """What the README shows on a fresh clone: the shipped model, the shipped sample replay."""
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert card["game"] == "rocket" and card["players"] >= 30 and SHIPPED.stat().st_size < 10e6
    code, out, _ = run(capsys, "rocket", "identify", "--games", SAMPLE, "--player", "Nadir", "--json", "--top", "3")
    r = json.loads(out)
    assert code == 0 and r["ranking"][0]["name"] == "Nadir"  # the model learned from this game
    code, out, _ = run(capsys, "rocket", "predict", "--game", SAMPLE, "--player", "rustixote", "--at", AT,
                       "--style", "Posix:0.5,Nadir:0.5", "--steer", "speed=4", "--json")
    p = json.loads(out)
    assert code == 0 and p["style"] == "Posix:0.5,Nadir:0.5" and 0 < p["did"]["p"] <= 1

    def boost(steer: str) -> tuple[float, dict]:  # the chance of a boosting action, and every action's
        code, out, _ = run(capsys, "rocket", "predict", "--game", SAMPLE, "--player", "rustixote", "--at", AT,
                           "--style", "Posix:0.5,Nadir:0.5", "--steer", steer, "--top", "90", "--json")
        top = json.loads(out)["top"]
        return sum(x["p"] for x in top if x["controls"][6]), {x["action"]: x["p"] for x in top}

    (slow, p_slow), (plain, p_plain), (fast, p_fast) = boost("speed=-4"), boost("speed=0"), boost("speed=4")
    assert fast > 1.2 * slow  # toward the fastest drivers: more boost
    assert 0.5 * sum(abs(p_fast[a] - p_plain.get(a, 0)) for a in p_fast) > 0.05  # a visible change
    code, out, _ = run(capsys, "rocket", "styles", "similar", "Posix", "--top", "3")
    assert code == 0 and len(out.strip().splitlines()) == 3


def test_playstation_players_are_told_apart_by_name(shared_data):
    """2016 PlayStation ids hold online_id "1" for everyone: one key for 30 people merged them
    into one "player" (12 games, 30 names). The PSN name names the person there."""
    from playas.rocket.replay import _platform_key, read

    old = {"PlayStation": {"name": "coskie1", "online_id": "1", "unknown1": [99, 56, 117, 115, 112, 115, 52, 0]}}
    assert _platform_key(old, "coskie1") == "playstation:coskie1"
    real = {"PlayStation": {"name": "someone", "online_id": "2503475902934501234", "unknown1": []}}
    assert _platform_key(real, "someone") == "playstation:2503475902934501234"
    assert _platform_key({"Steam": "76561197960464457"}, "Nadir") == "steam:76561197960464457"
    r = read(shared_data / "rocket" / "replays" / "182bd2265699.replay")
    ps = [p for p in r.players if p.key.startswith("playstation:")]
    assert len(ps) >= 5 and len({p.key for p in ps}) == len(ps)
    assert "playstation:Bacon_Mama2-0" in {p.key for p in ps}
