"""Chess at the board: how long the engine thinks, beside people and the usual rules.

    python -m bench.chess_board                      # think time and endings (Titled Tuesday, users held out)
    python -m bench.chess_board --sections endings   # resignation and draws alone

Think time: Titled Tuesday (chess.com 3+2, every move with ``%clk``), users split by a hash of
the name: a fifth are held out, and every game one of them played is left out of learning. On
the held-out users' moves, each predictor's Spearman correlation with the seconds really spent
and the mean absolute error of ln seconds: the engine rule (remaining / 30 + 0.75 x increment,
what ``playas`` did before and most engines do), lichess-bot's ``fake_think_time`` (its sleep),
a plain regression on the clock, the move number, the legal moves and the captures (learned on
the same moves as ours), and the think-time model (:mod:`playas.chess.thinktime`, learned by
the same code as ``playas chess learn-time``). The policy features come from the population
network (models/population-197.pt), as in the shipped model.

Clocks: the held-out games replayed move by move with the engine's clock instead of the
people's: each move takes what the model draws for the position (through ``Limits.budget``,
with a move overhead of 100 ms and a lag of up to 100 ms beyond the budget on every move, as a
GUI or a network adds), at 1+0, 3+0 and 3+2. Losses on time count the games where either side's
clock ran out; the clock after move 20 and move 40 is set beside the people's own in the same
games (3+2, their real clocks).

Endings: the finished Titled Tuesday games, split by the same hash of the users. The rules of
:mod:`playas.chess.endings` are learned (the code of ``playas chess learn-endings``) on games of
kept users and scored on the games of held-out users: for games a person resigned, whether the
rule resigns within 6 plies of where they did (or earlier, or never); for every side that did
not lose, whether the rule would have resigned it (a false resignation). Beside it, lichess-bot's
default rule (-1,000 cp for 3 moves, through the same value head), and the same rules on a
sample of PGN Mentor's over-the-board games, which nothing learned from (decisive games that do
not end in mate counted as resigned). Stockfish (depth 10) scores the positions people resigned
in, as a reference the value head does not see. Draws: agreed draws the rule offers within 6
plies of the agreement, and offers in games the side went on to win.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from playas.chess.limits import Limits
from playas.chess.thinktime import FLOOR_S, Moment, ThinkTime, Thought, add_policy, target, thoughts_from_pgn

from .common import ROOT, SHARED, arguments, finish, table

TITLED = SHARED / "chess" / "titled-tuesday"
OVERHEAD_MS, LAG_S = 100, 0.1
CONTROLS = [(60, 0), (180, 0), (180, 2)]


def held_out(user: str) -> bool:
    return zlib.crc32(user.lower().encode()) % 5 == 0


def split(thoughts: list[Thought]) -> tuple[list[Thought], list[Thought], set[int]]:
    """Learning moves (games of kept users only), the held-out users' moves, the held-out games."""
    games: dict[int, set[str]] = {}
    for t in thoughts:
        games.setdefault(t.game, set()).add(t.player)
    test_games = {g for g, ps in games.items() if any(held_out(p) for p in ps)}
    learn = [t for t in thoughts if t.game not in test_games]
    test = [t for t in thoughts if t.game in test_games and held_out(t.player)]
    return learn, test, test_games


def ranks(a: np.ndarray) -> np.ndarray:
    _, inv, cnt = np.unique(a, return_inverse=True, return_counts=True)
    return (np.cumsum(cnt) - cnt + (cnt - 1) / 2)[inv]


def spearman(a, b) -> float:
    return float(np.corrcoef(ranks(np.asarray(a, float)), ranks(np.asarray(b, float)))[0, 1])


def mae_ln(predicted, spent) -> float:
    return float(np.abs(np.log(np.maximum(predicted, FLOOR_S)) - np.log(np.maximum(spent, FLOOR_S))).mean())


def engine_rule(m: Moment) -> float:
    return min(m.clock / 30 + 0.75 * m.increment, m.clock / 2)


def fake_think_time(m: Moment) -> float:
    """lichess-bot's fake_think_time sleep (lichess_bot.py, fake_thinking)."""
    plies = m.board.ply()
    if plies <= 9:
        return 0.0
    return min(5.0, min(m.base, m.clock) * 0.015 * (1 - max(0, min(100, plies - 20)) / 150))


