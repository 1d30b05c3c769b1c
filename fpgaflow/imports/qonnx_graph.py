"""Read an imported QONNX graph node by node: what each node is, whether hls4ml and FINN map
it, whether it can be bit-exact there, and the network it amounts to in fpgaflow's layers.

The rules are data: NODE_RULES maps an op type to the function that judges a node of it.
Exactness needs integers on power-of-two grids on both sides: zero-points 0, power-of-two
scales, biases quantized, rounding both sides reproduce (QONNX ROUND is half to even: hls4ml's
AP_RND_CONV is the same, FINN's thresholds are placed for it; FLOOR is AP_TRN and thresholds
at the grid points). Float arithmetic left in the graph (scalar Mul/Add) cannot be exact in
hls4ml's fixed point; FINN folds it into thresholds, exact unless a float lands on a threshold.
A BatchNorm after a layer whose accumulator is an integer on a power-of-two grid is the
exception: its reference output is evaluated on every accumulator value (qonnx_blocks.py).
The graph's blocks (BatchNorm, Add, Concat, the global mean) are judged in qonnx_blocks.py;
each node that makes a spec layer names it after itself and names its inputs.
"""
from __future__ import annotations

import math
import re

import numpy as np

from ..core.layers import INPUT
from ..frontends.qonnx.model import int_range, is_pow2
from . import qonnx_blocks as blocks
from .rows import UNQUANTIZED_INPUT, Analysis, Row, inexact, maps, scale_text, unmapped

BACKENDS = ("hls4ml", "finn")
WEIGHTED_OPS = ("Conv", "Gemm", "MatMul")
PASS_OPS = ("Identity", "Dropout")
ACTIVATED_TYPES = ("conv", "dwconv", "dense", "batchnorm", "add")   # the spec layers with activation, act_bits
FLOAT_AFFINE = ("Mul", "Div", "Sub", "Add")
INSTEAD = {
    "Sigmoid": "a ReLU followed by a Quant activation",
    "Tanh": "a signed Quant activation (QuantIdentity / QuantHardTanh)",
    "HardTanh": "a signed Quant activation (QuantIdentity)",
    "Softmax": "it at the model's end only, where it runs on the host after the hardware",
    "LogSoftmax": "it at the model's end only, where it runs on the host after the hardware",
    "BipolarQuant": "a 2-bit or wider Quant (fpgaflow's layers take 2..16 bits)",
}


def _init(model, name):
    v = model.get_initializer(name)
    return None if v is None else np.asarray(v, dtype=np.float64)


def quant_params(model, node) -> dict:
    from qonnx.custom_op.registry import getCustomOp

    inst = getCustomOp(node)
    scale, zero, bits = (_init(model, node.input[i]) for i in (1, 2, 3))
    return {"scale": scale, "zero": zero, "bits": bits, "signed": bool(inst.get_nodeattr("signed")),
            "narrow": bool(inst.get_nodeattr("narrow")), "rounding": inst.get_nodeattr("rounding_mode").upper()}


def _quant_problems(p: dict) -> list[str]:
    """Why a Quant's values cannot be held exactly in fixed point (empty: they can)."""
    out = []
    if p["scale"] is None or p["zero"] is None or p["bits"] is None:
        return ["its scale, zero-point or bit width is computed, not a constant"]
    if np.any(p["zero"] != 0):
        out.append("zero-point is not 0")
    if not is_pow2(p["scale"]):
        out.append(f"scale {scale_text(p['scale'])} is not a power of two (fixed point holds k x 2^n only)")
    if np.asarray(p["bits"]).size != 1 or float(p["bits"].reshape(-1)[0]) != int(p["bits"].reshape(-1)[0]):
        out.append("bit width is not one integer")
    return out


def _bits(p: dict) -> int:
    return int(np.asarray(p["bits"]).reshape(-1)[0]) if p["bits"] is not None else 0


