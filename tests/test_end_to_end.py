"""The lenet slice from the committed weights: real Brevitas, real QONNX, real hls4ml, real g++.

Nothing is mocked: the CLI runs as a user runs it and its artefacts are read back.
"""
import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow
N_IMAGES = 200


def fpgaflow(*args, build):
    return subprocess.run([sys.executable, "-m", "fpgaflow", "--build-dir", str(build), *args],
                          cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    build = tmp_path_factory.mktemp("build")
    r = fpgaflow("hls", "lenet", build=build)
    assert r.returncode == 0, r.stderr
    return build


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


def test_csim_is_bit_exact(built):
    r = fpgaflow("csim", "lenet", "-n", str(N_IMAGES), "--no-progress", build=built)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((built / "lenet" / "hls4ml" / "verify.json").read_text())
    assert v["n"] == N_IMAGES and v["exact"] == N_IMAGES and v["mismatches"] == 0
    assert v["max_abs_diff"] == 0.0 and v["argmax_agreement"] == 1.0
    assert v["reference"] == "torch-cpu" and v["accuracy"] >= 0.97
    assert f"n = {N_IMAGES}, exact = {N_IMAGES}, mismatches = 0" in r.stdout


def test_csim_reuses_unchanged_library(built):
    r = fpgaflow("csim", "lenet", "-n", "20", "--no-progress", build=built)
    assert r.returncode == 0 and "reused (unchanged)" in r.stdout


def test_narrowed_precision_is_caught(built, tmp_path):
    """A real fault in the generated project (output type loses 4 fraction bits) must fail."""
    faulty = tmp_path / "build"
    shutil.copytree(built / "lenet", faulty / "lenet")
    defines = faulty / "lenet" / "hls4ml" / "firmware" / "defines.h"
    text = defines.read_text()
    narrowed, count = re.subn(r"ap_fixed<(\d+),(\d+)>, 10\*1> result_t",
                              lambda m: f"ap_fixed<{int(m[1]) - 4},{m[2]}>, 10*1> result_t", text)
    assert count == 1
    defines.write_text(narrowed)
    r = fpgaflow("csim", "lenet", "-n", "50", "--no-progress", build=faulty)
    assert r.returncode == 1
    v = json.loads((faulty / "lenet" / "hls4ml" / "verify.json").read_text())
    assert v["mismatches"] > 0 and "MISMATCH image" in r.stdout


def test_csim_without_project_is_a_clear_error(tmp_path):
    r = fpgaflow("csim", "lenet", "-n", "5", build=tmp_path)
    assert r.returncode == 2
    assert "no complete hls4ml project" in r.stderr and "Traceback" not in r.stderr
