"""What FINN is told about the design's part, and which MVAU the RTL build uses.

FINN knows Xilinx parts only: for a Lattice part its code generation and estimates run for the
stand-in parts.yaml names (finn_part), while budgets stay in the design part's own resources.
The MVAU (`finn.mvau`): finn-rtllib's (finn-plus picks its RTL MVU where the operands are 4-8
bits; it instantiates Xilinx DSP48 and LUT6_2 primitives) or fpgaflow's portable one
(rtl/hw/fpgaflow_mvau.sv: behavioural products, LUTs for narrow ones). `auto`: fpgaflow's on a
Lattice part (nothing else maps there), finn-rtllib's on a Xilinx part.
"""
from __future__ import annotations

from ...core.parts import finn_part, is_lattice


def fpgapart(design) -> str:
    return finn_part(design.spec["target"]["part"])


def mvau(design) -> str:
    """'fpgaflow' or 'finn-rtllib': the MVAU an RTL build uses."""
    choice = design.spec["finn"]["mvau"]
    if choice == "auto":
        return "fpgaflow" if is_lattice(design.spec["target"]["part"]) else "finn-rtllib"
    return choice


def prefer_impl_style(op_type: str, style: str):
    """A qonnx Transformation: every `op_type` node asks FINN's SpecializeLayers for `style`
    ('hls' or 'rtl'), which it then honours before its own choice."""
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.base import Transformation

    class PreferImplStyle(Transformation):
        def apply(self, model):
            for node in model.graph.node:
                if node.op_type == op_type:
                    getCustomOp(node).set_nodeattr("preferred_impl_style", style)
            return model, False

    return PreferImplStyle()
