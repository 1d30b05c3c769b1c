"""fpgaflow's own RTL blocks (backends/finn/rtl/hw/), each simulated alone in Verilator against
numpy on random data, with gaps in the input and back-pressure on the output (AXI-Stream)."""
import numpy as np
import pytest

from fpgaflow.backends.finn.rtl import sim, stitch

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
    layer = stitch.Layer("pool", "Pool_hls", "fpgaflow_maxpool", [stitch.copy_own("fpgaflow_maxpool.sv", tmp_path)],
                         {"PE": pe, "K2": k2, "BITS": bits, "SIGNED": int(signed)})
    width = (pe * bits + 7) // 8 * 8
    s_in = stitch.Stream(0, "x", width, pe, bits, signed, pixels * channels // pe * k2, "nhwc")
    s_out = stitch.Stream(1, "y", width, pe, bits, signed, pixels * channels // pe, "nhwc")
    r = _run(tmp_path, layer, s_in, s_out, x)
    assert not r["deadlock"]
    assert np.array_equal(r["out"], x.max(axis=3).reshape(-1, pe))
    # one input beat per cycle when nothing stalls: K2 cycles per output beat, as FINN estimates Pool_hls
    assert r["beats"] == [x.size // pe, x.size // pe // k2]


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
                         [stitch.copy_own("fpgaflow_bias_add.sv", tmp_path)],
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
                         [stitch.copy_own("fpgaflow_global_acc_pool.sv", tmp_path)],
                         {"PE": pe, "CHANNELS": channels, "PIXELS": pixels, "IN_BITS": in_bits, "OUT_BITS": out_bits,
                          "SIGNED": int(signed)})
    s_in = stitch.Stream(0, "x", (pe * in_bits + 7) // 8 * 8, pe, in_bits, signed, pixels * channels // pe, "nhwc")
    s_out = stitch.Stream(1, "y", (pe * out_bits + 7) // 8 * 8, pe, out_bits, signed, channels // pe, "nhwc")
    r = _run(tmp_path, layer, s_in, s_out, x)
    assert not r["deadlock"]
    assert np.array_equal(r["out"].reshape(n, channels), x.sum(axis=1))
    assert r["beats"] == [x.size // pe, n * channels // pe]
