"""A loopback stand-in for RLBotServer (v5), for the RLBot bot's tests: the real protocol, RocketSim's world.

RLBotServer needs the game; this speaks its wire protocol to real bot processes instead
(``rlbot/interface.py``): TCP on 127.0.0.1 (a free port), each message a 2-byte big-endian length
then a flatbuffer. A bot sends ``InterfacePacket``\\ s (``ConnectionSettings`` first, then
``InitComplete``, then a ``PlayerInput`` each tick); the server answers ``CorePacket``\\ s:
``FieldInfo``, ``MatchConfiguration`` and ``ControllableTeamInfo`` once the bot has said who it is
(its agent id), then a ``GamePacket`` per tick, and ``DisconnectSignal`` at the end.

It starts each bot as RLBot does: the bot folder's ``bot.toml`` read with rlbot's own
``load_player_config`` (so ``root_dir`` and ``run_command_linux`` are taken exactly as RLBot takes
them), the command run in ``root_dir`` with ``RLBOT_AGENT_ID`` and ``RLBOT_SERVER_PORT`` set.

The world is a RocketSim soccar arena with one car per bot, reset to a kickoff. Each tick the
server builds a ``GamePacket`` from the simulation (players' physics with the rotation as a
``Rotator`` from the car's rotation matrix, boost, team, ``demolished_timeout`` -1 on the pitch;
the ball; boost pad states; ``match_info`` with ``frame_num``, ``seconds_elapsed`` and the phase),
sends it to every bot, applies the latest input each bot has sent (it never waits for a slow bot)
and steps the arena one tick (120 Hz). A goal resets to a kickoff (phase ``Kickoff`` until the
ball is touched, after an optional ``Countdown`` in which cars are frozen).

A test can make it misbehave: send one bot a framed message of garbage bytes (:meth:`garbage`),
cut one bot's connection (:meth:`cut`), or vanish altogether without a goodbye (:meth:`vanish`).
"""

from __future__ import annotations

import os
import random
import shlex
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rlbot import flat
from rlbot.config import load_player_config

from playas.rocket.actions import engine_controls
from playas.rocket.vocabulary import (BACK_WALL, CONTROLS, GOAL_HALF_WIDTH, PAD_RESPAWN_BIG, PAD_RESPAWN_SMALL,
                                      TICK_RATE)

BALL_RADIUS = 91.25
GOAL_HEIGHT = 642.775
OCTANE_HITBOX = (118.01, 84.2, 36.16)
OCTANE_OFFSET = (13.88, 0.0, 20.75)


def init_rocketsim():
    """RocketSim, initialised once with the soccar meshes that rlgym-rocket-league ships."""
    import RocketSim as rsim
    from rlgym.rocket_league import sim

    try:
        rsim.init(str(Path(sim.__file__).parent / "collision_meshes"))
    except Exception as e:  # a second init in one process
        if "already" not in str(e).lower():
            raise
    return rsim


def _v(v) -> flat.Vector3:
    return flat.Vector3(float(v.x), float(v.y), float(v.z))


def _rotator(rot_mat) -> flat.Rotator:
    a = rot_mat.as_angle()
    return flat.Rotator(float(a.pitch), float(a.yaw), float(a.roll))


def as_struct(struct, controls):
    """One engine's controls (RocketSim's ``CarControls``, RLBot's ``ControllerState``) as
    another's, name by name, as the game applies a bot's input."""
    return engine_controls(struct, [getattr(controls, name) for name in CONTROLS])


def is_neutral(c: flat.ControllerState) -> bool:
    return not (c.throttle or c.steer or c.pitch or c.yaw or c.roll or c.jump or c.boost or c.handbrake
                or c.use_item)


