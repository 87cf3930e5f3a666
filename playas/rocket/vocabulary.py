"""Rocket League's vocabulary, defined once: the clock, the 8 controls, the rows, the arena.

Every Rocket League module, bot, benchmark and test takes these names from here rather than
writing ``120``, ``8``, ``15`` or ``row[9:12]``; the module imports nothing, so anyone can.

- The clock: the game (and RocketSim) simulates :data:`TICK_RATE` ticks a second; playas decides
  every :data:`TICKS_PER_DECISION` ticks (RLGym's usual tick skip, the grid the replays are cut
  on) and holds the action in between: :data:`DECISIONS_PER_SECOND` decisions a second.
- The controls: :data:`CONTROLS`, in RLGym's order (the columns of its 90-action table, and of
  every 8-control vector in playas); the first five are analog (-1..1), the last three buttons.
  Engines name them the same way, which is why a struct is always built by name
  (:func:`playas.rocket.actions.engine_controls`): RocketSim's positional order differs.
- The rows: a car's state is :data:`CAR_FIELDS` numbers (see the slices); a ball's is the first
  :data:`BALL_FIELDS` of the same layout (position, velocity, angular velocity).
- The arena: soccar's walls and goals in unreal units (uu), blue defending -y.
"""

from __future__ import annotations

# --- the clock --------------------------------------------------------------------------------
TICK_RATE = 120  # physics ticks a second
TICKS_PER_DECISION = 8  # ticks an action is held for
DECISIONS_PER_SECOND = TICK_RATE // TICKS_PER_DECISION  # 15
TICK_SECONDS = 1 / TICK_RATE
DECISION_SECONDS = TICKS_PER_DECISION / TICK_RATE

# --- the controls -----------------------------------------------------------------------------
CONTROLS = ("throttle", "steer", "pitch", "yaw", "roll", "jump", "boost", "handbrake")
ANALOG, BUTTONS = CONTROLS[:5], CONTROLS[5:]
# Columns of a control vector (BOOST_ON: BOOST is the car row's gauge).
THROTTLE, STEER, PITCH, YAW, ROLL, JUMP, BOOST_ON, HANDBRAKE = range(len(CONTROLS))

# --- the rows ---------------------------------------------------------------------------------
# A car's raw state: position, linear velocity, angular velocity, forward and up unit vectors, boost
# (0..100). A ball's is the first three of these (POS, VEL, ANG).
POS, VEL, ANG, FWD, UP, BOOST = slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 12), slice(12, 15), 15
X, Y, Z = 0, 1, 2  # components of a vector (Z, the height: POS.start + Z)
CAR_FIELDS = 16
BALL_FIELDS = 9

# --- the arena (soccar) -----------------------------------------------------------------------
SIDE_WALL = 4096.0  # |x| of the side walls
BACK_WALL = 5120.0  # |y| of the back walls, the goal lines
CEILING = 2044.0
CORNER = 8064.0  # |x| + |y| of the four diagonal corner walls
GOAL_HALF_WIDTH = 892.755  # |x| of the posts
GOAL_DEPTH = 880.0
TEAMS = ("blue", "orange")  # team 0 defends -y, team 1 +y

# How a driver samples its policy, everywhere it drives (matches, RLGym, RLBot): 1 samples the
# player's own distribution; 0 takes the likeliest action, which can leave a car stalled by a still ball.
TEMPERATURE = 1.0
