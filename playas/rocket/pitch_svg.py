"""A simulated match drawn from above, as SVG: :func:`pitch_svg`.

The pitch (walls, corners, goals in their team's colour), the ball's path, each car's path and
every goal, with a legend beside the pitch saying which line is which car (its number, team and
style) and which is the ball. World +y (orange's goal) is at the top. Cars of one team share its
hue and differ in shade and dash, so up to three a side stay apart.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import numpy as np

from .vocabulary import BACK_WALL, CORNER, GOAL_DEPTH, GOAL_HALF_WIDTH, SIDE_WALL, X, Y

TEAM_COLOURS = {"blue": "#1f5fd6", "orange": "#f08c00"}
CAR_SHADES = {"blue": ("#1f5fd6", "#0b3a8c", "#6f9cf0"), "orange": ("#f08c00", "#a85a00", "#f7b85a")}
CAR_DASHES = ("", "120 60", "30 50")  # first, second, third car of a team
BALL_COLOUR = "#222"
MARGIN = 400  # uu around the pitch
LEGEND_WIDTH = 6000  # uu beside the pitch
FONT = 'font-family="sans-serif"'


def _points(xy: np.ndarray) -> str:
    """SVG points (y flipped: world +y, orange's goal, at the top), whole units, repeats dropped."""
    p = np.rint(np.asarray(xy, np.float64) * [1, -1]).astype(int)
    if len(p) > 1:
        p = p[np.r_[True, (np.diff(p, axis=0) != 0).any(1)]]
    return " ".join(f"{x},{y}" for x, y in p)


def _runs(ok: np.ndarray, segment: np.ndarray):
    """Index ranges where ``ok`` holds without a kickoff in between."""
    start = None
    for i in range(len(ok) + 1):
        cont = i < len(ok) and ok[i] and (start is None or segment[i] == segment[start])
        if cont and start is None:
            start = i
        elif not cont and start is not None:
            yield start, i
            start = i if i < len(ok) and ok[i] else None


def car_styles(cars: list[dict]) -> list[tuple[str, str]]:
    """(colour, dash pattern) of each car (rows with ``team``): its team's hue, by its place in the team."""
    seen = {"blue": 0, "orange": 0}
    out = []
    for r in cars:
        k = seen[r["team"]]
        seen[r["team"]] += 1
        out.append((CAR_SHADES[r["team"]][k % 3], CAR_DASHES[k % 3]))
    return out


def _line(points: str, colour: str, width: int, dash: str = "", opacity: float = 0.55) -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{width}" '
            f'stroke-opacity="{opacity}"{dashed}/>')


def _pitch() -> list[str]:
    """The arena: its outline with the corners cut, the halfway line, the centre circle, the goals."""
    cx, cy = CORNER - BACK_WALL, CORNER - SIDE_WALL  # where a corner meets the back and the side wall
    outline = [(cx, BACK_WALL), (SIDE_WALL, cy), (SIDE_WALL, -cy), (cx, -BACK_WALL),
               (-cx, -BACK_WALL), (-SIDE_WALL, -cy), (-SIDE_WALL, cy), (-cx, BACK_WALL)]
    out = [f'<polygon points="{_points(np.array(outline))}" fill="#dfeedd" stroke="#333" stroke-width="30"/>',
           f'<line x1="{-SIDE_WALL:.0f}" y1="0" x2="{SIDE_WALL:.0f}" y2="0" stroke="#999" stroke-width="15"/>',
           '<circle cx="0" cy="0" r="1000" fill="none" stroke="#999" stroke-width="15"/>']
    for team, sign in (("blue", -1), ("orange", 1)):  # blue defends -y, drawn at the bottom (svg y = -world y)
        y0 = -(sign * BACK_WALL) - (GOAL_DEPTH if sign > 0 else 0)
        c = TEAM_COLOURS[team]
        out.append(f'<rect x="{-GOAL_HALF_WIDTH:.0f}" y="{y0:.0f}" width="{2 * GOAL_HALF_WIDTH:.0f}" '
                   f'height="{GOAL_DEPTH:.0f}" fill="{c}" fill-opacity="0.3" stroke="{c}" stroke-width="30"/>')
    return out


