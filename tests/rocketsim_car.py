"""One car on an empty RocketSim pitch, holding one control struct: what it does to the car.

Shared by the tests of each path a playas action takes into an engine (RocketSim directly, and
RLBot's ControllerState as the game applies it), so that each shows, physically, that its
"jump" lifts the car and its "boost" drains the gauge and speeds the car up.
"""

from __future__ import annotations

import numpy as np

from playas.rocket.actions import TABLE
from playas.rocket.vocabulary import CONTROLS, TICKS_PER_DECISION

START_BOOST = 50.0


def action(**controls) -> int:
    """The table's index of the action with these controls (the others 0)."""
    want = np.array([controls.get(name, 0) for name in CONTROLS], np.float32)
    return int(np.flatnonzero((TABLE == want).all(1))[0])


JUMP_ACTION = action(jump=1)
BOOST_ACTION = action(throttle=1, boost=1)
THROTTLE_ACTION = action(throttle=1)


def respond(make_controls, ticks: int = 2 * TICKS_PER_DECISION) -> dict:
    """Hold ``make_controls(rsim)`` (a ``RocketSim.CarControls``) for ``ticks`` ticks on a car at
    rest on the floor with :data:`START_BOOST` boost: its rise (uu), boost used, speed and whether
    it is still on the ground."""
    from playas.rocket.match import _rocketsim

    rsim = _rocketsim()
    arena = rsim.Arena(rsim.GameMode.SOCCAR)
    car = arena.add_car(rsim.Team.BLUE)
    state = car.get_state()
    state.pos, state.vel, state.ang_vel = rsim.Vec(0, -2000, 17), rsim.Vec(0, 0, 0), rsim.Vec(0, 0, 0)
    state.boost = START_BOOST
    car.set_state(state)
    arena.step(TICKS_PER_DECISION)  # settle on the wheels
    before = car.get_state()
    car.set_controls(make_controls(rsim))
    arena.step(ticks)
    after = car.get_state()
    return {"rise": after.pos.z - before.pos.z, "boost_used": before.boost - after.boost,
            "speed": float(np.linalg.norm(after.vel.as_numpy())), "on_ground": bool(after.is_on_ground)}
