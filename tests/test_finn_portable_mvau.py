"""FINN on the Xilinx part with both MVAUs: where finn-rtllib's cannot serve (weights too wide
to stream, DSPs over budget), the folding takes fpgaflow's portable one; the mixed RTL is
exact. A file of its own so that it runs beside test_finn.py."""
from __future__ import annotations

import json

import pytest
from conftest import design_copy, run_cli


@pytest.mark.slow
def test_where_the_dsps_run_out_the_folding_takes_fpgaflows_mvau_and_the_rtl_is_exact(tmp_path):
    """`finn.mvau: auto` on the Xilinx part, 250,000 frames/s, a DSP budget of 10 %: fc1's
    weights are too wide for FINN's stream (finn-rtllib's RTL MVAU streams them), so it is
    fpgaflow's MVAU; conv2's 200 DSPs are still over the budget, so it moves to fpgaflow's too
    (LUTs); conv1 and fc2 stay finn-rtllib's. The mixed RTL equals Brevitas at FINN's cycles."""
    env = design_copy(tmp_path, "lenet", budget={"DSP": 0.1})
    r = run_cli("hls", "lenet", "--backend", "finn", "--target-fps", "250000", "--no-progress", build=tmp_path,
                env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = tmp_path / "lenet" / "finn"
    fit = json.loads((folder / "fpgaflow-finn.json").read_text())["fit"]
    assert fit["resources"]["DSP"] <= fit["budget"]["DSP"] < 200 and fit["resources"]["LUT"] <= fit["budget"]["LUT"]
    r = run_cli("csim", "lenet", "--backend", "finn", "-n", "20", "--rtl", "--no-progress", build=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((folder / "verify.json").read_text())
    assert all(s["exact"] == 20 for s in v["stages"]) and v["stage"] == "rtl"
    impl = [l["implementation"] for l in v["stages"][-1]["layers"] if l["op_type"].startswith("MVAU")]
    assert sorted(impl) == ["finn-rtllib"] * 2 + ["fpgaflow hw/fpgaflow_mvau.sv"] * 2, impl
    assert abs(v["stages"][-1]["cycles_per_frame"] - 800) <= 0.02 * 800   # 20 frames: FINN's 800 within 2 %
