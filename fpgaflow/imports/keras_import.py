"""QKeras model files (.h5): read with QKeras' custom objects (no Lambda or pickled code:
QKeras' own loader with compile=False), layer by layer like a QONNX graph, and copied into a
design folder. hls4ml's Keras front end is the only backend for them (FINN reads QONNX).

Exactness: weights and biases quantized with power-of-two scales (alpha 1 or a power of two
QKeras chooses, auto_po2), activations quantized_bits / quantized_relu (round half to even,
which hls4ml reproduces as AP_RND_CONV), no float BatchNorm left.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..core.errors import FpgaflowError
from .rows import Analysis, Row, inexact, maps, unmapped

BACKENDS = ("hls4ml",)
KERAS_NAME = "model.h5"
PASS = ("InputLayer", "Dropout")


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


def _activation(layer, a: Analysis, state: dict, first: bool) -> Row:
    name, kind = layer.name, type(layer).__name__
    q = _quantizer(getattr(layer, "quantizer", None))
    if q is None or q[0] not in ("quantized_bits", "quantized_relu"):
        what = getattr(layer, "activation", None)
        what = getattr(what, "__name__", str(what))
        if what == "relu" and not first:
            if state.get("layer") is not None:
                state["layer"]["activation"] = "relu"
            return Row(name, kind, "ReLU (float)", {"hls4ml": maps()})
        return Row(name, kind, f"activation {what}", {"hls4ml": unmapped(
            f"{what}: use quantized_relu or quantized_bits activations (QActivation)")})
    qkind, p = q
    scale, low, high = _grid(p)
    what = f"{'input' if first else 'activation'} {qkind}({p['bits']}, {p['integer']}): scale 2^{int(math.log2(scale))}"
    if first:
        a.input_quant = {"bits": p["bits"], "scale": scale, "min": low, "max": high, "rounding": "ROUND"}
    elif state.get("layer") is not None:
        if qkind == "quantized_relu":
            state["layer"]["activation"] = "relu"
        state["layer"]["act_bits"] = p["bits"]
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
        layer_spec = {"type": "conv", "name": name, "filters": int(layer.filters), "kernel": int(k[0]),
                      "stride": int(s[0]), "padding": (int(k[0]) - 1) // 2 if layer.padding == "same" else 0}
        what = f"conv {k[0]}x{k[1]}, {layer.filters} filters"
    else:
        layer_spec = {"type": "dense", "name": name, "units": int(layer.units)}
        what = f"dense -> {layer.units}"
    if kq is not None:
        layer_spec["weight_bits"] = kq[1]["bits"]
        what += f", {kq[1]['bits']}-bit weights"
    layer_spec["activation"] = "relu" if act in ("relu", "quantized_relu") else "none"
    if act not in ("linear", "relu"):
        problems.append(f"activation {act} inside the layer: put it in a QActivation")
    a.layers.append(layer_spec)
    state["layer"] = layer_spec
    return Row(name, kind, what, {"hls4ml": inexact("; ".join(problems)) if problems else maps()})


def _layout(layer, a: Analysis, state: dict) -> Row:
    name, kind = layer.name, type(layer).__name__
    if kind == "Flatten":
        if len(layer.input_shape) == 4:
            a.layers.append({"type": "flatten"})
        return Row(name, kind, "flatten", {"hls4ml": maps()})
    pool, strides = layer.pool_size, layer.strides
    if pool[0] != pool[1] or tuple(strides) != tuple(pool) or layer.padding != "valid":
        return Row(name, kind, "max pool", {"hls4ml": unmapped("square windows, stride = window, no padding")})
    a.layers.append({"type": "maxpool", "kernel": int(pool[0])})
    state["layer"] = None
    return Row(name, kind, f"max pool {pool[0]}x{pool[1]}", {"hls4ml": maps()})


RULES = {"QDense": _weighted, "QConv2D": _weighted, "Dense": _weighted, "Conv2D": _weighted,
         "MaxPooling2D": _layout, "Flatten": _layout}


def analyse(model, declared_input: dict | None = None) -> Analysis:
    """The model read layer by layer; `declared_input`: the input grid a built-in design
    declares in hls4ml (quant.input_bits) where no layer quantizes the input."""
    a = Analysis(format="keras", backends=BACKENDS, input_quant=declared_input)
    shape_in, shape_out = model.input_shape[1:], model.output_shape[1:]
    a.input_shape = [int(shape_in[2]), int(shape_in[0]), int(shape_in[1])] if len(shape_in) == 3 else \
        [int(d) for d in shape_in]
    a.num_classes = int(math.prod(shape_out))
    state: dict = {"layer": None}
    layers = [l for l in model.layers if type(l).__name__ not in PASS]
    for i, layer in enumerate(layers):
        kind = type(layer).__name__
        if kind in ("QActivation", "Activation", "ReLU"):
            a.rows.append(_activation(layer, a, state, first=i == 0 and declared_input is None))
        elif kind in RULES:
            a.rows.append(RULES[kind](layer, a, state))
        elif "BatchNormalization" in kind:
            a.rows.append(Row(layer.name, kind, "BatchNorm", {"hls4ml": inexact(
                "float BatchNorm (hls4ml computes it in fixed point)")}))
        else:
            a.rows.append(Row(layer.name, kind, kind, {"hls4ml": unmapped(
                f"no {kind} in fpgaflow's mapping; use QDense, QConv2D, MaxPooling2D, Flatten, QActivation")}))
    if a.input_quant is None:
        a.rows.insert(0, Row("(input)", "-", "model input", {"hls4ml": unmapped(
            "the input is not quantized: make QActivation(quantized_bits(...)) the model's first layer")}))
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
        return analyse(_load(design.weights))
    bits = design.spec["quant"]["input_bits"]
    declared = {"bits": bits, "scale": 2.0 ** -bits, "min": 0, "max": 2 ** bits - 1, "rounding": "FLOOR"}
    return analyse(_load(design.framework.fn("export")(design, build_root)), declared)
