"""An imported QONNX model: read safely, cleaned up once, executed by qonnx.

A QONNX file is untrusted: it is parsed as protobuf (no code runs), weights kept beside it
(`<file>.onnx.data`, as torch's exporter writes them) are read only from plain file names in
its own folder, and the graph must hold Quant nodes before anything else looks at it.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ...core.errors import FpgaflowError

QONNX_NAME = "model.qonnx.onnx"   # the design folder's copy, and the export stage's artefact
QUANT_OPS = ("Quant", "BipolarQuant", "Trunc")


def int_range(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    """The integers a QONNX Quant of `bits` holds (narrow: the most negative one left out, or
    for unsigned the largest)."""
    if signed:
        return -(2 ** (bits - 1)) + int(narrow), 2 ** (bits - 1) - 1
    return 0, 2 ** bits - 1 - int(narrow)


def is_pow2(values) -> bool:
    """Every value (at least one) is plus or minus a power of two: a scale fixed point holds."""
    v = np.abs(np.asarray(values, dtype=np.float64)).reshape(-1)
    return bool(len(v)) and all(x > 0 and math.log2(x) == int(math.log2(x)) for x in v)


def read_onnx(path: Path):
    """The ONNX ModelProto of `path` with its external weights loaded; one clear error otherwise."""
    import onnx
    from google.protobuf.message import DecodeError
    from onnx.external_data_helper import load_external_data_for_model, uses_external_data

    path = Path(path)
    if not path.is_file():
        raise FpgaflowError(f"model file not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as e:
        raise FpgaflowError(f"{path}: not an ONNX model ({str(e).splitlines()[0] if str(e) else type(e).__name__})") \
            from None
    if not model.graph.node:
        raise FpgaflowError(f"{path}: not an ONNX model (no graph nodes)")
    external = {entry.value for t in model.graph.initializer if uses_external_data(t)
                for entry in t.external_data if entry.key == "location"}
    for location in sorted(external):
        if Path(location).name != location or location in ("", ".", ".."):
            raise FpgaflowError(f"{path}: weights at '{location}': external data must be a file beside the model")
        if not (path.parent / location).is_file():
            raise FpgaflowError(f"{path}: its weights file {path.parent / location} is missing (torch's exporter "
                                f"writes it beside the model: import both)")
    if external:
        load_external_data_for_model(model, str(path.parent))
    return model


def require_quantized(model, path: Path) -> None:
    ops = {n.op_type for n in model.graph.node}
    if not ops & set(QUANT_OPS):
        float_hint = "a float model" if ops & {"Conv", "Gemm", "MatMul"} else "an ONNX graph"
        raise FpgaflowError(f"{path}: {float_hint} without quantization (no Quant nodes): fpgaflow imports QONNX "
                            f"models, e.g. a Brevitas network exported with brevitas.export.export_qonnx")
    constants = {t.name for t in model.graph.initializer}   # older exporters list weights as inputs too
    inputs = [i for i in model.graph.input if i.name not in constants]
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise FpgaflowError(f"{path}: {len(inputs)} inputs and {len(model.graph.output)} outputs; "
                            f"fpgaflow takes a model with one input and one output")


def wrap(proto):
    """The model as qonnx's ModelWrapper, cleaned up (shapes inferred, constants folded)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    try:
        return cleanup_model(ModelWrapper(proto))
    except Exception as e:  # qonnx raises whatever its passes raise on a graph it cannot take
        raise FpgaflowError(f"qonnx cannot clean up the model: {str(e).strip().splitlines()[0]}") from None


def load(design):
    """The design's model (its folder's copy), cleaned up."""
    path = design.weights
    if not path.is_file():
        raise FpgaflowError(f"{path} not found: import the model again (`fpgaflow import MODEL --name {design.name}`)")
    return wrap(read_onnx(path))
