"""A float BatchNorm made exact: the reference's own arithmetic searched on every accumulator.

Between a conv (or dense) layer and the next activation Quant, an exported model computes
BatchNorm in float32: Quant(Relu?(BN(acc * g))), acc the layer's integer accumulator, g its
power-of-two grid. That is a function of the integer acc alone, monotone in it, and it takes
few enough values (the accumulator's range follows from the quantizers) to evaluate on every
one of them, with the model's own nodes executed as the reference executes them (qonnx:
onnxruntime's BatchNormalization, qonnx's Quant). Placing hardware on those results makes it
equal to the reference on every input, by construction, not on the images tried:

- FINN: thresholds at the accumulator values where the reference's output steps up
  (a MultiThreshold on acc * g, exact in float32 as well);
- hls4ml: a fixed-point affine (A acc + B) 2^-F, written back as a BatchNormalization with
  variance 1 and epsilon 0 (hls4ml's scale = gamma, bias = beta exactly), the smallest F for
  which it rounds to the reference's output on every accumulator value (checked in integers).

Where a piece is missing (the accumulator's range unknown, a grid that is not a power of two,
a range too wide to evaluate), `study` says why, and the node stays float (not exact).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from qonnx.transformation.base import Transformation

from .model import int_range, is_pow2

MAX_VALUES = 1 << 22        # accumulator values evaluated per channel at most
MAX_FRACTION_BITS = 24      # A and B stay exact in float32 initializers
PASS = ("MaxPool", "Reshape", "Flatten", "Identity")


@dataclass
class Study:
    """A BatchNorm's reference output on every accumulator value u (x = u * grid)."""
    bn: object
    relu: object | None
    quant: object
    grid: float
    lo: np.ndarray            # per channel, the accumulator's least value
    levels: np.ndarray        # (channels, values) the reference's output integers for u = lo + j
    low: int                  # the Quant's least integer
    high: int
    out_scale: float
    params: tuple             # gamma, beta, mean, variance (float64, per channel)
    epsilon: float

    @property
    def channels(self) -> int:
        return len(self.lo)

    def increasing(self) -> bool:
        return bool(np.all(np.diff(self.levels, axis=1) >= 0))

    def thresholds(self) -> np.ndarray:
        """(channels, high - low): for each level k > low, the least u whose output is >= k
        (one past the range when none is)."""
        k = np.arange(self.low + 1, self.high + 1)
        reached = self.levels[:, :, None] >= k[None, None, :]
        first = np.where(reached.any(axis=1), reached.argmax(axis=1), self.levels.shape[1])
        return self.lo[:, None] + first


def _init(model, name):
    v = model.get_initializer(name)
    return None if v is None else np.asarray(v, dtype=np.float64)


def _pow2_scalar(v) -> float | None:
    """The one value of `v` where it is a positive power of two, else None."""
    if v is None or v.size != 1 or not is_pow2(v) or float(v.reshape(())) < 0:
        return None
    return float(v.reshape(()))


def source_quant(model, tensor: str):
    """The activation Quant whose integers `tensor` carries (through pooling and reshapes)."""
    for _ in range(50):
        node = model.find_producer(tensor)
        if node is None or node.op_type not in PASS + ("Quant",):
            return None
        if node.op_type == "Quant":
            return node if model.get_initializer(node.input[0]) is None else None
        tensor = node.input[0]
    return None


def quant_grid(model, node, pow2: bool = True) -> tuple[float, int, int] | None:
    """(scale, least, greatest integer) of a per-tensor Quant with zero-point 0 and (`pow2`) a
    power-of-two scale."""
    from qonnx.custom_op.registry import getCustomOp

    scale, zero, bits = (_init(model, node.input[i]) for i in (1, 2, 3))
    if scale is None or scale.size != 1 or zero is None or np.any(zero) or bits is None or bits.size != 1:
        return None
    if pow2 and _pow2_scalar(scale) is None:
        return None
    inst = getCustomOp(node)
    low, high = int_range(int(bits.reshape(())), bool(inst.get_nodeattr("signed")), bool(inst.get_nodeattr("narrow")))
    return float(scale.reshape(())), low, high


