"""QONNX model files: read, check and copy into a design folder (one file, weights inside).

A graph as an exporter writes it may begin with host work before its first quantizer (a
Reshape, `2x - 1`) and end with float work after its last integer layer (TensorNorm, Softmax):
the import cuts those off as host segments (frontends/qonnx/host.py), saved beside the body,
which is what the back ends build and the reference runs.
"""
from __future__ import annotations

from pathlib import Path

from ..frontends.qonnx import host
from ..frontends.qonnx.input_quant import InsertInputQuant
from ..frontends.qonnx.model import QONNX_NAME, read_onnx, require_quantized, wrap
from .qonnx_graph import BACKENDS, analyse
from .rows import Row, on_host



def _with_host_rows(analysis, segments: dict):
    """The analysis with its host segments ({head, tail: {file, nodes, ops}}) and their rows."""
    for key in ("head", "tail"):
        if key in segments:
            s = segments[key]
            rows = [Row(n, op, f"host {key}: {op}", {b: on_host() for b in BACKENDS}) for n, op in zip(s["nodes"], s["ops"])]
            analysis.rows = rows + analysis.rows if key == "head" else analysis.rows + rows
            analysis.host[key] = {k: s[k] for k in ("file", "nodes", "ops")}
    return analysis


def read(path: Path):
    proto = read_onnx(path)
    require_quantized(proto, path)
    model = wrap(proto)
    whole = analyse(model)
    exact = {r.node for r in whole.rows if all(v.exact for v in r.verdicts.values())}
    seg = host.find(model, lambda node: node.name in exact)
    head = body = tail = None
    analysis = whole
    if seg.head or seg.tail:
        head, body, tail = host.split(model, seg)
        ops = {n.name: n.op_type for n in model.graph.node}
        analysis = _with_host_rows(analyse(body), {key: {"file": name, "nodes": nodes, "ops": [ops[n] for n in nodes]}
                                                   for key, name, nodes in (("head", host.HEAD_FILE, seg.head),
                                                                            ("tail", host.TAIL_FILE, seg.tail)) if nodes})
        analysis.data_shape = [int(d) for d in model.get_tensor_shape(model.graph.input[0].name)[1:]]
        if seg.head:
            analysis.host["head"]["input_shape"] = analysis.data_shape
        analysis.whole = host.batched(model)

    def write(folder: Path) -> Path:
        """The body (the file as the user wrote it, where nothing was cut or declared), the host segments beside."""
        for key, part in (("head", head), ("tail", tail)):
            if part is not None:
                _save(part.model, Path(folder) / analysis.host[key]["file"])
        declared = "origin" in (analysis.input_quant or {})
        if body is None and not declared:
            return _save(proto, Path(folder) / QONNX_NAME)
        part = body if body is not None else model
        if declared:
            part = part.transform(InsertInputQuant(analysis.input_quant))
        return _save(part.model, Path(folder) / QONNX_NAME)

    return analysis, write


def _save(proto, out: Path) -> Path:
    import onnx

    onnx.save(proto, str(out))     # weights kept inside: each file is whole
    return out


def analyse_design(design, build_root: Path):
    """The design's QONNX model read node by node: an imported one's file (the body, with its
    host segments' rows), else the export."""
    if design.framework.name == "qonnx":
        from ..frontends.qonnx.model import load

        return _with_host_rows(analyse(load(design)), {k: s for k, s in design.spec["host"].items() if s["file"]})
    exported = design.framework.fn("export")(design, build_root)
    return analyse(wrap(read_onnx(exported)))