def _judge_quant(model, node, a: Analysis, state: dict) -> Row:
    p = quant_params(model, node)
    problems = _quant_problems(p)
    bits = _bits(p)
    sign = "signed" if p["signed"] else "unsigned"
    if model.get_initializer(node.input[0]) is not None:
        consumer = (model.find_consumers(node.output[0]) or [None])[0]
        is_bias = consumer is not None and (consumer.op_type == "Add" or (
            consumer.op_type in ("Conv", "Gemm") and len(consumer.input) > 2 and consumer.input[2] == node.output[0]))
        role = "bias" if is_bias else "weights"
        if not is_bias and consumer is not None:
            state.setdefault("weight_bits", {})[consumer.name] = bits
        what = f"{role} of {consumer.name if consumer is not None else '?'}: {bits}-bit {sign}, scale {scale_text(p['scale'])}"
        if not 2 <= bits <= (32 if role == "bias" else 16):
            v = unmapped(f"{bits}-bit {role}: fpgaflow takes 2..16-bit weights")
            return Row(node.name, node.op_type, what, {b: v for b in BACKENDS})
        hls = inexact("; ".join(problems)) if problems else maps()
        finn = inexact("; ".join(problems)) if problems and role == "bias" or "zero-point is not 0" in problems else \
            (maps("non-power-of-two scale folded into thresholds") if problems else maps())
        return Row(node.name, node.op_type, what, {"hls4ml": hls, "finn": finn})
    is_input = node.input[0] == model.graph.input[0].name
    what = (f"{'input' if is_input else 'activation'} quantizer: {bits}-bit {sign}, "
            f"scale {scale_text(p['scale'])}, {p['rounding']}")
    state["in_bits"] = bits + (0 if p["signed"] else 1)   # what the next weighted layer reads, sign included
    if is_input:
        scale = np.asarray(p["scale"]).reshape(-1) if p["scale"] is not None else None
        if scale is not None and len(scale) == 1:
            low, high = int_range(bits, p["signed"], p["narrow"])
            a.input_quant = {"bits": bits, "scale": float(scale[0]), "min": low, "max": high,
                             "rounding": p["rounding"] if p["rounding"] in ("ROUND", "FLOOR") else "ROUND"}
        state["act_bits"] = bits
    else:
        state["set"](node.input[0], "act_bits", bits)
    if np.asarray(p["scale"]).size > 1 if p["scale"] is not None else False:
        v = unmapped("per-channel activation scales: use a per-tensor activation quantizer")
        return Row(node.name, node.op_type, what, {b: v for b in BACKENDS})
    if p["rounding"] not in ("ROUND", "FLOOR"):
        v = inexact(f"{p['rounding']} rounding: hls4ml and FINN reproduce ROUND (half to even) and FLOOR")
        return Row(node.name, node.op_type, what, {b: v for b in BACKENDS})
    if not 1 <= bits <= 16:
        v = unmapped(f"{bits}-bit activation: fpgaflow takes 1..16 bits")
        return Row(node.name, node.op_type, what, {b: v for b in BACKENDS})
    if problems:
        v = "; ".join(problems)
        finn = maps("the input scale moves into the first thresholds") if is_input and "zero-point is not 0" not in v \
            else (inexact(v) if "zero-point" in v else maps("non-power-of-two scale folded into thresholds"))
        return Row(node.name, node.op_type, what, {"hls4ml": inexact(v), "finn": finn})
    return Row(node.name, node.op_type, what, {b: maps() for b in BACKENDS})


def _attr(node, name, default=None):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _judge_weighted(model, node, a: Analysis, state: dict) -> Row:
    w_shape = model.get_tensor_shape(node.input[1])
    out_shape = model.get_tensor_shape(node.output[0])
    wbits = state.get("weight_bits", {}).get(node.name)
    if node.op_type == "Conv":
        kernel, strides = _attr(node, "kernel_shape", w_shape[2:]), _attr(node, "strides", [1, 1])
        pads, dil, group = _attr(node, "pads", [0, 0, 0, 0]), _attr(node, "dilations", [1, 1]), _attr(node, "group", 1)
        in_ch = model.get_tensor_shape(node.input[0])[1]
        problems = [msg for bad, msg in (
            (len(kernel) != 2 or kernel[0] != kernel[1], f"kernel {list(kernel)} is not square"),
            (len(set(strides)) != 1, f"strides {list(strides)} differ"),
            (len(set(pads)) > 1, f"padding {list(pads)} is not the same on every side"),
            (any(d != 1 for d in dil), f"dilation {list(dil)}"),
            (group != 1 and (group != in_ch or out_shape[1] != in_ch),
             f"{group} groups of {in_ch} channels (fpgaflow maps plain and depthwise convs)"),
        ) if bad]
        depthwise = group > 1 and group == in_ch
        layer = {"type": "dwconv" if depthwise else "conv", "kernel": int(kernel[0]), "stride": int(strides[0]),
                 "padding": int(pads[0]) if pads else 0, "name": node.name.lower()}
        if not depthwise:
            layer["filters"] = int(out_shape[1])
        what = f"{'depthwise ' if depthwise else ''}conv {kernel[0]}x{kernel[0]}, {out_shape[1]} channels"
    else:
        w_const = model.get_initializer(node.input[1]) is not None or model.find_producer(node.input[1]) is not None
        problems = [] if w_const else ["its second input is not a weight matrix"]
        layer = {"type": "dense", "units": int(out_shape[-1]), "name": node.name.lower()}
        what = f"dense {model.get_tensor_shape(node.input[0])[-1]} -> {out_shape[-1]}"
    if wbits is None:
        problems.append("its weights are not quantized (no Quant on them)")
    else:
        layer["weight_bits"] = wbits
        what += f", {wbits}-bit weights"
        fan_in = int(np.prod(w_shape[1:])) if node.op_type == "Conv" else int(model.get_tensor_shape(node.input[0])[-1])
        if state.get("in_bits"):
            # the widest sum of fan_in products: both tools size the accumulator from the quantizers
            # (hls4ml's auto precision, FINN's MinimizeAccumulatorWidth), so it never wraps
            what += f", accumulator <= {state['in_bits'] + wbits - 1 + math.ceil(math.log2(max(fan_in, 2)))} bits"
    layer["activation"] = "none"
    state["add_layer"](node, layer, [node.input[0]])
    if problems:
        v = unmapped("; ".join(problems))
        return Row(node.name, node.op_type, what, {b: v for b in BACKENDS})
    return Row(node.name, node.op_type, what, {b: maps() for b in BACKENDS})


