"""The QONNX export made ready for hls4ml's ONNX front end: a list of small qonnx passes (each a
function from model to model, applied in order) and the exact types hls4ml cannot infer."""
from __future__ import annotations

import math
from pathlib import Path

from ...core.errors import FpgaflowError


def _cleanup(model):
    from qonnx.util.cleanup import cleanup_model

    return cleanup_model(model)


def _channels_last(model):
    """Channels-last throughout, the input too: the C-sim is fed NHWC (flat_hwc), as the
    hardware streams it (left NCHW, the input's Transpose would reorder a multi-channel image
    a second time; with one channel both orders are the same)."""
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean

    return model.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))


def _gemm_to_matmul(model):
    import numpy as np
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul

    # qonnx's GemmToMatMul indexes a bias input that a bias-free Gemm (Brevitas' bias=False) lacks
    for node in model.graph.node:
        if node.op_type == "Gemm" and len(node.input) == 2:
            zeros = model.make_new_valueinfo_name()
            model.set_initializer(zeros, np.zeros(model.get_tensor_shape(node.output[0])[-1], dtype=np.float32))
            node.input.append(zeros)
    return model.transform(GemmToMatMul())


def _exporters_blocks(model):
    from ...frontends.qonnx.batchnorm import BatchNormToFixedPoint
    from ...frontends.qonnx.pooling import MeanAsAveragePool, TruncAsQuant

    # a float BatchNorm becomes the fixed-point affine equal to it on every accumulator value
    return model.transform(MeanAsAveragePool()).transform(TruncAsQuant()).transform(BatchNormToFixedPoint())


CHANNELS_LAST = "qonnx.custom_op.channels_last"
TO_CHANNELS_FIRST = [0, 3, 1, 2]
TO_CHANNELS_LAST = [0, 2, 3, 1]


def _perm(node) -> list | None:
    from onnx import helper

    return next((list(helper.get_attribute_value(a)) for a in node.attribute if a.name == "perm"), None)


def _global_average_pool_channels_last(model):
    """qonnx's channels-last conversion has no AveragePool, so a global average pooling stays
    behind a Transpose back to NCHW, which hls4ml's stream cannot take. Over the whole map the
    pooled (N, 1, 1, C) is laid out as (N, C, 1, 1) is: read the NHWC tensor and drop the
    Transpose. Last, after the cleanups, since qonnx cannot execute the channels-last op."""
    for node in list(model.graph.node):
        producer = model.find_producer(node.input[0]) if node.op_type == "AveragePool" else None
        if producer is None or producer.op_type != "Transpose" or node.domain == CHANNELS_LAST:
            continue
        n, c, h, w = model.get_tensor_shape(node.output[0])
        if _perm(producer) != TO_CHANNELS_FIRST or (h, w) != (1, 1) or len(model.find_consumers(producer.output[0])) != 1:
            continue
        node.input[0] = producer.input[0]
        node.domain = CHANNELS_LAST
        _pooled_nhwc(model, node)
        model.graph.node.remove(producer)
    return model


def _pooled_nhwc(model, pool) -> None:
    """A global pooling read as NHWC: its (N, 1, 1, C) output and the elementwise nodes after it
    shaped so (the same numbers in the same order as (N, C, 1, 1))."""
    node = pool
    while True:
        n, c, h, w = model.get_tensor_shape(node.output[0])
        model.set_tensor_shape(node.output[0], [n, h, w, c])
        after = model.find_consumers(node.output[0]) or []
        if len(after) != 1 or after[0].op_type not in ELEMENTWISE:
            return
        node = after[0]


ELEMENTWISE = ("Relu", "Quant")


