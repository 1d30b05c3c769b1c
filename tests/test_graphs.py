"""Graphs, not chains: residual adds, batch normalization folded in QAT, global average pooling.

resnet8 (the committed, trained design) is built by the CLI and compared with its Brevitas
reference on every MNIST test image; the spec's graph rules are checked one by one; a
batchnorm trained inside FoldedBatchNorm gives, in eval, exactly what the deployed layer gives.
"""
import copy
import os

import numpy as np
import pytest
import yaml

from fpgaflow.core.errors import FpgaflowError
from fpgaflow.core.layers import resolve
from fpgaflow.core.spec import load_design, validate

from conftest import ROOT, _build, run_cli

RAW = yaml.safe_load((ROOT / "designs/resnet8/design.yaml").read_text())


def _layers(*layers, shape=(1, 8, 8)):
    data = copy.deepcopy(RAW)
    data["dataset"]["input_shape"] = list(shape)
    data["layers"] = list(layers) + [{"type": "flatten"}, {"type": "dense", "units": 10, "activation": "none"}]
    return data


CONV = {"type": "conv", "filters": 4, "kernel": 3, "padding": 1}


@pytest.mark.parametrize("layers, message", [
    ([{**CONV, "name": "a"}, {"type": "add", "inputs": ["a", "nowhere"]}],
     r"layers\[1\].inputs: 'nowhere' is not an earlier layer"),
    ([{**CONV, "name": "a"}, {**CONV, "name": "b", "inputs": ["c"]}, {**CONV, "name": "c"}],
     r"layers\[1\].inputs: 'c' is not an earlier layer"),
    ([{**CONV, "name": "a"}, {**CONV, "name": "b", "filters": 8}, {"type": "add", "inputs": ["a", "b"]}],
     r"layers\[2\].inputs: add needs inputs of one shape, got a \[4, 8, 8\], b \[8, 8, 8\]"),
    ([{**CONV, "name": "a"}, {"type": "add", "inputs": ["a"]}],
     r"layers\[1\].inputs: an add layer reads two distinct inputs, got \['a'\]"),
    ([{**CONV, "name": "a"}, {**CONV, "name": "b"}, {**CONV, "name": "c"}, {"type": "concat", "inputs": ["a", "b", "c"]}],
     r"layers\[3\].inputs: a concat layer reads two distinct inputs"),
    ([{**CONV, "name": "a"}, {"type": "maxpool", "name": "p"}, {"type": "concat", "inputs": ["a", "p"]}],
     r"layers\[2\].inputs: concat needs maps of one height and width, got a \[4, 8, 8\], p \[4, 4, 4\]"),
    ([{**CONV, "name": "a"}, {**CONV, "name": "b", "inputs": ["a", "input"]}],
     r"layers\[1\].inputs: a conv layer reads one input"),
    ([{**CONV, "name": "a"}, {"type": "batchnorm"}],
     r"layers\[1\].inputs: a batchnorm folds into the conv, dwconv or dense layer it reads, which has activation: none "
     r"\('a' is conv, activation relu\)"),
    ([{**CONV, "name": "a", "activation": "none"}, {"type": "batchnorm"}, {**CONV, "name": "b", "inputs": ["a"]},
      {"type": "add", "inputs": ["bn1", "b"]}],
     r"layers\[1\].inputs: the batchnorm folds into 'a', which is also read by b"),
    ([{**CONV, "name": "a"}, {**CONV, "name": "b", "inputs": ["input"]}],
     r"layers: 'a' is read by no layer"),
    ([{**CONV, "name": "a"}, {**CONV, "name": "a"}], r"layers\[1\].name: 'a' names two layers"),
    ([{**CONV, "name": "input"}], r"layers\[0\].name: 'input' must be"),
    ([{"type": "flatten"}, {"type": "global_avgpool"}], r"layers\[1\]: a global_avgpool layer reads a \(channels, height, "
                                                        r"width\) map, 'flatten1' gives \[64\]"),
])
def test_graph_mistakes_name_the_layer(layers, message):
    with pytest.raises(FpgaflowError, match=message):
        validate(_layers(*layers))


