"""Chess strength like the person: how a style chooses its moves, beside the person's own moves.

    python -m bench.chess_strength                       # Tal, Carlsen and Kasparov, held-out games
    python -m bench.chess_strength --players Tal --games 5 --no-record   # a quick look
    python -m bench.chess_strength --sections games      # 3+2 games against Stockfish's UCI_Elo (hours)

Each player's PGN Mentor games that the styled model never learned from (the test split
``scripts/build_pgnmentor_model.py`` gave them: 60/10/30 by game, seed 0, read back from the PGN
with :func:`playas.chess.prepare.owner_games`) are walked move by move on a simulated 3+2 clock
(both sides spend what the think-time model says, its median). At the player's own moves each
way of choosing is asked for a move in the real position:

- the policy (one network evaluation, the style and its repertoire) sampled at temperature 1,
  as playas played before; at temperature 0.5 and 0 (a temperature by phase: these are the
  rows past the opening); nucleus (top-p) sampling at 0.9 and 0.8 (temperature 1 inside it);
- the search in the person's time: the PUCT tree (:mod:`playas.chess.search`) with as many
  nodes as the think-time model's seconds for that position buy at the engine's speed on one
  thread (measured at the start of the run), the move drawn from its visits;
- the imported Maia-1900 at temperature 0, the peer for move-matching.

Scored: move-matching (the chance the rule plays the person's move, exact from its
distribution), and Stockfish's centipawn loss of a move drawn by the rule (seeded), beside the
loss of the person's own moves in the same positions (evaluations clamped to +-1,000 cp, as
Lichess' ACPL did), and the share of blunders (a loss of 300 cp or more). Moves 10 to 60 are
the strength rows; moves 1 to 9 show the opening's variety (the rule's perplexity: how many
moves it effectively chooses among).

Games: the UCI engine as a GUI runs it (its defaults: the person's think time, searching in it)
playing a style against Stockfish with ``UCI_LimitStrength`` at several ``UCI_Elo`` levels at 3+2,
colours alternating, two games at once (each engine on one thread; one side of a game thinks at a
time). Every finished game is appended to a PGN (``--games-log``, in git); a run that is stopped goes
on from the games there, so a series can take several sessions. The rating is the maximum-likelihood
Elo on Stockfish's scale given every game's score, with its standard error. Stockfish calibrates
``UCI_Elo`` at its own fast control (60+0.6, anchored to CCRL 40/4): at 3+2 its levels may play a
little stronger than their number.
"""

from __future__ import annotations

import io
import math
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import chess
import chess.engine
import chess.pgn
import numpy as np

from playas.bots.arena import play_clocked
from playas.chess.engine import Engine, temperature_weights
from playas.chess.limits import Limits
from playas.chess.prepare import owner_games

from .common import ROOT, SHARED, arguments, finish, table

MENTOR = SHARED / "chess" / "pgnmentor"
SPLIT = (0.6, 0.1, 0.3)  # scripts/build_pgnmentor_model.py's --split
BASE, INC = 180, 2  # 3+2, the control the think-time model learned from
CLAMP, BLUNDER = 1000, 300
ENGINE = [sys.executable, "-m", "playas.bots.uci"]
RULES = [("policy, temperature 1 (before)", 1.0, 1.0), ("policy, temperature 0.5", 0.5, 1.0),
         ("policy, temperature 0", 0.0, 1.0), ("policy, top-p 0.9", 1.0, 0.9), ("policy, top-p 0.8", 1.0, 0.8)]
SEARCH_RULES = [("search in the person's time, temperature 1", 1.0), ("search in the person's time, temperature 0", 0.0)]


def nodes_per_second(engine: Engine, style: str, nodes: int = 200) -> float:
    """The search's speed on this machine (one thread), over three middlegame positions."""
    fens = ["r1bq1rk1/pp2bppp/2n1pn2/3p4/2PP4/2N2N2/PP2BPPP/R2QKB1R w KQ - 0 9",
            "r2q1rk1/1b2bppp/p2ppn2/1p6/3NP3/1BN1B3/PPP2PPP/R2Q1RK1 w - - 0 12",
            "2r2rk1/pp1bqppp/4pn2/3p4/3P4/2NBPN2/PP3PPP/2RQ1RK1 b - - 0 15"]
    engine.search(chess.Board(fens[0]), Limits(nodes=20), style)  # warm up
    t, n = time.perf_counter(), 0
    for fen in fens:
        n += engine.search(chess.Board(fen), Limits(nodes=nodes), style).nodes
    return n / (time.perf_counter() - t)


