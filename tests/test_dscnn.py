"""The depthwise-separable design: spec, Brevitas grouped convolutions, and hls4ml's
DepthwiseConv2D from QONNX, C-simulated bit-exact from the committed weights."""
import json

import pytest
from conftest import run_cli


def test_dwconv_layers_are_grouped_convolutions():
    from fpgaflow.frontends.brevitas.model import build_model
    from fpgaflow.core.spec import load_design

    d = load_design("dscnn")
    assert [l["name"] for l in d.spec["layers"] if "name" in l] == ["conv1", "dw1", "conv2", "dw2", "conv3", "fc1"]
    convs = [m for m in build_model(d.spec).modules() if type(m).__name__ == "QuantConv2d"]
    assert [(m.groups, m.in_channels, m.out_channels, m.kernel_size) for m in convs] == [
        (1, 1, 16, (3, 3)), (16, 16, 16, (3, 3)), (1, 16, 32, (1, 1)), (32, 32, 32, (3, 3)), (1, 32, 64, (1, 1))]


@pytest.mark.slow
def test_dscnn_hls4ml_depthwise_is_bit_exact(tmp_path):
    r = run_cli("hls", "dscnn", build=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    project = tmp_path / "dscnn" / "hls4ml"
    manifest = json.loads((project / "fpgaflow.json").read_text())
    assert sum(t["class"] == "DepthwiseConv2D" for t in manifest["traced_layers"]) == 2
    dw = {l["name"]: l for l in manifest["layers"]}
    assert (dw["dw1"]["n_in"], dw["dw1"]["n_out"], dw["dw1"]["evaluations"]) == (9, 16, 14 * 14)
    r = run_cli("csim", "dscnn", "-n", "200", "--no-progress", build=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((project / "verify.json").read_text())
    assert (v["n"], v["exact"], v["mismatches"]) == (200, 200, 0)


@pytest.mark.slow
def test_dscnn_finn_depthwise_layers_are_vvaus_and_bit_exact(tmp_path):
    """The depthwise convolutions become FINN VVAUs (they were left unmapped, and the FINN
    backend refused dscnn); every stage stays bit-exact with Brevitas, the stitched RTL too:
    finn-plus' RTL VVAU needs Versal, fpgaflow's portable VVAU block takes them."""
    r = run_cli("hls", "dscnn", "--backend", "finn", "--no-progress", build=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = tmp_path / "dscnn" / "finn"
    manifest = json.loads((folder / "fpgaflow-finn.json").read_text())
    kinds = [l["op_type"] for l in manifest["layers"]]
    assert sum(k.startswith("VVAU") for k in kinds) == 2 and sum(k.startswith("FMPadding") for k in kinds) == 3
    assert manifest["rtl"]["stitched"]
    r = run_cli("csim", "dscnn", "--backend", "finn", "-n", "30", "--rtl", "--no-progress", build=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((folder / "verify.json").read_text())
    assert [(s["stage"], s["exact"], s["mismatches"]) for s in v["stages"]] == [
        (s, 30, 0) for s in ("qonnx", "finn_onnx", "streamlined", "hw", "folded", "rtl")]
    rtl = v["stages"][-1]
    vvaus = [l for l in rtl["layers"] if l["op_type"] == "VVAU_hls"]
    assert len(vvaus) == 2 and all(l["implementation"] == "fpgaflow hw/fpgaflow_vvau.sv" for l in vvaus)
    assert rtl["cycles_per_frame"] == rtl["estimate"]["cycles_per_frame"]
