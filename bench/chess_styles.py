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
from playas.chess.styles import style_plies
from playas.chess.train import make_batch
from playas.core.fitting import rank_by_similarity

from .chess_data import (
    accuracy,
    cache_queries,
    fit_many,
    likelihoods,
    owner_rows,
    player_games,
    styled_logits,
    topk,
)
from .common import ROOT, SHARED, arguments, record, table

# --- move-matching ---------------------------------------------------------------------------

def bench_matching(model, base, data, names, per_player, finetune_players, rng):
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
    games_pp = model.table.games
    for name in finetune_players:
        pid = data.players.index(name)
        train_games = data.sample_games("train", None, 0)
        train_games = np.intersect1d(train_games, player_games(data, pid, "train"))[: max(games_pp)]
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


def book_scores(data, refs: list[np.ndarray], queries: list[np.ndarray], alpha: float = 5.0) -> np.ndarray:
    """The plain likelihood baseline: each reference player's opening book.

    Counts of (position, move) over each player's reference rows; a query move's probability
    under a player is their count, smoothed towards all players' book with weight ``alpha``;
    score = sum of log(p_player / p_all) over the query's moves. No network."""
    keys = [data.position_keys[r] for r in refs]
    pm = [k * np.uint64(2039) + np.asarray(data.rows["move"][r]).astype(np.uint64) for k, r in zip(keys, refs)]

    def counts(k):
        u, c = np.unique(k, return_counts=True)
        return dict(zip(u.tolist(), c.tolist()))

    all_p, all_pm = counts(np.concatenate(keys)), counts(np.concatenate(pm))
    per = [(counts(a), counts(b)) for a, b in zip(keys, pm)]
    out = np.zeros((len(queries), len(refs)))
    for i, q in enumerate(queries):
        k = data.position_keys[q]
        m = (k * np.uint64(2039) + np.asarray(data.rows["move"][q]).astype(np.uint64)).tolist()
        k = k.tolist()
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


# --- main ---------------------------------------------------------------------------------------