def _judge_affine(model, node, a: Analysis, state: dict) -> Row:
    const = next((_init(model, i) for i in node.input if model.get_initializer(i) is not None), None)
    producer = model.find_producer(node.input[0])
    if node.op_type == "Add" and const is not None and producer is not None and producer.op_type in WEIGHTED_OPS:
        quantized = model.find_producer(node.input[1]) is not None or _on_pow2_grid(const)
        what = f"bias of {producer.name}"
        if quantized:
            return Row(node.name, node.op_type, what, {b: maps() for b in BACKENDS})
        v = inexact("float bias (not quantized)")
        return Row(node.name, node.op_type, what, {b: v for b in BACKENDS})
    if const is None and node.op_type == "Add":
        return blocks.judge_join(model, node, a, state)
    if const is None:
        v = unmapped(f"{node.op_type} of two activations: fpgaflow joins two activations by Add or Concat only")
        return Row(node.name, node.op_type, "elementwise on two activations", {b: v for b in BACKENDS})
    what = f"float {node.op_type} by a constant" + (f" ({scale_text(const)})" if const.size == 1 else "")
    if node.op_type == "Mul" and const.size == 1 and is_pow2(const):
        return Row(node.name, node.op_type, what, {b: maps("power-of-two scale") for b in BACKENDS})
    return Row(node.name, node.op_type, what, {
        "hls4ml": inexact("float arithmetic (hls4ml computes it in fixed point)"),
        "finn": inexact("float arithmetic: folded into thresholds (exact unless a value lands on one) or, after the "
                        "last layer, computed in float in another order")})


def _on_pow2_grid(values: np.ndarray, finest: int = -32) -> bool:
    v = np.asarray(values, dtype=np.float64)
    return bool(np.array_equal(v * 2.0 ** -finest, np.round(v * 2.0 ** -finest)))


def _judge_relu(model, node, a, state) -> Row:
    state["set"](node.input[0], "activation", "relu")
    return Row(node.name, node.op_type, "ReLU", {b: maps() for b in BACKENDS})


def _judge_pool(model, node, a, state) -> Row:
    kernel, strides = list(_attr(node, "kernel_shape", [])), list(_attr(node, "strides", [1, 1]))
    pads = list(_attr(node, "pads", [0, 0, 0, 0]))
    what = f"max pool {'x'.join(map(str, kernel))}, stride {strides[0]}"
    if len(kernel) != 2 or kernel[0] != kernel[1] or strides != kernel or any(pads):
        v = unmapped("fpgaflow's max pool takes square windows with stride = window and no padding")
        return Row(node.name, node.op_type, what, {b: v for b in BACKENDS})
    state["add_layer"](node, {"type": "maxpool", "kernel": int(kernel[0])}, [node.input[0]])
    return Row(node.name, node.op_type, what, {b: maps() for b in BACKENDS})


def _judge_flatten(model, node, a, state) -> Row:
    shape_in = model.get_tensor_shape(node.input[0])
    shape_out = model.get_tensor_shape(node.output[0])
    after_mean = state["types"].get(state["of"].get(node.input[0])) == "global_avgpool"
    if len(shape_in) == 4 and len(shape_out) == 2 and not after_mean:
        state["add_layer"](node, {"type": "flatten"}, [node.input[0]])
        return Row(node.name, node.op_type, "flatten", {b: maps() for b in BACKENDS})
    if node.input[0] == model.graph.input[0].name or shape_in == shape_out or len(shape_in) == len(shape_out) == 2 \
            or after_mean:
        return Row(node.name, node.op_type, f"reshape {shape_in} -> {shape_out}", {b: maps("layout only") for b in BACKENDS})
    v = unmapped(f"reshape {shape_in} -> {shape_out}: only flattening an image to a vector maps")
    return Row(node.name, node.op_type, "reshape", {b: v for b in BACKENDS})


