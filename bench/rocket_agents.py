"""Rocket League agents: simulation speed, decision latency in the RLBot bot, styles in play,
and generation fidelity.

1. Simulation: 5-minute RocketSim matches, 1v1 and 3v3, every car driven by a playas style, as a
   multiple of real time.
2. Latency: ``PlayasBot.get_output`` on GamePackets of a RocketSim world (the loopback server's,
   tests/rlbot_server.py), in process, per decision: 1 car, and 6 cars (six bots, one process).
3. Styles in play: the four styles of section 5, their cars in those matches (against ATBA and
   themselves), eight properties of how they play (:data:`playas.rocket.properties.PLAY`: speed,
   supersonic, airborne, upside down, stationary, touches a minute, empty tank, big pads a minute)
   beside the same player's replays game by game, measured the same way
   (:func:`~playas.rocket.properties.play_properties`): inside when between their lowest and
   highest game.
5. Against ATBA (``playas.rocket.scripted.ATBA``: full throttle at the ball, no boost, no jump),
   the floor a bot must clear: the four players with the most replays, ``--atba-matches`` 1v1s of
   ``--atba-minutes`` each; goals (the opponent's own goals counted apart), shots on target,
   touches a minute; and each style against itself (self-play). Seeds ``--atba-seed`` on (300):
   settings are chosen on other seeds (``--no-record``) than the recorded run's.
6. Staying human: the share of the people's own actions each style's policy takes as its likeliest,
   at ``--human-decisions`` moments of their replays, the driving model beside the cloned model it
   was fine-tuned from (``--cloned``). Both learned from these games: the held-out figure is
   ``bench/rocket_styles.py --tuned`` on the split models.
4. Generation fidelity: each recurring player's style drives a match against the mean style; its
   car's decisions are ranked among the known players (a) by the model's own likelihood
   (``identify``) and (b) by the plain baseline of bench/rocket_styles.py (histograms of speed,
   boost, height, distance to the ball from each player's replays), a judge that knows nothing of
   the model. The match is a 1v1, or with ``--fidelity-team-size person`` the kind of game the
   person's replays mostly are (2v2, 3v3; 4v4 played as 3v3), their teammates and every opponent
   the mean style: the judge's histograms come from those games, where a car is further from the
   ball than in a 1v1. Drivers sample at ``--temperature`` (the policy's own distribution at 1;
   default: the model's) and, for a model paired with its person policy, ``--strength``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.common import ROOT, arguments, finish, table
from bench.rocket_styles import baseline_scores, histograms, profile
from playas.core import learning
from playas.rocket import actions
from playas.rocket.dataset import RocketData, decision_scalars
from playas.rocket.frames import OBS_SIZE, observe
from playas.rocket.match import play_match
from playas.rocket.model import ROCKET, decisions, load_person, load_styled
from playas.rocket.properties import PLAY, play_properties
from playas.rocket.game import cache
from playas.rocket.vocabulary import TICK_RATE

def decisions_of(record: dict, car: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One car's observations, actions and per-decision scalars in a recorded match (as prepare
    would cut a replay of it)."""
    f, acts = record["frames"], record["actions"]
    t = np.flatnonzero(f.present[:, car])
    grounded = actions.grounded_decisions(f.cars[:, car])
    return observe(f, t, car), acts[t, car].astype(np.int16), decision_scalars(f, car, t, grounded[t])


def as_data(obs, act, scal, name: str) -> RocketData:
    """One car's decisions as a one-sequence dataset, for the model's trunk cache."""
    n = len(act)
    manifest = {"games": [{"file": "match"}], "players": {f"name:{name}": {"name": name, "games": 1}},
                "names": {f"name:{name}": name},
                "sequences": [{"key": f"name:{name}", "name": name, "team": 0, "length": n, "game": 0, "start": 0}]}
    return RocketData(manifest, {"obs": obs.astype(np.float16), "action": act, "scalars": scal})


