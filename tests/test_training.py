"""Training at scale, checked by equivalence, not claimed: after 20 steps from the same seed,
2 DDP processes x batch b, 1 process x accum 2 x batch b, 1 process x batch 2b, FSDP and a
2-stage pipeline all give the same parameters (1e-5) and the same quantized weights. The
multi-process runs are real torchrun jobs with gloo on this CPU."""
import json
import os
import shutil

import pytest
import torch

from conftest import ROOT, run_cli
from fpgaflow.frontends.brevitas.model import build_model
from fpgaflow.core.spec import load_design

pytestmark = pytest.mark.slow
STEPS, B, SEED = 20, 16, 5


def train(tmp, name, *flags, steps=STEPS):
    out = tmp / name
    r = run_cli("train", "lenet", "--max-steps", str(steps), "--seed", str(SEED), "--no-progress", "--out", str(out),
                *flags, build=tmp / f"build-{name}")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return torch.load(out / "weights.pt", weights_only=True), json.loads((out / "metrics.json").read_text())


def quantized_weights(state):
    model = build_model(load_design("lenet").spec)
    model.load_state_dict(state)
    model.eval()
    out = {}
    for name, m in model.named_modules():
        if hasattr(m, "quant_weight"):
            q = m.quant_weight()
            out[name] = (q.value / q.scale).round().to(torch.int64)
    return out


def assert_same(a, b):
    assert set(a) == set(b)
    diff = max(float((a[k].double() - b[k].double()).abs().max()) for k in a)
    assert diff <= 1e-5, diff
    qa, qb = quantized_weights(a), quantized_weights(b)
    assert all(torch.equal(qa[k], qb[k]) for k in qa)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """1 process, batch 2b: the run every other mode must reproduce"""
    return train(tmp_path_factory.mktemp("ref"), "batch2b", "--batch", str(2 * B))


def test_reference_really_trained(reference, tmp_path):
    state, metrics = reference
    assert metrics["steps"] == STEPS and metrics["train"]["batch_size"] == 2 * B
    init, _ = train(tmp_path, "init", "--batch", str(2 * B), steps=0)
    assert max(float((state[k] - init[k]).abs().max()) for k in state) > 1e-4  # 20 warm-up steps moved the weights


def test_accumulation_equals_the_large_batch(reference, tmp_path):
    state, m = train(tmp_path, "accum", "--batch", str(B), "--accum", "2")
    assert m["train"]["accum"] == 2
    assert_same(reference[0], state)


def test_ddp_two_processes_equals_the_large_batch(reference, tmp_path):
    state, m = train(tmp_path, "ddp", "--batch", str(B), "--nproc", "2")
    assert m["train"]["world"] == 2 and m["train"]["parallel"] == "ddp"
    assert_same(reference[0], state)


def test_fsdp_equals_the_large_batch(reference, tmp_path):
    state, m = train(tmp_path, "fsdp", "--batch", str(B), "--nproc", "2", "--parallel", "fsdp")
    assert m["train"]["parallel"] == "fsdp"
    assert_same(reference[0], state)


def test_pipeline_equals_the_large_batch(reference, tmp_path):
    # 2 stages, 2 micro-batches of b per step: the same 2b images per optimizer step
    state, m = train(tmp_path, "pipe", "--batch", str(B), "--accum", "2", "--nproc", "2", "--parallel", "pipeline")
    assert m["train"]["parallel"] == "pipeline"
    assert_same(reference[0], state)


def test_resume_equals_an_uninterrupted_run(reference, tmp_path):
    build = tmp_path / "build-r"
    first = run_cli("train", "lenet", "--max-steps", "9", "--seed", str(SEED), "--batch", str(2 * B), "--no-progress",
                    "--out", str(tmp_path / "half"), build=build)
    assert first.returncode == 0, first.stderr
    ckpt = build / "lenet" / "train" / "checkpoint.pt"
    assert torch.load(ckpt, weights_only=True)["global_step"] == 9
    state, m = train(tmp_path, "resumed", "--batch", str(2 * B), "--resume", str(ckpt))
    assert m["steps"] == STEPS
    assert all(torch.equal(state[k], reference[0][k]) for k in state)  # exactly, not within a tolerance


def test_amp_trained_model_is_bit_exact_in_csim(tmp_path):
    """bf16 autocast trains the float parts; the exported quantized model must still be exact"""
    state, m = train(tmp_path, "amp", "--batch", "64", "--amp", steps=60)
    assert m["train"]["amp"] is True
    designs = tmp_path / "designs"
    shutil.copytree(ROOT / "designs" / "lenet", designs / "lenet")
    shutil.copy(tmp_path / "amp" / "weights.pt", designs / "lenet" / "weights.pt")
    env = {**os.environ, "FPGAFLOW_DESIGNS": str(designs)}
    build = tmp_path / "build-amp"
    assert run_cli("hls", "lenet", build=build, env=env).returncode == 0
    r = run_cli("csim", "lenet", "-n", "200", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((build / "lenet" / "hls4ml" / "verify.json").read_text())
    assert v["exact"] == 200 and v["mismatches"] == 0 and v["accuracy"] > 0.2  # chance is 0.1


def test_bad_combinations_are_clear_errors(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    for args, needle in ((["train", "lenet", "--parallel", "pipeline"], "--parallel pipeline runs 2 stages"),
                         (["train", "lenet", "--resume", str(tmp_path / "bad.pt")], "not a readable training checkpoint"),
                         (["train", "lenet_qkeras", "--nproc", "2"], "for Brevitas designs"),
                         (["train", "lenet", "--nnodes", "2", "--nproc", "2"], "needs --rdzv-endpoint")):
        r = run_cli(*args)
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr
