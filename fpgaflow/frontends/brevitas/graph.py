"""A network that is more than a chain, in torch: one module per resolved layer, each reading
the layers its `inputs` name. The Brevitas model and the float model of a graph design both
use it, so their state dicts are keyed by layer name (`layers.<name>.…`), which is what lets a
trained batch normalization be folded into the layer before it by name.

Chains keep nn.Sequential (their committed weights are keyed by position).
"""
from __future__ import annotations

import torch
from torch import nn

from ...core.layers import FOLDED, INPUT, is_graph


def uses_graph(spec: dict) -> bool:
    """The design's torch models are GraphNets: it branches, or it folds a batch normalization."""
    return is_graph(spec) or any(l["type"] in FOLDED for l in spec["layers"])


class GraphNet(nn.Module):
    """`stem` on the input, then each layer's module on the values of the layers it reads, in
    the order of the design file (every input comes before its reader)."""

    def __init__(self, stem: nn.Module | None, layers: list, modules: dict):
        super().__init__()
        self.stem = stem if stem is not None else nn.Identity()
        self.layers = nn.ModuleDict(modules)
        self.order = [(l.name, l.inputs) for l in layers]

    def forward(self, x):
        values = {INPUT: self.stem(x)}
        for name, inputs in self.order:
            values[name] = self.layers[name](*[values[i] for i in inputs])
        return values[self.order[-1][0]]


class Stage(nn.Sequential):
    """One layer's modules in a GraphNet: the first reads all of the layer's inputs."""

    def forward(self, *xs):
        x = self[0](*xs)
        for module in self[1:]:
            x = module(x)
        return x


def _sum(xs):
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


# how a join combines its operands: added element-wise, or channels one after the other
COMBINE = {"add": _sum, "concat": lambda xs: torch.cat(xs, dim=1)}


class Join(nn.Module):
    """Branches joined (COMBINE), each operand through `operand` first (one module for all, so a
    quantizer there puts every operand on one grid: the sum is exact, the concatenation one
    tensor of one type), then `after`."""

    def __init__(self, kind: str, operand: nn.Module, after: nn.Module):
        super().__init__()
        self.kind, self.operand, self.after = kind, operand, after

    def forward(self, *xs):
        return self.after(COMBINE[self.kind]([self.operand(x) for x in xs]))


class GlobalAvgPool(nn.Module):
    """The mean over each channel's pixels, flattened to (N, C). AvgPool2d over the whole map
    (not AdaptiveAvgPool2d, which torch exports as ReduceMean): QONNX gets an AveragePool."""

    def __init__(self, height: int, width: int):
        super().__init__()
        self.pool = nn.AvgPool2d((height, width))
        self.flatten = nn.Flatten()

    def forward(self, x):
        return self.flatten(self.pool(x))
