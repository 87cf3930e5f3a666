"""Closed-loop fine-tuning (playas.rocket.finetune) over batched RocketSim arenas (playas.rocket.arenas)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("RocketSim")
pytest.importorskip("rlgym.rocket_league.sim")

from playas.shipped import MODELS

MODEL = MODELS / "rocket-replays.pt"
if not MODEL.exists():
    pytest.skip(f"{MODEL} is absent", allow_module_level=True)

from playas.core import checkpoint
from playas.rocket.arenas import Arenas, Start
from playas.rocket.frames import OBS_SIZE
from playas.rocket.finetune import Learner, Practice, _gae, play_recipe, train_play
from playas.rocket.match import _rocketsim
from playas.rocket.model import ROCKET
from playas.rocket.sources import frame_from_arena
from playas.rocket.vocabulary import BACK_WALL, BALL_FIELDS, CAR_FIELDS, FWD, POS, UP, VEL

REPO = Path(__file__).resolve().parents[1]
TINY = {"arenas": 4, "horizon": 8, "epochs": 1, "minibatch": 32, "replay_starts": 0.0}


def _car(pos, vel, fwd=(0, 1, 0), boost=33.0) -> np.ndarray:
    row = np.zeros(CAR_FIELDS, np.float32)
    row[POS], row[VEL], row[FWD], row[UP], row[15] = pos, vel, fwd, (0, 0, 1), boost
    return row


def test_arenas_read_what_rocketsim_holds_and_start_where_told():
    arenas = Arenas(_rocketsim(), 3)
    rng = np.random.default_rng(0)
    for i in range(3):
        arenas.reset(i, Start(seed=i))
    for _ in range(20):
        arenas.step(rng.integers(90, size=(3, 2)))
    f = arenas.frames()
    for i in range(3):
        one, _ = frame_from_arena(arenas.arenas[i])
        np.testing.assert_allclose(f.cars[i], one.cars[0], atol=1e-4)
        np.testing.assert_allclose(f.ball[i], one.ball[0], atol=1e-4)
    ball = np.array([100, -200, 500, 0, 0, 0, 0, 0, 0], np.float32)
    cars = np.stack([_car((-1000, -3000, 17), (0, 500, 0)), _car((800, 2500, 17), (0, -300, 0), fwd=(0, -1, 0))])
    arenas.reset(1, Start(seed=5, ball=ball, cars=cars))
    f = arenas.frames()
    np.testing.assert_allclose(f.ball[1, POS], ball[POS], atol=1e-3)
    np.testing.assert_allclose(f.cars[1][:, POS], cars[:, POS], atol=1e-2)
    np.testing.assert_allclose(f.cars[1][:, FWD], cars[:, FWD], atol=1e-4)
    np.testing.assert_allclose(f.cars[1][:, 15], 33.0, atol=1e-3)
    arenas.close()


def test_arenas_in_threads_play_as_one_thread_does():
    """Stepping the arenas in two threads (RocketSim releases Python's lock) changes nothing: the same
    actions from the same kickoffs give the same world, pad timers and events."""
    runs = []
    for threads in (1, 2):
        arenas = Arenas(_rocketsim(), 5, threads=threads)
        rng = np.random.default_rng(1)
        for i in range(5):
            arenas.reset(i, Start(seed=10 + i))
        touched = np.zeros((5, 2), bool)
        for _ in range(200):
            touched |= arenas.step(rng.integers(90, size=(5, 2))).touched
        f = arenas.frames()
        runs.append((f.cars, f.ball, f.pads, touched))
        arenas.close()
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    assert runs[0][2].any()  # some pad was taken and is counting down


def test_arena_events_touch_and_goal():
    arenas = Arenas(_rocketsim(), 2)
    # arena 0: the blue car drives into a ball resting in front of it
    ball = np.array([0, -1000, 93, 0, 0, 0, 0, 0, 0], np.float32)
    arenas.reset(0, Start(0, ball, np.stack([_car((0, -1400, 17), (0, 1400, 0)), _car((3000, 4000, 17), (0, 0, 0))])))
    # arena 1: the ball flies into orange's goal (+y): blue scores
    ball = np.array([0, BACK_WALL - 300, 200, 0, 3000, 0, 0, 0, 0], np.float32)
    arenas.reset(1, Start(0, ball, np.stack([_car((-3000, 0, 17), (0, 0, 0)), _car((3000, 0, 17), (0, 0, 0))])))
    touched, goal = np.zeros((2, 2), bool), np.full(2, -1)
    for _ in range(15):
        ev = arenas.step(np.zeros((2, 2), np.int64))
        touched |= ev.touched
        goal = np.where(goal < 0, ev.goal, goal)
    assert touched[0, 0] and not touched[0, 1]
    assert goal[1] == 0 and goal[0] == -1
    arenas.close()


def test_rewards_take_each_teams_side():
    r = play_recipe({**TINY, "atba": 0.0})
    practice = Practice(_rocketsim(), r, 3, (np.empty((0, BALL_FIELDS)), np.empty((0, 2, CAR_FIELDS))), 16, OBS_SIZE,
                        np.random.default_rng(0))
    # the ball flies toward orange's goal: good for blue, bad for orange
    ball = np.array([0, 0, 500, 0, 2000, 0, 0, 0, 0], np.float32)
    cars = np.stack([_car((-2000, -2000, 17), (0, 0, 0)), _car((2000, 2000, 17), (0, 0, 0))])
    for i in range(practice.n):
        practice.arenas.reset(i, Start(0, ball, cars))
    practice.look()
    rewards, ended, truncated, _ = practice.step(np.zeros((practice.n, 2), np.int64))
    assert (rewards[:, 0] > 0).all() and (rewards[:, 1] < 0).all()
    assert not ended.any()
    practice.close()


def test_save_boost_pays_the_fuller_tank_and_nothing_for_an_empty_one():
    only = {"goal": 0, "touch": 0, "save": 0, "ball_to_goal": 0, "to_ball": 0, "save_boost": 1.0}
    r = play_recipe({**TINY, "atba": 0.0, "rewards": only})
    practice = Practice(_rocketsim(), r, 2, (np.empty((0, BALL_FIELDS)), np.empty((0, 2, CAR_FIELDS))), 16, OBS_SIZE,
                        np.random.default_rng(0))
    ball = np.array([0, 0, 93, 0, 0, 0, 0, 0, 0], np.float32)
    cars = np.stack([_car((-2000, -3000, 17), (0, 0, 0), boost=100.0), _car((2000, 3000, 17), (0, 0, 0), boost=0.0)])
    for i in range(practice.n):
        practice.arenas.reset(i, Start(0, ball, cars))
    practice.look()
    rewards, _, _, _ = practice.step(np.zeros((practice.n, 2), np.int64))  # action 0 does not boost
    tank = practice.arenas.frames().cars[:, :, 15]
    assert (tank[:, 0] > 90).all() and (tank[:, 1] < 1).all()
    np.testing.assert_allclose(rewards[:, 0], np.sqrt(tank[:, 0] / 100), rtol=1e-5)
    assert (rewards[:, 1] == 0).all()
    practice.close()


def test_a_minibatch_of_one_decision_leaves_the_policy_finite():
    """A rollout one decision longer than a minibatch leaves a last minibatch of one: its own
    advantage std would be NaN (a 10 M-step run died of it). Advantages are normalised over the
    rollout instead."""
    from playas.rocket.finetune import Batch, update

    styled, _ = checkpoint.load_styled(MODEL, ROCKET)
    learner = Learner(styled)
    g = torch.Generator().manual_seed(0)
    n, width = 33, styled.base.config.width
    h = torch.randn(n, width, generator=g)
    style = torch.arange(n) % len(styled.table)
    with torch.no_grad():
        logp_all = F.log_softmax(learner.logits(h, style), -1)
    action = torch.randint(0, 90, (n,), generator=g)
    b = Batch(h, style, action, logp_all.gather(1, action[:, None])[:, 0], logp_all,
              torch.randn(n, generator=g), torch.randn(n, generator=g))
    recipe = play_recipe({**TINY, "minibatch": 32})
    out = update(learner, torch.optim.Adam(learner.trainable(), 1e-3), b, recipe, g)
    assert all(np.isfinite(v) for v in out.values()), out
    assert all(torch.isfinite(p).all() for p in learner.trainable())


def test_gae_stops_at_an_end_and_bootstraps_a_truncation():
    r = {"gamma": 0.5, "lam": 1.0}
    rewards = torch.tensor([[1.0], [0.0], [2.0]])[:, :, None].expand(3, 1, 2).contiguous()
    values = torch.zeros(4, 1, 2)
    values[3] = 10.0  # the state after the last decision
    ended = torch.tensor([[False], [True], [False]])
    truncated = torch.tensor([[False], [False], [False]])
    adv = _gae(rewards, values, ended, truncated, r)
    # t=1 ends the episode: t=0 sees 1 + 0.5 * 0; t=2 bootstraps from the next value: 2 + 0.5 * 10
    assert adv[:, 0, 0].tolist() == [1.0, 0.0, 7.0]
    values[1] = 4.0  # a truncated end: its last reward gains gamma * the value where it stopped
    truncated[1] = True
    adv = _gae(rewards, values, ended, truncated, r)
    assert adv[1, 0, 0].item() == pytest.approx(0.5 * 4.0 - 4.0)


def test_a_style_per_row_gives_each_rows_own_style():
    """MHR's per-sample path (every skill, then mixed) equals running each style alone."""
    from playas.core.mhr import routing_weights

    styled, _ = checkpoint.load_styled(MODEL, ROCKET)
    learner = Learner(styled)
    for name, p in learner.policy.named_parameters():
        if name.endswith(".B"):  # adapters away from their zero start, so styles differ
            p.data.normal_(0, 0.05)
    h, style = torch.randn(300, styled.base.config.width), torch.randint(len(styled.table), (300,))
    together = learner.logits(h, style)
    for s in style.unique().tolist():
        rows = style == s
        with styled.router.use(routing_weights(styled.table.z.detach()[s][None], False)):
            alone = styled.base.top(h[rows])
        torch.testing.assert_close(together[rows], alone, atol=1e-5, rtol=1e-4)
    # only the adapted top and the value head learn; the cloned copy never does
    trainable = {id(p) for p in learner.trainable()}
    assert all(id(p) not in trainable for p in learner.cloned.parameters())
    assert all(id(p) not in trainable for p in styled.base.blocks[0].parameters())
    assert id(styled.table.z) not in trainable


def test_train_play_writes_a_styled_model_that_drives(tmp_path):
    out = tmp_path / "play.pt"
    card = train_play(MODEL, [], out, {**TINY, "agent_steps": 200}, progress=False)
    assert card["fine_tune"]["agent_steps"] >= 200
    assert out.with_suffix(".train-state").exists()  # kept: more agent steps continue from it
    from playas.rocket.match import play_match

    r = play_match(["Posix"], ["atba"], minutes=5 / 60, seed=1, model=out, progress=False)
    assert r["decisions"] == 75
    tuned, blob = checkpoint.load_styled(out, ROCKET)
    assert blob["card"]["kind"] == "styled, fine-tuned in play"
    assert tuned.table.names == checkpoint.load_styled(MODEL, ROCKET)[0].table.names


def test_a_killed_train_play_resumes(tmp_path):
    recipe = tmp_path / "r.yml"
    recipe.write_text("arenas: 4\nhorizon: 8\nepochs: 1\nminibatch: 32\nreplay_starts: 0\nagent_steps: 100000\n")
    out = tmp_path / "play.pt"
    cmd = [sys.executable, "-m", "playas", "rocket", "train-play", "--model", str(MODEL), "--out", str(out),
           "--recipe", str(recipe), "--checkpoint-seconds", "0.5"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out.with_suffix(".train-state")
    deadline = time.monotonic() + 120
    while not state.exists() and time.monotonic() < deadline:
        assert proc.poll() is None
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    steps = torch.load(state, weights_only=False)["progress"]["steps"]
    assert 0 < steps < 100000 and not out.exists()
    p = subprocess.run(cmd + ["--agent-steps", str(steps + 100)], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    assert f"resuming from {state}: {steps:,} agent steps" in p.stdout
    assert out.exists() and state.exists()


# --- the style reward --------------------------------------------------------------------------

from playas.rocket.style_reward import FEATURES, StyleReward, replay_moves  # noqa: E402

DISCRIMINATOR = {"steps": 1, "batch": 256, "lr": 3e-3, "noise": 0.01}


def test_the_style_reward_pays_a_car_for_moving_as_its_person_does():
    """Two people who move differently and simulated cars unlike both: after learning, a style is paid
    more for its own person's moves than for the other person's or the simulated ones."""
    rng = np.random.default_rng(0)
    person = lambda centre, n: rng.normal(centre, 0.3, (n, 2 * FEATURES)).astype(np.float16)  # noqa: E731
    moves = np.concatenate([person(0.5, 3000), person(-0.5, 3000)])
    style = np.repeat([0, 1, -1], [3000, 2000, 1000])  # the last thousand belong to no style
    judge = StyleReward(moves, style, 3, {**DISCRIMINATOR, "steps": 300})
    assert not judge.known[2]
    simulated = rng.normal(0.0, 0.3, (3000, 2 * FEATURES)).astype(np.float32)
    judge.learn(simulated)
    own, other, sim = person(0.5, 500), person(-0.5, 500), simulated[:500]
    zeros = np.zeros(500, np.int64)
    paid = {k: judge(x, zeros).mean() for k, x in (("own", own), ("other", other), ("sim", sim))}
    assert paid["own"] > 2.0 > 0.5 > max(paid["other"], paid["sim"])
    assert (judge(own, np.full(500, 2)) == 0).all()  # a style with no replays earns nothing


def _dataset(tmp_path, lengths, restarts, games=None, action=0, input_hash=None):
    """Posix's sequences of ``lengths`` decisions (in ``games``, default all in game 0), every one
    taking ``action``."""
    import json

    from playas.rocket.dataset import FORMAT

    games = games or [0] * len(lengths)
    n, obs = sum(lengths), np.random.default_rng(1).normal(size=(sum(lengths), OBS_SIZE)).astype(np.float16)
    seqs, start = [], 0
    for length, rs, g in zip(lengths, restarts, games):
        seqs.append({"key": "steam:1", "name": "Posix", "team": 0, "length": length, "game": g, "start": start,
                     "restarts": rs})
        start += length
    manifest = {"format": FORMAT, "games": [{"file": f"g{g}.replay"} for g in range(max(games) + 1)],
                "sequences": seqs, "players": {"steam:1": {"name": "Posix", "games": len(set(games))}},
                "names": {"steam:1": "Posix"}, **({"input_hash": input_hash} if input_hash else {})}
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    np.save(tmp_path / "obs.npy", obs)
    np.save(tmp_path / "action.npy", np.full(n, action, np.int16))
    np.save(tmp_path / "scalars.npy", np.zeros((n, 4), np.float32))
    return tmp_path


def test_replay_moves_pair_consecutive_decisions_within_a_history(tmp_path):
    from playas.rocket.dataset import RocketData

    data = RocketData.open(_dataset(tmp_path / "d", [10, 6], [[4], []]))
    moves, style = replay_moves(data, ["Nadir", "Posix"])
    assert len(moves) == 9 + 5 - 1  # no pair across the two sequences or the restart at 4
    assert (style == 1).all()
    np.testing.assert_array_equal(moves[0, :FEATURES], data.obs[0, :FEATURES])
    np.testing.assert_array_equal(moves[0, FEATURES:], data.obs[1, :FEATURES])
    np.testing.assert_array_equal(moves[3, FEATURES:], data.obs[5, :FEATURES])  # 3 -> 4 is skipped
    assert len(replay_moves(data, ["Nadir"])[0]) == 0


def test_train_play_with_the_style_reward_pays_and_keeps_its_discriminator(tmp_path):
    data = _dataset(tmp_path / "d", [400], [[]])
    out = tmp_path / "play.pt"
    recipe = {**TINY, "agent_steps": 100, "rewards": {"style": 0.05}, "discriminator": DISCRIMINATOR}
    card = train_play(MODEL, [], out, recipe, progress=False, data=data)
    assert card["fine_tune"]["recipe"]["rewards"]["style"] == 0.05
    state = torch.load(out.with_suffix(".train-state"), weights_only=False)
    assert "style_reward" in state
    first = state["progress"]["history"][0]
    assert 0 <= first["style_reward"] <= 5 and 0 <= first["style_acc"] <= 1


# --- fine-tuning a fine-tuned model further ------------------------------------------------------

def test_a_fine_tuned_model_goes_on_held_near_its_cloned_styles(tmp_path):
    """``anchor``: the KL term holds the policy near the cloned model, not the one training starts
    from; a model that is not the start's clone is refused in one sentence."""
    from playas.core.errors import PlayasError
    from playas.rocket.finetune import _anchor

    first = tmp_path / "first.pt"
    train_play(MODEL, [], first, {**TINY, "agent_steps": 100, "lr": 0.01}, progress=False)
    tuned, _ = checkpoint.load_styled(first, ROCKET)
    cloned, _ = checkpoint.load_styled(MODEL, ROCKET)
    learner = Learner(tuned, _anchor(tuned, MODEL))
    obs = torch.randn(6, cloned.base.config.context, OBS_SIZE)
    prev = torch.zeros(6, cloned.base.config.context, dtype=torch.long)
    valid = torch.ones(6, cloned.base.config.context, dtype=torch.bool)
    style = torch.arange(6) % len(cloned.table)
    h = learner.hidden(obs, prev, valid)
    with torch.no_grad():
        held = learner.logits(h, style, cloned=True)
        moved = learner.logits(h, style)
        alone = Learner(cloned).logits(h, style, cloned=True)
    torch.testing.assert_close(held, alone)  # the clone's logits, exactly
    assert not torch.allclose(moved, held)  # and the policy starts where the first run left it

    second = tmp_path / "second.pt"
    card = train_play(first, [], second, {**TINY, "agent_steps": 100}, progress=False, anchor=MODEL)
    assert card["fine_tune"]["anchor"] == MODEL.name
    assert card["fine_tune"]["earlier"]["agent_steps"] >= 100  # how the start was made is kept

    other = tmp_path / "other.pt"
    cloned.base.blocks[0].ln1.weight.data += 0.1  # a frozen layer changed: not this model's clone
    checkpoint.save_model(other, ROCKET, cloned, {"kind": "styled"})
    with pytest.raises(PlayasError, match="frozen layers differ"):
        _anchor(tuned, other)


# --- the people's own moves (bc) ---------------------------------------------------------------

def test_the_bc_term_learns_only_from_the_models_training_games(tmp_path):
    """The people's moves come from the games the model trained on: where the card's data is this
    dataset, a game its split held out stays out."""
    from playas.rocket.finetune import _people_data, _people_moves

    path = _dataset(tmp_path / "d", [300, 200], [[], []], games=[0, 1], input_hash="abc")
    styled, _ = checkpoint.load_styled(MODEL, ROCKET)
    learner = Learner(styled)
    recipe = play_recipe({"bc": 1.0, "bc_decisions": 10_000})
    blob = {"card": {"data": {"input_hash": "abc", "path": str(path)}, "split": {"train": [0], "test": [1]}}}
    d, _, games = _people_data(blob, None)
    assert games == [0]
    people = _people_moves(learner, d, path, games, recipe, progress=False)
    assert len(people) == 300 and (people.style == styled.table.names.index("Posix")).all()
    other = {"card": {**blob["card"], "data": {"input_hash": "another dataset", "path": str(path)}}}
    assert _people_data(other, None)[2] is None  # other data than the model's: every game of it


def test_train_play_with_the_bc_term_predicts_the_people_better(tmp_path):
    """Each minibatch beside the people's moves: their cross-entropy falls as the run goes on."""
    data = _dataset(tmp_path / "d", [600], [[]], action=7)
    out = tmp_path / "play.pt"
    recipe = {**TINY, "agent_steps": 600, "lr": 0.003, "kl": 0.0, "bc": 5.0, "bc_decisions": 600}
    card = train_play(MODEL, [], out, recipe, progress=False, data=data)
    assert card["fine_tune"]["recipe"]["bc"] == 5.0
    history = torch.load(out.with_suffix(".train-state"), weights_only=False)["progress"]["history"]
    assert len(history) >= 10
    first, last = np.mean([h["bc"] for h in history[:3]]), np.mean([h["bc"] for h in history[-3:]])
    assert last < 0.5 * first, (first, last)
