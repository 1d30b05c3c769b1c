"""fpgaflow's RTL blocks (hw/) for the layers finn-plus has only as HLS, registered by FINN op
type in BLOCKS: each entry reads the FINN node's attributes and returns the stitched Layer (its
module, parameters, sources). Why each exists: finn-plus' RTL for the op is missing, or needs a
Versal part (README, RTL)."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from ....core.errors import FpgaflowError
from .model import HW, Layer, pack, rel


def copy_own(name: str, root: Path) -> str:
    dst = root / "src" / "fpgaflow" / name
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(HW / name, dst)
    return rel(root, dst)


def _block(node, module: str, root: Path, params: dict, holds_ready: bool = False, uses: tuple = ()) -> Layer:
    """`uses`: the modules of hw/ that `module` instantiates."""
    sources = [copy_own(f"{m}.sv", root) for m in (*uses, module)]
    return Layer(node.name, node.op_type, module, sources, params,
                 implementation=f"fpgaflow hw/{module}.sv", holds_ready=holds_ready)


def _pool(inst, node, root: Path, model) -> Layer:
    """FINN's Pool: MaxPool -> fpgaflow_maxpool; QuantAvgPool / AccPool (a window's sum, shifted
    as FINN's execution shifts it) -> fpgaflow_sum_pool."""
    function, k = inst.get_nodeattr("Function"), inst.get_nodeattr("KernelSize")
    dt, k2 = inst.get_input_datatype(0), k[0] * k[1]
    params = {"PE": inst.get_nodeattr("PE"), "K2": k2, "SIGNED": int(dt.signed())}
    if function == "MaxPool":
        return _block(node, "fpgaflow_maxpool", root, {**params, "BITS": dt.bitwidth()})
    if function not in ("QuantAvgPool", "AccPool"):
        raise FpgaflowError(f"RTL stitching: {node.name} pools with {function}; fpgaflow's RTL blocks do MaxPool, "
                            f"QuantAvgPool and AccPool")
    out_bits = inst.get_output_datatype(0).bitwidth()
    # Pool.execute_node's shift: the widest unsigned sum's bits beyond the output's
    shift = max(0, ((2 ** dt.bitwidth() - 1) * k2).bit_length() - out_bits) if function == "QuantAvgPool" else 0
    return _block(node, "fpgaflow_sum_pool", root,
                  {**params, "IN_BITS": dt.bitwidth(), "OUT_BITS": out_bits, "SHIFT": shift})


def _bias_add(inst, node, root: Path, model) -> Layer:
    bias = model.get_initializer(node.input[1])
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
    return _block(node, "fpgaflow_bias_add", root,
                  {"PE": pe, "CHANNELS": channels, "IN_BITS": in_dt.bitwidth(), "OUT_BITS": out_bits,
                   "SIGNED": int(in_dt.signed()), "BIAS_FILE": f'"{rel(root, layer_dir / "bias.dat")}"'})


def _add_streams(inst, node, root: Path, model) -> Layer:
    if list(inst.get_nodeattr("lhs_shape")) != list(inst.get_nodeattr("rhs_shape")):
        raise FpgaflowError(f"RTL stitching: {node.name} adds streams of shapes {inst.get_nodeattr('lhs_shape')} and "
                            f"{inst.get_nodeattr('rhs_shape')}; fpgaflow's RTL block adds equal shapes")
    a, b = inst.get_input_datatype(0), inst.get_input_datatype(1)
    return _block(node, "fpgaflow_add_streams", root,
                  {"PE": inst.get_nodeattr("PE"), "A_BITS": a.bitwidth(), "A_SIGNED": int(a.signed()),
                   "B_BITS": b.bitwidth(), "B_SIGNED": int(b.signed()),
                   "OUT_BITS": inst.get_output_datatype().bitwidth()}, holds_ready=True)