def plain_features(m: Moment) -> list[float]:
    legal = list(m.board.legal_moves)
    return [math.log(max(m.clock, FLOOR_S) / m.nominal), m.board.fullmove_number,
            math.log(max(len(legal), 1)), sum(1 for x in legal if m.board.is_capture(x)), 1.0]


def plain_regression(learn: list[Thought]):
    x = np.array([plain_features(t.moment) for t in learn])
    w = np.linalg.lstsq(x, np.array([target(t) for t in learn]), rcond=None)[0]
    return lambda m: math.exp(float(np.array(plain_features(m)) @ w)) * m.nominal


def simulate(model: ThinkTime, games: list[list[Thought]], base: float, inc: float, seed: int):
    """Replay each game with the engine's clocks; the games lost on time and the clocks at moves 20, 40."""
    rng = np.random.default_rng(seed)
    flagged, at = 0, {20: [], 40: []}
    for game in games:
        left, last = [base, base], [None, None]
        for t in game:
            side = 0 if t.moment.board.turn else 1
            m = Moment(t.moment.board, left[side], left[1 - side], base, inc, last[1 - side], last[side],
                       t.moment.top, t.moment.entropy, t.moment.value, t.moment.expected, t.moment.swing)
            if m.board.fullmove_number in at and side == 0:
                at[m.board.fullmove_number].append(left[0])
            ms = lambda s: int(s * 1000)  # noqa: E731
            limits = Limits(wtime=ms(left[0]), btime=ms(left[1]), winc=ms(inc), binc=ms(inc))
            spent = limits.budget(side == 0, OVERHEAD_MS, model.seconds(m, rng)) + rng.uniform(0, LAG_S)
            left[side] -= spent
            if left[side] <= 0:
                flagged += 1
                break
            left[side] += inc
            last[side] = spent
    return flagged, {k: float(np.median(v)) if v else math.nan for k, v in at.items()}


def people_clocks(games: list[list[Thought]]) -> dict[int, float]:
    at = {20: [], 40: []}
    for game in games:
        for t in game:
            if t.moment.board.turn and t.moment.board.fullmove_number in at:
                at[t.moment.board.fullmove_number].append(t.moment.clock)
    return {k: float(np.median(v)) for k, v in at.items()}


def q_of_cp(cp: float) -> float:
    """lc0's centipawns back to an expected score (the inverse of playas.chess.engine.centipawns)."""
    return math.atan(cp / 90) / 1.5637541897


def stockfish_at_resignation(games, depth: int = 10) -> list[int]:
    """Stockfish's score (centipawns, the loser's view) of the position each person resigned in."""
    import chess
    import chess.engine

    from playas.chess.play import find_engine

    out = []
    with chess.engine.SimpleEngine.popen_uci(find_engine("stockfish")) as sf:
        for e in games:
            *_, board = e.positions()
            info = sf.analyse(board, chess.engine.Limit(depth=depth))
            out.append(info["score"].pov(e.loser()).score(mate_score=10_000))
    return out


def add_stockfish(games, depth: int, from_ply: int) -> None:
    """Each game's ``sf``: Stockfish's expected score for the mover at every position from
    ``from_ply`` on (0 before it), as lc0 maps centipawns; the same shape as the network's value."""
    import chess
    import chess.engine

    from playas.chess.play import find_engine

    with chess.engine.SimpleEngine.popen_uci(find_engine("stockfish")) as sf:
        for e in games:
            e.sf = np.zeros(e.plies + 1)
            for i, board in enumerate(e.positions()):
                if i < from_ply:
                    continue
                if board.is_game_over():
                    e.sf[i] = -1.0 if board.is_checkmate() else 0.0
                else:
                    info = sf.analyse(board, chess.engine.Limit(depth=depth))
                    e.sf[i] = q_of_cp(info["score"].relative.score(mate_score=100_000))


