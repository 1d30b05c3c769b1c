"""The Brevitas model's own inference in PyTorch: the reference a Brevitas design's hardware
must reproduce exactly (CPU; CUDA where it exists, never a silent fallback)."""
from __future__ import annotations

import os

import numpy as np

from ...verify.references import Predictor, in_batches, no_cuda


def _torch_predictor(model, device: str, batch: int) -> Predictor:
    import torch

    def run(xb: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(np.ascontiguousarray(xb)).to(device)).cpu().numpy()

    return lambda x: in_batches(run, x, batch)


def torch_cpu(design, batch: int = 500) -> Predictor:
    from .model import trained_model

    return _torch_predictor(trained_model(design), "cpu", batch)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def torch_cuda(design, batch: int = 1000) -> Predictor:
    import torch

    from .model import trained_model

    if not cuda_available():
        raise no_cuda("torch-cuda", "torch.cuda.is_available() is False", "torch-cpu")
    # exact float32 sums need full-precision products: no TF32, deterministic kernels
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True)
    return _torch_predictor(trained_model(design).to("cuda"), "cuda", batch)
