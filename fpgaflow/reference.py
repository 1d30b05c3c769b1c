"""Reference inference of the trained model: what the hardware must reproduce exactly.

REFERENCES maps a reference name (recorded in verify.json) to a function that builds a
batch predictor for a design. Outputs are the pre-softmax logits as float64. A reference
that cannot run here (no CUDA) raises an error: never a silent fallback to another device.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np
import torch

from .errors import FpgaflowError
from .export import trained_model
from .spec import Design

Predictor = Callable[[np.ndarray], np.ndarray]


def _predictor(model: torch.nn.Module, device: str, batch: int) -> Predictor:
    def predict(x: np.ndarray) -> np.ndarray:
        outs = []
        with torch.no_grad():
            for i in range(0, len(x), batch):
                xb = torch.from_numpy(np.ascontiguousarray(x[i:i + batch])).to(device)
                outs.append(model(xb).cpu().numpy())
        return np.concatenate(outs).astype(np.float64) if outs else np.zeros((0, 0))

    return predict


def torch_cpu(design: Design, batch: int = 500) -> Predictor:
    return _predictor(trained_model(design), "cpu", batch)


def cuda_available() -> bool:
    return torch.cuda.is_available()


def torch_cuda(design: Design, batch: int = 1000) -> Predictor:
    if not cuda_available():
        raise FpgaflowError("reference torch-cuda: no CUDA device here (torch.cuda.is_available() is False); "
                            "use --reference torch-cpu, or run on a machine with a GPU and a CUDA build of torch")
    # exact float32 sums need full-precision products: no TF32, deterministic kernels
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True)
    return _predictor(trained_model(design).to("cuda"), "cuda", batch)


REFERENCES: dict[str, Callable[[Design], Predictor]] = {"torch-cpu": torch_cpu, "torch-cuda": torch_cuda}
# `--reference all` runs every reference and compares C-sim and references pairwise
ALL = "all"
