"""QKeras model files (.h5): read with QKeras' custom objects (no Lambda or pickled code:
QKeras' own loader with compile=False), layer by layer along the functional graph like a QONNX
graph, and copied into a design folder. hls4ml's Keras front end is the only backend for them
(FINN reads QONNX). Each spec layer carries its Keras layer's name and, where it reads other
than the layer before it, its `inputs`: residual adds, concatenations and global average
pooling read as in a design file (docs/graphs.md).

Exactness: weights and biases quantized with power-of-two scales (alpha 1 or a power of two
QKeras chooses, auto_po2), activations quantized_bits / quantized_relu (round half to even,
which hls4ml reproduces as AP_RND_CONV), no float BatchNorm left; a global average over 2^k
pixels (fpgaflow gives the mean k more fraction bits).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

from ..core.errors import FpgaflowError
from ..core.layers import INPUT, WEIGHTED
from .rows import UNQUANTIZED_INPUT, Analysis, Row, inexact, maps, unmapped

BACKENDS = ("hls4ml",)
KERAS_NAME = "model.h5"
PASS = ("InputLayer", "Dropout")
# the spec layers an activation after them merges into (a conv's, a dense's or an add's ReLU)
ACTIVATED = (*WEIGHTED, "add")
# hls4ml's ModelGraph names its input so and stops on a layer of that name
HLS4ML_RESERVED = "input"


def _load(path: Path):
    from ..frontends.qkeras.model import load_exported

    try:
        return load_exported(path)
    except FpgaflowError:
        raise
    except Exception as e:   # h5py/Keras raise many kinds on a file they cannot read
        raise FpgaflowError(f"{path}: not a Keras model file fpgaflow can read ({str(e).strip().splitlines()[0]})") \
            from None


def _quantizer(q) -> tuple[str, dict] | None:
    """(kind, {bits, integer, signed, alpha}) of a QKeras quantizer object, None if none."""
    if q is None:
        return None
    kind = type(q).__name__
    return kind, {"bits": int(getattr(q, "bits", 0)), "integer": int(getattr(q, "integer", 0)),
                  "signed": bool(getattr(q, "keep_negative", kind != "quantized_relu")), "alpha": getattr(q, "alpha", None)}


def _alpha_problem(alpha) -> str | None:
    if alpha is None or alpha == "auto_po2":
        return None
    if isinstance(alpha, (int, float)) and alpha > 0 and math.log2(alpha) == int(math.log2(alpha)):
        return None
    return f"alpha {alpha!r} is not a power of two (fixed point holds k x 2^n only)"


def _grid(p: dict) -> tuple[float, int, int]:
    """(scale, min, max) of quantized_bits / quantized_relu's integers."""
    frac = p["bits"] - p["integer"] - (1 if p["signed"] else 0)
    low, high = (-(2 ** (p["bits"] - 1)), 2 ** (p["bits"] - 1) - 1) if p["signed"] else (0, 2 ** p["bits"] - 1)
    return 2.0 ** -frac, low, high


def _inbound(layer) -> list:
    """The Keras layers a layer reads (a model file applies each layer once: its first call)."""
    if not layer._inbound_nodes:
        return []
    ins = layer._inbound_nodes[0].inbound_layers
    return list(ins) if isinstance(ins, (list, tuple)) else [ins]


def _spec_name(keras_name: str, taken: dict) -> str:
    """The Keras name as fpgaflow's NAME_RE takes it: lower case, [a-z0-9_], a letter first,
    unique, never `input` (the model's input in a design's `inputs`)."""
    base = re.sub(r"[^a-z0-9_]", "_", keras_name.lower())
    base = (base if base[:1].isalpha() else f"l_{base}")[:56]
    name, n = base, 1
    while name in taken or name == INPUT:
        n += 1
        name = f"{base}_{n}"
    return name


