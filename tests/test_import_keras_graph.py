"""`fpgaflow import` of a QKeras functional model: the residual add, the concatenation and the
global average pooling read along the graph into a design's layers (names, inputs), checked,
built by hls4ml and C-simulated bit-exact against TensorFlow. The model is made and trained
here (graph_examples' MNIST at 16x16); nothing is downloaded."""
from __future__ import annotations

import json
import os

import pytest
from conftest import SHARED_MNIST, run_cli

from fpgaflow.imports import graph_examples, keras_graph_examples


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """A designs folder and a build folder of this module's own (the repo's designs untouched)."""
    root = tmp_path_factory.mktemp("byom-keras-graph")
    (root / "designs").mkdir()
    env = {**os.environ, "FPGAFLOW_DESIGNS": str(root / "designs")}
    return root, env


def _ok(r):
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.mark.slow
def test_qkeras_residual_graph_imports_and_is_bit_exact_in_hls4ml(space):
    root, env = space
    build = root / "build"
    npz = graph_examples.mnist16_npz(root / "mnist16.npz", SHARED_MNIST, n_train=2000, n_test=1000)
    model = keras_graph_examples.qkeras_residual(root / "residual.h5", npz, epochs=5)
    r = _ok(run_cli("import", str(model), "--name", "kres", "--data", str(npz), env=env))
    assert "hls4ml: maps every node; bit-exact possible" in r.stdout

    check = json.loads(_ok(run_cli("check", "kres", "--json", build=build, env=env)).stdout)
    assert check["backends"]["hls4ml"]["exact_possible"] and check["input_shape"] == [1, 16, 16]
    layers = {l["name"]: l for l in check["layers"]}
    assert [l["type"] for l in check["layers"]] == ["conv", "maxpool", "conv", "conv", "add", "conv", "conv", "concat",
                                                    "maxpool", "conv", "global_avgpool", "dense"]
    # the skip reads the pool before the block; the ReLU after the add is the add's
    assert layers["b1"] == {"type": "add", "name": "b1", "inputs": ["b1b", "stem_pool"], "activation": "relu",
                            "act_bits": 4}
    assert layers["cat"]["inputs"] == ["br_a", "br_b"] and layers["br_b"]["inputs"] == ["b1"]
    assert layers["b1b"]["activation"] == "none" and layers["head"]["activation"] == "relu"
    assert [n for n, l in layers.items() if "inputs" in l] == ["b1", "br_b", "cat"]   # elsewhere: the layer before
    gap = next(n for n in check["nodes"] if n["node"] == "gap")
    assert gap["what"] == "global average over 4x4 pixels" and gap["hls4ml"]["exact"]

    _ok(run_cli("hls", "kres", "--no-progress", build=build, env=env))
    _ok(run_cli("csim", "kres", "--no-progress", build=build, env=env))
    v = json.loads((build / "kres" / "hls4ml" / "verify.json").read_text())
    assert v["exact"] == v["n"] == 1000 and v["reference"] == "tf-cpu"


def _small(pixels: int, keras, input_name: str = "image"):
    """input (pixels x pixels) -> input quantizer -> 1x1 conv -> quantized ReLU -> global average -> dense."""
    from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

    q = dict(kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))
    image = keras.Input((pixels, pixels, 1), name=input_name)
    x = QActivation(quantized_bits(8, 0, alpha=1), name="inq")(image)
    x = QActivation(quantized_relu(4, 0), name="relu")(QConv2D(4, 1, name="Conv-A", **q)(x))
    return keras.Model(image, QDense(10, name="fc", **q)(keras.layers.GlobalAveragePooling2D(name="gap")(x)))


def test_global_average_over_other_than_2k_pixels_is_refused_naming_the_count(tmp_path, monkeypatch, capsys):
    from fpgaflow.cli import main
    from fpgaflow.frontends.qkeras.env import setup
    from fpgaflow.imports.keras_import import analyse

    keras = setup()
    a = analyse(_small(3, keras))
    assert not a.maps("hls4ml")
    assert a.summary("hls4ml") == ("does not map: node 'gap' (GlobalAveragePooling2D): mean over 9 pixels: hls4ml's "
                                   "fixed-point mean is exact only over 2^k (make the map 2x2, 4x4, 8x4 ...)")
    # a chain reads as it always did: no `inputs`, the Keras names as NAME_RE takes them
    chain = analyse(_small(2, keras))
    assert chain.exact("hls4ml") and [l.get("name") for l in chain.layers] == ["conv_a", None, "fc"]
    assert not any("inputs" in l for l in chain.layers)
    # hls4ml's converter stops on a layer named `input`: check says so before a build
    assert "hls4ml reserves the layer name 'input'" in analyse(_small(2, keras, "input")).summary("hls4ml")

    model = tmp_path / "gap9.h5"
    _small(3, keras).save(str(model))
    monkeypatch.setenv("FPGAFLOW_DESIGNS", str(tmp_path))
    assert main(["import", str(model), "--name", "gap9", "--data", str(tmp_path / "unused.npz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "node 'gap' (GlobalAveragePooling2D) maps to no backend: mean over 9 pixels" in err[0]
    assert not (tmp_path / "gap9").exists()
