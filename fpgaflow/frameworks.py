"""Front-end frameworks: which code trains, exports, runs and traces a design.

A design's `framework:` key picks one entry of FRAMEWORKS. Entries name their functions as
"module:function" so that a command never imports a framework it does not use (TensorFlow
and torch each take seconds to import). Everything after export (hls4ml project, C-sim,
verification, reports) is shared.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from .errors import FpgaflowError


@dataclass(frozen=True)
class Framework:
    name: str
    weights_file: str            # trained weights in the design folder
    references: tuple[str, ...]  # reference inferences; the first (CPU) is the default
    train: str                   # (design, out_dir, epochs, checkpoint_dir, progress) -> metrics
    export: str                  # (design, build_root) -> the exported model artefact
    hls4ml_front: str            # hls4ml front end reading that artefact
    trace: str                   # (design, x1 NCHW) -> the model's stages on one image, for triage

    def fn(self, attr: str):
        module, _, name = getattr(self, attr).partition(":")
        return getattr(import_module(module), name)


FRAMEWORKS = {
    "brevitas": Framework(
        name="brevitas", weights_file="weights.pt", references=("torch-cpu", "torch-cuda"),
        train="fpgaflow.train:train", export="fpgaflow.export:export_qonnx",
        hls4ml_front="fpgaflow.convert_hls4ml:QonnxFront", trace="fpgaflow.triage:trace_brevitas"),
    "keras": Framework(
        name="keras", weights_file="weights.h5", references=("tf-cpu", "tf-cuda"),
        train="fpgaflow.train_keras:train", export="fpgaflow.export_keras:export_keras",
        hls4ml_front="fpgaflow.convert_hls4ml:KerasFront", trace="fpgaflow.triage:trace_keras"),
}


def framework(name: str) -> Framework:
    if name not in FRAMEWORKS:
        raise FpgaflowError(f"framework: unknown framework '{name}' (known: {', '.join(FRAMEWORKS)})")
    return FRAMEWORKS[name]
