"""QONNX model files: read, check and copy into a design folder (one file, weights inside)."""
from __future__ import annotations

from pathlib import Path

from ..frontends.qonnx.model import QONNX_NAME, read_onnx, require_quantized, wrap
from .qonnx_graph import analyse


def read(path: Path):
    proto = read_onnx(path)
    require_quantized(proto, path)
    analysis = analyse(wrap(proto))

    def write(folder: Path) -> Path:
        import onnx

        out = Path(folder) / QONNX_NAME
        onnx.save(proto, str(out))     # weights kept inside: the design is one file
        return out

    return analysis, write


def analyse_design(design, build_root: Path):
    """The design's QONNX model read node by node: an imported one's file, else the export."""
    if design.framework.name == "qonnx":
        from ..frontends.qonnx.model import load

        return analyse(load(design))
    exported = design.framework.fn("export")(design, build_root)
    return analyse(wrap(read_onnx(exported)))
