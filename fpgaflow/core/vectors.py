"""Test vectors in the text format of hls4ml's tb_data files: one vector per line.

Each number is written as Python's repr (the shortest text that parses back to the same
double), so a testbench reading the file sees exactly the numbers that were written.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_dat(path: Path, rows: np.ndarray) -> None:
    rows = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    # images hold few distinct values: format each once
    values, inverse = np.unique(rows, return_inverse=True)
    text = np.array([repr(float(v)) for v in values], dtype=object)[inverse.reshape(rows.shape)]
    with open(path, "w") as f:
        f.writelines(" ".join(row) + "\n" for row in text)


def read_dat(path: Path, width: int) -> np.ndarray:
    data = np.loadtxt(path, dtype=np.float64, ndmin=2)
    return data.reshape(-1, width) if data.size else np.zeros((0, width))
