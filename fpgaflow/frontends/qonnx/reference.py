"""qonnx's execution of an imported QONNX graph: the reference its hardware must reproduce.

qonnx executes node by node (its Quant in numpy, standard ops in onnxruntime), on CPU. The
graph is run on whole batches: a copy with the batch size changed per batch size seen."""
from __future__ import annotations

import numpy as np

from ...verify.references import Predictor, in_batches


def qonnx_cpu(design, batch: int = 500) -> Predictor:
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.util.cleanup import cleanup_model

    from .model import load

    model = load(design)
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    sized: dict[int, object] = {}

    def run(xb: np.ndarray) -> np.ndarray:
        n = len(xb)
        if n not in sized:
            sized[n] = cleanup_model(model.transform(ChangeBatchSize(n)))
        out = execute_onnx(sized[n], {name_in: np.ascontiguousarray(xb, dtype=np.float32)})[name_out]
        return np.asarray(out).reshape(n, -1)

    return lambda x: in_batches(run, x, batch)
