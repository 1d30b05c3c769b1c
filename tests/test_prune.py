"""Magnitude pruning: the schedule and masks alone, then a pruned design trained on a small
real-MNIST subset, converted by hls4ml and C-simulated bit-exact, with its zero weights
counted in the generated project and fewer multipliers than the same network unpruned."""
import json
import re

import pytest
import torch
from conftest import run_cli, small_world

from fpgaflow.train.prune import MagnitudePruner


def test_schedule_and_exact_sparsity(lenet):
    from fpgaflow.frontends.brevitas.model import build_model

    torch.manual_seed(0)
    model = build_model(lenet.spec)
    pruner = MagnitudePruner(model, {**lenet.spec, "prune": {"kind": "magnitude", "sparsity": 0.8, "start": 0.1, "end": 0.6}}, total_steps=100)
    assert pruner.target(0) == 0 and pruner.target(10) == 0 and pruner.target(60) == pytest.approx(0.8)
    assert 0 < pruner.target(30) < 0.8 and pruner.target(100) == pytest.approx(0.8)
    before = [m.weight.detach().abs().clone() for m in pruner.layers]
    pruner.apply(100)
    for m, old in zip(pruner.layers, before):
        pruned = m.weight == 0
        assert int(pruned.sum()) == round(0.8 * m.weight.numel())
        assert old[pruned].max() <= old[~pruned].min()  # the smallest magnitudes went
    # a weight moved by the optimizer stays pruned: the mask is applied again
    with torch.no_grad():
        pruner.layers[0].weight.add_(1.0)
    pruner.apply(100)
    assert int((pruner.layers[0].weight == 0).sum()) == round(0.8 * pruner.layers[0].weight.numel())


