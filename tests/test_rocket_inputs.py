"""Bad inputs to the Rocket League commands are refused before any work, in one sentence: a
match's length (playas.rocket.match.match_decisions) and a moment to predict at
(playas.rocket.predict.decision_at), in the library and through the CLI (exit 2, one line)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from playas.cli import main
from playas.core.errors import PlayasError
from playas.rocket.match import MAX_MINUTES, match_decisions
from playas.rocket.predict import decision_at
from playas.rocket.vocabulary import DECISIONS_PER_SECOND

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "rocket-replays.pt"
SAMPLE = ROOT / "samples" / "nadir-2v2-2016.replay"


def test_match_length():
    assert match_decisions(["Posix"], ["Nadir"], 1) == 60 * DECISIONS_PER_SECOND
    assert match_decisions(["a", "b", "c"], ["d"], MAX_MINUTES) == MAX_MINUTES * 60 * DECISIONS_PER_SECOND
    for bad in (-1, 0, 0.0, 1e9, MAX_MINUTES + 0.01, float("nan"), float("inf"), True, "5", None):
        with pytest.raises(PlayasError, match=f"more than 0 and at most {MAX_MINUTES} minutes"):
            match_decisions(["Posix"], ["Nadir"], bad)
    with pytest.raises(PlayasError, match="shorter than one decision"):
        match_decisions(["Posix"], ["Nadir"], 1e-5)
    with pytest.raises(PlayasError, match="1 to 3 cars a side"):
        match_decisions(["Posix"] * 4, ["Nadir"], 1)


@pytest.mark.parametrize("minutes", ["-1", "0", "1e9"])
def test_match_minutes_through_the_cli(minutes, tmp_path, capsys):
    out = tmp_path / "match"
    code = main(["rocket", "play", "--style", "Posix", "--vs", "Nadir", "--minutes", minutes, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"at most {MAX_MINUTES} minutes" in err, err
    assert not out.exists()  # refused before anything ran or was written


def test_predict_moment():
    rows = np.arange(10 * DECISIONS_PER_SECOND)  # 10 s of play: decisions 0 .. 149
    assert decision_at(rows, 0, "Posix", "x.replay") == 0
    assert decision_at(rows, 2, "Posix", "x.replay") == 2 * DECISIONS_PER_SECOND
    assert decision_at(rows, (len(rows) - 1) / DECISIONS_PER_SECOND, "Posix", "x.replay") == len(rows) - 1
    for bad in (9999, 10.0, -1, float("nan"), float("inf")):
        with pytest.raises(PlayasError, match=r"outside Posix's play in x.replay, which runs from 0 to 9.9 s"):
            decision_at(rows, bad, "Posix", "x.replay")


@pytest.mark.skipif(not SHIPPED.exists() or not SAMPLE.exists(), reason="the shipped model or sample is absent")
def test_predict_at_outside_the_play_through_the_cli(capsys):
    pytest.importorskip("subtr_actor")
    code = main(["rocket", "predict", "--game", str(SAMPLE), "--player", "rustixote", "--at", "9999"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "9999 s is outside rustixote's play" in err, err
