"""qonnx's execution of an imported QONNX graph: the reference its hardware must reproduce.

qonnx executes node by node (its Quant in numpy, standard ops in onnxruntime), on CPU, on whole
batches (host.batched). The model is the design's body: where the import cut host segments off
(host.py), the data reach it through the host head, as they reach the hardware."""
from __future__ import annotations

from ...verify.references import Predictor


def qonnx_cpu(design, batch: int = 500) -> Predictor:
    from .host import batched
    from .model import load

    return batched(load(design), batch)
