"""How long a person thinks over a move: a model learned from games with clocks.

People do not spend a fixed slice of the clock. They play the opening fast, think in the
middlegame, hurry when short of time, move at once when a recapture or a single reply is
forced, and think longer where there are more moves and where their own first choice is in
doubt. :class:`ThinkTime` predicts the logarithm of the seconds a person spends on a move from
what is known when the move is due: both clocks, the time control, the move number, the
position (legal moves, captures, checks, a recapture) and how sure the policy is (its top
move's probability, the entropy, the value) and how the game has gone (each side's last think,
how expected the opponent's last move was). A small network (two hidden layers) learns the
median, with a per-person offset for people whose games had clocks (the population's otherwise), and
the spread of real times around the prediction, so a bot can draw a human-looking time.

Times are learned as a share of the game's nominal length (base + 40 x increment, as Lichess
names its speeds), and each clock counts the increments still to come, so a model learned from
3+2 blitz predicts 1+0 and 15+10 in proportion; time trouble is also read off the clock itself.
Where 3+2 cannot teach (no increment refills a clock), :meth:`Limits.safe
<playas.chess.limits.Limits.safe>` keeps every move within what the clock can spare.

    model = learn(["titled-tuesday-2015.pgn.gz"], Policy.load("models/population-197.pt"))
    seconds = model.seconds(moment, rng)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import chess
import numpy as np

from ..core.errors import PlayasError
from .pgn import iter_game_texts, mainline, read_tags

FORMAT = 2  # 2: clocks counted with the increments still to come
FLOOR_S = 0.1  # the shortest time a person records on chess.com and Lichess
HIDDEN, EPOCHS = 64, 30  # the network's width and passes over the moves (60k moves: a minute on one core)
RAW_CAP = 0.7  # the clock's share of the nominal length at the start of 3+2: more was never learned
PRIOR_MOVES = 200  # a person's offset is shrunk toward 0 as if this many population moves were beside theirs


@dataclass
class Moment:
    """What is known when a move is due: the clocks in seconds, and the position before the move."""

    board: chess.Board
    clock: float  # the mover's remaining time
    opponent_clock: float
    base: float  # the time control: initial seconds and increment
    increment: float
    opponent_spent: float | None = None  # the opponent's last think time, if known
    own_spent: float | None = None  # the mover's own last think time, if known
    top: float | None = None  # the policy's probability of its likeliest move
    entropy: float | None = None  # of the policy over the legal moves, in nats
    value: float | None = None  # the value head's expected score for the mover, in [-1, 1]
    expected: float | None = None  # the policy's probability of the opponent's last move, before it
    swing: float | None = None  # how much that move changed the value for the mover

    @property
    def nominal(self) -> float:
        """The game's nominal length in seconds: base + 40 x increment."""
        return max(self.base + 40 * self.increment, 1.0)


@dataclass
class Thought:
    """One real move with the time its player spent: a row to learn from or to score."""

    player: str
    game: int
    moment: Moment
    spent: float


NAMES = ("move", "move_sq", "opening", "endgame", "clock", "clock_sq", "clock_ln", "short",
         "clock_raw", "clock_raw_ln", "short_raw", "ratio",
         "increment", "legal_ln", "single", "captures_ln", "in_check", "recapture", "checks_ln",
         "material", "opponent_spent", "opponent_known", "own_spent", "own_known", "top", "top_sq", "entropy",
         "value_abs", "policy_known", "expected_ln", "swing", "expected_known")


