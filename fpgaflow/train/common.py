"""What every framework's training shares: the data split, the config, the metrics file.

The last `val_size` training images pick the best epoch; the test split is only measured.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_write_text
from ..core.data import data_dir, load_split, to_input
from ..core.errors import FpgaflowError
from ..core.spec import Design


@dataclass
class Split:
    x: np.ndarray        # all training images, NCHW float32 on the input grid
    y: np.ndarray
    n_train: int         # x[:n_train] trains, x[n_train:] validates
    x_test: np.ndarray
    y_test: np.ndarray


def train_config(design: Design, epochs: int | None) -> dict:
    cfg = dict(design.spec["train"])
    if epochs is not None:
        cfg["epochs"] = epochs
    return cfg


def load_data(design: Design, cfg: dict) -> Split:
    ddir = data_dir(design.spec["dataset"]["path"], design.dir)
    images, labels = load_split(ddir, "train")
    test_images, test_labels = load_split(ddir, "test")
    n_val = cfg["val_size"]
    if n_val >= len(images):
        raise FpgaflowError(f"train.val_size: {n_val} leaves no training images (the split has {len(images)})")
    bits = design.spec["quant"]["input_bits"]
    return Split(to_input(images, bits), labels, len(images) - n_val, to_input(test_images, bits), test_labels)


def random_shift(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each NCHW image moved by up to max_shift pixels each way, zeros shifted in: the values
    stay on the input grid, so quantization-aware training sees only representable inputs."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    pad = np.pad(x, ((0, 0), (0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n))
    rows = dy[:, None] + np.arange(h)[None, :]          # [n, h]
    cols = dx[:, None] + np.arange(w)[None, :]          # [n, w]
    return pad[np.arange(n)[:, None, None, None], np.arange(x.shape[1])[None, :, None, None],
               rows[:, None, :, None], cols[:, None, None, :]]


def write_metrics(design: Design, out_dir: Path, split: Split, cfg: dict, test_acc: float, best_val: float,
                  best_epoch: int, history: list, seconds: float, **extra) -> dict:
    metrics = {
        "design": design.name,
        "framework": design.spec["framework"],
        "test_accuracy": test_acc,
        "test_images": int(len(split.x_test)),
        "val_accuracy": best_val,
        "best_epoch": best_epoch,
        "train_split": {"file": "train", "train_indices": [0, split.n_train], "val_indices": [split.n_train, len(split.x)]},
        "train": cfg,
        "history": history,
        "seconds": round(seconds, 1),
        **extra,
    }
    atomic_write_text(Path(out_dir) / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics
