"""The graph blocks of an imported QONNX model, judged per backend: BatchNorm (exact where the
reference's own arithmetic, evaluated on every accumulator value, has an exact hardware form:
frontends/qonnx/batchnorm.py), a residual Add and a channel Concat of two quantized
activations, and the mean over the whole map (ReduceMean, GlobalAveragePool, AveragePool).
"""
from __future__ import annotations

import math

import numpy as np

from ..frontends.qonnx.model import is_pow2
from .rows import Row, inexact, maps, scale_text, unmapped

BACKENDS = ("hls4ml", "finn")
GRID_OPS = ("MaxPool", "Reshape", "Flatten", "Identity", "Dropout")


def _all(verdict) -> dict:
    return {b: verdict for b in BACKENDS}


def judge_batchnorm(model, node, a, state) -> Row:
    from ..frontends.qonnx.batchnorm import affine, study

    s = study(model, node)
    fit = affine(s) if not isinstance(s, str) else s
    if isinstance(s, str):
        verdicts = _all(inexact(f"float BatchNorm: {s}"))
        what = "float BatchNorm"
    else:
        n = s.levels.shape[1]
        what = f"float BatchNorm, the reference's output evaluated on all {n} accumulator values"
        hls = inexact(f"float BatchNorm: {fit}") if isinstance(fit, str) else \
            maps(f"fixed-point gain and offset with {fit[2]} fraction bits, equal on every accumulator value")
        finn = maps("thresholds where the reference's output steps") if s.increasing() else \
            inexact("float BatchNorm with a negative gain (FINN's thresholds rise with the accumulator)")
        verdicts = {"hls4ml": hls, "finn": finn}
    state["add_layer"](node, {"type": "batchnorm", "activation": "none"}, [node.input[0]])
    return Row(node.name, node.op_type, what, verdicts)


def operand_grid(model, tensor: str) -> tuple[float, int, bool] | None:
    """(scale, bits, signed) of the per-tensor Quant (zero-point 0) whose integers `tensor`
    carries, through max pooling and reshapes; None where none does."""
    from ..frontends.qonnx.batchnorm import quant_grid, source_quant

    node = source_quant(model, tensor)
    found = quant_grid(model, node, pow2=False) if node is not None else None
    if found is None:
        return None
    scale, low, high = found
    return scale, int(high - low).bit_length(), low < 0


def judge_join(model, node, a, state) -> Row:
    """Add or Concat of two activations: exact where both operands are integers on one
    power-of-two grid (Brevitas: one shared quantizer on both), the sum or the channels
    then integers on it too."""
    kind = "add" if node.op_type == "Add" else "concat"
    if len(node.input) != 2:
        v = unmapped(f"{len(node.input)} operands: fpgaflow joins two (nest the joins)")
        return Row(node.name, node.op_type, f"{kind} of {len(node.input)}", _all(v))
    if kind == "concat":
        axis = next((x.i for x in node.attribute if x.name == "axis"), 1)
        if axis not in (1, -3) or len(model.get_tensor_shape(node.output[0])) != 4:
            v = unmapped(f"concatenation along axis {axis}: fpgaflow joins maps along their channels (axis 1)")
            return Row(node.name, node.op_type, "concat", _all(v))
    grids = [operand_grid(model, t) for t in node.input]
    what = f"{'residual add' if kind == 'add' else 'channel concat'} of two activations"
    if any(g is None for g in grids):
        verdict = unmapped("an operand is not a per-tensor Quant's output (quantize both operands)")
    elif grids[0][0] != grids[1][0]:
        verdict = unmapped(f"operands on two grids (scales {scale_text(grids[0][0])} and {scale_text(grids[1][0])}): "
                           f"quantize both with one shared quantizer")
    elif kind == "add" and not is_pow2(grids[0][0]):
        what += f" on one grid ({scale_text(grids[0][0])})"
        verdict = inexact(f"scale {scale_text(grids[0][0])} is not a power of two: the reference's float32 sum of two "
                          f"of its multiples is not always the multiple the integer sum gives")
    else:
        what += f" on one grid ({scale_text(grids[0][0])})"
        verdict = maps()
    bits = max(g[1] + (0 if g[2] else 1) for g in grids) if all(grids) else 8
    state["add_layer"](node, {"type": kind, **({"activation": "none"} if kind == "add" else {}), "operand_bits": bits},
              list(node.input))
    return Row(node.name, node.op_type, what, _all(verdict))


