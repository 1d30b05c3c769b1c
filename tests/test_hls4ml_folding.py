"""hls4ml folded for a throughput and latency target: reuse factors and strategies from the
calibrated cost model, within the part's budget, and still bit-exact in C-simulation."""
import json

import pytest
from conftest import run_cli
from test_reports import designs_with


def test_folded_for_a_throughput_and_latency_target(tmp_path):
    r = run_cli("hls", "lenet", "--target-fps", "133600", "--target-latency-us", "27.4", build=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    project = tmp_path / "lenet" / "hls4ml"
    m = json.loads((project / "fpgaflow.json").read_text())
    fit = m["fit"]
    target = fit["target_cycles_per_frame"]
    assert target == int(1e9 / 5.0 / 133600) and fit["interval_cycles"] <= target
    assert fit["fps"] >= 133600 and fit["latency_us"] < 27.4
    assert f"bottleneck {fit['bottleneck']}" in r.stdout
    for res, used in fit["resources"].items():
        if res in fit["budget"]:
            assert used <= fit["budget"][res] <= 0.7 * fit["available"][res], res
    # least parallelism: each streamed convolution reads its input pixels at II = reuse factor,
    # and one more cycle per pixel would miss the interval
    records = {x["name"]: x for x in m["records"]}
    params = (project / "firmware" / "parameters.h").read_text()
    for l in m["layers"]:
        rec = next(x for k, x in records.items() if k.endswith("_" + l["hls4ml"]))
        # what hls4ml wrote for the layer (its mult config: strategy, then reuse factor)
        assert (f"strategy = nnet::{l['strategy'].lower()};\n    static const unsigned reuse_factor = "
                f"{l['reuse_factor']};") in params or l["strategy"] == "Latency", l
        assert (rec["rf"], rec["strategy"]) == (l["reuse_factor"], l["strategy"].lower())
        if rec["evaluations"] > 1:
            assert l["strategy"] == "Latency"
            assert rec["pixels_in"] * l["reuse_factor"] <= target < rec["pixels_in"] * (l["reuse_factor"] + 1) \
                or l["reuse_factor"] == l["n_in"] * l["n_out"]
    # the report reads the same estimate the folding was checked on
    rep = json.loads(run_cli("report", str(tmp_path / "lenet"), "--json").stdout)["reports"][0]
    assert rep["interval_cycles"]["max"] == fit["interval_cycles"] and rep["resources"]["LUT"] == fit["resources"]["LUT"]
    r = run_cli("csim", "lenet", "-n", "300", "--no-progress", build=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((project / "verify.json").read_text())
    assert v["n"] == 300 and v["mismatches"] == 0 and v["max_abs_diff"] == 0


@pytest.mark.parametrize("args, change, needles", [
    (["--target-fps", "5000000"], None, ["Conv2D_Conv_0 cannot go below 784 cycles", "the fastest this design runs is"]),
    (["--target-fps", "200000"], lambda s: s.update(budget={"LUT": 0.3}),
     ["does not fit xczu7ev-ffvc1156-2-e: it needs", "LUT (fpgaflow estimate)", "budget allows 69,120 (30%)",
      "the fastest target that fits is"]),
    (["--target-fps", "100000"], lambda s: s["hls4ml"].update(reuse_factor=100),
     ["hls4ml.reuse_factor is set and so is a throughput target"]),
    (["--target-fps", "100000", "--target-latency-us", "2"], None, ["target.latency_us 2.0: the fpgaflow estimate is"]),
])
def test_targets_it_cannot_meet_are_one_line_and_leave_nothing(tmp_path, args, change, needles):
    env = designs_with(tmp_path, change) if change else None
    r = run_cli("hls", "lenet", *args, build=tmp_path / "b", env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr
    assert not (tmp_path / "b" / "lenet").exists()
