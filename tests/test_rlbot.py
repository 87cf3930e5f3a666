"""The RLBot v5 bot (playas.bots.rlbot) against RLBotServer's stand-in on loopback (tests/rlbot_server.py).

Two bot folders (two styles) are written, started as RLBot starts them (``run_command_linux`` in
``root_dir`` with ``RLBOT_AGENT_ID`` and ``RLBOT_SERVER_PORT``), and play a short 1v1 in RocketSim
over the real wire protocol; the match ends with a DisconnectSignal and both processes must exit
cleanly. Then the faults: garbage bytes to one bot and the server vanishing mid-match. And odd
packets handed straight to ``get_output`` (no server): no ball, a missing index, phases in which
cars do not drive, a demolished car, something that is not a packet at all.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rlbot")
pytest.importorskip("RocketSim")
pytest.importorskip("rlgym.rocket_league.sim")

from playas.shipped import default_model

MODEL = default_model("rocket")
if not MODEL.exists():
    pytest.skip(f"{MODEL} is absent", allow_module_level=True)

from rlbot import flat
from rlbot.config import load_player_config

from playas.bots.rlbot import add_command, write_bot_folder
from playas.bots.rlbot.bot import PlayasBot, load_settings
from playas.bots.rlbot.folder import cmd_command, run_commands, sh_command
from playas.bots.rlbot.settings import Drive, settings_toml, toml_value
from playas.core.errors import PlayasError
from playas.rocket.actions import TABLE
from playas.rocket.vocabulary import DECISION_SECONDS, TICK_RATE, TICKS_PER_DECISION
from tests.rlbot_server import RLBotLoopback, as_struct, is_neutral
from tests.rocketsim_car import BOOST_ACTION, JUMP_ACTION, THROTTLE_ACTION, respond

BAD_LINES = ("ERROR", "CRITICAL", "Traceback")


@pytest.fixture(scope="module")
def styles() -> list[str]:
    from playas.rocket.model import load_styled

    names = list(load_styled(MODEL)[0].table.names)
    wanted = [n for n in ("Posix", "Nadir") if n in names]
    return (wanted + [n for n in names if n not in wanted])[:2]


def _venv_python(folder, python=sys.executable):
    """A stand-in for the venv the folder's README asks for: ``venv/bin/python`` runs ``python``."""
    p = folder / "venv" / "bin" / "python"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"#!/bin/sh\nexec {shlex.quote(python)} \"$@\"\n")
    p.chmod(0o755)
    return p


@pytest.fixture(scope="module")
def folders(tmp_path_factory, styles):
    """Two bot folders: the first as RLBot users get it (the model copied in, run by the folder's
    own venv), the second naming the model by path and run by this Python (``python=``)."""
    root = tmp_path_factory.mktemp("rlbot")
    a = write_bot_folder(root / "a", styles[0], MODEL)
    _venv_python(a["dir"])
    b = write_bot_folder(root / "b", styles[1], MODEL, copy_model=False, python=sys.executable)
    return [a, b]


def _bad_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(b in line for b in BAD_LINES)]


# --- the bot folder ---------------------------------------------------------------------------


def test_bot_folder_reads_as_rlbot_reads_it(folders, styles):
    a, b = folders
    for r, style in zip(folders, styles):
        d = r["dir"]
        assert {p.name for p in d.iterdir()} >= {"bot.toml", "loadout.toml", "playas.toml", "bot.py",
                                                 "requirements.txt", "README.txt"}
        player = load_player_config(d / "bot.toml", 1)  # rlbot's own reader, as RLBotServer's launcher
        bot = player.variety
        assert bot.agent_id == r["agent_id"] and bot.name == f"playas {style}" and not bot.hivemind
        assert bot.root_dir == str(d.absolute())  # the commands run in the folder
        settings = tomllib.loads((d / "bot.toml").read_text(encoding="utf-8"))["settings"]
        assert settings["run_command"] == r".\venv\Scripts\python.exe bot.py"  # Windows: the folder's venv
        assert bot.run_command == settings["run_command_linux"] == r["run_command"]  # on Linux, rlbot takes this
        assert bot.loadout is not None and bot.loadout.team_color_id == 1
        s = load_settings(bot.root_dir, env={})
        assert s["style"] == style and s["decide_every"] == TICKS_PER_DECISION
    assert a["run_command"] == "./venv/bin/python bot.py" and shlex.split(b["run_command"]) == [sys.executable, "bot.py"]
    assert (a["dir"] / "model.pt").is_file() and load_settings(a["dir"], env={})["model"] == str(a["dir"] / "model.pt")
    assert not (b["dir"] / "model.pt").exists() and load_settings(b["dir"], env={})["model"] == str(MODEL.resolve())
    env = load_settings(b["dir"], env={"PLAYAS_STYLE": "Someone", "PLAYAS_MODEL": "/x/y.pt"})
    assert env["style"] == "Someone" and env["model"] == "/x/y.pt"


