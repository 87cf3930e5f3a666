"""A fine-tuned model paired with its person policy (playas rocket pair): cars act by both, piKL's
rule, from the person policy (strength 0) to the play policy (1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playas.cli import main as playas
from playas.core import checkpoint
from playas.core.errors import PlayasError
from playas.shipped import MODELS

CLONED = MODELS / "rocket-replays.pt"
if not CLONED.exists():
    pytest.skip(f"{CLONED} is absent", allow_module_level=True)

from playas.rocket.model import ROCKET, decision_logits, load_person, pair, top_part  # noqa: E402


def _person(tmp_path, seed=0):
    """A copy of the cloned styles whose top acts otherwise (its head moved), frozen layers kept."""
    styled, _ = checkpoint.load_styled(CLONED, ROCKET)
    g = torch.Generator().manual_seed(seed)
    head = top_part(styled.base)[-1]
    head.weight.data += torch.randn(head.weight.shape, generator=g)
    path = tmp_path / f"person{seed}.pt"
    checkpoint.save_model(path, ROCKET, styled, {"kind": "styled"})
    return path


def _frames(n=6):
    """What two cars see over a few moments of a real RocketSim kickoff."""
    pytest.importorskip("RocketSim")
    from playas.rocket.match import _rocketsim
    from playas.rocket.sources import frame_from_arena

    rsim = _rocketsim()
    arena = rsim.Arena(rsim.GameMode.SOCCAR)
    for team in (0, 1):
        arena.add_car(team)
    arena.reset_kickoff(3)
    out = []
    for _ in range(n):
        out.append(frame_from_arena(arena)[0])
        arena.step(8)
    return out


def test_decision_logits_is_the_weighted_product_of_the_two_policies():
    g = torch.Generator().manual_seed(1)
    play, person = torch.randn(5, 90, generator=g), torch.randn(5, 90, generator=g)
    p = torch.softmax(decision_logits(play, person, 0.25), -1)
    want = torch.softmax(person, -1) ** 0.75 * torch.softmax(play, -1) ** 0.25
    torch.testing.assert_close(p, want / want.sum(-1, keepdim=True))
    assert decision_logits(play, person, 1.0) is play and decision_logits(play, None, 0.3) is play


def test_a_paired_model_acts_from_the_person_to_the_play_policy(tmp_path):
    """Strength 0 takes the person policy's actions, 1 the play policy's, and the card's strength
    and temperature are what a driver uses unless told otherwise."""
    from playas.rocket.agent import Driver

    person = _person(tmp_path)
    out = tmp_path / "paired.pt"
    card = pair(CLONED, person, out, strength=0.3, temperature=0.6)
    assert card["decisions"] == {"strength": 0.3, "temperature": 0.6} and card["person"]["file"] == person.name
    styled, blob = checkpoint.load_styled(out, ROCKET)
    assert load_person(styled, blob) is not None

    d = Driver(model=out, style="Posix")
    assert (d.strength, d.temperature) == (0.3, 0.6)
    frames = _frames()

    def actions(model, **kw):
        drv = Driver(model=model, style="Posix", temperature=0, **kw)
        return np.concatenate([drv.decide(f, [0, 1]) for f in frames])

    as_person, as_play = actions(out, strength=0.0), actions(out, strength=1.0)
    assert (as_person == actions(person)).all()
    assert (as_play == actions(CLONED)).all()
    assert (as_person != as_play).any()  # the two policies differ here: the test can tell them apart


def test_a_copy_of_a_paired_model_keeps_its_person(tmp_path):
    """Steering directions written into a paired model keep the person policy beside it."""
    from playas.core.verbs import steer
    from playas.rocket.game import GAME

    out = tmp_path / "paired.pt"
    pair(CLONED, _person(tmp_path), out, strength=0.5)
    styled, _ = checkpoint.load_styled(out, ROCKET)
    measured = {n: {prop: float(i) for prop in GAME.properties} for i, n in enumerate(styled.table.names)}
    steered = tmp_path / "steered.pt"
    steer(GAME, out, measured, steered)
    again, blob = checkpoint.load_styled(steered, ROCKET)
    assert load_person(again, blob) is not None and blob["card"]["decisions"]["strength"] == 0.5


def test_pairing_refuses_what_cannot_pair(tmp_path, capsys):
    """Another trunk, a strength out of range, or a strength for a model with no person policy:
    one sentence each, exit 2, nothing written."""
    from playas.rocket.agent import Driver

    styled, _ = checkpoint.load_styled(CLONED, ROCKET)
    styled.base.blocks[0].ln1.weight.data += 0.1  # a frozen layer changed
    other = tmp_path / "other.pt"
    checkpoint.save_model(other, ROCKET, styled, {"kind": "styled"})
    out = tmp_path / "paired.pt"
    assert playas(["rocket", "pair", "--model", str(CLONED), "--person", str(other), "--strength", "0.2",
                   "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "does not share" in err and err.count("\n") == 1 and not out.exists()
    with pytest.raises(PlayasError, match="between 0"):
        pair(CLONED, _person(tmp_path), out, strength=1.5)
    with pytest.raises(PlayasError, match="holds none"):
        Driver(model=CLONED, strength=0.5)


def test_a_paired_model_learns_through_its_pair(tmp_path):
    """train-play on a paired model: the car acts by the mix, only the play policy's top moves
    (the person policy is exactly as it was), and the model written is paired the same way."""
    pytest.importorskip("RocketSim")
    from playas.rocket.finetune import Learner, train_play

    person = _person(tmp_path)
    paired = tmp_path / "paired.pt"
    pair(CLONED, person, paired, strength=0.3, temperature=0.8)
    out = tmp_path / "tuned.pt"
    recipe = {"arenas": 4, "horizon": 8, "epochs": 1, "minibatch": 32, "replay_starts": 0.0, "agent_steps": 100,
              "lr": 0.01}
    card = train_play(paired, [], out, recipe, progress=False)
    state = torch.load(out.with_suffix(".train-state"), weights_only=False)["learner"]
    assert not [k for k in state if k.startswith("person.")]  # read again from the model file
    assert train_play(paired, [], out, {**recipe, "agent_steps": 200}, progress=False)["fine_tune"]["agent_steps"] >= 200
    assert card["kind"] == "styled, fine-tuned in play through its person policy"
    assert card["decisions"] == {"strength": 0.3, "temperature": 0.8} and card["person"]["file"] == person.name

    before, blob0 = checkpoint.load_styled(paired, ROCKET)
    after, blob = checkpoint.load_styled(out, ROCKET)
    for k, v in blob0["extra"]["person"].items():
        assert torch.equal(blob["extra"]["person"][k], v), k  # the person policy did not learn
    moved = [not torch.equal(a, b) for a, b in zip(top_part(after.base)[-1].parameters(),
                                                      top_part(before.base)[-1].parameters())]
    assert any(moved)  # the play policy did

    learner = Learner(after, person=load_person(after, blob), strength=0.3)
    c = after.base.config
    obs, prev = torch.randn(5, c.context, c.obs_size), torch.zeros(5, c.context, dtype=torch.long)
    h = learner.hidden(obs, prev, torch.ones(5, c.context, dtype=torch.bool))
    style = torch.arange(5) % len(after.table)
    alone = Learner(after).logits(h, style)
    as_person = Learner(load_person(after, blob)).logits(h, style)
    torch.testing.assert_close(learner.logits(h, style), decision_logits(alone, as_person, 0.3))


def test_a_paired_rollout_keeps_its_person_policys_logits(tmp_path):
    """The frozen person policy's logits are taken once a decision in play and kept for every PPO
    pass: they are the person policy's own on the rollout's windows, and the mix PPO learns from
    is the one the car sampled its actions by."""
    pytest.importorskip("RocketSim")
    import torch.nn.functional as F

    from playas.rocket.finetune import Learner, Practice, play_recipe, rollout
    from playas.rocket.frames import OBS_SIZE
    from playas.rocket.match import _rocketsim

    person = _person(tmp_path)
    paired = tmp_path / "paired.pt"
    pair(CLONED, person, paired, strength=0.3)
    styled, blob = checkpoint.load_styled(paired, ROCKET)
    learner = Learner(styled, person=load_person(styled, blob), strength=0.3)
    r = play_recipe({"arenas": 3, "horizon": 4, "replay_starts": 0.0, "atba": 0.0})
    empty = (np.empty((0, 9)), np.empty((0, 2, 16)))
    practice = Practice(_rocketsim(), r, len(styled.table), empty, styled.base.config.context, OBS_SIZE,
                        np.random.default_rng(0))
    try:
        batch, _ = rollout(learner, practice, r, torch.Generator().manual_seed(0))
    finally:
        practice.close()
    assert batch.person is not None and len(batch.person) == len(batch.action) == 3 * 2 * 4
    alone = Learner(load_person(styled, blob)).logits(batch.h, batch.style)
    torch.testing.assert_close(batch.person, alone, atol=1e-4, rtol=1e-4)  # 6 windows a pass there, 24 here
    with torch.no_grad():
        logp = F.log_softmax(learner.logits(batch.h, batch.style, person=batch.person), -1)
    torch.testing.assert_close(logp.gather(1, batch.action[:, None])[:, 0], batch.logp, atol=1e-4, rtol=1e-4)