def endings_section(a, policy) -> str:
    from playas.chess import endings as en
    from playas.chess.engine import centipawns

    games = [e for path in sorted(TITLED.glob("*.pgn*")) for e in en.endings_from_pgn(path)]
    test = [e for e in games if held_out(e.white) or held_out(e.black)]
    learn = [e for e in games if not (held_out(e.white) or held_out(e.black))]
    rng = np.random.default_rng(a.seed)
    pick = lambda rows, n: [rows[i] for i in np.sort(rng.choice(len(rows), min(n, len(rows)), replace=False))]  # noqa: E731
    learn, test = pick(learn, a.learn_games), pick(test, a.test_games)
    mentor = []
    files = sorted((SHARED / "chess" / "pgnmentor").glob("*.pgn.gz"))
    for path in [files[i] for i in np.sort(rng.choice(len(files), min(20, len(files)), replace=False))]:
        mine = list(en.endings_from_pgn(path))
        mentor += pick(mine, a.mentor_games // 20)
    en.add_values(learn + test + mentor, policy)
    resign, draw = en.fit_resign(learn), en.fit_draw(learn)
    lichess_bot = en.Resign(round(q_of_cp(-1000), 3), 3, 0)
    rows = []
    samples = [("Titled Tuesday, held-out users", test), ("PGN Mentor (never learned from)", mentor)]

    def row(name, where, s):
        return [name, where, f"{s.games:,}", f"{s.where:.1%}", f"{s.early:.1%}", f"{s.never:.1%}",
                f"{s.false:.2%} of {s.saved_sides:,}"]

    for name, rule in [(f"playas, learned: value <= {resign.value:+.2f} for {resign.moves} moves from ply "
                        f"{resign.min_ply}", resign), ("lichess-bot default: -1,000 cp for 3 moves", lichess_bot)]:
        rows += [row(name, where, en.score_resign(rule, sample)) for where, sample in samples]
    if a.search_nodes:  # the bot's own search at its turn, a sharper reading than the value head
        en.add_searched(learn + test + mentor, policy, en.Resign(nodes=a.search_nodes))
        searched = en.fit_resign(learn, what="searched", nodes=a.search_nodes)
        name = (f"playas, learned on its search ({a.search_nodes} nodes): value <= {searched.value:+.2f} for "
                f"{searched.moves} moves from ply {searched.min_ply}")
        rows += [row(name, where, en.score_resign(searched, sample, what="searched")) for where, sample in samples]
    if a.sf_ceiling:  # what a rule on Stockfish's score could do, fitted on the games it is scored on
        add_stockfish(test, a.sf_depth, en.MIN_PLY)
        best = en.fit_resign(test, what="sf")
        rows.append(row(f"ceiling: Stockfish depth {a.sf_depth} <= {centipawns(best.value):+d} cp for {best.moves} moves "
                        f"from ply {best.min_ply}, fitted on these games", samples[0][0],
                        en.score_resign(best, test, what="sf")))
    resigned = [e for e in test if e.how == "resigned" and e.loser() is not None]
    cps = np.array(stockfish_at_resignation(resigned))
    ceiling = ("\n\nThe ceiling row reads Stockfish's score at every position and is fitted on the very games it "
               "is scored on: an upper bound for a rule on how lost a position is, however sharp the evaluation."
               if a.sf_ceiling else "")
    body = (f"Titled Tuesday: {len(games):,} finished games; rules learned on {len(learn):,} games of kept users, "
            f"scored on {len(test):,} games of held-out users; PGN Mentor: {len(mentor):,} games of 20 players. "
            "Targets: resign within 6 plies of the person in >= 60% of resigned games; false resignations <= 1%.\n\n"
            + table(rows, ["rule", "games", "resigned games", "within 6 plies", "earlier", "never",
                           "false resignations (sides that drew or won)"])) + ceiling
    body += (f"\n\nStockfish depth 10 where the held-out users resigned ({len(cps)} games, the loser's view): median "
             f"{np.median(cps):+.0f} cp, quartiles {np.percentile(cps, 25):+.0f} / {np.percentile(cps, 75):+.0f}, "
             f"{np.mean(cps > -300):.1%} above -300 cp.")
    drows = []
    for where, sample in [("Titled Tuesday, held-out users", test), ("PGN Mentor (never learned from)", mentor)]:
        d = en.score_draw(draw, sample)
        drows.append([where, f"{d['games']:,}", f"{d['where']:.1%}", f"{d['false']:.2%} of {d['won_sides']:,}"])
    body += (f"\n\nDraw offers, learned: draw chance >= {draw.draw:.2f} for {draw.moves} moves from ply "
             f"{draw.min_ply} (and at once in dead or claimable positions).\n\n"
             + table(drows, ["games", "agreed draws", "offered within 6 plies", "offers in games the side won"]))
    return body


def main() -> None:
    ap = arguments(__doc__, model_and_data=False)
    ap.add_argument("--sections", default="time,endings", help="time, endings, or both")
    ap.add_argument("--learn-games", type=int, default=1500, help="finished games the endings rules learn from")
    ap.add_argument("--test-games", type=int, default=800, help="held-out users' finished games scored")
    ap.add_argument("--mentor-games", type=int, default=400, help="PGN Mentor games scored (20 players)")
    ap.add_argument("--policy", default=str(ROOT / "models" / "population-197.pt"))
    ap.add_argument("--learn-moves", type=int, default=60_000, help="moves the predictors learn from")
    ap.add_argument("--test-moves", type=int, default=40_000, help="held-out users' moves scored")
    ap.add_argument("--clock-games", type=int, default=200, help="held-out games replayed with the engine's clocks")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sf-ceiling", action="store_true",
                    help="also fit a resignation rule on Stockfish's score of every held-out position (slow)")
    ap.add_argument("--sf-depth", type=int, default=8)
    ap.add_argument("--search-nodes", type=int, default=64,
                    help="also learn the resignation rule on the search's value (this many nodes) where the value "
                         "head reads -0.7 or worse, as the shipped rule does (slow: about half an hour; 0: off)")
    a = ap.parse_args()

    import torch

    from playas.chess.policy import Policy

    torch.set_num_threads(torch.get_num_threads())
    sections = set(a.sections.split(","))
    if "endings" in sections:
        body = endings_section(a, Policy.load(a.policy))
        finish(a, "chess_board_endings", "Chess at the board: resignation and draws", body, "chess_board")
    if "time" not in sections:
        return
    thoughts: list[Thought] = []
    for i, path in enumerate(sorted(TITLED.glob("*.pgn*"))):
        thoughts.extend(thoughts_from_pgn(path, game_offset=i << 32))
    learn, test, test_games = split(thoughts)
    rng = np.random.default_rng(a.seed)
    pick = lambda rows, n: [rows[i] for i in np.sort(rng.choice(len(rows), min(n, len(rows)), replace=False))]  # noqa: E731
    learn_s, test_s = pick(learn, a.learn_moves), pick(test, a.test_moves)
    chosen = set(rng.choice(sorted(test_games), min(a.clock_games, len(test_games)), replace=False).tolist())
    games: dict[int, list[Thought]] = {}
    for t in thoughts:
        if t.game in chosen:
            games.setdefault(t.game, []).append(t)
    replay = [g for g in games.values() if len(g) >= 2]
    policy = Policy.load(a.policy)
    add_policy(learn_s + test_s + [t for g in replay for t in g], policy)

    ours = ThinkTime.fit(learn_s)
    plain = plain_regression(learn_s)
    spent = np.array([t.spent for t in test_s])
    moments = [t.moment for t in test_s]
    predictors = [("engine rule: remaining/30 + 0.75 x increment", [engine_rule(m) for m in moments]),
                  ("lichess-bot fake_think_time", [fake_think_time(m) for m in moments]),
                  ("plain regression: clock, move number, legal moves, captures", [plain(m) for m in moments]),
                  ("playas think-time model (median)", ours.predict(moments))]
    rows = [[name, f"{spearman(p, spent):.3f}", f"{mae_ln(p, spent):.3f}"] for name, p in predictors]
    users = len({t.player for t in test_s})
    body = (f"Titled Tuesday 3+2: {len(thoughts):,} moves with clocks; learned from {len(learn_s):,} moves of "
            f"users kept, scored on {len(test_s):,} moves of {users} held-out users (a fifth of the names, "
            f"by hash; their games left out of learning). Targets: Spearman >= 0.60, MAE(ln s) <= 0.70.\n\n"
            + table(rows, ["predictor", "Spearman", "MAE ln s"]))

    people = people_clocks(replay)
    clock_rows = []
    for base, inc in CONTROLS:
        flagged, at = simulate(ours, replay, base, inc, a.seed)
        real = people if (base, inc) == (180, 2) else {20: math.nan, 40: math.nan}
        clock_rows.append([f"{base // 60}+{inc}", f"{flagged} of {len(replay)}", f"{at[20]:.0f} s", f"{at[40]:.0f} s",
                           "" if math.isnan(real[20]) else f"{real[20]:.0f} s / {real[40]:.0f} s"])
    body += (f"\n\nThe {len(replay)} held-out games replayed with the engine's clocks (move overhead "
             f"{OVERHEAD_MS} ms, up to {LAG_S * 1000:.0f} ms lag a move). Target: no loss on time.\n\n"
             + table(clock_rows, ["control", "lost on time", "White's clock at move 20", "at move 40",
                                  "people at 20 / 40 (same games)"]))
    finish(a, "chess_board_time", "Chess at the board: think time", body, "chess_board")


if __name__ == "__main__":
    main()