def latency(model: str, cars: int, ticks: int) -> tuple[float, float]:
    """p50/p99 ms of a decision in ``PlayasBot.get_output``, ``cars`` bots in one process."""
    import os

    from playas.bots.rlbot.bot import PlayasBot
    from playas.bots.rlbot.folder import write_bot_folder
    from tests.rlbot_server import RLBotLoopback

    with tempfile.TemporaryDirectory() as tmp:
        folder = write_bot_folder(Path(tmp) / "bot", "mean", model, copy_model=False)
        server = RLBotLoopback([(folder["dir"] / "bot.toml", i % 2) for i in range(cars)], seed=1)
        bots = []
        try:
            os.environ["PLAYAS_BOT_DIR"] = str(folder["dir"])
            for i in range(cars):
                b = PlayasBot("bench/playas")
                b.index, b.team = i, i % 2
                b.initialize()
                bots.append(b)
            for _ in range(ticks):
                packet = server.packet()
                for i, b in enumerate(bots):
                    server.agents[i].controls = b.get_output(packet)
                server.play(1, speed=0)
        finally:
            os.environ.pop("PLAYAS_BOT_DIR", None)
            server.close()
    ms = np.concatenate([np.asarray(b.decision_seconds) for b in bots]) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def record_of(results: list[dict], car: int) -> dict:
    """One car's totals over matches: goals it scored (not own goals), own goals it conceded to
    the other side's benefit, shots, touches a minute."""
    minutes = sum(r["seconds"] for r in results) / 60
    row = {"goals": 0, "own_goals_for": 0, "conceded": 0, "shots": 0, "touches": 0}
    for r in results:
        team = r["cars"][car]["team"]
        for g in r["goals"]:
            ours = g["team"] == team
            if ours and g["own_goal"]:
                row["own_goals_for"] += 1
            elif ours and g["scorer"] == car:
                row["goals"] += 1
            elif not ours:
                row["conceded"] += 1
        row["shots"] += r["cars"][car]["shots"]
        row["touches"] += r["cars"][car]["touches"]
    row["touches_per_minute"] = row["touches"] / minutes
    return row


def atba_matches(a, styles: list[str]) -> dict:
    """Each style's matches against ATBA and against itself, recorded: {(style, opponent): results}."""
    return {(name, label): [play_match([name], [orange], minutes=a.atba_minutes, seed=a.atba_seed + m, model=a.model,
                                       temperature=a.temperature, strength=a.strength, progress=False, record=True)
                            for m in range(a.atba_matches)]
            for name in styles for label, orange in (("ATBA", "atba"), ("itself", name))}


def against_atba(a, played: dict) -> str:
    """Section 5: each style against ATBA, and against itself."""
    rows = []
    for (name, label), results in played.items():
        me, them = record_of(results, 0), record_of(results, 1)
        wins = sum(r["score"]["blue"] > r["score"]["orange"] for r in results)
        losses = sum(r["score"]["blue"] < r["score"]["orange"] for r in results)
        real = me["goals"] - them["goals"] - them["own_goals_for"]  # the other side's own goals do not count
        rows.append([name, label, f"{wins}-{len(results) - wins - losses}-{losses}",
                     f"{me['goals']} (+{me['own_goals_for']} own)", f"{them['goals']} (+{them['own_goals_for']} own)",
                     f"{real:+d}",
                     me["shots"], them["shots"], f"{me['touches_per_minute']:.1f}", f"{them['touches_per_minute']:.1f}"])
    return (f"\n### Against ATBA and against itself: {a.atba_matches} x {a.atba_minutes:g}-minute 1v1s per style "
            f"(the style drives blue; seeds {a.atba_seed}+)\n\n"
            + table(rows, ["style", "opponent", "W-D-L", "goals (+ opp. own goals)", "opp. goals (+ own goals)",
                           "real goal difference", "shots",
                           "opp. shots", "touches/min", "opp. touches/min"])
            + "\n\nGoals are the scorer's own; (+ n) the other side's own goals that counted for it. Real goal "
              "difference: the style's own goals less every goal it conceded (its own goals too). Shots: "
              "touches that send the ball on target (playas.rocket.referee).")


