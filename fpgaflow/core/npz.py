"""Datasets in one .npz file: x_train, y_train, x_test, y_test.

Inputs may be feature vectors (N, F), images (N, H, W) or (N, H, W, C), or already NCHW; they
are matched against the model's input shape and handed on as float32 NCHW or (N, F). Labels
are class indices (or one-hot rows). Files are read with allow_pickle=False: an untrusted
file cannot run code. Every disagreement is one line naming both sides.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import FpgaflowError

KEYS = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}


def open_npz(path: Path, keys: tuple[str, ...]) -> dict:
    """The arrays `keys` of an npz file (only those are read), or one line naming what is missing."""
    path = Path(path)
    if not path.is_file():
        raise FpgaflowError(f"dataset not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise FpgaflowError(f"{path}: no {' or '.join(missing)} (an npz dataset holds "
                                    f"{', '.join(k for pair in KEYS.values() for k in pair)}; it has "
                                    f"{', '.join(f.files) or 'nothing'})")
            return {k: f[k] for k in keys}
    except (ValueError, OSError, EOFError) as e:
        raise FpgaflowError(f"{path}: not a readable .npz file ({str(e).splitlines()[0]})") from None


def as_model_input(x: np.ndarray, shape: list[int], where: str) -> np.ndarray:
    """x (N, ...) arranged as the model takes it: (N, *shape), shape [C, H, W] or [F]."""
    shape = tuple(shape)
    if x.dtype.kind not in "fiu" or x.ndim < 2:
        raise FpgaflowError(f"{where}: expected numeric samples (N, ...), got {x.dtype} of shape {x.shape}")
    sample = x.shape[1:]
    if sample == shape:
        out = x
    elif len(shape) == 3 and sample == (shape[1], shape[2]) and shape[0] == 1:
        out = x[:, None]                                # H x W images, one channel
    elif len(shape) == 3 and sample == (shape[1], shape[2], shape[0]):
        out = x.transpose(0, 3, 1, 2)                   # H x W x C -> C x H x W
    elif len(shape) == 1 and int(np.prod(sample)) == shape[0] and len(sample) > 1:
        out = x.reshape(len(x), -1)                     # images the model reads flattened
    else:
        raise FpgaflowError(f"{where}: samples of shape {sample}, the model takes {shape}"
                            + (" (C, H, W)" if len(shape) == 3 else " (features)"))
    return np.ascontiguousarray(out, dtype=np.float32)


def as_labels(y: np.ndarray, n: int, num_classes: int, where: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == num_classes:
        y = y.argmax(1)                                  # one-hot rows
    if y.ndim != 1 or y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.array_equal(y, np.round(y))):
        raise FpgaflowError(f"{where}: expected class indices (N,) or one-hot (N, {num_classes}), "
                            f"got {y.dtype} of shape {y.shape}")
    if len(y) != n:
        raise FpgaflowError(f"{where}: {len(y)} labels for {n} samples")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise FpgaflowError(f"{where}: labels {int(y.min())}..{int(y.max())}, the model has {num_classes} outputs "
                            f"(classes 0..{num_classes - 1})")
    return y


def load_npz_split(path: Path, split: str, shape: list[int], num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    xk, yk = KEYS[split]
    data = open_npz(path, (xk, yk))
    x = as_model_input(data[xk], shape, f"{Path(path).name} {xk}")
    return x, as_labels(data[yk], len(x), num_classes, f"{Path(path).name} {yk}")


def quantize_input(x: np.ndarray, q: dict) -> np.ndarray:
    """x on the model's input grid: clip(round(x / scale), min, max) * scale, as its input
    quantizer computes it (ROUND: half to even, as numpy, torch and qonnx round)."""
    if q["scale"] is None:
        raise FpgaflowError("quant.input.scale: an npz dataset needs the model's input quantizer "
                            "(fpgaflow import writes it)")
    scale = np.float32(q["scale"])
    rounded = np.floor(x / scale) if q["rounding"] == "FLOOR" else np.round(x / scale)
    return (np.clip(rounded, q["min"], q["max"]) * scale).astype(np.float32)
