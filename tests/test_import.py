"""Bring your own model: QONNX and QKeras files imported with .npz data, checked node by node,
built and verified as any design. Every model here is made by the test (trained a few steps
on data the test writes), nothing is downloaded."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import SHARED_MNIST, run_cli

from fpgaflow.imports import examples
from fpgaflow.imports.examples import JETS_CLASSES, JETS_FEATURES

ECP5 = "LFE5U-25F-6BG381C"


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """A designs folder and a build folder of this module's own (the repo's designs untouched)."""
    root = tmp_path_factory.mktemp("byom")
    (root / "designs").mkdir()
    env = {**os.environ, "FPGAFLOW_DESIGNS": str(root / "designs")}
    return root, env


@pytest.fixture(scope="module")
def jets_npz(space):
    return examples.jets_npz(space[0] / "jets.npz")


@pytest.fixture(scope="module")
def jets_qonnx(space, jets_npz):
    return examples.brevitas_jets(space[0] / "jets.qonnx.onnx", jets_npz)


def _ok(r):
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.mark.slow
def test_qonnx_mlp_imports_checks_and_is_bit_exact_in_hls4ml_every_finn_stage_and_an_ecp5_netlist(space, jets_qonnx,
                                                                                                  jets_npz):
    root, env = space
    build = root / "build"
    r = _ok(run_cli("import", str(jets_qonnx), "--name", "jets", "--data", str(jets_npz), env=env))
    assert "hls4ml: maps every node; bit-exact possible" in r.stdout
    design = root / "designs" / "jets"
    spec = (design / "design.yaml").read_text()
    assert "framework: qonnx" in spec and "format: npz" in spec and "sha256:" in spec
    metrics = json.loads((design / "metrics.json").read_text())
    assert metrics["test_images"] == 600 and metrics["measured_with"] == "qonnx-cpu"

    check = json.loads(_ok(run_cli("check", "jets", "--json", build=build, env=env)).stdout)
    assert check["input_shape"] == [JETS_FEATURES] and check["num_classes"] == JETS_CLASSES
    assert [l.get("units") for l in check["layers"]] == [64, 32, 32, JETS_CLASSES]
    assert all(check["backends"][b]["exact_possible"] for b in ("hls4ml", "finn"))
    assert any("ROUND" in n["what"] for n in check["nodes"])   # Brevitas' default activations

    _ok(run_cli("hls", "jets", "--no-progress", build=build, env=env))
    _ok(run_cli("csim", "jets", "--no-progress", build=build, env=env))
    v = json.loads((build / "jets" / "hls4ml" / "verify.json").read_text())
    assert v["n"] == 600 and v["exact"] == 600 and v["reference"] == "qonnx-cpu"
    assert v["accuracy"] == metrics["test_accuracy"]

    # FINN for a Lattice ECP5: every stage, the stitched RTL, and after place and route (Yosys
    # synth_ecp5, nextpnr-ecp5, ecppack) the synthesized netlist, cell by cell, == the reference
    _ok(run_cli("hls", "jets", "--backend", "finn", "--part", ECP5, "--no-progress", build=build, env=env))
    r = _ok(run_cli("pnr", "jets", "--no-progress", build=build, env=env))
    folder = build / "jets" / "finn"
    p = json.loads((folder / "pnr.report.json").read_text())
    assert p["kind"] == "place-and-route" and p["part"] == ECP5 and f"Fmax {p['fmax_mhz']['achieved_mhz']} MHz" in r.stdout
    res, cap, f = p["resources"], p["available"], p["fmax_mhz"]
    assert 0 < res["LUT"] <= cap["LUT"] == 24288 and 0 < res["FF"] and res["BRAM_18K"] <= cap["BRAM_18K"] == 56
    assert res["DSP"] == 0, p["yosys_cells"]   # narrow products are LUT adders, not 18x18 multipliers
    assert f["target_mhz"] == 200.0 and 0 < f["achieved_mhz"] and p["timing_met"] == (f["achieved_mhz"] >= 200.0)
    assert (folder / p["bitstream"]["file"]).stat().st_size == p["bitstream"]["bytes"] > 50_000
    assert "reused" in _ok(run_cli("pnr", "jets", "--no-progress", build=build, env=env)).stdout
    _ok(run_cli("csim", "jets", "--backend", "finn", "-n", "200", "--rtl", "--netlist", "--no-progress", build=build,
                env=env))
    f = json.loads((folder / "verify.json").read_text())
    assert [s["stage"] for s in f["stages"]] == ["qonnx", "finn_onnx", "streamlined", "hw", "folded", "rtl", "netlist"]
    assert all(s["exact"] == 200 for s in f["stages"]) and f["not_exact_because"] is None
    rtl, net = f["stages"][-2:]
    assert net["cycles_per_frame"] == rtl["cycles_per_frame"] == rtl["estimate"]["cycles_per_frame"]
    assert all(l["implementation"] == "fpgaflow hw/fpgaflow_mvau.sv" for l in rtl["layers"] if l["op_type"] == "MVAU_hls")

    report = _ok(run_cli("report", "jets", build=build, env=env)).stdout
    assert "gemm_0" in report or "MatMul_0" in report


@pytest.mark.slow
def test_qkeras_mlp_imports_and_is_bit_exact_in_hls4ml(space, jets_npz):
    root, env = space
    build = root / "build-qk"
    model = examples.qkeras_jets(root / "jets_qk.h5", jets_npz, epochs=1)
    r = _ok(run_cli("import", str(model), "--name", "jets_qk", "--data", str(jets_npz), env=env))
    assert "(keras, 4 layers, [16] -> 5 classes)" in r.stdout
    _ok(run_cli("hls", "jets_qk", "--no-progress", build=build, env=env))
    _ok(run_cli("csim", "jets_qk", "--no-progress", build=build, env=env))
    v = json.loads((build / "jets_qk" / "hls4ml" / "verify.json").read_text())
    assert v["exact"] == v["n"] == 600 and v["reference"] == "tf-cpu"
    r = run_cli("hls", "jets_qk", "--backend", "finn", build=build, env=env)
    assert r.returncode == 2 and "--backend hls4ml" in r.stderr
    r = run_cli("train", "jets_qk", env=env)
    assert r.returncode == 2 and "imported model: fpgaflow does not train it" in r.stderr


def _float_onnx(path, quantized: bool = False):
    """A two-layer float ONNX model (no Quant nodes), written with onnx.helper."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((JETS_FEATURES, JETS_CLASSES), np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, JETS_FEATURES])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, JETS_CLASSES])], [w])
    onnx.save(helper.make_model(graph), str(path))
    return path