def _weights(model, layer) -> tuple[np.ndarray, float] | str:
    """(integer weights as (out channels, fan-in), their power-of-two scale) or why not."""
    wq = model.find_producer(layer.input[1])
    if wq is None or wq.op_type != "Quant" or model.get_initializer(wq.input[0]) is None:
        return "its weights are not a Quant of constants"
    scale = _pow2_scalar(_init(model, wq.input[1]))
    if scale is None:
        return "its weight scale is not one power of two"
    w = np.round(_execute_quant(model, wq) / scale).astype(np.int64)
    if layer.op_type == "Conv":
        return w.reshape(w.shape[0], -1), scale
    trans_b = next((a.i for a in layer.attribute if a.name == "transB"), 0) if layer.op_type == "Gemm" else 0
    return (w if trans_b else w.T), scale


def _execute_quant(model, node) -> np.ndarray:
    from qonnx.custom_op.registry import getCustomOp

    context = {name: model.get_initializer(name) for name in node.input}
    getCustomOp(node).execute_node(context, model.graph)
    return np.asarray(context[node.output[0]], dtype=np.float64)


def _segment(model, bn):
    """(layer before, relu, quant) around a BatchNorm, or why it is not that pattern."""
    layer = model.find_producer(bn.input[0])
    if layer is None or layer.op_type not in ("Conv", "Gemm", "MatMul") or len(model.find_consumers(bn.input[0])) != 1:
        return "it does not read a conv or dense layer of its own"
    if len(layer.input) > 2 and layer.input[2]:
        return f"{layer.name} adds a bias before it (the reference's float sum then depends on its order)"
    nxt = model.find_consumers(bn.output[0]) or []
    relu = nxt[0] if len(nxt) == 1 and nxt[0].op_type == "Relu" else None
    after = model.find_consumers(relu.output[0]) if relu is not None else nxt
    if len(after or []) != 1 or after[0].op_type != "Quant":
        return "no activation Quant follows it (through at most a Relu)"
    return layer, relu, after[0]


def study(model, bn) -> Study | str:
    """The BatchNorm `bn` evaluated on every accumulator value of the layer before, or why not."""
    found = _segment(model, bn)
    if isinstance(found, str):
        return found
    if any(model.get_initializer(name) is None for name in bn.input[1:5]):
        return "its gain, offset, mean or variance is computed, not a constant"
    layer, relu, quant = found
    source = source_quant(model, layer.input[0])
    grid_in = quant_grid(model, source) if source is not None else None
    out = quant_grid(model, quant)
    weights = _weights(model, layer)
    if grid_in is None or out is None or isinstance(weights, str):
        return weights if isinstance(weights, str) else \
            "its input or output is not a per-tensor power-of-two Quant (zero-point 0)"
    (s_in, low_in, high_in), (w, s_w) = grid_in, weights
    low_in, high_in = min(low_in, 0), max(high_in, 0)       # padding adds zeros
    lo = np.minimum(w * low_in, w * high_in).sum(axis=1)
    hi = np.maximum(w * low_in, w * high_in).sum(axis=1)
    width = int((hi - lo).max()) + 1
    if width > MAX_VALUES or max(abs(lo).max(), abs(hi).max()) >= 1 << 24:
        return f"its accumulator spans {width} values (more than fpgaflow evaluates, {MAX_VALUES})"
    levels = _reference_levels(model, bn, relu, quant, lo, width, s_in * s_w, layer.op_type == "Conv")
    params = tuple(_init(model, name).reshape(-1) for name in bn.input[1:5])
    epsilon = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
    return Study(bn, relu, quant, s_in * s_w, lo, levels, out[1], out[2], out[0], params, epsilon)