def test_channel_pruning_is_refused_for_graphs():
    data = copy.deepcopy(RAW)
    data["prune"] = {"kind": "channel", "sparsity": 0.5}
    with pytest.raises(FpgaflowError, match=r"prune.kind: channel pruning cuts chains without batchnorm"):
        validate(data)


def test_resnet8_resolves_as_a_graph_with_batchnorm_folded():
    spec = load_design("resnet8").spec
    trained, built = resolve(spec, as_trained=True), resolve(spec)
    assert sum(l.type == "batchnorm" for l in trained) == 9 and not any(l.type == "batchnorm" for l in built)
    by_name = {l.name: l for l in built}
    # the batchnorm's activation moved to its conv; the add reads the conv the batchnorm folded into
    assert (by_name["stem"].activation, by_name["s1b"].activation) == ("relu", "none")
    assert by_name["s1"].inputs == ("s1b", "stem_pool") and by_name["s2skip"].inputs == ("s1",)
    assert by_name["s3"].out_shape == (64, 4, 4) and by_name["pool"].out_shape == (64,)
    assert by_name["s1"].in_bits == 8 and by_name["s1"].act_bits == 4   # 8-bit operands, 4-bit ReLU after


def test_folded_batchnorm_in_eval_is_the_deployed_layer():
    """Train a few steps with batch statistics, then: the trained network in eval mode and the
    deployed network (batchnorms folded by deployed_state) give equal outputs on real images."""
    import torch

    from fpgaflow.core.data import design_images
    from fpgaflow.frontends.brevitas.model import build_model, deployed_state
    from fpgaflow.train.loop import calibrate

    design = load_design("resnet8")
    x, _ = design_images(design, "test", 300)
    torch.manual_seed(0)
    model = build_model(design.spec, as_trained=True)
    calibrate(model, x, 0, 8)   # learned scales from statistics; small batches keep it quick
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model.train()
    for i in range(3):
        loss = model(torch.from_numpy(x[i * 64:(i + 1) * 64])).logsumexp(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    deployed = build_model(design.spec)
    deployed.load_state_dict(deployed_state(design.spec, model.state_dict()))
    deployed.eval()
    with torch.no_grad():
        a, b = model(torch.from_numpy(x)), deployed(torch.from_numpy(x))
    assert torch.equal(a, b)
    assert not any("bn" in k for k in deployed.state_dict())


def test_float_model_of_a_graph_runs_and_matches_shapes():
    import torch

    from fpgaflow.frontends.brevitas.float_model import build_float_model

    spec = load_design("resnet8").spec
    teacher = build_float_model(spec, as_trained=True)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in teacher.modules()) == 9
    assert build_float_model(spec)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


@pytest.fixture(scope="session")
def built_resnet8(tmp_path_factory):
    return _build(tmp_path_factory, "resnet8")


@pytest.mark.slow
def test_resnet8_csim_equals_brevitas_on_every_test_image(built_resnet8):
    import json

    r = run_cli("csim", "resnet8", build=built_resnet8)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads((built_resnet8 / "resnet8" / "hls4ml" / "verify.json").read_text())
    assert (result["n"], result["exact"], result["mismatches"]) == (10000, 10000, 0)
    assert result["accuracy"] >= 0.993
    manifest = json.loads((built_resnet8 / "resnet8" / "hls4ml" / "fpgaflow.json").read_text())
    pairs = {l["name"]: l["hls4ml"] for l in manifest["layers"]}
    assert len(set(pairs.values())) == len(pairs) == 10    # every conv and the dense, each paired once
    # the global average's type holds the mean over 16 pixels: 4 more fraction bits than the ReLU before it
    traced = manifest["traced_layers"]
    at = [t["name"] for t in traced].index("AveragePool_0")
    assert traced[at - 1]["class"] == "Activation"   # the last add's ReLU, which the pooling reads
    relu, mean = _fixed(traced[at - 1]["precision"]), _fixed(traced[at]["precision"])
    assert (mean[0] - relu[0], mean[1]) == (4, relu[1])


