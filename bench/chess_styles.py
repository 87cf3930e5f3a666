"""Chess styles benchmark: move-matching per player, stylometry, career drift, few-shot,
and the time of identify and enroll (blends and steering: bench/chess_blends.py). All on games never seen in training.

    python -m bench.chess_styles --model models/pgnmentor-197.pt --data data/pgnmentor

``--data`` is the dataset the model was trained from (see bench/chess_foundation.py for the
prepare command); the test split's games never reached training. Prints one table per part and
writes them to BENCHMARKS.md.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import chess
import numpy as np
import torch
import torch.nn.functional as F

from playas.chess.dataset import ChessData
from playas.chess.encoding import index_to_move
from playas.chess.model import load_model
from playas.chess.model import style_plies
from playas.chess.train import make_batch
from playas.core.fitting import rank_by_similarity

from .chess_data import (
    accuracy,
    cache_queries,
    fit_many,
    likelihoods,
    likelihoods_both,
    owner_rows,
    player_games,
    repertoire_with,
    styled_logits,
    topk,
)
from .common import ROOT, SHARED, arguments, command_line, record, table

# --- move-matching ---------------------------------------------------------------------------

def bench_matching(model, base, data, names, per_player, finetune_players, rng, finetune_games: int = 420):
    rows_of = {}
    for name in names:
        pid = data.players.index(name)
        r = owner_rows(data, pid, player_games(data, pid, "test"))
        rows_of[name] = np.sort(rng.permutation(r)[:per_player])
    table_rows = {n: model.table.index(n) for n in names}
    base_acc, mhr_acc = {}, {}
    for name in names:
        idx = rows_of[name]
        z = model.table.z.detach()[table_rows[name]]
        base_acc[name] = accuracy(lambda b: base(b["x"])[0], data, idx).mean()
        mhr_acc[name] = accuracy(styled_logits(model, z), data, idx).mean()
    ft = {}
    for name in finetune_players:
        pid = data.players.index(name)
        train_games = data.sample_games("train", None, 0)
        train_games = np.intersect1d(train_games, player_games(data, pid, "train"))[:finetune_games]
        idx = owner_rows(data, pid, train_games)
        net = copy.deepcopy(base).train()
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        for epoch in range(3):
            perm = rng.permutation(idx)
            for s in range(0, len(perm) - 63, 256):
                b = make_batch(data, perm[s:s + 256])
                loss = F.cross_entropy(net(b["x"])[0], b["y"])
                opt.zero_grad()
                loss.backward()
                opt.step()
        net.eval()
        ft[name] = accuracy(lambda b: net(b["x"])[0], data, rows_of[name]).mean()
    return base_acc, mhr_acc, ft, rows_of


# --- stylometry --------------------------------------------------------------------------------

def sample_query(data, pid, games, n_games, max_ply, rng):
    return np.sort(owner_rows(data, pid, rng.permutation(games)[:n_games], max_ply))


def book_scores(data, refs: list[np.ndarray], queries: list[np.ndarray], alpha: float = 5.0, qdata=None,
                keys=lambda d, r: d.position_keys[r]) -> np.ndarray:
    """The plain likelihood baseline: each reference player's opening book.

    Counts of (position, move) over each player's reference rows; a query move's probability
    under a player is their count, smoothed towards all players' book with weight ``alpha``;
    score = sum of log(p_player / p_all) over the query's moves. No network. Positions are
    named by ``keys(dataset, rows)``; the queries' rows are in ``qdata`` (default ``data``)."""
    def key_moves(d, r):
        k = np.asarray(keys(d, r)).astype(np.uint64)
        return k, k * np.uint64(2039) + np.asarray(d.rows["move"][r]).astype(np.uint64)

    def counts(k):
        u, c = np.unique(k, return_counts=True)
        return dict(zip(u.tolist(), c.tolist()))

    ref = [key_moves(data, r) for r in refs]
    all_p, all_pm = counts(np.concatenate([k for k, _ in ref])), counts(np.concatenate([m for _, m in ref]))
    per = [(counts(k), counts(m)) for k, m in ref]
    out = np.zeros((len(queries), len(refs)))
    for i, q in enumerate(queries):
        k, m = (x.tolist() for x in key_moves(qdata or data, q))
        pa = np.array([(all_pm.get(b, 0) + 0.5) / (all_p.get(a, 0) + 1.0) for a, b in zip(k, m)])
        for j, (cp, cpm) in enumerate(per):
            pp = np.array([(cpm.get(b, 0) + alpha * x) / (cp.get(a, 0) + alpha) for a, b, x in zip(k, m, pa)])
            out[i, j] = np.log(pp / pa).sum()
    return out


