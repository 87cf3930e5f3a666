"""Compare styled Rocket League models trained on the same split: top-1 of the base and of each
player's own style on the held-out games of players with 3+ games, and stylometry by likelihood.

    python -m scripts.compare_rocket_styles runs/rocket-split-styles.pt other.pt ...

A diagnostic for recipe choices (bench/rocket_styles.py is the benchmark).
"""
import sys, numpy as np, torch
from playas.core import learning
from playas.rocket.dataset import RocketData
from playas.rocket.model import load_styled, ROCKET
from playas.rocket.game import cache
from playas.rocket.evaluate import predictions, scores
data = RocketData.open('data/rocket-all')
for path in sys.argv[1:]:
    model, blob = load_styled(path)
    split = blob['card']['split']; names = model.table.names
    pid = {n:i for i,n in enumerate(data.players)}
    inn = [pid[n] for n in names if len(data.games_of(pid[n]))>=3 and len(data.rows(split['test'],[pid[n]]))]
    rows = data.rows(split['test'], inn); y = data.action[rows]
    b = scores(predictions(model,data,rows,'base'),y)['top1']; o = scores(predictions(model,data,rows,'own'),y)['top1']
    hits = 0
    for p in inn:
        te = data.rows(split['test'],[p]); ll = learning.style_logliks(ROCKET, model, cache(model,data,te)).mean(1).numpy()
        hits += int((ll > ll[names.index(data.players[p])]).sum()) == 0
    print(path, f"base {b} own {o} gain {o-b:+.2f} stylometry {hits}/{len(inn)}", flush=True)