def _mean_window(model, node) -> tuple[int, str | None]:
    """(pixels averaged, why it is not a mean over the whole map or None)."""
    shape = model.get_tensor_shape(node.input[0])
    if shape is None or len(shape) != 4:
        return 0, "it does not read a (N, C, H, W) map"
    pixels = int(shape[2] * shape[3])
    attrs = {x.name: x for x in node.attribute}
    if node.op_type == "ReduceMean":
        axes = list(attrs["axes"].ints) if "axes" in attrs else (
            [int(v) for v in np.asarray(model.get_initializer(node.input[1])).reshape(-1)]
            if len(node.input) > 1 and model.get_initializer(node.input[1]) is not None else None)
        keep = attrs["keepdims"].i if "keepdims" in attrs else 1
        if axes is None or sorted(x % 4 for x in axes) != [2, 3] or not keep:
            return pixels, f"ReduceMean over axes {axes} (keepdims {keep}): fpgaflow maps the mean over H and W, kept"
    elif node.op_type == "AveragePool":
        kernel, pads = list(attrs["kernel_shape"].ints), list(attrs["pads"].ints) if "pads" in attrs else [0] * 4
        strides = list(attrs["strides"].ints) if "strides" in attrs else [1, 1]
        if kernel != list(shape[2:]) and (len(set(kernel)) != 1 or strides != kernel or any(pads)):
            return math.prod(kernel), (f"average pooling {'x'.join(map(str, kernel))}, stride {strides}, padding "
                                       f"{pads}: fpgaflow maps square windows, stride = window, no padding")
        return math.prod(kernel), None
    return pixels, None


def judge_mean(model, node, a, state) -> Row:
    """The mean of each channel over the whole map: exact over 2^k pixels of a power-of-two
    Quant's integers (the sum is an integer, the division a shift both back ends keep)."""
    pixels, problem = _mean_window(model, node)
    grid = operand_grid(model, node.input[0])
    shape = model.get_tensor_shape(node.input[0])
    whole = problem is not None or pixels == shape[2] * shape[3]
    side = int(math.isqrt(pixels))
    what = f"global average over {pixels} pixels" if whole else f"average pooling {side}x{side} (mean of {pixels})"
    if problem is None and pixels & (pixels - 1):
        problem = f"the mean over {pixels} pixels (not 2^k) has no exact fixed-point value: pool to a 2^k-pixel map"
    if problem is None and grid is None:
        problem = "it reads no per-tensor Quant's output (quantize before the mean)"
    if problem is None:
        state["add_layer"](node, {"type": "global_avgpool"} if whole else {"type": "avgpool", "kernel": side},
                           [node.input[0]])
    verdict = unmapped(problem) if problem else maps() if is_pow2(grid[0]) else \
        inexact(f"the mean of integers times {scale_text(grid[0])} (not a power of two) in float32 is not exact")
    return Row(node.name, node.op_type, what, _all(verdict))


def judge_trunc(model, node, a, state) -> Row:
    """Brevitas' TruncAvgPool2d cuts the window sum's low bits: a Quant at the output scale
    where the scales are powers of two (frontends/qonnx/pooling.py), exact as any Quant."""
    values = [model.get_initializer(i) for i in node.input[1:]]
    if len(node.input) != 6 or any(v is None or np.asarray(v).size != 1 for v in values):
        return Row(node.name, node.op_type, "Trunc", _all(unmapped("a Trunc with computed scales or the older "
                                                                    "five-input form: export with a current Brevitas")))
    scale, out_scale, bits = float(values[0]), float(values[3]), int(values[4])
    mode = next((x.s.decode() for x in node.attribute if x.name == "rounding_mode"), "FLOOR").upper()
    what = f"truncation to {bits} bits at scale {scale_text(out_scale)}, {mode}"
    if not (is_pow2(scale) and is_pow2(out_scale)) or np.any(values[1]):
        return Row(node.name, node.op_type, what, _all(inexact("scales not powers of two or a zero-point: the cut "
                                                               "is not on a fixed-point grid")))
    if mode not in ("ROUND", "FLOOR"):
        return Row(node.name, node.op_type, what, _all(inexact(f"{mode} rounding: fpgaflow reproduces ROUND and FLOOR")))
    state["set"](node.input[0], "act_bits", bits)
    return Row(node.name, node.op_type, what, _all(maps("a Quant at the output scale")))


