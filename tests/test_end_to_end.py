"""The lenet slice from the committed weights: real Brevitas, real QONNX, real hls4ml, real g++.

Nothing is mocked: the CLI runs as a user runs it and its artefacts are read back.
"""
import json
import shutil

import pytest

from conftest import narrow, run_cli as fpgaflow

pytestmark = pytest.mark.slow
N_IMAGES = 200


def test_hls_project_is_complete(built):
    project = built / "lenet" / "hls4ml"
    manifest = json.loads((project / "fpgaflow.json").read_text())
    for f in ["firmware/lenet.cpp", "firmware/parameters.h", "lenet_test.cpp", "build_prj.tcl",
              "build_lib.sh", "tb_data/tb_input_features.dat", "tb_data/tb_output_predictions.dat"]:
        assert (project / f).is_file(), f
    assert manifest["total_multipliers"] <= manifest["part_dsp"]
    assert len((project / "tb_data/tb_input_features.dat").read_text().splitlines()) == manifest["tb_images"]
    # no leftovers of the atomic write
    assert [p.name for p in (built / "lenet").iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("csim, harness", [("fast", "exe"), ("stock", "lib")])
def test_csim_is_bit_exact(built, csim, harness):
    r = fpgaflow("csim", "lenet", "-n", str(N_IMAGES), "--no-progress", "--csim", csim, "--harness", harness, build=built)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((built / "lenet" / "hls4ml" / "verify.json").read_text())
    assert v["n"] == N_IMAGES and v["exact"] == N_IMAGES and v["mismatches"] == 0
    assert v["max_abs_diff"] == 0.0 and v["argmax_agreement"] == 1.0
    assert v["reference"] == "torch-cpu" and v["accuracy"] >= 0.97
    assert v["csim_variant"] == csim and v["csim_harness"] == harness
    assert f"n = {N_IMAGES}, exact = {N_IMAGES}, mismatches = 0" in r.stdout


def test_csim_reuses_unchanged_build(built):
    r = fpgaflow("csim", "lenet", "-n", "20", "--no-progress", build=built)
    assert r.returncode == 0 and "reused from cache" in r.stdout
    assert json.loads((built / "lenet" / "hls4ml" / "verify.json").read_text())["compiled"] is False


@pytest.mark.parametrize("layer", ["Conv2D_Conv_1", "Dense_MatMul_1"])
def test_fault_is_caught_and_triaged(built, tmp_path, layer):
    """A layer's output type narrowed (integer bits cut, so values wrap) must fail, and triage must name it."""
    faulty = tmp_path / "build"
    shutil.copytree(built / "lenet" / "hls4ml", faulty / "lenet" / "hls4ml")
    narrow(faulty / "lenet" / "hls4ml", layer, -8, -8)
    r = fpgaflow("csim", "lenet", "-n", "50", "--no-progress", build=faulty)
    assert r.returncode == 1, r.stdout + r.stderr
    v = json.loads((faulty / "lenet" / "hls4ml" / "verify.json").read_text())
    assert v["mismatches"] > 0 and "MISMATCH image" in r.stdout
    t = v["triage"]
    assert t["layer"] == layer and t["image"] == v["first_mismatches"][0]["image"]
    assert t["csim"] != t["reference"] and t["csim_type"].startswith("ap_fixed<")
    assert f"first differing layer {layer}" in r.stdout


def test_csim_without_project_is_a_clear_error(tmp_path):
    r = fpgaflow("csim", "lenet", "-n", "5", build=tmp_path)
    assert r.returncode == 2
    assert "no complete hls4ml project" in r.stderr and "Traceback" not in r.stderr
