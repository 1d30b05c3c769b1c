"""Reference inference of the trained model: what the hardware must reproduce exactly.

REFERENCES maps a reference name (recorded in verify.json) to a function that builds a
batch predictor for a design. A predictor takes NCHW float32 images on the input grid and
returns the pre-softmax logits as float64. A reference that cannot run here (no CUDA)
raises an error: never a silent fallback to another device. Each framework lists its own
references (fpgaflow.frameworks); the first is its CPU reference.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from .errors import FpgaflowError
from .spec import Design

Predictor = Callable[[np.ndarray], np.ndarray]


def _no_cuda(name: str, why: str, alternative: str) -> FpgaflowError:
    return FpgaflowError(f"reference {name}: no CUDA device here ({why}); use --reference {alternative}, "
                         f"or run on a machine with a GPU and a CUDA build")


def _in_batches(run, x: np.ndarray, batch: int) -> np.ndarray:
    """run(batch of NCHW images) -> logits, over x in batches, as float64."""
    outs = [run(x[i:i + batch]) for i in range(0, len(x), batch)]
    return np.concatenate(outs).astype(np.float64) if outs else np.zeros((0, 0))


# ---- PyTorch (Brevitas designs)
def _torch_predictor(model, device: str, batch: int) -> Predictor:
    import torch

    def run(xb: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(np.ascontiguousarray(xb)).to(device)).cpu().numpy()

    return lambda x: _in_batches(run, x, batch)


def torch_cpu(design: Design, batch: int = 500) -> Predictor:
    from .export import trained_model

    return _torch_predictor(trained_model(design), "cpu", batch)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def torch_cuda(design: Design, batch: int = 1000) -> Predictor:
    import torch

    from .export import trained_model

    if not cuda_available():
        raise _no_cuda("torch-cuda", "torch.cuda.is_available() is False", "torch-cpu")
    # exact float32 sums need full-precision products: no TF32, deterministic kernels
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True)
    return _torch_predictor(trained_model(design).to("cuda"), "cuda", batch)


# ---- TensorFlow (QKeras designs)
def _tf_predictor(design: Design, device: str, batch: int) -> Predictor:
    from .keras_env import deterministic
    from .models_keras import trained_model

    deterministic()
    import tensorflow as tf

    with tf.device(device):
        model = trained_model(design)

    def run(xb: np.ndarray) -> np.ndarray:
        with tf.device(device):
            return model(np.ascontiguousarray(xb.transpose(0, 2, 3, 1)), training=False).numpy()  # NHWC, as Keras holds it

    return lambda x: _in_batches(run, x, batch)


def tf_cpu(design: Design, batch: int = 500) -> Predictor:
    return _tf_predictor(design, "/CPU:0", batch)


def tf_cuda(design: Design, batch: int = 1000) -> Predictor:
    from .keras_env import setup

    setup()
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        raise _no_cuda("tf-cuda", "TensorFlow lists no GPU", "tf-cpu")
    tf.config.experimental.enable_tensor_float_32_execution(False)
    return _tf_predictor(design, "/GPU:0", batch)


REFERENCES: dict[str, Callable[[Design], Predictor]] = {
    "torch-cpu": torch_cpu, "torch-cuda": torch_cuda, "tf-cpu": tf_cpu, "tf-cuda": tf_cuda}
# `--reference all` runs every reference of the design's framework and compares all pairwise
ALL = "all"
DEFAULT = "default"  # the design framework's CPU reference


def reference_names(design: Design, reference: str) -> list[str]:
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


def cpu_reference(design: Design) -> Predictor:
    return REFERENCES[design.framework.references[0]](design)