def test_rlbot_command(tmp_path, styles, capsys):
    parser = argparse.ArgumentParser()
    add_command(parser.add_subparsers())
    a = parser.parse_args(["rlbot", "--style", styles[0], "--out", str(tmp_path / "bot"), "--link-model"])
    assert a.func(a) == 0
    out = capsys.readouterr().out
    assert "bot.toml" in out and (tmp_path / "bot" / "bot.toml").is_file()
    from playas.core.errors import PlayasError

    a = parser.parse_args(["rlbot", "--style", "Nobody At All", "--out", str(tmp_path / "no")])
    with pytest.raises(PlayasError):
        a.func(a)


def _run(command: str, folder: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``command`` as RLBotServer runs it on Linux: ``/bin/sh -c`` in the folder."""
    return subprocess.run(["/bin/sh", "-c", command], cwd=folder, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})))


def test_the_windows_command_is_quoted_for_cmd_exe():
    """cmd.exe /c keeps a line's quotes only in narrow cases, else it strips the first and the last:
    a line that needs quotes is wrapped in one more pair, so what runs is the quoted command."""
    assert cmd_command([r".\venv\Scripts\python.exe", "bot.py"]) == r".\venv\Scripts\python.exe bot.py"
    for python in (r"C:\Program Files\Python311\python.exe", r"C:\Program Files (x86)\Py & Co\python.exe"):
        line = run_commands(python, windows=True)["run_command"]
        assert line == f'""{python}" bot.py"'
        assert line[1:-1] == f'"{python}" bot.py'  # what cmd.exe runs once it strips the outer pair
        assert tomllib.loads(f"run_command = {toml_value(line)}")["run_command"] == line
    assert run_commands(r"C:\Python311\python.exe", windows=True)["run_command_linux"] == "./venv/bin/python bot.py"
    for bad in (r"C:\100%\python.exe", 'C:\\a"b\\python.exe'):
        with pytest.raises(PlayasError, match="cannot be quoted for cmd.exe"):
            cmd_command([bad, "bot.py"])


def test_the_linux_command_is_quoted_for_sh(folders, tmp_path, styles):
    """A Python at a path with a space, a quote and a dollar: the folder's command runs it through
    /bin/sh -c, as RLBotServer does, and the bot reads its own folder's settings."""
    python = _venv_python(tmp_path / "it's a $HOME", sys.executable)
    assert sh_command([str(python), "bot.py"]) == "'" + str(python).replace("'", "'\\''") + "' bot.py"
    assert '"' not in sh_command([str(python)])  # RLBot wraps the line in double quotes
    with pytest.raises(PlayasError, match="cannot be in an RLBot command on Linux"):
        sh_command(['/opt/a"b/python'])
    r = write_bot_folder(tmp_path / "spaced bot", styles[0], MODEL, python=str(python), check=False)
    assert r["run_command"] == sh_command([str(python), "bot.py"])
    done = _run(r["run_command"] + " --check", r["dir"])
    assert done.returncode == 0 and done.stdout.startswith(f"playas bot ready: drives as {styles[0]}, "), done
    done = _run(shlex.join([sys.executable, str(r["dir"] / "bot.py"), "--check"]), tmp_path)  # from elsewhere:
    assert done.returncode == 0 and f"settings {r['dir'] / 'playas.toml'}" in done.stdout, done  # its own folder
    done = _run(folders[0]["run_command"] + " --check", folders[0]["dir"])  # the venv command, as written
    assert done.returncode == 0 and f"settings {folders[0]['dir'] / 'playas.toml'}" in done.stdout, done


def test_the_folder_says_plainly_what_it_needs(folders):
    d = folders[0]["dir"]
    readme = (d / "README.txt").read_text(encoding="utf-8")
    for needed in ("Python 3.11", "-m venv venv", r"venv\Scripts\python -m pip install -r requirements.txt",
                   "./venv/bin/python -m pip install -r requirements.txt", "bot.py --check",
                   r"Windows (cmd.exe /c):   .\venv\Scripts\python.exe bot.py",
                   "Linux (/bin/sh -c):     ./venv/bin/python bot.py", "ranked online play is cheating"):
        assert needed in readme, needed
    wanted = [line for line in (d / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert wanted == [f"{Path(__file__).resolve().parents[1].as_posix()}[rocket]"]  # this checkout, its extra


def test_bot_settings_are_checked_with_one_sentence(folders, tmp_path):
    """playas.toml through the bot's own start (the folder's run command): an unknown key gets
    "did you mean", a wrong type names the key and the file; the bot ends (2) before connecting."""
    a = folders[0]
    d = tmp_path / "bad"
    write_bot_folder(d, None, MODEL, copy_model=False, python=sys.executable, check=False)
    settings = d / "playas.toml"
    for body, said in [("[playas]\ntemprature = 0.5\n",
                        "unknown setting 'playas.temprature'; did you mean 'playas.temperature'?"),
                       ('[playas]\ntemperature = "hot"\n', "playas.temperature must be a number from 0 to 100, not 'hot'"),
                       ("[playas]\ndecide_every = 0\n", "playas.decide_every must be a whole number of at least 1, not 0"),
                       ("[playa]\nstyle = 'x'\n", "unknown setting 'playa'; did you mean 'playas'?"),
                       ("[playas.steer]\nspeed = 'fast'\n", "playas.steer must map names to numbers")]:
        settings.write_text(body)
        done = _run(shlex.join([sys.executable, "bot.py"]), d)  # no --check: the bot's real start
        assert done.returncode == 2 and done.stdout == "", done
        assert done.stderr.startswith(f"playas: error: bot settings {settings}: {said}"), done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
    settings.write_text("[playas\n")
    with pytest.raises(PlayasError, match=f"^bot settings {settings} is not valid TOML"):
        load_settings(d, env={})
    done = _run(a["run_command"] + " --check", a["dir"], env={"PLAYAS_TEMPERATURE": "hot"})
    assert done.returncode == 2 and done.stderr == ("playas: error: environment variable PLAYAS_TEMPERATURE: "
                                                    "playas.temperature must be a number from 0 to 100, not 'hot'\n")
    assert load_settings(a["dir"], env={"PLAYAS_TEMPERATURE": "0.5", "PLAYAS_SEED": "3"})["temperature"] == 0.5


def test_one_default_for_every_setting(folders, tmp_path, styles):
    """Temperature and strength left to the model (its card's decisions; temperature 1 where it
    says none: 0 can leave a car standing still) and the rest, from the declaration only: a
    folder written without them, and the example file, read back the declared defaults."""
    defaults = Drive()
    assert defaults.temperature is None and defaults.strength is None and defaults.decide_every == 8
    s = load_settings(folders[0]["dir"], env={})
    assert (s["temperature"], s["strength"], s["seed"], s["decide_every"], s["steer"]) == (None, None, 0, 8, {})
    example = Path(__file__).resolve().parents[1] / "configs" / "rlbot" / "playas.toml"
    assert example.read_text(encoding="utf-8") == settings_toml(style="Posix", model="model.pt")  # written, not kept
    s = load_settings(example.parent, env={})
    assert s["style"] == "Posix" and s["temperature"] == defaults.temperature and s["decide_every"] == 8
    r = write_bot_folder(tmp_path / "warm", styles[0], MODEL, copy_model=False, temperature=0.25,
                         steer={"speed": 0.5}, check=False)
    s = load_settings(r["dir"], env={})
    assert s["temperature"] == 0.25 and s["steer"] == {"speed": 0.5}
    assert load_settings(r["dir"], env={"PLAYAS_STRENGTH": "0.4"})["strength"] == 0.4
    with pytest.raises(PlayasError, match="playas.temperature must be a number from 0 to 100, not -1"):
        write_bot_folder(tmp_path / "cold", styles[0], MODEL, temperature=-1, check=False)
    assert not (tmp_path / "cold").exists()  # refused before anything was written
    with pytest.raises(PlayasError, match="playas.strength must be a number from 0 to 1, not 2"):
        write_bot_folder(tmp_path / "cold", styles[0], MODEL, strength=2, check=False)
    with pytest.raises(PlayasError, match="holds none"):  # MODEL, the cloned styles: no person policy beside it
        write_bot_folder(tmp_path / "cold", styles[0], MODEL, strength=0.5)
    assert not (tmp_path / "cold").exists()


# --- get_output on its own --------------------------------------------------------------------


def _packet(phase=flat.MatchPhase.Active, frame=0, ball=True, players=2, demolished=False) -> flat.GamePacket:
    cars = []
    for i in range(players):
        team = i % 2
        y = -2048.0 if team == 0 else 2048.0
        cars.append(flat.PlayerInfo(
            physics=flat.Physics(flat.Vector3(0, y, 17), flat.Rotator(0, np.pi / 2 if team == 0 else -np.pi / 2, 0),
                                 flat.Vector3(), flat.Vector3()),
            demolished_timeout=2.0 if (demolished and i == 0) else -1.0, team=team, boost=33.0, name=f"p{i}"))
    balls = [flat.BallInfo(flat.Physics(flat.Vector3(0, 0, 92.75)), flat.SphereShape(182.5))] if ball else []
    return flat.GamePacket(players=cars, balls=balls,
                           match_info=flat.MatchInfo(seconds_elapsed=frame / TICK_RATE, match_phase=phase, frame_num=frame))


@pytest.fixture(scope="module")
def bot(folders, tmp_path_factory):
    """A PlayasBot initialised by hand (no server), from the first folder, as car 0 of blue."""
    import os

    os.environ["PLAYAS_BOT_DIR"] = str(folders[0]["dir"])
    try:
        b = PlayasBot("test/playas")
        b.index, b.team = 0, 0
        b.initialize()
    finally:
        del os.environ["PLAYAS_BOT_DIR"]
    return b


def test_odd_packets_get_neutral_input(bot, caplog):
    bot._restart()
    cases = {
        "no ball": _packet(ball=False),
        "index missing": _packet(players=0),
        "countdown": _packet(phase=flat.MatchPhase.Countdown),
        "inactive": _packet(phase=flat.MatchPhase.Inactive),
        "paused": _packet(phase=flat.MatchPhase.Paused),
        "goal replay": _packet(phase=flat.MatchPhase.Replay),
        "demolished": _packet(demolished=True),
        "not a packet": object(),
        "no match info": flat.GamePacket(players=_packet().players, balls=_packet().balls),
    }
    for why, packet in cases.items():
        out = bot.get_output(packet)
        assert isinstance(out, flat.ControllerState) and is_neutral(out), why
    bot.get_output(object())  # an error is said once, not every tick
    assert sum("get_output failed" in r.getMessage() for r in caplog.records) <= 1

    uninitialised = PlayasBot("test/playas")
    assert is_neutral(uninitialised.get_output(_packet()))


def test_decides_every_decision_and_holds(bot):
    bot._restart()
    t = TICKS_PER_DECISION
    outs = [bot.get_output(_packet(frame=f)) for f in range(100, 100 + 3 * t)]
    n = len(bot.decision_seconds)
    assert all(isinstance(o, flat.ControllerState) for o in outs)
    assert all(outs[k] is outs[k - k % t] for k in range(3 * t))  # held between decisions
    assert outs[0] is not outs[t] and outs[t] is not outs[2 * t]  # and decided anew at each
    bot.get_output(_packet(frame=100 + 3 * t))
    assert len(bot.decision_seconds) == n + 1
    bot.get_output(_packet(frame=3))  # the frame counter went back (a new match): decide again
    assert len(bot.decision_seconds) == n + 2


def test_rlbot_controls_jump_and_boost_do_what_they_say(bot, monkeypatch):
    """The RLBot path: the ControllerState get_output answers for the "jump" action, applied as the
    game applies it (by name), lifts a grounded car without boosting; for a "boost" action it
    drains boost and speeds the car up beyond throttle alone, on its wheels."""
    said = {}
    for name, a in (("jump", JUMP_ACTION), ("boost", BOOST_ACTION), ("throttle", THROTTLE_ACTION)):
        monkeypatch.setattr(bot.driver, "act", lambda frames, car, key=None, a=a: TABLE[a])
        bot._restart()
        state = bot.get_output(_packet(frame=500))
        assert (state.jump, state.boost, state.throttle) == (name == "jump", name == "boost", float(name != "jump"))
        said[name] = respond(lambda rs, state=state: as_struct(rs.CarControls, state))
    jump, boost, throttle = said["jump"], said["boost"], said["throttle"]
    assert jump["rise"] > 20 and not jump["on_ground"] and jump["boost_used"] == 0
    assert boost["boost_used"] > 2 and boost["on_ground"] and boost["rise"] < 5
    assert boost["speed"] > 1.3 * throttle["speed"] and throttle["boost_used"] == 0


def test_decision_latency_one_car(folders, bot):
    """get_output in a RocketSim 1v0 for 2400 ticks (300 decisions), in process: p50/p99."""
    server = RLBotLoopback([(folders[0]["dir"] / "bot.toml", 0)], seed=3)
    try:
        bot._restart()
        bot.decision_seconds.clear()
        every = []
        for _ in range(300 * TICKS_PER_DECISION):
            start = time.perf_counter()
            c = bot.get_output(server.packet())
            every.append(time.perf_counter() - start)
            server.agents[0].controls = c
            server.play(1, speed=0)
        lat = bot.latency()
        ticks = np.asarray(every) * 1000
        print(f"\ndecision latency (1 car, {lat['decisions']} decisions): p50 {lat['p50_ms']} ms, "
              f"p99 {lat['p99_ms']} ms; get_output every tick: p50 {np.percentile(ticks, 50):.3f} ms, "
              f"p99 {np.percentile(ticks, 99):.3f} ms, max {ticks.max():.3f} ms")
        assert lat["decisions"] == 300
        assert lat["p99_ms"] < 1000 * DECISION_SECONDS  # a decision well inside its ticks
    finally:
        server.close()


# --- real processes over the wire -------------------------------------------------------------


def test_a_1v1_match_over_the_wire(folders, tmp_path, styles):
    with RLBotLoopback([(folders[0]["dir"] / "bot.toml", 0), (folders[1]["dir"] / "bot.toml", 1)],
                       seed=1, log_dir=tmp_path) as server:
        server.start_bots()
        assert server.wait_ready(60), [a.log() for a in server.agents]
        for a in server.agents:
            assert a.settings.agent_id == a.agent_id
        result = server.play(12 * TICK_RATE, speed=1.0, countdown_ticks=TICK_RATE // 2)
        print(f"\n1v1 over loopback: {result}")
        time.sleep(0.2)
        server.disconnect()
        codes = server.wait_exit(10)
        logs = [a.log() for a in server.agents]
        assert codes == [0, 0], logs
        for a, log in zip(server.agents, logs):
            assert not _bad_lines(log), log
            assert a.inputs > 12 * TICK_RATE * 0.5, (a.inputs, log)  # answered most ticks
            assert a.non_neutral > 0 and a.wrong_index == 0 and a.first_input_tick is not None
            assert "playas retiring" in log
        for a, style, log in zip(server.agents, styles, logs):
            assert f"drives as {style} " in log, log  # each bot read its own folder's playas.toml
            print(f"{a.agent_id}: {log[log.index('playas retiring'):].splitlines()[0]}")
        assert not server.errors
        assert min(result["car_distance"]) > 500  # both cars drove


def test_garbage_and_the_server_vanishing(folders, tmp_path):
    """Bot 0 gets a framed message of garbage; then the server vanishes with bot 1 mid-match."""
    with RLBotLoopback([(folders[0]["dir"] / "bot.toml", 0), (folders[1]["dir"] / "bot.toml", 1)],
                       seed=2, log_dir=tmp_path) as server:
        server.start_bots()
        assert server.wait_ready(60), [a.log() for a in server.agents]
        server.play(240, speed=2.0, faults={60: lambda: server.garbage(0)})
        garbled, cut = server.agents
        assert max(garbled.input_ticks) <= 61 and garbled.proc.wait(5) == 0  # it read the garbage and left
        assert "unpacking" in garbled.log()
        assert cut.inputs > 200 and cut.proc.poll() is None  # the other bot played on
        server.vanish()
        start = time.monotonic()
        codes = server.wait_exit(10)
        took = time.monotonic() - start
        logs = [a.log() for a in server.agents]
        assert None not in codes, logs  # nobody hangs
        assert codes == [0, 0], logs
        assert took < 10
        assert "disconnected" in logs[1]
        for log in logs:
            assert "Traceback" not in log and "playas retiring" in log, log


def test_the_stand_in_scores_goals_and_resets_to_a_kickoff(folders):
    """The server's own world: a ball behind the orange goal line is blue's goal, then a kickoff."""
    server = RLBotLoopback([(folders[0]["dir"] / "bot.toml", 0), (folders[1]["dir"] / "bot.toml", 1)], seed=4)
    try:
        server.play(2, speed=0)
        state = server.arena.ball.get_state()
        state.pos = server.rsim.Vec(0, 5400, 200)
        server.arena.ball.set_state(state)
        r = server.play(1, speed=0)
        assert r["score"] == [1, 0] and r["goals"] == [3]
        p = server.packet()
        assert p.match_info.match_phase == flat.MatchPhase.Kickoff and p.teams[0].score == 1
        assert abs(p.balls[0].physics.location.y) < 1 and [pl.team for pl in p.players] == [0, 1]
        assert all(pl.demolished_timeout == -1 for pl in p.players) and p.match_info.frame_num == 3
        assert len(p.boost_pads) == len(server.field_info.boost_pads) == 34
    finally:
        server.close()


def test_the_server_does_not_wait_for_a_slow_bot(folders, tmp_path):
    """A client that answers each packet 30 ms late (four ticks) beside a real bot: the match keeps
    real time, the slow one's inputs land when they land, the real bot answers as before."""
    import socket
    import threading

    with RLBotLoopback([(folders[0]["dir"] / "bot.toml", 0), (folders[1]["dir"] / "bot.toml", 1)],
                       seed=4, log_dir=tmp_path) as server:
        real, slow = server.agents
        import subprocess  # only the first bot runs as a process; the second is this client

        env = dict(os.environ, RLBOT_AGENT_ID=real.agent_id, RLBOT_SERVER_PORT=str(server.port))
        real.stdout, real.stderr = tmp_path / "real.out", tmp_path / "real.err"
        real.proc = subprocess.Popen(shlex.split(real.run_command), cwd=real.root_dir or None, env=env,
                                     stdout=real.stdout.open("w"), stderr=real.stderr.open("w"))
        conn = socket.create_connection(("127.0.0.1", server.port))
        send = lambda m: conn.sendall(len(b := flat.InterfacePacket(m).pack()).to_bytes(2, "big") + b)  # noqa: E731
        send(flat.ConnectionSettings(agent_id=slow.agent_id))
        send(flat.InitComplete())
        done = threading.Event()

        def answer_late():
            buf = b""
            while not done.is_set():
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                packets = 0
                while len(buf) >= 2 and len(buf) >= 2 + int.from_bytes(buf[:2], "big"):
                    n = int.from_bytes(buf[:2], "big")
                    msg = flat.CorePacket.unpack(buf[2:2 + n]).message
                    buf = buf[2 + n:]
                    packets += isinstance(msg, flat.GamePacket)
                if packets:
                    time.sleep(0.030)
                    try:
                        send(flat.PlayerInput(slow.index, flat.ControllerState(throttle=1.0)))
                    except OSError:  # the match ended while this one dawdled
                        return

        reader = threading.Thread(target=answer_late, daemon=True)
        reader.start()
        assert server.wait_ready(60), real.log()
        result = server.play(360, speed=1.0)
        done.set()
        assert result["seconds"] < 3.0 + 1.0  # 360 ticks of real time, not 360 waits of 30 ms (10.8 s)
        assert 0 < slow.inputs < 360 / 2  # about one answer every four ticks, each applied when it came
        assert real.inputs > 360 * 0.5 and real.non_neutral > 0
        server.disconnect()
        conn.close()
        reader.join(5)
        assert real.proc.wait(10) == 0
        assert not _bad_lines(real.log()), real.log()