ALL = {1, 2, 3, 4, 5, 6}
GAUGE = ("empty_tank", "big_pads_per_minute")  # read from the boost gauge


def replay_spread(data: RocketData, name: str) -> dict:
    """{property: per-game values} of ``name``'s replays (the ``play`` prepare stored per sequence),
    by player key. The boost properties leave out games whose gauge never moved (2015 replays do
    not replicate it: every car reads an empty tank all game)."""
    key = data.keys[data.players.index(name)]
    seqs = [s for s in data.sequences if s["key"] == key and "play" in s]
    return {k: np.array([s["play"][k] for s in seqs if k not in GAUGE or data.gauge[s["start"]]]) for k in PLAY}


def play_in_simulation(played: dict, data: RocketData, styles: list[str]) -> str:
    """Section 3: the 8 play properties of each style's cars (its ATBA and self-play matches)
    beside the person's replays, game by game: inside the spread when between their lowest and
    highest game."""
    rows, inside = [], {}
    for name in styles:
        sims = [play_properties(r["record"]["frames"], c) for label in ("ATBA", "itself")
                for r in played[(name, label)] for c in ((0,) if label == "ATBA" else (0, 1))]
        spread = replay_spread(data, name)
        for k in PLAY:
            v = np.array([s[k] for s in sims])
            sim = f"{v.mean():.3g} +- {v.std(ddof=1) / np.sqrt(len(v)):.2g}"
            if not len(spread[k]):
                rows.append([name, k, sim, "no game with a boost gauge", "n/a"])
                continue
            lo, hi = spread[k].min(), spread[k].max()
            ok = lo <= v.mean() <= hi
            n_in, n_all = inside.get(name, (0, 0))
            inside[name] = (n_in + ok, n_all + 1)
            rows.append([name, k, sim, f"{np.median(spread[k]):.3g} [{lo:.3g}, {hi:.3g}] ({len(spread[k])} games)",
                         "yes" if ok else "no"])
    summary = ", ".join(f"{n} {k}/{m}" + (f" (of {len(PLAY)}: {len(PLAY) - m} not in the replays)" if m < len(PLAY) else "")
                        for n, (k, m) in inside.items())
    return ("\n### Styles in play beside their replays: each style's cars in its matches against ATBA and itself "
            "(mean +- s.e. over cars), the person's replays game by game (median [lowest, highest])\n\n"
            + table(rows, ["style", "property", "in simulation", "in their replays", "inside"])
            + f"\n\nInside the person's spread: {summary}. Properties: "
            + "; ".join(f"{k}: {v}" for k, v in PLAY.items()) + ".")


def team_size(data: RocketData, name: str) -> int:
    """The team size most of ``name``'s replays have (by player key), at most 3 (a 4v4 plays as 3v3)."""
    key = data.keys[data.players.index(name)]
    sizes = [data.games[s["game"]]["team_size"] for s in data.sequences if s["key"] == key]
    return min(max(sorted(set(sizes)), key=sizes.count), 3) if sizes else 1


def sampling(a, model, blob: dict) -> str:
    """How the drivers sampled: the temperature, and the strength of a paired model."""
    told = decisions(blob)
    t = a.temperature if a.temperature is not None else (told["temperature"] if told["temperature"] is not None else 1.0)
    s = a.strength if a.strength is not None else told["strength"]
    return f"{t:g}" + (f", strength {s:g} (the play policy's weight beside the person policy)"
                       if load_person(model, blob) is not None else "")