def main():
    ap = arguments(__doc__)
    ap.add_argument("--per-player", type=int, default=200, help="test positions per player for move-matching")
    ap.add_argument("--finetune", type=int, default=10, help="players with a fine-tuned base for comparison")
    ap.add_argument("--sizes", default="10,30,100")
    ap.add_argument("--queries", type=int, default=40, help="players queried for stylometry (likelihood is slow)")
    ap.add_argument("--fit-epochs", type=int, default=3)
    a = ap.parse_args()
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
    ft_players = [trained[i] for i in np.linspace(0, len(trained) - 1, a.finetune).astype(int)]
    base_acc, mhr_acc, ft, _ = bench_matching(model, base, data, names, a.per_player, ft_players, rng)
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
                    f"`{Path(card['base']).name}`. MHR beats the base for {better} of {len(trained)} trained players.\n\n"
                    + table(rows, ["players", "base top-1", "MHR top-1", "MHR - base (points)",
                                   "fine-tuned base (vs base)"]))
    print(sections[-1], flush=True)

    # 1b. move-matching on opening moves, where the styles learned
    max_ply = style_plies(blob)
    if max_ply:
        ob, om = [], []
        for n in trained:
            pid = data.players.index(n)
            idx = np.sort(rng.permutation(owner_rows(data, pid, player_games(data, pid, "test"), max_ply))[:100])
            z = model.table.z.detach()[model.table.index(n)]
            ob.append(accuracy(lambda bb: base(bb["x"])[0], data, idx).mean())
            om.append(accuracy(styled_logits(model, z), data, idx).mean())
        sections.append(f"The same on opening moves only (the first {max_ply} plies, where the styles learn), "
                        f"up to 100 per player: base {np.mean(ob):.2%}, MHR {np.mean(om):.2%} "
                        f"({(np.mean(om) - np.mean(ob)) * 100:+.2f} points); MHR better for "
                        f"{sum(x > y for x, y in zip(om, ob))} of {len(trained)}.")
        print(sections[-1], flush=True)

    # 2. stylometry among all known players
    sizes = [int(s) for s in a.sizes.split(",")]
    qrng = np.random.default_rng(1)
    truth_names = [trained[i] for i in np.sort(qrng.permutation(len(trained))[: a.queries])]
    table_z = model.table.z.detach()
    ref_cache: dict = {}
    ref_docs, ref_rows = [], []
    for n in model.table.names:
        pid = data.players.index(n)
        ref_games = np.intersect1d(data.sample_games("train", 300, 0), player_games(data, pid, "train"))
        ref_docs.append(doc(data, ref_games, pid, ref_cache))
        ref_rows.append(owner_rows(data, pid, player_games(data, pid, "train"), max_ply or 30))
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
        ll = likelihoods(model, cache)
        t_ll = time.time() - t + t_cache
        tfidf, book = tfidf_rank(ref_docs, qdocs), book_scores(data, ref_rows, book_q)
        row = [f"{size} games", len(queries), f"{np.mean([len(q) for q in queries]):.0f}"]
        for sc in (ll, sims, book, tfidf):
            row += [f"{topk(sc, truth, 1):.1%}", f"{topk(sc, truth, 5):.1%}"]
        row.append(f"{t_ll / len(queries):.1f} s / {t_fit / len(queries):.2f} s")
        styl_rows.append(row)
        print(row, flush=True)
    window = f"their moves in the first {max_ply} plies" if max_ply else "all their moves"
    sections.append(
        f"Stylometry among all {len(model.table)} known players: for {len(truth_names)} trained players (a seeded "
        f"random sample), query games drawn at random from their held-out test games; the query is {window}. "
        f"likelihood = mean log-likelihood of the query moves under each known style; vector = a style row "
        f"fitted on the query, ranked by cosine similarity to every known row. Plain baselines, no network: "
        f"opening book = each player's (position, move) counts in their training games' first "
        f"{max_ply or 30} plies, score = sum of log(p_player / p_all) (smoothed); tf-idf = the player's first "
        f"15 moves as ply:SAN tokens, 300 reference games per player, cosine.\n\n"
        + table(styl_rows, ["query", "players", "moves", "likelihood top-1", "top-5", "vector top-1", "top-5",
                            "opening book top-1", "top-5", "tf-idf top-1", "top-5",
                            "time per query (likelihood / vector)"]))
    print(sections[-1], flush=True)

    # 3. career drift: rows refitted from each player's earlier games, queries their latest 100
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
    ll = likelihoods(model, drift_cache, z_ref)
    book, tfidf = book_scores(data, rbook, qbook), tfidf_rank(rdocs, qdocs)
    drift = [[f"{len(truth)} of {len(eligible)}"] + [f"{topk(sc, truth, k):.1%}" for sc in (ll, sims, book, tfidf)
                                                     for k in (1, 5)]]
    sections.append("Career drift: for a seeded sample of the players with dated games and 200+ games in the "
                    "dataset, a style row fitted on 200 of their earlier games (all but their latest 100; "
                    f"{window}), queries from their latest 100 games, ranked among the sampled players; the "
                    "opening book and tf-idf are built from the same earlier games.\n\n"
                    + table(drift, ["players", "likelihood top-1", "top-5", "vector top-1", "top-5",
                                    "opening book top-1", "top-5", "tf-idf top-1", "top-5"]))
    print(sections[-1], flush=True)

    # 4. few-shot: players held out of training, enrolled from 10/30/100 of their training games
    if enrolled:
        few = []
        for size in sizes:
            enroll_q, id_q, truth = [], [], []
            for n in enrolled:
                pid = data.players.index(n)
                tr, te = player_games(data, pid, "train"), player_games(data, pid, "test")
                if len(tr) < size or len(te) < 30:
                    continue
                enroll_q.append(sample_query(data, pid, tr, size, max_ply, rng))
                id_q.append(sample_query(data, pid, te, 30, max_ply, rng))
                truth.append(n)
            if not enroll_q:
                continue
            z_en = fit_many(model, cache_queries(model, data, enroll_q), a.fit_epochs)
            z_all = table_z.clone()
            for n, z in zip(truth, z_en):  # replace each held-out player's row by one enrolled from `size` games
                z_all[model.table.index(n)] = z
            t_idx = [model.table.index(n) for n in truth]
            id_cache = cache_queries(model, data, id_q)
            ll = likelihoods(model, id_cache, z_all)
            s_ = rank_by_similarity(fit_many(model, id_cache, a.fit_epochs), z_all)
            few.append([f"{size} games", len(truth), f"{topk(ll, t_idx, 1):.1%}", f"{topk(ll, t_idx, 5):.1%}",
                        f"{topk(s_, t_idx, 1):.1%}", f"{topk(s_, t_idx, 5):.1%}"])
        sections.append(f"Few-shot: {len(enrolled)} players held out of training, enrolled from 10, 30 or 100 of "
                        "their training games (only their new row is fitted), then identified among all "
                        f"{len(model.table)} from 30 other (test) games.\n\n"
                        + table(few, ["enrolled from", "players", "likelihood top-1", "top-5", "vector top-1",
                                      "top-5"]))
        print(sections[-1], flush=True)

    # 5. time of identify and enroll from 100 games through the CLI
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
                extra = f"top-1: {top} (truth {trained[3]})"
            timing.append([f"playas chess {cmd[0]} (100 games)", f"{dt:.1f} s", extra])
    sections.append(table(timing, ["command", "wall time, 2 cores", "result"]))
    print(sections[-1], flush=True)
    body = "\n\n".join(sections) + f"\n\nTotal benchmark time {time.time() - t_all:.0f} s."
    if not a.no_record:  # the sections were printed as they came
        record("chess_styles", f"Chess styles: {Path(a.model).name}", body, "python -m bench.chess_styles")


if __name__ == "__main__":
    main()
