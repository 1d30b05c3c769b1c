"""finn-rtllib as the open tools take it: copies of the installed sources, patched.

The installed finn package is never edited: each file a layer needs is copied to
rtl/src/finn-rtllib/<dir>/<file> and every patch below applied to the copy. A patch that no
longer matches (a finn-plus upgrade) is an error naming it, not a silent skip.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ....core.errors import FpgaflowError


def _hoist_leaf_loads(text: str) -> str:
    """add_multi.sv: the function computing the adder tree's leaf counts to module scope."""
    fn = re.search(r"\n(\t\t// Compute the count of decendents.*?endfunction : init_leaf_loads\n)", text, re.S)
    if fn is None:
        raise ValueError("init_leaf_loads not found")
    body = fn.group(1)
    text = text.replace(body, "")
    hoisted = "\n".join(line[1:] if line.startswith("\t") else line for line in body.splitlines()) + "\n"
    anchor = "\tlocalparam int unsigned  L = $clog2(N);"
    if anchor not in text:
        raise ValueError("the module's first localparam not found")
    return text.replace(anchor, hoisted + anchor, 1)


def _watchdog_for_simulation_only(text: str) -> str:
    """mvu*.sv: the DSP start-up watchdog (an initial block with a delay) left out of synthesis."""
    start = re.search(r"^\tif\(1\) begin : blkRecoveryWatch$", text, re.M)
    end = re.search(r"^\tend : blkRecoveryWatch$", text, re.M)
    if start is None or end is None:
        raise ValueError("blkRecoveryWatch not found")
    return (text[:start.start()] + "`ifndef SYNTHESIS\n" + text[start.start():end.end()] + "\n`endif"
            + text[end.end():])


def _scope_by_generate(text: str) -> str:
    """thresholding.sv: the scope comparison chosen by a generate-if instead of a constant ternary."""
    decl = "\t\t\tlogic  Scope = 'x;\t// Comparison in scope of specified threshold count\n"
    use = "\t\t\t\t\tScope <= (SCOPE_REDUCE == 0)? 1 : p.ptr[M-1:SN+1] < 2**stage - SCOPE_REDUCE;\n"
    if decl not in text or use not in text:
        raise ValueError("the Scope register not found")
    text = text.replace(decl, decl + "\t\t\tuwire  scope_next;\n"
                        "\t\t\tif(SCOPE_REDUCE == 0)  assign  scope_next = 1;\n"
                        "\t\t\telse  assign  scope_next = p.ptr[M-1:SN+1] < 2**stage - SCOPE_REDUCE;\n")
    return text.replace(use, "\t\t\t\t\tScope <= scope_next;\n")


def _abits_without_struct(text: str) -> str:
    """fifo.sv: the memory's address split (a struct returned by a constant function) as two ints."""
    start = text.find("\ttypedef struct {\n\t\tint unsigned  lo;")
    end = text.find("\tlocalparam abits_t       ABITS      = INIT_ABITS();\n")
    if start < 0 or end < 0:
        raise ValueError("INIT_ABITS not found")
    split = ("\tfunction int unsigned INIT_ABITS_LO();\n"
             "\t\tautomatic int unsigned  lo = $clog2(DEPTH_REQ);\n"
             "\t\tif(lo > MIN_ABITS && $clog2(DEPTH_REQ - 2**(lo-1)) < lo - 1)  return  lo - 1;\n"
             "\t\treturn  lo;\n"
             "\tendfunction : INIT_ABITS_LO\n"
             "\tfunction int unsigned INIT_ABITS_HI();\n"
             "\t\tautomatic int unsigned  lo = $clog2(DEPTH_REQ);\n"
             "\t\tautomatic int unsigned  hi = lo > MIN_ABITS? $clog2(DEPTH_REQ - 2**(lo-1)) : 0;\n"
             "\t\tif(lo > MIN_ABITS && hi < lo - 1)  return  hi < 1? 1 : hi;\n"
             "\t\treturn  0;\n"
             "\tendfunction : INIT_ABITS_HI\n"
             "\tlocalparam int unsigned  ABITS_LO = INIT_ABITS_LO();\n"
             "\tlocalparam int unsigned  ABITS_HI = INIT_ABITS_HI();\n")
    text = text[:start] + split + text[end + len("\tlocalparam abits_t       ABITS      = INIT_ABITS();\n"):]
    return text.replace("ABITS.lo", "ABITS_LO").replace("ABITS.hi", "ABITS_HI")