def _reference_levels(model, bn, relu, quant, lo, width, grid, image: bool) -> np.ndarray:
    """The reference's output integers for u = lo + j, j < width, every channel: the model's own
    BatchNormalization, Relu and Quant nodes executed by qonnx on x = u * grid."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    channels, chunk = len(lo), min(width, 1 << 16)
    shape = [chunk, channels, 1, 1] if image else [chunk, channels]
    nodes = [n for n in (bn, relu, quant) if n is not None]
    params = [i for n in nodes for i in n.input if model.get_initializer(i) is not None]
    graph = helper.make_graph(
        [helper.make_node(n.op_type, list(n.input), list(n.output), name=n.name, domain=n.domain,
                          **{a.name: helper.get_attribute_value(a) for a in n.attribute}) for n in nodes],
        "batchnorm", [helper.make_tensor_value_info(bn.input[0], TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(quant.output[0], TensorProto.FLOAT, shape)],
        [helper.make_tensor(p, TensorProto.FLOAT, model.get_initializer(p).shape,
                            np.asarray(model.get_initializer(p), np.float32).reshape(-1).tolist()) for p in params])
    small = ModelWrapper(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])).transform(InferShapes())
    out_scale = float(np.asarray(model.get_initializer(quant.input[1])).reshape(()))
    levels = np.empty((channels, width), dtype=np.int64)
    for start in range(0, width, chunk):
        j = np.minimum(np.arange(start, start + chunk), width - 1)     # the last chunk repeats its end
        x = ((lo[None, :] + j[:, None]) * grid).astype(np.float32).reshape(shape)
        y = execute_onnx(small, {bn.input[0]: x})[quant.output[0]]
        levels[:, j] = np.round(np.asarray(y, np.float64).reshape(chunk, channels) / out_scale).T
    return levels


def _round_half_even(n: np.ndarray, shift: int) -> np.ndarray:
    if shift <= 0:
        return n << -shift
    q = n >> shift
    r = n - (q << shift)
    half = 1 << (shift - 1)
    return q + ((r > half) | ((r == half) & ((q & 1) == 1)))


def affine(s: Study) -> tuple[np.ndarray, np.ndarray, int] | str:
    """(A, B, F) per channel: Quant(Relu?((A u + B) 2^-F)) equals the reference on every
    accumulator value u (checked in integers). Per channel the gain is the float gain rounded
    to the fewest fraction bits that leave an offset doing it; the channels then share the
    most bits any needs. Or why none within 24 bits does."""
    gamma, _, _, var = s.params
    gain = gamma / np.sqrt(var + s.epsilon) * s.grid          # per unit of u
    u = s.lo[:, None] + np.arange(s.levels.shape[1], dtype=np.int64)[None, :]
    found = [_channel_affine(float(gain[c]), u[c], c, s) for c in range(s.channels)]
    if any(f is None for f in found):
        return (f"no fixed-point gain and offset with up to {MAX_FRACTION_BITS} fraction bits rounds like the "
                f"reference's float32 on every accumulator value (channel {found.index(None)})")
    bits = max(f[2] for f in found)
    a = np.array([f[0] << (bits - f[2]) for f in found], dtype=np.int64)
    b = np.array([f[1] << (bits - f[2]) for f in found], dtype=np.int64)
    if max(abs(a).max(), abs(b).max()) >= 1 << MAX_FRACTION_BITS:
        return f"the channels' fixed-point gains and offsets need more than {MAX_FRACTION_BITS} bits together"
    return a, b, bits


def _channel_affine(gain: float, u: np.ndarray, c: int, s: Study) -> tuple[int, int, int] | None:
    """(A, B, F) for one channel, F as small as it goes."""
    levels = s.levels[c]
    bottom = (levels <= s.low) | ((levels <= 0) if s.relu is not None else False)
    for bits in range(0, MAX_FRACTION_BITS + 1):
        # the float gain's neighbours on the grid: a tie of the real affine that the reference's
        # float32 breaks one way is met by the neighbour on that side
        for a in dict.fromkeys((round(gain * 2.0 ** bits), math.floor(gain * 2.0 ** bits), math.ceil(gain * 2.0 ** bits))):
            b = _offset(int(a), bits, u, levels, bottom, s)
            if b is not None:
                return int(a), b, bits
    return None


def _offset(a: int, bits: int, u: np.ndarray, levels: np.ndarray, bottom: np.ndarray, s: Study) -> int | None:
    """An integer B with Quant((a u + B) 2^-bits) == levels at every u, or None: the ends of
    the room every u leaves (a tie of the reference's is met only at an end) and one inside."""
    unit = s.out_scale * 2.0 ** bits                           # one output level in units of 2^-bits
    lo = (np.where(bottom, -np.inf, (levels - 0.5) * unit) - a * u).max()
    hi = (np.where(levels >= s.high, np.inf, (levels + 0.5) * unit) - a * u).min()
    if lo > hi:
        return None
    ends = [x for x in (lo, hi) if math.isfinite(x)]
    candidates = [math.ceil(ends[0]), math.floor(ends[0]) + 1, math.floor(ends[-1]), math.ceil(ends[-1]) - 1] \
        if ends else [0]
    shift = bits + int(math.log2(s.out_scale))
    return next((b for b in dict.fromkeys(int(x) for x in candidates)
                 if lo <= b <= hi and np.array_equal(_hardware(a, b, u, shift, s), levels)), None)


def _hardware(a: int, b: int, u: np.ndarray, shift: int, s: Study) -> np.ndarray:
    n = a * u + b
    if s.relu is not None:
        n = np.maximum(n, 0)
    return np.clip(_round_half_even(n, shift), s.low, s.high)


def _replace_with(model, s: Study, nodes: list, removed: list) -> None:
    graph = model.graph
    index = list(graph.node).index(s.bn)
    for n in reversed(nodes):
        graph.node.insert(index, n)
    for n in removed:
        graph.node.remove(n)


def _const(model, values: np.ndarray) -> str:
    name = model.make_new_valueinfo_name()
    model.set_initializer(name, np.asarray(values, dtype=np.float32))
    return name


class BatchNormToThresholds(Transformation):
    """FINN: each BatchNorm whose reference output `study` evaluates (and rises with the
    accumulator) and the Relu and Quant after it -> a MultiThreshold at the accumulator values
    where that output steps up, times the Quant's scale (QuantActToMultiThreshold's form)."""

    def apply(self, model):
        from onnx import helper
        from qonnx.core.datatype import DataType

        # last first: a study reads the Quant before its layer, which an earlier one replaces
        for bn in reversed(list(model.graph.node)):
            s = study(model, bn) if bn.op_type == "BatchNormalization" else None
            if s is None or isinstance(s, str) or not s.increasing():
                continue
            image = len(model.get_tensor_shape(bn.input[0])) == 4
            dtype = DataType[f"INT{int(s.high).bit_length() + 1}" if s.low < 0 else f"UINT{int(s.high).bit_length()}"]
            counted = model.make_new_valueinfo_name()
            threshold = helper.make_node(
                "MultiThreshold", [bn.input[0], _const(model, s.thresholds() * s.grid)], [counted],
                domain="qonnx.custom_op.general", out_dtype=dtype.name, out_bias=float(s.low),
                name=f"{bn.name}_thresholds", **({"data_layout": "NCHW"} if image else {}))
            rescale = helper.make_node("Mul", [counted, _const(model, np.float32(s.out_scale))], [s.quant.output[0]],
                                       name=f"{bn.name}_scale")
            model.set_tensor_shape(counted, model.get_tensor_shape(s.quant.output[0]))
            _replace_with(model, s, [threshold, rescale], [n for n in (bn, s.relu, s.quant) if n is not None])
            model.set_tensor_datatype(counted, dtype)
            return model, True
        return model, False


class BatchNormToFixedPoint(Transformation):
    """hls4ml: each BatchNorm with an exact fixed-point `affine` gets gamma = A 2^-F / grid,
    beta = B 2^-F, mean 0, variance 1, epsilon 0: hls4ml's scale and bias are then those
    numbers exactly (its scale is gamma / sqrt(variance + epsilon))."""

    def apply(self, model):
        from onnx import helper

        for bn in model.graph.node:
            if bn.op_type != "BatchNormalization":
                continue
            s = study(model, bn)
            fit = affine(s) if not isinstance(s, str) else s
            if isinstance(fit, str):
                continue
            a, b, bits = fit
            ones = np.ones(s.channels)
            for name, value in zip(bn.input[1:5], (a * 2.0 ** -bits / s.grid, b * 2.0 ** -bits, 0 * ones, ones)):
                model.set_initializer(name, np.asarray(value, dtype=np.float32))
            kept = [attr for attr in bn.attribute if attr.name != "epsilon"]
            del bn.attribute[:]
            bn.attribute.extend([*kept, helper.make_attribute("epsilon", 0.0)])
        return model, False
