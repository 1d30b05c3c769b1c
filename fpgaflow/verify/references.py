"""Reference inference of the trained model: what the hardware must reproduce exactly.

REFERENCES maps a reference name (recorded in verify.json) to the front end's function that
builds a batch predictor for a design. A predictor takes NCHW float32 images on the input
grid and returns the pre-softmax logits as float64. A reference that cannot run here (no
CUDA) raises an error: never a silent fallback to another device. Each framework lists its
own references (fpgaflow.frontends); the first is its CPU reference.
"""
from __future__ import annotations

from importlib import import_module
from typing import Callable

import numpy as np

from ..core.errors import FpgaflowError

Predictor = Callable[[np.ndarray], np.ndarray]

# name -> "module:function" (design) -> Predictor; imported only when asked for
REFERENCES: dict[str, str] = {
    "torch-cpu": "fpgaflow.frontends.brevitas.reference:torch_cpu",
    "torch-cuda": "fpgaflow.frontends.brevitas.reference:torch_cuda",
    "tf-cpu": "fpgaflow.frontends.qkeras.reference:tf_cpu",
    "tf-cuda": "fpgaflow.frontends.qkeras.reference:tf_cuda",
    "qonnx-cpu": "fpgaflow.frontends.qonnx.reference:qonnx_cpu",
}
# `--reference all` runs every reference of the design's framework and compares all pairwise
ALL = "all"
DEFAULT = "default"  # the design framework's CPU one


def reference(name: str, design) -> Predictor:
    module, _, fn = REFERENCES[name].partition(":")
    return getattr(import_module(module), fn)(design)


def no_cuda(name: str, why: str, alternative: str) -> FpgaflowError:
    return FpgaflowError(f"reference {name}: no CUDA device here ({why}); use --reference {alternative}, "
                         f"or run on a machine with a GPU and a CUDA build")


def in_batches(run, x: np.ndarray, batch: int) -> np.ndarray:
    """run(batch of NCHW images) -> logits, over x in batches, as float64."""
    outs = [run(x[i:i + batch]) for i in range(0, len(x), batch)]
    return np.concatenate(outs).astype(np.float64) if outs else np.zeros((0, 0))


def reference_names(design, reference: str) -> list[str]:
    """The references a --reference value stands for, for this design; an error if foreign."""
    own = design.framework.references
    if reference == ALL:
        return list(own)
    if reference in (None, DEFAULT):
        return [own[0]]
    if reference not in own:
        raise FpgaflowError(f"reference '{reference}' does not apply to {design.name} ({design.framework.name}): "
                            f"use one of {', '.join(own)}, {ALL}")
    return [reference]


def cpu_reference(design) -> Predictor:
    return reference(design.framework.references[0], design)


def gpu_reference(design) -> tuple[Predictor | None, str | None]:
    """(the framework's GPU reference, None) where this machine has one, else (None, why not):
    a benchmark reports it as null with the reason."""
    own = design.framework.references
    if len(own) < 2:
        return None, f"no GPU reference for {design.framework.name} models ({own[0]} runs on the CPU)"
    try:
        return reference(own[1], design), None
    except FpgaflowError as e:
        return None, str(e).split(";")[0]