def clamp_cp(score: chess.engine.PovScore, color: chess.Color) -> int:
    return max(-CLAMP, min(CLAMP, score.pov(color).score(mate_score=10 * CLAMP)))


class Referee:
    """Stockfish at a fixed depth: centipawn losses of moves, each position and move scored once."""

    def __init__(self, depth: int):
        from playas.chess.play import find_engine

        self.sf = chess.engine.SimpleEngine.popen_uci(find_engine("stockfish"))
        self.sf.configure({"Threads": 1, "Hash": 64})
        self.depth = depth
        self.cache: dict[str, int] = {}

    def value(self, board: chess.Board) -> int:
        """The score of ``board`` for the side that just moved (clamped centipawns)."""
        key = board.fen()
        if key not in self.cache:
            if board.is_game_over():
                out = board.outcome()
                self.cache[key] = 0 if out.winner is None else (CLAMP if out.winner != board.turn else -CLAMP)
            else:
                info = self.sf.analyse(board, chess.engine.Limit(depth=self.depth))
                self.cache[key] = clamp_cp(info["score"], not board.turn)
        return self.cache[key]

    def loss(self, board: chess.Board, move: chess.Move, best: int) -> int:
        board.push(move)
        try:
            return max(0, best - self.value(board))
        finally:
            board.pop()

    def best(self, board: chess.Board) -> int:
        info = self.sf.analyse(board, chess.engine.Limit(depth=self.depth))
        return clamp_cp(info["score"], board.turn)

    def close(self) -> None:
        self.sf.quit()


def walk(engine: Engine, style: str, text: str, owner: chess.Color):
    """The owner's positions of one game, with the person's move and the think-time model's
    seconds for it, on a 3+2 clock both sides spend by the model's median."""
    game = chess.pgn.read_game(io.StringIO(text))
    board = game.board()
    left = {chess.WHITE: float(BASE), chess.BLACK: float(BASE)}
    last = {chess.WHITE: None, chess.BLACK: None}
    for move in game.mainline_moves():
        side = board.turn
        limits = Limits(wtime=int(left[chess.WHITE] * 1000), btime=int(left[chess.BLACK] * 1000),
                        winc=INC * 1000, binc=INC * 1000)
        think = engine.think_time(board, limits, style if side == owner else None, base=BASE,
                                  own_spent=last[side], opponent_spent=last[not side]) or 0.0
        spent = limits.budget(side == chess.WHITE, 100, think) or think
        if side == owner:
            yield board, move, spent
        left[side] = max(left[side] - spent, 0.1) + INC
        last[side] = spent
        board.push(move)


