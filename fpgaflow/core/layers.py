"""A design's network resolved once: every layer with its name, shapes, bit widths, weight
matrix and evaluations, the way hls4ml resolves its ModelGraph before any pass reads it.

Builders (Brevitas, QKeras, the float network), converters, estimators, tracers and the
pruner read these records instead of walking the spec and re-applying its defaults.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

# a design's and a layer's name: a folder name and an identifier in generated code
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# layers whose weights become multipliers; named conv1, conv2, fc1 ... unless the spec names them
WEIGHTED = {"conv": "conv", "dwconv": "dw", "dense": "fc"}
# other layers get readable names too (pool1, bn1, add1, flatten1): hls4ml names its layers after them
UNNAMED = {"maxpool": "pool", "avgpool": "avg", "batchnorm": "bn", "global_avgpool": "gap"}
# layers that join two branches: their output shape from both inputs' shapes (an add's are
# one shape, a concatenation's one height and width)
JOINS = {"add": lambda shapes: shapes[0],
         "concat": lambda shapes: (sum(s[0] for s in shapes), *shapes[0][1:])}
# where a graph starts: a layer's `inputs` may name it
INPUT = "input"
# a trained batch normalization is folded into the weighted layer before it (its weights and
# bias rescaled, that layer's activation taken over): the hardware never computes one, so it is
# exact by construction
FOLDED = {"batchnorm"}
# the layers without weights that end in an activation (relu or none)
ACTIVATED = FOLDED | {"add"}
# layers whose output channels channel pruning removes; a depthwise layer has as many channels
# as its input, so it loses those its producer lost. The last layer (the logits) keeps all.
CHANNEL_PRUNABLE = {"conv": "filters", "dense": "units"}


def _conv_shape(layer, shape):
    c, h, w = shape
    k, s, p = layer["kernel"], layer.get("stride", 1), layer.get("padding", 0)
    return layer.get("filters", c), (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1  # dwconv keeps C


# the shape each layer type gives for its input shape ((C, H, W) or (N,))
OUTPUT_SHAPES = {
    "conv": _conv_shape,
    "dwconv": _conv_shape,
    "maxpool": lambda layer, shape: (shape[0], shape[1] // layer["kernel"], shape[2] // layer["kernel"]),
    "avgpool": lambda layer, shape: (shape[0], shape[1] // layer["kernel"], shape[2] // layer["kernel"]),
    "flatten": lambda layer, shape: (math.prod(shape),),
    "dense": lambda layer, shape: (layer["units"],),
    "batchnorm": lambda layer, shape: shape,
    "global_avgpool": lambda layer, shape: (shape[0],),
}

# a weighted layer's weight matrix (n_in x n_out) for its input shape; a depthwise layer holds
# k x k weights per channel
MATRIX_SIZE = {
    "conv": lambda layer, shape: (layer["kernel"] ** 2 * shape[0], layer["filters"]),
    "dwconv": lambda layer, shape: (layer["kernel"] ** 2, shape[0]),
    "dense": lambda layer, shape: (shape[0], layer["units"]),
}


@dataclass(frozen=True)
class Layer:
    name: str
    type: str
    inputs: tuple              # the names of the layers it reads ("input": the model's input)
    in_shape: tuple            # (C, H, W) or (N,)
    out_shape: tuple
    params: dict               # the spec's entry, defaults filled (kernel, stride, filters, ...)
    last: bool
    activation: str | None     # "relu" / "none" for conv, dwconv, dense, batchnorm and add layers
    weight_bits: int | None    # weighted layers: the layer's or quant.weight_bits
    act_bits: int | None       # bits of the activation after it (relu layers)
    in_bits: int               # bits of the activation it reads (an add: of its operands' shared quantizer)
    matrix: tuple | None       # (n_in, n_out) of a weighted layer
    evaluations: int           # kernel evaluations per inference (output pixels of a conv; 1 for dense)

    @property
    def weighted(self) -> bool:
        return self.type in WEIGHTED

    @property
    def prunable(self) -> bool:
        """Channel pruning removes its output channels (conv and dense, but not the logits)."""
        return self.type in CHANNEL_PRUNABLE and not self.last

    @property
    def width(self) -> int | None:
        """Its output channels (filters or units) where channel pruning can change them."""
        return self.params.get(CHANNEL_PRUNABLE[self.type]) if self.type in CHANNEL_PRUNABLE else None

    def get(self, key, default=None):
        return self.params.get(key, default)


def output_shape(layer: dict, shape: tuple, inputs: list[tuple] = ()) -> tuple:
    """Its output shape for its input's shape; a join's from all its inputs' shapes."""
    if layer["type"] in JOINS:
        return JOINS[layer["type"]]([tuple(s) for s in inputs] or [tuple(shape)])
    return OUTPUT_SHAPES[layer["type"]](layer, tuple(shape))


def kept_channels(n: int, sparsity: float) -> int:
    """Channels left of n when a fraction `sparsity` is pruned (at least one)."""
    return max(1, n - int(round(sparsity * n)))


