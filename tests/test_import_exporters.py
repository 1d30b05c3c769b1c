"""Models as exporters write them: a QKeras MLP whose first QDense reads float inputs (an input
grid from the data or the option) and brevitas_examples' TFC exported as it stands (host head
and tail). Every model is made by the test, nothing is downloaded."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import yaml
from conftest import SHARED_MNIST, run_cli

from fpgaflow.imports import examples


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """A designs folder of this module's own (the repo's designs untouched)."""
    root = tmp_path_factory.mktemp("exporters")
    (root / "designs").mkdir()
    return root, {**os.environ, "FPGAFLOW_DESIGNS": str(root / "designs")}


@pytest.fixture(scope="module")
def jets_npz(space):
    return examples.jets_npz(space[0] / "jets.npz")


def _ok(r):
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.mark.slow
def test_qkeras_mlp_without_input_quantizer_takes_the_data_grid_or_the_option(space, jets_npz):
    """The jet-tagging tutorial's shape: the first QDense reads float inputs. Data on a 2^-4 grid
    give the grid (no value changes); data off any grid are refused in one line naming the
    option; with the option they are rounded onto it before reference and hardware alike."""
    root, env = space
    build = root / "build-qf"
    grid = examples.on_grid(jets_npz, root / "jets_grid.npz")
    model = examples.qkeras_jets(root / "jets_float_in.h5", grid, epochs=1, input_quantizer=False)
    r = _ok(run_cli("import", str(model), "--name", "jets_fin", "--data", str(grid), env=env))
    assert "input grid (the model has no input quantizer): the data: every value a multiple of 2^-4" in r.stdout
    q = yaml.safe_load((root / "designs" / "jets_fin" / "design.yaml").read_text())["quant"]
    assert q["input"]["scale"] == 2.0 ** -4 and q["input"]["min"] < 0 and q["input_bits"] <= 8
    r = run_cli("import", str(model), "--name", "jets_off", "--data", str(jets_npz), env=env)
    assert r.returncode == 2 and "--input-bits B --input-int-bits I" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (root / "designs" / "jets_off").exists()
    _ok(run_cli("import", str(model), "--name", "jets_off", "--data", str(jets_npz), "--input-bits", "10",
                "--input-int-bits", "4", env=env))
    for name in ("jets_fin", "jets_off"):
        _ok(run_cli("hls", name, "--no-progress", build=build, env=env))
        _ok(run_cli("csim", name, "--no-progress", build=build, env=env))
        v = json.loads((build / name / "hls4ml" / "verify.json").read_text())
        assert v["exact"] == v["n"] == 600 and v["reference"] == "tf-cpu"


@pytest.mark.slow
def test_bnn_pynq_tfc_as_exported_runs_head_and_tail_on_the_host_and_is_exact_in_finn_rtl_and_hls4ml(space):
    """brevitas_examples' TFC 2w2a exported as it stands (Reshape and 2x - 1 before its input
    quantizer, TensorNorm's float affine after its last layer), imported with MNIST as IDX
    files: head and tail run on the host, the body's BatchNorms are exact, and every FINN stage,
    the Verilator RTL (2-bit MVAUs: fpgaflow's block) and hls4ml's C-sim equal the reference,
    on the body's output and on the final output."""
    import torch
    from brevitas.export import export_qonnx
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    from fpgaflow.core.data import load_split

    root, env = space
    build = root / "build-tfc"
    images, labels = load_split(SHARED_MNIST, "train")
    x = torch.from_numpy(images[:3000].astype(np.float32) / 255.0)[:, None]   # torchvision's ToTensor
    y = torch.from_numpy(labels[:3000])
    torch.manual_seed(0)
    net, _ = model_with_cfg("tfc_2w2a", pretrained=False)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(60):
        i = torch.randint(0, 3000, (100,))
        loss = torch.nn.functional.cross_entropy(net(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    export_qonnx(net.eval(), input_t=torch.zeros(1, 1, 28, 28), export_path=str(root / "tfc.onnx"))

    r = _ok(run_cli("import", str(root / "tfc.onnx"), "--name", "tfc", "--data", str(SHARED_MNIST), env=env))
    assert "runs as: host head (Reshape, Mul, Sub) -> hardware" in r.stdout and "10000/10000 test samples" in r.stdout
    spec = yaml.safe_load((root / "designs" / "tfc" / "design.yaml").read_text())
    assert spec["dataset"]["format"] == "idx" and spec["host"]["head"]["input_shape"] == [1, 28, 28]
    assert spec["host"]["tail"]["ops"] == ["Sub", "Div", "Mul", "Add"] and spec["dataset"]["input_shape"] == [784]
    check = json.loads(_ok(run_cli("check", "tfc", "--json", build=build, env=env)).stdout)
    assert all(check["backends"][b]["exact_possible"] for b in ("hls4ml", "finn"))
    assert [n["op"] for n in check["nodes"] if n["finn"]["host"]] == ["Reshape", "Mul", "Sub", "Sub", "Div", "Mul", "Add"]
    bns = [n for n in check["nodes"] if n["op"] == "BatchNormalization"]
    assert len(bns) == 3 and all(n["hls4ml"]["exact"] and n["finn"]["exact"] for n in bns)

    _ok(run_cli("hls", "tfc", "--backend", "finn", "--no-progress", build=build, env=env))
    _ok(run_cli("csim", "tfc", "--backend", "finn", "--rtl", "-n", "1000", "--no-progress", build=build, env=env))
    v = json.loads((build / "tfc" / "finn" / "verify.json").read_text())
    assert [s["stage"] for s in v["stages"]] == ["qonnx", "finn_onnx", "streamlined", "hw", "folded", "rtl"]
    assert all(s["exact"] == s["final"]["exact"] == 1000 for s in v["stages"]) and v["not_exact_because"] is None
    assert "host head on the CPU (Reshape, Mul, Sub)" in v["host"] and "host tail" in v["host"]
    mvaus = [l for l in v["stages"][-1]["layers"] if l["op_type"] == "MVAU_hls"]
    assert len(mvaus) == 4 and all(l["implementation"] == "fpgaflow hw/fpgaflow_mvau.sv" for l in mvaus)
    report = _ok(run_cli("report", "tfc", "--backend", "finn", build=build, env=env)).stdout
    assert "runs as: host head on the CPU (Reshape, Mul, Sub) -> the hardware -> host tail" in report

    _ok(run_cli("hls", "tfc", "--no-progress", build=build, env=env))
    _ok(run_cli("csim", "tfc", "--no-progress", build=build, env=env))
    h = json.loads((build / "tfc" / "hls4ml" / "verify.json").read_text())
    metrics = json.loads((root / "designs" / "tfc" / "metrics.json").read_text())
    assert h["n"] == h["exact"] == h["final"]["exact"] == 10000 and h["accuracy"] == metrics["test_accuracy"]


@pytest.mark.slow
def test_qonnx_mlp_without_input_quantizer_gets_a_quant_on_the_data_grid(space, jets_npz):
    """A Brevitas MLP whose first QuantLinear reads the float input: the import puts a Quant on
    the data's grid at the model's input (changing no value of the data), and hls4ml's C-sim and
    every FINN stage equal qonnx's execution."""
    root, env = space
    build = root / "build-bf"
    grid = examples.on_grid(jets_npz, root / "jets_grid_b.npz")
    model = examples.brevitas_jets(root / "jets_float_in.onnx", grid, input_quantizer=False)
    r = _ok(run_cli("import", str(model), "--name", "jets_bfin", "--data", str(grid), env=env))
    assert "the data: every value a multiple of 2^-4" in r.stdout
    check = json.loads(_ok(run_cli("check", "jets_bfin", "--json", build=build, env=env)).stdout)
    assert check["nodes"][0]["what"].startswith("input quantizer: ") and "2^-4" in check["nodes"][0]["what"]
    assert all(check["backends"][b]["exact_possible"] for b in ("hls4ml", "finn"))
    _ok(run_cli("hls", "jets_bfin", "--no-progress", build=build, env=env))
    _ok(run_cli("csim", "jets_bfin", "--no-progress", build=build, env=env))
    v = json.loads((build / "jets_bfin" / "hls4ml" / "verify.json").read_text())
    assert v["exact"] == v["n"] == 600
    _ok(run_cli("hls", "jets_bfin", "--backend", "finn", "--no-progress", build=build, env=env))
    _ok(run_cli("csim", "jets_bfin", "--backend", "finn", "-n", "200", "--no-progress", build=build, env=env))
    f = json.loads((build / "jets_bfin" / "finn" / "verify.json").read_text())
    assert len(f["stages"]) == 5 and all(s["exact"] == 200 for s in f["stages"])


@pytest.mark.slow
def test_a_softmax_after_the_last_layer_runs_on_the_host(space, jets_npz):
    """A Softmax appended to the jets MLP: the import moves it (and only it) to a host tail, and
    head, body and tail in turn equal the whole model on every test sample (checked by import)."""
    import onnx
    from onnx import helper

    root, env = space
    proto = onnx.load(str(examples.brevitas_jets(root / "jets_logits.onnx", jets_npz)))
    logits = proto.graph.output[0].name
    proto.graph.node.append(helper.make_node("Softmax", [logits], ["probs"], axis=-1, name="softmax"))
    proto.graph.output[0].name = "probs"
    onnx.save(proto, str(root / "jets_softmax.onnx"))
    r = _ok(run_cli("import", str(root / "jets_softmax.onnx"), "--name", "jets_sm", "--data", str(jets_npz), env=env))
    assert "-> host tail (Softmax); host head, body and host tail in turn == the whole model on 600/600" in r.stdout
    spec = yaml.safe_load((root / "designs" / "jets_sm" / "design.yaml").read_text())
    assert spec["host"] == {"tail": {**spec["host"]["tail"], "ops": ["Softmax"]}} and "head" not in spec["host"]
    metrics = json.loads((root / "designs" / "jets_sm" / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.5


@pytest.mark.slow
def test_bnn_pynq_cnv_on_three_channel_images_is_exact_in_hls4ml(space):
    """brevitas_examples' CNV 2w2a (untrained) as exported, on random 32x32 RGB images: its host
    head (2x - 1) and tail (TensorNorm) run on the host and hls4ml's C-sim equals qonnx. The
    first model here with more than one input channel: the C-sim is fed channels-last, so
    hls4ml's input must be channels-last too (it was NCHW behind a Transpose: 0 of 1,000 equal)."""
    from fpgaflow.imports import bnn_pynq

    root, env = space
    build = root / "build-cnv"
    data = bnn_pynq.random_images_npz(root / "random32.npz", n_train=20, n_test=200)
    model = bnn_pynq.export("cnv_2w2a", root / "cnv_2w2a.onnx")
    r = _ok(run_cli("import", str(model), "--name", "cnv", "--data", str(data), env=env))
    assert "runs as: host head (Mul, Sub) -> hardware" in r.stdout and "host tail (Sub, Div, Mul, Add)" in r.stdout
    _ok(run_cli("hls", "cnv", "--target-fps", "5000", "--no-progress", build=build, env=env))
    _ok(run_cli("csim", "cnv", "--no-progress", build=build, env=env))
    v = json.loads((build / "cnv" / "hls4ml" / "verify.json").read_text())
    assert v["n"] == v["exact"] == v["final"]["exact"] == 200