def strength_rows(a, engine: Engine, maia: Engine, referee: Referee, rng: np.random.Generator, nps: float):
    rules = RULES + [(n, t, None) for n, t in SEARCH_RULES]
    stats = {n: {"match": [], "loss": [], "opening_match": [], "perplexity": []} for n, _, _ in rules}
    stats["person"] = {"loss": []}
    stats["maia"] = {"match": [], "opening_match": []}
    budget = []
    per_player = {}
    for player in a.players.split(","):
        games = list(owner_games(MENTOR / f"{player}.pgn.gz", "test", SPLIT))
        picked = [games[i] for i in np.sort(rng.choice(len(games), min(a.games, len(games)), replace=False))]
        n_pos = 0
        for text, owner in picked:
            for board, person, seconds in walk(engine, player, text, owner):
                move_no = board.fullmove_number
                if move_no > 60:
                    break
                opening = move_no < 10
                if not opening and rng.random() > a.sample:
                    continue
                policy = engine.policy(player)
                an = policy.analyse(board)
                log_p = np.log(np.maximum(an.probs, 1e-30))
                idx = {m: i for i, m in enumerate(an.moves)}
                maia_an = maia.policy().analyse(board)
                hit = float(maia_an.moves[int(np.argmax(maia_an.probs))] == person)
                stats["maia"]["opening_match" if opening else "match"].append(hit)
                if not opening:
                    best = referee.best(board)
                    stats["person"]["loss"].append(referee.loss(board, person, best))
                    n_pos += 1
                for name, t, top_p in RULES:
                    w = temperature_weights(log_p, t, top_p)
                    s = stats[name]
                    if opening:
                        s["opening_match"].append(float(w[idx[person]]) if person in idx else 0.0)
                        nz = w[w > 0]
                        s["perplexity"].append(float(np.exp(-(nz * np.log(nz)).sum())))
                        continue
                    s["match"].append(float(w[idx[person]]) if person in idx else 0.0)
                    drawn = an.moves[int(rng.choice(len(w), p=w))]
                    s["loss"].append(referee.loss(board, drawn, best))
                if opening:
                    continue
                nodes = max(1, min(a.max_nodes, round(seconds * nps)))
                budget.append(nodes)
                # one tree serves both: drawn from its visits (T = 1), and its most visited move (T = 0)
                c = engine.search(board, Limits(nodes=nodes), player, multipv=500, temperature=1.0, rng=rng)
                visited = [ln for ln in c.lines if ln.visits]
                top = max(visited, key=lambda ln: (ln.visits, ln.probability)).pv[0] if visited else c.move
                w = temperature_weights(np.log([ln.visits for ln in visited]), 1.0) if visited else np.ones(1)
                drawn_match = sum(float(wi) for wi, ln in zip(w, visited) if ln.pv[0] == person) if visited \
                    else float(c.move == person)
                for (name, t), move, match in zip(SEARCH_RULES, (c.move, top), (drawn_match, float(top == person))):
                    stats[name]["match"].append(match)
                    stats[name]["loss"].append(referee.loss(board, move, best))
        per_player[player] = (len(picked), n_pos)
        print(f"{player}: {len(picked)} games, {n_pos} positions", flush=True)
    return stats, budget, per_player


# --- games against Stockfish's UCI_Elo ---------------------------------------------------------

def rating(results: list[tuple[int, float]]) -> tuple[float, float, str]:
    """The maximum-likelihood Elo from (opponent Elo, score) pairs, its standard error, and ">" or
    "<" where every game was won or lost (then the estimate is a bound at the strongest or weakest)."""
    if not results:
        return math.nan, math.nan, ""
    opp = np.array([r[0] for r in results], float)
    score = np.array([r[1] for r in results], float)
    grid = np.arange(0, 4000, 1.0)
    e = 1 / (1 + 10 ** ((opp[None, :] - grid[:, None]) / 400))
    ll = (score * np.log(e) + (1 - score) * np.log(1 - e)).sum(1)
    best = float(grid[int(np.argmax(ll))])
    eb = 1 / (1 + 10 ** ((opp - best) / 400))
    info = float((eb * (1 - eb)).sum()) * (math.log(10) / 400) ** 2
    bound = ">" if score.min() == 1 else "<" if score.max() == 0 else ""
    return best, 1 / math.sqrt(info) if info > 0 else math.inf, bound


def finished_games(log: Path) -> list[chess.pgn.Game]:
    if not log.exists():
        return []
    games = []
    with open(log, encoding="utf-8") as f:
        while (g := chess.pgn.read_game(f)) is not None:
            games.append(g)
    return games


