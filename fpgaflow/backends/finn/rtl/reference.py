"""FINN's Python execution of the final layers (the `folded` stage), read by stream: what every
RTL stream must carry, for the layer taps and the layers simulated alone."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..transforms import ALIASES, resolve


def python_streams(folder: Path, image: np.ndarray) -> dict:
    """Every tensor of FINN's Python execution of the final layers (the `folded` stage) for one image."""
    from finn.core.onnx_exec import execute_onnx
    from qonnx.core.modelwrapper import ModelWrapper

    model = ModelWrapper(str(folder / "models" / "folded.onnx"))
    context = execute_onnx(model, {model.graph.input[0].name: image[None]}, return_full_exec_context=True)
    aliases = json.loads(model.get_metadata_prop(ALIASES) or "{}")
    return _Resolved(context, aliases)


class _Resolved(dict):
    """The execution context, read by the dataflow's tensor names (FIFOs and width converters
    were left out of the Python model; their tensors are their producers')."""

    def __init__(self, context: dict, aliases: dict):
        super().__init__(context)
        self.aliases = aliases

    def __getitem__(self, name):
        return super().__getitem__(resolve(self.aliases, name))
