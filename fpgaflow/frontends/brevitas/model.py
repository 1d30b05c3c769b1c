"""Brevitas QAT networks built from a design's resolved layers.

Each layer type is one builder in LAYER_BUILDERS, so a new layer type is a new entry, not a
new branch. Builders read a resolved layer (fpgaflow.core.layers.Layer): its input shape,
bit widths and parameters are settled there, once.
"""
from __future__ import annotations

import torch
from torch import nn

from ...core.errors import FpgaflowError
from ...core.layers import Layer, resolve
from .quantizers import ActQuant, BiasQuant, InputQuant, WeightQuant


def _qnn():
    import brevitas.nn as qnn  # deferred: brevitas is heavy and not every command needs it

    return qnn


def _act(layer: Layer):
    if layer.activation != "relu":
        return []
    return [_qnn().QuantReLU(act_quant=ActQuant, bit_width=layer.act_bits, return_quant_tensor=True)]


def _conv(spec, layer: Layer, groups=1):
    c = layer.in_shape[0]
    conv = _qnn().QuantConv2d(
        c, layer.out_shape[0], layer.get("kernel"), stride=layer.get("stride", 1), padding=layer.get("padding", 0),
        bias=True, groups=groups,
        weight_quant=WeightQuant, weight_bit_width=layer.weight_bits,
        bias_quant=BiasQuant, bias_bit_width=spec["quant"]["bias_bits"],
        return_quant_tensor=not layer.last)
    return [conv, *_act(layer)]


def _dwconv(spec, layer: Layer):
    return _conv(spec, layer, groups=layer.in_shape[0])


def _dense(spec, layer: Layer):
    fc = _qnn().QuantLinear(
        layer.in_shape[0], layer.get("units"), bias=True,
        weight_quant=WeightQuant, weight_bit_width=layer.weight_bits,
        bias_quant=BiasQuant, bias_bit_width=spec["quant"]["bias_bits"],
        return_quant_tensor=not layer.last)
    return [fc, *_act(layer)]


LAYER_BUILDERS = {"conv": _conv, "dwconv": _dwconv, "maxpool": lambda spec, layer: [nn.MaxPool2d(layer.get("kernel"))],
                  "flatten": lambda spec, layer: [nn.Flatten()], "dense": _dense}


def build_model(spec, as_trained: bool = False) -> nn.Module:
    """The Brevitas model of a design spec (a dict validated by fpgaflow.core.spec): the deployed
    architecture (channel-pruned layers at their kept width), or with as_trained the network
    as the design file states it, which training runs."""
    qnn = _qnn()
    layers = resolve(spec, as_trained)
    modules = [qnn.QuantIdentity(act_quant=InputQuant, bit_width=spec["quant"]["input_bits"],
                                 return_quant_tensor=True)]
    for layer in layers:
        builder = LAYER_BUILDERS.get(layer.type)
        if builder is None:
            raise FpgaflowError(f"unsupported layer type '{layer.type}' (supported: {', '.join(LAYER_BUILDERS)})")
        modules += builder(spec, layer)
    if layers[-1].out_shape != (spec["dataset"]["num_classes"],):
        raise FpgaflowError(f"the last layer gives shape {layers[-1].out_shape}, "
                            f"expected ({spec['dataset']['num_classes']},) logits")
    return nn.Sequential(*modules)


def load_weights(model: nn.Module, path) -> nn.Module:
    """Load a state dict saved by `fpgaflow train`; untrusted files never unpickle code."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FpgaflowError(f"weights file not found: {path} (run `fpgaflow train`)") from None
    except Exception as e:  # torch raises several types for corrupt or non-tensor files
        raise FpgaflowError(f"cannot load weights {path}: {str(e).splitlines()[0]}") from None
    if not isinstance(state, dict):
        raise FpgaflowError(f"weights file {path} does not hold a state dict")
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise FpgaflowError(f"weights {path} do not match the design: {str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else e}") from None
    return model.eval()


QUANT_LAYERS = ("QuantConv2d", "QuantLinear")  # the Brevitas layers that hold weights


def quant_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if type(m).__name__ in QUANT_LAYERS]


def quantized_params(model: nn.Module, x: torch.Tensor) -> list[tuple]:
    """(layer, quantized weight, quantized bias, quantized input) of every weighted layer, as
    the model computes them on x. A bias's scale is the layer's input scale times its weight
    scale, so the model runs once to see each layer's input."""
    inputs = {}
    layers = quant_layers(model)
    hooks = [m.register_forward_pre_hook(lambda mod, args: inputs.__setitem__(mod, args[0])) for m in layers]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    out = []
    with torch.no_grad():
        for m in layers:
            weight = m.quant_weight()
            out.append((m, weight, m.bias_quant(m.bias, inputs[m], weight), inputs[m]))
    return out


def trained_model(design, weights=None) -> nn.Module:
    return load_weights(build_model(design.spec), weights or design.weights)