def _fixed(precision: str) -> tuple[int, int]:
    import re

    width, integer = re.match(r"u?fixed<(\d+),(-?\d+)", precision).groups()
    return int(width), int(integer)


@pytest.mark.slow
def test_a_mean_cut_to_its_input_grid_is_caught_and_triaged(built_resnet8, tmp_path):
    """hls4ml's own type for an average pooling is its input's: cut the 4 bits back and the C-sim
    differs, and triage names the pooling although hls4ml orders the graph's branches otherwise."""
    import json
    import re
    import shutil

    faulty = tmp_path / "build"
    shutil.copytree(built_resnet8 / "resnet8" / "hls4ml", faulty / "resnet8" / "hls4ml")
    project = faulty / "resnet8" / "hls4ml"
    manifest = json.loads((project / "fpgaflow.json").read_text())
    mean = next(t for t in manifest["traced_layers"] if t["name"] == "AveragePool_0")
    defines = project / "firmware" / "defines.h"
    text, count = re.subn(rf"ap_ufixed<(\d+),(\d+)>(, \d+\*1> {mean['type']};)",
                          lambda m: f"ap_ufixed<{int(m[1]) - 4},{m[2]}>{m[3]}", defines.read_text())
    assert count == 1
    defines.write_text(text)
    r = run_cli("csim", "resnet8", "-n", "50", "--no-progress", build=faulty)
    assert r.returncode == 1, r.stdout + r.stderr
    v = json.loads((project / "verify.json").read_text())
    assert v["mismatches"] > 0 and v["triage"]["layer"] == "AveragePool_0"
    assert v["triage"]["design_layer"] == "pool(pool)"   # the design's global_avgpool layer is named pool
    assert len(v["triage"]["matching_layers"]) > 10   # every layer before it, both branches, matched


@pytest.mark.slow
def test_resnet_qkeras_csim_equals_tensorflow_on_every_test_image(tmp_path_factory):
    import json

    build = tmp_path_factory.mktemp("build-resnet-qkeras")
    r = run_cli("hls", "resnet_qkeras", build=build)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("csim", "resnet_qkeras", "--no-progress", build=build)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads((build / "resnet_qkeras" / "hls4ml" / "verify.json").read_text())
    assert (result["n"], result["exact"], result["reference"]) == (10000, 10000, "tf-cpu")
    defines = (build / "resnet_qkeras" / "hls4ml" / "firmware" / "defines.h").read_text()
    assert "ap_ufixed<12,4> pool_accum_t;" in defines   # 16 values of ap_ufixed<4,0>: 4 more bits each side


def test_qkeras_refuses_a_mean_over_49_pixels(tmp_path):
    designs = tmp_path / "designs"
    data = yaml.safe_load((ROOT / "designs/resnet_qkeras/design.yaml").read_text())
    data["layers"] = [l for l in data["layers"] if l["name"] != "b1_pool"]
    data["layers"][[l["name"] for l in data["layers"]].index("b2skip")]["inputs"] = ["b1"]
    (designs / "resnet_qkeras").mkdir(parents=True)
    (designs / "resnet_qkeras" / "design.yaml").write_text(yaml.safe_dump(data))
    r = run_cli("train", "resnet_qkeras", "--epochs", "1", "--out", str(tmp_path / "out"), build=tmp_path / "build",
                env={**os.environ, "FPGAFLOW_DESIGNS": str(designs)})
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == ("fpgaflow: error: layer pool: a global average over 49 pixels has no "
                                                 "exact fixed-point mean (make the map before it 2x2, 4x4, 8x4 ...)")
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="session")
def built_resnet8_finn(tmp_path_factory):
    return _build(tmp_path_factory, "resnet8", "--backend", "finn", "--no-progress")


