"""Each stage of the Brevitas model on one image, in the hardware's grid, for triage."""
from __future__ import annotations

import math

import numpy as np

from ...core.spec import Design
from ...verify.triage import labelled

# Brevitas module class -> the stage kind it is matched on with the hls4ml layers
TORCH_KINDS = {"QuantIdentity": "act", "QuantReLU": "act", "QuantConv2d": "conv", "QuantLinear": "dense",
               "MaxPool2d": "pool", "AvgPool2d": "pool"}


def _quant_type(t) -> str:
    import torch

    scale, bits = getattr(t, "scale", None), getattr(t, "bit_width", None)
    if scale is None or bits is None or torch.as_tensor(scale).numel() != 1:
        return "float32"
    exp = math.log2(float(scale))
    bits = int(float(bits))
    signed = bool(getattr(t, "signed", True))
    kind = "ap_fixed" if signed else "ap_ufixed"
    return f"{kind}<{bits},{bits + int(exp)}>" if exp == int(exp) else f"{bits}-bit x {float(scale)}"


def trace(design: Design, x1: np.ndarray) -> list[dict]:
    """Each stage of the Brevitas model on one image (1, C, H, W)."""
    import torch

    from .model import trained_model

    model = trained_model(design)
    stages = []
    # in a graph each module belongs to a named layer: stages are labelled by it (quant(s1), pool(s3))
    owner = {m: name for name, stage in getattr(model, "layers", {}).items() for m in stage.modules()}

    def record(module, args, value):
        arr = (value.value if hasattr(value, "value") else value).detach().numpy()
        if arr.ndim == 4:
            arr = arr.transpose(0, 2, 3, 1)
        kind = TORCH_KINDS[type(module).__name__]
        stages.append({"kind": kind, "values": arr.reshape(-1).astype(np.float64), "type": _quant_type(value),
                       "layer": owner.get(module)})

    # hooks see every stage in execution order, in a chain or a graph (a shared quantizer once per call)
    hooks = [m.register_forward_hook(record) for m in model.modules() if type(m).__name__ in TORCH_KINDS]
    try:
        with torch.no_grad():
            model(torch.from_numpy(x1))
    finally:
        for hook in hooks:
            hook.remove()
    return labelled(design, stages)
