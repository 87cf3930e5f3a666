"""Labels that replay: each decision's label, run in RocketSim from the car's real state, beside the
best of the 90 actions.

For a sample of decisions of real replays (the car clear of the ball and of every other car by
``--clear`` uu, its physics updated across the decision), a RocketSim car is set to the replay's
state (position, velocity, angular velocity, rotation, boost) and each of the 90 actions is held for
one decision (8 ticks). An action's error is how far from where the car really went it ends:
|velocity difference| / 50 uu/s + angle between the forward vectors / 2 degrees + |angular velocity
difference| / 0.5 rad/s. A label *replays* when its error is within 1.0 of the best action's.
Reported overall, on the ground and in the air, and for decisions labelled with jump.

Flips: at every start of a double jump or dodge in the sampled replays (the car in the air, its
first jump spent), the car is set to its state a decision before with its second jump available,
and the labels of those two decisions are played; the flip is reproduced when the simulated car
double-jumps or flips. Measured for the labels prepare makes (jump as pressed) and, beside them, for
the replay's jump flags as they are (active for a flip's whole 0.65 s).

The car state a replay gives leaves out what RocketSim tracks of jumps and flips (whether the car
has jumped or flipped, the jump timer): a car set in the air has its flip, which a real car may
have spent. The issue's target is 90% of labels within 1.0 of the best.
"""

from __future__ import annotations

import numpy as np

from bench.common import SHARED, arguments, finish, table
from playas.rocket import actions
from playas.rocket.match import _rocketsim
from playas.rocket.replay import read
from playas.rocket.vocabulary import ANG, BOOST, DECISION_SECONDS, FWD, JUMP, POS, TICKS_PER_DECISION, UP, VEL

ERROR_SCALES = (50.0, np.radians(2.0), 0.5)  # uu/s, radians, rad/s: an error of 1 is one of these


def labels_of(replay, as_flags: bool = False) -> list[np.ndarray]:
    """Each car's label for each decision, as prepare makes them; ``as_flags``: with the replay's
    jump flags as they are (a flip's whole duration) instead of the presses."""
    f = replay.frames
    out = []
    for c in range(f.cars.shape[1]):
        car = f.cars[:, c]
        grounded = actions.grounded_decisions(car)
        flags = dict(replay.recorded[c])
        if as_flags:
            flags["jump"] = flags["jump"] | flags["flip"]
        controls = actions.infer_controls(car, DECISION_SECONDS, flags=flags)
        out.append(actions.to_table(controls, grounded))
    return out


def flip_starts(replay, c: int) -> np.ndarray:
    """Decisions where car ``c``'s double jump or dodge starts, in the air, the car there before."""
    flip, f = replay.recorded[c]["flip"], replay.frames
    t = np.flatnonzero(flip[1:] & ~flip[:-1]) + 1
    t = t[(t >= 2) & (t < len(f) - 1)]
    ok = f.present[t - 1, c] & f.present[t, c] & ~actions.grounded_decisions(f.cars[:, c])[t - 1]
    return t[ok]


def clear_decisions(replay, c: int, clear: float) -> np.ndarray:
    """Decisions of car ``c`` with physics around both ends (prepare leaves the others out),
    nothing near, outside a kickoff's countdown."""
    f = replay.frames
    t = np.arange(len(f) - 1)
    ok = f.present[t, c] & f.present[t + 1, c] & ~replay.countdown[t] & ~replay.unexplained(c)[t]
    ok &= np.abs(f.cars[t + 1, c, POS] - f.cars[t, c, POS]).sum(1) > 0  # the replay moved the car
    ok &= np.linalg.norm(f.ball[t, :3] - f.cars[t, c, POS], axis=1) > clear
    for o in range(f.cars.shape[1]):
        if o != c:
            far = np.linalg.norm(f.cars[t, o, POS] - f.cars[t, c, POS], axis=1) > clear
            ok &= far | ~f.present[t, o]
    return t[ok]


def sample(replay, clear: float, n: int) -> list[tuple[int, int]]:
    """``n`` (car, decision) pairs of :func:`clear_decisions`, drawn by a fixed random key per pair
    (seeded by the replay's length): a change that drops a few decisions from the pool leaves the
    rest of the sample as it was, so two runs compare label by label."""
    f = replay.frames
    keys = np.random.default_rng(len(f)).random((f.cars.shape[1], len(f)))
    pool = [(c, t) for c in range(f.cars.shape[1]) for t in clear_decisions(replay, c, clear)]
    return sorted(pool, key=lambda ct: keys[ct])[:n]


