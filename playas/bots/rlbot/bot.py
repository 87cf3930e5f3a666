"""An RLBot v5 bot that drives as a player: :class:`PlayasBot`.

RLBot starts it with the bot folder's ``run_command`` (working directory: the folder's
``root_dir``) and ``RLBOT_AGENT_ID`` / ``RLBOT_SERVER_PORT`` in the environment; the settings come
from ``playas.toml`` in that folder (written by :func:`~playas.bots.rlbot.folder.write_bot_folder`)
and the environment, which wins: ``PLAYAS_STYLE``, ``PLAYAS_MODEL``, ``PLAYAS_TEMPERATURE``,
``PLAYAS_SEED``, ``PLAYAS_BOT_DIR`` (where ``playas.toml`` is, default the working directory) and
``PLAYAS_THREADS`` (torch threads, default 1).

Each packet becomes one moment (:func:`~playas.rocket.sources.frame_from_packet`); the bot decides
every 8 physics ticks (by ``match_info.frame_num``) and holds the action in between, as the model
was trained. Whatever the packet (no ball, its own car missing or demolished, a countdown, a goal
replay, a pause) or whatever goes wrong inside, ``get_output`` answers a neutral controller and
says so once in the log.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from pathlib import Path

import tomllib
from rlbot import flat
from rlbot.managers import Bot

from ...rocket.actions import engine_controls
from ...rocket.sources import frame_from_packet
from ...rocket.vocabulary import TICKS_PER_DECISION

DEFAULT_AGENT_ID = "playas/playas"
DECIDE_EVERY = TICKS_PER_DECISION  # the default of the decide_every setting: as the model was trained
SETTINGS_FILE = "playas.toml"
PLAYING = (int(flat.MatchPhase.Kickoff), int(flat.MatchPhase.Active))  # phases in which cars drive


def neutral() -> flat.ControllerState:
    """No input at all."""
    return flat.ControllerState()


def load_settings(folder=None, env=None) -> dict:
    """The bot's settings: ``[playas]`` of ``playas.toml`` in ``folder`` (default ``PLAYAS_BOT_DIR``
    or the working directory), overridden by the ``PLAYAS_*`` environment variables.

    Keys: style (None: the mean player), model (None: the shipped default; relative to the
    folder), steer (property -> amount), temperature, seed, decide_every, and ``source`` (the file
    read, or None).
    """
    env = os.environ if env is None else env
    folder = Path(folder or env.get("PLAYAS_BOT_DIR") or os.getcwd())
    out = {"style": None, "model": None, "steer": None, "temperature": 0.0, "seed": 0,
           "decide_every": DECIDE_EVERY, "source": None}
    path = folder / SETTINGS_FILE
    if path.is_file():
        with open(path, "rb") as f:
            table = tomllib.load(f).get("playas", {})
        unknown = set(table) - (set(out) - {"source"})
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
        out.update(table)
        out["source"] = str(path)
    for key, cast in (("style", str), ("model", str), ("temperature", float), ("seed", int)):
        value = env.get(f"PLAYAS_{key.upper()}")
        if value:
            out[key] = cast(value)
    if out["model"] and not Path(out["model"]).is_absolute():
        out["model"] = str((folder / out["model"]).resolve())
    out["decide_every"] = max(1, int(out["decide_every"]))
    return out


class PlayasBot(Bot):
    """A car driven by a playas :class:`~playas.rocket.agent.Driver` in a styled player's manner."""

    def __init__(self, default_agent_id: str | None = DEFAULT_AGENT_ID):
        super().__init__(default_agent_id)
        self.driver = None
        self.settings: dict = {}
        self.every = DECIDE_EVERY
        self.held = neutral()  # the action between decisions
        self.decided_at = None  # frame_num of the last decision
        self.said: set = set()  # what has been logged once
        self.decision_seconds: deque = deque(maxlen=100_000)  # time of each decision's get_output

    def initialize(self):
        import torch

        from ...rocket.agent import Driver

        torch.set_num_threads(max(1, int(os.environ.get("PLAYAS_THREADS", "1"))))
        self.settings = load_settings()
        s = self.settings
        self.driver = Driver(model=s["model"], style=s["style"], steer=s["steer"],
                             temperature=float(s["temperature"]), seed=int(s["seed"]))
        self.every = s["decide_every"]
        self._restart()
        self.logger.info("%s drives as %s (model %s, settings %s), index %d team %d", self.name or "playas",
                         self.driver.style, s["model"] or "default", s["source"] or "environment only",
                         self.index, self.team)

    def _once(self, key: str, message: str, *args, level: str = "info") -> None:
        if key not in self.said:
            self.said.add(key)
            getattr(self.logger, level)(message + " (said once)", *args)

    def _restart(self) -> None:
        """Forget the held action and the history: a new kickoff, a new match."""
        if self.driver is not None:
            self.driver.reset()
        self.held = neutral()
        self.decided_at = None

    def get_output(self, packet: flat.GamePacket) -> flat.ControllerState:
        try:
            return self._output(packet)
        except Exception as e:  # noqa: BLE001  never crash the match: neutral input, said once per kind
            self._once(f"error:{type(e).__name__}", "get_output failed (%s: %s); answering neutral input",
                       type(e).__name__, e, level="error")
            self._restart()
            return neutral()

    def _output(self, packet) -> flat.ControllerState:
        if self.driver is None:
            self._once("uninitialized", "no driver yet; answering neutral input")
            return neutral()
        info = packet.match_info
        phase = int(info.match_phase) if info is not None else int(flat.MatchPhase.Inactive)
        if phase not in PLAYING:
            self._once(f"phase:{phase}", "match phase %s: neutral input until the cars drive", info.match_phase)
            self._restart()
            return neutral()
        if not packet.balls:
            self._once("noball", "a packet without a ball: neutral input")
            return neutral()
        if not 0 <= self.index < len(packet.players):
            self._once("noindex", "my index %d is not among the %d players: neutral input",
                       self.index, len(packet.players))
            return neutral()
        frame = int(info.frame_num)
        if self.decided_at is not None and self.decided_at <= frame < self.decided_at + self.every:
            return self.held
        frames, ids = frame_from_packet(packet)
        car = ids.index(self.index)
        if not frames.present[0, car]:
            self._once("demolished", "demolished: neutral input until respawned")
            self._restart()
            return neutral()
        start = time.perf_counter()
        self.held = engine_controls(flat.ControllerState, self.driver.act(frames, car, key=self.index))
        self.decision_seconds.append(time.perf_counter() - start)
        self.decided_at = frame
        return self.held

    def latency(self) -> dict:
        """Decision latency so far: count, p50 and p99 in milliseconds."""
        import numpy as np

        d = np.asarray(self.decision_seconds) * 1000
        if not len(d):
            return {"decisions": 0}
        return {"decisions": len(d), "p50_ms": round(float(np.percentile(d, 50)), 3),
                "p99_ms": round(float(np.percentile(d, 99)), 3)}

    def retire(self):
        if self.driver is not None:
            self.logger.info("playas retiring: %s", self.latency())


def main(argv=None) -> int:
    """Run the bot until the server says goodbye (``RLBOT_AGENT_ID``, ``RLBOT_SERVER_PORT``)."""
    PlayasBot(DEFAULT_AGENT_ID).run(wants_match_communications=False, wants_ball_predictions=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
