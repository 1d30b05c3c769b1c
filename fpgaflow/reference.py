"""Reference inference of the trained model: what the hardware must reproduce exactly.

REFERENCES maps a reference name (recorded in verify.json) to a function that builds a
batch predictor for a design. Outputs are the pre-softmax logits as float64.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .export import trained_model
from .spec import Design

Predictor = Callable[[np.ndarray], np.ndarray]


def torch_cpu(design: Design, batch: int = 500) -> Predictor:
    model = trained_model(design)

    def predict(x: np.ndarray) -> np.ndarray:
        outs = []
        with torch.no_grad():
            for i in range(0, len(x), batch):
                outs.append(model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch]))).numpy())
        return np.concatenate(outs).astype(np.float64) if outs else np.zeros((0, 0))

    return predict


REFERENCES: dict[str, Callable[[Design], Predictor]] = {"torch-cpu": torch_cpu}