def features(m: Moment) -> np.ndarray:
    """The numbers the model weighs, for one moment (see :data:`NAMES`)."""
    b = m.board
    n = m.nominal
    move = min(b.fullmove_number, 80) / 40
    own_left, other_left = _ahead(m.clock, m.increment, b), _ahead(m.opponent_clock, m.increment, b)
    clock = own_left / n
    raw = min(max(m.clock, 0.0) / n, RAW_CAP)  # the clock itself, for time trouble; capped at 3+2's start
    legal = list(b.legal_moves)
    captures = [x for x in legal if b.is_capture(x)]
    last = b.peek() if b.move_stack else None
    recapture = bool(last and any(x.to_square == last.to_square for x in captures)
                     and _was_capture(b, last))
    checks = sum(1 for x in legal if b.gives_check(x)) if len(legal) < 60 else 0
    material = sum(len(b.pieces(p, c)) * v for p, v in ((1, 1), (2, 3), (3, 3), (4, 5), (5, 9))
                   for c in (True, False)) / 78
    opp = _share(m.opponent_spent, n)
    own = _share(m.own_spent, n)
    seen = m.expected is not None
    known = m.top is not None
    top = m.top if known else 0.0
    return np.array([
        move, move * move, float(b.fullmove_number <= 10), float(material < 0.35),
        clock, clock * clock, math.log(max(own_left, FLOOR_S) / n), float(own_left < 0.08 * n),
        raw, math.log(max(raw * n, FLOOR_S) / n), float(m.clock < 0.08 * n),
        math.log(max(own_left, FLOOR_S) / max(other_left, FLOOR_S)),
        m.increment / n * 40, math.log(max(len(legal), 1)), float(len(legal) == 1),
        math.log1p(len(captures)), float(b.is_check()), float(recapture), math.log1p(checks), material,
        opp, float(m.opponent_spent is not None), own, float(m.own_spent is not None),
        top, top * top, m.entropy if known else 0.0, abs(m.value) if known and m.value is not None else 0.0,
        float(known), math.log(max(m.expected, 1e-4)) if seen else 0.0, m.swing if seen and m.swing is not None else 0.0,
        float(seen),
    ])


def _ahead(clock: float, increment: float, board: chess.Board) -> float:
    """The time a side has for the rest of the game: its clock and the increments of the moves
    still to come (to move 40, and at least 10 more). At the start this is the nominal length for
    any time control (3+0 and 2+1 alike), so what people do at 3+2 carries over in proportion."""
    return max(clock, 0.0) + increment * max(41 - board.fullmove_number, 10)


def _share(seconds: float | None, nominal: float) -> float:
    """ln of a think time as a share of the game's nominal length (0 when unknown)."""
    return math.log(max(seconds, FLOOR_S) / nominal) if seconds is not None else 0.0


def _was_capture(board: chess.Board, last: chess.Move) -> bool:
    board.pop()
    try:
        return board.is_capture(last)
    finally:
        board.push(last)