def play_one(a, style: str, elo: int, index: int, log: Path, lock: threading.Lock, engines: threading.local):
    """One 3+2 game of ``style`` against Stockfish at ``elo``, appended to ``log``."""
    from playas.chess.play import find_engine

    if not hasattr(engines, "ours"):
        engines.ours = chess.engine.SimpleEngine.popen_uci([*ENGINE, "--model", a.model], cwd=ROOT)
        engines.sf = chess.engine.SimpleEngine.popen_uci(find_engine("stockfish"))
    engines.ours.configure({"Player": style, "Seed": a.seed * 1000 + index + 1})
    engines.sf.configure({"Threads": 1, "Hash": 16, "UCI_LimitStrength": True, "UCI_Elo": elo})
    color = chess.WHITE if index % 2 == 0 else chess.BLACK
    white, black = (engines.ours, engines.sf) if color == chess.WHITE else (engines.sf, engines.ours)
    base, inc = (float(x) for x in a.tc.split("+"))
    r = play_clocked(white, black, base, inc, max_plies=400)
    game = chess.pgn.Game.from_board(r.board)
    names = {color: f"playas {style}", not color: f"Stockfish UCI_Elo {elo}"}
    game.headers.update({"Event": "bench.chess_strength", "Round": str(index + 1), "White": names[chess.WHITE],
                         "Black": names[chess.BLACK], "Result": r.result, "TimeControl": a.tc.replace("+", "+"),
                         "Termination": r.termination, "Style": style, "StockfishElo": str(elo),
                         "PlayasColor": "white" if color == chess.WHITE else "black"})
    with lock, open(log, "a", encoding="utf-8") as f:
        print(game, file=f, end="\n\n")
    print(f"  {style} vs UCI_Elo {elo}, game {index + 1}: {r.result} ({r.termination}, "
          f"{len(r.board.move_stack)} plies)", flush=True)


def games_section(a) -> str:
    log = Path(a.games_log)
    log.parent.mkdir(parents=True, exist_ok=True)
    levels = [int(x) for x in a.elo.split(",")]
    styles = a.game_styles.split(",")
    done = {(g.headers["Style"], int(g.headers["StockfishElo"]), int(g.headers["Round"]) - 1)
            for g in finished_games(log)}
    todo = [(s, e, i) for i in range(a.rating_games) for s in styles for e in levels if (s, e, i) not in done]
    print(f"games: {len(done)} in {log}, {len(todo)} to play", flush=True)
    lock, engines = threading.Lock(), threading.local()
    with ThreadPoolExecutor(a.parallel) as pool:
        list(pool.map(lambda job: play_one(a, *job, log, lock, engines), todo))
    rows = []
    for style in styles:
        mine = [g for g in finished_games(log) if g.headers["Style"] == style
                and int(g.headers["StockfishElo"]) in levels]
        results = []
        cells = []
        for elo in levels:
            at = [g for g in mine if int(g.headers["StockfishElo"]) == elo]
            scores = [{"1-0": 1.0, "0-1": 0.0}.get(g.headers["Result"], 0.5) if g.headers["PlayasColor"] == "white"
                      else {"1-0": 0.0, "0-1": 1.0}.get(g.headers["Result"], 0.5) for g in at]
            results += [(elo, s) for s in scores]
            cells.append(f"{sum(scores):g}/{len(scores)}")
        flags = sum(g.headers["Termination"] in ("time forfeit", "illegal move") and
                    g.headers["Result"] == ("0-1" if g.headers["PlayasColor"] == "white" else "1-0") for g in mine)
        r, se, bound = rating(results)
        rows.append([style, *cells, f"{bound}{r:.0f} ± {se:.0f}", flags])
    return (f"Styles of models/{Path(a.model).name} through the UCI engine at its defaults (HumanTime on, Nodes 0: "
            f"searching in the person's time) against Stockfish (1 thread, UCI_LimitStrength) at {a.tc}, colours "
            f"alternating, {a.parallel} games at once. Target: a GM style performs >= 2200.\n\n"
            + table(rows, ["style", *[f"UCI_Elo {e}" for e in levels], "performance (Elo, ± s.e.)",
                           "lost on time or illegal"]))


