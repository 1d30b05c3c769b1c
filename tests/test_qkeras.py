"""The QKeras front end: lenet_qkeras through hls4ml's Keras front end, bit-exact in C-sim
against TensorFlow CPU inference. Real TensorFlow, QKeras, hls4ml and g++; nothing mocked."""
import json
import shutil

import numpy as np
import pytest

from conftest import narrow, run_cli
from fpgaflow.core.errors import FpgaflowError
from fpgaflow.core.spec import load_design

N_IMAGES = 200


@pytest.fixture(scope="module")
def design():
    return load_design("lenet_qkeras")


def test_design_is_keras_with_committed_weights(design):
    assert design.framework.name == "keras" and design.weights.name == "weights.h5" and design.weights.is_file()
    metrics = json.loads((design.dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.988 and metrics["test_images"] == 10000


def test_trained_weights_are_on_power_of_two_grids(design):
    """what the hardware holds: 4-bit weights k/8, biases on the layer's accumulator grid"""
    from fpgaflow.frontends.qkeras.model import trained_model

    model = trained_model(design)
    in_frac = {"conv1": 8, "fc1": 4, "fc2": 4}  # fraction bits of each layer's input
    for name, frac in in_frac.items():
        layer = model.get_layer(name)
        w = layer.kernel_quantizer_internal(layer.kernel).numpy() * 8
        b = layer.bias_quantizer_internal(layer.bias).numpy() * 2.0 ** (frac + 3)
        assert np.array_equal(w, np.round(w)) and w.min() >= -8 and w.max() <= 7, name
        assert np.array_equal(b, np.round(b)), name
        assert len(np.unique(w)) > 4, name  # not collapsed to a few values


@pytest.mark.slow
def test_csim_is_bit_exact_against_tf_cpu(built_qkeras):
    r = run_cli("csim", "lenet_qkeras", "-n", str(N_IMAGES), "--no-progress", build=built_qkeras)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((built_qkeras / "lenet_qkeras" / "hls4ml" / "verify.json").read_text())
    assert v["reference"] == "tf-cpu" and v["n"] == N_IMAGES and v["exact"] == N_IMAGES and v["mismatches"] == 0
    assert v["max_abs_diff"] == 0.0 and v["accuracy"] >= 0.97
    m = json.loads((built_qkeras / "lenet_qkeras" / "hls4ml" / "fpgaflow.json").read_text())
    assert [l["name"] for l in m["layers"]] == ["conv1", "fc1", "fc2"]
    assert m["total_multipliers"] <= m["part_dsp"]


@pytest.mark.slow
def test_fast_and_stock_csim_agree_on_qkeras(built_qkeras):
    outs = {}
    for variant in ("fast", "stock"):
        r = run_cli("csim", "lenet_qkeras", "-n", "100", "--no-progress", "--csim", variant, build=built_qkeras)
        assert r.returncode == 0, r.stdout + r.stderr
        outs[variant] = json.loads((built_qkeras / "lenet_qkeras" / "hls4ml" / "verify.json").read_text())
    assert outs["fast"]["exact"] == outs["stock"]["exact"] == 100


@pytest.mark.slow
def test_fault_in_qkeras_project_is_triaged(built_qkeras, tmp_path):
    faulty = tmp_path / "build"
    shutil.copytree(built_qkeras / "lenet_qkeras" / "hls4ml", faulty / "lenet_qkeras" / "hls4ml")
    narrow(faulty / "lenet_qkeras" / "hls4ml", "fc1", -4, 0)  # 4 fraction bits cut: activations round differently
    r = run_cli("csim", "lenet_qkeras", "-n", "30", "--no-progress", build=faulty)
    assert r.returncode == 1, r.stdout + r.stderr
    t = json.loads((faulty / "lenet_qkeras" / "hls4ml" / "verify.json").read_text())["triage"]
    assert t["layer"] == "fc1" and t["matching_layers"] == ["conv1", "conv1_act", "pool1"][:len(t["matching_layers"])]
    assert "first differing layer fc1" in r.stdout


def test_torch_reference_for_a_keras_design_is_a_clear_error():
    r = run_cli("csim", "lenet_qkeras", "-n", "5", "--reference", "torch-cpu")
    assert r.returncode == 2 and "does not apply to lenet_qkeras (keras)" in r.stderr and "Traceback" not in r.stderr


def test_layer_hls4ml_cannot_convert_is_named(design, tmp_path):
    """an export holding a Keras layer hls4ml has no converter for: the error names that layer"""
    from fpgaflow.backends.hls4ml.convert import convert
    from fpgaflow.frontends.qkeras.export import export_keras
    from fpgaflow.frontends.qkeras.env import setup

    keras = setup()
    export_keras(design, tmp_path)
    exported = tmp_path / "lenet_qkeras" / "export" / "model.h5"
    from fpgaflow.frontends.qkeras.model import load_exported

    model = load_exported(exported)
    x = keras.layers.GaussianNoise(0.1, name="noise")(model.layers[-1].output)
    keras.Model(model.inputs, x).save(str(exported))
    with pytest.raises(FpgaflowError, match=r"layer 'noise' \(GaussianNoise\) is not supported by hls4ml"):
        convert(design, tmp_path, lambda x: np.zeros((len(x), 10)))
    assert not (tmp_path / "lenet_qkeras" / "hls4ml").exists()


def test_corrupt_keras_weights_are_a_clear_error(tmp_path):
    import os

    root = tmp_path / "designs"
    shutil.copytree(load_design("lenet_qkeras").dir, root / "lenet_qkeras")
    (root / "lenet_qkeras" / "weights.h5").write_bytes(b"not an HDF5 file")
    r = run_cli("hls", "lenet_qkeras", build=tmp_path / "b", env={**os.environ, "FPGAFLOW_DESIGNS": str(root)})
    assert r.returncode == 2 and "cannot load weights" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "b" / "lenet_qkeras" / "hls4ml").exists()
