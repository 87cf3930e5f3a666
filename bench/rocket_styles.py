"""Rocket League styles on held-out games: action accuracy, stylometry, few-shot, speeds.

Models: ``scripts/build_rocket_models.py`` trains them on ``data/rocket-all`` (all 120 shared
replays, prepared) with whole games held out: one game of every player with 3+ games is the test
set; five of those players are also left out of the style table, to enroll few-shot.

1. Action accuracy on the test games of players with a style row (top-1 over the 90 actions and
   per control): the most frequent action, the base, the base with the mean style, MHR with the
   player's own row, and a fine-tune of the whole base per player for the three with most games.
2. Stylometry: each test game's player ranked among every player in the table, from the whole
   game and from 60-second stretches of it: by likelihood, by vector, and by a plain baseline in
   the same run (each player's histograms of speed, boost, height and distance to the ball,
   nearest by L1 distance), which knows nothing of the model.
3. Few-shot: the held-out players enrolled from one or two of their training games, their test
   game ranked among the table and the enrolled.
4. Speeds: prepare (all replays, both cores), training (samples/s against raw forward/backward),
   identify of one game from its file, a decision's latency.
"""

from __future__ import annotations

import copy
import itertools
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

from bench.common import ROOT, SHARED, arguments, finish, table
from playas.core import fitting, learning
from playas.core.card import read_card
from playas.core.trunk import TrunkCache
from playas.rocket.dataset import RocketData, prepare
from playas.rocket.evaluate import predictions, scores
from playas.rocket.model import ROCKET, decisions, load_base, load_person, load_styled, pack
from playas.rocket.game import cache
from playas.rocket.train import window_targets
from playas.rocket.vocabulary import CONTROLS

BINS = {"speed": np.linspace(0, 2300, 13), "boost": np.linspace(0, 100, 11),
        "height": np.array([0, 25, 50, 100, 200, 400, 700, 1100, 1600, 2100]),
        "ball_distance": np.array([0, 250, 500, 1000, 1500, 2000, 3000, 4000, 5500, 7500, 12000])}
SCALAR_COLS = {"speed": 0, "boost": 1, "height": 2, "ball_distance": 3}


def histograms(scalars: np.ndarray, gauge: np.ndarray | None = None) -> np.ndarray:
    """The plain baseline's profile of some decisions: normalised histograms, concatenated.
    ``gauge`` (len(scalars),) bool: the decisions whose replay shows the boost gauge (all where
    None); the boost histogram is taken over those alone, and is NaN (unknown) where there are none."""
    s = np.asarray(scalars, np.float32)
    parts = []
    for name, edges in BINS.items():
        col = s[:, SCALAR_COLS[name]] if name != "boost" or gauge is None else s[np.asarray(gauge, bool), SCALAR_COLS[name]]
        h, _ = np.histogram(np.clip(col, edges[0], edges[-1] - 1e-3), edges)
        parts.append(h / h.sum() if h.sum() else np.full(len(h), np.nan))
    return np.concatenate(parts)


def profile(data: RocketData, rows: np.ndarray) -> np.ndarray:
    """:func:`histograms` of decisions ``rows`` of ``data``, boost where their replays show a gauge."""
    return histograms(data.scalars[rows], data.gauge[rows])


def baseline_scores(query: np.ndarray, profiles: np.ndarray) -> np.ndarray:
    """Minus the L1 distance of ``query``'s histograms to each profile, averaged over the histograms
    both know (a replay without a boost gauge is compared on the other three)."""
    d = np.abs(profiles - query[None])
    per = np.stack([b.sum(1) for b in np.split(d, np.cumsum([len(e) - 1 for e in BINS.values()])[:-1], axis=1)], 1)
    return -np.nanmean(per, 1)  # a block NaN in either: left out


def subset(c: TrunkCache, sel: np.ndarray) -> TrunkCache:
    sel = torch.as_tensor(sel)
    return TrunkCache(c.h, c.index[sel], c.target[sel], c.player[sel])


