"""Graph models made outside fpgaflow (Brevitas, exported with export_qonnx as users do):
BatchNorm, a residual add, a concatenation and global average pooling import, `check` calls
each node exact only where it is, and hls4ml C-sim, every FINN stage and the FINN RTL equal
qonnx's execution of the file. Nothing is downloaded: MNIST from the shared folder."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import SHARED_MNIST, run_cli

from fpgaflow.imports import graph_examples


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    root = tmp_path_factory.mktemp("graphs")
    (root / "designs").mkdir()
    npz = graph_examples.mnist16_npz(root / "mnist16.npz", SHARED_MNIST, n_train=2000, n_test=1000)
    return root, {**os.environ, "FPGAFLOW_DESIGNS": str(root / "designs")}, npz


def _ok(r):
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.mark.slow
def test_brevitas_graph_with_batchnorm_imports_and_is_exact_in_hls4ml_every_finn_stage_and_the_rtl(space):
    root, env, npz = space
    build = root / "build"
    model = graph_examples.train_and_export(graph_examples.brevitas_graph(pow2=True), npz, root / "g.onnx", steps=200)
    r = _ok(run_cli("import", str(model), "--name", "g", "--data", str(npz), env=env))
    assert "hls4ml: maps every node; bit-exact possible" in r.stdout and "finn: maps every node" in r.stdout
    check = json.loads(_ok(run_cli("check", "g", "--json", build=build, env=env)).stdout)
    bns = [n for n in check["nodes"] if n["op"] == "BatchNormalization"]
    assert len(bns) == 3 and all(n["hls4ml"]["exact"] and n["finn"]["exact"] for n in bns)
    assert all("fraction bits" in n["hls4ml"]["note"] and "thresholds" in n["finn"]["note"] for n in bns)
    kinds = {l["type"] for l in check["layers"]}
    assert {"batchnorm", "add", "concat", "global_avgpool"} <= kinds
    add = next(l for l in check["layers"] if l["type"] == "add")
    assert len(add["inputs"]) == 2 and add["activation"] == "relu"

    _ok(run_cli("hls", "g", "--no-progress", build=build, env=env))
    _ok(run_cli("csim", "g", "--no-progress", build=build, env=env))
    v = json.loads((build / "g" / "hls4ml" / "verify.json").read_text())
    assert v["exact"] == v["n"] == 1000 and v["reference"] == "qonnx-cpu"

    _ok(run_cli("hls", "g", "--backend", "finn", "--no-progress", build=build, env=env))
    _ok(run_cli("csim", "g", "--backend", "finn", "--rtl", "-n", "100", "--no-progress", build=build, env=env))
    f = json.loads((build / "g" / "finn" / "verify.json").read_text())
    assert [s["stage"] for s in f["stages"]] == ["qonnx", "finn_onnx", "streamlined", "hw", "folded", "rtl"]
    assert all(s["exact"] == s["n"] == 100 for s in f["stages"]) and f["not_exact_because"] is None


@pytest.mark.slow
def test_average_pooling_and_trunc_avg_pool_are_exact_in_hls4ml_every_finn_stage_and_the_rtl(space):
    """AvgPool2d(2) (a float mean, quantized after) and Brevitas' TruncAvgPool2d(2) (AveragePool
    + Trunc) over 2^k pixels: hls4ml's mean k bits finer, FINN's window sum in fpgaflow's RTL
    sum block, the Trunc a Quant at its output scale."""
    root, env, npz = space
    build = root / "build-pools"
    model = graph_examples.train_and_export(graph_examples.brevitas_pools(), npz, root / "pools.onnx", steps=150)
    _ok(run_cli("import", str(model), "--name", "pools", "--data", str(npz), env=env))
    check = json.loads(_ok(run_cli("check", "pools", "--json", build=build, env=env)).stdout)
    assert all(check["backends"][b]["exact_possible"] for b in ("hls4ml", "finn"))
    assert [l["type"] for l in check["layers"]].count("avgpool") == 2
    assert any(n["op"] == "Trunc" and n["finn"]["exact"] for n in check["nodes"])
    _ok(run_cli("hls", "pools", "--no-progress", build=build, env=env))
    _ok(run_cli("csim", "pools", "--no-progress", build=build, env=env))
    v = json.loads((build / "pools" / "hls4ml" / "verify.json").read_text())
    assert v["exact"] == v["n"] == 1000
    _ok(run_cli("hls", "pools", "--backend", "finn", "--no-progress", build=build, env=env))
    r = _ok(run_cli("csim", "pools", "--backend", "finn", "--rtl", "-n", "100", "--no-progress", build=build, env=env))
    assert r.stdout.count("fpgaflow hw/fpgaflow_sum_pool.sv") == 2
    f = json.loads((build / "pools" / "finn" / "verify.json").read_text())
    assert [s["stage"] for s in f["stages"]][-1] == "rtl" and all(s["exact"] == s["n"] == 100 for s in f["stages"])


@pytest.mark.slow
def test_brevitas_default_quantizers_check_names_what_cannot_be_exact(space):
    """Float scales (Brevitas' defaults): the BatchNorm has no exact form (its accumulator is
    not on a power-of-two grid) and the residual add sums floats; a concatenation moves
    values and stays exact."""
    root, env, npz = space
    model = graph_examples.train_and_export(graph_examples.brevitas_graph(pow2=False), npz, root / "gf.onnx", steps=20)
    _ok(run_cli("import", str(model), "--name", "gf", "--data", str(npz), env=env))
    check = json.loads(_ok(run_cli("check", "gf", "--json", build=root / "build-f", env=env)).stdout)
    rows = {n["node"]: n for n in check["nodes"]}
    assert not check["backends"]["hls4ml"]["exact_possible"] and not check["backends"]["finn"]["exact_possible"]
    assert not rows["BatchNormalization_0"]["finn"]["exact"] and "power of two" in rows["BatchNormalization_0"]["finn"]["note"]
    assert not rows["Add_0"]["finn"]["exact"] and rows["Concat_0"]["finn"]["exact"]
    r = run_cli("hls", "gf", "--backend", "finn", build=root / "build-f", env=env)
    assert r.returncode == 2 and "--inexact" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def _bn_model(gammas, betas):
    """input (8-bit signed, scale 2^-7) -> 1x1 conv, weights 1 (so the accumulator is the
    input integer) -> BatchNorm (float32 gains, epsilon 1e-5) -> Relu -> 4-bit Quant 2^-3."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    c = len(gammas)
    f32 = lambda name, v: helper.make_tensor(name, TensorProto.FLOAT, np.shape(v), np.asarray(v, np.float32).reshape(-1))  # noqa: E731
    nodes = [
        helper.make_node("Quant", ["x", "s_in", "zero", "b8"], ["xq"], domain="qonnx.custom_op.general",
                         signed=1, narrow=0, rounding_mode="ROUND"),
        helper.make_node("Quant", ["w", "one", "zero", "b4"], ["wq"], domain="qonnx.custom_op.general",
                         signed=1, narrow=0, rounding_mode="ROUND"),
        helper.make_node("Conv", ["xq", "wq"], ["acc"], kernel_shape=[1, 1]),
        helper.make_node("BatchNormalization", ["acc", "g", "b", "m", "v"], ["bn"], epsilon=1e-5),
        helper.make_node("Relu", ["bn"], ["r"]),
        helper.make_node("Quant", ["r", "s_out", "zero", "b4"], ["y"], domain="qonnx.custom_op.general",
                         signed=0, narrow=0, rounding_mode="ROUND")]
    inits = [f32("s_in", 2.0 ** -7), f32("zero", 0.0), f32("b8", 8.0), f32("b4", 4.0), f32("one", 1.0),
             f32("w", np.ones((c, 1, 1, 1))), f32("g", gammas), f32("b", betas), f32("m", np.zeros(c)),
             f32("v", np.ones(c)), f32("s_out", 2.0 ** -3)]
    graph = helper.make_graph(nodes, "bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [256, 1, 1, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [256, c, 1, 1])], inits)
    return cleanup_model(ModelWrapper(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])))


