"""Import lc0 networks (Maia-1) into :class:`~playas.chess.model.ChessNet`.

An lc0 network is a gzip-compressed protobuf ``Net``. Rather than depend on the ``protobuf``
package and lc0's generated classes, a few lines decode the wire format directly: the file
holds only varints, fixed32 floats and nested length-delimited messages, and every field number
needed is listed in ../shared/LC0_FORMAT.md.

Only what :class:`ChessNet` computes exactly is accepted: classical 112-plane input, an SE
residual tower with ReLU, a convolutional policy and a WDL value head, LINEAR16 weights.
Anything else is refused with one sentence rather than imported wrongly.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from ..core.errors import PlayasError
from .model import ChessNet, NetConfig

MAGIC = 0x1C0
LICENCE = "GPL-3.0 (Maia weights)"

# Enum values of lc0's net.proto that this importer supports.
LINEAR16 = 1
INPUT_CLASSICAL_112 = 1
NETWORK_SE, NETWORK_SE_WITH_HEADFORMAT = 2, 4
POLICY_CONVOLUTION = 2
VALUE_WDL = 2
ACTIVATION_RELU = 0

_NETWORKS = {0: "unknown", 1: "classical residual", 2: "SE residual",
             3: "classical residual with head format", 4: "SE residual with head format", 5: "ONNX",
             6: "attention body", 7: "attention body with multi-head format"}
_POLICIES = {0: "unknown", 1: "classical (fully connected)", 2: "convolutional", 3: "attention"}
_VALUES = {0: "unknown", 1: "classical (scalar)", 2: "WDL", 3: "WDL param"}


class _Malformed(Exception):
    """The bytes are not a well-formed protobuf message."""


class _Unusable(Exception):
    """The network cannot be imported; the message completes a sentence that starts with its name."""


# --- protobuf wire format -----------------------------------------------------------------

def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise _Malformed
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, i


def _message(buf: bytes) -> dict[int, list]:
    """Decode one message into ``{field: [values]}``.

    Varints become ints, fixed32/fixed64 and length-delimited fields stay bytes (what a
    length-delimited field holds, a sub-message, a string or packed data, depends on the schema).
    """
    fields: dict[int, list] = {}
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = buf[i:i + size], i + size
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i:i + size], i + size
        else:  # groups (3, 4) are not used by lc0; 6 and 7 do not exist
            raise _Malformed
        if field == 0 or i > n:
            raise _Malformed
        fields.setdefault(field, []).append(value)
    return fields


def _sub(fields: dict, field: int) -> dict:
    """The last sub-message ``field`` (protobuf's rule for repeated non-repeated fields), or {}."""
    if field not in fields:
        return {}
    value = fields[field][-1]
    if not isinstance(value, bytes):
        raise _Malformed
    return _message(value)


def _subs(fields: dict, field: int) -> list[dict]:
    """Every sub-message of the repeated ``field``."""
    values = fields.get(field, [])
    if not all(isinstance(v, bytes) for v in values):
        raise _Malformed
    return [_message(v) for v in values]


def _int(fields: dict, field: int, default: int = 0) -> int:
    if field not in fields:
        return default
    value = fields[field][-1]
    if not isinstance(value, int):
        raise _Malformed
    return value


def _float(fields: dict, field: int) -> float | None:
    if field not in fields:
        return None
    raw = fields[field][-1]
    if not isinstance(raw, bytes) or len(raw) != 4:
        raise _Malformed
    return struct.unpack("<f", raw)[0]


def _layer(fields: dict, field: int) -> np.ndarray | None:
    """Dequantize the LINEAR16 ``Layer`` in ``field``: min + (max - min) * u / 65535."""
    if field not in fields:
        return None
    layer = _sub(fields, field)
    if _int(layer, 4, LINEAR16) != LINEAR16:  # newer files may say per layer how it is encoded
        raise _Unusable("is not supported: it stores some weights in an encoding other than LINEAR16")
    params = layer.get(3, [b""])[-1]
    if not isinstance(params, bytes) or len(params) % 2:
        raise _Malformed
    if not params:
        return None
    lo, hi = _float(layer, 1) or 0.0, _float(layer, 2) or 0.0
    u = np.frombuffer(params, dtype="<u2").astype(np.float64)
    return (lo + (hi - lo) * u / 65535.0).astype(np.float32)


# --- reading the file ---------------------------------------------------------------------

def _read(path) -> tuple[Path, bytes, dict]:
    """The path, the raw (compressed) file bytes and the top-level ``Net`` fields."""
    path = Path(path)
    if not path.exists():
        raise PlayasError(f"lc0 network file {path} does not exist")
    if path.is_dir():
        raise PlayasError(f"{path} is a directory, not an lc0 network file (.pb.gz)")
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        raise PlayasError(f"{path} is not gzip-compressed, so it is not an lc0 network (.pb.gz)")
    try:
        data = gzip.decompress(raw)
    except (EOFError, OSError, zlib.error):  # BadGzipFile (bad CRC) is an OSError
        raise PlayasError(f"{path} is truncated or corrupt (its gzip stream is damaged)") from None
    try:
        net = _message(data)
        magic = net.get(1, [b""])[-1]
        if not isinstance(magic, bytes) or len(magic) != 4 or struct.unpack("<I", magic)[0] != MAGIC:
            raise _Malformed
    except _Malformed:
        if data.startswith(b"\x0d" + struct.pack("<I", MAGIC)):  # field 1, fixed32: the magic
            raise PlayasError(f"{path} is truncated or corrupt (its protobuf is not well-formed)") from None
        raise PlayasError(f"{path} is not an lc0 network (no lc0 magic number)") from None
    return path, raw, net


def _format(path: Path, net: dict) -> dict:
    """The ``format`` fields (weights encoding and network format) as plain ints."""
    try:
        fmt = _sub(net, 4)
        nf = _sub(fmt, 2)
        return {"weights_encoding": _int(fmt, 1), "input": _int(nf, 1), "output": _int(nf, 2),
                "network": _int(nf, 3), "policy": _int(nf, 4), "value": _int(nf, 5),
                "moves_left": _int(nf, 6), "activation": _int(nf, 7), "input_embedding": _int(nf, 8)}
    except _Malformed:
        raise PlayasError(f"{path} is corrupt: its format is not a well-formed lc0 protobuf") from None


def _check_format(path: Path, f: dict) -> None:
    """Refuse, in one sentence, any network ChessNet would not compute exactly."""
    def refuse(what: str):
        raise PlayasError(f"{path.name} is not supported: {what}")

    if f["weights_encoding"] != LINEAR16:
        refuse(f"its weights encoding is {f['weights_encoding']}, only LINEAR16 (1) can be imported")
    if f["input"] != INPUT_CLASSICAL_112:
        refuse(f"its input format is {f['input']}, only the classical 112 planes (1) can be imported")
    if f["network"] not in (NETWORK_SE, NETWORK_SE_WITH_HEADFORMAT):
        refuse(f"its body is a {_NETWORKS.get(f['network'], f['network'])} network, "
               "only an SE residual tower can be imported")
    if f["policy"] != POLICY_CONVOLUTION:
        refuse(f"its policy head is {_POLICIES.get(f['policy'], f['policy'])}, "
               "only a convolutional policy can be imported")
    if f["value"] != VALUE_WDL:
        refuse(f"its value head is {_VALUES.get(f['value'], f['value'])}, only a WDL value can be imported")
    if f["activation"] != ACTIVATION_RELU:
        refuse(f"its activation is {f['activation']}, only ReLU (0) can be imported")
    if f["input_embedding"]:
        refuse("it has an input embedding, which only attention bodies use")


def _conv_block(msg: dict) -> dict:
    return {name: _layer(msg, field) for field, name in
            enumerate(("weights", "biases", "bn_means", "bn_stddivs", "bn_gammas", "bn_betas"), 1)}


def _put(param: torch.Tensor, value: np.ndarray | None, default: float | None = None) -> None:
    """Copy ``value`` (flat) into ``param`` in place; a missing value takes ``default``."""
    with torch.no_grad():
        if value is None:
            if default is None:
                raise _Unusable("lacks a weight tensor the SE-ResNet needs")
            param.fill_(default)
        elif value.size != param.numel():
            raise _Unusable(f"has a tensor of {value.size} values where {param.numel()} are expected "
                            f"{tuple(param.shape)}, so it is corrupt or not an SE-ResNet")
        else:
            param.copy_(torch.from_numpy(value).view(param.shape))


def _load_conv_bn(module, block: dict) -> None:
    """lc0's ConvBlock into a ConvBN; stddivs hold the variance, gamma defaults to 1."""
    conv, bn = module[0], module[1]
    _put(conv.weight, block["weights"])  # [out, in, kh, kw], as torch wants it
    _put(conv.bias, block["biases"], 0.0)
    _put(bn.running_mean, block["bn_means"], 0.0)
    _put(bn.running_var, block["bn_stddivs"], 1.0)
    _put(bn.weight, block["bn_gammas"], 1.0)
    _put(bn.bias, block["bn_betas"], 0.0)


def _size(a: np.ndarray | None) -> int:
    return 0 if a is None else a.size


def _config(inp: dict, residual: list, se1: np.ndarray | None, value: dict, fc1_b) -> NetConfig:
    """Blocks, filters, SE ratio and value sizes, inferred from the tensors' sizes."""
    filters = _size(inp["bn_means"]) or _size(inp["weights"]) // (112 * 9)
    if filters == 0 or _size(inp["weights"]) != filters * 112 * 9:
        raise _Unusable("is not supported: its input convolution is not 3x3 from 112 planes")
    se_channels = _size(se1) // filters
    if se_channels == 0 or filters % se_channels:
        raise _Unusable(f"is not supported: its SE units have {se_channels} channels for {filters} filters")
    value_channels = _size(value["bn_means"]) or _size(value["weights"]) // filters
    return NetConfig(blocks=len(residual), filters=filters, se_ratio=filters // se_channels,
                     value_channels=value_channels, value_hidden=_size(fc1_b))


def _build(net: dict) -> ChessNet:
    """The ChessNet holding the weights of the ``Net`` fields ``net``."""
    w = _sub(net, 10)
    inp = _conv_block(_sub(w, 1))
    residual = _subs(w, 2)
    convs = [(_conv_block(_sub(r, 1)), _conv_block(_sub(r, 2))) for r in residual]
    ses = [_sub(r, 3) for r in residual]
    se = [{k: _layer(s, f) for f, k in enumerate(("w1", "b1", "w2", "b2"), 1)} for s in ses]
    policy1, policy, value = _conv_block(_sub(w, 11)), _conv_block(_sub(w, 3)), _conv_block(_sub(w, 6))
    fc1_w, fc1_b, fc2_w, fc2_b = (_layer(w, f) for f in (7, 8, 9, 10))
    if not residual:
        raise _Unusable("is not supported: it has no residual blocks")
    if any(not s for s in ses):
        raise _Unusable("is not supported: its residual blocks have no SE units")
    if policy1["weights"] is None or _size(policy["biases"]) != 80:
        raise _Unusable("is not supported: its policy head is not lc0's 80-plane convolution")
    if _size(fc2_b) != 3:
        raise _Unusable("is not supported: its value head does not end in 3 WDL outputs")

    model = ChessNet(_config(inp, residual, se[0]["w1"], value, fc1_b))
    _load_conv_bn(model.input, inp)
    for block, (c1, c2), s in zip(model.blocks, convs, se):
        _load_conv_bn(block.conv1, c1)
        _load_conv_bn(block.conv2, c2)
        _put(block.se.fc1.weight, s["w1"])
        _put(block.se.fc1.bias, s["b1"], 0.0)
        _put(block.se.fc2.weight, s["w2"])
        _put(block.se.fc2.bias, s["b2"], 0.0)
    _load_conv_bn(model.policy1, policy1)
    _put(model.policy.weight, policy["weights"])
    _put(model.policy.bias, policy["biases"], 0.0)
    _load_conv_bn(model.value, value)
    _put(model.value_fc1.weight, fc1_w)
    _put(model.value_fc1.bias, fc1_b, 0.0)
    _put(model.value_fc2.weight, fc2_w)
    _put(model.value_fc2.bias, fc2_b, 0.0)
    return model.eval()


def import_lc0(path) -> ChessNet:
    """Read an lc0 network file (e.g. ``maia-1900.pb.gz``) as a :class:`ChessNet` in eval mode.

    Raises :class:`PlayasError` for a missing file, a file that is not an lc0 network and a
    network whose format this SE-ResNet cannot reproduce exactly.
    """
    path, _, net = _read(path)
    _check_format(path, _format(path, net))
    try:
        return _build(net)
    except _Malformed:
        raise PlayasError(f"{path} is corrupt: its weights are not a well-formed lc0 protobuf") from None
    except _Unusable as e:
        raise PlayasError(f"{path.name} {e}") from None


def card_for(path, net: ChessNet) -> dict:
    """A model card for ``net`` imported from the lc0 file ``path``: source, hash, format, size."""
    path, raw, top = _read(path)
    f = _format(path, top)
    try:
        version, tp = _sub(top, 3), _sub(top, 5)
        accuracy = _float(tp, 5)
    except _Malformed:
        raise PlayasError(f"{path} is corrupt: its header is not a well-formed lc0 protobuf") from None
    card = {
        "name": path.name.split(".")[0],
        "source": path.name,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "imported_from": "lc0",
        "lc0_format": {
            "min_version": ".".join(str(_int(version, i)) for i in (1, 2, 3)),
            "weights_encoding": "LINEAR16" if f["weights_encoding"] == LINEAR16 else f["weights_encoding"],
            "input": "classical 112 planes" if f["input"] == INPUT_CLASSICAL_112 else f["input"],
            "network": _NETWORKS.get(f["network"], f["network"]),
            "policy": _POLICIES.get(f["policy"], f["policy"]),
            "value": _VALUES.get(f["value"], f["value"]),
            "moves_left": {0: "none", 1: "v1"}.get(f["moves_left"], f["moves_left"]),
            "activation": "ReLU" if f["activation"] == ACTIVATION_RELU else f["activation"],
        },
    }
    if accuracy is not None:
        card["training_params"] = {"training_steps": _int(tp, 1), "accuracy": round(accuracy, 4)}
    card["network"] = {**net.config.to_dict(),
                       "parameters": sum(p.numel() for p in net.parameters())}
    card["licence"] = LICENCE
    return card