def staying_human(a, data: RocketData, driving) -> str:
    """Section 6: top-1 of the people's own actions, each player under their own style, in the
    ``--cloned`` model and the ``driving`` one (``--model``, loaded); a driving model paired with
    its person policy also at strengths 0 (the person policy) and 1 (the play policy)."""
    from playas.rocket.evaluate import predictions, scores

    styled, blob = driving
    names = styled.table.names
    rows = data.rows(players=[data.players.index(n) for n in names if n in data.players])
    rows = np.sort(np.random.default_rng(0).choice(rows, min(a.human_decisions, len(rows)), replace=False))
    out = []
    person, told = load_person(styled, blob), decisions(blob)
    strength = a.strength if a.strength is not None else told["strength"]
    runs = [("cloned", a.cloned, load_styled(a.cloned)[0], None, 1.0)]
    runs += [("driving", a.model, styled, person, s) for s in (sorted({0.0, strength, 1.0}) if person is not None else [1.0])]
    for label, path, m, p, s in runs:
        sc = scores(predictions(m, data, rows, "own", person=p, strength=s), data.action[rows])
        how = f" at strength {s:g}" + (" (the person policy)" if s == 0 else " (the play policy)" if s == 1 else
                                        " (as it drives)") if p is not None else ""
        out.append([f"{label}: {Path(path).name}{how}", f"{sc['top1']:.2f}", f"{sc['jump']:.2f}", f"{sc['boost']:.2f}",
                    f"{sc['throttle']:.2f}", f"{sc['steer']:.2f}"])
    return (f"\n### Staying human: the people's own actions in their replays, each under their own style "
            f"({len(rows):,} decisions of the table's players, percent)\n\n"
            + table(out, ["model", "top1", "jump", "boost", "throttle", "steer"])
            + "\n\nBoth models learned from these games; held out: bench/rocket_styles.py --tuned on the split models.")