def _output_queue_for_the_whole_pipeline(text: str) -> str:
    """mvu_vvu_axi.sv: the output queue sized for every result the core can still deliver."""
    old = "\t\tlocalparam int unsigned  MAX_IN_FLIGHT = CORE_PIPELINE_DEPTH;\n"
    if old not in text:
        raise ValueError("MAX_IN_FLIGHT not found")
    return text.replace(old, "\t\t// fpgaflow: mvu.sv's pipeline (3 + $clog2(SIMD) + (SIMD == 1) + 1 stages), plus the cycle the\n"
                             "\t\t// registered lock takes to stop issuing\n"
                             "\t\tlocalparam int unsigned  MAX_IN_FLIGHT =\n"
                             "\t\t\tVERSION == 3? CORE_PIPELINE_DEPTH : 3 + $clog2(SIMD) + (SIMD == 1) + 1 + 1;\n")


def without_default_nettype(text: str) -> str:
    return re.sub(r"^\s*`default_nettype\s+\w+\s*$", "", text, flags=re.M)


@dataclass(frozen=True)
class Patch:
    file: str                      # relative to finn-rtllib, or "*" for every copied file
    why: str
    apply: Callable[[str], str]


PATCHES = [
    Patch("mvu/add_multi.sv",
          "Verilator 5.048 rejects a constant function declared inside a generate block (the adder tree's "
          "leaf counts, used for MVAUs with SIMD > 1): the function moves to module scope, unchanged",
          _hoist_leaf_loads),
    Patch("mvu/mvu.sv", "the DSP start-up watchdog is a simulation check (an initial block with a 100 ns delay) "
                        "that Vivado ignores in synthesis and Yosys rejects: it is left out when SYNTHESIS is "
                        "defined (fpgaflow's Yosys script defines it; Verilator keeps the check)",
          _watchdog_for_simulation_only),
    Patch("mvu/mvu_vvu_axi.sv",
          "the MVAU's output queue holds CORE_PIPELINE_DEPTH = 3 + $clog2(SIMD+1) + (SIMD == 1) results, but "
          "mvu.sv's pipeline is 3 + $clog2(SIMD) + (SIMD == 1) + 1 deep and its lock on back-pressure is "
          "registered: with SIMD = MW (a result every cycle) and a consumer that stalls, the queue overflows "
          "and a result is lost (lenet at 150,000 frames/s, MVAU_rtl_0: SIMD 25, 'Overflowing output queue' "
          "within 3 frames at any output ready share from 20 to 90 %). Sized for the whole pipeline plus the "
          "lock's cycle, no overflow at any of them (Versal's DSP58 core unchanged)",
          _output_queue_for_the_whole_pipeline),
    Patch("mvu/mvu_vvu_8sx9_dsp58.sv", "the same DSP start-up watchdog in the Versal MVU", _watchdog_for_simulation_only),
    Patch("thresholding/hdl/thresholding.sv",
          "in the stages where SCOPE_REDUCE is 0 the scope comparison's part-select p.ptr[M-1:SN+1] is reversed; "
          "a constant ternary still elaborates it, which Yosys' read_slang rejects ('unsynthesizable feature', "
          "no location; Verilator warns SELRANGE): a generate-if picks the branch instead, the same logic",
          _scope_by_generate),
    Patch("fifo/hdl/fifo.sv",
          "Verilator 5.048 cannot evaluate the constant function returning a struct (the memory's address split, "
          "for FIFOs deeper than 257) nor generate on the struct's fields: two int functions with the same "
          "arithmetic instead",
          _abits_without_struct),
    Patch("*", "`default_nettype none` leaks from one file into the next in Yosys' read_slang (one compilation "
               "unit): the lines are removed; every net in these files is declared", without_default_nettype),
]


def copy_patched(source: Path, root: Path) -> str:
    """Copy one finn-rtllib file under root/src/finn-rtllib/, patched; returns its path relative to root."""
    source = Path(source)
    parts = source.parts
    if "finn-rtllib" not in parts:
        raise FpgaflowError(f"RTL stitching: {source} is not in finn-rtllib")
    rel = Path(*parts[parts.index("finn-rtllib") + 1:])
    dst = root / "src" / "finn-rtllib" / rel
    if not dst.exists():
        text = source.read_text()
        for p in PATCHES:
            if p.file in ("*", rel.as_posix()):
                try:
                    text = p.apply(text)
                except ValueError as e:
                    raise FpgaflowError(f"patch for finn-rtllib/{p.file} no longer applies ({e}); finn-plus changed "
                                        f"since fpgaflow was checked against 1.6.1") from None
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(text)
    return str(dst.relative_to(root))
