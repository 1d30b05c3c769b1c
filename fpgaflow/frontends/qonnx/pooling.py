"""Average pooling as exporters write it, in the one form both back ends take; the same
arithmetic, so the reference is unchanged.

torch exports AdaptiveAvgPool2d(1) as ReduceMean over axes (2, 3) and other exporters write
GlobalAveragePool; fpgaflow's back ends take an AveragePool whose window is the whole map (what
its own designs export): hls4ml types it exactly (backends/hls4ml/prepare.py), FINN maps it to
GlobalAccPool (backends/finn/transforms.py). Brevitas' TruncAvgPool2d writes AveragePool +
Trunc; the Trunc of a sum's integers is a Quant at the output scale (below).
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.transformation.base import Transformation

from .model import is_pow2


def _reduces_map(model, node) -> bool:
    shape = model.get_tensor_shape(node.input[0])
    if shape is None or len(shape) != 4:
        return False
    if node.op_type == "GlobalAveragePool":
        return True
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1 and model.get_initializer(node.input[1]) is not None:
        axes = np.asarray(model.get_initializer(node.input[1])).reshape(-1).tolist()
    return axes is not None and sorted(int(a) % 4 for a in axes) == [2, 3] and attrs.get("keepdims", 1) == 1


class MeanAsAveragePool(Transformation):
    def apply(self, model):
        for index, node in enumerate(model.graph.node):
            if node.op_type not in ("ReduceMean", "GlobalAveragePool") or not _reduces_map(model, node):
                continue
            _, _, height, width = model.get_tensor_shape(node.input[0])
            pool = helper.make_node("AveragePool", [node.input[0]], [node.output[0]], name=node.name,
                                    kernel_shape=[height, width], strides=[height, width], pads=[0, 0, 0, 0])
            model.graph.node.insert(index, pool)
            model.graph.node.remove(node)
            return model, True
        return model, False


class TruncAsQuant(Transformation):
    """QONNX Trunc (v2: input, scale, zero-point, input bits, output scale, output bits) ->
    Quant(input, output scale, zero-point / trunc scale, output bits), same signed, narrow and
    rounding. qonnx's Trunc computes round(x / scale) / (output scale / scale), clamps, then
    rounds with the mode; where x / scale is an integer (the window sum of an average pool of
    integers on `scale`'s grid, as Brevitas exports it) that is Quant's round-then-clip of
    x / output scale: the same integer for every input. Taken only with power-of-two scales."""

    def apply(self, model):
        from onnx import helper

        for index, node in enumerate(model.graph.node):
            if node.op_type != "Trunc" or len(node.input) != 6:
                continue
            scale, zero, _, out_scale, out_bits = (model.get_initializer(i) for i in node.input[1:])
            if any(v is None or np.asarray(v).size != 1 for v in (scale, zero, out_scale, out_bits)) or \
                    not (is_pow2(scale) and is_pow2(out_scale)):
                continue
            zero_name = node.input[2]
            if np.any(zero):
                zero_name = model.make_new_valueinfo_name()
                model.set_initializer(zero_name, np.asarray(zero / (out_scale / scale), dtype=np.float32))
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            quant = helper.make_node(
                "Quant", [node.input[0], node.input[4], zero_name, node.input[5]], [node.output[0]], name=f"{node.name}_quant",
                domain="qonnx.custom_op.general", signed=int(attrs.get("signed", 1)),
                narrow=int(attrs.get("narrow", 0)), rounding_mode=attrs.get("rounding_mode", "FLOOR"))
            model.graph.node.insert(index, quant)
            model.graph.node.remove(node)
            return model, True
        return model, False
