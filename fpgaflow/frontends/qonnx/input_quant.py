"""A Quant at the input of a QONNX model whose input no quantizer fixes, on the grid the import
declared (imports/input_grid.py: the data's own, or --input-bits/--input-int-bits). The data
are put on that grid before the reference and the hardware see them, so on them the Quant
changes nothing; it gives FINN and hls4ml the integer input they build from."""
from __future__ import annotations

import numpy as np
from qonnx.transformation.base import Transformation


class InsertInputQuant(Transformation):
    """Quant(scale, zero-point 0, bits, signed, not narrow, ROUND) between the graph's input and
    its readers."""

    def __init__(self, grid: dict):
        super().__init__()
        self.grid = grid

    def apply(self, model):
        from onnx import helper

        g, name = self.grid, model.graph.input[0].name
        quantized = "InputQuant_out0"
        for node in model.find_consumers(name) or []:
            node.input[:] = [quantized if i == name else i for i in node.input]
        params = []
        for what, value in (("scale", g["scale"]), ("zeropt", 0.0), ("bitwidth", g["bits"])):
            params.append(f"InputQuant_{what}")
            model.set_initializer(params[-1], np.asarray(value, dtype=np.float32))
        quant = helper.make_node("Quant", [name, *params], [quantized], domain="qonnx.custom_op.general",
                                 name="InputQuant", signed=int(g["min"] < 0), narrow=0, rounding_mode="ROUND")
        model.graph.node.insert(0, quant)
        model.set_tensor_shape(quantized, model.get_tensor_shape(name))
        return model, False
