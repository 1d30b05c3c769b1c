"""Average pooling over windows smaller than the map, for FINN: the window's integer sum.

FINN maps an average pooling only as Brevitas' older QuantAvgPool2d (a window sum, shifted
right to its output width); an AveragePool with a Quant after it (AvgPool2d, or
TruncAvgPool2d once its Trunc is a Quant: frontends/qonnx/pooling.py) it does not take. Over a
window of 2^k pixels of a power-of-two Quant's integers q (values q s), the mean is
sum(q) s / 2^k: a QuantAvgPool2d that keeps every bit of the sum (output bits = input bits + k,
no shift), between a Mul by 1/s (its integers in) and a Mul by s / 2^k (the mean out), which
streamlining folds into the thresholds of the Quant after it. The sum of integers is exact, so
the hardware (a sliding window and fpgaflow's RTL sum block, rtl/hw/fpgaflow_sum_pool.sv)
equals the reference on every input.
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation

from ...core.errors import FpgaflowError
from ...frontends.qonnx.batchnorm import quant_grid, source_quant


def _window(node) -> tuple[list, list, list]:
    attrs = {a.name: list(a.ints) for a in node.attribute if a.name in ("kernel_shape", "strides", "pads")}
    return attrs.get("kernel_shape", []), attrs.get("strides", []), attrs.get("pads", [0, 0, 0, 0])


class AveragePoolAsSum(Transformation):
    def apply(self, model):
        for index, node in enumerate(model.graph.node):
            if node.op_type != "AveragePool":
                continue
            _, channels, h, w = model.get_tensor_shape(node.input[0])
            kernel, strides, pads = _window(node)
            if kernel == [h, w]:
                continue                      # the whole map: GlobalAveragePool's
            window = int(np.prod(kernel))
            source = source_quant(model, node.input[0])
            grid = quant_grid(model, source) if source is not None else None
            if len(set(kernel)) != 1 or strides != kernel or any(pads) or window & (window - 1) or grid is None:
                raise FpgaflowError(f"FINN backend: average pooling {node.name} ({'x'.join(map(str, kernel))}, stride "
                                    f"{strides}): fpgaflow maps square windows of 2^k pixels, stride = window, no "
                                    f"padding, over a power-of-two Quant's output")
            scale, low, high = grid
            in_bits = max(int(high).bit_length(), int(-low - 1).bit_length()) + int(low < 0)
            k = window.bit_length() - 1
            ints, sums = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            to_int, from_sum = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_initializer(to_int, np.asarray(1.0 / scale, dtype=np.float32))
            model.set_initializer(from_sum, np.asarray(scale / window, dtype=np.float32))
            nodes = [helper.make_node("Mul", [node.input[0], to_int], [ints], name=f"{node.name}_integers"),
                     helper.make_node("QuantAvgPool2d", [ints], [sums], name=f"{node.name}_sum",
                                      domain="qonnx.custom_op.general", stride=int(strides[0]), kernel=int(kernel[0]),
                                      ibits=in_bits, obits=in_bits + k, signed=int(low < 0), data_layout="NCHW"),
                     helper.make_node("Mul", [sums, from_sum], [node.output[0]], name=f"{node.name}_mean")]
            for n in reversed(nodes):
                model.graph.node.insert(index, n)
            model.graph.node.remove(node)
            out_shape = model.get_tensor_shape(node.output[0])
            model.set_tensor_shape(ints, [1, channels, h, w])
            model.set_tensor_datatype(ints, DataType[f"{'INT' if low < 0 else 'UINT'}{in_bits}"])
            model.set_tensor_shape(sums, out_shape)
            model.set_tensor_datatype(sums, DataType[f"{'INT' if low < 0 else 'UINT'}{in_bits + k}"])
            return model, True
        return model, False


class QuantAvgPoolNHWC(Transformation):
    """Transpose(to NCHW) -> QuantAvgPool2d(NCHW) becomes QuantAvgPool2d(NHWC) -> Transpose(to
    NCHW), as FINN's MakeMaxPoolNHWC does for max pooling: the Transpose moves on towards the
    next one, where they cancel or a MultiThreshold absorbs it, and the pooling reads the
    NHWC stream the sliding window generator takes."""

    def apply(self, model):
        from qonnx.custom_op.registry import getCustomOp

        for index, node in enumerate(model.graph.node):
            if node.op_type != "QuantAvgPool2d" or getCustomOp(node).get_nodeattr("data_layout") != "NCHW":
                continue
            producer = model.find_producer(node.input[0])
            perm = next((list(a.ints) for a in producer.attribute if a.name == "perm"), None) \
                if producer is not None and producer.op_type == "Transpose" else None
            if perm != [0, 3, 1, 2] or len(model.find_consumers(producer.output[0])) != 1:
                continue
            n, c, h, w = model.get_tensor_shape(node.output[0])
            pooled = model.make_new_valueinfo_name()
            model.set_tensor_shape(pooled, [n, h, w, c])
            model.set_tensor_datatype(pooled, model.get_tensor_datatype(node.output[0]))
            back = helper.make_node("Transpose", [pooled], [node.output[0]], perm=[0, 3, 1, 2],
                                    name=f"{node.name}_to_nchw")
            node.input[0], node.output[0] = producer.input[0], pooled
            getCustomOp(node).set_nodeattr("data_layout", "NHWC")
            model.graph.node.insert(index + 1, back)
            model.graph.node.remove(producer)
            return model, True
        return model, False
