"""Knowledge distillation: a float teacher of the same architecture guides the quantized student.

The teacher is the design's network with plain float layers (no quantizers), trained once on
the same training split and cached in build/<design>/teacher/ (weights + metrics). The
student's loss is (1 - alpha) x cross-entropy + alpha x T^2 x KL(teacher_T || student_T),
with both logits softened by the temperature T (Hinton et al.), so low-bit students learn
from the teacher's full output distribution instead of the labels alone.
"""
from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..core.atomic import atomic_write_bytes, atomic_write_text
from ..core.errors import FpgaflowError
from ..core.spec import Design
from ..frontends.brevitas.float_model import build_float_model
from .common import Split, random_shift


def kd_loss(student: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor, alpha: float, temperature: float):
    hard = F.cross_entropy(student, labels)
    soft = F.kl_div(F.log_softmax(student / temperature, dim=1), F.log_softmax(teacher / temperature, dim=1),
                    reduction="batchmean", log_target=True)
    return (1 - alpha) * hard + alpha * temperature ** 2 * soft


def _accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        pred = np.concatenate([model(torch.from_numpy(x[i:i + 1000])).argmax(1).numpy() for i in range(0, len(x), 1000)])
    return float((pred == y).mean())


def teacher(design: Design, data: Split, cfg: dict, folder: Path, log=print) -> nn.Module:
    """The float teacher cached in folder, trained first where missing or trained with other settings."""
    d = cfg["distill"]
    folder = Path(folder)
    key = {"layers": design.spec["layers"], "epochs": d["teacher_epochs"], "seed": cfg["seed"],
           "batch_size": cfg["batch_size"], "lr": cfg["lr"], "shift": cfg["shift"], "n_train": data.n_train}
    metrics_path, weights_path = folder / "metrics.json", folder / "teacher.pt"
    torch.manual_seed(cfg["seed"])
    model = build_float_model(design.spec, as_trained=True)
    if metrics_path.is_file() and weights_path.is_file() and json.loads(metrics_path.read_text()).get("key") == key:
        model.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
        return model.eval()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    rng = np.random.default_rng(cfg["seed"] + 1)
    x, y, n = data.x, data.y, data.n_train
    t0 = time.time()
    for epoch in range(d["teacher_epochs"]):
        model.train()
        order = rng.permutation(n)
        for i in range(0, n - cfg["batch_size"] + 1, cfg["batch_size"]):
            idx = order[i:i + cfg["batch_size"]]
            xb = random_shift(x[idx], cfg["shift"], rng) if cfg["shift"] else x[idx]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(torch.from_numpy(xb)), torch.from_numpy(y[idx])).backward()
            opt.step()
        log(f"teacher epoch {epoch + 1}/{d['teacher_epochs']}: val accuracy {_accuracy(model, x[n:], y[n:]):.4f}")
    test = _accuracy(model, data.x_test, data.y_test)
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    atomic_write_bytes(weights_path, buf.getvalue())
    atomic_write_text(metrics_path, json.dumps({"key": key, "test_accuracy": test, "seconds": round(time.time() - t0, 1)},
                                               indent=2) + "\n")
    log(f"teacher (float): test accuracy {test:.4f}")
    return model.eval()


def teacher_accuracy(folder: Path) -> float | None:
    path = Path(folder) / "metrics.json"
    return json.loads(path.read_text())["test_accuracy"] if path.is_file() else None


def check_supported(parallel: str) -> None:
    if parallel != "none":
        raise FpgaflowError(f"distillation trains with one process; --parallel {parallel} is not supported with it "
                            f"(or pass --no-distill)")
