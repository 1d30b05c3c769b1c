"""Knowledge distillation: the loss, the cached float teacher, and KD training through the CLI
on a small real-MNIST subset (written as IDX files; nothing downloaded)."""
import json

import pytest
import torch
from conftest import run_cli, small_world

from fpgaflow.frontends.brevitas.float_model import build_float_model
from fpgaflow.train.distill import kd_loss


def test_kd_loss_parts():
    torch.manual_seed(0)
    s, t = torch.randn(8, 10), torch.randn(8, 10)
    y = torch.randint(0, 10, (8,))
    ce = torch.nn.functional.cross_entropy(s, y)
    assert torch.allclose(kd_loss(s, y, t, 0.0, 4.0), ce)
    # a student equal to its teacher pays only the hard part
    assert torch.allclose(kd_loss(s, y, s, 0.5, 4.0), 0.5 * ce, atol=1e-6)
    assert kd_loss(s, y, t, 1.0, 2.0) > 0


def test_float_teacher_has_the_design_shape(lenet):
    model = build_float_model(lenet.spec)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert not any("Quant" in type(m).__name__ for m in model.modules())


@pytest.mark.slow
def test_distilled_training_and_the_comparison_run(tmp_path, mnist_dir):
    tmp, env = small_world(tmp_path, mnist_dir, "lenet_w2a2", n_train=1000, n_test=200, epochs=1, val_size=200,
                           distill={"alpha": 0.5, "temperature": 4.0, "teacher_epochs": 1})
    build = tmp / "build"
    r = run_cli("train", "lenet_w2a2", "--out", str(tmp / "kd"), "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "teacher (float): test accuracy" in r.stdout
    kd = json.loads((tmp / "kd" / "metrics.json").read_text())
    assert kd["train"]["distill"]["alpha"] == 0.5 and 0 < kd["teacher_test_accuracy"] <= 1
    teacher = build / "lenet_w2a2" / "teacher" / "teacher.pt"
    stamp = teacher.stat().st_mtime_ns
    # same seed and epochs without the teacher: the comparison run; the cached teacher is untouched
    r = run_cli("train", "lenet_w2a2", "--no-distill", "--out", str(tmp / "plain"), "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    plain = json.loads((tmp / "plain" / "metrics.json").read_text())
    assert plain["train"]["distill"]["alpha"] == 0.0 and "teacher_test_accuracy" not in plain
    assert teacher.stat().st_mtime_ns == stamp
    a = torch.load(tmp / "kd" / "weights.pt", weights_only=True)
    b = torch.load(tmp / "plain" / "weights.pt", weights_only=True)
    assert any(not torch.equal(a[k], b[k]) for k in a)  # the teacher changed what was learned
    # a second distilled run reuses the cached teacher
    r = run_cli("train", "lenet_w2a2", "--out", str(tmp / "kd2"), "--no-progress", build=build, env=env)
    assert r.returncode == 0 and "teacher epoch" not in r.stdout and teacher.stat().st_mtime_ns == stamp
    a2 = torch.load(tmp / "kd2" / "weights.pt", weights_only=True)
    assert all(torch.equal(a[k], a2[k]) for k in a)  # deterministic


def test_distillation_refuses_parallel_modes(tmp_path, mnist_dir):
    tmp, env = small_world(tmp_path, mnist_dir, "lenet_w2a2")
    r = run_cli("train", "lenet_w2a2", "--nproc", "2", "--max-steps", "1", "--no-progress", build=tmp / "b", env=env)
    assert r.returncode == 2 and "distillation trains with one process" in r.stderr