def test_batchnorm_thresholds_equal_the_reference_on_every_accumulator_value():
    """Every input integer is fed (the accumulator is the input): FINN's thresholds placed by
    searching the reference give its output on all 256, ties of the float32 arithmetic
    included; the fixed-point affine for hls4ml rounds like it on all 256 as well."""
    from qonnx.core.onnx_exec import execute_onnx

    from fpgaflow.frontends.qonnx import batchnorm

    model = _bn_model([0.75, 1 / 3, 1.1], [0.125, 0.1, 0.0625 - 2 ** -10])
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    x = {name_in: (np.arange(-128, 128, dtype=np.float32) * 2.0 ** -7).reshape(256, 1, 1, 1)}
    reference = execute_onnx(model, x)[name_out]
    bn = next(n for n in model.graph.node if n.op_type == "BatchNormalization")
    s = batchnorm.study(model, bn)
    assert s.levels.shape == (3, 256) and s.increasing() and list(s.lo) == [-128] * 3
    assert np.array_equal(np.round(reference[:, :, 0, 0] / 2.0 ** -3).T, s.levels)   # the input enumerates u
    a, b, bits = batchnorm.affine(s)
    for c in range(3):
        u = s.lo[c] + np.arange(256)
        assert np.array_equal(batchnorm._hardware(a[c], b[c], u, bits - 3, s), s.levels[c])
    thresholds = model.transform(batchnorm.BatchNormToThresholds())
    assert "BatchNormalization" not in {n.op_type for n in thresholds.graph.node}
    assert np.array_equal(execute_onnx(thresholds, x)[name_out], reference)


def test_a_negative_batchnorm_gain_is_exact_for_hls4ml_not_for_finn():
    from fpgaflow.frontends.qonnx import batchnorm

    model = _bn_model([-0.5, 0.75], [1.0, 0.0])
    bn = next(n for n in model.graph.node if n.op_type == "BatchNormalization")
    s = batchnorm.study(model, bn)
    assert not s.increasing() and not isinstance(batchnorm.affine(s), str)
    kept = model.transform(batchnorm.BatchNormToThresholds())
    assert "BatchNormalization" in {n.op_type for n in kept.graph.node}
