"""The QKeras model's own inference in TensorFlow: the reference a QKeras design's hardware
must reproduce exactly (CPU; GPU where TensorFlow lists one, never a silent fallback)."""
from __future__ import annotations

import numpy as np

from ...core.data import channels_last
from ...verify.references import Predictor, in_batches, no_cuda


def _tf_predictor(design, device: str, batch: int) -> Predictor:
    from .env import deterministic
    from .model import trained_model

    deterministic()
    import tensorflow as tf

    with tf.device(device):
        model = trained_model(design)

    def run(xb: np.ndarray) -> np.ndarray:
        with tf.device(device):
            return model(channels_last(xb), training=False).numpy()

    return lambda x: in_batches(run, x, batch)


def tf_cpu(design, batch: int = 500) -> Predictor:
    return _tf_predictor(design, "/CPU:0", batch)


def tf_cuda(design, batch: int = 1000) -> Predictor:
    from .env import setup

    setup()
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        raise no_cuda("tf-cuda", "TensorFlow lists no GPU", "tf-cpu")
    tf.config.experimental.enable_tensor_float_32_execution(False)
    return _tf_predictor(design, "/GPU:0", batch)
