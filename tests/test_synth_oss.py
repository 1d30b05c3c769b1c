"""Open-source synthesis: da4ml Verilog of a trained dense layer, synthesized by the real Yosys."""
import json
import os
import shutil

import pytest
from conftest import run_cli


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed (`make tools` installs it as root)")
def test_synth_oss_fc2(tmp_path):
    """lenet_w2a2's fc2 (2-bit weights and inputs: the same 500 x 10 layer as lenet's, half the
    adders, 25 s of Yosys instead of 60)."""
    r = run_cli("synth-oss", "lenet_w2a2", build=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = tmp_path / "lenet_w2a2" / "oss" / "fc2"
    m = json.loads((folder / "synth_oss.json").read_text())
    assert m["adder_graph_check"] == {"n": 200, "exact": 200}
    assert m["weights"] == [10, 500] and m["input_bits"] == 2 and m["yosys_family"] == "xcup"
    assert list((folder / "src").glob("fc2*.v"))
    r = run_cli("report", str(folder), "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)["reports"][0]
    assert rep["tool"] == "Yosys synth_xilinx" and rep["part"] == "xczu7ev-ffvc1156-2-e"
    assert rep["resources"]["LUT"] > 1000 and rep["resources"]["DSP"] == 0  # an adder graph: no multipliers


@pytest.mark.parametrize("layer, message", [
    ("conv1", "takes dense layers; conv1 is a conv"),
    ("fc9", "no such layer in lenet"),
])
def test_synth_oss_layer_errors(tmp_path, layer, message):
    if shutil.which("yosys") is None:
        pytest.skip("yosys not installed")
    r = run_cli("synth-oss", "lenet", "--layer", layer, build=tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_synth_oss_without_yosys(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # nothing on PATH: run_cli calls python by its full path
    r = run_cli("synth-oss", "lenet", build=tmp_path, env=env)
    assert r.returncode == 2 and "yosys not found on PATH" in r.stderr
