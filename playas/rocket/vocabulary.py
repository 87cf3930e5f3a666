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
- The boost pads: soccar's 34 pads (:data:`PADS`), in the one order RocketSim
  (``arena.get_boost_pads()``), RLGym (``BOOST_LOCATIONS``, ``boost_pad_timers``) and RLBot
  (``FieldInfo.boost_pads``) share: by y, then by x. Half a turn about z maps pad ``i`` onto pad
  ``33 - i`` exactly, so orange's view of the pads is the list reversed.
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

# --- the boost pads (soccar) ------------------------------------------------------------------
# RocketSim's positions (RLGym's BOOST_LOCATIONS say y 3310 for pad 27, a typo: its mirror, pad 6,
# is at -3308 in both).
PADS = (
    (0.0, -4240.0, 70.0), (-1792.0, -4184.0, 70.0), (1792.0, -4184.0, 70.0), (-3072.0, -4096.0, 73.0),
    (3072.0, -4096.0, 73.0), (-940.0, -3308.0, 70.0), (940.0, -3308.0, 70.0), (0.0, -2816.0, 70.0),
    (-3584.0, -2484.0, 70.0), (3584.0, -2484.0, 70.0), (-1788.0, -2300.0, 70.0), (1788.0, -2300.0, 70.0),
    (-2048.0, -1036.0, 70.0), (0.0, -1024.0, 70.0), (2048.0, -1036.0, 70.0), (-3584.0, 0.0, 73.0),
    (-1024.0, 0.0, 70.0), (1024.0, 0.0, 70.0), (3584.0, 0.0, 73.0), (-2048.0, 1036.0, 70.0),
    (0.0, 1024.0, 70.0), (2048.0, 1036.0, 70.0), (-1788.0, 2300.0, 70.0), (1788.0, 2300.0, 70.0),
    (-3584.0, 2484.0, 70.0), (3584.0, 2484.0, 70.0), (0.0, 2816.0, 70.0), (-940.0, 3308.0, 70.0),
    (940.0, 3308.0, 70.0), (-3072.0, 4096.0, 73.0), (3072.0, 4096.0, 73.0), (-1792.0, 4184.0, 70.0),
    (1792.0, 4184.0, 70.0), (0.0, 4240.0, 70.0),
)
BIG_PADS = (3, 4, 15, 18, 29, 30)  # the six that fill the tank; the other 28 give SMALL_PAD_BOOST
PAD_RESPAWN_BIG, PAD_RESPAWN_SMALL = 10.0, 4.0  # seconds a taken pad stays away
SMALL_PAD_BOOST = 12.0  # of 100
# Pickup: the car's centre within a cylinder about the pad (RocketSim's RLConst::BoostPads).
PAD_RADIUS_BIG, PAD_RADIUS_SMALL = 208.0, 144.0
PAD_HEIGHT = 95.0  # |car z - pad z| below this

# How a driver samples its policy, everywhere it drives (matches, RLGym, RLBot): 1 samples the
# player's own distribution; 0 takes the likeliest action, which can leave a car stalled by a still ball.
TEMPERATURE = 1.0
