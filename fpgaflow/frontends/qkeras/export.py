"""QKeras model -> build/<design>/export/model.h5: the trained network as one Keras file.

The hls4ml Keras front end reads it (with the QKeras custom objects); export.json records
the weights' hash as for the QONNX export.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ...core.atomic import atomic_write_text
from ...core.hashing import sha256
from ...core.spec import Design
from .model import trained_model

KERAS_NAME = "model.h5"


def export_keras(design: Design, build_root: Path, weights: Path | None = None) -> Path:
    weights = Path(weights or design.weights)
    model = trained_model(design, weights)
    out_dir = Path(build_root) / design.name / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / KERAS_NAME
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        model.save(str(Path(tmp) / KERAS_NAME), include_optimizer=False)
        (Path(tmp) / KERAS_NAME).replace(final)
    atomic_write_text(out_dir / "export.json", json.dumps(
        {"design": design.name, "weights": str(weights), "weights_sha256": sha256(weights)}, indent=2) + "\n")
    return final
