"""Soccar's 34 boost pads at each moment: from the live sources as they report them, and rebuilt
from a replay's cars, which is all a replay holds.

A pad's state is the seconds until it is back (0: available), in the order of
:data:`~playas.rocket.vocabulary.PADS`: what RocketSim keeps (``BoostPadState.cooldown``), what an
RLGym ``GameState`` holds (``boost_pad_timers``) and what RLGym's ``DefaultObs`` feeds its policies
(scaled by 1/10, reversed for orange). A timer rather than a flag: it says as much (taken or
not) and also when a pad returns, which decides whether driving to it pays (a big pad due back in
a second). RLBot v5 counts the other way (``BoostPadState.timer``: seconds since it was taken);
:func:`from_packet` turns that round.

A replay records no pad state, so :func:`rebuild` infers it: a pad is taken where a car's boost
rises between two decisions (a small pad gives +12, a big one fills the tank) while its path
passes within the pad's pickup cylinder (RocketSim's: 208 uu for big pads, 144 for small ones, the
car's centre less than 95 uu above or below the pad); the pad then counts down its respawn time
(10 s big, 4 s small). Every pad is back at each kickoff countdown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frames import ball_on_spot, standing
from .vocabulary import (BIG_PADS, BOOST, PAD_HEIGHT, PAD_RADIUS_BIG, PAD_RADIUS_SMALL, PAD_RESPAWN_BIG,
                         PAD_RESPAWN_SMALL, PADS, POS, VEL, X, Y, Z)

N_PADS = len(PADS)
PAD_POS = np.array(PADS, np.float32)
BIG = np.isin(np.arange(N_PADS), BIG_PADS)
RESPAWN = np.where(BIG, PAD_RESPAWN_BIG, PAD_RESPAWN_SMALL).astype(np.float32)
RADIUS = np.where(BIG, PAD_RADIUS_BIG, PAD_RADIUS_SMALL).astype(np.float32)

# Rebuilding from replays. A car's position is sampled once a decision, so its path between two is
# a straight segment; the margin covers the curve it really drove and the replay's stale frames.
# With it 93-100% of boost rises on four standard-pitch replays are explained (0 uu: 83-93%; 100 uu:
# no more than with 40).
PATH_MARGIN = 40.0
MIN_RISE = 5.0  # a smaller rise is the replicated gauge settling (a pad gives 12, less 2.2 if boosting)
FULL = 99.5  # the gauge after a big pad (or a small one that tops it up)
MAX_STEP = 600.0  # uu between two decisions: more is a teleport (a kickoff, a respawn), not driving


def no_pads(moments: int) -> np.ndarray:
    """Timers for ``moments`` moments of a world where every pad is available."""
    return np.zeros((moments, N_PADS), np.float32)


def from_packet(states, field_info=None) -> np.ndarray:
    """(34,) timers from RLBot v5 ``GamePacket.boost_pads`` (``is_active``, ``timer``: seconds
    since taken), ordered as ``field_info.boost_pads`` (located there; without it, the packet's
    34 are taken to be in the standard order, as RLBot sends soccar's). Another pitch's pads (not
    34, or not where soccar's are) read as all available: the policy knows soccar's only."""
    out = no_pads(1)[0]
    order = packet_order(field_info, len(states))
    if order is None:
        return out
    for k, i in enumerate(order):
        s = states[i]
        out[k] = 0.0 if s.is_active else max(float(RESPAWN[k] - s.timer), 0.0)
    return out


def packet_order(field_info, count: int) -> np.ndarray | None:
    """For each standard pad, its index in RLBot's list of ``count`` pads; None where they are not
    soccar's (a pad found more than 10 uu from where a standard one is)."""
    pads = getattr(field_info, "boost_pads", None) or []
    if count != N_PADS or (pads and len(pads) != N_PADS):
        return None
    if not pads:
        return np.arange(N_PADS)
    at = np.array([[p.location.x, p.location.y] for p in pads], np.float32)
    dist = np.linalg.norm(PAD_POS[:, None, :2] - at[None], axis=-1)
    order = dist.argmin(1)
    if dist[np.arange(N_PADS), order].max() > 10 or len(set(order.tolist())) != N_PADS:
        return None
    return order


# --- replays ---------------------------------------------------------------------------------

@dataclass
class PadHistory:
    """What :func:`rebuild` found: ``timers`` (T, 34) float32 seconds until each pad is back;
    ``pickups`` (n, 3) int: moment, car and pad of each pad taken (the boost rose between the
    moment before and this one); ``unexplained`` (m, 2) int: moment and car of each boost rise no
    available pad accounts for (another pitch's pads, a replay's late gauge)."""

    timers: np.ndarray
    pickups: np.ndarray
    unexplained: np.ndarray


def countdowns(ball: np.ndarray, cars: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(T,) bool: moments of a kickoff countdown, the ball at rest on its spot and every car on
    the pitch standing (the ball waits there until the kickoff touch; the cars drive before it)."""
    return ball_on_spot(ball) & (standing(cars[:, :, VEL]) | ~present).all(1)


def boost_rises(cars: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(n, 2) int: (moment, car) where a car's boost rose since the moment before by a pad's worth
    (or to a full tank), on the pitch at both and not moved further than it can drive."""
    b = cars[:, :, BOOST]
    rise = b[1:] - b[:-1]
    step = np.linalg.norm(cars[1:, :, POS] - cars[:-1, :, POS], axis=-1)
    ok = present[1:] & present[:-1] & (step < MAX_STEP)
    found = ok & ((rise >= MIN_RISE) | ((b[1:] > FULL) & (rise > 0.5)))
    t, c = np.nonzero(found)
    return np.stack([t + 1, c], 1)


def pad_on_path(start: np.ndarray, end: np.ndarray, available: np.ndarray, big: bool) -> int | None:
    """The pad a car driving from ``start`` to ``end`` (positions) took: among ``available`` ones
    whose pickup cylinder (plus :data:`PATH_MARGIN`) its path crosses, the nearest of the kind its
    boost says (``big``: the tank filled by more than a small pad gives), else the nearest of any."""
    a, ab = start[[X, Y]], end[[X, Y]] - start[[X, Y]]
    length = float(ab @ ab)
    s = np.clip((PAD_POS[:, :2] - a) @ ab / length, 0, 1) if length > 0 else np.zeros(N_PADS)
    dist = np.linalg.norm(PAD_POS[:, :2] - (a + s[:, None] * ab), axis=1)
    low = min(start[Z], end[Z])
    near = available & (dist < RADIUS + PATH_MARGIN) & (np.abs(low - PAD_POS[:, Z]) < PAD_HEIGHT + PATH_MARGIN)
    kind = near & (BIG == big)
    pick = kind if kind.any() else near
    if not pick.any():
        return None
    candidates = np.flatnonzero(pick)
    return int(candidates[np.argmin(dist[candidates])])


def rebuild(time: np.ndarray, ball: np.ndarray, cars: np.ndarray, present: np.ndarray) -> PadHistory:
    """The pads of a replay's world (``time`` (T,) seconds, ``ball`` (T, 9), ``cars`` (T, C, 16),
    ``present`` (T, C); see :class:`~playas.rocket.frames.Frames`), from its cars' boost."""
    resets = np.cumsum(countdowns(ball, cars, present))  # countdowns so far: each brings every pad back
    taken_at = np.full(N_PADS, -np.inf)  # when each pad was last taken
    taken_in = np.full(N_PADS, -1)  # and in which stretch between countdowns
    pickups, unexplained = [], []
    for t, c in boost_rises(cars, present):
        when = (time[t - 1] + time[t]) / 2  # somewhere between the two moments
        available = (taken_in != resets[t]) | (when - taken_at >= RESPAWN)
        b0, b1 = cars[t - 1, c, BOOST], cars[t, c, BOOST]
        k = pad_on_path(cars[t - 1, c, POS], cars[t, c, POS], available, bool(b1 > FULL and b1 - b0 > 14))
        if k is None:
            unexplained.append((t, c))
            continue
        taken_at[k], taken_in[k] = when, resets[t]
        pickups.append((t, c, k))
    pickups = np.array(pickups, np.int64).reshape(-1, 3)
    return PadHistory(_timers(time, resets, pickups), pickups, np.array(unexplained, np.int64).reshape(-1, 2))


def _timers(time: np.ndarray, resets: np.ndarray, pickups: np.ndarray) -> np.ndarray:
    """(T, 34) seconds until each pad is back after the ``pickups`` (moment, car, pad), each
    counting down from the middle of the decision it was taken in until back or a countdown."""
    out = no_pads(len(time))
    for t, _, k in pickups:
        when = (time[t - 1] + time[t]) / 2
        end = min(int(np.searchsorted(time, when + RESPAWN[k])), int(np.searchsorted(resets, resets[t] + 1)))
        out[t:end, k] = np.maximum(RESPAWN[k] - (time[t:end] - when), 0)
    return out
