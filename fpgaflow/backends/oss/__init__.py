"""Open-source synthesis without vendor tools: a dense layer of a trained design as da4ml
Verilog through Yosys (synth.py). The RTL of FINN's layers in Verilator and Yosys:
backends/finn/rtl."""
from __future__ import annotations

from pathlib import Path


def run(design, build_dir, layer: str | None = None) -> int:
    """`fpgaflow synth-oss`: synthesize, then print the resources Yosys reports."""
    from ...core.parts import part_capacity
    from ...reports.yosys import parse_yosys_stat
    from .synth import synth_oss

    m = synth_oss(design, Path(build_dir), layer=layer)
    folder = Path(build_dir) / design.name / "oss" / m["layer"]
    r = parse_yosys_stat(folder / "yosys_stat.json")
    cap = part_capacity(m["part"])
    print(f"{design.name} {m['layer']} ({m['weights'][0]}x{m['weights'][1]} weights, {m['input_bits']}-bit inputs): "
          f"da4ml adder graph equal to the integer layer on {m['adder_graph_check']['exact']}/"
          f"{m['adder_graph_check']['n']} test images")
    for k, v in r["resources"].items():
        share = f" ({100 * v / cap[k]:.2f}% of {m['part']})" if v is not None and cap.get(k) else ""
        print(f"  {k:9s} {v}{share}")
    print(f"Yosys {r['tool_version']} synth_xilinx -family {m['yosys_family']}: {m['yosys_seconds']} s; "
          f"{m['nextpnr']}; wrote {folder} (`fpgaflow report {folder}`)")
    return 0