def top1(ranks: list[int]) -> str:
    return f"{100 * np.mean(np.asarray(ranks) == 0):.1f}% ({sum(r == 0 for r in ranks)}/{len(ranks)})"


def fine_tune(base, data: RocketData, rows: np.ndarray, steps: int, seed: int = 0):
    """The whole base trained further on one player's decisions (the per-player peer)."""
    net = copy.deepcopy(base).train()
    opt = torch.optim.AdamW(net.parameters(), lr=5e-4, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    k = net.config.context
    for _ in range(steps):
        obs, prev, valid, y = window_targets(data, np.sort(rng.choice(rows, 128)), k)
        loss = F.cross_entropy(net(obs, prev, valid).reshape(-1, 90), y.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def main() -> None:
    ap = arguments(__doc__, model_and_data=False)
    ap.add_argument("--data", default=str(ROOT / "data" / "rocket-all"))
    ap.add_argument("--base", default=str(ROOT / "runs" / "rocket-split-base.pt"))
    ap.add_argument("--styled", default=str(ROOT / "runs" / "rocket-split-styles.pt"))
    ap.add_argument("--tuned", help="the styled model fine-tuned in play from --styled (train-play; a paired one, "
                    "runs/rocket-split-play-paired.pt, as its cars drive): its held-out action accuracy and "
                    "stylometry beside the cloned styles'")
    ap.add_argument("--finetune-steps", type=int, default=400)
    ap.add_argument("--skip-prepare", action="store_true", help="leave out the timing of prepare (2 minutes)")
    a = ap.parse_args()
    torch.manual_seed(0)
    data = RocketData.open(a.data)
    model, blob = load_styled(a.styled)
    card = blob["card"]
    split, holdout = card["split"], card["recipe"]["holdout"]
    names = model.table.names
    pid = {n: i for i, n in enumerate(data.players)}
    test_games = set(split["test"])
    recurring = [p for p in range(len(data.players)) if len(data.games_of(p)) >= 3]
    in_table = [p for p in recurring if data.players[p] in names and set(data.games_of(p)) & test_games]
    out = []

    # 1. action accuracy ------------------------------------------------------------------------
    rows = data.rows(test_games, in_table)
    train_rows = data.rows(split["train"])
    frequent = np.bincount(data.action[train_rows], minlength=90).argmax()
    y = data.action[rows]
    acc = {"most frequent action": scores(np.full(len(rows), frequent), y)}
    for label, st in (("base", "base"), ("MHR, mean style", "mean"), ("MHR, own style", "own")):
        acc[label] = scores(predictions(model, data, rows, st), y)
    tuned, tuned_blob = load_styled(a.tuned) if a.tuned else (None, None)
    if tuned is not None:  # a paired model as its cars drive: its mix at the card's strength
        person, strength = load_person(tuned, tuned_blob), decisions(tuned_blob)["strength"]
        acc["MHR, own style, fine-tuned in play"] = scores(
            predictions(tuned, data, rows, "own", person=person, strength=strength), y)
    cols = ["top1", *CONTROLS]
    out.append(f"### Action accuracy: {len(rows):,} held-out decisions of {len(in_table)} players with 3+ games "
               f"(one test game each), percent\n")
    out.append(table([[k] + [f"{v[c]:.2f}" for c in cols] for k, v in acc.items()], ["policy", *cols]))
    gain = acc["MHR, own style"]["top1"] - acc["base"]["top1"]
    out.append(f"\nMHR own style - base: **{gain:+.2f} points** top-1 (paper, 2,000 players: 53.4% -> 56.6%, +3.2).")
    if tuned is not None:
        drift = acc["MHR, own style, fine-tuned in play"]["top1"] - acc["MHR, own style"]["top1"]
        out.append(f" Fine-tuned in play ({a.tuned}) - cloned: **{drift:+.2f} points** top-1.")

    base = model.unadapted_base()
    top3 = sorted(in_table, key=lambda p: -len(data.games_of(p)))[:3]
    ft_rows = []
    for p in top3:
        r_test = data.rows(test_games, [p])
        r_train = data.rows(split["train"], [p])
        t0 = time.perf_counter()
        ft = fine_tune(base, data, r_train, a.finetune_steps)
        secs = time.perf_counter() - t0
        yp = data.action[r_test]
        s_ft = scores(predictions(ft, data, r_test), yp)["top1"]
        s_base = scores(predictions(model, data, r_test, "base"), yp)["top1"]
        s_mhr = scores(predictions(model, data, r_test, "own"), yp)["top1"]
        ft_rows.append([data.players[p], len(r_train), len(r_test), f"{s_base:.2f}", f"{s_mhr:.2f}", f"{s_ft:.2f}",
                        f"{secs:.0f} s"])
    out.append(f"\nPer-player fine-tune of the whole base ({a.finetune_steps} steps of 128 windows on the "
               "player's training games) against MHR's one row, on the same test game:\n")
    out.append(table(ft_rows, ["player", "train decisions", "test decisions", "base", "MHR own", "fine-tuned",
                               "fine-tune time"]))

    # 2. stylometry -----------------------------------------------------------------------------
    queries = [(p, data.rows(test_games, [p])) for p in in_table]
    all_rows = np.concatenate([r for _, r in queries])
    t0 = time.perf_counter()
    c_all = cache(model, data, all_rows)
    ll = learning.style_logliks(ROCKET, model, c_all).numpy()  # (styles, decisions)
    ll_seconds = time.perf_counter() - t0
    ll_tuned = learning.style_logliks(ROCKET, tuned, cache(tuned, data, all_rows)).numpy() if tuned else None
    profiles = np.stack([profile(data, data.rows(split["train"], [pid[n]])) for n in names])
    truth = {p: names.index(data.players[p]) for p, _ in queries}
    methods = ("likelihood", "vector", "baseline") + (("likelihood, fine-tuned in play",) if tuned else ())
    res = {k: {"whole game": [], "60 s": []} for k in methods}
    offset = 0
    for p, r in queries:
        n = len(r)
        stretches = {"whole game": [np.arange(n)], "60 s": [np.arange(s, s + 900) for s in range(0, n - 899, 900)]}
        for kind, parts in stretches.items():
            for part in parts:
                sc = {"likelihood": ll[:, offset + part].mean(1),
                      "baseline": baseline_scores(profile(data, r[part]), profiles)}
                if tuned is not None:
                    sc["likelihood, fine-tuned in play"] = ll_tuned[:, offset + part].mean(1)
                if kind == "whole game" or len(parts) <= 8:
                    sub = subset(c_all, offset + part)
                    sc["vector"] = fitting.rank_by_similarity(learning.fit_styles(ROCKET, model, sub)[0],
                                                              model.table.z.detach())
                for k, v in sc.items():
                    res[k][kind].append(int((v > v[truth[p]]).sum()))
        offset += n
    out.append(f"\n### Stylometry: {len(queries)} players' held-out games, ranked among all {len(names)} players "
               "in the table (top-1)\n")
    out.append(table([[k, top1(v["whole game"]), top1(v["60 s"])] for k, v in res.items()],
                     ["method", "one game", "60 seconds"]))
    lik, bas = np.mean(np.asarray(res["likelihood"]["whole game"]) == 0), np.mean(np.asarray(res["baseline"]["whole game"]) == 0)
    out.append(f"\nLikelihood - plain baseline, one game: **{100 * (lik - bas):+.1f} points**. "
               "Vector: fitted on at most 8 stretches a game.")

    # 3. few-shot --------------------------------------------------------------------------------
    few = [pid[n] for n in holdout if n in pid]
    fs_rows = []
    for shots in (1, 2):
        ranks, base_ranks = [], []
        draws = [list(itertools.combinations([g for g in data.games_of(p) if g in split["train"]], shots)) for p in few]
        for d in range(max(len(x) for x in draws)):
            zs, profs = [], []
            for p, options in zip(few, draws):
                games = options[d % len(options)]
                er = data.rows(games, [p])
                zs.append(learning.fit_styles(ROCKET, model, cache(model, data, er))[0])
                profs.append(profile(data, er))
            z_all = torch.cat([model.table.z.detach(), torch.stack(zs)])
            prof_all = np.concatenate([profiles, np.stack(profs)])
            for j, p in enumerate(few):
                q = data.rows(test_games, [p])
                llq = learning.style_logliks(ROCKET, model, cache(model, data, q), z_all).mean(1).numpy()
                t = len(names) + j
                ranks.append(int((llq > llq[t]).sum()))
                bq = baseline_scores(profile(data, q), prof_all)
                base_ranks.append(int((bq > bq[t]).sum()))
        fs_rows.append([f"{shots} game{'s' * (shots > 1)}", top1(ranks), top1(base_ranks)])
    out.append(f"\n### Few-shot: {len(few)} players left out of the table ({', '.join(holdout)}), enrolled from "
               f"their training games, their test game ranked among {len(names)} + {len(few)} (top-1)\n")
    out.append(table(fs_rows, ["enrolled from", "likelihood", "plain baseline"]))

    # 4. speeds ----------------------------------------------------------------------------------
    speed = []
    if not a.skip_prepare:
        with tempfile.TemporaryDirectory() as tmp:
            m = prepare([SHARED / "rocket" / "replays"], tmp)
        speed.append(["prepare, all shared replays (2 processes)", f"{m['seconds']} s for {m['files']} files, "
                      f"{m['frames_per_second']:,} frames/s"])
    net = load_base(a.base).train()
    k = net.config.context
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    batch = window_targets(data, np.sort(np.random.default_rng(0).choice(train_rows, 256)), k)

    def step(b):
        loss = F.cross_entropy(net(*b[:3]).reshape(-1, 90), b[3].reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(batch)
    t0 = time.perf_counter()
    for _ in range(20):
        step(batch)
    raw = 20 * 256 * k / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(20):
        step(window_targets(data, np.sort(np.random.default_rng(1).choice(train_rows, 256)), k))
    loop = 20 * 256 * k / (time.perf_counter() - t0)
    speed.append(["training, decisions/s (windows of 16)", f"{loop:,.0f} with data loading (no prefetch), "
                  f"{raw:,.0f} raw forward/backward ({loop / raw:.2f}x)"])
    from playas.core.verbs import identify
    from playas.rocket.game import GAME

    test_file = data.games[sorted(test_games)[0]]["file"]
    who = next(s["name"] for s in data.sequences if s["game"] == sorted(test_games)[0])
    t0 = time.perf_counter()
    identify(GAME, a.styled, [SHARED / "rocket" / "replays" / test_file], player=who)
    speed.append([f"identify one game from its file ({test_file})", f"{time.perf_counter() - t0:.2f} s"])
    speed.append(["likelihood of every style, all test decisions", f"{ll_seconds:.1f} s for {len(all_rows):,} decisions"])
    styled_net = model.eval()
    z = model.table.z.detach()[0]
    inputs = data.windows(rows[:1], k)
    lat = []
    with torch.no_grad():
        for _ in range(200):
            t0 = time.perf_counter()
            ROCKET.head(styled_net, ROCKET.trunk(styled_net, pack(*inputs)), z)
            lat.append(time.perf_counter() - t0)
    speed.append(["one decision (window of 16, a style), p50 / p99", f"{1e3 * np.median(lat):.2f} / "
                  f"{1e3 * np.percentile(lat, 99):.2f} ms"])
    out.append("\n### Speeds\n")
    out.append(table(speed, ["what", "measured"]))
    split_note = (f"\nSplit by whole games: {len(split['train'])} train, {len(split['val'])} validation, "
                  f"{len(split['test'])} test games; {len(data):,} decisions of {len(data.players)} players in "
                  f"{len(data.games)} games; base {read_card(a.base).get('metrics', {})}.")
    out.append(split_note)
    finish(a, "rocket_styles", f"Rocket League styles: {len(names)} players", "\n".join(out))


if __name__ == "__main__":
    main()
