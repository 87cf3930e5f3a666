"""Chess styles benchmark: move-matching per player, stylometry, career drift, few-shot,
blends and steering, and the time of identify and enroll. All on games never seen in training.

    python bench/chess_styles.py --model models/pgnmentor-197.pt --data data/pgnmentor

``--data`` is the dataset the model was trained from (see bench/chess_foundation.py for the
prepare command); the test split's games never reached training. Prints one table per part and
writes them to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED, record, table  # noqa: E402

from playas.chess.dataset import SPLITS, ChessData  # noqa: E402
from playas.chess.encoding import index_to_move  # noqa: E402
from playas.chess.model import load_model  # noqa: E402
from playas.chess.play import StylePlayer, play_match  # noqa: E402
from playas.chess.policy import Policy  # noqa: E402
from playas.chess.properties import game_properties, mean_properties  # noqa: E402
from playas.chess.styles import (cached_positions, first_adapted_block, fit_styles, loglik_scores,  # noqa: E402
                                 sample_games)
from playas.chess.train import make_batch  # noqa: E402
from playas.core.fitting import rank_by_similarity  # noqa: E402


def player_games(data: ChessData, pid: int, split: str | None) -> np.ndarray:
    g = data.games
    m = (g["white"] == pid) | (g["black"] == pid)
    if split:
        m &= g["split"] == SPLITS.index(split)
    return np.flatnonzero(m)


def owner_rows(data: ChessData, pid: int, games: np.ndarray) -> np.ndarray:
    rows = [np.arange(data.games["first"][gi], data.games["first"][gi] + data.games["length"][gi]) for gi in games]
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    return rows[data.mover[rows] == pid]


# --- move-matching ---------------------------------------------------------------------------

@torch.inference_mode()
def accuracy(forward, data, idx, batch=512) -> np.ndarray:
    hits = []
    for s in range(0, len(idx), batch):
        b = make_batch(data, idx[s:s + batch], with_legal=True)
        logits = forward(b).masked_fill(~b["legal"], float("-inf"))
        hits.append((logits.argmax(1) == b["y"]).numpy())
    return np.concatenate(hits) if hits else np.zeros(0, bool)


def bench_matching(model, base, data, names, per_player, finetune_players, rng):
    start = first_adapted_block(model)
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
        mhr_acc[name] = accuracy(lambda b: model(model.base.hidden(b["x"], start), z=z, start=start)[0], data, idx).mean()
    ft = {}
    games_pp = model.table.games
    for name in finetune_players:
        pid = data.players.index(name)
        train_games = sample_games(data, "train", None, 0)
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

def sample_query(data, pid, games, n_games, max_pos, rng):
    chosen = rng.permutation(games)[:n_games]
    rows = owner_rows(data, pid, chosen)
    return np.sort(rng.permutation(rows)[:max_pos])


def fit_many(model, data, queries: list[np.ndarray], epochs: int) -> torch.Tensor:
    idx = np.concatenate(queries)
    group = torch.from_numpy(np.concatenate([np.full(len(q), i) for i, q in enumerate(queries)])).long()
    pos = cached_positions(model, data, idx)
    return fit_styles(model, pos, group, len(queries), epochs=epochs)


def topk(scores: np.ndarray, truth: list[int], k: int) -> float:
    order = np.argsort(-scores, axis=1)[:, :k]
    return float(np.mean([t in o for t, o in zip(truth, order)]))


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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "pgnmentor-197.pt"))
    ap.add_argument("--data", default=str(ROOT / "data" / "pgnmentor"))
    ap.add_argument("--per-player", type=int, default=200, help="test positions per player for move-matching")
    ap.add_argument("--finetune", type=int, default=10, help="players with a fine-tuned base for comparison")
    ap.add_argument("--sizes", default="10,30,100")
    ap.add_argument("--max-query-positions", type=int, default=500)
    ap.add_argument("--fit-epochs", type=int, default=3)
    ap.add_argument("--likelihood-players", type=int, default=20)
    ap.add_argument("--steer-games", type=int, default=16)
    ap.add_argument("--no-record", action="store_true")
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

    # 2. stylometry among all known players
    sizes = [int(s) for s in a.sizes.split(",")]
    truth_names = trained
    table_z = model.table.z.detach()
    ref_cache: dict = {}
    ref_docs = []
    for n in model.table.names:
        pid = data.players.index(n)
        ref_games = np.intersect1d(sample_games(data, "train", 300, 0), player_games(data, pid, "train"))
        ref_docs.append(doc(data, ref_games, pid, ref_cache))
    styl_rows = []
    for size in sizes:
        queries, truth, qdocs, q_pids = [], [], [], []
        for n in truth_names:
            pid = data.players.index(n)
            games = player_games(data, pid, "test")
            if len(games) < size:
                continue
            chosen = rng.permutation(games)[:size]
            rows_ = owner_rows(data, pid, chosen)
            queries.append(np.sort(rng.permutation(rows_)[: a.max_query_positions]))
            truth.append(model.table.index(n))
            qdocs.append(doc(data, chosen, pid, {}))
        t = time.time()
        zq = fit_many(model, data, queries, a.fit_epochs)
        sims = rank_by_similarity(zq, table_z)
        t_fit = time.time() - t
        base_scores = tfidf_rank(ref_docs, qdocs)
        row = [f"{size} games", len(queries), f"{topk(sims, truth, 1):.1%}", f"{topk(sims, truth, 5):.1%}",
               f"{topk(base_scores, truth, 1):.1%}", f"{topk(base_scores, truth, 5):.1%}"]
        if a.likelihood_players and size == max(sizes):  # scoring every style is slow: the largest size
            sub = list(range(0, len(queries), max(1, len(queries) // a.likelihood_players)))[: a.likelihood_players]
            ll = np.stack([loglik_scores(model, cached_positions(model, data, queries[i])) for i in sub])
            row += [f"{topk(ll, [truth[i] for i in sub], 1):.1%} ({len(sub)})",
                    f"{topk(sims[sub], [truth[i] for i in sub], 1):.1%}"]
        else:
            row += ["", ""]
        row.append(f"{t_fit / len(queries):.2f}s")
        styl_rows.append(row)
        print(row, flush=True)
    sections.append(
        f"Stylometry among all {len(model.table)} known players: query games drawn at random from each player's "
        f"held-out test games (players with at least that many), at most {a.max_query_positions} of their moves "
        f"per query; vector = a style row fitted on the query, ranked by cosine similarity to every known row; "
        f"likelihood = mean log-likelihood of the query moves under each known style ({a.likelihood_players} "
        f"queries of the largest size, slow on CPU); "
        f"baseline = tf-idf over the player's first 15 moves (ply:SAN), 300 reference games per player, cosine.\n\n"
        + table(styl_rows, ["query", "players", "vector top-1", "vector top-5", "tf-idf top-1", "tf-idf top-5",
                            "likelihood top-1 (queries)", "vector top-1, same queries", "fit time per query"]))
    print(sections[-1], flush=True)

    # 3. career drift: rows refitted from each player's earliest games, queries their latest 100
    ref_q, drift_q, truth, rdocs, qdocs = [], [], [], [], []
    for n in trained:
        pid = data.players.index(n)
        games = player_games(data, pid, None)
        years = data.games["year"][games]
        if (years == 0).mean() > 0.2 or len(games) < 200:
            continue
        order = games[np.argsort(years, kind="stable")]
        early, late = order[:-100], order[-100:]
        ref_q.append(np.sort(rng.permutation(owner_rows(data, pid, early))[: a.max_query_positions]))
        drift_q.append(np.sort(rng.permutation(owner_rows(data, pid, late))[: a.max_query_positions]))
        truth.append(len(truth))
        rdocs.append(doc(data, early[:300], pid, {}))
        qdocs.append(doc(data, late, pid, {}))
    z_ref = fit_many(model, data, ref_q, a.fit_epochs)
    z_late = fit_many(model, data, drift_q, a.fit_epochs)
    sims = rank_by_similarity(z_late, z_ref)
    base_scores = tfidf_rank(rdocs, qdocs)
    drift = [[len(truth), f"{topk(sims, truth, 1):.1%}", f"{topk(sims, truth, 5):.1%}",
              f"{topk(base_scores, truth, 1):.1%}", f"{topk(base_scores, truth, 5):.1%}"]]
    sections.append("Career drift: each player's style refitted from their earlier games only (all but their latest "
                    "100 in the dataset, at most "
                    f"{a.max_query_positions} moves), queries from their latest 100 games; players with dated games "
                    "and 200+ games in the dataset.\n\n"
                    + table(drift, ["players", "vector top-1", "vector top-5", "tf-idf top-1", "tf-idf top-5"]))
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
                enroll_q.append(sample_query(data, pid, tr, size, a.max_query_positions, rng))
                id_q.append(sample_query(data, pid, te, 30, a.max_query_positions, rng))
                truth.append(n)
            if not enroll_q:
                continue
            z_en = fit_many(model, data, enroll_q, a.fit_epochs)
            z_all = table_z.clone()
            for n, z in zip(truth, z_en):  # replace each held-out player's row by one enrolled from `size` games
                z_all[model.table.index(n)] = z
            z_id = fit_many(model, data, id_q, a.fit_epochs)
            s = rank_by_similarity(z_id, z_all)
            t_idx = [model.table.index(n) for n in truth]
            few.append([f"{size} games", len(truth), f"{topk(s, t_idx, 1):.1%}", f"{topk(s, t_idx, 5):.1%}"])
        sections.append(f"Few-shot: {len(enrolled)} players held out of training, enrolled from 10, 30 or 100 of "
                        "their games (only their new row is fitted), then identified among all "
                        f"{len(model.table)} from 30 other (test) games.\n\n"
                        + table(few, ["enrolled from", "players", "top-1", "top-5"]))
        print(sections[-1], flush=True)

    # 5. blends and steering
    a_name, b_name = trained[0], trained[len(trained) // 2]
    pair_rows = []
    for target in (a_name, b_name):
        pid = data.players.index(target)
        idx = np.sort(rng.permutation(owner_rows(data, pid, player_games(data, pid, "test")))[:400])
        start = first_adapted_block(model)
        accs = []
        for style in (a_name, f"{a_name}:0.5,{b_name}:0.5", b_name):
            z = model.table.resolve(style)
            accs.append(accuracy(lambda bb: model(model.base.hidden(bb["x"], start), z=z, start=start)[0],
                                 data, idx).mean())
        pair_rows.append([f"{target}'s test moves", *(f"{x:.2%}" for x in accs)])
    blend_sec = table(pair_rows, ["positions", a_name, "50/50 blend", b_name])
    steer_rows = []
    prop = "capture_rate"
    if prop in model.table.directions:
        for amount in (-2.0, 0.0, 2.0):
            pol = Policy(model, style=None, steer={prop: amount} if amount else None)
            me = StylePlayer(pol, 1.0, name=f"steer {amount:+g}")
            other = StylePlayer(Policy(model), 1.0, name="mean")
            games = play_match(me, other, a.steer_games, seed=1, max_plies=160)
            per = [game_properties(chess.Board(), list(g.mainline_moves()), chess.WHITE if i % 2 == 0 else chess.BLACK,
                                   None) for i, g in enumerate(games)]
            p = mean_properties(per)
            steer_rows.append([f"{prop} {amount:+g}", a.steer_games, f"{p[prop]:.3f}", f"{p['check_rate']:.3f}",
                               f"{p['game_length']:.0f}"])
    sections.append("Blends sit between their parents (top-1 on each parent's held-out moves):\n\n" + blend_sec +
                    ("\n\nSteering: self-play games of the mean style steered along `capture_rate` against the "
                     "unsteered mean style (temperature 1), measured on the steered side's moves:\n\n" +
                     table(steer_rows, ["style", "games", "capture_rate", "check_rate", "plies"]) if steer_rows else ""))
    print(sections[-1], flush=True)

    # 6. time of identify and enroll from 100 games through the CLI
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
    if not a.no_record:
        record("chess_styles", f"Chess styles: {Path(a.model).name}", body, "python bench/chess_styles.py")


if __name__ == "__main__":
    main()