def san_tokens(data, gi, pid, plies=30):
    """The player's first 15 moves as ``ply:SAN`` tokens (the baseline's features)."""
    g = data.games[gi]
    board = chess.Board()
    toks = []
    for r in range(g["first"], g["first"] + min(g["length"], plies)):
        m = index_to_move(board, int(data.rows["move"][r]))
        if data.mover[r] == pid:
            toks.append(f"{r - g['first']}:{board.san(m)}")
        board.push(m)
    return toks


def tfidf_rank(ref_docs: list[Counter], query_docs: list[Counter]) -> np.ndarray:
    """Cosine similarity of tf-idf vectors, each query against each reference player."""
    df = Counter()
    for d in ref_docs:
        df.update(d.keys())
    n = len(ref_docs)
    idf = {t: math.log((1 + n) / (1 + c)) + 1 for t, c in df.items()}

    def vec(d):
        v = {t: c * idf.get(t, math.log(1 + n) + 1) for t, c in d.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {t: x / norm for t, x in v.items()}

    refs = [vec(d) for d in ref_docs]
    out = np.zeros((len(query_docs), n))
    for i, q in enumerate(query_docs):
        qv = vec(q)
        for j, r in enumerate(refs):
            out[i, j] = sum(x * r.get(t, 0.0) for t, x in qv.items())
    return out


def doc(data, games, pid, cache):
    c = Counter()
    for gi in games:
        if gi not in cache:
            cache[gi] = san_tokens(data, gi, pid)
        c.update(cache[gi])
    return c


# --- move-matching by phase, with the repertoire -----------------------------------------------

PHASES = (("opening (plies 0-29)", 0, 30), ("middlegame (30-79)", 30, 80), ("endgame (80+)", 80, 10_000))


def own_book(data, pid: int, plies: int = 30) -> dict:
    """The plain book: a player's most played move at each position (polyglot key) of their training games."""
    rows = owner_rows(data, pid, player_games(data, pid, "train"), plies)
    keys = np.asarray(data.rows["zobrist"][rows]).view(np.int64)
    moves = np.asarray(data.rows["move"][rows])
    book: dict = {}
    for k, m in zip(keys.tolist(), moves.tolist()):
        book.setdefault(k, Counter())[m] += 1
    return {k: c.most_common(1)[0][0] for k, c in book.items()}


def bench_phases(model, base, data, names, per_player, rng, plies=None):
    """Top-1 by phase on each player's test moves: base, own style row, the person (row + repertoire),
    and the plain book (the player's most played move where their training games reached, else the base)."""
    from playas.chess.evaluate import styled_forward

    hits = {k: {p[0]: [] for p in PHASES} for k in ("base", "mean row", "row", "person", "book")}
    for name in names:
        pid = data.players.index(name)
        idx = np.sort(rng.permutation(owner_rows(data, pid, player_games(data, pid, "test")))[:per_player])
        ply = data.ply[idx]
        book = own_book(data, pid)

        def book_forward(b, book=book):
            logits = base(b["x"])[0].clone()
            for i, k in enumerate(b["position"].tolist()):
                if k in book and int(b["ply"][i]) < 30:
                    logits[i, book[k]] = 1e9
            return logits

        for key, fwd in (("base", lambda b: base(b["x"])[0]),
                         ("mean row", styled_forward(model, data.players, style="mean", book_depth=0)),
                         ("row", styled_forward(model, data.players, book_depth=0)),
                         ("person", styled_forward(model, data.players, style_plies=plies)), ("book", book_forward)):
            h = accuracy(fwd, data, idx)
            for label, lo, hi in PHASES:
                hits[key][label].append(h[(ply >= lo) & (ply < hi)])
    rows = []
    for label, _, _ in PHASES + (("all moves", 0, 0),):
        acc = {k: np.concatenate(v[label] if label in v else sum(v.values(), [])).mean() for k, v in hits.items()}
        n = len(np.concatenate(hits["base"][label] if label in hits["base"] else sum(hits["base"].values(), [])))
        rows.append([label, f"{n:,}", *(f"{acc[k]:.2%}" for k in ("base", "mean row", "row", "person", "book")),
                     f"{(acc['row'] - acc['mean row']) * 100:+.2f}", f"{(acc['person'] - acc['base']) * 100:+.2f}"])
    return rows


# --- generation fidelity ---------------------------------------------------------------------------

def bench_fidelity(model, data, names, games: int, plies: int, rng, tmp: Path):
    """Self-play of each style (with its repertoire) against the mean style, then named from the
    style's moves in the first 30 plies (a) by identify and (b) by outside judges, the plain
    opening book of every player's real games: their held-out test games (never learned from,
    the fair judge) and their training games (the ones the repertoire holds). Returns top-1 and
    top-5 of each: identify, the held-out judge, the training-games judge."""
    from playas.chess.prepare import prepare
    from playas.chess.play import StylePlayer, play_match
    from playas.chess.policy import Policy

    mean = StylePlayer(Policy(model), 1.0, name="mean style")
    for n in names:
        me = StylePlayer(Policy(model, style=n), 1.0, name=n)
        with open(tmp / f"{n}.pgn", "w") as out:
            play_match(me, mean, games, seed=int(rng.integers(1 << 30)), out=out, max_plies=plies)
    prepare([tmp / f"{n}.pgn" for n in names], tmp / "gen", owner_from_filename_=True, split=(0.0, 0.0, 1.0), workers=1)
    gen = ChessData(tmp / "gen")
    queries = [np.sort(owner_rows(gen, gen.players.index(n), player_games(gen, gen.players.index(n), None), 30))
               for n in names]
    truth = [model.table.index(n) for n in names]
    ll = likelihoods(model, cache_queries(model, gen, queries))
    out = [topk(ll, truth, 1), topk(ll, truth, 5)]
    for split in ("test", "train"):
        refs = [owner_rows(data, data.players.index(n), player_games(data, data.players.index(n), split), 30)
                for n in model.table.names]
        judge = book_scores(data, refs, queries, qdata=gen, keys=lambda d, r: d.rows["zobrist"][r])  # by position
        out += [topk(judge, truth, 1), topk(judge, truth, 5)]
    return out


def bench_matching_section(model, base, data, names, trained, enrolled, card, a, rng) -> list[str]:
    """Move-matching of the style rows against the base, and a fine-tuned base for a few players."""
    sections = []
    ft_players = [trained[i] for i in np.linspace(0, len(trained) - 1, a.finetune).astype(int)]
    base_acc, mhr_acc, ft, _ = bench_matching(model, base, data, names, a.per_player, ft_players, rng,
                                              a.finetune_games)
    b_tr = np.mean([base_acc[n] for n in trained])
    m_tr = np.mean([mhr_acc[n] for n in trained])
    rows = [[f"{len(trained)} trained players (mean of per-player top-1)", f"{b_tr:.2%}", f"{m_tr:.2%}",
             f"{(m_tr - b_tr) * 100:+.2f}", ""]]
    if enrolled:
        b_en = np.mean([base_acc[n] for n in enrolled])
        m_en = np.mean([mhr_acc[n] for n in enrolled])
        rows.append([f"{len(enrolled)} enrolled players (few-shot rows)", f"{b_en:.2%}", f"{m_en:.2%}",
                     f"{(m_en - b_en) * 100:+.2f}", ""])
    b_ft = np.mean([base_acc[n] for n in ft_players])
    m_ft = np.mean([mhr_acc[n] for n in ft_players])
    f_ft = np.mean([ft[n] for n in ft_players])
    rows.append([f"{len(ft_players)} players with a fine-tuned base each", f"{b_ft:.2%}", f"{m_ft:.2%}",
                 f"{(m_ft - b_ft) * 100:+.2f}", f"{f_ft:.2%} ({(f_ft - b_ft) * 100:+.2f})"])
    better = sum(mhr_acc[n] > base_acc[n] for n in trained)
    sections.append(f"Move-matching on held-out test games, up to {a.per_player} positions per player; base is "
                    f"`{Path(card['base']).name}`. MHR beats the base for {better} of {len(trained)} trained players. "
                    f"A fine-tuned base: the whole network, 3 epochs on {a.finetune_games} of the player's training "
                    "games (the style rows learned from all of them; a whole network per player costs too much to "
                    "train on more here).\n\n"
                    + table(rows, ["players", "base top-1", "MHR top-1", "MHR - base (points)",
                                   "fine-tuned base (vs base)"]))
    print(sections[-1], flush=True)
    return sections


# --- main ---------------------------------------------------------------------------------------

def main():
    ap = arguments(__doc__)
    ap.add_argument("--per-player", type=int, default=200, help="test positions per player for move-matching")
    ap.add_argument("--finetune", type=int, default=10, help="players with a fine-tuned base for comparison")
    ap.add_argument("--finetune-games", type=int, default=420, help="training games of each fine-tuned base")
    ap.add_argument("--sizes", default="10,30,100")
    ap.add_argument("--queries", type=int, default=40, help="players queried for stylometry (likelihood is slow)")
    ap.add_argument("--fit-epochs", type=int, default=3)
    ap.add_argument("--parts", default="matching,phases,stylometry,drift,fewshot,fidelity,timing",
                    help="which parts to run, comma-separated")
    ap.add_argument("--fewshot-draws", type=int, default=6,
                    help="enroll/query draws per held-out player (30 trials cannot tell 93% from 97%)")
    ap.add_argument("--fidelity-players", type=int, default=20)
    ap.add_argument("--fidelity-games", type=int, default=30)
    a = ap.parse_args()
    parts = set(a.parts.split(","))
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    model, blob = load_model(a.model)
    model.eval()
    card = blob["card"]
    base = load_model(card["base"] if Path(card["base"]).exists() else ROOT / "models" / "maia-1900.pt")[0]
    data = ChessData(a.data)
    names = [n for n in model.table.names if n in data.players]
    enrolled = list(card.get("enrolled", {}))
    trained = [n for n in names if n not in enrolled]
    sections = []
    t_all = time.time()

    # 1. move-matching
    if "matching" in parts:
        sections += bench_matching_section(model, base, data, names, trained, enrolled, card, a, rng)
    if "phases" in parts:
        rows = bench_phases(model, base, data, trained, a.per_player, rng, style_plies(blob["card"]))
        sections.append(f"Move-matching by phase on held-out test games ({len(trained)} trained players, up to "
                        f"{a.per_player} positions each): the base, the mean style row, the player's own style row "
                        "alone, the person (own row and "
                        "repertoire, and the base network past the plies the styles learned from, as every command "
                        "plays it), and the plain book (the player's most played move "
                        "where their training games reached, in the first 30 plies; else the base's move).\n\n"
                        + table(rows, ["moves", "positions", "base", "mean row", "own style row",
                                       "person (row + repertoire)", "plain book", "own - mean row (points)",
                                       "person - base (points)"]))
        print(sections[-1], flush=True)
    max_ply = style_plies(blob["card"])
    # 2. stylometry among all known players
    sizes = [int(s) for s in a.sizes.split(",")]
    if "stylometry" in parts:
        sections.append(bench_stylometry(model, data, trained, sizes, max_ply, a, rng))
        print(sections[-1], flush=True)
    if "drift" in parts:
        sections.append(bench_drift(model, data, trained, max_ply, a, rng))
        print(sections[-1], flush=True)
    if "fewshot" in parts and enrolled:
        sections.append(bench_fewshot(model, data, enrolled, max_ply, a, rng))
        print(sections[-1], flush=True)
    if "fidelity" in parts:
        players = [trained[i] for i in np.sort(np.random.default_rng(3).permutation(len(trained))[: a.fidelity_players])]
        with tempfile.TemporaryDirectory() as tmp:
            t = time.time()
            r = bench_fidelity(model, data, players, a.fidelity_games, 60, rng, Path(tmp))
        sections.append(f"Generation fidelity: {a.fidelity_games} self-play games of each of {len(players)} trained "
                        "players' styles (a seeded sample; temperature 1, the repertoire on, 60 plies) against the mean "
                        "style; the style's moves in the first 30 plies named (a) by identify (the person model) and "
                        "(b) by outside judges that know nothing of the model: the plain opening book of every "
                        "player's real games, from their held-out test games (never learned from: the target, "
                        ">= 90%) and from their training games (the games the repertoire holds). "
                        f"{time.time() - t:.0f} s.\n\n"
                        + table([[len(players), *(f"{x:.0%}" for x in r)]],
                                ["players", "identify top-1", "top-5", "judge from held-out games top-1", "top-5",
                                 "judge from training games top-1", "top-5"]))
        print(sections[-1], flush=True)
    if "timing" in parts:
        sections.append(bench_timing(a, trained))
        print(sections[-1], flush=True)
    body = "\n\n".join(sections) + f"\n\nTotal benchmark time {time.time() - t_all:.0f} s."
    if not a.no_record:  # the sections were printed as they came
        whole = parts >= set(ap.get_default("parts").split(","))
        record("chess_styles" if whole else "chess_styles_" + "_".join(sorted(parts)),  # a part: its own section
               f"Chess styles: {Path(a.model).name}" + ("" if whole else f" ({', '.join(sorted(parts))})"), body,
               command_line("chess_styles"))


def bench_stylometry(model, data, trained, sizes, max_ply, a, rng) -> str:
    qrng = np.random.default_rng(1)
    truth_names = [trained[i] for i in np.sort(qrng.permutation(len(trained))[: a.queries])]
    table_z = model.table.z.detach()
    ref_cache: dict = {}
    ref_docs = []
    for n in model.table.names:
        pid = data.players.index(n)
        ref_games = np.intersect1d(data.sample_games("train", 300, 0), player_games(data, pid, "train"))
        ref_docs.append(doc(data, ref_games, pid, ref_cache))
    ref_rows = book_references(model, data, max_ply or 30)
    styl_rows = []
    for size in sizes:
        queries, truth, qdocs, book_q = [], [], [], []
        for n in truth_names:
            pid = data.players.index(n)
            games = player_games(data, pid, "test")
            if len(games) < size:
                continue
            chosen = rng.permutation(games)[:size]
            queries.append(np.sort(owner_rows(data, pid, chosen, max_ply)))
            book_q.append(np.sort(owner_rows(data, pid, chosen, max_ply or 30)))
            truth.append(model.table.index(n))
            qdocs.append(doc(data, chosen, pid, {}))
        t = time.time()
        cache = cache_queries(model, data, queries)
        t_cache = time.time() - t
        sims = rank_by_similarity(fit_many(model, cache, a.fit_epochs), table_z)
        t_fit = time.time() - t
        t = time.time()
        ll, net = likelihoods_both(model, cache)
        t_ll = time.time() - t + t_cache
        tfidf, book = tfidf_rank(ref_docs, qdocs), book_scores(data, ref_rows, book_q)
        row = [f"{size} games", len(queries), f"{np.mean([len(q) for q in queries]):.0f}"]
        for sc in (ll, net, sims, book, tfidf):
            row += [f"{topk(sc, truth, 1):.1%}", f"{topk(sc, truth, 5):.1%}"]
        row.append(f"{t_ll / len(queries):.1f} s / {t_fit / len(queries):.2f} s")
        styl_rows.append(row)
        print(row, flush=True)
    window = f"their moves in the first {max_ply} plies" if max_ply else "all their moves"
    return (
        f"Stylometry among all {len(model.table)} known players: for {len(truth_names)} trained players (a seeded "
        f"random sample), query games drawn at random from their held-out test games; the query is {window}. "
        f"person = mean log-likelihood of the query moves under each known person (style row and repertoire, as "
        f"`identify` ranks); network alone = the same under the style rows only; vector = a style row "
        f"fitted on the query, ranked by cosine similarity to every known row. Plain baselines, no network: "
        f"opening book = each player's (position, move) counts in their training games' first "
        f"{max_ply or 30} plies, score = sum of log(p_player / p_all) (smoothed); tf-idf = the player's first "
        f"15 moves as ply:SAN tokens, 300 reference games per player, cosine.\n\n"
        + table(styl_rows, ["query", "players", "moves", "person top-1", "top-5", "network alone top-1", "top-5",
                            "vector top-1", "top-5", "opening book top-1", "top-5", "tf-idf top-1", "top-5",
                            "time per query (person / vector)"]))


def bench_drift(model, data, trained, max_ply, a, rng) -> str:
    """Career drift: rows refitted from each player's earlier games, queries their latest 100."""
    eligible = []
    for n in trained:
        pid = data.players.index(n)
        games = player_games(data, pid, None)
        if (data.games["year"][games] == 0).mean() <= 0.2 and len(games) >= 200:
            eligible.append(n)
    drift_players = [eligible[i] for i in np.sort(np.random.default_rng(2).permutation(len(eligible))[: a.queries])]
    ref_q, drift_q, rdocs, qdocs, rbook, qbook = [], [], [], [], [], []
    for n in drift_players:
        pid = data.players.index(n)
        games = player_games(data, pid, None)
        order = games[np.argsort(data.games["year"][games], kind="stable")]
        early, late = rng.permutation(order[:-100])[:200], order[-100:]
        ref_q.append(owner_rows(data, pid, early, max_ply))
        drift_q.append(owner_rows(data, pid, late, max_ply))
        rbook.append(owner_rows(data, pid, early, max_ply or 30))
        qbook.append(owner_rows(data, pid, late, max_ply or 30))
        rdocs.append(doc(data, early, pid, {}))
        qdocs.append(doc(data, late, pid, {}))
    truth = list(range(len(drift_players)))
    z_ref = fit_many(model, cache_queries(model, data, ref_q), a.fit_epochs)
    drift_cache = cache_queries(model, data, drift_q)
    sims = rank_by_similarity(fit_many(model, drift_cache, a.fit_epochs), z_ref)
    ll = likelihoods(model, drift_cache, z_ref, repertoire=None)
    book, tfidf = book_scores(data, rbook, qbook), tfidf_rank(rdocs, qdocs)
    drift = [[f"{len(truth)} of {len(eligible)}"] + [f"{topk(sc, truth, k):.1%}" for sc in (ll, sims, book, tfidf)
                                                     for k in (1, 5)]]
    window = f"their moves in the first {max_ply} plies" if max_ply else "all their moves"
    return ("Career drift: for a seeded sample of the players with dated games and 200+ games in the "
            "dataset, a style row fitted on 200 of their earlier games (all but their latest 100; "
            f"{window}), queries from their latest 100 games, ranked among the sampled players by the style rows "
            "(no repertoire); the opening book and tf-idf are built from the same earlier games.\n\n"
            + table(drift, ["players", "likelihood top-1", "top-5", "vector top-1", "top-5",
                            "opening book top-1", "top-5", "tf-idf top-1", "top-5"]))


def book_references(model, data, plies: int) -> list[np.ndarray]:
    """The plain book's reference rows: each known player's moves in the first ``plies`` plies of
    every one of their training games, in the table's order."""
    return [owner_rows(data, data.players.index(n), player_games(data, data.players.index(n), "train"), plies)
            for n in model.table.names]


def bench_fewshot(model, data, enrolled, max_ply, a, rng, sizes=(10, 50), query_games: int = 50) -> str:
    """Players held out of training, enrolled from 10 or 50 of their training games (a fitted row and
    the counts of those games), identified among everyone from 50 other (test) games; the plain
    book, its references for those players the same few games, on the same queries. Each player is
    drawn ``a.fewshot_draws`` times (other enroll and query games each time): ten players alone
    would make each miss worth ten points."""
    refs = book_references(model, data, max_ply or 30)
    few = []
    for size in sizes:
        hits = {k: [] for k in (1, 5)}  # per draw: (person, network alone, vector, plain book)
        for _ in range(a.fewshot_draws):
            scores, t_idx = fewshot_draw(model, data, enrolled, size, query_games, max_ply, refs, a, rng)
            for k in hits:
                hits[k] += [[topk(sc[i:i + 1], [t], k) for sc in scores] for i, t in enumerate(t_idx)]
        if hits[1]:
            top1, top5 = np.mean(hits[1], 0), np.mean(hits[5], 0)
            few.append([f"{size} games", f"{len(hits[1]) // a.fewshot_draws} x {a.fewshot_draws}",
                        *(f"{x:.1%}" for pair in zip(top1, top5) for x in pair)])
            print(few[-1], flush=True)
    return (f"Few-shot: {len(enrolled)} players held out of training, enrolled from 10 or 50 of their training games "
            f"(their row fitted, and those games counted into their repertoire), then identified among all "
            f"{len(model.table)} from {query_games} other (test) games; each player drawn {a.fewshot_draws} times "
            f"(other enroll and query games each time). The plain opening book on the same queries, its references "
            f"for these players the same 10 or 50 games.\n\n"
            + table(few, ["enrolled from", "players x draws", "person top-1", "top-5", "network alone top-1", "top-5",
                          "vector top-1", "top-5", "plain book top-1", "top-5"]))


def fewshot_draw(model, data, enrolled, size, query_games, max_ply, refs, a, rng):
    """One draw of :func:`bench_fewshot`: the score matrices (person, network alone, vector, plain
    book) of each enrolled player's query, and the true rows."""
    depth = model.table.repertoire.depth if model.table.repertoire else None
    enroll_q, book_q, id_q, truth, few_refs = [], {}, [], [], list(refs)
    for n in enrolled:
        pid = data.players.index(n)
        tr, te = player_games(data, pid, "train"), player_games(data, pid, "test")
        if len(tr) < size or len(te) < query_games:
            continue
        games = rng.permutation(tr)[:size]
        enroll_q.append(np.sort(owner_rows(data, pid, games, max_ply)))
        book_q[n] = np.sort(owner_rows(data, pid, games, depth))
        few_refs[model.table.index(n)] = np.sort(owner_rows(data, pid, games, max_ply or 30))
        id_q.append(sample_query(data, pid, te, query_games, max_ply, rng))
        truth.append(n)
    if not enroll_q:
        return [], []
    z_en = fit_many(model, cache_queries(model, data, enroll_q), a.fit_epochs)
    z_all = model.table.z.detach().clone()
    for n, z in zip(truth, z_en):  # each held-out player's row: fitted on `size` games
        z_all[model.table.index(n)] = z
    rep = repertoire_with(model, data, book_q) if depth else None  # ...and their counts: those games'
    id_cache = cache_queries(model, data, id_q)
    ll, net = likelihoods_both(model, id_cache, z_all, repertoire=rep)
    vector = rank_by_similarity(fit_many(model, id_cache, a.fit_epochs), z_all)
    return (ll, net, vector, book_scores(data, few_refs, id_q)), [model.table.index(n) for n in truth]


def bench_timing(a, trained) -> str:
    """Wall time of identify and enroll from 100 games through the CLI, and the model's size."""
    src = SHARED / "chess" / "pgnmentor" / f"{trained[3]}.pgn.gz"
    from playas.chess.pgn import iter_game_texts

    with tempfile.TemporaryDirectory() as tmp:
        pgn = Path(tmp) / f"{trained[3]}.pgn"
        pgn.write_text("".join(t for _, t in zip(range(100), iter_game_texts(src))))
        timing = []
        for cmd in (["identify", "--model", a.model, "--games", str(pgn), "--owner-from-filename", "--json"],
                    ["enroll", "--model", a.model, "--name", "New Player", "--games", str(pgn),
                     "--owner-from-filename", "--out", str(Path(tmp) / "e.pt")]):
            t = time.time()
            r = subprocess.run([sys.executable, "-m", "playas.cli", "chess", *cmd], capture_output=True, text=True)
            dt = time.time() - t
            assert r.returncode == 0, r.stderr
            extra = ""
            if cmd[0] == "identify":
                top = json.loads(r.stdout)["ranking"][0]["name"]
                extra = f"top-1: {top} (truth {trained[3]}; some of these 100 games are training games)"
            timing.append([f"playas chess {cmd[0]} (100 games)", f"{dt:.1f} s", extra])
    timing.append(["model file", f"{Path(a.model).stat().st_size / 1e6:.1f} MB", Path(a.model).name])
    return table(timing, ["command", "wall time, 2 cores", "result"])


if __name__ == "__main__":
    main()