def _emit(layer, params: dict, a: Analysis, state: dict) -> dict:
    """A spec layer for a Keras layer: named after it, with `inputs` only where it reads other
    than the layer emitted just before it (a chain reads as it always did)."""
    name = _spec_name(layer.name, state["specs"])
    ins = [state["out"][l.name] for l in _inbound(layer)]
    spec = {"type": params["type"], "name": name, **({"inputs": ins} if ins != [state["last"]] else {}),
            **{k: v for k, v in params.items() if k != "type"}}
    a.layers.append(spec)
    state["specs"][name], state["out"][layer.name], state["last"] = spec, name, name
    return spec


def _producer(layer, state: dict) -> str:
    """The spec layer whose output a layer reads (through layers that emit none)."""
    ins = _inbound(layer)
    return state["out"][ins[0].name] if ins else INPUT


def _activation(layer, a: Analysis, state: dict) -> Row:
    name, kind = layer.name, type(layer).__name__
    source = _producer(layer, state)
    first = source == INPUT and a.input_quant is None       # quantizes the model's input
    target = state["specs"].get(source)
    target = target if target is not None and target["type"] in ACTIVATED else None
    q = _quantizer(getattr(layer, "quantizer", None))
    if q is None or q[0] not in ("quantized_bits", "quantized_relu"):
        what = getattr(layer, "activation", None)
        what = getattr(what, "__name__", str(what))
        if what == "relu" and not first:
            if target is not None:
                target["activation"] = "relu"
            return Row(name, kind, "ReLU (float)", {"hls4ml": maps()})
        return Row(name, kind, f"activation {what}", {"hls4ml": unmapped(
            f"{what}: use quantized_relu or quantized_bits activations (QActivation)")})
    qkind, p = q
    scale, low, high = _grid(p)
    what = f"{'input' if first else 'activation'} {qkind}({p['bits']}, {p['integer']}): scale 2^{int(math.log2(scale))}"
    if first:
        a.input_quant = {"bits": p["bits"], "scale": scale, "min": low, "max": high, "rounding": "ROUND"}
    elif target is not None:
        if qkind == "quantized_relu":
            target["activation"] = "relu"
        target["act_bits"] = p["bits"]
    problem = _alpha_problem(p["alpha"])
    return Row(name, kind, what, {"hls4ml": inexact(problem) if problem else maps()})