def main() -> None:
    ap = arguments(__doc__, model_and_data=False)
    ap.add_argument("--model", default=str(ROOT / "models" / "rocket-play.pt"))
    ap.add_argument("--data", default=str(ROOT / "data" / "rocket-all"))
    ap.add_argument("--temperature", type=float, help="default: the model's (its card's decisions, else 1)")
    ap.add_argument("--strength", type=float, help="a paired model's weight of the play policy (default: the model's)")
    ap.add_argument("--fidelity-minutes", type=float, default=2.0)
    ap.add_argument("--fidelity-team-size", default="1", help="cars a side in section 4: 1 to 3, or 'person' "
                    "(the team size most of the person's replays have)")
    ap.add_argument("--atba-matches", type=int, default=10)
    ap.add_argument("--atba-minutes", type=float, default=2.0)
    ap.add_argument("--atba-seed", type=int, default=300, help="the first match's seed (choose settings on other "
                    "seeds than the recorded run's 300+)")
    ap.add_argument("--cloned", default=str(ROOT / "models" / "rocket-replays.pt"),
                    help="the cloned model --model was fine-tuned from (section 6)")
    ap.add_argument("--human-decisions", type=int, default=50_000)
    ap.add_argument("--sections", default=",".join(map(str, sorted(ALL))), help="which sections to run, e.g. 5")
    a = ap.parse_args()
    run = {int(x) for x in a.sections.split(",")}
    out = []
    model, blob = load_styled(a.model)
    names = model.table.names
    if not run & {3, 4, 6} and not Path(a.data).exists():  # against ATBA alone: the card's game counts suffice
        data = None
        games = load_styled(a.model)[1]["card"]["games_per_player"]
        counts = {n: games[n] for n in names if n in games}
    else:
        data = RocketData.open(a.data)
        counts = {n: len(data.games_of(data.players.index(n))) for n in names if n in data.players}

    if 1 in run:
        # 1. simulation speed
        rows = []
        top = sorted((n for n in names if n in counts), key=lambda n: -counts[n])[:5] + ["mean"]  # the most replays
        for label, blue, orange in (("1v1", top[:1], top[1:2]), ("3v3", top[0:6:2], top[1:6:2])):
            r = play_match(blue, orange, minutes=5, seed=0, model=a.model, temperature=a.temperature, strength=a.strength, progress=False)
            rows.append([f"{label}: {', '.join(blue)} v {', '.join(orange)}", f"{r['wall_seconds']:.1f} s", f"{r['seconds'] / r['wall_seconds']:.1f}x",
                         f"{r['score']['blue']}-{r['score']['orange']}",
                         sum(c["touches"] for c in r["cars"])])
        out.append("### Simulation: 5-minute RocketSim matches, every car a playas style\n")
        out.append(table(rows, ["match", "wall time", "x real time", "score", "touches"]))

    if 2 in run:
        # 2. latency
        rows = []
        for cars in (1, 6):
            p50, p99 = latency(a.model, cars, 1200)
            rows.append([cars, f"{p50:.2f}", f"{p99:.2f}"])
        out.append("\n### Decision latency in the RLBot bot (`get_output`, in process, 1,200 ticks), ms per car\n")
        out.append(table(rows, ["cars", "p50", "p99"]))
        out.append(f"\nBudget: one {TICK_RATE} Hz tick is {1000 / TICK_RATE:.1f} ms.")

    recurring = [n for n in names if counts.get(n, 0) >= 3]
    if 4 in run:
        # 4. generation fidelity
        profiles = np.stack([profile(data, data.rows(players=[data.players.index(n)])) for n in names])
        own, judge, sizes = [], [], []
        for i, name in enumerate(recurring):
            n = team_size(data, name) if a.fidelity_team_size == "person" else int(a.fidelity_team_size)
            sizes.append(n)
            r = play_match([name] + ["mean"] * (n - 1), ["mean"] * n, minutes=a.fidelity_minutes, seed=200 + i,
                           model=a.model, temperature=a.temperature, strength=a.strength, progress=False, record=True)
            obs, act, scal = decisions_of(r["record"], 0)
            d = as_data(obs, act, scal, name)
            ll = learning.style_logliks(ROCKET, model, cache(model, d, np.arange(len(d)))).mean(1).numpy()
            t = names.index(name)
            own.append(int((ll > ll[t]).sum()))
            b = baseline_scores(histograms(scal), profiles)
            judge.append(int((b > b[t]).sum()))
        rate = lambda ranks: f"{100 * np.mean(np.asarray(ranks) == 0):.1f}% ({sum(x == 0 for x in ranks)}/{len(ranks)})"  # noqa: E731
        kinds = ", ".join(f"{k}v{k} {sizes.count(k)}" for k in sorted(set(sizes)))
        out.append(f"\n### Generation fidelity: {len(recurring)} recurring players' styles, each driving one "
                   f"{a.fidelity_minutes:g}-minute match ({kinds}; team size: {a.fidelity_team_size}), "
                   f"ranked among all {len(names)} players (top-1)\n")
        out.append(table([["the model's own identify (likelihood)", rate(own)],
                          ["outside judge: plain histogram baseline", rate(judge)]], ["judge", "top-1"]))
        out.append(f"\nReplay to replay, the same two judges on held-out games: bench/rocket_styles.py. "
                   f"Drivers sample at temperature {sampling(a, model, blob)}; features are {OBS_SIZE} numbers a decision.")

    if run & {3, 5}:
        four = sorted(recurring, key=lambda n: -counts[n])[:4]
        played = atba_matches(a, four)
        if 5 in run:
            out.append(against_atba(a, played))
        if 3 in run:
            out.append(play_in_simulation(played, data, four))
    if 6 in run:
        out.append(staying_human(a, data, (model, blob)))
    if run == ALL:
        finish(a, "rocket_agents", f"Rocket League agents: {Path(a.model).name}", "\n".join(out))
    else:  # some sections: a section of BENCHMARKS.md of their own, beside the whole run's
        some = "".join(map(str, sorted(run)))
        finish(a, f"rocket_agents_{Path(a.model).stem}_{some}",
               f"Rocket League agents: {Path(a.model).name}, sections {', '.join(map(str, sorted(run)))}",
               "\n".join(out), module="rocket_agents")


if __name__ == "__main__":
    main()