def _nhwc_after(model, node) -> tuple[list, object] | None:
    """(the elementwise nodes after `node`, the node ending them) where the chain ends in a
    Transpose back to NHWC or a global AveragePool, else None."""
    chain, tensor = [], node.output[0]
    while True:
        after = model.find_consumers(tensor) or []
        if len(after) != 1:
            return None
        nxt = after[0]
        if nxt.op_type in ELEMENTWISE and model.get_initializer(nxt.input[0]) is None:
            chain.append(nxt)
            tensor = nxt.output[0]
            continue
        if nxt.op_type == "Transpose" and _perm(nxt) == TO_CHANNELS_LAST:
            return chain, nxt
        n, c, h, w = model.get_tensor_shape(nxt.output[0]) if nxt.op_type == "AveragePool" else (0, 0, 0, 0)
        return (chain, nxt) if nxt.op_type == "AveragePool" and (h, w) == (1, 1) else None


def _average_pool_channels_last(model):
    """An average pooling smaller than the map stays in NCHW between Transposes too (qonnx's
    channels-last conversion has no AveragePool): it reads the NHWC tensor as a channels-last
    pooling, and what follows reads its NHWC output, as for a concatenation."""
    for node in list(model.graph.node):
        producer = model.find_producer(node.input[0]) if node.op_type == "AveragePool" else None
        if producer is None or producer.op_type != "Transpose" or _perm(producer) != TO_CHANNELS_FIRST or \
                len(model.find_consumers(producer.output[0])) != 1 or node.domain == CHANNELS_LAST:
            continue
        n, c, h, w = model.get_tensor_shape(node.output[0])
        found = _nhwc_after(model, node)
        if (h, w) == (1, 1) or found is None:
            continue
        node.input[0] = producer.input[0]
        node.domain = CHANNELS_LAST
        model.graph.node.remove(producer)
        _after_nhwc(model, node, *found)
    return model


def _after_nhwc(model, node, chain: list, end) -> None:
    """`node` and the elementwise `chain` after it now give NHWC: shapes so, and the chain's
    end (a Transpose back to NHWC: gone; a global pooling: read as channels-last)."""
    for n in [node, *chain]:
        batch, c, h, w = model.get_tensor_shape(n.output[0])
        model.set_tensor_shape(n.output[0], [batch, h, w, c])
    if end.op_type == "Transpose":
        (chain[-1] if chain else node).output[0] = end.output[0]
        model.graph.node.remove(end)
    else:
        end.domain = CHANNELS_LAST
        _pooled_nhwc(model, end)


def _concat_channels_last(model):
    """qonnx's channels-last conversion leaves a channel concatenation in NCHW between Transposes
    (to NCHW on every input; back to NHWC after it and the elementwise Relu / Quant that follow,
    or none before a global average pooling, whose 1x1 output needs no layout). Concatenating
    the NHWC tensors on their last axis is the same tensor: the Transposes go, the elementwise
    nodes and the pooling read NHWC."""
    from onnx import helper

    for node in list(model.graph.node):
        if node.op_type != "Concat" or len(model.get_tensor_shape(node.output[0])) != 4:
            continue
        axis = next(helper.get_attribute_value(a) for a in node.attribute if a.name == "axis")
        before = [model.find_producer(i) for i in node.input]
        found = _nhwc_after(model, node)
        if axis not in (1, -3) or found is None or \
                any(p is None or p.op_type != "Transpose" or _perm(p) != TO_CHANNELS_FIRST
                    or len(model.find_consumers(p.output[0])) != 1 for p in before):
            continue
        del node.input[:]
        node.input.extend(p.input[0] for p in before)
        del node.attribute[:]
        node.attribute.append(helper.make_attribute("axis", 3))
        _after_nhwc(model, node, *found)
        for p in before:
            model.graph.node.remove(p)
    return model


PREPARE_FOR_HLS4ML = (_cleanup, _exporters_blocks, _channels_last, _gemm_to_matmul, _cleanup, _concat_channels_last,
                      _average_pool_channels_last,
                      _global_average_pool_channels_last)


def prepare(qonnx_path: Path):
    from qonnx.core.modelwrapper import ModelWrapper

    model = ModelWrapper(str(qonnx_path))
    for step in PREPARE_FOR_HLS4ML:
        try:
            model = step(model)
        except Exception as e:  # a qonnx pass that cannot take this graph
            raise FpgaflowError(f"preparing the QONNX model for hls4ml: {step.__name__.strip('_')} failed: "
                                f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}") from None
    return model


