"""QKeras QAT networks built from a design spec (framework: keras).

The same layer types as fpgaflow.models, with quantizers chosen for bit-exact hardware:
- input: pixel/256 fed as is (exact on ap_ufixed<input_bits,0>; no quantizer layer needed);
- weights: quantized_bits(w, 0, alpha=1): integers times 2^-(w-1), a fixed power-of-two scale;
- biases: quantized_bits on the layer's accumulator grid (input LSB x weight LSB), bias_bits wide;
- activations: quantized_relu(a): unsigned, 2^-a steps, round half to even, saturating,
  which hls4ml reproduces as ap_ufixed<a,0,AP_RND_CONV,AP_SAT>.
Keras layers carry the spec's layer names, which become the hls4ml layer names.
"""
from __future__ import annotations

import math
from pathlib import Path

from .errors import FpgaflowError
from .keras_env import setup

INPUT_NAME = "image"  # hls4ml fails on an input layer named `input`
UNNAMED = {"maxpool": "pool"}


def _q():
    setup()
    import qkeras

    return qkeras


def _weight_quant(bits):
    return _q().quantized_bits(bits, 0, alpha=1)


def _bias_quant(spec, in_frac, w_bits):
    bits = spec["quant"]["bias_bits"]
    frac = in_frac + (w_bits - 1)  # the accumulator's fraction bits
    return _q().quantized_bits(bits, bits - 1 - frac, alpha=1)


def _act(spec, layer, name, acc_frac):
    """(layers, fraction bits of the output) for the layer's activation."""
    if layer.get("activation", "relu") == "none":
        return [], acc_frac
    bits = layer.get("act_bits", spec["quant"]["act_bits"])
    return [_q().QActivation(_q().quantized_relu(bits), name=f"{name}_act")], bits


def _conv(spec, layer, shape, in_frac):
    c, h, w = shape
    k, s, p = layer["kernel"], layer.get("stride", 1), layer.get("padding", 0)
    if p not in (0, (k - 1) // 2) or (p and k % 2 == 0):
        raise FpgaflowError(f"layer {layer['name']}: Keras has no padding {p} for kernel {k} (use 0 or {(k - 1) // 2})")
    wb = layer.get("weight_bits", spec["quant"]["weight_bits"])
    conv = _q().QConv2D(layer["filters"], k, strides=s, padding="same" if p else "valid", name=layer["name"],
                        kernel_quantizer=_weight_quant(wb), bias_quantizer=_bias_quant(spec, in_frac, wb))
    acts, frac = _act(spec, layer, layer["name"], in_frac + wb - 1)
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    return [conv, *acts], (layer["filters"], oh, ow), frac


def _maxpool(spec, layer, shape, in_frac):
    from tf_keras import layers

    c, h, w = shape
    k = layer["kernel"]
    return [layers.MaxPooling2D(k, name=layer["name"])], (c, h // k, w // k), in_frac


def _flatten(spec, layer, shape, in_frac):
    from tf_keras import layers

    return [layers.Flatten(name=layer["name"])], (math.prod(shape),), in_frac


def _dense(spec, layer, shape, in_frac):
    wb = layer.get("weight_bits", spec["quant"]["weight_bits"])
    fc = _q().QDense(layer["units"], name=layer["name"], kernel_quantizer=_weight_quant(wb),
                     bias_quantizer=_bias_quant(spec, in_frac, wb))
    acts, frac = _act(spec, layer, layer["name"], in_frac + wb - 1)
    return [fc, *acts], (layer["units"],), frac


LAYER_BUILDERS = {"conv": _conv, "maxpool": _maxpool, "flatten": _flatten, "dense": _dense}


def build_model(spec):
    keras = setup()
    c, h, w = spec["dataset"]["input_shape"]
    x = inp = keras.Input((h, w, c), name=INPUT_NAME)  # channels last, as Keras and hls4ml hold it
    shape, frac = (c, h, w), spec["quant"]["input_bits"]
    counts = {}
    for layer in spec["layers"]:
        counts[layer["type"]] = counts.get(layer["type"], 0) + 1
        # unnamed pooling layers get readable hls4ml names too (pool1, ...), not Keras' defaults
        layer = {"name": f"{UNNAMED.get(layer['type'], layer['type'])}{counts[layer['type']]}", **layer}
        builder = LAYER_BUILDERS.get(layer["type"])
        if builder is None:
            raise FpgaflowError(f"unsupported layer type '{layer['type']}' for Keras (supported: {', '.join(LAYER_BUILDERS)})")
        mods, shape, frac = builder(spec, layer, shape, frac)
        for m in mods:
            x = m(x)
    return keras.Model(inp, x, name=spec["name"])


def load_weights(model, path):
    """Weights only (HDF5 arrays), never a serialized model: an untrusted file runs no code."""
    path = Path(path)
    if not path.is_file():
        raise FpgaflowError(f"weights file not found: {path} (run `fpgaflow train`)")
    try:
        model.load_weights(str(path))
    except Exception as e:  # h5py/Keras raise OSError, ValueError and more for bad files
        raise FpgaflowError(f"cannot load weights {path}: {str(e).splitlines()[0]}") from None
    return model


def trained_model(design, weights=None):
    return load_weights(build_model(design.spec), weights or design.weights)
