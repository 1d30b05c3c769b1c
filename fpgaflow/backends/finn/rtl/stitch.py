"""The FINN accelerator as one RTL design that open tools take: sources, stitched top, stream table.

FINN stitches its layers in Vivado IP Integrator; here the dataflow graph (a chain, or forks
and joins) is a plain Verilog top (`fpgaflow_top`) written from the dataflow model: each
layer's module, the weight streamer of a decoupled MVAU beside it, and every stream (a tensor
written by one layer, read by one) brought out as a tap (data, valid, ready) so the testbench
can watch any layer. Layers that finn-plus has only as HLS are taken by fpgaflow's own RTL
blocks (hw/, registered in blocks.BLOCKS).

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
from pathlib import Path

from ....core.atomic import atomic_write_text
from ....core.errors import FpgaflowError
from .model import Layer, Stream, pack, rel  # noqa: F401  (pack: re-exported for the tests)
from .patches import copy_patched, without_default_nettype

MANIFEST = "rtl.json"


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
        sources.append(rel(root, layer_dir / f.name) if f.parent.name.startswith("code_gen_ipgen")
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
                          rel(root, layer_dir / f"{node.name}_memstream_wrapper.v")]
        layer.weights = f"{node.name}_memstream_wrapper"
        layer.weight_width = inst.get_instream_width_padded(1)
        layer.params["weights.INIT_FILE"] = f'"{rel(root, layer_dir / "memblock.dat")}"'
    if kind == "Thresholding":
        layer.params["THRESHOLDS_PATH"] = f'"{rel(root, layer_dir)}/{node.name}_"'
        layer.tie_off = ["s_axilite_AWVALID", "s_axilite_AWADDR", "s_axilite_WVALID", "s_axilite_WDATA",
                         "s_axilite_WSTRB", "s_axilite_BREADY", "s_axilite_ARVALID", "s_axilite_ARADDR",
                         "s_axilite_RREADY", "in1_V_TVALID", "in1_V_TDATA"]
    return layer


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


def _stream(model, index: int, tensor: str, inst, port: int, side: str) -> Stream:
    """The stream of `tensor` as layer `inst` sees it on its input or output `port`."""
    folded = getattr(inst, f"get_folded_{side}_shape")(port)
    dt = getattr(inst, f"get_{side}_datatype")(port)
    width = getattr(inst, f"get_{'in' if side == 'input' else 'out'}stream_width_padded")(port)
    producer, consumer = model.find_producer(tensor), model.find_consumer(tensor)
    return Stream(index, tensor, width, int(folded[-1]), dt.bitwidth(), dt.signed(), math.prod(folded[:-1]),
                  **_order(model, tensor), producer=producer.name if producer else None,
                  consumer=consumer.name if consumer else None)


def streams(model) -> list[Stream]:
    """Every stream in the order the layers write them (FINN's dataflow is topologically sorted):
    the input first, the output last. Each tensor has one reader: a fork is a DuplicateStreams."""
    from qonnx.custom_op.registry import getCustomOp

    if len(model.graph.input) != 1 or len(model.graph.output) != 1:
        raise FpgaflowError(f"RTL stitching: the accelerator has {len(model.graph.input)} inputs and "
                            f"{len(model.graph.output)} outputs; fpgaflow's testbench drives one and reads one")
    first = model.graph.input[0].name
    out = [_stream(model, 0, first, getCustomOp(model.find_consumer(first)), 0, "input")]
    last = model.graph.output[0].name
    for node in model.graph.node:
        for port, tensor in enumerate(node.output):
            if tensor != last:
                out.append(_stream(model, len(out), tensor, getCustomOp(node), port, "output"))
    out.append(_stream(model, len(out), last, getCustomOp(model.find_producer(last)), 0, "output"))
    return out


def _inputs(node, model) -> list[str]:
    """The tensors on a node's input stream ports (an MVAU's weights and a constant operand are not streams)."""
    return [t for t in node.input if model.get_initializer(t) is None]


def layers(model, root: Path, own: frozenset = frozenset()) -> list[Layer]:
    """`own`: finn-plus RTL op types whose nodes fpgaflow's blocks take where they can (blocks.TAKES)."""
    from qonnx.custom_op.registry import getCustomOp

    from .blocks import BLOCKS, TAKES

    result = []
    for node in model.graph.node:
        inst = getCustomOp(node)
        if node.op_type in own and TAKES[node.op_type](inst):
            layer = BLOCKS[node.op_type](inst, node, root, model)
        elif node.op_type.endswith("_rtl"):
            layer = _finn_rtl(inst, node, root)
        elif node.op_type in BLOCKS:
            layer = BLOCKS[node.op_type](inst, node, root, model)
        else:
            raise FpgaflowError(f"{node.name} ({node.op_type}) has no RTL in finn-plus for this part and no fpgaflow "
                                f"block, so the accelerator is not stitched as RTL (the Python stages verify it)")
        layer.inputs, layer.outputs = _inputs(node, model), list(node.output)
        result.append(layer)
    return result


def wiring(layers: list[Layer], streams: list[Stream]) -> list[tuple[list[Stream], list[Stream]]]:
    """Each layer's input and output streams, by port. A layer that names no tensors is a link of
    a chain: stream k into layer k, stream k + 1 out (a layer simulated or synthesized alone)."""
    by_tensor = {s.tensor: s for s in streams}
    return [([by_tensor[t] for t in l.inputs] if l.inputs else [streams[k]],
             [by_tensor[t] for t in l.outputs] if l.outputs else [streams[k + 1]]) for k, l in enumerate(layers)]


