"""The fast C-sim path (integer dense kernels) equals the stock ap_fixed build, output for
output, and both harnesses (standalone testbench, library bridge) agree. Real g++ builds."""
import json
import subprocess

import numpy as np
import pytest

from fpgaflow.backends.hls4ml import csim
from fpgaflow.core.data import load_split, to_input
from fpgaflow.core.vectors import write_dat
from fpgaflow.verify.compare import default_workers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(built):
    return built / "lenet" / "hls4ml"


@pytest.fixture(scope="module")
def manifest(project):
    return json.loads((project / "fpgaflow.json").read_text())


@pytest.fixture(scope="module")
def builds(project):
    return {v: csim.build(project, v) for v in csim.VARIANTS}


def outputs(project, manifest, build, x_hwc, harness="exe"):
    n_out = manifest["n_outputs"]
    if harness == "lib":
        return csim.run_lib(build, manifest["project_name"], x_hwc, n_out, workers=default_workers(), progress=False)
    d = project.parent / "test-vectors"
    d.mkdir(exist_ok=True)
    write_dat(d / "in.dat", x_hwc)
    write_dat(d / "exp.dat", np.zeros((len(x_hwc), n_out)))  # the outputs are compared here, not by the testbench
    return csim.run_exe(build, d / "in.dat", d / "exp.dat", len(x_hwc), x_hwc.shape[1], n_out,
                        workers=default_workers(), progress=False)[0]


def test_fast_path_replaces_every_dense_kernel(builds):
    assert builds["fast"].fast_kernels == 4  # conv1, conv2, fc1, fc2
    assert builds["stock"].fast_kernels == 0


def test_fast_equals_stock_on_the_test_set(project, manifest, builds, mnist_dir):
    """Every tenth test image (1,000: the stock build runs ~40 images/s on these machines, and the
    test suite has a time budget); `make bench` compares the two on its own slice as well."""
    images, _ = load_split(mnist_dir, "test")
    images = images[::10]
    x = to_input(images).transpose(0, 2, 3, 1).reshape(len(images), -1)
    fast = outputs(project, manifest, builds["fast"], x)
    stock = outputs(project, manifest, builds["stock"], x)
    assert fast.shape == (1000, 10)
    assert np.array_equal(fast, stock)


def extreme_inputs(n_in):
    rng = np.random.default_rng(1)
    rows = [
        np.zeros(n_in),                                   # all zero
        np.full(n_in, 255 / 256),                         # all max pixel
        np.full(n_in, 31.99),                             # saturates the input quantizer
        np.full(n_in, -32.0),                             # most negative the input type holds
        np.tile([31.99, -32.0], n_in // 2),               # alternating extremes
        np.where(rng.random(n_in) < 0.5, 0.0, 255 / 256),  # salt and pepper
    ]
    rows += list(rng.integers(0, 256, (100, n_in)) / 256)       # random pixels on the input grid
    rows += list(rng.uniform(-40, 40, (100, n_in)))             # random off-grid values, wrapping and saturating
    rows += list(rng.uniform(0, 1, (50, n_in)).round(12))       # off-grid values in range: floor rounding
    return np.array(rows)


def test_fast_equals_stock_on_random_and_extreme_inputs(project, manifest, builds):
    x = extreme_inputs(784)
    fast = outputs(project, manifest, builds["fast"], x)
    stock = outputs(project, manifest, builds["stock"], x)
    assert np.array_equal(fast, stock)
    assert len(np.unique(fast, axis=0)) > 100  # the inputs really exercised different paths


def test_harnesses_agree(project, manifest, builds, mnist_dir):
    """the standalone testbench and the library bridge give the same outputs, either variant"""
    images, _ = load_split(mnist_dir, "test")
    x = to_input(images[:200]).transpose(0, 2, 3, 1).reshape(200, -1)
    exe = outputs(project, manifest, builds["fast"], x, "exe")
    assert np.array_equal(exe, outputs(project, manifest, builds["fast"], x, "lib"))
    assert np.array_equal(exe, outputs(project, manifest, builds["stock"], x, "lib"))


def test_testbench_checks_the_projects_own_vectors(project, manifest, builds):
    """sim/testbench.cpp on tb_data/: the files Vitis HLS csim_design reads"""
    tb = project / "tb_data"
    r = subprocess.run([str(builds["stock"].exe), str(tb / "tb_input_features.dat"), str(tb / "tb_output_predictions.dat"),
                        "784", "10"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"n = {manifest['tb_images']}, mismatches = 0" in r.stdout


def test_testbench_fails_on_a_wrong_expectation(project, builds, tmp_path):
    tb = project / "tb_data"
    lines = (tb / "tb_output_predictions.dat").read_text().splitlines()
    values = lines[3].split()
    values[0] = repr(float(values[0]) + 2.0 ** -20)  # one output off by far less than its LSB
    lines[3] = " ".join(values)
    (tmp_path / "exp.dat").write_text("\n".join(lines) + "\n")
    r = subprocess.run([str(builds["fast"].exe), str(tb / "tb_input_features.dat"), str(tmp_path / "exp.dat"), "784", "10"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "MISMATCH vector 3" in r.stdout and "mismatches = 1" in r.stdout


@pytest.mark.slow
def test_a_wheel_install_can_csimulate(built, tmp_path):
    """The C-sim harness (sim/) is package data: a non-editable install finds and compiles it.
    It lived beside the package and only an editable checkout had it."""
    import subprocess
    import sys

    from conftest import ROOT

    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--target", str(target), str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    code = ("import sys; from fpgaflow.backends.hls4ml import csim; from fpgaflow.core.parts import part_capacity; "
            f"assert csim.SIM_DIR.is_relative_to({str(target)!r}), csim.SIM_DIR; "
            f"b = csim.build({str(built / 'lenet' / 'hls4ml')!r}, 'fast', cache={str(tmp_path / 'cache')!r}); "
            "print(b.compiled, b.fast_kernels, part_capacity('xczu7ev-ffvc1156-2-e')['DSP'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={**__import__("os").environ, "PYTHONPATH": str(target)})
    assert r.returncode == 0, r.stdout + r.stderr
    weighted = len(json.loads((built / "lenet" / "hls4ml" / "fpgaflow.json").read_text())["layers"])
    assert r.stdout.split() == ["True", str(weighted), "1728"]  # compiled here, every dense kernel swapped
