"""Equal means equal: hardware outputs and reference outputs compared with ==, no tolerance.

Both sides are exact multiples of the output's power-of-two scale, so equal floats are equal
integers. Every backend's verification reports through `compare`.
"""
from __future__ import annotations

import os

import numpy as np

from ..core.errors import FpgaflowError


def compare(hw: np.ndarray, ref: np.ndarray, labels: np.ndarray | None = None) -> dict:
    if hw.shape != ref.shape:
        raise FpgaflowError(f"outputs of shape {hw.shape} cannot be compared with {ref.shape}")
    differs = (hw != ref).any(axis=1)
    n = len(hw)
    out = {
        "n": n,
        "exact": int(n - differs.sum()),
        "mismatches": int(differs.sum()),
        "max_abs_diff": float(np.abs(hw - ref).max()) if n else 0.0,
        "argmax_agreement": float((hw.argmax(1) == ref.argmax(1)).mean()) if n else 0.0,
    }
    if labels is not None:
        out["accuracy"] = float((hw.argmax(1) == labels).mean()) if n else 0.0
    out["mismatch_indices"] = np.flatnonzero(differs).tolist()
    return out


def default_workers() -> int:
    return max(1, min(len(os.sched_getaffinity(0)), 8))