def _weight_streamer(layer: Layer, ws: str) -> list[str]:
    init = layer.params["weights.INIT_FILE"]
    return [f"\tlogic  {ws}_tvalid, {ws}_tready;", f"\tlogic [{layer.weight_width - 1}:0]  {ws}_tdata;",
            f"\t{layer.weights} #(.INIT_FILE({init})) {layer.name}_wstrm (",
            "\t\t.ap_clk(ap_clk), .ap_clk2x(ap_clk), .ap_rst_n(ap_rst_n),",
            "\t\t.s_axilite_AWVALID(1'b0), .s_axilite_AWPROT('0), .s_axilite_AWADDR('0), .s_axilite_WVALID(1'b0),",
            "\t\t.s_axilite_WDATA('0), .s_axilite_WSTRB('0), .s_axilite_BREADY(1'b0), .s_axilite_ARVALID(1'b0),",
            "\t\t.s_axilite_ARPROT('0), .s_axilite_ARADDR('0), .s_axilite_RREADY(1'b0),",
            "\t\t.s_axis_0_tvalid(1'b0), .s_axis_0_tdata('0),",
            f"\t\t.m_axis_0_tdata({ws}_tdata), .m_axis_0_tvalid({ws}_tvalid), .m_axis_0_tready({ws}_tready)",
            "\t);"]


def top(layers: list[Layer], streams: list[Stream], name: str = "fpgaflow_top") -> str:
    """A module wiring `layers` through `streams` (the first is its input, the last its output,
    every one a port so the testbench can tap it)."""
    lines = [f"// written by fpgaflow (backends/finn/rtl/stitch.py): {len(layers)} FINN layer(s) joined by their",
             "// AXI streams; s<i> is the i-th stream (written by one layer, read by one), s0 the input, the last",
             "// one the output.",
             f"module {name} (", "\tinput  logic  ap_clk,", "\tinput  logic  ap_rst_n,"]
    io = wiring(layers, streams)
    written = {s.index for _, outs in io for s in outs}
    read = {s.index for ins, _ in io for s in ins}
    ports = []
    for s in streams:   # driven here, read here: a tap; read only: an input; written only: an output
        data = "output" if s.index in written else "input "
        ready = "output" if s.index in read else "input "
        ports += [f"\t{data} logic [{s.width - 1}:0]  s{s.index}_tdata", f"\t{data} logic  s{s.index}_tvalid",
                  f"\t{ready} logic  s{s.index}_tready"]
    lines.append(",\n".join(ports))
    lines.append(");")
    for layer, (ins, outs) in zip(layers, io):
        own = {key: v for key, v in layer.params.items() if "." not in key}
        params = f" #({', '.join(f'.{key}({v})' for key, v in own.items())})" if own else ""
        wires = ""
        if layer.weights:
            ws = f"w{ins[0].index}"
            lines += _weight_streamer(layer, ws)
            wires = (f"\t\t.ap_clk2x(ap_clk), .in1_V_TDATA({ws}_tdata), .in1_V_TVALID({ws}_tvalid), "
                     f".in1_V_TREADY({ws}_tready),\n")
        ties = "".join(f".{p}('0), " for p in layer.tie_off)
        conns = [f".{d}{k}_V_TDATA(s{s.index}_tdata), .{d}{k}_V_TVALID(s{s.index}_tvalid), "
                 f".{d}{k}_V_TREADY(s{s.index}_tready)"
                 for d, group in (("in", ins), ("out", outs)) for k, s in enumerate(group)]
        lines += [f"\t{layer.module}{params} {layer.name} (", f"\t\t.ap_clk(ap_clk), .ap_rst_n(ap_rst_n), {ties}",
                  wires + ",\n".join(f"\t\t{c}" for c in conns), "\t);"]
    lines.append(f"endmodule : {name}")
    return "\n".join(lines) + "\n"


def header(streams: list[Stream], layers: list[Layer]) -> str:
    """The testbench's view of the design: every stream's port and shape, every layer's streams (C++)."""
    pos = {s.index: i for i, s in enumerate(streams)}
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
            f"static const int N_LAYERS = {len(layers)};\n"
            "// per layer: its first input and first output stream (busy: neither starved nor blocked), whether\n"
            "// it is a FIFO (its occupancy, beats in minus beats out, is gauged), whether it holds its ready\n"
            "// until every input is offered, and its second input stream (-1: none)\n"
            "static const int LAYER_IO[][5] = {" + ", ".join(
                f"{{{pos[ins[0].index]}, {pos[outs[0].index]}, {int(l.op_type.startswith('StreamingFIFO'))}, "
                f"{int(l.holds_ready)}, {pos[ins[1].index] if len(ins) > 1 else -1}}}"
                for l, (ins, outs) in zip(layers, wiring(layers, streams))) + "};\n"
            f"static inline void set_ready(Vfpgaflow_top* t, bool r) {{ t->s{streams[-1].index}_tready = r; }}\n"
            f"static inline bool in_valid(Vfpgaflow_top* t) {{ return t->s{streams[0].index}_tvalid; }}\n"
            f"static inline void set_in_valid(Vfpgaflow_top* t, bool v) {{ t->s{streams[0].index}_tvalid = v; }}\n"
            f"static inline void set_in_data(Vfpgaflow_top* t, const uint32_t* w, int n) "
            f"{{ assign(t->s{streams[0].index}_tdata, w, n); }}\n")


def write(model, root: Path, own: frozenset = frozenset()) -> dict:
    """Write rtl/ for the accelerator `model` (after PrepareIP); returns rtl.json's content."""
    root.mkdir(parents=True, exist_ok=True)
    return write_design(root, layers(model, root, own), streams(model))


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
