"""QKeras QAT networks built from a design's resolved layers (framework: keras).

The same layer types as the Brevitas front end (but depthwise), with quantizers chosen for
bit-exact hardware:
- input: fed on its grid as is (exact on ap_ufixed<input_bits,0>; no quantizer layer needed);
- weights: quantized_bits(w, 0, alpha=1): integers times 2^-(w-1), a fixed power-of-two scale;
- biases: quantized_bits on the layer's accumulator grid (input LSB x weight LSB), bias_bits wide;
- activations: quantized_relu(a): unsigned, 2^-a steps, round half to even, saturating,
  which hls4ml reproduces as ap_ufixed<a,0,AP_RND_CONV,AP_SAT>.
Keras layers carry the resolved layer names, which become the hls4ml layer names.
"""
from __future__ import annotations

from pathlib import Path

from ...core.errors import FpgaflowError
from ...core.layers import INPUT, Layer, resolve
from .env import setup

INPUT_NAME = "image"  # hls4ml fails on an input layer named `input`


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


def _act(layer: Layer, acc_frac):
    """(layers, fraction bits of the output) for the layer's activation."""
    if layer.activation != "relu":
        return [], acc_frac
    return [_q().QActivation(_q().quantized_relu(layer.act_bits), name=f"{layer.name}_act")], layer.act_bits


def _conv(spec, layer: Layer, in_frac):
    k, s, p = layer.get("kernel"), layer.get("stride", 1), layer.get("padding", 0)
    if p not in (0, (k - 1) // 2) or (p and k % 2 == 0):
        raise FpgaflowError(f"layer {layer.name}: Keras has no padding {p} for kernel {k} (use 0 or {(k - 1) // 2})")
    wb = layer.weight_bits
    conv = _q().QConv2D(layer.get("filters"), k, strides=s, padding="same" if p else "valid", name=layer.name,
                        kernel_quantizer=_weight_quant(wb), bias_quantizer=_bias_quant(spec, in_frac, wb))
    acts, frac = _act(layer, in_frac + wb - 1)
    return [conv, *acts], frac


def _maxpool(spec, layer: Layer, in_frac):
    from tf_keras import layers

    return [layers.MaxPooling2D(layer.get("kernel"), name=layer.name)], in_frac


def _flatten(spec, layer: Layer, in_frac):
    from tf_keras import layers

    return [layers.Flatten(name=layer.name)], in_frac


def _dense(spec, layer: Layer, in_frac):
    wb = layer.weight_bits
    fc = _q().QDense(layer.get("units"), name=layer.name, kernel_quantizer=_weight_quant(wb),
                     bias_quantizer=_bias_quant(spec, in_frac, wb))
    acts, frac = _act(layer, in_frac + wb - 1)
    return [fc, *acts], frac


def _add(spec, layer: Layer, in_frac):
    """The operands summed as they are: each lies on its own power-of-two grid (an accumulator's,
    an activation's), and hls4ml's merge type holds the sum of the finest; then the ReLU."""
    from tf_keras import layers

    acts, frac = _act(layer, in_frac)
    return [layers.Add(name=layer.name), *acts], frac


def _global_avgpool(spec, layer: Layer, in_frac):
    """The mean over 2^k pixels is exact on a grid k bits finer; other windows have no exact
    fixed-point mean, so they are refused before anything trains."""
    from tf_keras import layers

    pixels = layer.in_shape[1] * layer.in_shape[2]
    if pixels & (pixels - 1):
        raise FpgaflowError(f"layer {layer.name}: a global average over {pixels} pixels has no exact fixed-point mean "
                            f"(make the map before it 2x2, 4x4, 8x4 ...)")
    return [layers.GlobalAveragePooling2D(name=layer.name)], in_frac + pixels.bit_length() - 1


def _concat(spec, layer: Layer, in_frac):
    """Channels one after the other, each on its own grid: hls4ml's concatenation type holds all."""
    from tf_keras import layers

    return [layers.Concatenate(name=layer.name)], in_frac


LAYER_BUILDERS = {"conv": _conv, "maxpool": _maxpool, "flatten": _flatten, "dense": _dense, "add": _add, "concat": _concat,
                  "global_avgpool": _global_avgpool}


def build_model(spec):
    """The Keras functional model: each layer applied to the layers its inputs name, each
    value's grid (its fraction bits) tracked so biases sit on their accumulator's grid."""
    keras = setup()
    c, h, w = spec["dataset"]["input_shape"]
    inp = keras.Input((h, w, c), name=INPUT_NAME)  # channels last, as Keras and hls4ml hold it
    values, fracs = {INPUT: inp}, {INPUT: spec["quant"]["input_bits"]}
    for layer in resolve(spec):
        builder = LAYER_BUILDERS.get(layer.type)
        if builder is None:
            raise FpgaflowError(f"unsupported layer type '{layer.type}' for Keras (supported: {', '.join(LAYER_BUILDERS)})")
        mods, fracs[layer.name] = builder(spec, layer, max(fracs[n] for n in layer.inputs))
        x = [values[n] for n in layer.inputs]
        x = mods[0](x if len(x) > 1 else x[0])
        for m in mods[1:]:
            x = m(x)
        values[layer.name] = x
    return keras.Model(inp, values[layer.name], name=spec["name"])


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
    """The design's Keras model: built from the spec with its trained weights, or for an
    imported design (framework keras_model) the whole model file as the user made it."""
    if design.framework.imported:
        return load_exported(weights or design.weights)
    return load_weights(build_model(design.spec), weights or design.weights)


def load_exported(path: Path):
    """A whole Keras model file with QKeras' custom objects (QKeras' own loader, no compiling)."""
    setup()
    from qkeras.utils import load_qmodel

    return load_qmodel(str(path), compile=False)
