"""Magnitude pruning: the schedule and masks alone, then a pruned design trained on a small
real-MNIST subset, converted by hls4ml and C-simulated bit-exact, with its zero weights
counted in the generated project and fewer multipliers than the same network unpruned."""
import json
import re

import pytest
import torch
from conftest import run_cli, small_world

from fpgaflow.prune import MagnitudePruner


def test_schedule_and_exact_sparsity(lenet):
    from fpgaflow.models import build_model

    torch.manual_seed(0)
    model = build_model(lenet.spec)
    pruner = MagnitudePruner(model, {"sparsity": 0.8, "start": 0.1, "end": 0.6}, total_steps=100)
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
    tmp, env = small_world(tmp_path, mnist_dir, "lenet_pruned", epochs=2, val_size=200)
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
