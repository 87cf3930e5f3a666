"""Multi-Head Adapter Routing (MHR, Caccia et al. 2023): style-routed LoRA over a frozen base.

Each adapted layer keeps an inventory of S skills (LoRA pairs) split into H heads that partition
the layer's input and output dimensions. A style is a matrix of routing logits ``Z: (H, S)``,
shared by every adapted layer; its weights ``w = sigmoid(Z)`` normalised over skills mix the
skills per head: ``A_h = sum_s w_hs A_hs``, ``B_h = sum_s w_hs B_hs``, and the layer computes
``base(x) + x_h A_h B_h / r``. ``B`` starts at zero, so a new adapter changes nothing.

Like PEFT's LoRA layers, :class:`MHRLinear` (on inputs with any leading dimensions, e.g. a
transformer's ``(batch, tokens, features)``) and :class:`MHRConv2d` wrap a base module and can be
merged into a plain module for one fixed style (:meth:`merged`), which then runs at base speed.
The routing weights for the current batch live on a shared :class:`Router`, set with
``with router.use(weights): model(x)``.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class MHRConfig:
    heads: int = 8
    skills: int = 8
    rank: int = 4
    targets: tuple = ()  # names of the submodules to adapt
    temperature: float = 1.0  # relaxed-Bernoulli temperature in training

    def to_dict(self) -> dict:
        d = asdict(self)
        d["targets"] = list(self.targets)
        return d


def routing_weights(logits: torch.Tensor, training: bool, temperature: float = 1.0) -> torch.Tensor:
    """Routing logits (..., H, S) -> skill weights normalised over S.

    In training, a relaxed Bernoulli sample (logistic noise, then a tempered sigmoid) lets the
    router explore sparse skill choices; at inference the plain sigmoid.
    """
    if training:
        u = torch.rand_like(logits).clamp(1e-6, 1 - 1e-6)
        w = torch.sigmoid((logits + torch.log(u) - torch.log1p(-u)) / temperature)
    else:
        w = torch.sigmoid(logits)
    return w / (w.sum(-1, keepdim=True) + 1e-6)


class Router(nn.Module):
    """Holds the routing weights (N or 1, H, S) of the batch being computed."""

    def __init__(self):
        super().__init__()
        self.weights: torch.Tensor | None = None

    @contextlib.contextmanager
    def use(self, weights: torch.Tensor):
        prev, self.weights = self.weights, weights
        try:
            yield
        finally:
            self.weights = prev

    def current(self) -> torch.Tensor:
        if self.weights is None:
            raise RuntimeError("an MHR layer ran outside `router.use(weights)`")
        return self.weights


class MHRLinear(nn.Module):
    """An ``nn.Linear`` plus routed LoRA skills."""

    def __init__(self, base: nn.Linear, router: Router, cfg: MHRConfig):
        super().__init__()
        h, s, r = cfg.heads, cfg.skills, cfg.rank
        if base.in_features % h or base.out_features % h:
            raise ValueError(f"{h} heads do not divide {base.in_features}->{base.out_features}")
        self.base, self.router, self.h, self.r = base, router, h, r
        self.A = nn.Parameter(torch.empty(h, s, base.in_features // h, r))
        self.B = nn.Parameter(torch.zeros(h, s, r, base.out_features // h))
        nn.init.kaiming_uniform_(self.A.view(h * s, -1, r).transpose(1, 2), a=5 ** 0.5)

    def forward(self, x):
        """``x: (N, ..., in)`` (or ``(in,)``) under the router's weights ``(N|1, H, S)``: one style a
        sample, shared by every position between the batch dimension and the last (a sequence's tokens)."""
        w = self.router.current()  # (N|1, H, S)
        lead = x.shape[:1] if x.dim() > 1 else (1,)
        xs = x.reshape(*lead, math.prod(x.shape[1:-1]), x.shape[-1])  # (N, T, in)
        if w.shape[0] == 1:  # one style for the whole batch: every position of every sample shares it
            xs = xs.reshape(1, xs.shape[0] * xs.shape[1], xs.shape[-1])
        elif w.shape[0] != xs.shape[0]:
            raise ValueError(f"routing weights for {w.shape[0]} samples, input of {xs.shape[0]}")
        n, t = xs.shape[:2]
        xh = xs.reshape(n, t, self.h, -1)
        if n == 1:  # one style: mix its skills' matrices once
            a = torch.einsum("nhs,hsir->nhir", w, self.A)
            b = torch.einsum("nhs,hsro->nhro", w, self.B)
            u = torch.einsum("nthi,nhir->nthr", xh, a)
            y = torch.einsum("nthr,nhro->ntho", u, b)  # (N, T, H, out/H)
        else:  # a style per sample: through every skill's A, mixed; then B over (skill, rank) at once
            ws = w[:, None, :, :, None]  # (N, 1, H, S, 1)
            u = (torch.einsum("nthi,hsir->nthsr", xh, self.A) * ws).sum(3)  # (N, T, H, r)
            y = torch.einsum("nthsr,hsro->ntho", u[:, :, :, None] * ws, self.B)
        return self.base(x) + y.reshape(*x.shape[:-1], -1) / self.r

    def delta(self, w: torch.Tensor) -> torch.Tensor:
        """The weight update (out, in) of one style's weights ``w: (H, S)``."""
        a = torch.einsum("hs,hsir->hir", w, self.A)
        b = torch.einsum("hs,hsro->hro", w, self.B)
        return torch.block_diag(*(a[i] @ b[i] for i in range(self.h))).T / self.r

    def merged(self, w: torch.Tensor) -> nn.Linear:
        out = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        out.weight.data = self.base.weight.data + self.delta(w)
        if self.base.bias is not None:
            out.bias.data = self.base.bias.data.clone()
        return out


class MHRConv2d(nn.Module):
    """An ``nn.Conv2d`` plus routed conv-LoRA skills: A a kxk conv to r channels, B a 1x1 conv."""

    def __init__(self, base: nn.Conv2d, router: Router, cfg: MHRConfig):
        super().__init__()
        h, s, r = cfg.heads, cfg.skills, cfg.rank
        cin, cout, k = base.in_channels, base.out_channels, base.kernel_size[0]
        if cin % h or cout % h or base.groups != 1:
            raise ValueError(f"{h} heads do not divide a {cin}->{cout} convolution")
        self.base, self.router, self.h, self.s, self.r = base, router, h, s, r
        self.padding = base.padding
        # One grouped convolution computes every head's every skill: group h sees head h's input.
        self.A = nn.Parameter(torch.empty(h * s * r, cin // h, k, k))
        self.B = nn.Parameter(torch.zeros(h, s, r, cout // h))
        nn.init.kaiming_uniform_(self.A, a=5 ** 0.5)

    def forward(self, x):
        return self.base(x) + self.routed(self.skills(x), self.router.current())

    def skills(self, x) -> torch.Tensor:
        """Every head's every skill's A-convolution of ``x``: (N, H*S*r, X, Y), style-free, so
        scoring many styles on the same inputs computes it once."""
        return F.conv2d(x, self.A, padding=self.padding, groups=self.h)

    def routed(self, a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """The adapter's output from :meth:`skills` ``a`` under routing weights ``w`` (N|1, H, S)."""
        n = a.shape[0]
        w = w.expand(n, -1, -1)
        xy = a.shape[2:]
        a = a.reshape(n, self.h, self.s, self.r * xy.numel())
        u = (a * w[..., None]).sum(2).view(n * self.h, self.r, -1)  # skills mixed: (N*H, r, XY)
        b = torch.einsum("nhs,hsro->nhor", w, self.B).reshape(n * self.h, -1, self.r)  # per-sample B_h
        y = torch.bmm(b, u)  # (N*H, out/H, XY)
        return y.view(n, -1, *xy) / self.r

    def routed_matrix(self, w: torch.Tensor) -> torch.Tensor:
        """:meth:`routed` for whole styles as one matrix each: for routing weights ``w`` (P, H, S),
        M (P, H*S*r, out) with ``routed(a, w[p]) == einsum("nkxy,ko->noxy", a, M[p])`` (block-
        diagonal over heads). Scoring many styles on the same inputs then costs one matmul a style."""
        p, h, s, r = len(w), self.h, self.s, self.r
        bmix = torch.einsum("phs,hsro->phro", w, self.B)  # each head's B mixed by the style
        m = w.new_zeros(p, h, s, r, h, self.B.shape[-1])
        for i in range(h):
            m[:, i, :, :, i] = w[:, i, :, None, None] * bmix[:, i, None] / r
        return m.reshape(p, h * s * r, -1)

    def merged(self, w: torch.Tensor) -> nn.Conv2d:
        """A plain convolution equal to this layer under style weights ``w: (H, S)``."""
        b = self.base
        out = nn.Conv2d(b.in_channels, b.out_channels, b.kernel_size, padding=b.padding, bias=b.bias is not None)
        cin_h, cout_h = b.in_channels // self.h, b.out_channels // self.h
        a = self.A.view(self.h, self.s, self.r, cin_h, *b.kernel_size)
        a = torch.einsum("hs,hsrikl->hrikl", w, a)
        bb = torch.einsum("hs,hsro->hro", w, self.B)
        delta = torch.zeros_like(b.weight)
        for i in range(self.h):  # block-diagonal over heads
            delta[i * cout_h:(i + 1) * cout_h, i * cin_h:(i + 1) * cin_h] = \
                torch.einsum("ro,rikl->oikl", bb[i], a[i])
        out.weight.data = b.weight.data + delta / self.r
        if b.bias is not None:
            out.bias.data = b.bias.data.clone()
        return out


def add_adapters(model: nn.Module, cfg: MHRConfig) -> Router:
    """Wrap ``cfg.targets`` (submodule names) of ``model`` in MHR layers; returns their router."""
    router = Router()
    for name in cfg.targets:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        base = getattr(parent, attr)
        if isinstance(base, nn.Linear):
            layer = MHRLinear(base, router, cfg)
        elif isinstance(base, nn.Conv2d):
            layer = MHRConv2d(base, router, cfg)
        else:
            raise ValueError(f"cannot adapt {name}: {type(base).__name__} is not Linear or Conv2d")
        setattr(parent, attr, layer)
    return router


def adapter_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (MHRLinear, MHRConv2d))]


def adapter_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for _, m in adapter_layers(model) for p in (m.A, m.B)]


def merge(model: nn.Module, w: torch.Tensor) -> None:
    """Replace every MHR layer of ``model`` by its merge under style weights ``w: (H, S)``, in place."""
    with torch.no_grad():
        for name, layer in adapter_layers(model):
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, attr, layer.merged(w))


class MHRModel(nn.Module):
    """A base model with MHR adapters and a style table: ``styled(x, z=logits)``.

    ``z`` is per-sample routing logits (N, H, S) or one style's (H, S); rows of the table are
    looked up by the caller (``table.z[player_ids]``) so gradients reach the style vectors.
    Extra keyword arguments go to the base model's forward.
    """

    def __init__(self, base: nn.Module, cfg: MHRConfig, table):
        super().__init__()
        self.base, self.cfg, self.table = base, cfg, table
        self.router = add_adapters(base, cfg)

    def forward(self, *args, z: torch.Tensor, **kwargs):
        if z.dim() == 2:
            z = z[None]
        w = routing_weights(z, self.training, self.cfg.temperature)
        with self.router.use(w):
            return self.base(*args, **kwargs)

    def freeze_base(self) -> None:
        """Only adapters and style vectors learn; the base (and its batch-norm statistics) stays."""
        adapters = {id(p) for p in adapter_parameters(self.base)}
        for p in self.base.parameters():
            p.requires_grad_(id(p) in adapters)

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.base.modules():  # frozen base: batch norm keeps its running statistics
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
        return self

    def merged_base(self, z: torch.Tensor) -> nn.Module:
        """A copy of the base with one style merged in: plain layers, base speed."""
        import copy

        base = copy.deepcopy(self.base)
        merge(base, routing_weights(z, False))
        return base

    def unadapted_base(self) -> nn.Module:
        """The base with its adapters taken off, the network before any style: made once, shared
        (read-only) by every caller."""
        import copy

        if getattr(self, "_unadapted", None) is None:
            base = copy.deepcopy(self.base)
            for name, layer in adapter_layers(base):
                parent_name, _, attr = name.rpartition(".")
                setattr(base.get_submodule(parent_name) if parent_name else base, attr, layer.base)
            self._unadapted = base.eval()
        return self._unadapted