@pytest.mark.slow
def test_resnet8_every_finn_stage_and_the_rtl_equal_brevitas(built_resnet8_finn):
    """Skip connections as DuplicateStreams and ElementwiseAdd, the global average as GlobalAccPool
    with its 1/16 in the host's output scale: every stage's model and the stitched RTL (fpgaflow's
    fork, add and pool blocks, every FIFO sized by simulation) == the Brevitas reference."""
    import json

    build = built_resnet8_finn
    manifest = json.loads((build / "resnet8" / "finn" / "fpgaflow-finn.json").read_text())
    kinds = {l["op_type"].rsplit("_", 1)[0] for l in manifest["layers"]}
    assert {"DuplicateStreams", "ElementwiseAdd", "GlobalAccPool", "MVAU", "Thresholding"} <= kinds
    r = run_cli("csim", "resnet8", "--backend", "finn", "--rtl", "-n", "200", "--no-progress", build=build)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads((build / "resnet8" / "finn" / "verify.json").read_text())
    assert [(s["stage"], s["exact"], s["n"]) for s in result["stages"]] == [
        (stage, 200, 200) for stage in ("qonnx", "finn_onnx", "streamlined", "hw", "folded", "rtl")]
    rtl, sizing = result["stages"][-1], manifest["rtl"]["fifo_depths"]
    # the skip paths hold hundreds of beats (FINN's minimum FIFO depth, 2, deadlocks), and with the
    # measured depths the accelerator runs as fast as with unbounded FIFOs: FINN's estimate
    skips = _skip_fifos(build)
    assert len(skips) == 3 and all(sizing["depths"][f] > 100 for f in skips)
    assert sizing["interval_cycles_unbounded"] == rtl["estimate"]["cycles_per_frame"]
    assert abs(rtl["cycles_per_frame"] - rtl["estimate"]["cycles_per_frame"]) <= 0.01 * rtl["cycles_per_frame"]


def _skip_fifos(build) -> list[str]:
    """Per residual add (ElementwiseAdd of two streams), the deeper of the FIFOs right before it:
    the one on the skip path, which waits for the other branch's convolutions. Deepest first."""
    import json

    folder = build / "resnet8" / "finn"
    rtl = json.loads((folder / "rtl" / "rtl.json").read_text())
    depths = json.loads((folder / "fpgaflow-finn.json").read_text())["rtl"]["fifo_depths"]["depths"]
    adds = {l["name"] for l in rtl["layers"] if l["implementation"].endswith("fpgaflow_add_streams.sv")}
    skips = [max((s["producer"] for s in rtl["streams"] if s["consumer"] == add and s["producer"] in depths),
                 key=depths.get) for add in adds]
    return sorted(skips, key=lambda f: -depths[f])