def _judge_pass(model, node, a, state) -> Row:
    return Row(node.name, node.op_type, "no computation", {b: maps() for b in BACKENDS})


NODE_RULES = {
    "Quant": _judge_quant, "Conv": _judge_weighted, "Gemm": _judge_weighted, "MatMul": _judge_weighted,
    "Relu": _judge_relu, "MaxPool": _judge_pool, "Flatten": _judge_flatten, "Reshape": _judge_flatten,
    "BatchNormalization": blocks.judge_batchnorm, "Concat": blocks.judge_join, "Trunc": blocks.judge_trunc,
    **{op: blocks.judge_mean for op in ("ReduceMean", "GlobalAveragePool", "AveragePool")},
    **{op: _judge_affine for op in FLOAT_AFFINE},
    **{op: _judge_pass for op in PASS_OPS},
}


def analyse(model) -> Analysis:
    """The cleaned-up QONNX model (qonnx ModelWrapper) read node by node."""
    a = Analysis(format="qonnx", backends=BACKENDS)
    shape_in = model.get_tensor_shape(model.graph.input[0].name)
    shape_out = model.get_tensor_shape(model.graph.output[0].name)
    a.input_shape = [int(d) for d in shape_in[1:]]
    a.num_classes = int(np.prod(shape_out[1:]))
    state = _graph_state(model, a)
    first = (model.find_consumers(model.graph.input[0].name) or [None])[0]
    if first is None or first.op_type not in ("Quant", "BipolarQuant"):   # a BipolarQuant is judged as itself
        v = unmapped("the input is not quantized: `fpgaflow import` declares its grid from the data or --input-bits B "
                     "--input-int-bits I; or make a Quant (Brevitas' QuantIdentity) the model's first node")
        a.rows.append(Row(UNQUANTIZED_INPUT, first.op_type if first is not None else "-", "model input",
                          {b: v for b in BACKENDS}))
    for node in model.graph.node:
        rule = NODE_RULES.get(node.op_type)
        if rule is None:
            instead = INSTEAD.get(node.op_type, "conv, dense, max pool, flatten, ReLU, Quant, BatchNorm, Add, Concat "
                                                "and global average nodes")
            v = unmapped(f"no {node.op_type} in fpgaflow's mapping; use {instead}")
            a.rows.append(Row(node.name, node.op_type, node.op_type, {b: v for b in BACKENDS}))
        else:
            a.rows.append(rule(model, node, a, state))
        for out in node.output:     # a node that made no layer passes its input's layer on
            state["of"].setdefault(out, state["of"].get(node.input[0], INPUT) if node.input else INPUT)
    return a


def _graph_state(model, a: Analysis) -> dict:
    """The walk's state: the layer being finished, which spec layer each tensor comes from, and
    `add_layer`, which names a new layer after its node and names its inputs where it does not
    read the layer before it (a chain's design file keeps no `inputs`)."""
    state: dict = {"of": {model.graph.input[0].name: INPUT}, "types": {}}
    by_name: dict[str, dict] = {}

    def set_on(tensor: str, key: str, value) -> None:
        """A Relu or Quant finishes the layer its input comes from, where that layer has the key."""
        layer = by_name.get(state["of"].get(tensor, INPUT))
        if layer is not None and layer["type"] in ACTIVATED_TYPES:
            layer[key] = value

    def add_layer(node, layer: dict, sources: list[str]) -> None:
        name = re.sub(r"[^a-z0-9_]", "_", node.name.lower())
        name = name if re.match(r"^[a-z]", name) else f"n_{name}"
        inputs = [state["of"].get(t, INPUT) for t in sources]
        before = a.layers[-1]["name"] if a.layers else INPUT
        layer = {**layer, "name": name[:64], **({"inputs": inputs} if inputs != [before] else {})}
        if "type" in layer:
            layer = {"type": layer.pop("type"), **layer}
        a.layers.append(layer)
        by_name[layer["name"]], state["of"][node.output[0]] = layer, layer["name"]
        state["types"][layer["name"]] = layer["type"]

    state["add_layer"], state["set"] = add_layer, set_on
    return state
