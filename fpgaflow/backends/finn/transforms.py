"""QONNX graph transformations that make FINN's model equal Brevitas' bit for bit.

Each is a qonnx `Transformation` (apply returns the new model and whether to run again), so
it can be tested alone and composed with FINN's own. They run on the cleaned-up QONNX export,
before FINN's ConvertQONNXtoFINN.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from ...core.errors import FpgaflowError
from ...frontends.qonnx.model import int_range

# inputs of these ops that hold a bias (index into node.input)
_BIAS_INPUT = {"Conv": 2, "Gemm": 2}


def _scalar(model, name: str, what: str, node) -> float:
    value = model.get_initializer(name)
    if value is None or np.asarray(value).size != 1:
        raise FpgaflowError(f"FINN backend: {node.op_type} node '{node.name}' needs a constant per-tensor {what}; "
                            f"use per-tensor quantizers in the design")
    return float(np.asarray(value).reshape(()))


class FoldBiasQuant(Transformation):
    """Replace each bias Quant by the constant it produces.

    Brevitas exports a bias quantizer's zero-point as a 0-d array, which qonnx's
    ExtractBiasFromConv cannot reshape. A bias on the accumulator grid (integer x power of two)
    is exact in float32, so the folded constant is the very value Brevitas adds.
    """

    def apply(self, model):
        graph = model.graph
        for node in list(graph.node):
            if node.op_type != "Quant" or model.get_initializer(node.input[0]) is None:
                continue
            consumers = model.find_consumers(node.output[0]) or []
            if not consumers or not all(
                    _BIAS_INPUT.get(c.op_type) is not None and len(c.input) > _BIAS_INPUT[c.op_type]
                    and c.input[_BIAS_INPUT[c.op_type]] == node.output[0] for c in consumers):
                continue
            context = {name: model.get_initializer(name) for name in node.input}
            context[node.output[0]] = None
            getCustomOp(node).execute_node(context, graph)
            model.set_initializer(node.output[0], np.asarray(context[node.output[0]], dtype=np.float32))
            graph.node.remove(node)
            return model, True
        return model, False


class QuantActToMultiThreshold(Transformation):
    """Activation Quant nodes (FLOOR or ROUND) -> MultiThreshold at exactly the right points.

    FLOOR: floor(x / s) >= k  <=>  x >= k * s: thresholds at k * s with FINN's inclusive (>=)
    comparison, ties included. ROUND is half to even (QONNX, numpy, torch): round(x / s) >= k
    <=> x > (k - 1/2) s for odd k (a tie rounds down to the even k - 1) and x >= (k - 1/2) s
    for even k. Where the input's grid g is known (grid.py) and (k - 1/2) s lies on it, the
    strict comparison becomes x >= (k - 1/2) s + g / 2: no value of x lies between, and half
    a grid step is a margin no later float rescaling of the thresholds can erase. FINN's own
    handler puts every threshold at (k - 1/2) s (ties up) and disagrees with FLOOR on every
    input between the two. A Relu in front is dropped when the grid starts at 0 (every
    threshold is then positive, so relu(x) >= t <=> x >= t).
    """

    def apply(self, model):
        from .grid import grid

        graph = model.graph
        for index, node in enumerate(graph.node):
            if node.op_type != "Quant" or model.get_initializer(node.input[0]) is not None:
                continue
            inst = getCustomOp(node)
            mode = inst.get_nodeattr("rounding_mode").upper()
            if mode not in ("FLOOR", "ROUND"):
                continue
            scale = _scalar(model, node.input[1], "scale", node)
            zero_point = _scalar(model, node.input[2], "zero-point", node)
            bits = _scalar(model, node.input[3], "bit width", node)
            if zero_point != 0 or bits != int(bits):
                raise FpgaflowError(f"FINN backend: Quant node '{node.name}' has zero-point {zero_point} and "
                                    f"bit width {bits}; FINN needs zero-point 0 and an integer bit width")
            bits = int(bits)
            signed, narrow = bool(inst.get_nodeattr("signed")), bool(inst.get_nodeattr("narrow"))
            low, high = int_range(bits, signed, narrow)
            k = np.arange(low + 1, high + 1, dtype=np.float64)
            if mode == "FLOOR":
                points = k * scale
            else:
                points = (k - 0.5) * scale
                step = grid(model, node.input[0])
                if step is not None and np.isfinite(step):
                    tie = (k % 2 != 0) & (np.round(points / step) == points / step)
                    points = np.where(tie, points + step / 2, points)
            thresholds = points.astype(np.float32)[None, :]

            source = node.input[0]
            producer = model.find_producer(source)
            drop_relu = (producer is not None and producer.op_type == "Relu" and low >= 0
                         and len(model.find_consumers(source)) == 1)
            if drop_relu:
                source = producer.input[0]
            dtype = DataType[f"{'INT' if signed else 'UINT'}{bits}"]
            thresh_name = model.make_new_valueinfo_name()
            model.set_initializer(thresh_name, thresholds)
            counted = model.make_new_valueinfo_name()
            shape = model.get_tensor_shape(node.output[0])
            graph.value_info.append(helper.make_tensor_value_info(counted, TensorProto.FLOAT, shape))
            threshold = helper.make_node("MultiThreshold", [source, thresh_name], [counted],
                                         domain="qonnx.custom_op.general", out_dtype=dtype.name,
                                         out_bias=float(low), name=f"{node.name}_{mode.lower()}")
            scale_name = model.make_new_valueinfo_name()
            model.set_initializer(scale_name, np.asarray(scale, dtype=np.float32))
            rescale = helper.make_node("Mul", [counted, scale_name], [node.output[0]], name=f"{node.name}_scale")
            graph.node.insert(index, rescale)
            graph.node.insert(index, threshold)
            graph.node.remove(node)
            if drop_relu:
                graph.node.remove(producer)
            model.set_tensor_datatype(counted, dtype)
            return model, True
        return model, False


class RejectOtherQuantActs(Transformation):
    """Fail clearly on activation quantizers whose rounding no threshold placement reproduces
    here (QuantActToMultiThreshold took FLOOR and ROUND)."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type == "Quant" and model.get_initializer(node.input[0]) is None:
                mode = getCustomOp(node).get_nodeattr("rounding_mode").upper()
                raise FpgaflowError(
                    f"FINN backend: activation quantizer '{node.name}' rounds with {mode}; fpgaflow's FINN flow "
                    f"reproduces FLOOR and ROUND (half to even) activations exactly: use one of those")
        return model, False


