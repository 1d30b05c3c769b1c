"""Each stage of the QKeras model on one image, in the hardware's grid, for triage."""
from __future__ import annotations

import numpy as np

from ...core.data import channels_last
from ...core.spec import Design
from ...verify.triage import labelled

# Keras layer class -> the stage kind it is matched on with the hls4ml layers
KERAS_KINDS = {"QActivation": "act", "QConv2D": "conv", "QDense": "dense", "MaxPooling2D": "pool"}


def _keras_type(layer) -> str:
    q = getattr(layer, "quantizer", None)  # QActivation's quantizer object
    if q is not None and type(q).__name__ == "quantized_relu":
        bits, integer = int(q.bits), int(q.integer)
        return f"ap_ufixed<{bits},{integer}> (round half to even, saturate)"
    return "float32 (exact: every sum fits its 24-bit mantissa)"


def trace(design: Design, x1: np.ndarray) -> list[dict]:
    """Each stage of the QKeras model on one image (1, C, H, W)."""
    from .env import setup
    from .model import trained_model

    keras_model = trained_model(design)
    staged = [l for l in keras_model.layers if type(l).__name__ in KERAS_KINDS]
    # a functional probe (a Sequential model takes no inputs/outputs pair)
    probe = setup().Model(keras_model.inputs, [l.output for l in staged])
    values = probe(channels_last(x1), training=False)
    return labelled(design, [{"kind": KERAS_KINDS[type(layer).__name__], "type": _keras_type(layer),
                              "values": np.asarray(value).reshape(-1).astype(np.float64)}
                             for layer, value in zip(staged, values)])