def _elementwise_add(inst, node, root: Path, model) -> Layer:
    """FINN's ElementwiseAdd: a constant right-hand side is a bias; two streams, a residual add."""
    if inst.get_nodeattr("lhs_style") != "input":
        raise FpgaflowError(f"RTL stitching: {node.name} adds to a constant left-hand side; fpgaflow's RTL blocks "
                            f"take the stream first")
    if model.get_initializer(node.input[1]) is not None:
        return _bias_add(inst, node, root, model)
    return _add_streams(inst, node, root, model)


def _global_acc_pool(inst, node, root: Path, model) -> Layer:
    vecs, dt = inst.get_nodeattr("numInputVectors"), inst.get_input_datatype(0)
    return _block(node, "fpgaflow_global_acc_pool", root,
                  {"PE": inst.get_nodeattr("PE"), "CHANNELS": inst.get_nodeattr("NumChannels"),
                   "PIXELS": math.prod(vecs[1:]), "IN_BITS": dt.bitwidth(),
                   "OUT_BITS": inst.get_output_datatype(0).bitwidth(), "SIGNED": int(dt.signed())})


def _duplicate_streams(inst, node, root: Path, model) -> Layer:
    if inst.get_nodeattr("NumOutputStreams") != 2:
        raise FpgaflowError(f"RTL stitching: {node.name} feeds {inst.get_nodeattr('NumOutputStreams')} readers; "
                            f"fpgaflow's RTL block forks a stream in two")
    return _block(node, "fpgaflow_duplicate_streams", root, {"WIDTH": inst.get_instream_width_padded(0)},
                  holds_ready=True)


def _concat(inst, node, root: Path, model) -> Layer:
    channels = inst.get_nodeattr("ChannelsPerStream")
    if len(channels) != 2:
        raise FpgaflowError(f"RTL stitching: {node.name} joins {len(channels)} streams; fpgaflow's RTL block "
                            f"joins two")
    a, b = inst.get_input_datatype(0), inst.get_input_datatype(1)
    return _block(node, "fpgaflow_concat", root,
                  {"SIMD": inst.get_nodeattr("SIMD"), "C0": channels[0], "C1": channels[1],
                   "B0": a.bitwidth(), "S0": int(a.signed()), "B1": b.bitwidth(), "S1": int(b.signed()),
                   "OUT_BITS": inst.get_output_datatype().bitwidth()})


