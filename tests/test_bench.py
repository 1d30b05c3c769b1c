import json

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow

KEYS = {"csim_img_per_s", "csim_exact", "csim_n", "reference_cpu_img_per_s", "reference_gpu_img_per_s",
        "compile_s_cold", "compile_s_cached", "peak_rss_mb"}


BENCHED = ("lenet", "lenet_qkeras")   # a design both backends take, and one FINN cannot take


@pytest.fixture(scope="module")
def bench_all(built):
    """`fpgaflow bench` (20 images each, training speed not measured) over lenet and
    lenet_qkeras, in that order: it once stopped at the first design a backend could not take.
    (Every design: `make bench`; here two keep the suite short.) Uses the lenet hls4ml project
    of `built`; builds the rest."""
    r = run_cli("bench", *BENCHED, "-n", "20", "--train-steps", "0", build=built)
    assert r.returncode == 0, r.stdout + r.stderr
    return r, json.loads((built / "bench.json").read_text())


def test_bench_writes_its_schema(bench_all):
    r, data = bench_all
    row = data["designs"]["lenet"]
    assert KEYS <= set(row) and {"cpu", "cores"} <= set(data["machine"])
    assert row["csim_n"] == 20 and row["csim_exact"] is True and row["csim_stock_equals_fast"] is True
    assert row["csim_img_per_s"] > 0 and row["compile_s_cold"] > row["compile_s_cached"]
    assert "C-sim img/s" in r.stdout and "lenet" in r.stdout


def test_training_speed_is_measured_by_real_runs(lenet):
    from fpgaflow.bench.run import train_throughput

    assert train_throughput(lenet, 1, steps=3) > 0
    assert train_throughput(lenet, 1, steps=0) is None  # not measured: null, never 0


def test_bench_inference_table(built, bench_all):
    """Every runtime's row, with the int8 model really on ONNX Runtime's int8 kernels."""
    import onnx

    _, data = bench_all
    rows = {(r["runtime"], r["device"].split(",")[0]): r for r in data["designs"]["lenet"]["inference"]}
    fp32, int8 = rows[("PyTorch fp32 (QAT model)", "CPU")], rows[("ONNX Runtime int8", "CPU")]
    assert fp32["n"] == int8["n"] == 20 and fp32["accuracy"] >= 0.95 and int8["accuracy"] >= 0.95
    assert fp32["images_per_s"] > 0 and int8["latency_us"] > 0
    ops = {n.op_type for n in onnx.load(str(built / "lenet" / "int8" / "model.int8.onnx")).graph.node}
    assert {"QLinearConv", "QGemm"} <= ops and "Conv" not in ops
    csim = rows[("hls4ml C-simulation", "CPU")]
    assert csim["accuracy"] == fp32["accuracy"]  # bit-exact: the same argmax on the same images
    hls, finn = rows[("FPGA estimate, hls4ml", "xczu7ev-ffvc1156-2-e")], rows[("FPGA estimate, FINN", "xczu7ev-ffvc1156-2-e")]
    est = json.loads((built / "lenet" / "finn" / "estimates" / "estimate_network_performance.json").read_text())
    assert finn["images_per_s"] == round(1e9 / (est["max_cycles"] * 5.0), 1)
    assert finn["latency_us"] == round(est["critical_path_cycles"] * 5.0 / 1000, 1)
    assert hls["latency_us"] > 0 and hls["images_per_s"] > 0
    gpu = rows[("PyTorch fp32 (QAT model)", "GPU")]
    import torch

    if torch.cuda.is_available():
        assert gpu["accuracy"] == fp32["accuracy"] and gpu["images_per_s"] > 0
    else:
        assert gpu["accuracy"] is None and "no CUDA" in gpu["note"]


def test_bench_over_designs_both_and_one_backend_take(bench_all):
    """Each design gets its rows; FINN's only where FINN takes the design."""
    r, data = bench_all
    assert set(data["designs"]) == set(BENCHED)
    for name, row in data["designs"].items():
        assert row["csim_exact"] is True and row["csim_n"] == 20, name
        assert row["train_img_per_s_1proc"] is None  # --train-steps 0: not measured, null
        runtimes = {x["runtime"] for x in row["inference"]}
        assert "FPGA estimate, hls4ml" in runtimes, name
        # every Brevitas design now maps to FINN too; a backend that could not would give its reason
        assert row["unavailable"] == {}, name
        assert ("FPGA estimate, FINN" in runtimes) == (name != "lenet_qkeras"), name   # FINN takes no Keras design
        for backend, fastest in row["fpga"].items():  # the fastest folding that fits, per backend
            assert fastest["fps"] >= fastest["target_fps"] > 10000 and fastest["latency_us"] > 0, (name, backend)
            assert all(fastest["resources"][r] <= fastest["budget"][r] for r in fastest["budget"]), (name, backend)
        assert set(row["fpga"]) == ({"hls4ml"} if name == "lenet_qkeras" else {"hls4ml", "finn"}), name
    # FINN's fastest folding built and simulated: its latency is the RTL's, FINN's sum kept beside it
    finn = data["designs"]["lenet"]["fpga"]["finn"]
    rtl = finn["rtl"]
    assert rtl["exact"] == rtl["n"] == 20 and finn["latency_us"] == rtl["latency_us"] < finn["latency_us_estimate"]
    assert rtl["fps"] >= finn["target_fps"] and rtl["source"].startswith("verilator")
    assert "RTL-measured" in r.stdout
    assert r.stdout.count(": inference") == len(data["designs"])
