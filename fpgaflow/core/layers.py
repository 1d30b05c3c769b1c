"""A design's network resolved once: every layer with its name, shapes, bit widths, weight
matrix and evaluations, the way hls4ml resolves its ModelGraph before any pass reads it.

Builders (Brevitas, QKeras, the float network), converters, estimators, tracers and the
pruner read these records instead of walking the spec and re-applying its defaults.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# layers whose weights become multipliers; named conv1, conv2, fc1 ... unless the spec names them
WEIGHTED = {"conv": "conv", "dwconv": "dw", "dense": "fc"}
# other layers get readable names too (pool1, flatten1): hls4ml names its layers after them
UNNAMED = {"maxpool": "pool"}
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
    "flatten": lambda layer, shape: (math.prod(shape),),
    "dense": lambda layer, shape: (layer["units"],),
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
    in_shape: tuple            # (C, H, W) or (N,)
    out_shape: tuple
    params: dict               # the spec's entry, defaults filled (kernel, stride, filters, ...)
    last: bool
    activation: str | None     # "relu" / "none" for conv, dwconv and dense layers
    weight_bits: int | None    # weighted layers: the layer's or quant.weight_bits
    act_bits: int | None       # bits of the activation after it (relu layers)
    in_bits: int               # bits of the activation it reads (the input's for the first)
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


def output_shape(layer: dict, shape: tuple) -> tuple:
    return OUTPUT_SHAPES[layer["type"]](layer, tuple(shape))


def kept_channels(n: int, sparsity: float) -> int:
    """Channels left of n when a fraction `sparsity` is pruned (at least one)."""
    return max(1, n - int(round(sparsity * n)))


def deployed(spec: dict) -> dict:
    """The architecture the hardware gets: the spec itself, or with channel pruning the spec
    with every prunable layer's width reduced to its kept channels. The design file states
    the network as trained; training saves the compacted weights of this one."""
    prune = spec["prune"]
    if prune["kind"] != "channel" or prune["sparsity"] == 0:
        return spec
    last = len(spec["layers"]) - 1
    layers = [{**l, CHANNEL_PRUNABLE[l["type"]]: kept_channels(l[CHANNEL_PRUNABLE[l["type"]]], prune["sparsity"])}
              if l["type"] in CHANNEL_PRUNABLE and i < last else l for i, l in enumerate(spec["layers"])]
    return {**spec, "layers": layers}


def resolve(spec: dict, as_trained: bool = False) -> list[Layer]:
    """The network's layers: as deployed (channel-pruned layers at their kept width), or with
    as_trained as the design file states them, which training runs."""
    spec = spec if as_trained else deployed(spec)
    quant = spec["quant"]
    shape, in_bits, counts, out = tuple(spec["dataset"]["input_shape"]), quant["input_bits"], {}, []
    last = len(spec["layers"]) - 1
    for i, params in enumerate(spec["layers"]):
        kind = params["type"]
        counts[kind] = counts.get(kind, 0) + 1
        name = params.get("name") or f"{UNNAMED.get(kind, kind)}{counts[kind]}"
        has_weights = kind in WEIGHTED
        activation = params.get("activation", "relu") if has_weights else None
        relu = activation == "relu"
        out_shape = output_shape(params, shape)
        out.append(Layer(
            name=name, type=kind, in_shape=shape, out_shape=out_shape, params=params, last=i == last,
            activation=activation,
            weight_bits=params.get("weight_bits", quant["weight_bits"]) if has_weights else None,
            act_bits=params.get("act_bits", quant["act_bits"]) if relu else None,
            in_bits=in_bits,
            matrix=MATRIX_SIZE[kind](params, shape) if has_weights else None,
            evaluations=(out_shape[1] * out_shape[2] if kind != "dense" else 1) if has_weights else 0))
        shape = out_shape
        if has_weights:
            # the next layer reads this one's quantized activation (max pooling keeps its grid)
            in_bits = params.get("act_bits", quant["act_bits"])
    return out


def weighted(spec: dict, as_trained: bool = False) -> list[Layer]:
    return [l for l in resolve(spec, as_trained) if l.weighted]