def _mvau(inst, node, root: Path, model) -> Layer:
    """FINN's HLS MVAU (finn-plus' RTL one takes 4..8-bit operands only) without activation:
    fpgaflow_mvau, its weights folded into a memory file as FINN folds them."""
    if inst.get_nodeattr("noActivation") != 1 or inst.get_nodeattr("binaryXnorMode"):
        raise FpgaflowError(f"RTL stitching: {node.name} has its thresholds (or XNOR mode) inside; fpgaflow's MVAU "
                            f"block multiplies only (FINN's flow here keeps thresholds in a layer of their own)")
    mw, mh, simd, pe = (inst.get_nodeattr(k) for k in ("MW", "MH", "SIMD", "PE"))
    idt, wdt = _integer_operands(inst, node)
    w = np.asarray(model.get_initializer(node.input[1])).astype(np.int64)            # (MW, MH)
    # lane p*SIMD + s of tile (nf, sf) is W[sf*SIMD + s][nf*PE + p]
    tiles = w.reshape(mw // simd, simd, mh // pe, pe).transpose(2, 0, 3, 1).reshape(-1, pe * simd)
    return _block(node, "fpgaflow_mvau", root, uses=("fpgaflow_product",), params=
                  {"MW": mw, "MH": mh, "SIMD": simd, "PE": pe, "IN_BITS": idt.bitwidth(), "IN_SIGNED": int(idt.signed()),
                   "W_BITS": wdt.bitwidth(), "W_SIGNED": int(wdt.signed()),
                   "OUT_BITS": inst.get_output_datatype(0).bitwidth(), **_weight_banks(root, node.name, tiles, wdt.bitwidth())})


def _vvau(inst, node, root: Path, model) -> Layer:
    """FINN's HLS VVAU (finn-plus' RTL one needs Versal DSP58s) without activation, SIMD 1:
    fpgaflow_vvau, its weights as (channel fold, kernel position) tiles of PE lanes."""
    if inst.get_nodeattr("noActivation") != 1 or inst.get_nodeattr("SIMD") != 1:
        raise FpgaflowError(f"RTL stitching: {node.name} has thresholds inside or SIMD {inst.get_nodeattr('SIMD')}; "
                            f"fpgaflow's VVAU block multiplies only, one kernel position per cycle (SIMD 1)")
    pe, channels, kernel = inst.get_nodeattr("PE"), inst.get_nodeattr("Channels"), inst.get_nodeattr("Kernel")
    idt, wdt = _integer_operands(inst, node)
    k2 = kernel[0] * kernel[1]
    w = np.asarray(model.get_initializer(node.input[1])).astype(np.int64).reshape(channels, k2)
    # lane p of tile (fold, k) is W[fold*PE + p][k]
    tiles = w.reshape(channels // pe, pe, k2).transpose(0, 2, 1).reshape(-1, pe)
    return _block(node, "fpgaflow_vvau", root, uses=("fpgaflow_product",), params=
                  {"CHANNELS": channels, "K2": k2, "PE": pe, "IN_BITS": idt.bitwidth(), "IN_SIGNED": int(idt.signed()),
                   "W_BITS": wdt.bitwidth(), "W_SIGNED": int(wdt.signed()),
                   "OUT_BITS": inst.get_output_datatype(0).bitwidth(),
                   "WEIGHT_FILE": _weight_file(root, node.name, tiles, wdt.bitwidth())})


def swg_loops(ifm, ofm, kernel, stride, dilation, folds: int, depthwise: bool) -> list[tuple[int, int]]:
    """fpgaflow_swg's read order as five nested loops over a frame of (H, W, folds) words,
    innermost first: (iterations, address step when this loop advances and the inner ones wrap)."""
    (_, iw), (oh, ow), (kh, kw), (sh, sw), (dh, dw) = ifm, ofm, kernel, stride, dilation
    fold, kx, ky = (folds, 1), (kw, dw * folds), (kh, dh * iw * folds)
    ox, oy = (ow, sw * folds), (oh, sh * iw * folds)
    loops, wrapped = [], 0
    for n, stride_words in ([kx, ky, fold, ox, oy] if depthwise else [fold, kx, ky, ox, oy]):
        loops.append((n, stride_words - wrapped))
        wrapped += (n - 1) * stride_words
    return loops


def swg_takes(inst) -> bool:
    """fpgaflow_swg takes one SIMD group per beat; fpgaflow_swg_parallel a whole window per beat
    where a word holds every channel, undilated, on rows of at least 3 words (its buffer's read
    and delayed write then never meet); finn-rtllib's keeps the rest."""
    if inst.get_nodeattr("M") != 1:
        return False
    if not inst.get_nodeattr("parallel_window"):
        return True
    return (inst.get_nodeattr("SIMD") == inst.get_nodeattr("IFMChannels") and
            list(inst.get_nodeattr("Dilation")) == [1, 1] and inst.get_nodeattr("IFMDim")[1] >= 3)


def _swg(inst, node, root: Path, model) -> Layer:
    """FINN's RTL window generator (its control bounds the clock on ECP5, docs/pnr.md): fpgaflow_swg,
    or fpgaflow_swg_parallel for a parallel window."""
    simd, channels = inst.get_nodeattr("SIMD"), inst.get_nodeattr("IFMChannels")
    ifm, bits = inst.get_nodeattr("IFMDim"), inst.get_input_datatype(0).bitwidth()
    if inst.get_nodeattr("parallel_window"):
        (kh, kw), (sh, sw) = inst.get_nodeattr("ConvKernelDim"), inst.get_nodeattr("Stride")
        return _block(node, "fpgaflow_swg_parallel", root, {"SIMD": simd, "BITS": bits, "IFM_H": ifm[0],
                      "IFM_W": ifm[1], "K_H": kh, "K_W": kw, "S_H": sh, "S_W": sw})
    loops = swg_loops(ifm, inst.get_nodeattr("OFMDim"), inst.get_nodeattr("ConvKernelDim"),
                      inst.get_nodeattr("Stride"), inst.get_nodeattr("Dilation"), channels // simd,
                      bool(inst.get_nodeattr("depthwise")))
    params = {"SIMD": simd, "BITS": bits, "FRAME": ifm[0] * ifm[1] * channels // simd}
    params.update({f"N{i}": n for i, (n, _) in enumerate(loops)})
    params.update({f"INC{i}": inc for i, (_, inc) in enumerate(loops)})
    return _block(node, "fpgaflow_swg", root, params)


def dwc_takes(inst) -> bool:
    """fpgaflow_dwc where neither width divides the other (finn-rtllib's then loses cycles)."""
    i, o = inst.get_nodeattr("inWidth"), inst.get_nodeattr("outWidth")
    return i % o != 0 and o % i != 0


def _dwc(inst, node, root: Path, model) -> Layer:
    i, o = inst.get_nodeattr("inWidth"), inst.get_nodeattr("outWidth")
    return _block(node, "fpgaflow_dwc", root, {"IN_BITS": i, "OUT_BITS": o, "G": math.gcd(i, o)})


def _integer_operands(inst, node):
    """The input and weight datatypes of an MVAU or VVAU, where both are integers (not bipolar)."""
    idt, wdt = inst.get_input_datatype(0), inst.get_input_datatype(1)
    if not (idt.is_integer() and wdt.is_integer()) or "BIPOLAR" in (idt.name, wdt.name):
        raise FpgaflowError(f"RTL stitching: {node.name} multiplies {idt.name} by {wdt.name}; fpgaflow's multiplying "
                            f"blocks take integer operands")
    return idt, wdt


def _weight_file(root: Path, name: str, tiles: np.ndarray, bits: int, file: str = "weights.dat") -> str:
    """The tiles, one packed hex line each, in `file` of the layer's folder; its path as a parameter."""
    layer_dir = root / "src" / "layers" / name
    layer_dir.mkdir(parents=True, exist_ok=True)
    (layer_dir / file).write_text("\n".join(format(pack(t, bits), "x") for t in tiles) + "\n")
    return f'"{rel(root, layer_dir / file)}"'


def bank_depth(tile_bits: int) -> int:
    """The tiles one ECP5 block RAM (DP16KD: 16,384 x 1 .. 2,048 x 9) holds at once in depth, for
    tiles of tile_bits: a wider tile is sliced across 2,048 x 9 RAMs, none cascaded in depth."""
    return next((depth for width, depth in ((1, 16384), (2, 8192), (4, 4096)) if tile_bits <= width), 2048)


def _weight_banks(root: Path, name: str, tiles: np.ndarray, bits: int) -> dict:
    """fpgaflow_mvau's weights: banks of bank_depth tiles, bank k in weights_<k>.dat of the
    layer's folder; the parameters that name them."""
    depth = bank_depth(tiles.shape[1] * bits)
    for k in range(0, len(tiles), depth):
        _weight_file(root, name, tiles[k:k + depth], bits, f"weights_{k // depth}.dat")
    return {"WEIGHT_FILES": f'"{rel(root, root / "src" / "layers" / name / "weights_")}"', "BANK_DEPTH": depth}


# FINN op type -> the fpgaflow block that takes it
BLOCKS = {"Pool_hls": _pool, "MVAU_hls": _mvau, "VVAU_hls": _vvau, "ElementwiseAdd_hls": _elementwise_add,
          "GlobalAccPool_hls": _global_acc_pool, "DuplicateStreams_hls": _duplicate_streams,
          "StreamingConcat_hls": _concat, "ConvolutionInputGenerator_rtl": _swg,
          "StreamingDataWidthConverter_rtl": _dwc}
# finn-plus RTL op type -> whether fpgaflow's block takes this node (where part.own_rtl asks for it)
TAKES = {"ConvolutionInputGenerator_rtl": swg_takes, "StreamingDataWidthConverter_rtl": dwc_takes}