def layer_names(layers: list[dict]) -> list[str]:
    """Every layer's name: its own, else its type's name and count (conv1, pool2, add1)."""
    counts, names = {}, []
    for params in layers:
        kind = params["type"]
        counts[kind] = counts.get(kind, 0) + 1
        names.append(params.get("name") or f"{WEIGHTED.get(kind) or UNNAMED.get(kind, kind)}{counts[kind]}")
    return names


def layer_inputs(layers: list[dict]) -> list[tuple]:
    """Every layer's inputs: the names it gives, else the layer before it (the model's input
    for the first), so a chain needs no `inputs` at all."""
    names = layer_names(layers)
    return [tuple(p.get("inputs") or [names[i - 1] if i else INPUT]) for i, p in enumerate(layers)]


def is_graph(spec: dict) -> bool:
    """The network is more than a chain: some layer joins branches or reads a layer other than
    the one before it."""
    chain = [(previous,) for previous in [INPUT, *layer_names(spec["layers"])[:-1]]]
    return any(l["type"] in JOINS for l in spec["layers"]) or layer_inputs(spec["layers"]) != chain


def fold_batchnorm(layers: list[dict]) -> list[dict]:
    """The layers with every batchnorm folded into the weighted layer it reads: that layer takes
    the batchnorm's activation and act_bits, and the batchnorm's readers read it instead."""
    renamed, out = {}, {}
    for params, name, ins in zip(layers, layer_names(layers), layer_inputs(layers)):
        if params["type"] in FOLDED:
            renamed[name] = ins[0]
            out[ins[0]] = {**out[ins[0]], **{k: v for k, v in params.items() if k in ("activation", "act_bits")}}
        else:
            out[name] = {**params, **({"inputs": [renamed.get(n, n) for n in params["inputs"]]}
                                      if params.get("inputs") else {})}
    return list(out.values())


def deployed(spec: dict) -> dict:
    """The architecture the hardware gets: batch normalizations folded into the layers before
    them and, with channel pruning, every prunable layer's width reduced to its kept channels.
    The design file states the network as trained; training saves the weights of this one."""
    if any(l["type"] in FOLDED for l in spec["layers"]):
        spec = {**spec, "layers": fold_batchnorm(spec["layers"])}
    prune = spec["prune"]
    if prune["kind"] != "channel" or prune["sparsity"] == 0:
        return spec
    last = len(spec["layers"]) - 1
    layers = [{**l, CHANNEL_PRUNABLE[l["type"]]: kept_channels(l[CHANNEL_PRUNABLE[l["type"]]], prune["sparsity"])}
              if l["type"] in CHANNEL_PRUNABLE and i < last else l for i, l in enumerate(spec["layers"])]
    return {**spec, "layers": layers}


def _out_bits(layer: Layer, quant: dict) -> int:
    """Bits of the values a layer gives its readers: a quantized activation's, else its input's
    (pooling, flatten and batchnorm keep the grid's width; an unquantized sum grows a bit)."""
    if layer.act_bits is not None:
        return layer.act_bits
    if layer.weighted:
        return layer.get("act_bits", quant["act_bits"])
    return layer.in_bits + (1 if layer.type in ACTIVATED & set(JOINS) else 0)  # a sum, unquantized


def resolve(spec: dict, as_trained: bool = False) -> list[Layer]:
    """The network's layers in order, each naming its inputs: as deployed (batch normalizations
    folded, channel-pruned layers at their kept width), or with as_trained as the design file
    states them, which training runs."""
    spec = spec if as_trained else deployed(spec)
    quant = spec["quant"]
    shapes = {INPUT: tuple(spec["dataset"]["input_shape"])}
    bits = {INPUT: quant["input_bits"]}
    layers = spec["layers"]
    last, out = len(layers) - 1, []
    for i, (params, name, inputs) in enumerate(zip(layers, layer_names(layers), layer_inputs(layers))):
        kind = params["type"]
        shape = shapes[inputs[0]]
        has_weights = kind in WEIGHTED
        activation = params.get("activation", "relu") if has_weights or kind in ACTIVATED else None
        relu = activation == "relu"
        out_shape = output_shape(params, shape, [shapes[n] for n in inputs])
        layer = Layer(
            name=name, type=kind, inputs=inputs, in_shape=shape, out_shape=out_shape, params=params, last=i == last,
            activation=activation,
            weight_bits=params.get("weight_bits", quant["weight_bits"]) if has_weights else None,
            act_bits=params.get("act_bits", quant["act_bits"]) if relu else None,
            in_bits=params.get("operand_bits", 8) if kind in JOINS else bits[inputs[0]],
            matrix=MATRIX_SIZE[kind](params, shape) if has_weights else None,
            evaluations=(out_shape[1] * out_shape[2] if kind != "dense" else 1) if has_weights else 0)
        out.append(layer)
        shapes[name], bits[name] = out_shape, _out_bits(layer, quant)
    return out


def weighted(spec: dict, as_trained: bool = False) -> list[Layer]:
    return [l for l in resolve(spec, as_trained) if l.weighted]
