"""What FINN is told about the design's part, and which MVAU the RTL build uses.

FINN knows Xilinx parts only: for a Lattice part its code generation and estimates run for the
stand-in parts.yaml names (finn_part), while budgets stay in the design part's own resources.
The MVAU (`finn.mvau`): finn-rtllib's (finn-plus picks its RTL MVU where the operands are 4-8
bits; it instantiates Xilinx DSP48 and LUT6_2 primitives) or fpgaflow's portable one
(rtl/hw/fpgaflow_mvau.sv: behavioural products, LUTs for narrow ones). `auto`: fpgaflow's on a
Lattice part (nothing else maps there), finn-rtllib's on a Xilinx part. The window generator
(`finn.swg`) likewise: fpgaflow's (rtl/hw/fpgaflow_swg.sv) on a Lattice part by default.
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


def own_rtl(design) -> frozenset:
    """The finn-plus RTL op types whose nodes fpgaflow's blocks take instead where they can
    (rtl/blocks.py TAKES): the width converter always (where finn-rtllib's loses cycles), the
    window generator where `finn.swg` asks for it."""
    choice = design.spec["finn"]["swg"]
    if choice == "auto":
        choice = "fpgaflow" if is_lattice(design.spec["target"]["part"]) else "finn-rtllib"
    swg = {"ConvolutionInputGenerator_rtl"} if choice == "fpgaflow" else set()
    return frozenset({"StreamingDataWidthConverter_rtl", *swg})


def set_node_attr(op_type: str, attr: str, value):
    """A qonnx Transformation: `attr` = `value` on every `op_type` node (FINN reads it later:
    SpecializeLayers a preferred_impl_style, code generation a memory style)."""
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.base import Transformation

    class SetNodeAttr(Transformation):
        def apply(self, model):
            for node in model.graph.node:
                if node.op_type == op_type:
                    getCustomOp(node).set_nodeattr(attr, value)
            return model, False

    return SetNodeAttr()