@pytest.mark.slow
def test_a_skip_fifo_too_shallow_deadlocks_in_one_line_naming_it(built_resnet8_finn, tmp_path):
    """The deepest skip FIFO cut to FINN's minimum depth (2): the fork waits on it, the add on the
    other branch, which waits on the fork. The harness sees no stream move and ends the run."""
    import json
    import re
    import shutil
    import time

    shutil.copytree(built_resnet8_finn / "resnet8" / "finn", tmp_path / "resnet8" / "finn",
                    ignore=shutil.ignore_patterns("obj", "code"))
    fifo = _skip_fifos(built_resnet8_finn)[0]
    wrapper = tmp_path / "resnet8" / "finn" / "rtl" / "src" / "layers" / fifo / f"{fifo}.v"
    wrapper.write_text(re.sub(r"\.DEPTH\(\d+\)", ".DEPTH(2)", wrapper.read_text()))
    t0 = time.time()
    r = run_cli("csim", "resnet8", "--backend", "finn", "--rtl", "-n", "2", "--no-progress", build=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    line, = r.stderr.strip().splitlines()
    assert line.startswith("fpgaflow: error: RTL stage: deadlock: no stream moved for 75,264 cycles"), line
    assert "the wait begins at s" in line and f" ({fifo} -> ElementwiseAdd_hls_" in line   # the cut FIFO, full
    assert time.time() - t0 < 300


def test_a_mean_over_49_pixels_is_refused_by_both_backends(tmp_path):
    """7x7 has no exact fixed-point mean: each build stops, naming the node, and leaves nothing."""
    import shutil

    designs = tmp_path / "designs"
    shutil.copytree(ROOT / "designs" / "resnet8", designs / "resnet8")
    data = copy.deepcopy(RAW)
    data["layers"] = [l for l in data["layers"] if l["name"] != "stem_pool"]
    for l in data["layers"]:
        l["inputs"] = ["stem_bn" if i == "stem_pool" else i for i in l.get("inputs", [])] or l.get("inputs")
        if l.get("inputs") is None:
            l.pop("inputs")
    (designs / "resnet8" / "design.yaml").write_text(yaml.safe_dump(data))
    import torch

    from fpgaflow.core.data import design_images
    from fpgaflow.frontends.brevitas.model import build_model, deployed_state
    from fpgaflow.train.loop import calibrate

    model = build_model(validate(data), as_trained=True)
    calibrate(model, design_images(load_design("resnet8"), "test", 16)[0], 0, 2)  # untrained, scales learned
    torch.save(deployed_state(validate(data), model.state_dict()), designs / "resnet8" / "weights.pt")
    env = {**os.environ, "FPGAFLOW_DESIGNS": str(designs)}
    r = run_cli("hls", "resnet8", build=tmp_path / "build", env=env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "average pooling AveragePool_0 over 49 pixels: hls4ml's fixed-point mean is exact only over 2^k pixels" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_cli("hls", "resnet8", "--backend", "finn", "--no-progress", build=tmp_path / "build", env=env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == ["fpgaflow: error: FINN backend: global average pooling AveragePool_0 over 49 "
                                             "pixels: exact only over 2^k pixels (make the map before it 2x2, 4x4, 8x4 ...)"]
    assert not (tmp_path / "build" / "resnet8").exists()


MNIST = {"name": "mnist", "path": "../../../shared/datasets/mnist", "input_shape": [1, 28, 28], "num_classes": 10}
CONCAT = [{"type": "conv", "name": "stem", "filters": 8, "kernel": 3, "padding": 1},
          {"type": "maxpool", "name": "pool1", "kernel": 2},
          {"type": "conv", "name": "a", "filters": 8, "kernel": 3, "padding": 1},
          {"type": "conv", "name": "b", "filters": 4, "kernel": 1, "inputs": ["pool1"]},
          {"type": "concat", "name": "cat", "inputs": ["a", "b"]},
          {"type": "maxpool", "name": "pool2", "kernel": 2},
          {"type": "flatten"},
          {"type": "dense", "units": 10, "activation": "none"}]
# a chain that ends in a global average over 4x4 pixels
GAP_CHAIN = [{"type": "conv", "filters": 8, "kernel": 3, "padding": 1},
             {"type": "maxpool", "kernel": 2},
             {"type": "conv", "filters": 16, "kernel": 3, "stride": 2, "padding": 1},
             {"type": "conv", "filters": 16, "kernel": 3, "stride": 2, "padding": 1},
             {"type": "global_avgpool"},
             {"type": "dense", "units": 10, "activation": "none"}]


def _untrained(tmp_path, framework: str, layers=CONCAT):
    """A designs folder with design `cat` of `framework` and `layers`, its weights untrained
    (Brevitas: its scales calibrated on real images; QKeras: random): exactness does not depend
    on training."""
    import numpy as np

    designs = tmp_path / "designs"
    (designs / "cat").mkdir(parents=True)
    (designs / "cat" / "design.yaml").write_text(
        yaml.safe_dump({"name": "cat", "framework": framework, "dataset": MNIST, "layers": layers}))
    os.environ["FPGAFLOW_DESIGNS"], before = str(designs), os.environ["FPGAFLOW_DESIGNS"]
    try:
        design = load_design("cat")
        if framework == "keras":
            from fpgaflow.frontends.qkeras.model import build_model as keras_model

            model = keras_model(design.spec)
            rng = np.random.default_rng(0)
            model.set_weights([w + rng.normal(0, 0.3, w.shape) for w in model.get_weights()])
            model.save_weights(str(design.dir / "weights.h5"))
        else:
            import torch

            from fpgaflow.core.data import design_images
            from fpgaflow.frontends.brevitas.model import build_model
            from fpgaflow.train.loop import calibrate

            torch.manual_seed(0)
            model = build_model(design.spec, as_trained=True)
            calibrate(model, design_images(design, "test", 64)[0], 0, 8)
            torch.save(model.state_dict(), design.dir / "weights.pt")
    finally:
        os.environ["FPGAFLOW_DESIGNS"] = before
    return {**os.environ, "FPGAFLOW_DESIGNS": str(designs)}


@pytest.mark.slow
def test_concatenation_is_exact_in_hls4ml_and_every_finn_stage(tmp_path):
    import json

    env, build = _untrained(tmp_path, "brevitas"), tmp_path / "build"
    for backend, more in (("hls4ml", ["-n", "300"]), ("finn", ["-n", "50", "--rtl"])):
        r = run_cli("hls", "cat", "--backend", backend, "--no-progress", build=build, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        r = run_cli("csim", "cat", "--backend", backend, *more, "--no-progress", build=build, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
    hls = json.loads((build / "cat" / "hls4ml" / "verify.json").read_text())
    assert (hls["exact"], hls["n"]) == (300, 300)
    finn = json.loads((build / "cat" / "finn" / "verify.json").read_text())
    assert [(s["stage"], s["exact"]) for s in finn["stages"]][-1] == ("rtl", 50)   # the fork and the concat as RTL
    assert [s["exact"] for s in finn["stages"]] == [50] * 6
    kinds = {l["implementation"] for l in json.loads((build / "cat" / "finn" / "rtl" / "rtl.json").read_text())["layers"]}
    assert {"fpgaflow hw/fpgaflow_concat.sv", "fpgaflow hw/fpgaflow_duplicate_streams.sv"} <= kinds


@pytest.mark.slow
def test_qkeras_concatenation_is_exact_in_hls4ml(tmp_path):
    import json

    env, build = _untrained(tmp_path, "keras"), tmp_path / "build"
    r = run_cli("hls", "cat", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("csim", "cat", "-n", "300", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads((build / "cat" / "hls4ml" / "verify.json").read_text())["exact"] == 300


@pytest.mark.slow
def test_a_global_average_in_finn_rtl_equals_brevitas(tmp_path):
    """A chain ending in a global average: GlobalAccPool (HLS only in finn-plus) stitched as
    fpgaflow's RTL block, the accelerator simulated in Verilator, == Brevitas."""
    import json

    env, build = _untrained(tmp_path, "brevitas", GAP_CHAIN), tmp_path / "build"
    r = run_cli("hls", "cat", "--backend", "finn", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("csim", "cat", "--backend", "finn", "--rtl", "-n", "100", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads((build / "cat" / "finn" / "verify.json").read_text())
    assert [(s["stage"], s["exact"]) for s in result["stages"]][-1] == ("rtl", 100)
    rtl = json.loads((build / "cat" / "finn" / "rtl" / "rtl.json").read_text())
    assert "fpgaflow hw/fpgaflow_global_acc_pool.sv" in {l["implementation"] for l in rtl["layers"]}
