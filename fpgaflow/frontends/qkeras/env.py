"""TensorFlow/QKeras set-up shared by every Keras stage.

hls4ml and QKeras need the Keras 2 API: with Keras 3 installed beside TensorFlow 2.20,
`import keras` would give Keras 3 and hls4ml would take its Keras 3 parser, which rejects
QKeras layers. tf_keras is Keras 2; it is aliased as `keras` before either is imported.
"""
from __future__ import annotations

import os
import sys

from ...core.errors import FpgaflowError


def setup():
    """Import and return tf_keras as `keras`; call before importing qkeras or hls4ml's Keras parts."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up banner is not ours to show
    try:
        import tf_keras
    except ImportError:
        raise FpgaflowError("the Keras flow needs tensorflow, tf_keras and qkeras: install fpgaflow[keras] "
                            "(make venv does)") from None
    sys.modules["keras"] = tf_keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # e.g. "compiled metrics not built yet" on every load
    return tf_keras


def deterministic(seed: int | None = None) -> None:
    setup()
    import tensorflow as tf

    if seed is not None:
        setup().utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
