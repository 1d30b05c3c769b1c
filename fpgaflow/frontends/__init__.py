"""Front ends: which code builds, trains, exports, runs and traces a design of each framework.

A design's `framework:` key picks one entry of FRAMEWORKS. Entries name their functions as
"module:function" so that a command never imports a framework it does not use (TensorFlow
and torch each take seconds to import). Everything after export (the backends, verification,
reports) is shared.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from ..core.errors import FpgaflowError


@dataclass(frozen=True)
class Framework:
    name: str
    weights_file: str            # trained weights in the design folder
    layer_types: tuple[str, ...]  # the spec's layer types its model builder takes
    references: tuple[str, ...]  # reference inferences; the first (CPU) is the default
    train: str                   # (design, out_dir, epochs, checkpoint_dir, progress) -> metrics
    export: str                  # (design, build_root) -> the exported model artefact
    hls4ml_front: str            # hls4ml front end reading that artefact
    trace: str                   # (design, x1 NCHW) -> the model's stages on one image, for triage
    scaled_training: bool        # distributed, accumulated, mixed-precision training; pruning; distillation
    model_format: str            # what its export is, for `fpgaflow check` (fpgaflow.imports.FORMATS)
    imported: bool = False       # the design's model file is the user's (fpgaflow import), not trained here
    host_head: str | None = None  # (design, x as the data come) -> x as the model file takes it (spec host.head)
    host_tail: str | None = None  # (design, the model file's outputs) -> the model's final outputs (host.tail)

    def fn(self, attr: str):
        module, _, name = getattr(self, attr).partition(":")
        return getattr(import_module(module), name)


FRAMEWORKS = {
    "brevitas": Framework(
        name="brevitas", weights_file="weights.pt",
        layer_types=("conv", "dwconv", "maxpool", "flatten", "dense", "batchnorm", "add", "concat", "global_avgpool"),
        references=("torch-cpu", "torch-cuda"),
        train="fpgaflow.train.loop:train", export="fpgaflow.frontends.brevitas.export:export_qonnx",
        hls4ml_front="fpgaflow.backends.hls4ml.convert:QonnxFront",
        trace="fpgaflow.frontends.brevitas.trace:trace", scaled_training=True, model_format="qonnx"),
    "keras": Framework(
        name="keras", weights_file="weights.h5",
        layer_types=("conv", "maxpool", "flatten", "dense", "add", "concat", "global_avgpool"),
        references=("tf-cpu", "tf-cuda"),
        train="fpgaflow.train.qkeras:train", export="fpgaflow.frontends.qkeras.export:export_keras",
        hls4ml_front="fpgaflow.backends.hls4ml.convert:KerasFront",
        trace="fpgaflow.frontends.qkeras.trace:trace", scaled_training=False, model_format="keras"),
    # imported models (fpgaflow import): the file is the model and the reference; no training
    "qonnx": Framework(
        name="qonnx", weights_file="model.qonnx.onnx",
        layer_types=("conv", "dwconv", "maxpool", "avgpool", "flatten", "dense", "batchnorm", "add", "concat",
                     "global_avgpool"),
        references=("qonnx-cpu",),
        train="fpgaflow.frontends.imported:no_training", export="fpgaflow.frontends.qonnx.export:export_copy",
        hls4ml_front="fpgaflow.backends.hls4ml.convert:QonnxFront",
        trace="fpgaflow.frontends.qonnx.trace:trace", scaled_training=False, model_format="qonnx", imported=True,
        host_head="fpgaflow.frontends.qonnx.host:head", host_tail="fpgaflow.frontends.qonnx.host:tail"),
    "keras_model": Framework(
        name="keras_model", weights_file="model.h5",
        layer_types=("conv", "maxpool", "flatten", "dense", "add", "concat", "global_avgpool"),
        references=("tf-cpu", "tf-cuda"),
        train="fpgaflow.frontends.imported:no_training", export="fpgaflow.frontends.qkeras.export:export_keras",
        hls4ml_front="fpgaflow.backends.hls4ml.convert:KerasFront",
        trace="fpgaflow.frontends.qkeras.trace:trace", scaled_training=False, model_format="keras", imported=True),
}


def framework(name: str) -> Framework:
    if name not in FRAMEWORKS:
        raise FpgaflowError(f"framework: unknown framework '{name}' (known: {', '.join(FRAMEWORKS)})")
    return FRAMEWORKS[name]