class Replayer:
    """One RocketSim car, set to a replay state and run under each action for one decision."""

    def __init__(self):
        self.rsim = rsim = _rocketsim()
        self.arena = rsim.Arena(rsim.GameMode.SOCCAR)
        self.car = self.arena.add_car(rsim.Team.BLUE)
        self.controls = [actions.engine_controls(rsim.CarControls, i) for i in range(len(actions.TABLE))]

    def _set(self, row: np.ndarray, second_jump: bool = False, before: int | None = None) -> None:
        rsim, s = self.rsim, self.rsim.CarState()
        fwd, up = row[FWD], row[UP]
        s.pos, s.vel, s.ang_vel = (rsim.Vec(*map(float, row[k])) for k in (POS, VEL, ANG))
        s.rot_mat = rsim.RotMat(rsim.Vec(*map(float, fwd)), rsim.Vec(*map(float, np.cross(up, fwd))),
                                rsim.Vec(*map(float, up)))
        s.boost = float(row[BOOST])
        if second_jump:  # in the air after a jump, its flip or double jump still to use
            s.is_on_ground, s.has_jumped, s.air_time, s.air_time_since_jump = False, True, 0.3, 0.3
        if before is not None:  # the controls held until now: a jump already down is not a new press
            s.last_controls = self.controls[before]
        self.car.set_state(s)
        ball = self.arena.ball.get_state()
        ball.pos = rsim.Vec(*(-np.sign(row[:2] + 1e-3) * [3000.0, 4000.0]), 93.0)
        ball.vel = ball.ang_vel = rsim.Vec(0, 0, 0)
        self.arena.ball.set_state(ball)

    def flips(self, row: np.ndarray, before: int, labels) -> bool:
        """Whether playing ``labels`` (one a decision) from ``row``, second jump available and the
        action ``before`` held until then, flips."""
        self._set(row, second_jump=True, before=before)
        for a in labels:
            self.car.set_controls(self.controls[int(a)])
            self.arena.step(TICKS_PER_DECISION)
            e = self.car.get_state()
            if e.has_flipped or e.has_double_jumped:
                return True
        return False

    def errors(self, row: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Each action's error (see the module) from car state ``row`` against the real ``after``."""
        out = np.empty(len(self.controls))
        for i, controls in enumerate(self.controls):
            self._set(row)
            self.car.set_controls(controls)
            self.arena.step(TICKS_PER_DECISION)
            e = self.car.get_state()
            dv = np.linalg.norm(e.vel.as_numpy() - after[VEL])
            cos = np.clip(e.rot_mat.forward.as_numpy() @ after[FWD], -1.0, 1.0)
            dw = np.linalg.norm(e.ang_vel.as_numpy() - after[ANG])
            out[i] = dv / ERROR_SCALES[0] + np.arccos(cos) / ERROR_SCALES[1] + dw / ERROR_SCALES[2]
        return out


def main() -> None:
    ap = arguments(__doc__, model_and_data=False)
    ap.add_argument("--replays", type=int, default=6, help="how many of the shared replays (sorted by name)")
    ap.add_argument("--per-replay", type=int, default=300, help="decisions sampled per replay")
    ap.add_argument("--clear", type=float, default=400.0, help="uu from the ball and every other car")
    a = ap.parse_args()
    files = sorted((SHARED / "rocket" / "replays").glob("*.replay"))[: a.replays]
    sim = Replayer()
    hits = {"all": [], "ground": [], "air": [], "labelled jump": []}
    best = {k: [] for k in hits}  # the best action's error: how well RocketSim reproduces the replay at all
    for path in files:
        rp = read(path)
        f, labels = rp.frames, labels_of(rp)
        for c, t in sample(rp, a.clear, a.per_replay):
            err = sim.errors(f.cars[t, c], f.cars[t + 1, c])
            label = int(labels[c][t])
            hit = err[label] <= err.min() + 1.0
            grounded = bool(actions.grounded_decisions(f.cars[t:t + 2, c])[0])
            for k in ("all", "ground" if grounded else "air") + (("labelled jump",) if actions.TABLE[label][JUMP] else ()):
                hits[k].append(hit)
                best[k].append(err.min())
    flipped = {"presses": [], "flags": []}
    for path in files:
        rp = read(path)
        for kind, labels in (("presses", labels_of(rp)), ("flags", labels_of(rp, as_flags=True))):
            for c in range(rp.frames.cars.shape[1]):
                for t in flip_starts(rp, c):
                    flipped[kind].append(sim.flips(rp.frames.cars[t - 1, c], labels[c][t - 2], labels[c][t - 1:t + 1]))
    rows_flip = [[kind, f"{len(v):,}", f"{100 * np.mean(v):.1f}%" if v else "-"] for kind, v in
                 (("jump as pressed (prepare's labels)", flipped["presses"]),
                  ("jump flags as recorded (a flip's whole duration)", flipped["flags"]))]
    rows = [[k, f"{len(v):,}", f"{100 * np.mean(v):.1f}%" if v else "-",
             f"{np.median(best[k]):.2f}" if v else "-"] for k, v in hits.items()]
    body = (f"{len(files)} replays, {a.per_replay} decisions sampled from each (the car {a.clear:g} uu clear of "
            f"the ball and of other cars)\n\n"
            + table(rows, ["decisions", "count", "label within 1.0 of the best of 90", "best action's error (median)"])
            + "\n\nHuman flips (double jumps and dodges) of the same replays, reproduced by playing the labels:\n\n"
            + table(rows_flip, ["labels", "flips", "reproduced"]))
    finish(a, "rocket_labels", "Rocket League labels replayed in RocketSim", body)


if __name__ == "__main__":
    main()
