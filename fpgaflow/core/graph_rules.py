"""A design's graph checked at load: every rule names the layer (layers[i]) it is about."""
from __future__ import annotations

from .errors import FpgaflowError
from .layers import FOLDED, INPUT, JOINS, NAME_RE, WEIGHTED, is_graph, layer_inputs, layer_names, output_shape

MAP_LAYERS = ("conv", "dwconv", "maxpool", "avgpool", "global_avgpool")  # they read (C, H, W)


def check_graph(spec: dict) -> None:
    """Names unique, every input an earlier layer, joins of one shape, each batchnorm reading a
    weighted layer of its own, no branch left unread: the file order is an execution order."""
    layers = spec["layers"]
    names, inputs = layer_names(layers), layer_inputs(layers)
    shapes, readers = {INPUT: tuple(spec["dataset"]["input_shape"])}, {}
    for i, (layer, name, ins) in enumerate(zip(layers, names, inputs)):
        where, kind = f"layers[{i}]", layer["type"]
        if not NAME_RE.match(name) or name == INPUT:
            raise FpgaflowError(f"{where}.name: {name!r} must be lower-case letters, digits and '_' (not 'input')")
        if name in shapes:
            raise FpgaflowError(f"{where}.name: '{name}' names two layers")
        for n in ins:
            if not isinstance(n, str) or n not in shapes:
                raise FpgaflowError(f"{where}.inputs: {n!r} is not an earlier layer (earlier: "
                                    f"{', '.join(list(shapes)[-6:])})")
            readers.setdefault(n, []).append(name)
        # hls4ml's merge and concatenate layers take two inputs (a third would be typed without it)
        want = 2 if kind in JOINS else 1
        if len(ins) != want or len(set(ins)) != len(ins):
            article, what = "an" if kind[0] in "aeiou" else "a", "two distinct inputs" if want == 2 else "one input"
            raise FpgaflowError(f"{where}.inputs: {article} {kind} layer reads {what}, got {list(ins)}")
        joined = {shapes[n] if kind == "add" else (len(shapes[n]), *shapes[n][1:]) for n in ins}
        if kind in JOINS and (len(joined) != 1 or (kind == "concat" and len(shapes[ins[0]]) != 3)):
            what = "inputs of one shape" if kind == "add" else "maps of one height and width"
            raise FpgaflowError(f"{where}.inputs: {kind} needs {what}, got "
                                f"{', '.join(f'{n} {list(shapes[n])}' for n in ins)}")
        if kind in FOLDED:
            producer = layers[names.index(ins[0])] if ins[0] in names else {"type": INPUT}
            if producer["type"] not in WEIGHTED or producer.get("activation") != "none":
                act = f", activation {producer.get('activation', 'relu')}" if producer["type"] in WEIGHTED else ""
                raise FpgaflowError(f"{where}.inputs: a batchnorm folds into the conv, dwconv or dense layer it reads, "
                                    f"which has activation: none ('{ins[0]}' is {producer['type']}{act})")
        if kind in MAP_LAYERS and len(shapes[ins[0]]) != 3:
            raise FpgaflowError(f"{where}: a {kind} layer reads a (channels, height, width) map, "
                                f"'{ins[0]}' gives {list(shapes[ins[0]])}")
        if kind == "dense" and len(shapes[ins[0]]) != 1:
            raise FpgaflowError(f"{where}: a dense layer reads a vector, '{ins[0]}' gives {list(shapes[ins[0]])} "
                                f"(flatten or global_avgpool first)")
        shapes[name] = output_shape(layer, shapes[ins[0]], [shapes[n] for n in ins])
        if min(shapes[name]) < 1:
            raise FpgaflowError(f"{where}: its output shape {list(shapes[name])} is empty")
    for i, (layer, name) in enumerate(zip(layers, names)):
        if layer["type"] in FOLDED and len(readers.get(inputs[i][0], [])) != 1:
            raise FpgaflowError(f"layers[{i}].inputs: the batchnorm folds into '{inputs[i][0]}', which is also read by "
                                f"{', '.join(n for n in readers[inputs[i][0]] if n != name)}")
    unread = [n for n in names[:-1] if n not in readers]
    if unread:
        raise FpgaflowError(f"layers: '{unread[0]}' is read by no layer (only the last layer is the output)")
    if spec["prune"]["kind"] == "channel" and spec["prune"]["sparsity"] > 0 and \
            (is_graph(spec) or any(l["type"] in FOLDED for l in layers)):
        raise FpgaflowError("prune.kind: channel pruning cuts chains without batchnorm; this design branches or "
                            "normalizes (use kind: magnitude)")
