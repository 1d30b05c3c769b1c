"""Brevitas -> QONNX: the trained design as an ONNX graph with Quant nodes.

Artefact: build/<design>/export/model.qonnx.onnx (+ export.json: which weights it holds).
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
from pathlib import Path

import torch

from ...core.atomic import atomic_write_text
from ...core.errors import FpgaflowError
from ...core.hashing import sha256
from ...core.spec import Design
from ..qonnx.model import QONNX_NAME
from .model import trained_model



def export_qonnx(design: Design, build_root: Path, weights: Path | None = None) -> Path:
    import torch.onnx._internal.exporter._registration as registration
    from brevitas.export import export_qonnx as brevitas_export

    # it warns once per missing torchvision op, which this flow never uses
    logging.getLogger(registration.__name__).setLevel(logging.ERROR)

    weights = Path(weights or design.weights)
    model = trained_model(design, weights)
    out_dir = Path(build_root) / design.name / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    c, h, w = design.spec["dataset"]["input_shape"]
    final = out_dir / QONNX_NAME
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        tmp_path = Path(tmp) / QONNX_NAME
        log = io.StringIO()
        # torch.onnx prints its progress; keep it for errors only
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                brevitas_export(model, input_t=torch.zeros(1, c, h, w), export_path=str(tmp_path))
        except Exception as e:
            raise FpgaflowError(f"QONNX export of {design.name} failed: {e}\n{log.getvalue()[-2000:]}") from None
        tmp_path.replace(final)
    atomic_write_text(out_dir / "export.json", json.dumps(
        {"design": design.name, "weights": str(weights), "weights_sha256": sha256(weights)}, indent=2) + "\n")
    return final