def _weighted(layer, a: Analysis, state: dict) -> Row:
    name, kind = layer.name, type(layer).__name__
    kq, bq = _quantizer(getattr(layer, "kernel_quantizer_internal", None)), \
        _quantizer(getattr(layer, "bias_quantizer_internal", None))
    problems = []
    if kq is None:
        problems.append("float weights (no kernel_quantizer)")
    elif _alpha_problem(kq[1]["alpha"]):
        problems.append(_alpha_problem(kq[1]["alpha"]))
    if getattr(layer, "use_bias", False) and bq is None:
        problems.append("float bias (no bias_quantizer)")
    act = getattr(getattr(layer, "activation", None), "__name__", "linear")
    if kind.endswith("Conv2D"):
        k, s = layer.kernel_size, layer.strides
        if k[0] != k[1] or s[0] != s[1] or layer.padding not in ("valid", "same") or layer.dilation_rate != (1, 1):
            return Row(name, kind, "conv", {"hls4ml": unmapped(f"kernel {k}, strides {s}, padding {layer.padding}: "
                                                               f"square kernels, equal strides, no dilation")})
        params = {"type": "conv", "filters": int(layer.filters), "kernel": int(k[0]), "stride": int(s[0]),
                  "padding": (int(k[0]) - 1) // 2 if layer.padding == "same" else 0}
        what = f"conv {k[0]}x{k[1]}, {layer.filters} filters"
    else:
        params = {"type": "dense", "units": int(layer.units)}
        what = f"dense -> {layer.units}"
    if kq is not None:
        params["weight_bits"] = kq[1]["bits"]
        what += f", {kq[1]['bits']}-bit weights"
    params["activation"] = "relu" if act in ("relu", "quantized_relu") else "none"
    if act not in ("linear", "relu"):
        problems.append(f"activation {act} inside the layer: put it in a QActivation")
    _emit(layer, params, a, state)
    return Row(name, kind, what, {"hls4ml": inexact("; ".join(problems)) if problems else maps()})


def _layout(layer, a: Analysis, state: dict) -> Row:
    name, kind = layer.name, type(layer).__name__
    if kind == "Flatten":
        if len(layer.input_shape) == 4:
            _emit(layer, {"type": "flatten"}, a, state)
        return Row(name, kind, "flatten", {"hls4ml": maps()})
    pool, strides = layer.pool_size, layer.strides
    if pool[0] != pool[1] or tuple(strides) != tuple(pool) or layer.padding != "valid":
        return Row(name, kind, "max pool", {"hls4ml": unmapped("square windows, stride = window, no padding")})
    _emit(layer, {"type": "maxpool", "kernel": int(pool[0])}, a, state)
    return Row(name, kind, f"max pool {pool[0]}x{pool[1]}", {"hls4ml": maps()})


# a join's spec layer and what it computes; hls4ml types its result to hold every operand's
# value exactly (a merge one bit wider than the wider operand, a concatenation both grids)
JOINS = {"Add": ({"type": "add", "activation": "none"}, "sum"),
         "Concatenate": ({"type": "concat"}, "channels of")}


def _join(layer, a: Analysis, state: dict) -> Row:
    name, kind = layer.name, type(layer).__name__
    params, verb = JOINS[kind]
    ins = [state["out"][l.name] for l in _inbound(layer)]
    what = f"{verb} {' and '.join(ins)}"
    if len(ins) != 2 or len(set(ins)) != 2:
        return Row(name, kind, what, {"hls4ml": unmapped(
            f"{len(ins)} inputs ({', '.join(ins)}): hls4ml's merge layers join the outputs of two distinct "
            f"layers")})
    if kind == "Concatenate" and (len(layer.output_shape) != 4 or layer.axis not in (-1, 3)):
        return Row(name, kind, what, {"hls4ml": unmapped(
            f"axis {layer.axis} of {len(layer.output_shape)}-d tensors: fpgaflow concatenates maps' channels (axis -1)")})
    _emit(layer, dict(params), a, state)
    return Row(name, kind, what, {"hls4ml": maps()})


def _global_average(layer, a: Analysis, state: dict) -> Row:
    """Exact only as fpgaflow types it (backends/hls4ml/prepare.py): over 2^k pixels, the mean
    k bits finer than the quantized_relu QActivation it reads."""
    name, kind = layer.name, type(layer).__name__
    _, h, w, _ = layer.input_shape
    pixels, source = h * w, _inbound(layer)[0]
    what = f"global average over {h}x{w} pixels"
    if pixels & (pixels - 1):
        why = (f"mean over {pixels} pixels: hls4ml's fixed-point mean is exact only over 2^k "
               f"(make the map 2x2, 4x4, 8x4 ...)")
    elif type(getattr(source, "quantizer", None)).__name__ != "quantized_relu":
        why = (f"it reads {source.name} ({type(source).__name__}): the mean is typed from a quantized_relu "
               f"QActivation before it")
    elif getattr(layer, "keepdims", False) or layer.data_format != "channels_last":
        why = "keepdims or channels_first: fpgaflow pools channels-last maps to a vector"
    else:
        _emit(layer, {"type": "global_avgpool"}, a, state)
        return Row(name, kind, what, {"hls4ml": maps(f"the mean {pixels.bit_length() - 1} fraction bits finer")})
    return Row(name, kind, what, {"hls4ml": unmapped(why)})


def _batchnorm(layer, a: Analysis, state: dict) -> Row:
    return Row(layer.name, type(layer).__name__, "BatchNorm", {"hls4ml": inexact(
        "float BatchNorm (hls4ml computes it in fixed point)")})


def _unknown(layer, a: Analysis, state: dict) -> Row:
    kind = type(layer).__name__
    return Row(layer.name, kind, kind, {"hls4ml": unmapped(
        f"no {kind} in fpgaflow's mapping; use QDense, QConv2D, MaxPooling2D, Flatten, Add, Concatenate, "
        f"GlobalAveragePooling2D, QActivation")})


RULES = {"QDense": _weighted, "QConv2D": _weighted, "Dense": _weighted, "Conv2D": _weighted,
         "MaxPooling2D": _layout, "Flatten": _layout, "Add": _join, "Concatenate": _join,
         "GlobalAveragePooling2D": _global_average, "QActivation": _activation, "Activation": _activation,
         "ReLU": _activation, "BatchNormalization": _batchnorm, "QBatchNormalization": _batchnorm}


def _rule(kind: str):
    return RULES.get(kind) or (_batchnorm if "BatchNormalization" in kind else _unknown)


def analyse(model, declared_input: dict | None = None) -> Analysis:
    """The model read layer by layer along its graph; `declared_input`: the input grid a built-in
    design declares in hls4ml (quant.input_bits) where no layer quantizes the input."""
    a = Analysis(format="keras", backends=BACKENDS, input_quant=declared_input)
    shape_in, shape_out = model.input_shape[1:], model.output_shape[1:]
    a.input_shape = [int(shape_in[2]), int(shape_in[0]), int(shape_in[1])] if len(shape_in) == 3 else \
        [int(d) for d in shape_in]
    a.num_classes = int(math.prod(shape_out))
    # out: Keras layer -> the spec layer holding its value; layers that emit none pass theirs on.
    # The input layers first: a Sequential model's `layers` leaves them out
    state: dict = {"out": {l.name: INPUT for l in model._input_layers}, "specs": {}, "last": INPUT}
    for layer in model.layers:   # Keras orders a functional model's layers so each follows its inputs
        kind = type(layer).__name__
        if kind not in PASS:
            a.rows.append(_rule(kind)(layer, a, state))
        if layer.name == HLS4ML_RESERVED:
            a.rows.append(Row(layer.name, kind, "layer name", {"hls4ml": unmapped(
                f"hls4ml reserves the layer name '{HLS4ML_RESERVED}': rename it "
                f"(e.g. keras.Input(..., name='image'))")}))
        state["out"].setdefault(layer.name, _producer(layer, state))
    if not any("inputs" in l for l in a.layers):   # a chain: pools and flattens unnamed, as they always were
        a.layers = [l if l["type"] in WEIGHTED else {k: v for k, v in l.items() if k != "name"} for l in a.layers]
    if a.input_quant is None:
        a.rows.insert(0, Row(UNQUANTIZED_INPUT, "-", "model input", {"hls4ml": unmapped(
            "the input is not quantized: `fpgaflow import` declares its grid from the data, or from --input-bits B "
            "--input-int-bits I; or make QActivation(quantized_bits(...)) the model's first layer")}))
    return a


def read(path: Path):
    model = _load(path)
    analysis = analyse(model)

    def write(folder: Path) -> Path:
        out = Path(folder) / KERAS_NAME
        model.save(str(out), include_optimizer=False)
        return out

    return analysis, write


def analyse_design(design, build_root: Path):
    if design.framework.imported:
        q = design.spec["quant"]["input"]
        declared = {"bits": design.spec["quant"]["input_bits"], **q} if q.get("origin") else None
        return analyse(_load(design.weights), declared)
    bits = design.spec["quant"]["input_bits"]
    declared = {"bits": bits, "scale": 2.0 ** -bits, "min": 0, "max": 2 ** bits - 1, "rounding": "FLOOR"}
    return analyse(_load(design.framework.fn("export")(design, build_root)), declared)