def exact_average_types(model) -> dict[str, str]:
    """hls4ml gives an average pooling its input's type, so the mean is cut to the input's grid
    (the reference keeps it). Over a window of 2^k pixels the mean of values on a 2^-f grid lies
    on the 2^-(f+k) grid below the same maximum: k more fractional bits hold it exactly. The
    type is read off the Quant node the pooling reads. Other windows have no exact fixed-point
    mean: refused, naming the node."""
    out = {}
    for node in model.graph.node:
        if node.op_type != "AveragePool":
            continue
        kernel = [a for a in node.attribute if a.name == "kernel_shape"][0].ints
        window = math.prod(kernel)
        quant = model.find_producer(node.input[0])
        scale = model.get_initializer(quant.input[1]) if quant is not None and quant.op_type == "Quant" else None
        if window & (window - 1) or scale is None or scale.size != 1 or math.log2(float(scale)) % 1:
            raise FpgaflowError(f"average pooling {node.name} over {window} pixels: hls4ml's fixed-point mean is exact "
                                f"only over 2^k pixels of a per-tensor power-of-two Quant "
                                f"(make the map before a global_avgpool 2x2, 4x4, 8x4 ...)")
        bits = int(model.get_initializer(quant.input[3]))
        signed = bool([a for a in quant.attribute if a.name == "signed"][0].i)
        integer = bits + int(math.log2(float(scale)))
        out[node.name] = f"{'fixed' if signed else 'ufixed'}<{bits + int(math.log2(window))},{integer}>"
    return out


def exact_global_average_types(keras_model) -> dict[str, dict]:
    """A Keras GlobalAveragePooling2D over 2^k pixels after a quantized ReLU (ap_ufixed<b,i>):
    hls4ml divides its accumulator by the pixel count in the accumulator's own type, so the sum
    gets k more integer and k more fraction bits and the mean k more fraction bits: both exact
    (the QKeras builder refuses other windows)."""
    out = {}
    for layer in keras_model.layers:
        if type(layer).__name__ != "GlobalAveragePooling2D":
            continue
        source = layer._inbound_nodes[0].inbound_layers
        quantizer = getattr(source, "quantizer", None)
        _, h, w, _ = layer.input_shape
        if type(quantizer).__name__ != "quantized_relu" or (h * w) & (h * w - 1):
            raise FpgaflowError(f"global average pooling {layer.name}: exact only over 2^k pixels of a quantized_relu "
                                f"output (it reads {source.name}, {h}x{w} pixels)")
        bits, integer, k = int(quantizer.bits), int(quantizer.integer), (h * w).bit_length() - 1
        out[layer.name] = {"accum": f"ufixed<{bits + 2 * k},{integer + k}>", "result": f"ufixed<{bits + k},{integer}>"}
    return out


def exact_type(values) -> str | None:
    """The narrowest ap_fixed holding every value exactly, None where they are not all on a
    grid of 2^-64 or coarser."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64).reshape(-1)
    frac = next((f for f in range(65) if np.array_equal(v * 2.0 ** f, np.round(v * 2.0 ** f))), None)
    if frac is None:
        return None
    width = int(np.abs(np.round(v * 2.0 ** frac)).max()).bit_length() + 1
    return f"fixed<{width},{width - frac}>"


def exact_batchnorm_types(model) -> dict[str, dict]:
    """hls4ml types a BatchNorm's scale and bias with the model default (16 bits, 6 integer):
    the fixed-point gain and offset BatchNormToFixedPoint placed (epsilon 0, variance 1, so
    scale = gamma, bias = beta) get the types that hold them exactly; hls4ml then sizes the
    result for the exact product and sum."""
    out = {}
    for node in model.graph.node:
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), None)
        if node.op_type == "BatchNormalization" and eps == 0:
            types = {"scale": exact_type(model.get_initializer(node.input[1])),
                     "bias": exact_type(model.get_initializer(node.input[2]))}
            if all(types.values()):
                out[node.name] = types
    return out
