"""Headless RocketSim matches between playas drivers (playas.rocket.match)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("RocketSim")
pytest.importorskip("rlgym.rocket_league.sim")

from playas.shipped import MODELS

MODEL = MODELS / "rocket-replays.pt"
if not MODEL.exists():
    pytest.skip(f"{MODEL} is absent", allow_module_level=True)

from playas.rocket.match import play_match, write_match
from playas.rocket.sources import frame_from_arena

MINUTES = 20 / 60


@pytest.fixture(scope="module")
def match():
    return play_match(["Posix"], ["Nadir"], minutes=MINUTES, seed=4, model=MODEL, progress=False, temperature=1.0)


def test_frame_from_arena():
    from playas.rocket.match import _rocketsim

    rsim = _rocketsim()
    arena = rsim.Arena(rsim.GameMode.SOCCAR)
    cars = [arena.add_car(t) for t in (0, 1, 1)]
    arena.reset_kickoff(1)
    arena.step(30)
    frames, ids = frame_from_arena(arena)
    assert ids == sorted(c.id for c in cars)
    assert frames.cars.shape == (1, 3, 16) and frames.ball.shape == (1, 9)
    assert frames.team.tolist() == [0, 1, 1] and frames.present.all()
    s = cars[1].get_state()
    np.testing.assert_allclose(frames.cars[0, 1, 0:3], s.pos.as_numpy(), atol=1e-3)
    fwd, up = frames.cars[0, :, 9:12], frames.cars[0, :, 12:15]
    np.testing.assert_allclose(np.linalg.norm(fwd, axis=1), 1, atol=1e-4)
    np.testing.assert_allclose((fwd * up).sum(1), 0, atol=1e-4)
    assert frames.cars[0, 0, 1] < 0 < frames.cars[0, 1, 1]  # blue starts at -y
    assert frames.time[0] == pytest.approx(arena.tick_count / 120)


def test_match_runs_and_stats_are_sane(match):
    assert match["seconds"] == pytest.approx(20, abs=0.1)
    assert len(match["cars"]) == 2
    assert [r["team"] for r in match["cars"]] == ["blue", "orange"]
    for r in match["cars"]:
        assert r["speed"] > 0 and r["ball_distance"] > 0
        assert r["touches"] >= 0 and r["shots"] >= r["goals"] >= 0 and r["saves"] >= 0
        assert 0 <= r["supersonic_s"] <= match["seconds"] and 0 <= r["airborne_s"] <= match["seconds"]
        assert r["boost_used"] >= 0
    assert sum(r["touches"] for r in match["cars"]) > 0  # a kickoff is contested
    assert match["score"]["blue"] + match["score"]["orange"] == len(match["goals"])
    tr = match["trajectories"]
    d = match["decisions"]
    assert tr["ball"].shape == (d, 3) and tr["cars"].shape == (d, 2, 3) and tr["present"].shape == (d, 2)
    assert np.abs(tr["cars"][..., 0]).max() < 4200 and np.abs(tr["ball"][:, 1]).max() < 6000


def test_same_seed_same_match(match):
    again = play_match(["Posix"], ["Nadir"], minutes=MINUTES, seed=4, model=MODEL, progress=False, temperature=1.0)
    assert again["cars"] == match["cars"] and again["score"] == match["score"] and again["goals"] == match["goals"]
    np.testing.assert_array_equal(again["trajectories"]["cars"], match["trajectories"]["cars"])


def test_sampling_is_seeded():
    a, b = (play_match(["Posix:0.5,Nadir:0.5"], ["comagoosie"], minutes=5 / 60, seed=s, model=MODEL,
                       progress=False, temperature=0.5) for s in (1, 1))
    assert a["cars"] == b["cars"]
    np.testing.assert_array_equal(a["trajectories"]["cars"], b["trajectories"]["cars"])


def test_write_match(match, tmp_path):
    paths = write_match(match, tmp_path / "out")
    for name in ("summary.txt", "summary.json", "trajectories.npz", "pitch.svg"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    assert "Posix" in paths["summary.txt"].read_text()
    assert json.loads(paths["summary.json"].read_text())["score"] == match["score"]
    with np.load(paths["trajectories.npz"]) as z:
        assert z["cars"].shape == match["trajectories"]["cars"].shape
    root = ET.parse(paths["pitch.svg"]).getroot()
    assert root.tag.endswith("svg")
    assert len(root.findall(".//{http://www.w3.org/2000/svg}polyline")) >= 3  # ball and two cars


def test_bad_team_size():
    from playas.core.errors import PlayasError

    with pytest.raises(PlayasError):
        play_match([], ["Posix"], minutes=0.01, progress=False)


def test_on_target():
    from playas.rocket.match import _on_target

    into_blue = np.array([100.0, -4000.0, 200.0, 0.0, -1500.0, 0.0])  # 0.75 s from blue's goal line
    assert _on_target(into_blue, 0) and not _on_target(into_blue, 1)
    wide = into_blue + [0, 0, 0, 1500.0, 0, 0]  # 1100 uu to the side at the line: past the post
    assert not _on_target(wide, 0)
    slow = into_blue * [1, 1, 1, 1, 0.2, 1]  # 300 uu/s
    assert not _on_target(slow, 0)
    into_orange = into_blue * [1, -1, 1, 1, -1, 1]
    assert _on_target(into_orange, 1) and not _on_target(into_orange, 0)


def test_missing_meshes_is_one_clear_error(monkeypatch):
    from pathlib import Path

    import playas.rocket.match as m
    from playas.core.errors import PlayasError

    monkeypatch.setattr(m, "_inited", False)
    monkeypatch.setattr(Path, "glob", lambda self, pattern: iter(()))
    with pytest.raises(PlayasError, match="collision meshes are missing"):
        m._rocketsim()