def _paths(result: dict) -> list[str]:
    """The ball's path and each car's, broken at every kickoff and wherever a car was off the pitch."""
    tr = result["trajectories"]
    seg, ball = np.asarray(tr["segment"]), np.asarray(tr["ball"])
    cars, present = np.asarray(tr["cars"]), np.asarray(tr["present"])
    out = ['<g id="ball"><title>ball</title>']
    out += [_line(_points(ball[a:b, :2]), BALL_COLOUR, 12, opacity=0.6) for a, b in _runs(np.ones(len(ball), bool), seg)]
    out.append('</g>')
    for car, (colour, dash) in enumerate(car_styles(result["cars"])):
        out.append(f'<g id="car{car}"><title>car {car} {escape(result["cars"][car]["style"])}</title>')
        out += [_line(_points(cars[a:b, car, :2]), colour, 14, dash) for a, b in _runs(present[:, car], seg)]
        out.append('</g>')
    return out


def _goals(result: dict) -> list[str]:
    """A disc where the ball was when each goal counted, in the scoring team's colour, with its time."""
    out = []
    for g in result["goals"]:
        x, y = g["ball"][X], g["ball"][Y]
        out.append(f'<g><title>{g["time"]} s goal {g["team"]}</title>'
                   f'<circle cx="{x:.0f}" cy="{-y:.0f}" r="180" fill="{TEAM_COLOURS[g["team"]]}" stroke="#000" '
                   f'stroke-width="25"/><text x="{x + 230:.0f}" y="{-y + 80:.0f}" font-size="260" {FONT}>'
                   f'{g["time"]:.0f}s</text></g>')
    return out


def _legend(result: dict, left: float, top: float) -> list[str]:
    """Which line is which: a sample of each car's line with its number, team and style, the ball's,
    and the goal disc."""
    step, x0, x1 = 420, left, left + 700
    out = [f'<g id="legend"><text x="{x0:.0f}" y="{top:.0f}" font-size="300" {FONT}>legend</text>']
    entries = [(f"car {c} {r['team']} {r['style']}", colour, 14, dash)
               for c, (r, (colour, dash)) in enumerate(zip(result["cars"], car_styles(result["cars"])))]
    entries.append(("ball", BALL_COLOUR, 12, ""))
    y = top
    for text, colour, width, dash in entries:
        y += step
        out.append(_line(f"{x0:.0f},{y - 90:.0f} {x1:.0f},{y - 90:.0f}", colour, 3 * width, dash, 0.8))
        out.append(f'<text x="{x1 + 150:.0f}" y="{y:.0f}" font-size="260" {FONT}>{escape(text)}</text>')
    y += step
    out.append(f'<circle cx="{(x0 + x1) / 2:.0f}" cy="{y - 90:.0f}" r="150" fill="#fff" stroke="#000" stroke-width="25"/>')
    out.append(f'<text x="{x1 + 150:.0f}" y="{y:.0f}" font-size="260" {FONT}>goal, in the scorer\'s colour</text></g>')
    return out


def pitch_svg(result: dict) -> str:
    """A top-down SVG of a match (:func:`~playas.rocket.match.play_match`'s result): the pitch,
    each car's path, the ball's, the goals, the score, and a legend."""
    w, h = SIDE_WALL + MARGIN, BACK_WALL + GOAL_DEPTH + MARGIN
    width = 2 * w + LEGEND_WIDTH
    score = f'{result["score"]["blue"]}-{result["score"]["orange"]}'
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{-w:.0f} {-h:.0f} {width:.0f} {2 * h:.0f}" '
            f'width="{width / 20:.0f}" height="{2 * h / 20:.0f}">'),
           f'<title>{escape(" ".join(result["blue"]))} vs {escape(" ".join(result["orange"]))}: {score}</title>',
           f'<rect x="{-w:.0f}" y="{-h:.0f}" width="{width:.0f}" height="{2 * h:.0f}" fill="#f4f7f2"/>',
           *_pitch(), *_paths(result), *_goals(result),
           f'<text x="{-w + 100:.0f}" y="{-h + 300:.0f}" font-size="280" {FONT}>blue {result["score"]["blue"]} - '
           f'{result["score"]["orange"]} orange</text>',
           *_legend(result, w + 200, -h + 900), "</svg>"]
    return "\n".join(out) + "\n"
