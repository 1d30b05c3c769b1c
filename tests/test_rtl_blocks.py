"""fpgaflow's own RTL blocks (backends/finn/rtl/hw/), each simulated alone in Verilator against
numpy on random data, with gaps in the input and back-pressure on the output (AXI-Stream)."""
import numpy as np
import pytest

from fpgaflow.backends.finn.rtl import blocks, sim, stitch

pytestmark = pytest.mark.slow


def _run(tmp_path, layer, s_in, s_out, frames, seed=3):
    stitch.write_design(tmp_path, [layer], [s_in, s_out])
    binary = sim.compile(tmp_path, log=lambda m: None)
    return sim.simulate(tmp_path, binary, frames, tap_frames=0, ready_percent=60, seed=seed, valid_percent=55)


@pytest.mark.parametrize("signed", [False, True])
def test_maxpool_block_equals_numpy(tmp_path, signed):
    pe, k2, bits, channels, pixels, n = 2, 4, 4, 6, 5, 7
    rng = np.random.default_rng(0)
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2 ** bits)
    # the depthwise window stream: per output pixel, per channel fold, K2 beats of PE lanes
    x = rng.integers(low, high, size=(n, pixels, channels // pe, k2, pe))
    layer = stitch.Layer("pool", "Pool_hls", "fpgaflow_maxpool", [blocks.copy_own("fpgaflow_maxpool.sv", tmp_path)],
                         {"PE": pe, "K2": k2, "BITS": bits, "SIGNED": int(signed)})
    width = (pe * bits + 7) // 8 * 8
    s_in = stitch.Stream(0, "x", width, pe, bits, signed, pixels * channels // pe * k2, "nhwc")
    s_out = stitch.Stream(1, "y", width, pe, bits, signed, pixels * channels // pe, "nhwc")
    r = _run(tmp_path, layer, s_in, s_out, x)
    assert not r["deadlock"]
    assert np.array_equal(r["out"], x.max(axis=3).reshape(-1, pe))
    # one input beat per cycle when nothing stalls: K2 cycles per output beat, as FINN estimates Pool_hls
    assert r["beats"] == [x.size // pe, x.size // pe // k2]


@pytest.mark.parametrize("signed, shift", [(False, 0), (True, 0), (True, 2)])
def test_sum_pool_block_equals_numpy(tmp_path, signed, shift):
    """The window's sum (an average pooling's integers, SHIFT 0) and FINN's QuantAvgPool (the
    sum shifted right, floor): the extremes included, so the sum needs every accumulator bit."""
    pe, k2, bits, channels, pixels, n = 2, 4, 4, 6, 5, 7
    rng = np.random.default_rng(2)
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2 ** bits)
    x = rng.integers(low, high, size=(n, pixels, channels // pe, k2, pe))
    x[0, 0], x[0, 1] = low, high - 1
    out_bits = bits + 2 - shift
    layer = stitch.Layer("pool", "Pool_hls", "fpgaflow_sum_pool", [blocks.copy_own("fpgaflow_sum_pool.sv", tmp_path)],
                         {"PE": pe, "K2": k2, "IN_BITS": bits, "OUT_BITS": out_bits, "SHIFT": shift,
                          "SIGNED": int(signed)})
    s_in = stitch.Stream(0, "x", (pe * bits + 7) // 8 * 8, pe, bits, signed, pixels * channels // pe * k2, "nhwc")
    s_out = stitch.Stream(1, "y", (pe * out_bits + 7) // 8 * 8, pe, out_bits, signed, pixels * channels // pe, "nhwc")
    r = _run(tmp_path, layer, s_in, s_out, x)
    want = np.right_shift(x.sum(axis=3), shift).reshape(-1, pe)
    assert not r["deadlock"] and want.min() == (4 * low) >> shift and want.max() == (4 * (high - 1)) >> shift
    assert np.array_equal(r["out"], want)
    assert r["beats"] == [x.size // pe, x.size // pe // k2]


def _windows(x, k, s, d, folds, depthwise):
    """numpy's im2col of frames x (n, H, W, folds, SIMD) in FINN's window generator's order."""
    n, ih, iw = x.shape[:3]
    oh, ow = (ih - d[0] * (k[0] - 1) - 1) // s[0] + 1, (iw - d[1] * (k[1] - 1) - 1) // s[1] + 1
    rows = np.arange(oh)[:, None] * s[0] + np.arange(k[0])[None] * d[0]          # (oh, kh)
    cols = np.arange(ow)[:, None] * s[1] + np.arange(k[1])[None] * d[1]          # (ow, kw)
    w = x[:, rows[:, None, :, None], cols[None, :, None, :]]                    # (n, oh, ow, kh, kw, folds, simd)
    if depthwise:
        w = w.transpose(0, 1, 2, 5, 3, 4, 6)
    return (oh, ow), w.reshape(-1, x.shape[-1])


# a conv's window (3x3, 2 channel folds, non-square), a pooling's (2x2 stride 2, depthwise, a
# row left over), a dilated one, and a depthwise 3x3 stride 2 with 3 folds
@pytest.mark.parametrize("ifm, k, s, d, folds, depthwise", [
    ((5, 6), (3, 3), (1, 1), (1, 1), 2, False), ((5, 4), (2, 2), (2, 2), (1, 1), 3, True),
    ((6, 6), (2, 3), (1, 2), (2, 1), 1, False), ((7, 7), (3, 3), (2, 2), (1, 1), 3, True)])
def test_swg_block_equals_numpy(tmp_path, ifm, k, s, d, folds, depthwise):
    """fpgaflow_swg's windows in FINN's order (standard and depthwise), frames back to back, with
    gaps in the input and back-pressure on the output."""
    from types import SimpleNamespace

    from qonnx.core.datatype import DataType

    simd, bits, n = 2, 3, 4
    x = np.random.default_rng(6).integers(0, 2 ** bits, size=(n, *ifm, folds, simd))
    ofm, want = _windows(x, k, s, d, folds, depthwise)
    attrs = {"SIMD": simd, "IFMChannels": folds * simd, "IFMDim": list(ifm), "OFMDim": list(ofm),
             "ConvKernelDim": list(k), "Stride": list(s), "Dilation": list(d), "depthwise": int(depthwise),
             "parallel_window": 0, "M": 1}
    inst = SimpleNamespace(get_nodeattr=attrs.__getitem__, get_input_datatype=lambda i=0: DataType[f"UINT{bits}"])
    assert blocks.swg_takes(inst)
    layer = blocks._swg(inst, SimpleNamespace(name="swg", op_type="ConvolutionInputGenerator_rtl"), tmp_path, None)
    width = (simd * bits + 7) // 8 * 8
    s_in = stitch.Stream(0, "x", width, simd, bits, False, ifm[0] * ifm[1] * folds, "nhwc")
    s_out = stitch.Stream(1, "y", width, simd, bits, False, len(want) // n, "nhwc")
    r = _run(tmp_path, layer, s_in, s_out, x.reshape(n, -1))
    assert not r["deadlock"] and np.array_equal(r["out"], want)


# lenet's first window (5x5 on one 8-bit channel), a pooling's (2x2 stride 2, an odd row and
# column left over), a 3x3 on a 3-wide row (the buffer's smallest), a 1-row kernel (no buffer)
@pytest.mark.parametrize("ifm, k, s, simd, bits", [((9, 8), (5, 5), (1, 1), 1, 8), ((7, 9), (2, 2), (2, 2), 3, 2),
                                                   ((4, 3), (3, 3), (1, 1), 2, 3), ((3, 6), (1, 3), (1, 2), 2, 4)])
def test_swg_parallel_block_equals_numpy(tmp_path, ifm, k, s, simd, bits):
    """fpgaflow_swg_parallel: a whole window per beat, lanes (K_H, K_W, SIMD), frames back to back,
    with gaps in the input and back-pressure on the output."""
    from types import SimpleNamespace

    from qonnx.core.datatype import DataType

    n = 4
    x = np.random.default_rng(7).integers(0, 2 ** bits, size=(n, *ifm, 1, simd))
    ofm, want = _windows(x, k, s, (1, 1), 1, False)
    attrs = {"SIMD": simd, "IFMChannels": simd, "IFMDim": list(ifm), "OFMDim": list(ofm), "ConvKernelDim": list(k),
             "Stride": list(s), "Dilation": [1, 1], "depthwise": 0, "parallel_window": 1, "M": 1}
    inst = SimpleNamespace(get_nodeattr=attrs.__getitem__, get_input_datatype=lambda i=0: DataType[f"UINT{bits}"])
    assert blocks.swg_takes(inst)
    layer = blocks._swg(inst, SimpleNamespace(name="swg", op_type="ConvolutionInputGenerator_rtl"), tmp_path, None)
    lanes = k[0] * k[1] * simd
    s_in = stitch.Stream(0, "x", (simd * bits + 7) // 8 * 8, simd, bits, False, ifm[0] * ifm[1], "nhwc")
    s_out = stitch.Stream(1, "y", (lanes * bits + 7) // 8 * 8, lanes, bits, False, ofm[0] * ofm[1], "nhwc")
    r = _run(tmp_path, layer, s_in, s_out, x.reshape(n, -1))
    assert not r["deadlock"] and np.array_equal(r["out"], want.reshape(-1, lanes))


@pytest.mark.parametrize("in_bits, out_bits", [(4, 10), (10, 4), (6, 9), (9, 6)])
def test_dwc_block_equals_numpy(tmp_path, in_bits, out_bits):
    """The bits in order through widths neither of which divides the other, frames back to back,
    with gaps in the input and back-pressure on the output; one beat a cycle when nothing stalls."""
    import math
    from types import SimpleNamespace

    n, total = 5, 3 * in_bits * out_bits // math.gcd(in_bits, out_bits)
    bits = np.random.default_rng(8).integers(0, 2, size=(n, total))
    inst = SimpleNamespace(get_nodeattr={"inWidth": in_bits, "outWidth": out_bits}.__getitem__)
    assert blocks.dwc_takes(inst)
    layer = blocks._dwc(inst, SimpleNamespace(name="dwc", op_type="StreamingDataWidthConverter_rtl"), tmp_path, None)
    s_in = stitch.Stream(0, "x", (in_bits + 7) // 8 * 8, in_bits, 1, False, total // in_bits, "nhwc")
    s_out = stitch.Stream(1, "y", (out_bits + 7) // 8 * 8, out_bits, 1, False, total // out_bits, "nhwc")
    r = _run(tmp_path, layer, s_in, s_out, bits)
    assert not r["deadlock"] and np.array_equal(r["out"].reshape(n, total), bits)
    assert not blocks.dwc_takes(SimpleNamespace(get_nodeattr={"inWidth": 4, "outWidth": 12}.__getitem__))


# the products: shifted sums over the weight's bits (2, 4), over the input's (2 x 6), a `*` (6 x 5);
# the adder tree: no stage (SIMD 1), one (4), two (6: 6 -> 2 -> 1, 12: 12 -> 3 -> 1); the weights
# in one bank, or in banks of 4 (9 tiles: the last bank holds 1) and of 2 (18 tiles: all full)
@pytest.mark.parametrize("in_signed, in_bits, w_bits, simd, bank", [
    (False, 2, 2, 4, None), (True, 3, 4, 12, None), (False, 2, 6, 6, None), (True, 6, 5, 1, None),
    (False, 2, 2, 4, 4), (True, 6, 5, 2, 2)])
def test_mvau_block_equals_numpy(tmp_path, monkeypatch, in_signed, in_bits, w_bits, simd, bank):
    """x W over folded vectors (3 output folds, so the kept vector is replayed), the extremes
    included, with gaps in the input and back-pressure on the output."""
    from types import SimpleNamespace

    if bank:
        monkeypatch.setattr(blocks, "bank_depth", lambda bits: bank)

    from qonnx.core.datatype import DataType

    mw, mh, pe, n = 12, 6, 2, 9
    rng = np.random.default_rng(4)
    low, high = (-(2 ** (in_bits - 1)), 2 ** (in_bits - 1)) if in_signed else (0, 2 ** in_bits)
    w = rng.integers(-(2 ** (w_bits - 1)), 2 ** (w_bits - 1), size=(mw, mh))
    w[:, 0] = -(2 ** (w_bits - 1))
    x = rng.integers(low, high, size=(n, mw))
    x[0] = low
    want = x @ w
    out_bits = int(max(abs(want.min()), abs(want.max()))).bit_length() + 1
    out_dt = DataType[f"INT{out_bits}"]
    inst = SimpleNamespace(
        get_nodeattr=lambda k: {"noActivation": 1, "binaryXnorMode": 0, "MW": mw, "MH": mh, "SIMD": simd, "PE": pe}[k],
        get_input_datatype=lambda i=0: DataType[f"INT{w_bits}"] if i else DataType[f"{'INT' if in_signed else 'UINT'}{in_bits}"],
        get_output_datatype=lambda i=0: out_dt)
    node = SimpleNamespace(name="mvau", op_type="MVAU_hls", input=["x", "w"])
    model = SimpleNamespace(get_initializer=lambda name: w.astype(np.float32))
    layer = blocks._mvau(inst, node, tmp_path, model)
    tiles = mw // simd * mh // pe
    assert len(list(tmp_path.glob("src/layers/mvau/weights_*.dat"))) == (-(-tiles // bank) if bank else 1)
    s_in = stitch.Stream(0, "x", (simd * in_bits + 7) // 8 * 8, simd, in_bits, in_signed, mw // simd, "nhwc")
    s_out = stitch.Stream(1, "y", (pe * out_bits + 7) // 8 * 8, pe, out_bits, True, mh // pe, "nhwc")
    r = _run(tmp_path, layer, s_in, s_out, x)
    assert not r["deadlock"]
    assert np.array_equal(r["out"].reshape(n, mh), want)


def test_vvau_block_equals_numpy(tmp_path):
    """Depthwise: each channel's window times its own 3x3 weights, in the depthwise window
    generator's order (channel fold, kernel position, PE lanes), extremes included."""
    from types import SimpleNamespace

    from qonnx.core.datatype import DataType

    channels, k2, pe, in_bits, w_bits, pixels, n = 6, 9, 2, 4, 4, 3, 4
    rng = np.random.default_rng(5)
    w = rng.integers(-8, 8, size=(channels, 1, 3, 3))
    w[0] = -8
    x = rng.integers(0, 16, size=(n, pixels, channels // pe, k2, pe))
    x[0, 0] = 15
    wk = w.reshape(channels, k2)
    want = np.einsum("npfkl,flk->npfl", x, wk.reshape(channels // pe, pe, k2))
    out_bits = int(np.abs(want).max()).bit_length() + 1
    inst = SimpleNamespace(
        get_nodeattr=lambda k: {"noActivation": 1, "SIMD": 1, "PE": pe, "Channels": channels, "Kernel": [3, 3]}[k],
        get_input_datatype=lambda i=0: DataType[f"INT{w_bits}"] if i else DataType[f"UINT{in_bits}"],
        get_output_datatype=lambda i=0: DataType[f"INT{out_bits}"])
    node = SimpleNamespace(name="vvau", op_type="VVAU_hls", input=["x", "w"])
    layer = blocks._vvau(inst, node, tmp_path, SimpleNamespace(get_initializer=lambda name: w.astype(np.float32)))
    s_in = stitch.Stream(0, "x", (pe * in_bits + 7) // 8 * 8, pe, in_bits, False, pixels * channels // pe * k2, "nhwc")
    s_out = stitch.Stream(1, "y", (pe * out_bits + 7) // 8 * 8, pe, out_bits, True, pixels * channels // pe, "nhwc")
    r = _run(tmp_path, layer, s_in, s_out, x)
    assert not r["deadlock"] and np.array_equal(r["out"], want.reshape(-1, pe))


def test_bias_add_block_equals_numpy(tmp_path):
    pe, channels, in_bits, out_bits, n = 2, 10, 15, 16, 9
    rng = np.random.default_rng(1)
    bias = rng.integers(-300, 300, size=channels)
    x = rng.integers(-(2 ** (in_bits - 1)), 2 ** (in_bits - 1), size=(n, channels))
    bias[:2] = 300, -300
    x[0], x[1] = 2 ** (in_bits - 1) - 1, -(2 ** (in_bits - 1))   # the extremes: sums beyond the input's width
    (tmp_path / "src" / "layers" / "add").mkdir(parents=True)
    (tmp_path / "src" / "layers" / "add" / "bias.dat").write_text(
        "\n".join(format(stitch.pack(bias[f * pe:(f + 1) * pe], out_bits), "x") for f in range(channels // pe)) + "\n")
    layer = stitch.Layer("add", "ElementwiseAdd_hls", "fpgaflow_bias_add",
                         [blocks.copy_own("fpgaflow_bias_add.sv", tmp_path)],
                         {"PE": pe, "CHANNELS": channels, "IN_BITS": in_bits, "OUT_BITS": out_bits, "SIGNED": 1,
                          "BIAS_FILE": '"src/layers/add/bias.dat"'})
    s_in = stitch.Stream(0, "x", (pe * in_bits + 7) // 8 * 8, pe, in_bits, True, channels // pe, "nhwc")
    s_out = stitch.Stream(1, "y", (pe * out_bits + 7) // 8 * 8, pe, out_bits, True, channels // pe, "nhwc")
    r = _run(tmp_path, layer, s_in, s_out, x)
    want = x + bias
    assert want.min() < -(2 ** (in_bits - 1)) or want.max() >= 2 ** (in_bits - 1)  # the sum needs the wider output
    assert np.array_equal(r["out"].reshape(n, channels), want)


@pytest.mark.parametrize("signed", [False, True])
def test_global_acc_pool_block_equals_numpy(tmp_path, signed):
    pe, channels, pixels, in_bits, n = 2, 6, 16, 4, 5
    out_bits = in_bits + 4   # 16 pixels: 4 more bits hold any sum (FINN's output type)
    rng = np.random.default_rng(2)
    low, high = (-(2 ** (in_bits - 1)), 2 ** (in_bits - 1)) if signed else (0, 2 ** in_bits)
    x = rng.integers(low, high, size=(n, pixels, channels))
    x[0] = high - 1   # the extremes: a sum 16 times the largest (and smallest) input
    x[1] = low
    layer = stitch.Layer("gap", "GlobalAccPool_hls", "fpgaflow_global_acc_pool",
                         [blocks.copy_own("fpgaflow_global_acc_pool.sv", tmp_path)],
                         {"PE": pe, "CHANNELS": channels, "PIXELS": pixels, "IN_BITS": in_bits, "OUT_BITS": out_bits,
                          "SIGNED": int(signed)})
    s_in = stitch.Stream(0, "x", (pe * in_bits + 7) // 8 * 8, pe, in_bits, signed, pixels * channels // pe, "nhwc")
    s_out = stitch.Stream(1, "y", (pe * out_bits + 7) // 8 * 8, pe, out_bits, signed, channels // pe, "nhwc")
    r = _run(tmp_path, layer, s_in, s_out, x)
    assert not r["deadlock"]
    assert np.array_equal(r["out"].reshape(n, channels), x.sum(axis=1))
    assert r["beats"] == [x.size // pe, n * channels // pe]


def _stream(index, tensor, lanes, bits, signed, beats, producer, consumer):
    return stitch.Stream(index, tensor, (lanes * bits + 7) // 8 * 8, lanes, bits, signed, beats, "nhwc",
                         producer=producer, consumer=consumer)


# a plain FIFO for the tests' own graphs (the accelerator's are FINN's fifo.sv)
TEST_FIFO = """module test_fifo #(parameter int unsigned WIDTH = 8, parameter int unsigned DEPTH = 2)(
	input logic ap_clk, input logic ap_rst_n,
	input logic [WIDTH-1:0] in0_V_TDATA, input logic in0_V_TVALID, output logic in0_V_TREADY,
	output logic [WIDTH-1:0] out0_V_TDATA, output logic out0_V_TVALID, input logic out0_V_TREADY);
	logic [WIDTH-1:0] Q[DEPTH];
	int unsigned Count = 0, Rd = 0;
	assign in0_V_TREADY = Count < DEPTH;
	assign out0_V_TVALID = Count > 0;
	assign out0_V_TDATA = Q[Rd];
	always_ff @(posedge ap_clk) begin
		automatic bit push = in0_V_TVALID && in0_V_TREADY, pop = out0_V_TVALID && out0_V_TREADY;
		if(!ap_rst_n) begin Count <= 0; Rd <= 0; end
		else begin
			if(push) Q[(Rd + Count) % DEPTH] <= in0_V_TDATA;
			if(pop) Rd <= (Rd + 1) % DEPTH;
			Count <= Count + push - pop;
		end
	end
endmodule
"""


def _fork(tmp_path, join: stitch.Layer, pe, bits, beats, out: stitch.Stream, fifo_depth: int = 0):
    """x -> fork -> (both copies, the second through a FIFO of fifo_depth, if any) -> join -> y."""
    width = (pe * bits + 7) // 8 * 8
    dup = stitch.Layer("dup", "DuplicateStreams_hls", "fpgaflow_duplicate_streams",
                       [blocks.copy_own("fpgaflow_duplicate_streams.sv", tmp_path)], {"WIDTH": width},
                       inputs=["x"], outputs=["a", "b"])
    streams = [_stream(0, "x", pe, bits, True, beats, None, "dup"), _stream(1, "a", pe, bits, True, beats, "dup", "merge"),
               _stream(2, "b", pe, bits, True, beats, "dup", "fifo" if fifo_depth else "merge")]
    layers = [dup]
    if fifo_depth:
        (tmp_path / "test_fifo.sv").write_text(TEST_FIFO)
        layers.append(stitch.Layer("fifo", "StreamingFIFO_rtl", "test_fifo", ["test_fifo.sv"],
                                   {"WIDTH": width, "DEPTH": fifo_depth}, inputs=["b"], outputs=["c"]))
        streams.append(_stream(3, "c", pe, bits, True, beats, "fifo", "merge"))
    join.inputs, join.outputs = ["a", streams[-1].tensor], ["y"]
    out.index = len(streams)
    stitch.write_design(tmp_path, [*layers, join], [*streams, out])
    return sim.compile(tmp_path, log=lambda m: None)
def test_fork_and_residual_add_blocks_equal_numpy(tmp_path):
    pe, bits, channels, pixels, n = 2, 5, 6, 4, 6
    x = np.random.default_rng(4).integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=(n, pixels, channels))
    x[0] = -(2 ** (bits - 1))   # the extremes: sums beyond the operands' width
    x[1] = 2 ** (bits - 1) - 1
    add = stitch.Layer("merge", "ElementwiseAdd_hls", "fpgaflow_add_streams",
                       [blocks.copy_own("fpgaflow_add_streams.sv", tmp_path)],
                       {"PE": pe, "A_BITS": bits, "A_SIGNED": 1, "B_BITS": bits, "B_SIGNED": 1, "OUT_BITS": bits + 1})
    beats = pixels * channels // pe
    binary = _fork(tmp_path, add, pe, bits, beats, _stream(3, "y", pe, bits + 1, True, beats, "merge", None))
    r = sim.simulate(tmp_path, binary, x, tap_frames=n, ready_percent=60, seed=5, valid_percent=55)
    assert not r["deadlock"]
    assert np.array_equal(r["out"].reshape(x.shape), 2 * x)
    assert np.array_equal(r["taps"][1], r["taps"][2]) and np.array_equal(r["taps"][1].reshape(x.shape), x)


def test_concat_block_equals_numpy(tmp_path):
    pe, bits, channels, pixels, n = 2, 4, 6, 3, 5
    x = np.random.default_rng(6).integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=(n, pixels, channels))
    cat = stitch.Layer("merge", "StreamingConcat_hls", "fpgaflow_concat", [blocks.copy_own("fpgaflow_concat.sv", tmp_path)],
                       {"SIMD": pe, "C0": channels, "C1": channels, "B0": bits, "S0": 1, "B1": bits, "S1": 1,
                        "OUT_BITS": bits + 2})   # a wider output: lanes sign-extended
    beats = pixels * channels // pe
    # the concat takes a pixel's channels from its first input before the second's: the second
    # copy must wait in a FIFO deep enough for them (C/PE beats), else the fork stalls for good
    binary = _fork(tmp_path, cat, pe, bits, beats, _stream(0, "y", pe, bits + 2, True, 2 * beats, "merge", None),
                   fifo_depth=channels // pe)
    r = sim.simulate(tmp_path, binary, x, tap_frames=0, ready_percent=60, seed=7, valid_percent=55)
    assert not r["deadlock"]
    assert np.array_equal(r["out"].reshape(n, pixels, 2 * channels), np.concatenate([x, x], axis=2))
    assert r["fifo_held"] == {"fifo": channels // pe}   # the gauge: the most beats the FIFO held


def test_a_fork_whose_fifo_is_too_shallow_stalls_and_names_the_waiting_streams(tmp_path):
    from fpgaflow.backends.finn.rtl.verify import stall_error

    pe, bits, channels, pixels = 1, 4, 4, 2
    cat = stitch.Layer("merge", "StreamingConcat_hls", "fpgaflow_concat", [blocks.copy_own("fpgaflow_concat.sv", tmp_path)],
                       {"SIMD": pe, "C0": channels, "C1": channels, "B0": bits, "S0": 1, "B1": bits, "S1": 1,
                        "OUT_BITS": bits})
    out = _stream(0, "y", pe, bits, True, 2 * pixels * channels, "merge", None)
    binary = _fork(tmp_path, cat, pe, bits, pixels * channels, out, fifo_depth=channels - 2)
    x = np.zeros((2, pixels, channels), dtype=np.int64)
    r = sim.simulate(tmp_path, binary, x, tap_frames=0, ready_percent=100)
    assert r["deadlock"] and r["cycles"] < r["stall_limit"] + 100
    streams = [stitch.Stream(**s) for s in __import__("json").loads((tmp_path / "rtl.json").read_text())["streams"]]
    message = str(stall_error(r, streams, len(x)))
    # the concat waits on its first input while the FIFO offers the second: the wait begins there
    assert "deadlock" in message and "begins at s3 (fifo -> merge)" in message and "\n" not in message