def main() -> None:
    ap = arguments(__doc__, model_and_data=False)
    ap.add_argument("--model", default=str(ROOT / "models" / "pgnmentor-197.pt"), help="the styled model")
    ap.add_argument("--players", default="Tal,Carlsen,Kasparov", help="PGN Mentor players with styles")
    ap.add_argument("--games", type=int, default=20, help="held-out games a player")
    ap.add_argument("--sample", type=float, default=0.3, help="share of the moves 10-60 scored")
    ap.add_argument("--max-nodes", type=int, default=800, help="the search's nodes at most, a move")
    ap.add_argument("--depth", type=int, default=10, help="Stockfish's depth")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sections", default="positions", help="positions, games, or both")
    ap.add_argument("--game-styles", default="Tal", help="styles that play the games")
    ap.add_argument("--elo", default="2200,2400,2600", help="Stockfish UCI_Elo levels")
    ap.add_argument("--rating-games", type=int, default=10, help="games a style and level")
    ap.add_argument("--tc", default="180+2", help="the games' clock, BASE+INC seconds")
    ap.add_argument("--parallel", type=int, default=2, help="games at once")
    ap.add_argument("--games-log", default=str(ROOT / "bench" / "games" / "chess-strength-3+2-batched.pgn"),
                    help="the PGN finished games go to (a rerun goes on from it; kept in git, so a series "
                         "runs across sessions)")
    a = ap.parse_args()
    if "games" in a.sections:
        finish(a, "chess_strength_games", "Chess strength like the person: games against Stockfish's UCI_Elo",
               games_section(a), "chess_strength")
    if "positions" not in a.sections:
        return

    import torch

    torch.set_num_threads(1)  # as the UCI engine and the Lichess bot search: one thread
    t0 = time.time()
    engine = Engine(a.model, seed=a.seed)
    for p in a.players.split(","):
        if p not in engine.players or not (MENTOR / f"{p}.pgn.gz").exists():
            sys.exit(f"bench/chess_strength.py: {p} needs a style in {Path(a.model).name} and games in {MENTOR}")
    maia = Engine(ROOT / "models" / "maia-1900.pt")
    nps = nodes_per_second(engine, a.players.split(",")[0])
    referee = Referee(a.depth)
    try:
        stats, budget, per_player = strength_rows(a, engine, maia, referee, np.random.default_rng(a.seed), nps)
    finally:
        referee.close()
    person = float(np.mean(stats["person"]["loss"]))
    person_blunders = float(np.mean(np.array(stats["person"]["loss"]) >= BLUNDER))
    maia_match = float(np.mean(stats["maia"]["match"]))
    rows = [["the person's own moves", "", "", f"{person:.1f}", "1.00", f"{person_blunders:.1%}", "", ""]]
    for name, _, _ in RULES + [(n, t, None) for n, t in SEARCH_RULES]:
        s = stats[name]
        loss = float(np.mean(s["loss"]))
        match = float(np.mean(s["match"]))
        opening = (f"{np.mean(s['opening_match']):.1%}", f"{np.mean(s['perplexity']):.2f}") if s["opening_match"] \
            else ("", "")
        rows.append([name, f"{match:.1%}", f"{match / maia_match:.2f}", f"{loss:.1f}", f"{loss / person:.2f}",
                     f"{np.mean(np.array(s['loss']) >= BLUNDER):.1%}", *opening])
    rows.append(["Maia-1900, temperature 0 (the peer)", f"{maia_match:.1%}", "1.00", "", "", "",
                 f"{np.mean(stats['maia']['opening_match']):.1%}", "1.00"])
    b = np.array(budget)
    games = ", ".join(f"{p} {g} games / {n} positions" for p, (g, n) in per_player.items())
    body = (f"Held-out PGN Mentor games (never learned from): {games}; moves 10-60 sampled at "
            f"{a.sample:.0%}, moves 1-9 all. Stockfish depth {a.depth}. The search: {nps:.0f} nodes a second "
            f"on one thread, nodes a move median {np.median(b):.0f} (quartiles {np.percentile(b, 25):.0f} / "
            f"{np.percentile(b, 75):.0f}, at most {a.max_nodes}) from the think-time model's seconds on a "
            f"simulated 3+2 clock. Targets: centipawn loss within 25% of the person's (ratio 0.75-1.25); "
            f"move-matching with search >= without - 1 point. {time.time() - t0:.0f} s.\n\n"
            + table(rows, ["rule (moves 10-60)", "move-matching", "vs Maia-1900", "centipawn loss",
                           "vs the person", "blunders (>= 300 cp)", "moves 1-9: matching", "moves 1-9: perplexity"]))
    finish(a, "chess_strength", "Chess strength like the person: choosing moves after the opening", body)


if __name__ == "__main__":
    main()
