"""The FINN accelerator as one RTL design that open tools take: sources, stitched top, stream table.

FINN stitches its layers in Vivado IP Integrator; here the chain is a plain Verilog top
(`fpgaflow_top`) written from the dataflow model: each layer's module, the weight streamer of
a decoupled MVAU beside it, and every stream between two layers brought out as a tap (data,
valid, ready) so the testbench can watch any layer. Layers that finn-plus has only as HLS are
taken by fpgaflow's own RTL blocks (hw/, registered in BLOCKS).

Artefact, under the FINN build: rtl/ with src/ (finn-rtllib copies, patched as patches.py
lists; each layer's generated sources and memory files), fpgaflow_top.sv, rtl.json (layers,
streams, files, patches; the testbench's stream table streams.h is written from it when
Verilator builds). Paths inside are
relative to rtl/, so the folder can move and Yosys finds every source under its working dir.
"""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ....core.atomic import atomic_write_text
from ....core.errors import FpgaflowError
from .patches import copy_patched, without_default_nettype

HW = Path(__file__).parent / "hw"
MANIFEST = "rtl.json"


@dataclass
class Layer:
    """One stitched layer: its module, instance parameters and sources (relative to rtl/)."""
    name: str
    op_type: str
    module: str
    sources: list[str]
    params: dict = field(default_factory=dict)
    weights: str | None = None     # the weight streamer's module (decoupled MVAU), instantiated beside it
    weight_width: int = 0          # its stream's width (padded to bytes)
    implementation: str = "finn-rtllib"
    tie_off: list[str] = field(default_factory=list)   # input ports held at 0 (AXI-lite, set selection)


def _rel(root: Path, path: Path) -> str:
    return str(path.relative_to(root))


def _copy_generated(inst, node, root: Path) -> Path:
    """The layer's generated sources and memory files, copied to src/layers/<node>/."""
    src = Path(inst.get_nodeattr("code_gen_dir_ipgen"))
    dst = root / "src" / "layers" / node.name
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.suffix == ".dat":
            shutil.copy2(f, dst / f.name)
        elif f.suffix in (".v", ".sv"):
            (dst / f.name).write_text(without_default_nettype(f.read_text()))
    return dst


def _finn_rtl(inst, node, root: Path) -> Layer:
    """A layer finn-plus generates as RTL: its wrapper module named after the node."""
    layer_dir = _copy_generated(inst, node, root)
    sources = []
    for f in inst.get_rtl_file_list(abspath=True):
        f = Path(f)
        sources.append(_rel(root, layer_dir / f.name) if f.parent.name.startswith("code_gen_ipgen")
                       else copy_patched(f, root))
    layer = Layer(node.name, node.op_type, node.name, sources)
    kind = node.op_type.rsplit("_", 1)[0]
    if kind == "MVAU":
        mode = inst.get_nodeattr("mem_mode")
        if mode != "internal_decoupled":
            raise FpgaflowError(f"RTL stitching: {node.name} keeps its weights as mem_mode {mode}; the RTL MVAU "
                                f"streams them (internal_decoupled)")
        lib = Path(inst.get_rtl_file_list(abspath=True)[1]).parents[1]  # finn-rtllib
        layer.sources += [copy_patched(lib / "axi/hdl/axilite.sv", root),
                          copy_patched(lib / "memstream/hdl/memstream_axi.sv", root),
                          copy_patched(lib / "memstream/hdl/memstream.sv", root),
                          _rel(root, layer_dir / f"{node.name}_memstream_wrapper.v")]
        layer.weights = f"{node.name}_memstream_wrapper"
        layer.weight_width = inst.get_instream_width_padded(1)
        layer.params["weights.INIT_FILE"] = f'"{_rel(root, layer_dir / "memblock.dat")}"'
    if kind == "Thresholding":
        layer.params["THRESHOLDS_PATH"] = f'"{_rel(root, layer_dir)}/{node.name}_"'
        layer.tie_off = ["s_axilite_AWVALID", "s_axilite_AWADDR", "s_axilite_WVALID", "s_axilite_WDATA",
                         "s_axilite_WSTRB", "s_axilite_BREADY", "s_axilite_ARVALID", "s_axilite_ARADDR",
                         "s_axilite_RREADY", "in1_V_TVALID", "in1_V_TDATA"]
    return layer