@pytest.mark.slow
def test_pruned_design_trains_converts_and_is_bit_exact(tmp_path, mnist_dir):
    tmp, env = small_world(tmp_path, mnist_dir, "lenet_pruned", epochs=1, val_size=200)
    build = tmp / "build"
    design_dir = tmp / "designs" / "lenet_pruned"
    r = run_cli("train", "lenet_pruned", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    metrics = json.loads((design_dir / "metrics.json").read_text())
    assert all(s >= 0.8 for s in metrics["quantized_weight_sparsity"].values()), metrics["quantized_weight_sparsity"]

    r = run_cli("hls", "lenet_pruned", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    project = build / "lenet_pruned" / "hls4ml"
    manifest = json.loads((project / "fpgaflow.json").read_text())
    params = (project / "firmware" / "parameters.h").read_text()
    n_zeros = [int(v) for v in re.findall(r"static const unsigned n_zeros = (\d+);", params)]
    for l in manifest["layers"]:
        n = l["n_in"] * l["n_out"]
        assert l["zero_weights"] >= 0.8 * n and l["zero_weights"] in n_zeros  # hls4ml's own count
        assert l["multipliers"] == -(-n // l["reuse_factor"]) - l["zero_weights"] // l["reuse_factor"]
        assert l["multiplications"] == (n - l["zero_weights"]) * l.get("evaluations", 1)
    r = run_cli("csim", "lenet_pruned", "-n", "100", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((project / "verify.json").read_text())
    assert (v["n"], v["exact"], v["mismatches"]) == (100, 100, 0)


def _channel_spec(name, sparsity=0.5):
    import copy

    from fpgaflow.core.spec import load_design

    spec = copy.deepcopy(load_design(name).spec)
    spec["prune"].update(kind="channel", sparsity=sparsity, start=0.1, end=0.6)
    return spec


@pytest.mark.parametrize("name", ["lenet", "dscnn"])
def test_channel_masks_and_compaction_change_no_output_bit(name, mnist_dir):
    """Pruned channels are the lowest-norm ones, stay pruned, and cutting them out (with the
    inputs that read them, and a depthwise layer's copies) leaves every output bit as it was."""
    from fpgaflow.core.data import load_split
    from fpgaflow.frontends.brevitas.model import build_model, load_weights
    from fpgaflow.train.prune import ChannelPruner, compact_state
    from fpgaflow.core.spec import load_design

    spec = _channel_spec(name)
    images, _ = load_split(mnist_dir, "test")
    x = images[:300, None].astype("float32") / 256
    # the design's trained (unpruned) weights, pruned at once: real activations flow
    full = load_weights(build_model(spec, as_trained=True), load_design(name).weights)
    pruner = ChannelPruner(full, spec, total_steps=100)
    assert pruner.target(10) == 0 and pruner.target(60) == pytest.approx(0.5)
    norms = {j: pruner.layers[j].weight.detach().flatten(1).norm(dim=1) for j in pruner.keep}
    pruner.apply(100)
    for j, keep in pruner.keep.items():
        n = keep.numel()
        assert int(keep.sum()) == n - round(0.5 * n)
        assert norms[j][~keep].max() <= norms[j][keep].min()
        w, b = pruner.layers[j].weight, pruner.layers[j].bias
        assert (w[~keep] == 0).all() and (b[~keep] == 0).all() and (w[keep] != 0).any()
    with torch.no_grad():  # the optimizer moves a pruned channel: the mask takes it back
        pruner.layers[0].weight.add_(1.0)
    pruner.apply(100)
    assert (pruner.layers[0].weight[~pruner.keep[0]] == 0).all()

    x = torch.from_numpy(x)
    small = build_model(spec)
    small.load_state_dict(compact_state(spec, full.state_dict()))
    full.eval(), small.eval()
    with torch.no_grad():
        a, b = full(x), small(x)
    assert a.std(dim=0).min() > 0 and torch.equal(a, b)  # every logit varies with the image
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in full.parameters()) / 2


def test_compaction_refuses_weights_that_were_not_channel_pruned(lenet):
    from fpgaflow.core.errors import FpgaflowError
    from fpgaflow.train.prune import compact_state

    state = torch.load(lenet.weights, weights_only=True)
    with pytest.raises(FpgaflowError, match=r"layer conv1 has 20 live output channels, the design keeps 10: "
                                            r"these weights were not channel-pruned"):
        compact_state(_channel_spec("lenet"), state)


@pytest.mark.slow
def test_channel_pruned_design_is_narrower_in_both_backends_and_bit_exact(tmp_path, mnist_dir):
    """Trained on a small real-MNIST subset, the channel-pruned lenet saves its compacted
    weights; hls4ml and FINN then build 10/25/250-channel layers (lenet: 20/50/500), and both
    compute exactly what the trained network computes."""
    tmp, env = small_world(tmp_path, mnist_dir, "lenet_channel_pruned", epochs=1, val_size=200)
    build = tmp / "build"
    r = run_cli("train", "lenet_channel_pruned", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    metrics = json.loads((tmp / "designs" / "lenet_channel_pruned" / "metrics.json").read_text())
    assert metrics["channels_trained_kept"] == {"conv1": [20, 10], "conv2": [50, 25], "fc1": [500, 250]}
    assert metrics["compaction_exact_images"] == metrics["test_images"] == 400

    r = run_cli("hls", "lenet_channel_pruned", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "channel-pruned (trained -> built): conv1 20->10, conv2 50->25, fc1 500->250" in r.stdout
    project = build / "lenet_channel_pruned" / "hls4ml"
    # hls4ml's own matrix sizes in the generated code (lenet: 25x20, 500x50, 800x500, 500x10)
    params = (project / "firmware" / "parameters.h").read_text()
    sizes = [(int(i), int(o)) for i, o in re.findall(r"n_in = (\d+);\s+static const unsigned n_out = (\d+);", params)]
    assert sizes == [(25, 10), (250, 25), (400, 250), (250, 10)]
    manifest = json.loads((project / "fpgaflow.json").read_text())
    assert [(l["n_in"], l["n_out"]) for l in manifest["layers"]] == sizes
    r = run_cli("csim", "lenet_channel_pruned", "-n", "100", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((project / "verify.json").read_text())
    assert (v["n"], v["exact"], v["mismatches"]) == (100, 100, 0)

    r = run_cli("hls", "lenet_channel_pruned", "--backend", "finn", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    finn = build / "lenet_channel_pruned" / "finn"
    mvau = [(l["MW"], l["MH"]) for l in json.loads((finn / "fpgaflow-finn.json").read_text())["layers"] if "MH" in l]
    assert mvau == [(25, 10), (250, 25), (400, 250), (250, 10)]
    r = run_cli("csim", "lenet_channel_pruned", "--backend", "finn", "-n", "100", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((finn / "verify.json").read_text())
    assert all(s["exact"] == 100 for s in v["stages"]), v["stages"]


def test_a_run_stopped_early_is_still_cut_to_the_design_widths(mnist_dir):
    """--max-steps can end training before the schedule does: finish prunes the rest, exactly."""
    from fpgaflow.core.data import load_split
    from fpgaflow.frontends.brevitas.model import build_model
    from fpgaflow.train.prune import ChannelPruner
    from fpgaflow.train.loop import calibrate

    spec = _channel_spec("lenet")
    images, _ = load_split(mnist_dir, "test")
    x = images[:200, None].astype("float32") / 256
    torch.manual_seed(0)
    full = build_model(spec, as_trained=True)
    calibrate(full, x, seed=0, batch=8)
    pruner = ChannelPruner(full, spec, total_steps=100)
    pruner.apply(20)
    assert [int(k.sum()) for k in pruner.keep.values()] == [15, 38, 378]  # partway along the schedule
    small, info = pruner.finish(spec, full.state_dict(), x)
    assert info == {"channels_trained_kept": {"conv1": [20, 10], "conv2": [50, 25], "fc1": [500, 250]},
                    "compaction_exact_images": 200}
    assert small["1.weight"].shape == (10, 1, 5, 5)
