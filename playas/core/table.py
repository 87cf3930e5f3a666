"""The style table: one row of routing logits (a style vector) per known player.

A style is written the same way everywhere a user chooses one: a player (``Tal``), or a blend
(``Tal:0.7,Petrosian:0.3``), optionally steered along a measured property
(``--steer castle_queenside=4``). :meth:`StyleTable.resolve` turns that into one (H, S) matrix of
routing logits; blending and steering are arithmetic on rows (arXiv 2502.14998, section 5).
Blends mix the logits; steering moves the routing weights ``sigmoid(z)``, because trained rows
saturate (``|z|`` around 6) and a shift of their logits would change almost nothing.
"""

from __future__ import annotations

import difflib
import re

import numpy as np
import torch
from torch import nn

from .errors import PlayasError
from .repertoire import Repertoire


MEAN = "mean"  # the style that is the mean of every row
STEER_CLAMP = 1e-3  # steered weights stay in (0, 1), no further out than trained rows (|z| <= 6.9)


class StyleTable(nn.Module):
    """Names, games per player, and the routing logits ``z: (players, H, S)`` as one parameter."""

    def __init__(self, names: list[str], heads: int, skills: int, games: list[int] | None = None,
                 z: torch.Tensor | None = None, directions: dict | None = None, repertoire=None):
        super().__init__()
        self.names = list(names)
        self.games = list(games) if games is not None else [0] * len(names)
        self.heads, self.skills = heads, skills
        init = z if z is not None else torch.empty(len(names), heads, skills).uniform_(-1e-3, 1e-3)
        self.z = nn.Parameter(init.clone().float())
        self.directions: dict[str, list] = dict(directions or {})  # property -> delta rows
        self.repertoire: Repertoire | None = repertoire  # each player's own choices, where they were met

    def __len__(self) -> int:
        return len(self.names)

    # --- names -----------------------------------------------------------------------------
    def index(self, name: str) -> int:
        """Row of ``name``: exact, else case-insensitive, else a clear error with suggestions."""
        if name in self.names:
            return self.names.index(name)
        lower = [n.lower() for n in self.names]
        if name.lower() in lower:
            return lower.index(name.lower())
        close = difflib.get_close_matches(name, self.names, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; `styles list` shows all {len(self)}"
        raise PlayasError(f"unknown player {name!r}{hint}")

    def check_new(self, name: str) -> None:
        """Refuse a name the table already holds (before any work is spent on enrolling it)."""
        if not name.strip():
            raise PlayasError("a new player needs a name")
        if name in self.names:
            raise PlayasError(f"player {name!r} is already in the style table")

    def add(self, name: str, games: int = 0, init: torch.Tensor | None = None) -> int:
        """Append a row for a new player (few-shot enrollment); returns its index."""
        self.check_new(name)
        row = init if init is not None else self.z.detach().mean(0)
        self.z = nn.Parameter(torch.cat([self.z.detach(), row[None].float()]))
        self.names.append(name)
        self.games.append(games)
        return len(self.names) - 1

    # --- styles ----------------------------------------------------------------------------
    def shares(self, style: str | None) -> np.ndarray | None:
        """Each player's share of a style string (one-hot for a player, the normalised weights of
        a blend); None for the mean style (``mean``, or no style at all).

        ``base`` is not a style: it names the network before any style (eval's ``[base]``)."""
        if style is None or style.strip() in ("", MEAN):
            return None
        if style.strip() == "base" and "base" not in self.names:
            raise PlayasError("'base' is the network before any style, not a style; "
                              "write mean for the mean of all styles")
        if style.strip() in self.names:  # a name with a comma or colon ("Carlsen, Magnus") as it is
            weights = {style.strip(): 1.0}
        else:
            weights = parse_blend(style)
        total = sum(weights.values())
        if total <= 0:
            raise PlayasError("blend weights must be positive")
        out = np.zeros(len(self))
        for name, w in weights.items():
            out[self.index(name)] += w / total
        return out

    def resolve(self, style: str | None, steer: dict[str, float] | None = None) -> torch.Tensor:
        """The (H, S) routing logits of a style string; None or ``"mean"`` is the mean player.
        A blend mixes its players' rows by their shares."""
        shares = self.shares(style)
        z = self.z.detach()
        z = z.mean(0) if shares is None else torch.einsum("p,phs->hs", torch.from_numpy(shares).float(), z)
        if steer:
            w = torch.sigmoid(z)
            for prop, amount in steer.items():
                w = w + amount * self.direction(prop)
            z = torch.logit(w.clamp(STEER_CLAMP, 1 - STEER_CLAMP))
        return z

    def steering_direction(self, values: dict[str, float], top_fraction: float = 0.25) -> list:
        """Mean routing weights of the players highest in a property minus the mean of all.

        ``values`` maps player names to the property (players not in the table, or NaN, are left
        out); returns the (H, S) direction as nested lists, or raises if fewer than 3 players count.
        """
        names = [n for n, v in values.items() if n in self.names and v == v]
        if len(names) < 3:
            raise PlayasError(f"a steering direction needs the property of at least 3 known players, got {len(names)}")
        w = torch.sigmoid(torch.stack([self.z.detach()[self.index(n)] for n in names]))
        k = max(1, int(round(len(names) * top_fraction)))
        top = sorted(range(len(names)), key=lambda i: -values[names[i]])[:k]
        return (w[top].mean(0) - w.mean(0)).tolist()

    def direction(self, prop: str) -> torch.Tensor:
        """The routing-weight direction of a property (see :meth:`steering_direction`)."""
        if prop not in self.directions:
            known = ", ".join(sorted(self.directions)) or "none (this model has no steering directions yet)"
            raise PlayasError(f"no steering direction for {prop!r}; known: {known}")
        return torch.tensor(self.directions[prop], dtype=torch.float32)

    def vectors(self) -> torch.Tensor:
        """Style vectors, one flat row per player (the routing logits)."""
        return self.z.detach().reshape(len(self), -1)

    def similar(self, name_or_vector, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` players whose style vectors are nearest by cosine similarity."""
        v = self.vectors()
        if isinstance(name_or_vector, str):
            i = self.index(name_or_vector)
            q, skip = v[i], i
        else:
            q, skip = name_or_vector.reshape(-1), None
        sims = torch.nn.functional.cosine_similarity(_centered(v, v), _centered(q[None], v), dim=1)
        order = [int(j) for j in torch.argsort(sims, descending=True) if int(j) != skip][:k]
        return [(self.names[j], float(sims[j])) for j in order]

    # --- storage ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {"names": self.names, "games": self.games, "heads": self.heads, "skills": self.skills,
             "z": self.z.detach().clone(), "directions": self.directions}
        if self.repertoire is not None:
            d["repertoire"] = self.repertoire.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "StyleTable":
        rep = Repertoire.from_dict(d["repertoire"]) if d.get("repertoire") else None
        return cls(d["names"], d["heads"], d["skills"], d["games"], d["z"], d.get("directions"), rep)


def _centered(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Vectors relative to the mean style: what sets a player apart, not what all share."""
    return x - ref.mean(0, keepdim=True)


_PART = re.compile(r'\s*(?:"([^"]+)"|([^,":]+?))\s*(?::\s*([0-9]*\.?[0-9]+))?\s*(?:,|$)')


def parse_blend(spec: str) -> dict[str, float]:
    """``"Tal:0.7,Petrosian:0.3"`` -> ``{"Tal": 0.7, "Petrosian": 0.3}``; ``"Tal"`` -> ``{"Tal": 1}``.

    A name holding a comma or colon is written in double quotes: ``'"Carlsen, Magnus":0.6,Tal:0.4'``.
    """
    out: dict[str, float] = {}
    pos, spec = 0, spec.strip()
    while pos < len(spec):
        m = _PART.match(spec, pos)
        if not m or m.end() == pos:
            raise PlayasError(f"bad style {spec!r}; write a player or a blend like Tal:0.7,Petrosian:0.3")
        name = (m.group(1) or m.group(2) or "").strip()
        if name:
            out[name] = out.get(name, 0.0) + (float(m.group(3)) if m.group(3) else 1.0)
        pos = m.end()
    if not out:
        raise PlayasError(f"bad style {spec!r}; write a player or a blend like Tal:0.7,Petrosian:0.3")
    return out


def parse_steer(specs: list[str] | None) -> dict[str, float]:
    """``["capture_rate=1.5"]`` -> ``{"capture_rate": 1.5}``."""
    out = {}
    for s in specs or []:
        name, eq, amount = s.partition("=")
        try:
            out[name.strip()] = float(amount)
        except ValueError:
            raise PlayasError(f"bad steer {s!r}; write PROPERTY=AMOUNT, e.g. capture_rate=1.5") from None
        if not eq or not name.strip():
            raise PlayasError(f"bad steer {s!r}; write PROPERTY=AMOUNT, e.g. capture_rate=1.5")
    return out