def _maxpool(inst, node, root: Path) -> Layer:
    if inst.get_nodeattr("Function") != "MaxPool":
        raise FpgaflowError(f"RTL stitching: {node.name} pools with {inst.get_nodeattr('Function')}; fpgaflow's RTL "
                            f"block does MaxPool only")
    k = inst.get_nodeattr("KernelSize")
    dt = inst.get_input_datatype(0)
    return Layer(node.name, node.op_type, "fpgaflow_maxpool", [copy_own("fpgaflow_maxpool.sv", root)],
                 {"PE": inst.get_nodeattr("PE"), "K2": k[0] * k[1], "BITS": dt.bitwidth(), "SIGNED": int(dt.signed())},
                 implementation="fpgaflow hw/fpgaflow_maxpool.sv")


def _bias_add(inst, node, root: Path, model) -> Layer:
    bias = model.get_initializer(node.input[1])
    if inst.get_nodeattr("lhs_style") != "input" or bias is None:
        raise FpgaflowError(f"RTL stitching: {node.name} adds two streams; fpgaflow's RTL block adds a constant "
                            f"per channel (a bias)")
    pe, channels = inst.get_nodeattr("PE"), inst.get_normal_output_shape()[-1]
    bias = np.asarray(bias).reshape(-1)
    if bias.size not in (1, channels) or not np.array_equal(bias, np.round(bias)):
        raise FpgaflowError(f"RTL stitching: {node.name}'s constant is not one integer per channel")
    bias = np.broadcast_to(bias, (channels,)).astype(np.int64)
    out_bits, in_dt = inst.get_output_datatype().bitwidth(), inst.get_input_datatype(0)
    layer_dir = root / "src" / "layers" / node.name
    layer_dir.mkdir(parents=True, exist_ok=True)
    lines = [format(pack(bias[f * pe:(f + 1) * pe], out_bits), "x") for f in range(channels // pe)]
    (layer_dir / "bias.dat").write_text("\n".join(lines) + "\n")
    return Layer(node.name, node.op_type, "fpgaflow_bias_add", [copy_own("fpgaflow_bias_add.sv", root)],
                 {"PE": pe, "CHANNELS": channels, "IN_BITS": in_dt.bitwidth(), "OUT_BITS": out_bits,
                  "SIGNED": int(in_dt.signed()), "BIAS_FILE": f'"{_rel(root, layer_dir / "bias.dat")}"'},
                 implementation="fpgaflow hw/fpgaflow_bias_add.sv")


def _global_acc_pool(inst, node, root: Path, model) -> Layer:
    vecs, dt = inst.get_nodeattr("numInputVectors"), inst.get_input_datatype(0)
    return Layer(node.name, node.op_type, "fpgaflow_global_acc_pool", [copy_own("fpgaflow_global_acc_pool.sv", root)],
                 {"PE": inst.get_nodeattr("PE"), "CHANNELS": inst.get_nodeattr("NumChannels"),
                  "PIXELS": math.prod(vecs[1:]), "IN_BITS": dt.bitwidth(),
                  "OUT_BITS": inst.get_output_datatype(0).bitwidth(), "SIGNED": int(dt.signed())},
                 implementation="fpgaflow hw/fpgaflow_global_acc_pool.sv")


# layers finn-plus has only as HLS, and the fpgaflow block that takes each (why: README, RTL)
BLOCKS = {"Pool_hls": lambda inst, node, root, model: _maxpool(inst, node, root),
          "ElementwiseAdd_hls": _bias_add, "GlobalAccPool_hls": _global_acc_pool}


def copy_own(name: str, root: Path) -> str:
    dst = root / "src" / "fpgaflow" / name
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(HW / name, dst)
    return _rel(root, dst)


def pack(values, bits: int) -> int:
    """Lanes into one stream word, lane 0 in the low bits, each two's complement in `bits`."""
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & ((1 << bits) - 1)) << (i * bits)
    return word


@dataclass
class Stream:
    """The stream into layer `index` (the last one: the accelerator's output)."""
    index: int
    tensor: str
    width: int            # padded to whole bytes
    lanes: int
    bits: int
    signed: bool
    beats: int            # per frame
    order: str            # "nhwc", or "depthwise" for a depthwise window generator's output
    kernel: int = 0       # a depthwise stream's window size and channels
    channels: int = 0


def _order(model, tensor: str) -> dict:
    """The element order on a stream: a depthwise SWG emits (H, W, C/SIMD, K, SIMD); FIFOs and
    width converters between keep whatever their producer emitted."""
    from qonnx.custom_op.registry import getCustomOp

    node = model.find_producer(tensor)
    while node is not None and node.op_type.startswith(("StreamingFIFO", "StreamingDataWidthConverter")):
        node = model.find_producer(node.input[0])
    if node is not None and node.op_type.startswith("ConvolutionInputGenerator") and \
            getCustomOp(node).get_nodeattr("depthwise"):
        inst = getCustomOp(node)
        return {"order": "depthwise", "kernel": math.prod(inst.get_nodeattr("ConvKernelDim")),
                "channels": inst.get_nodeattr("IFMChannels")}
    return {"order": "nhwc"}


def streams(model) -> list[Stream]:
    from qonnx.custom_op.registry import getCustomOp

    nodes = list(model.graph.node)
    out = []
    for i, node in enumerate(nodes):
        inst = getCustomOp(node)
        folded, dt = inst.get_folded_input_shape(0), inst.get_input_datatype(0)
        out.append(Stream(i, node.input[0], inst.get_instream_width_padded(0), int(folded[-1]), dt.bitwidth(),
                          dt.signed(), math.prod(folded[:-1]), **_order(model, node.input[0])))
    inst = getCustomOp(nodes[-1])
    folded, dt = inst.get_folded_output_shape(0), inst.get_output_datatype(0)
    out.append(Stream(len(nodes), nodes[-1].output[0], inst.get_outstream_width_padded(0), int(folded[-1]),
                      dt.bitwidth(), dt.signed(), math.prod(folded[:-1]), **_order(model, nodes[-1].output[0])))
    return out


def layers(model, root: Path) -> list[Layer]:
    from qonnx.custom_op.registry import getCustomOp

    result = []
    for node in model.graph.node:
        inst = getCustomOp(node)
        if node.op_type.endswith("_rtl"):
            result.append(_finn_rtl(inst, node, root))
        elif node.op_type in BLOCKS:
            result.append(BLOCKS[node.op_type](inst, node, root, model))
        else:
            raise FpgaflowError(f"{node.name} ({node.op_type}) has no RTL in finn-plus for this part and no fpgaflow "
                                f"block, so the accelerator is not stitched as RTL (the Python stages verify it)")
    return result


def top(layers: list[Layer], streams: list[Stream], name: str = "fpgaflow_top") -> str:
    """A module chaining `layers` through `streams` (one more than layers: the first is its input,
    the last its output, every one a port so the testbench can tap it)."""
    lines = [f"// written by fpgaflow (backends/finn/rtl/stitch.py): {len(layers)} FINN layer(s) chained by their",
             "// AXI streams; s<i> is the stream into layer i of the accelerator, the last one its output.",
             f"module {name} (", "\tinput  logic  ap_clk,", "\tinput  logic  ap_rst_n,"]
    ports = []
    for k, s in enumerate(streams):
        driven = "input " if k == 0 else "output"
        ports += [f"\t{driven} logic [{s.width - 1}:0]  s{s.index}_tdata", f"\t{driven} logic  s{s.index}_tvalid",
                  f"\t{'input ' if k == len(streams) - 1 else 'output'} logic  s{s.index}_tready"]
    lines.append(",\n".join(ports))
    lines.append(");")
    for k, layer in enumerate(layers):
        a, b = streams[k].index, streams[k + 1].index
        own = {key: v for key, v in layer.params.items() if "." not in key}
        params = f" #({', '.join(f'.{key}({v})' for key, v in own.items())})" if own else ""
        wires = ""
        if layer.weights:
            ws = f"w{a}"
            lines += [f"\tlogic  {ws}_tvalid, {ws}_tready;", f"\tlogic [{layer.weight_width - 1}:0]  {ws}_tdata;"]
            init = layer.params["weights.INIT_FILE"]
            lines += [f"\t{layer.weights} #(.INIT_FILE({init})) {layer.name}_wstrm (",
                      "\t\t.ap_clk(ap_clk), .ap_clk2x(ap_clk), .ap_rst_n(ap_rst_n),",
                      "\t\t.s_axilite_AWVALID(1'b0), .s_axilite_AWPROT('0), .s_axilite_AWADDR('0), .s_axilite_WVALID(1'b0),",
                      "\t\t.s_axilite_WDATA('0), .s_axilite_WSTRB('0), .s_axilite_BREADY(1'b0), .s_axilite_ARVALID(1'b0),",
                      "\t\t.s_axilite_ARPROT('0), .s_axilite_ARADDR('0), .s_axilite_RREADY(1'b0),",
                      "\t\t.s_axis_0_tvalid(1'b0), .s_axis_0_tdata('0),",
                      f"\t\t.m_axis_0_tdata({ws}_tdata), .m_axis_0_tvalid({ws}_tvalid), .m_axis_0_tready({ws}_tready)",
                      "\t);"]
            wires = (f"\t\t.ap_clk2x(ap_clk), .in1_V_TDATA({ws}_tdata), .in1_V_TVALID({ws}_tvalid), "
                     f".in1_V_TREADY({ws}_tready),\n")
        ties = "".join(f".{p}('0), " for p in layer.tie_off)
        lines += [f"\t{layer.module}{params} {layer.name} (",
                  f"\t\t.ap_clk(ap_clk), .ap_rst_n(ap_rst_n), {ties}",
                  wires + f"\t\t.in0_V_TDATA(s{a}_tdata), .in0_V_TVALID(s{a}_tvalid), .in0_V_TREADY(s{a}_tready),",
                  f"\t\t.out0_V_TDATA(s{b}_tdata), .out0_V_TVALID(s{b}_tvalid), .out0_V_TREADY(s{b}_tready)",
                  "\t);"]
    lines.append(f"endmodule : {name}")
    return "\n".join(lines) + "\n"


def header(streams: list[Stream], layers: list[Layer]) -> str:
    """The testbench's view of the design: every stream's port and shape (C++)."""
    rows = []
    for s in streams:
        rows.append(f"    {{\"s{s.index}\", {s.width}, {s.beats}, "
                    f"[](Vfpgaflow_top* t, uint32_t* w) {{ words(t->s{s.index}_tdata, w, {(s.width + 31) // 32}); }}, "
                    f"[](Vfpgaflow_top* t) {{ return (bool)t->s{s.index}_tvalid; }}, "
                    f"[](Vfpgaflow_top* t) {{ return (bool)t->s{s.index}_tready; }}}},")
    return ("// written by fpgaflow (backends/finn/rtl/stitch.py): the streams of fpgaflow_top\n"
            "#pragma once\n#include \"Vfpgaflow_top.h\"\n#include \"harness_streams.h\"\n\n"
            f"static const int N_STREAMS = {len(streams)};\n"
            "static const StreamPort STREAMS[] = {\n" + "\n".join(rows) + "\n};\n"
            "static const char* LAYERS[] = {" + ", ".join(f'"{l.name}"' for l in layers) + "};\n"
            f"static inline void set_ready(Vfpgaflow_top* t, bool r) {{ t->s{streams[-1].index}_tready = r; }}\n"
            f"static inline bool in_valid(Vfpgaflow_top* t) {{ return t->s{streams[0].index}_tvalid; }}\n"
            f"static inline void set_in_valid(Vfpgaflow_top* t, bool v) {{ t->s{streams[0].index}_tvalid = v; }}\n"
            f"static inline void set_in_data(Vfpgaflow_top* t, const uint32_t* w, int n) "
            f"{{ assign(t->s{streams[0].index}_tdata, w, n); }}\n")


def write(model, root: Path) -> dict:
    """Write rtl/ for the accelerator `model` (after PrepareIP); returns rtl.json's content."""
    root.mkdir(parents=True, exist_ok=True)
    return write_design(root, layers(model, root), streams(model))


def write_design(root: Path, lay: list[Layer], st: list[Stream]) -> dict:
    """The stitched top and rtl.json for layers whose sources are under root (sim.compile writes the
    testbench's stream table from rtl.json)."""
    from .patches import PATCHES

    atomic_write_text(root / "fpgaflow_top.sv", top(lay, st))
    sources = []
    for layer in lay:
        for s in layer.sources:
            if s not in sources:
                sources.append(s)
    # packages first: the modules that import them are compiled after
    sources.sort(key=lambda s: not s.endswith("_pkg.sv"))
    manifest = {
        "top": "fpgaflow_top", "sources": sources + ["fpgaflow_top.sv"],
        "layers": [vars(l) for l in lay],
        "streams": [vars(s) for s in st],
        "patches": [{"file": p.file, "why": p.why} for p in PATCHES],
    }
    atomic_write_text(root / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


def require(manifest: dict, folder: Path, purpose: str) -> None:
    """One line, before any work, where the FINN build in `folder` has no stitched RTL, saying why."""
    info = manifest.get("rtl") or {}
    if not info.get("stitched"):
        why = info.get("why_not") or "built before fpgaflow stitched RTL: build it again"
        raise FpgaflowError(f"{purpose}: {folder} has no stitched RTL: {why}")


def read(root: Path) -> dict:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise FpgaflowError(f"{root.parent}: this FINN build has no RTL (built with `finn.layers: hls`, or before "
                            f"fpgaflow stitched RTL): run `fpgaflow hls <design> --backend finn` again")
    return json.loads(path.read_text())
