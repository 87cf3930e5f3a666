"""An RLBot v5 bot that drives as a player: :class:`PlayasBot`.

RLBot starts it with the bot folder's ``run_command`` (working directory: the folder's
``root_dir``) and ``RLBOT_AGENT_ID`` / ``RLBOT_SERVER_PORT`` in the environment; what it drives
as comes from ``playas.toml`` in that folder and ``PLAYAS_*`` variables (:mod:`.settings`), read
before it connects, so a bad setting stops it with one line; ``PLAYAS_THREADS`` sets the torch
threads (default 1).

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

from rlbot import flat
from rlbot.managers import Bot

from ...core.errors import PlayasError
from ...rocket.actions import engine_controls
from ...rocket.sources import frame_from_packet
from .settings import DECIDE_EVERY, load_settings

DEFAULT_AGENT_ID = "playas/playas"
PLAYING = (int(flat.MatchPhase.Kickoff), int(flat.MatchPhase.Active))  # phases in which cars drive


def neutral() -> flat.ControllerState:
    """No input at all."""
    return flat.ControllerState()




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
        self.settings = self.settings or load_settings()
        s = self.settings
        self.driver = Driver(model=s["model"], style=s["style"], steer=s["steer"],
                             temperature=s["temperature"], strength=s["strength"], seed=int(s["seed"]))
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
        frames, ids = frame_from_packet(packet, self.field_info)  # the field says where each pad is
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
    """Run the bot until the server says goodbye (``RLBOT_AGENT_ID``, ``RLBOT_SERVER_PORT``).

    The settings are read first: a bad one ends it with one line and exit status 2, before it
    connects. ``--check`` reads them, says what the bot would drive as, and ends.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        settings = load_settings()
    except PlayasError as e:
        print(f"playas: error: {e}", file=sys.stderr)
        return 2
    if "--check" in argv:
        if settings["model"] and not os.path.isfile(settings["model"]):
            print(f"playas: error: model {settings['model']} does not exist", file=sys.stderr)
            return 2
        print(f"playas bot ready: drives as {settings['style'] or 'the mean player'}, model "
              f"{settings['model'] or 'the shipped one'}, settings {settings['source'] or 'environment only'}")
        return 0
    bot = PlayasBot(DEFAULT_AGENT_ID)
    bot.settings = settings
    bot.run(wants_match_communications=False, wants_ball_predictions=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
