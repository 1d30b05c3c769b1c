"""An imported QONNX model's export stage: the design folder's file, copied as the artefact
the backends read (build/<design>/export/model.qonnx.onnx + export.json)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ...core.atomic import atomic_write_text
from ...core.hashing import sha256
from .model import QONNX_NAME


def export_copy(design, build_root: Path) -> Path:
    out_dir = Path(build_root) / design.name / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / QONNX_NAME
    tmp = out_dir / f".{QONNX_NAME}.tmp"
    shutil.copyfile(design.weights, tmp)
    tmp.replace(final)
    atomic_write_text(out_dir / "export.json", json.dumps(
        {"design": design.name, "weights": str(design.weights), "weights_sha256": sha256(design.weights),
         "imported": True}, indent=2) + "\n")
    return final
