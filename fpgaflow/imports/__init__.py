"""Bring your own model: `fpgaflow import` turns a QONNX or QKeras model file and a dataset
into a design folder, `fpgaflow check` says per node what will map and what can be exact.

FORMATS is the registry: each model format names the framework its designs get and the
module:function that reads a file of it into (Analysis, writer of the design's model file).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    framework: str                 # the framework entry its imported designs get
    suffixes: tuple[str, ...]      # how its files are named
    read: str                      # (path) -> (Analysis, write(folder) -> model file)
    analyse: str                   # (design, build_root) -> Analysis of the design's model
    declares_input: bool = False   # a model without an input quantizer takes a declared grid (input_grid.py)


FORMATS = {
    "qonnx": Format("qonnx", "qonnx", (".onnx",), "fpgaflow.imports.qonnx_import:read",
                    "fpgaflow.imports.qonnx_import:analyse_design", declares_input=True),
    "keras": Format("keras", "keras_model", (".h5", ".hdf5", ".keras"), "fpgaflow.imports.keras_import:read",
                    "fpgaflow.imports.keras_import:analyse_design", declares_input=True),
}
