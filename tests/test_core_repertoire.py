"""The repertoire's two-level model on counts made by hand: what each level answers, and why the
middle level (everyone's choices) is there."""

import numpy as np
import pytest
import torch

from playas.core.repertoire import Repertoire

A, B, C = 0, 1, 2  # players


def counted(**weights):
    """A met key 1 fifty times and played 0; at key 2 everyone (A, C) plays 0, rarely 1; B, known
    from two games, played 3 at key 1 and never reached key 2."""
    events = [(1, A, 0)] * 50 + [(2, A, 0)] * 50 + [(2, A, 1)] * 5 + [(2, C, 0)] * 40 + [(1, B, 3)] * 2
    keys, players, actions = zip(*events)
    return Repertoire.count(keys, players, actions, prior_weight=1.0, **weights)


def test_each_level_answers_where_it_has_counts():
    rep = counted(network_weight=4.0)
    uniform = torch.full((3, 3), 0.25)
    c = rep.lookup([1, 2, 9], [3, 0, 0], players=3)
    assert c.all_situation.tolist() == [52, 95, 0] and c.all_action.tolist() == [2, 90, 0]
    p = rep.mix(*c, uniform)
    assert p[B, 0] == pytest.approx((2 + 1.0 * (2 + 4 * 0.25) / (52 + 4)) / 3)  # B's own counts first
    assert p[B, 1] == pytest.approx((90 + 4 * 0.25) / (95 + 4))  # B never met key 2: everyone's choices
    assert torch.allclose(p[:, 2], torch.tensor(0.25))  # nobody met key 9: the network alone


def test_a_person_known_from_few_games_is_not_outranked_where_only_others_have_been():
    """B's query: their own move at key 1, then six moves at key 2 as everyone plays it. With the
    network alone below the counts (no middle level), A, who has been at key 2 fifty times, scores
    higher there than B by more than B's own move gains; with everyone's level between, key 2 says
    the same of both and B comes first."""
    keys, actions = [1] + [2] * 6, [3] + [0] * 6
    net = torch.full((3, len(keys)), np.log(0.25))
    for weight, first in ((None, A), (4.0, B)):
        rep = counted(network_weight=weight)
        scores = rep.logliks(net, rep.lookup(keys, actions, players=3)).sum(1)
        assert int(scores[:2].argmax()) == first


def test_stored_and_read_back_with_both_weights():
    rep = counted(network_weight=2.0)
    again = Repertoire.from_dict(rep.to_dict())
    assert (again.prior_weight, again.network_weight, again.depth) == (1.0, 2.0, None)
    assert all(np.array_equal(getattr(again, k), getattr(rep, k)) for k in ("keys", "players", "actions", "counts"))
    old = rep.to_dict()
    del old["network_weight"]  # a model stored before the middle level reads as it played then
    assert Repertoire.from_dict(old).network_weight is None


def test_adding_counts_equals_counting_everything_at_once():
    rng = np.random.default_rng(0)
    events = rng.integers(1, 6, size=(3000, 3))  # many repeats of (key, player, action)
    events[:, 0] *= 1 << 40  # keys are big numbers
    rep = Repertoire.count(*events[:1000].T)
    rep.add(Repertoire.count(*events[1000:].T))
    whole = Repertoire.count(*events.T)
    assert len(rep) == len(whole) == 125  # 5 x 5 x 5, each met many times
    assert all(np.array_equal(getattr(rep, k), getattr(whole, k)) for k in ("keys", "players", "actions", "counts"))