@pytest.mark.parametrize("case, needle", [
    ("garbage", "not an ONNX model"),
    ("float", "a float model without quantization"),
    ("data_shape", "samples of shape (15,), the model takes (16,)"),
    ("data_labels", "labels 0..6, the model has 5 outputs"),
    ("data_keys", "no x_test or y_test"),
    ("exists", "design 'taken' exists"),
    ("outside", "a design name, not a path"),
    ("suffix", "not a model file fpgaflow imports"),
    ("external", "external data must be a file beside the model"),
    ("idx_shape", "samples of shape (28, 28), the model takes (16,)"),
    ("option", "--input-bits/--input-int-bits: jets.qonnx.onnx quantizes its input itself"),
])
def test_bad_imports_are_one_line_and_leave_no_design(space, jets_qonnx, jets_npz, case, needle, monkeypatch, capsys):
    """In-process (the CLI's own main, as the console script calls it): eleven imports would
    otherwise start eleven interpreters."""
    from fpgaflow.cli import main

    root, env = space
    monkeypatch.setenv("FPGAFLOW_DESIGNS", env["FPGAFLOW_DESIGNS"])
    bad = root / f"bad-{case}"
    bad.mkdir()
    model, data, name, extra = str(jets_qonnx), str(jets_npz), f"bad_{case}", []
    x = np.zeros((10, JETS_FEATURES), np.float32)
    if case == "garbage":
        model = str(bad / "m.onnx")
        (bad / "m.onnx").write_bytes(b"this is no protobuf \x00\xff" * 10)
    elif case == "float":
        model = str(_float_onnx(bad / "f.onnx"))
    elif case.startswith("data_"):
        data = str(bad / "d.npz")
        shape_x = np.zeros((10, 15), np.float32) if case == "data_shape" else x
        y = np.arange(10) % (7 if case == "data_labels" else 5)
        arrays = dict(x_train=shape_x, y_train=y, x_test=shape_x, y_test=y)
        if case == "data_keys":
            del arrays["x_test"], arrays["y_test"]
        np.savez(data, **arrays)
    elif case == "exists":
        name = "taken"
        (root / "designs" / "taken").mkdir(exist_ok=True)
    elif case == "outside":
        name = "../outside"
    elif case == "suffix":
        model = str(bad / "m.txt")
        (bad / "m.txt").write_text("hello")
    elif case == "external":
        import onnx

        proto = onnx.load(str(jets_qonnx))
        tensor = proto.graph.initializer[0]
        onnx.external_data_helper.set_external_data(tensor, location="../../etc/passwd")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        tensor.ClearField("raw_data")
        model = str(bad / "ext.onnx")
        onnx.save(proto, model)
    elif case == "idx_shape":
        data = str(SHARED_MNIST)        # MNIST's 28 x 28 images for a 16-feature model
    elif case == "option":
        extra = ["--input-bits", "8", "--input-int-bits", "3"]
    before = sorted(p.name for p in (root / "designs").iterdir())
    code = main(["import", model, "--name", name, "--data", data, *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in (root / "designs").iterdir()) == before   # nothing written, nothing removed