@dataclass
class Agent:
    """One bot: its configuration, its process, its connection and what it sent."""

    config: Path
    team: int
    index: int
    player: flat.PlayerConfiguration
    agent_id: str
    name: str
    root_dir: str
    run_command: str
    proc: subprocess.Popen | None = None
    stdout: Path | None = None
    stderr: Path | None = None
    conn: socket.socket | None = None
    settings: flat.ConnectionSettings | None = None
    connected: threading.Event = field(default_factory=threading.Event)
    initialized: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)
    controls: flat.ControllerState = field(default_factory=flat.ControllerState)
    inputs: int = 0  # PlayerInput messages received
    non_neutral: int = 0  # ... of which not all zero
    wrong_index: int = 0  # PlayerInputs for a car that is not this bot's
    other: dict = field(default_factory=dict)  # other message types received -> count
    first_input_tick: int | None = None
    input_ticks: list = field(default_factory=list)  # the tick at which each input arrived
    lags: list = field(default_factory=list)  # seconds from the latest packet sent to each input's arrival
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, data: bytes) -> bool:
        """Send one framed message; False (and the connection marked closed) if it is gone."""
        conn = self.conn
        if conn is None or self.closed.is_set():
            return False
        try:
            with self.lock:
                conn.sendall(len(data).to_bytes(2, "big") + data)
            return True
        except OSError:
            self.closed.set()
            return False

    def log(self) -> str:
        """What the bot process wrote (stdout then stderr)."""
        return "".join(p.read_text(errors="replace") for p in (self.stdout, self.stderr) if p and p.exists())