class ThinkTime:
    """A fitted think-time model: ln(seconds / nominal) from :func:`features` through a small
    network (two hidden layers), plus an offset per person and the spread around its median."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]], mean: np.ndarray, scale: np.ndarray,
                 residuals: np.ndarray, players: dict[str, float] | None = None, card: dict | None = None):
        self.layers, self.mean, self.scale = layers, mean, scale
        self.residuals = np.sort(residuals)  # quantiles of real ln times around the median
        self.players = players or {}
        self.card = card or {}

    # --- learning -------------------------------------------------------------------------
    @classmethod
    def fit(cls, thoughts: list[Thought], hidden: int = HIDDEN, epochs: int = EPOCHS, seed: int = 0,
            card: dict | None = None) -> "ThinkTime":
        """Learn the median of ln(seconds / nominal) (an absolute-error loss), then each person's
        offset, shrunk toward the population by :data:`PRIOR_MOVES`, and the spread left."""
        import torch

        if len(thoughts) < 50:
            raise PlayasError(f"{len(thoughts)} moves with clocks are too few to learn think time from (50+)")
        x = np.stack([features(t.moment) for t in thoughts])
        y = np.array([target(t) for t in thoughts])
        mean, scale = x.mean(0), x.std(0)
        constant = scale < 1e-6  # e.g. the increment, when every game had the same time control
        scale[constant] = 1.0
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        xs = torch.tensor((x - mean) / scale, dtype=torch.float32)
        ys = torch.tensor(y, dtype=torch.float32)
        for _ in range(epochs):
            order = torch.randperm(len(xs), generator=g)
            for i in range(0, len(xs), 512):
                j = order[i:i + 512]
                loss = (net(xs[j])[:, 0] - ys[j]).abs().mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        linear = [m for m in net if isinstance(m, torch.nn.Linear)]
        layers = [(m.weight.detach().numpy().astype(np.float64), m.bias.detach().numpy().astype(np.float64))
                  for m in linear]
        layers[0][0][:, constant] = 0.0  # what never varied was not learned: it must not move a prediction
        model = cls(layers, mean, scale, np.zeros(1), {}, card)
        resid = y - model._forward(x)
        sums: dict[str, list[float]] = {}
        for t, r in zip(thoughts, resid):
            s = sums.setdefault(t.player, [0.0, 0])
            s[0] += r
            s[1] += 1
        model.players = {p: s / (c + PRIOR_MOVES) for p, (s, c) in sums.items()}
        spread = resid - np.array([model.players[t.player] for t in thoughts])
        model.residuals = np.quantile(spread, np.linspace(0.005, 0.995, 199))
        return model

    def _forward(self, x: np.ndarray) -> np.ndarray:
        h = (x - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0)
        return h[:, 0]

    # --- answering ------------------------------------------------------------------------
    def log_share(self, moments: Iterable[Moment], player: str | None = None) -> np.ndarray:
        """The median ln(seconds / nominal) for each moment, as ``player`` (None: the population)."""
        return self._forward(np.stack([features(m) for m in moments])) + self.players.get(player or "", 0.0)

    def predict(self, moments: Iterable[Moment], player: str | None = None) -> np.ndarray:
        """The median seconds a person would spend on each moment."""
        moments = list(moments)
        nominal = np.array([m.nominal for m in moments])
        return np.maximum(np.exp(self.log_share(moments, player)) * nominal, FLOOR_S)

    def seconds(self, moment: Moment, rng: np.random.Generator | None = None, player: str | None = None) -> float:
        """The time to spend on ``moment``: a draw from the person's spread around the median
        (the median itself without ``rng``)."""
        ln = float(self.log_share([moment], player)[0])
        if rng is not None:
            ln += float(self.residuals[int(rng.integers(len(self.residuals)))])
        return max(math.exp(ln) * moment.nominal, FLOOR_S)

    # --- files ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        from ..core.output import write_text

        write_text(path, json.dumps({
            "format": FORMAT, "names": list(NAMES), "card": self.card, "mean": self.mean.tolist(),
            "scale": self.scale.tolist(), "layers": [[w.tolist(), b.tolist()] for w, b in self.layers],
            "residuals": self.residuals.tolist(), "players": self.players}))

    @classmethod
    def load(cls, path: str | Path) -> "ThinkTime":
        path = Path(path)
        try:
            blob = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise PlayasError(f"cannot read the think-time model {path}: {e}") from None
        if blob.get("format") != FORMAT or blob.get("names") != list(NAMES):
            raise PlayasError(f"{path} is a think-time model of another format; learn it again "
                              "(playas chess learn-time)")
        arr = lambda v: np.array(v, dtype=np.float64)  # noqa: E731
        return cls([(arr(w), arr(b)) for w, b in blob["layers"]], arr(blob["mean"]), arr(blob["scale"]),
                   arr(blob["residuals"]), blob.get("players"), blob.get("card"))


def target(t: Thought) -> float:
    """What the model learns: ln(seconds spent / the game's nominal length)."""
    return math.log(max(t.spent, FLOOR_S) / t.moment.nominal)


def parse_time_control(tc: str) -> tuple[float, float] | None:
    """``"180+2"`` -> (180, 2); None for correspondence, unknown or malformed controls."""
    try:
        base, _, inc = tc.partition("+")
        return float(base), float(inc or 0)
    except ValueError:
        return None


def thoughts_from_pgn(path: str | Path, game_offset: int = 0) -> Iterator[Thought]:
    """Every move with a clock in a PGN file, with the seconds its player spent on it.

    Spent = the mover's clock before the move + the increment - the clock after it (``%clk``).
    Games without clocks, or with a time control that is not ``base+increment``, are skipped.
    The policy fields of each :class:`Moment` are left empty (see :func:`add_policy`).
    """
    for g, text in enumerate(iter_game_texts(path)):
        tags, movetext = read_tags(text)
        tc = parse_time_control(tags.get("TimeControl", ""))
        if tc is None or "%clk" not in movetext:
            continue
        base, inc = tc
        sans, clocks = mainline(movetext)
        board = chess.Board()
        left = [base, base]  # white, black
        last_spent: list[float | None] = [None, None]
        names = (tags.get("White", "?"), tags.get("Black", "?"))
        for san, after in zip(sans, clocks):
            side = 0 if board.turn else 1
            try:
                move = board.parse_san(san)
            except ValueError:
                break
            if after >= 0:
                spent = left[side] + inc - after
                m = Moment(board.copy(stack=8), left[side], left[1 - side], base, inc, last_spent[1 - side],
                           last_spent[side])
                yield Thought(names[side], game_offset + g, m, max(spent, 0.0))
                left[side], last_spent[side] = after, max(spent, 0.0)
            board.push(move)


def add_policy(thoughts: list[Thought], policy, batch: int = 256, progress=None) -> None:
    """Fill each moment's policy fields from ``policy``'s network: its top probability, entropy and
    value there, and how expected the opponent's last move was (from the position before it).
    ``progress(n)`` hears of each batch of ``n`` moments done."""
    from . import encoding as enc

    for start in range(0, len(thoughts), batch):
        chunk = [t.moment for t in thoughts[start:start + batch]]
        before = [m for m in chunk if m.board.move_stack]
        boards = [m.board for m in chunk] + [_popped(m.board) for m in before]
        planes = np.stack([enc.board_planes(b) for b in boards])
        logits, wdl = policy.logits(planes, 0)
        now = {id(m): describe(m.board, lg, v) for m, lg, v in zip(chunk, logits, wdl)}
        for m, lg, v in zip(before, logits[len(chunk):], wdl[len(chunk):]):
            prev = _popped(m.board)
            m.expected = float(_probs(prev, lg)[list(prev.legal_moves).index(m.board.peek())])
            m.swing = float(now[id(m)][2] + (v[0] - v[2]))  # the mover's value now less what it was
        for m in chunk:
            m.top, m.entropy, m.value = now[id(m)]
        if progress:
            progress(len(chunk))


def describe(board: chess.Board, logits: np.ndarray, wdl: np.ndarray) -> tuple[float, float, float]:
    """The policy's top probability, its entropy (nats) and the value, from one evaluation."""
    p = _probs(board, logits)
    q = p[p > 0]
    return float(p.max()), float(-(q * np.log(q)).sum()), float(wdl[0] - wdl[2])


def _probs(board: chess.Board, logits: np.ndarray) -> np.ndarray:
    from . import encoding as enc
    from .policy import softmax

    return softmax(logits[[enc.move_to_index(board, x) for x in board.legal_moves]].astype(np.float64))


def _popped(board: chess.Board) -> chess.Board:
    b = board.copy(stack=True)
    b.pop()
    return b


def learn(pgns: list[str | Path], policy, max_moves: int | None = None, seed: int = 0,
          progress=None) -> ThinkTime:
    """A think-time model from the ``%clk`` moves of ``pgns``: up to ``max_moves`` of them drawn
    uniformly (seeded), described by ``policy``'s network, then fitted (:meth:`ThinkTime.fit`)."""
    thoughts: list[Thought] = []
    for i, path in enumerate(pgns):
        thoughts.extend(thoughts_from_pgn(path, game_offset=i << 32))
    if not thoughts:
        raise PlayasError("no moves with clocks ([%clk] comments and a TimeControl base+increment) in "
                          + ", ".join(map(str, pgns)))
    total = len(thoughts)
    if max_moves and total > max_moves:
        rng = np.random.default_rng(seed)
        thoughts = [thoughts[i] for i in np.sort(rng.choice(total, max_moves, replace=False))]
    add_policy(thoughts, policy, progress=progress)
    card = {"pgn": [Path(p).name for p in pgns], "moves_with_clocks": total, "moves_fitted": len(thoughts),
            "players": len({t.player for t in thoughts}), "policy": getattr(policy, "card", {}).get("kind"),
            "seed": seed}
    return ThinkTime.fit(thoughts, card=card)
