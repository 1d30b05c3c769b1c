"""A small QKeras functional model for `fpgaflow import` of Keras graphs: a residual add, a
concatenation of two branches and a global average pooling, on MNIST at 16x16 (the .npz of
graph_examples.mnist16_npz). Made and trained here in seconds; nothing is downloaded.

Every quantizer is power-of-two (alpha=1), so hls4ml can reproduce TensorFlow bit for bit:
8-bit input on the 2^-7 grid, 4-bit weights, 4-bit quantized_relu activations.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

NUM_CLASSES = 10


def _quantizers():
    from qkeras import quantized_bits

    # biases on the 2^-7 grid: no finer than any accumulator here (input 2^-7 or 2^-4 times 2^-3 weights)
    return dict(kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(12, 4, alpha=1))


def _conv(x, filters: int, kernel: int, name: str, relu: bool = True):
    from qkeras import QActivation, QConv2D, quantized_relu

    x = QConv2D(filters, kernel, padding="same", name=name, **_quantizers())(x)
    return QActivation(quantized_relu(4, 0), name=f"{name}_relu")(x) if relu else x


def residual_model(shape=(16, 16, 1)):
    """stem conv, 2x2 pool, residual block (two 3x3 convs + add + ReLU), a 1x1 and a 3x3 branch
    concatenated, 2x2 pool, 3x3 head conv, global average over 4x4, dense classifier. The
    global average reads the head's quantized ReLU: fpgaflow sizes the mean's type from it."""
    from ..frontends.qkeras.env import setup

    keras = setup()
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    layers = keras.layers
    image = keras.Input(shape, name="image")          # hls4ml refuses an input layer named `input`
    x = QActivation(quantized_bits(8, 0, alpha=1), name="inq")(image)
    x = layers.MaxPooling2D(2, name="stem_pool")(_conv(x, 8, 3, "stem"))             # 8x8x8
    y = _conv(_conv(x, 8, 3, "b1a"), 8, 3, "b1b", relu=False)
    x = QActivation(quantized_relu(4, 0), name="b1_relu")(layers.Add(name="b1")([y, x]))
    x = layers.Concatenate(name="cat")([_conv(x, 8, 1, "br_a"), _conv(x, 8, 3, "br_b")])  # 8x8x16
    x = _conv(layers.MaxPooling2D(2, name="cat_pool")(x), 32, 3, "head")              # 4x4x32
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    logits = QDense(NUM_CLASSES, name="fc", **_quantizers())(x)
    return keras.Model(image, logits, name="qkeras_residual")


def qkeras_residual(path: Path, npz: Path, epochs: int = 1) -> Path:
    """The residual model trained `epochs` epochs on the npz's training split (NCHW, fed to
    Keras channels-last as fpgaflow's reference feeds it), saved as one .h5 file."""
    from ..frontends.qkeras.env import setup

    keras = setup()
    keras.utils.set_random_seed(0)
    data = np.load(npz)
    x, y = data["x_train"].transpose(0, 2, 3, 1), data["y_train"]
    model = residual_model(x.shape[1:])
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    model.save(str(path), include_optimizer=False)
    return Path(path)
