"""Host segments of an imported QONNX graph: what runs on the CPU before and after the hardware.

Exporters write models as they are used: a Reshape and `2x - 1` before the first quantizer,
TensorNorm's float affine or a Softmax after the last integer layer. FINN's own deployments
run such pre- and post-processing in the host driver; fpgaflow does the same. The graph is cut
in three: the head (layout and arithmetic by constants, from the input up to the first Quant),
the body (from that Quant to the last node that is not host work: the hardware's part) and the
tail (arithmetic by constants and Softmax after it, kept only where some of it cannot be exact
in hardware). Head and tail are saved as QONNX files of their own and executed by qonnx, the
same code whether the body's outputs came from the reference or the hardware, so both sides of
every comparison went through identical float operations.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from ...core.errors import FpgaflowError

QUANTIZERS = ("Quant", "BipolarQuant")              # where a head ends: the body's input quantizer
HEAD_FILE, TAIL_FILE = "host_head.qonnx.onnx", "host_tail.qonnx.onnx"
LAYOUT_OPS = ("Reshape", "Flatten", "Transpose", "Identity")
ARITHMETIC_OPS = ("Mul", "Add", "Sub", "Div")          # with one constant operand
TAIL_ONLY_OPS = ("Softmax", "LogSoftmax")
HEAD_OPS, TAIL_OPS = LAYOUT_OPS + ARITHMETIC_OPS, ("Identity",) + ARITHMETIC_OPS + TAIL_ONLY_OPS


@dataclass
class Segments:
    head: list[str] = field(default_factory=list)     # node names, in order
    tail: list[str] = field(default_factory=list)
    body_input: str = ""
    body_output: str = ""


def _host_node(model, node, ops: tuple[str, ...]) -> bool:
    """A node of `ops` whose other operands are constants (one tensor flows through)."""
    if node.op_type not in ops:
        return False
    flowing = [i for i in node.input if i and model.get_initializer(i) is None]
    return len(flowing) == 1 and len(node.output) == 1


def find(model, exact_in_hardware=lambda node: False) -> Segments:
    """The head (up to the first Quant on the input's path) and the tail (the longest run of
    host ops before the output, where `exact_in_hardware` is false for one of them)."""
    seg = Segments(body_input=model.graph.input[0].name, body_output=model.graph.output[0].name)
    tensor = seg.body_input
    while True:
        consumers = model.find_consumers(tensor) or []
        if len(consumers) != 1:
            break
        node = consumers[0]
        if node.op_type in QUANTIZERS and seg.head:
            seg.body_input = tensor
            break
        if not _host_node(model, node, HEAD_OPS):
            seg.head = []           # no quantizer at the end of the run: no head (the input is then unquantized)
            break
        seg.head.append(node.name)
        tensor = node.output[0]
    if not seg.head:
        seg.body_input = model.graph.input[0].name
    tail, tensor = [], seg.body_output
    while True:
        node = model.find_producer(tensor)
        if node is None or not _host_node(model, node, TAIL_OPS) or len(model.find_consumers(tensor) or []) > 1 \
                and tensor != model.graph.output[0].name:
            break
        tail.insert(0, node)
        tensor = next(i for i in node.input if model.get_initializer(i) is None)
    if any(not exact_in_hardware(n) for n in tail):
        seg.tail, seg.body_output = [n.name for n in tail], tensor
    return seg


def extract(model, inputs: list[str], outputs: list[str]):
    """The part of `model` between tensors `inputs` and `outputs`, cleaned up (qonnx ModelWrapper):
    the nodes the outputs need, walking back no further than the inputs."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    part = ModelWrapper(copy.deepcopy(model.model))
    graph, needed, todo = part.graph, set(), list(outputs)
    while todo:
        tensor = todo.pop()
        node = part.find_producer(tensor)
        if tensor in inputs or node is None or node.name in needed:
            continue
        needed.add(node.name)
        todo += [i for i in node.input if i]
    for node in [n for n in graph.node if n.name not in needed]:
        graph.node.remove(node)
    ends = [helper.make_tensor_value_info(t, TensorProto.FLOAT, part.get_tensor_shape(t)) for t in inputs + outputs]
    for vi in [v for v in graph.value_info if v.name in inputs + outputs]:
        graph.value_info.remove(vi)
    del graph.input[:], graph.output[:]
    graph.input.extend(ends[:len(inputs)])
    graph.output.extend(ends[len(inputs):])
    return cleanup_model(part)


def split(model, seg: Segments):
    """(head or None, body, tail or None) of a cleaned-up model."""
    first, last = model.graph.input[0].name, model.graph.output[0].name
    head = extract(model, [first], [seg.body_input]) if seg.head else None
    tail = extract(model, [seg.body_output], [last]) if seg.tail else None
    return head, extract(model, [seg.body_input], [seg.body_output]), tail


def batched(model, batch: int = 500):
    """qonnx's execution of `model` on whole batches (a copy per batch size seen): float32 in,
    float64 rows out."""
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.util.cleanup import cleanup_model

    from ...verify.references import in_batches

    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    shape = [int(d) for d in model.get_tensor_shape(name_in)[1:]]
    sized: dict[int, object] = {}

    def run(xb: np.ndarray) -> np.ndarray:
        n = len(xb)
        if n not in sized:
            sized[n] = cleanup_model(model.transform(ChangeBatchSize(n)))
        xb = np.ascontiguousarray(xb, dtype=np.float32).reshape(n, *shape)
        return np.asarray(execute_onnx(sized[n], {name_in: xb})[name_out]).reshape(n, -1)

    return lambda x: in_batches(run, x, batch)


def _segment(design, key: str):
    info = (design.spec.get("host") or {}).get(key) or {}
    if not info.get("file"):
        return None
    from .model import read_onnx, wrap

    path = design.dir / info["file"]
    if not path.is_file():
        raise FpgaflowError(f"{path} not found: import the model again (`fpgaflow import MODEL --name {design.name} "
                            f"--data DATA --force`)")
    return wrap(read_onnx(path))


def head(design, x: np.ndarray) -> np.ndarray:
    """The data as the body takes them: the host head run on x (as the data come, host.head.input_shape)."""
    model = _segment(design, "head")
    out = batched(model)(x).astype(np.float32)
    shape = [int(d) for d in model.get_tensor_shape(model.graph.output[0].name)[1:]]
    return out.reshape(len(x), *shape)


def tail(design, y: np.ndarray) -> np.ndarray:
    """The model's final outputs from the body's outputs y (float64 rows), by the host tail;
    y itself where the design has none."""
    model = _segment(design, "tail")
    return y if model is None else batched(model)(y.astype(np.float32))