class RLBotLoopback:
    """``RLBotLoopback([(bot_toml, team), ...])``: start the bots, :meth:`wait_ready`, :meth:`play`,
    :meth:`disconnect` (or :meth:`vanish`). Also a context manager that cleans up."""

    def __init__(self, bots, seed: int = 0, log_dir=None, env: dict | None = None):
        self.rsim = init_rocketsim()
        self.arena = self.rsim.Arena(self.rsim.GameMode.SOCCAR)
        self.seed = seed
        self.rng = random.Random(seed)
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="rlbot-loopback-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = env or {}
        self.agents: list[Agent] = []
        self.cars = []
        ids = set()
        for index, (config, team) in enumerate(bots):
            player = load_player_config(Path(config), team)
            bot = player.variety
            pid = self.rng.randrange(1, 2**31)
            while pid in ids:
                pid = self.rng.randrange(1, 2**31)
            ids.add(pid)
            player = flat.PlayerConfiguration(bot, team, pid)
            self.agents.append(Agent(Path(config), team, index, player, bot.agent_id, bot.name,
                                     bot.root_dir, bot.run_command))
            self.cars.append(self.arena.add_car(team))
        self.pads = sorted(self.arena.get_boost_pads(), key=lambda p: (p.get_pos().y, p.get_pos().x))
        self.arena.reset_kickoff(seed)
        self.tick = 0  # ticks played
        self.sent_at = time.perf_counter()  # when the latest GamePacket went out
        self.phase = flat.MatchPhase.Kickoff
        self.countdown_left = 0
        self.score = [0, 0]
        self.goals: list[int] = []  # the tick of each goal
        self.match_config = flat.MatchConfiguration(
            auto_start_agents=True, wait_for_agents=True, game_map_upk="Stadium_P",
            player_configurations=[a.player for a in self.agents], game_mode=flat.GameMode.Soccar,
            mutators=flat.MutatorSettings(), enable_rendering=flat.DebugRendering.OffByDefault)
        self.field_info = flat.FieldInfo(
            boost_pads=[flat.BoostPad(_v(p.get_pos()), bool(p.is_big)) for p in self.pads],
            goals=[flat.GoalInfo(0, flat.Vector3(0, -BACK_WALL, GOAL_HEIGHT / 2), flat.Vector3(0, 1, 0),
                                 GOAL_HALF_WIDTH * 2, GOAL_HEIGHT),
                   flat.GoalInfo(1, flat.Vector3(0, BACK_WALL, GOAL_HEIGHT / 2), flat.Vector3(0, -1, 0),
                                 GOAL_HALF_WIDTH * 2, GOAL_HEIGHT)])
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.errors: list[str] = []  # protocol errors seen (a bot that misbehaves)
        self.threads: list[threading.Thread] = []
        self._accept_thread = threading.Thread(target=self._accept, daemon=True)
        self._accept_thread.start()

    # --- bots -------------------------------------------------------------------------------

    def start_bots(self) -> None:
        """Start every bot as RLBot does: ``run_command`` in ``root_dir`` with its agent id and our port."""
        for a in self.agents:
            env = dict(os.environ, RLBOT_AGENT_ID=a.agent_id, RLBOT_SERVER_PORT=str(self.port),
                       PYTHONUNBUFFERED="1", **self.env)
            a.stdout = self.log_dir / f"bot{a.index}.out"
            a.stderr = self.log_dir / f"bot{a.index}.err"
            with open(a.stdout, "wb") as out, open(a.stderr, "wb") as err:
                a.proc = subprocess.Popen(shlex.split(a.run_command), cwd=a.root_dir or None, env=env,
                                          stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """True once every bot has connected and sent InitComplete (False on timeout or a bot's death)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(a.initialized.is_set() for a in self.agents):
                return True
            if any(a.proc is not None and a.proc.poll() is not None for a in self.agents):
                return False
            time.sleep(0.02)
        return False

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    @staticmethod
    def _read(conn: socket.socket) -> bytes | None:
        def exact(n):
            buf = bytearray()
            while len(buf) < n:
                chunk = conn.recv(n - len(buf))
                if not chunk:
                    return None
                buf += chunk
            return bytes(buf)

        head = exact(2)
        if head is None:
            return None
        return exact(int.from_bytes(head, "big"))

    def _serve(self, conn: socket.socket) -> None:
        """One bot's connection: who it is, the match data, then its inputs until it goes."""
        agent = None
        try:
            data = self._read(conn)
            if data is None:
                return
            msg = flat.InterfacePacket.unpack(data).message
            if not isinstance(msg, flat.ConnectionSettings):
                self.errors.append(f"first message was {type(msg).__name__}, not ConnectionSettings")
                return
            agent = next((a for a in self.agents if a.agent_id == msg.agent_id and a.conn is None), None)
            if agent is None:
                self.errors.append(f"unknown agent id {msg.agent_id!r}")
                conn.sendall(len(b := flat.CorePacket(flat.DisconnectSignal()).pack()).to_bytes(2, "big") + b)
                return
            agent.conn, agent.settings = conn, msg
            agent.connected.set()
            agent.send(flat.CorePacket(self.field_info).pack())
            agent.send(flat.CorePacket(self.match_config).pack())
            agent.send(flat.CorePacket(flat.ControllableTeamInfo(
                agent.team, [flat.ControllableInfo(agent.index, agent.player.player_id)])).pack())
            while True:
                data = self._read(conn)
                if data is None:
                    return
                msg = flat.InterfacePacket.unpack(data).message
                if isinstance(msg, flat.InitComplete):
                    agent.initialized.set()
                elif isinstance(msg, flat.PlayerInput):
                    if msg.player_index != agent.index:
                        agent.wrong_index += 1
                        continue
                    agent.controls = msg.controller_state
                    agent.inputs += 1
                    agent.input_ticks.append(self.tick)
                    agent.lags.append(time.perf_counter() - self.sent_at)
                    if agent.first_input_tick is None:
                        agent.first_input_tick = self.tick
                    if not is_neutral(msg.controller_state):
                        agent.non_neutral += 1
                else:
                    name = type(msg).__name__
                    agent.other[name] = agent.other.get(name, 0) + 1
        except flat.InvalidFlatbuffer as e:
            self.errors.append(f"bad flatbuffer from {agent.agent_id if agent else 'a new connection'}: {e}")
        except OSError:
            pass
        finally:
            if agent is not None:
                agent.closed.set()
            try:
                conn.close()
            except OSError:
                pass

    # --- the world --------------------------------------------------------------------------

    def packet(self) -> flat.GamePacket:
        """The GamePacket of the arena as it is now."""
        players = []
        for a, car in zip(self.agents, self.cars):
            s = car.get_state()
            c = s.last_controls
            air = (flat.AirState.OnGround if s.is_on_ground else
                   flat.AirState.Jumping if s.is_jumping else flat.AirState.InAir)
            players.append(flat.PlayerInfo(
                physics=flat.Physics(_v(s.pos), _rotator(s.rot_mat), _v(s.vel), _v(s.ang_vel)),
                score_info=flat.ScoreInfo(goals=car.goals, saves=car.saves, shots=car.shots, demolitions=car.demos),
                hitbox=flat.BoxShape(*OCTANE_HITBOX), hitbox_offset=flat.Vector3(*OCTANE_OFFSET),
                air_state=air, dodge_timeout=-1.0,
                demolished_timeout=float(s.demo_respawn_timer) if s.is_demoed else -1.0,
                is_supersonic=bool(s.is_supersonic), is_bot=True, name=a.name, team=a.team,
                boost=float(s.boost), player_id=a.player.player_id,
                last_input=as_struct(flat.ControllerState, c),
                has_jumped=bool(s.has_jumped), has_double_jumped=bool(s.has_double_jumped),
                has_dodged=bool(s.has_flipped)))
        b = self.arena.ball.get_state()
        ball = flat.BallInfo(flat.Physics(_v(b.pos), _rotator(b.rot_mat), _v(b.vel), _v(b.ang_vel)),
                             flat.SphereShape(BALL_RADIUS * 2))
        # RLBot's timer counts the seconds since a pad was taken (RocketSim's cooldown: until it is back)
        pads = [flat.BoostPadState(bool(st.is_active), 0.0 if st.is_active else
                                   (PAD_RESPAWN_BIG if p.is_big else PAD_RESPAWN_SMALL) - float(st.cooldown))
                for p, st in ((p, p.get_state()) for p in self.pads)]
        seconds = self.tick / TICK_RATE
        info = flat.MatchInfo(seconds_elapsed=seconds, game_time_remaining=max(0.0, 300.0 - seconds),
                              match_phase=self.phase, world_gravity_z=-650.0, game_speed=1.0,
                              frame_num=self.arena.tick_count)
        teams = [flat.TeamInfo(0, self.score[0]), flat.TeamInfo(1, self.score[1])]
        return flat.GamePacket(players=players, boost_pads=pads, balls=[ball], match_info=info, teams=teams)

    def kickoff(self, countdown_ticks: int = 0) -> None:
        self.arena.reset_kickoff(self.rng.randrange(2**31))
        self.countdown_left = countdown_ticks
        self.phase = flat.MatchPhase.Countdown if countdown_ticks else flat.MatchPhase.Kickoff

    def play(self, ticks: int, speed: float = 1.0, countdown_ticks: int = 0, faults: dict | None = None) -> dict:
        """Play ``ticks`` ticks: a packet to every bot, their latest inputs applied, one step.

        ``speed`` 1 paces the ticks in real time (120 a second), 2 twice as fast, 0 as fast as
        possible. ``faults`` maps a tick to a callable run before that tick's packet (a fault to
        inject: ``lambda: server.garbage(0)``). Returns the match's numbers."""
        faults = faults or {}
        if self.tick == 0:
            self.kickoff(countdown_ticks)
        start = time.monotonic()
        ball0 = self.arena.ball.get_state().pos
        moved = [0.0] * len(self.cars)
        late = 0
        for n in range(ticks):
            if n in faults:
                faults[n]()
            data = flat.CorePacket(self.packet()).pack()
            self.sent_at = time.perf_counter()
            for a in self.agents:
                a.send(data)
            before = [c.get_state().pos for c in self.cars]
            frozen = self.phase == flat.MatchPhase.Countdown
            for a, car in zip(self.agents, self.cars):
                c = a.controls
                car.set_controls(self.rsim.CarControls() if frozen else as_struct(self.rsim.CarControls, c))
            self.arena.step(1)
            self.tick += 1
            for i, (car, p) in enumerate(zip(self.cars, before)):
                q = car.get_state().pos
                moved[i] += ((q.x - p.x) ** 2 + (q.y - p.y) ** 2 + (q.z - p.z) ** 2) ** 0.5
            self._advance_phase()
            if speed > 0:
                wait = start + (n + 1) / (TICK_RATE * speed) - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                else:
                    late += 1
        ball = self.arena.ball.get_state().pos
        return {"ticks": ticks, "seconds": round(time.monotonic() - start, 3), "late_ticks": late,
                "score": list(self.score), "goals": list(self.goals),
                "car_distance": [round(m, 1) for m in moved],
                "ball_moved": round(((ball.x - ball0.x) ** 2 + (ball.y - ball0.y) ** 2) ** 0.5, 1),
                "inputs": [a.inputs for a in self.agents], "non_neutral": [a.non_neutral for a in self.agents],
                "reply_ms_p50_p99": [_percentiles(a.lags) for a in self.agents]}

    def _advance_phase(self) -> None:
        if self.phase == flat.MatchPhase.Countdown:
            self.countdown_left -= 1
            if self.countdown_left <= 0:
                self.phase = flat.MatchPhase.Kickoff
            return
        b = self.arena.ball.get_state()
        if self.phase == flat.MatchPhase.Kickoff and (abs(b.vel.x) + abs(b.vel.y) + abs(b.vel.z)) > 1.0:
            self.phase = flat.MatchPhase.Active
        if abs(b.pos.y) > BACK_WALL + BALL_RADIUS:  # only a goal lets the ball behind the goal line
            self.score[0 if b.pos.y > 0 else 1] += 1
            self.goals.append(self.tick)
            self.kickoff()

    # --- endings and faults -----------------------------------------------------------------

    def garbage(self, index: int, size: int = 64) -> None:
        """Send bot ``index`` one properly framed message of random bytes (not a flatbuffer)."""
        self.agents[index].send(bytes(self.rng.randrange(256) for _ in range(size)))

    def cut(self, index: int) -> None:
        """Close bot ``index``'s connection abruptly (a reset, no goodbye)."""
        a = self.agents[index]
        if a.conn is not None:
            _abort(a.conn)
            a.closed.set()

    def vanish(self) -> None:
        """The server disappears mid-match: every connection reset, the port closed, no DisconnectSignal."""
        self.stopped.set()
        for a in self.agents:
            if a.conn is not None:
                _abort(a.conn)
                a.closed.set()
        self.listener.close()

    def disconnect(self) -> None:
        """End the match as RLBot does: a DisconnectSignal to every bot."""
        data = flat.CorePacket(flat.DisconnectSignal()).pack()
        for a in self.agents:
            a.send(data)

    def wait_exit(self, timeout: float = 10.0) -> list:
        """Each bot process's exit code (None if it is still running after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        for a in self.agents:
            if a.proc is not None:
                try:
                    a.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        return [a.proc.poll() if a.proc is not None else None for a in self.agents]

    def close(self) -> None:
        """Stop everything: sockets closed, any bot still running killed."""
        self.stopped.set()
        for a in self.agents:
            if a.conn is not None:
                try:
                    a.conn.close()
                except OSError:
                    pass
        try:
            self.listener.close()
        except OSError:
            pass
        for a in self.agents:
            if a.proc is not None and a.proc.poll() is None:
                a.proc.kill()
                a.proc.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _percentiles(seconds: list) -> list | None:
    """p50 and p99 of ``seconds``, in milliseconds."""
    if not seconds:
        return None
    s = sorted(seconds)
    return [round(s[len(s) // 2] * 1000, 3), round(s[min(len(s) - 1, int(len(s) * 0.99))] * 1000, 3)]


def _abort(conn: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashed process's socket would."""
    import struct

    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            conn.shutdown(socket.SHUT_RD)  # wakes our own reader thread; sends nothing
        except OSError:
            pass
        conn.close()
    except OSError:
        pass
