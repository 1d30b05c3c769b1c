"""The design's network with plain float layers (Conv2d, Linear, ReLU, MaxPool2d): one builder
for the distillation teacher and for the float copy of a trained model (the int8 CPU runtime)."""
from __future__ import annotations

from torch import nn

from ...core.errors import FpgaflowError
from ...core.layers import Layer, resolve
from .graph import GlobalAvgPool, GraphNet, Join, Stage, uses_graph


def _relu(layer: Layer):
    return [nn.ReLU()] if layer.activation == "relu" else []


def _conv(layer: Layer, groups: int = 1):
    mods = [nn.Conv2d(layer.in_shape[0], layer.out_shape[0], layer.get("kernel"), stride=layer.get("stride", 1),
                      padding=layer.get("padding", 0), groups=groups)]
    return mods + _relu(layer)


def _dense(layer: Layer):
    return [nn.Linear(layer.in_shape[0], layer.get("units"))] + _relu(layer)


FLOAT_BUILDERS = {"conv": _conv, "dwconv": lambda layer: _conv(layer, groups=layer.in_shape[0]),
                  "maxpool": lambda layer: [nn.MaxPool2d(layer.get("kernel"))],
                  "flatten": lambda layer: [nn.Flatten()], "dense": _dense,
                  "batchnorm": lambda layer: [(nn.BatchNorm2d if len(layer.in_shape) == 3 else nn.BatchNorm1d)(
                      layer.in_shape[0]), *_relu(layer)],
                  "add": lambda layer: [Join("add", nn.Identity(), nn.Sequential(*_relu(layer)))],
                  "concat": lambda layer: [Join("concat", nn.Identity(), nn.Sequential())],
                  "global_avgpool": lambda layer: [GlobalAvgPool(*layer.in_shape[1:])]}


def build_float_model(spec: dict, as_trained: bool = False) -> nn.Module:
    """The spec's network with float layers (the teacher trains it as_trained)."""
    layers = resolve(spec, as_trained)
    if uses_graph(spec):
        return GraphNet(None, layers, {l.name: Stage(*FLOAT_BUILDERS[l.type](l)) for l in layers})
    return nn.Sequential(*[m for layer in layers for m in FLOAT_BUILDERS[layer.type](layer)])


def float_copy(design) -> nn.Module:
    """The float network holding the trained model's dequantized weights and quantized biases,
    without activation quantizers."""
    import torch

    from .model import quantized_params, trained_model

    model = trained_model(design)
    plain = build_float_model(design.spec)
    targets = [m for m in plain.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    c, h, w = design.spec["dataset"]["input_shape"]
    params = quantized_params(model, torch.zeros(1, c, h, w))
    if len(params) != len(targets):
        raise FpgaflowError(f"int8 runtime: the float copy of {design.name} has {len(targets)} weighted layers, "
                            f"the trained model {len(params)}")
    with torch.no_grad():
        for target, (q, weight, bias, _) in zip(targets, params):
            if target.weight.shape != weight.value.shape:  # copy_ would broadcast a mismatch silently
                raise FpgaflowError(f"int8 runtime: float copy of {type(q).__name__} has weights "
                                    f"{tuple(target.weight.shape)}, the design {tuple(weight.value.shape)}")
            target.weight.copy_(weight.value)
            target.bias.copy_(bias.value)
    return plain.eval()
