"""Quantization-aware training of a design's QKeras model (framework: keras).

Same split, config and metrics file as the Brevitas trainer (fpgaflow.train.common).
Seeded, with TensorFlow's deterministic ops. Writes <out>/weights.h5 (weights only) and
<out>/metrics.json; the latest epoch is checkpointed in build/<design>/train/.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from ..core.spec import Design
from ..frontends.qkeras.env import deterministic, setup
from ..frontends.qkeras.model import build_model
from .common import load_data, random_shift, train_config, write_metrics


def to_keras(x: np.ndarray) -> np.ndarray:
    """NCHW (the loader's layout) -> NHWC (Keras')."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    logits = model.predict(to_keras(x), batch_size=1000, verbose=0)
    return float((logits.argmax(1) == y).mean())


def train(design: Design, out_dir: Path | None = None, epochs: int | None = None,
          checkpoint_dir: Path | None = None, progress: bool = True) -> dict:
    keras = setup()
    import tensorflow as tf

    cfg = train_config(design, epochs)
    out_dir = Path(out_dir or design.dir)
    data = load_data(design, cfg)
    deterministic(cfg["seed"])
    model = build_model(design.spec)
    steps = max(1, cfg["epochs"] * -(-data.n_train // cfg["batch_size"]))
    lr = keras.optimizers.schedules.CosineDecay(cfg["lr"], steps)
    opt = keras.optimizers.Adam(lr, weight_decay=cfg["weight_decay"] or None)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    ckpt_dir = Path(checkpoint_dir or Path("build") / design.name / "train")
    ckpt_dir.mkdir(parents=True, exist_ok=True)

    best = {"val_accuracy": -1.0, "epoch": 0, "weights": model.get_weights()}
    history = []
    x_val, y_val = data.x[data.n_train:], data.y[data.n_train:]

    class Track(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            val = accuracy(self.model, x_val, y_val) if len(x_val) else float("nan")
            history.append({"epoch": epoch + 1, "loss": round(float(logs["loss"]), 5), "val_accuracy": val})
            print(f"epoch {epoch + 1}: loss {logs['loss']:.4f}, val accuracy {val:.4f}", flush=True)
            self.model.save_weights(str(ckpt_dir / "checkpoint.h5"))
            if not len(x_val) or val >= best["val_accuracy"]:
                best.update(val_accuracy=val, epoch=epoch + 1, weights=self.model.get_weights())

    class Batches(keras.utils.Sequence):
        """Seeded shuffling and shift augmentation, the same on every run."""

        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(cfg["seed"])
            self.order = self.rng.permutation(data.n_train)

        def __len__(self):
            return -(-data.n_train // cfg["batch_size"])

        def __getitem__(self, i):
            idx = np.sort(self.order[i * cfg["batch_size"]:(i + 1) * cfg["batch_size"]])
            return to_keras(random_shift(data.x[idx], cfg["shift"], self.rng)), data.y[idx]

        def on_epoch_end(self):
            self.order = self.rng.permutation(data.n_train)

    t0 = time.time()
    model.fit(Batches(), epochs=cfg["epochs"], shuffle=False, verbose=1 if progress else 0, callbacks=[Track()])
    model.set_weights(best["weights"])
    test_acc = accuracy(model, data.x_test, data.y_test)
    out_dir.mkdir(parents=True, exist_ok=True)
    # written beside, then renamed: an interrupted run never leaves a half-written weights file
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        model.save_weights(str(Path(tmp) / "weights.h5"))
        (Path(tmp) / "weights.h5").replace(out_dir / "weights.h5")
    return write_metrics(design, out_dir, data, cfg, test_acc, best["val_accuracy"], best["epoch"], history,
                         time.time() - t0, tensorflow=tf.__version__)
