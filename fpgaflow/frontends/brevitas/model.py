"""Brevitas QAT networks built from a design's resolved layers.

Each layer type is one builder in LAYER_BUILDERS, so a new layer type is a new entry, not a
new branch. Builders read a resolved layer (fpgaflow.core.layers.Layer): its input shape,
bit widths and parameters are settled there, once.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...core.errors import FpgaflowError
from ...core.layers import FOLDED, Layer, resolve
from .graph import GlobalAvgPool, GraphNet, Join, Stage, uses_graph
from .quantizers import ActQuant, BiasQuant, InputQuant, OperandQuant, WeightQuant


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


def _join(spec, layer: Layer):
    # one signed quantizer for every operand: all on one power-of-two grid, so a sum is an
    # integer sum in hardware and a concatenation one tensor of one type
    operand = _qnn().QuantIdentity(act_quant=OperandQuant, bit_width=layer.in_bits, return_quant_tensor=True)
    return [Join(layer.type, operand, nn.Sequential(*_act(layer)))]


LAYER_BUILDERS = {"conv": _conv, "dwconv": _dwconv, "maxpool": lambda spec, layer: [nn.MaxPool2d(layer.get("kernel"))],
                  "flatten": lambda spec, layer: [nn.Flatten()], "dense": _dense,
                  # trained only (deployed, it is folded into its producer): the producer's
                  # FoldedBatchNorm normalizes, this layer's module is the activation after it
                  "batchnorm": lambda spec, layer: _act(layer) or [nn.Identity()],
                  "add": _join, "concat": _join,
                  "global_avgpool": lambda spec, layer: [GlobalAvgPool(*layer.in_shape[1:])]}


class FoldedBatchNorm(nn.Module):
    """A weighted layer with the batch normalization after it folded into its weights while it
    trains (Jacob et al. 2018, as torch.ao's ConvBn2d): the weight quantizer sees the folded
    weights w * gamma / sigma, so the weights the hardware gets are the ones trained. In
    training the output is un-scaled and normalized with the batch's statistics; in eval it is
    exactly the deployed layer: folded weights and bias, both quantized."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer
        n = layer.out_channels if hasattr(layer, "out_channels") else layer.out_features
        self.bn = nn.BatchNorm2d(n) if hasattr(layer, "out_channels") else nn.BatchNorm1d(n)

    def _gain(self):
        return self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)

    def _fold(self, gain):
        return (self.layer.weight * gain.view(-1, *([1] * (self.layer.weight.dim() - 1))),
                self.bn.bias + (self.layer.bias - self.bn.running_mean) * gain)

    def folded(self):
        """(weight, bias) of the deployed layer: the batch normalization's running statistics
        folded in."""
        return self._fold(self._gain())

    def _op(self, x, weight, bias):
        m = self.layer
        if isinstance(m, nn.Conv2d):
            return F.conv2d(x, weight, bias, m.stride, m.padding, m.dilation, m.groups)
        return F.linear(x, weight, bias)

    def forward(self, x):
        value = x.value if hasattr(x, "value") else x
        gain = self._gain()
        weight, bias = self._fold(gain)
        qweight = self.layer.weight_quant(weight)
        if self.training:
            per_channel = (1, -1, *([1] * (value.dim() - 2)))
            y = self._op(value, qweight.value, None) / gain.view(per_channel)
            return self.bn(y + self.layer.bias.view(per_channel))
        return self._op(value, qweight.value, self.layer.bias_quant(bias, x, qweight).value)


def build_model(spec, as_trained: bool = False) -> nn.Module:
    """The Brevitas model of a design spec (a dict validated by fpgaflow.core.spec): the deployed
    architecture (channel-pruned layers at their kept width), or with as_trained the network
    as the design file states it, which training runs."""
    qnn = _qnn()
    layers = resolve(spec, as_trained)
    stem = qnn.QuantIdentity(act_quant=InputQuant, bit_width=spec["quant"]["input_bits"], return_quant_tensor=True)
    normalized = {l.inputs[0] for l in layers if l.type in FOLDED}  # the layers a batchnorm folds into
    per_layer = {}
    for layer in layers:
        builder = LAYER_BUILDERS.get(layer.type)
        if builder is None:
            raise FpgaflowError(f"unsupported layer type '{layer.type}' (supported: {', '.join(LAYER_BUILDERS)})")
        modules = builder(spec, layer)
        if layer.name in normalized:
            modules[0] = FoldedBatchNorm(modules[0])
        per_layer[layer.name] = modules
    if layers[-1].out_shape != (spec["dataset"]["num_classes"],):
        raise FpgaflowError(f"the last layer gives shape {layers[-1].out_shape}, "
                            f"expected ({spec['dataset']['num_classes']},) logits")
    if uses_graph(spec):
        return GraphNet(stem, layers, {name: Stage(*m) for name, m in per_layer.items()})
    return nn.Sequential(stem, *[m for modules in per_layer.values() for m in modules])


def deployed_state(spec: dict, state: dict) -> dict:
    """The trained state dict (batch normalizations inside FoldedBatchNorm) -> the deployed
    model's: each folded layer's weight and bias replaced by the folded ones, the batchnorm
    layer's activation moved behind the layer it was folded into. Other designs: unchanged."""
    if not any(l["type"] in FOLDED for l in spec["layers"]):
        return state
    trained = build_model(spec, as_trained=True)
    trained.load_state_dict(state)
    renamed = {l.name: l.inputs[0] for l in resolve(spec, as_trained=True) if l.type in FOLDED}
    out = {}
    for key, value in state.items():
        _, name, index, rest = key.split(".", 3) if key.startswith("layers.") else (None, None, None, key)
        if name in renamed:  # the batchnorm's activation: behind its producer's layer
            out[f"layers.{renamed[name]}.{int(index) + 1}.{rest}"] = value
        elif name is not None and isinstance(trained.layers[name][int(index)], FoldedBatchNorm):
            if rest.startswith("layer."):
                out[f"layers.{name}.{index}.{rest[len('layer.'):]}"] = value
        else:
            out[key] = value
    with torch.no_grad():
        for name, seq in trained.layers.items():
            if isinstance(seq[0], FoldedBatchNorm):
                weight, bias = seq[0].folded()
                out[f"layers.{name}.0.weight"], out[f"layers.{name}.0.bias"] = weight.detach(), bias.detach()
    return out


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