class GlobalAveragePool(Transformation):
    """An AveragePool over the whole map (the export of fpgaflow's global_avgpool) becomes ONNX's
    GlobalAveragePool: FINN streamlines scales past it and maps it to GlobalAccPool (an integer
    sum per channel) with the 1/pixels factor as a scalar Mul, which streamlining then moves
    into the output's scale, so the accelerator adds integers and divides by nothing."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type != "AveragePool":
                continue
            _, _, h, w = model.get_tensor_shape(node.input[0])
            kernel = next(list(a.ints) for a in node.attribute if a.name == "kernel_shape")
            pads = next((list(a.ints) for a in node.attribute if a.name == "pads"), [0, 0, 0, 0])
            if kernel != [h, w] or any(pads):
                continue
            if (h * w) & (h * w - 1):
                # the 1/pixels would end in the host's float output scale, where the reference
                # divides before its dense layer: the two round differently
                raise FpgaflowError(f"FINN backend: global average pooling {node.name} over {h * w} pixels: exact only "
                                    f"over 2^k pixels (make the map before it 2x2, 4x4, 8x4 ...)")
            node.op_type = "GlobalAveragePool"
            del node.attribute[:]
            return model, True
        return model, False


class MergeForkedTransposes(Transformation):
    """A tensor read by two or more Transposes of one permutation is transposed once, and every
    reader of those Transposes reads the one. FINN's layout passes (MakeMaxPoolNHWC, absorbing a
    Transpose into thresholds) look at one consumer and rewire only it, which at a fork (a skip
    connection) leaves the other branch reading the wrong layout."""

    def apply(self, model):
        for tensor in dict.fromkeys(i for n in model.graph.node for i in n.input):   # graph order: reproducible
            readers = [n for n in (model.find_consumers(tensor) or []) if n.op_type == "Transpose"]
            perms = {tuple(helper.get_attribute_value(a)) for n in readers for a in n.attribute if a.name == "perm"}
            outputs = {o.name for o in model.graph.output}
            if len(readers) < 2 or len(perms) != 1 or any(n.output[0] in outputs for n in readers):
                continue
            keep = readers[0]
            for other in readers[1:]:
                for node in model.graph.node:
                    node.input[:] = [keep.output[0] if i == other.output[0] else i for i in node.input]
                model.graph.node.remove(other)
            return model, True
        return model, False


class IntegerInput(Transformation):
    """Make the accelerator take integers: the input Quant becomes a UINTn/INTn graph input
    followed by a Mul with its power-of-two scale, which streamlining absorbs into the first
    thresholds. Without this the input grid costs a 2^n - 1 threshold layer in hardware.

    Only valid when the data fed is already on the input grid (fpgaflow feeds pixel / 2^n
    to Brevitas, i.e. the integer pixel here), so the removed Quant was an identity.
    """

    def apply(self, model):
        graph = model.graph
        source = graph.input[0].name
        consumers = model.find_consumers(source) or []
        if len(consumers) != 1 or consumers[0].op_type != "Quant":
            return model, False
        node = consumers[0]
        inst = getCustomOp(node)
        scale = _scalar(model, node.input[1], "scale", node)
        zero_point = _scalar(model, node.input[2], "zero-point", node)
        bits = _scalar(model, node.input[3], "bit width", node)
        if zero_point != 0 or bits != int(bits):   # narrow is fine: the data fed are in range already
            return model, False
        dtype = DataType[f"{'INT' if inst.get_nodeattr('signed') else 'UINT'}{int(bits)}"]
        scale_name = model.make_new_valueinfo_name()
        model.set_initializer(scale_name, np.asarray(scale, dtype=np.float32))
        index = list(graph.node).index(node)
        graph.node.insert(index, helper.make_node("Mul", [source, scale_name], [node.output[0]],
                                                  name=f"{node.name}_input_scale"))
        graph.node.remove(node)
        model.set_tensor_datatype(source, dtype)
        return model, False


class BiasBeforeOutputScale(Transformation):
    """Mul(x, s) -> Add(., b) at the graph output becomes Add(x, b / s) -> Mul(., s).

    With the bias on the accumulator grid, b / s is an integer: the accelerator then adds
    the bias in integers and only the output's power-of-two scale stays on the host. A float
    bias is an error, unless `strict` is off (a model built --inexact): it stays on the host.
    """

    def __init__(self, strict: bool = True):
        super().__init__()
        self.strict = strict

    def apply(self, model):
        graph = model.graph
        for add in graph.node:
            if add.op_type != "Add" or add.output[0] != graph.output[0].name:
                continue
            mul = model.find_producer(add.input[0])
            bias = model.get_initializer(add.input[1])
            if mul is None or mul.op_type != "Mul" or bias is None or len(model.find_consumers(mul.output[0])) != 1:
                continue
            scale = model.get_initializer(mul.input[1])
            if scale is None or np.asarray(scale).size != 1:
                continue
            integer_bias = bias / np.float32(np.asarray(scale).reshape(()))
            if not np.array_equal(integer_bias, np.round(integer_bias)):
                if not self.strict:
                    continue
                raise FpgaflowError("FINN backend: the output bias is not on the accumulator grid; quantize the last "
                                    "layer's bias with fpgaflow's BiasQuant (input scale x weight scale)")
            model.set_initializer(add.input[1], integer_bias.astype(np.float32))
            x, product, out = mul.input[0], mul.output[0], add.output[0]
            add.input[0], add.output[0] = x, product
            mul.input[0], mul.output[0] = product, out
            index_mul = list(graph.node).index(mul)
            graph.node.remove(add)
            graph.node.insert(index_mul, add)
            return model, False
        return model, False


# what may stay on the host: layout changes before the accelerator, the output's scale after it
HOST_BEFORE = {"Transpose", "Reshape"}
HOST_AFTER = {"Mul"}
FLOAT_TAIL = {"Mul", "Add", "Sub", "Div"}
HINTS = {
    "Add": "a float bias is left: quantize biases on the accumulator grid (fpgaflow's BiasQuant)",
    "Mul": "a float scale is left inside the network: use power-of-two (fixed-point) quantizers",
    "MultiThreshold": "an activation FINN cannot turn into a Thresholding layer",
    "Sigmoid": "use ReLU activations (activation: relu) for the FINN backend",
    "Tanh": "use ReLU activations (activation: relu) for the FINN backend",
    "Softmax": "leave softmax out of the network: the compared output is the logits",
}


class RequireMapped(Transformation):
    """Every node between input and output must have become a FINN HW layer.

    FINN itself leaves unmapped nodes at either end on the host and warns; here the whole
    network must be on the FPGA, so anything else is an error naming the node. After the
    accelerator only the output's scale may stay on the host, or with `float_tail` (a model
    built --inexact) the float arithmetic its output ends with (e.g. Brevitas' TensorNorm).
    """

    def __init__(self, float_tail: bool = False):
        super().__init__()
        self.host_after = HOST_AFTER | (FLOAT_TAIL if float_tail else set())

    def apply(self, model):
        nodes = list(model.graph.node)
        hw = [i for i, n in enumerate(nodes) if n.domain.startswith("finn.custom_op.fpgadataflow")]
        if not hw:
            raise FpgaflowError("FINN backend: no layer became a FINN HW layer")
        bad = [n for i, n in enumerate(nodes) if not (
            i in hw or (i < hw[0] and n.op_type in HOST_BEFORE) or (i > hw[-1] and n.op_type in self.host_after))]
        if bad:
            # a layout op is stranded by whatever broke the stream, so name a computing node first
            first = next((n for n in bad if n.op_type not in HOST_BEFORE), bad[0])
            hint = HINTS.get(first.op_type, "this operation has no FINN HW layer; change the design's layers")
            others = f" (also unmapped: {', '.join(n.name for n in bad if n is not first)})" if len(bad) > 1 else ""
            raise FpgaflowError(f"FINN backend: node '{first.name}' ({first.op_type}) cannot be mapped to a FINN HW "
                                f"layer: {hint}{others}")
        return model, False


def generic_flat_model(parent, dataflow):
    """The host graph with the accelerator's layers inlined as their generic FINN ops.

    FINN executes HLS/RTL variants only in cppsim (Vitis HLS libraries) or rtlsim (Vivado);
    their generic parents execute in Python with the same attributes, i.e. the final weights,
    thresholds, data types and folding that code generation used. The partition's tensor
    names are the host graph's, so the layers drop in where the partition node was.
    """
    import copy

    from qonnx.core.modelwrapper import ModelWrapper

    flat = ModelWrapper(copy.deepcopy(parent.model))
    graph = flat.graph
    (index, sdp), = [(i, n) for i, n in enumerate(graph.node) if n.op_type == "StreamingDataflowPartition"]
    graph.node.remove(sdp)
    for offset, node in enumerate(dataflow.graph.node):
        node = copy.deepcopy(node)
        for suffix in ("_hls", "_rtl"):
            if node.op_type.endswith(suffix):
                node.op_type = node.op_type[: -len(suffix)]
        node.domain = "finn.custom_op.fpgadataflow"
        graph.node.insert(index + offset, node)
    def merge(ours, theirs, key):
        known = {key(x) for x in ours}
        ours.extend(copy.deepcopy(x) for x in theirs if key(x) not in known)

    boundary = {v.name for v in (*graph.input, *graph.output)}
    merge(graph.initializer, dataflow.graph.initializer, lambda x: x.name)
    merge(graph.value_info, [v for v in (*dataflow.graph.value_info, *dataflow.graph.input, *dataflow.graph.output)
                             if v.name not in boundary], lambda x: x.name)
    merge(graph.quantization_annotation, dataflow.graph.quantization_annotation, lambda x: x.tensor_name)
    return without_plumbing(flat)


ALIASES = "fpgaflow_aliases"   # metadata: {tensor of a removed FIFO or width converter: the tensor that holds it}


def without_plumbing(flat):
    """The flat model without FIFOs and width converters, for Python execution.

    They compute nothing, and FINN's generic VVAU finds its window generator by its direct
    producer (else it untangles a channel interleave that the generic window generator never
    made): with a FIFO between them its Python output is wrong. Each removed node's producer
    writes the node's output tensor instead; metadata ALIASES maps the removed tensor names
    to the ones that now hold their values, for the RTL taps."""
    import json

    from . import PLUMBING

    graph = flat.graph
    aliases = {}
    for node in [n for n in graph.node if n.op_type.startswith(PLUMBING)]:
        src, dst = node.input[0], node.output[0]
        graph.node.remove(node)
        producer = flat.find_producer(src)
        if producer is not None:
            producer.output[list(producer.output).index(src)] = dst
            aliases[src] = dst
        else:   # fed by the graph input: its consumers read the input directly
            for consumer in flat.find_consumers(dst) or []:
                consumer.input[list(consumer.input).index(dst)] = src
            aliases[dst] = src
    flat.set_metadata_prop(ALIASES, json.dumps(aliases))
    return flat


def resolve(aliases: dict, tensor: str) -> str:
    """The tensor of the Python execution that holds a stream's values (see without_plumbing)."""
    seen = set()
    while tensor in aliases and tensor not in seen:
        seen.add(tensor)
        tensor = aliases[tensor]
    return tensor
