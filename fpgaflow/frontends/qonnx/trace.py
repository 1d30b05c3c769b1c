"""Each stage of an imported QONNX graph on one sample, for triage: the outputs of its
weighted layers (after their bias), activation quantizers and pools, from one execution."""
from __future__ import annotations

import numpy as np

from ...core.data import channels_last
from ...verify.triage import labelled


def _kind(model, node) -> str | None:
    if node.op_type == "Quant" and model.get_initializer(node.input[0]) is None:
        return "act"
    if node.op_type == "MaxPool":
        return "pool"
    if node.op_type in ("Conv", "Gemm", "MatMul"):
        consumers = model.find_consumers(node.output[0]) or []
        if len(consumers) == 1 and consumers[0].op_type == "Add" and model.get_initializer(consumers[0].input[1]) is not None:
            return None   # the bias Add after it is the stage
        return "conv" if node.op_type == "Conv" else "dense"
    if node.op_type == "Add" and model.get_initializer(node.input[1]) is not None:
        producer = model.find_producer(node.input[0])
        if producer is not None and producer.op_type in ("Conv", "Gemm", "MatMul"):
            return "conv" if producer.op_type == "Conv" else "dense"
    return None


def trace(design, x1: np.ndarray) -> list[dict]:
    from qonnx.core.onnx_exec import execute_onnx

    from .model import load

    model = load(design)
    context = execute_onnx(model, {model.graph.input[0].name: x1.astype(np.float32)}, return_full_exec_context=True)
    stages = []
    for node in model.graph.node:
        kind = _kind(model, node)
        if kind is None:
            continue
        arr = channels_last(np.asarray(context[node.output[0]]))
        stages.append({"kind": kind, "values": arr.reshape(-1).astype(np.float64), "type": "qonnx float32"})
    return labelled(design, stages)
