"""Quantization-aware training of a design's Brevitas model on its dataset.

Seeded and repeatable; the last `val_size` training images pick the best epoch, the test
split is only measured. Writes <out>/weights.pt (a plain state dict) and <out>/metrics.json.
"""
from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .atomic import atomic_write_bytes
from .models import build_model
from .spec import Design
from .train_common import load_data, random_shift, train_config, write_metrics


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(torch.from_numpy(x[i:i + batch]))
            correct += int((logits.argmax(1).numpy() == y[i:i + batch]).sum())
    return correct / max(len(x), 1)


def train(design: Design, out_dir: Path | None = None, epochs: int | None = None,
          checkpoint_dir: Path | None = None, progress: bool = True) -> dict:
    from tqdm import tqdm

    cfg = train_config(design, epochs)
    out_dir = Path(out_dir or design.dir)
    data = load_data(design, cfg)
    n_train, n_val = data.n_train, len(data.x) - data.n_train
    x, y = data.x, data.y

    torch.manual_seed(cfg["seed"])
    np.random.seed(cfg["seed"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    rng = np.random.default_rng(cfg["seed"])
    model = build_model(design.spec)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    steps_per_epoch = (n_train + cfg["batch_size"] - 1) // cfg["batch_size"]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=max(1, cfg["epochs"] * steps_per_epoch))
    loss_fn = nn.CrossEntropyLoss()
    ckpt_dir = Path(checkpoint_dir or Path("build") / design.name / "train")
    ckpt_dir.mkdir(parents=True, exist_ok=True)

    best = {"val_accuracy": -1.0, "epoch": 0, "state": {k: v.clone() for k, v in model.state_dict().items()}}
    history = []
    t0 = time.time()
    xt, yt = torch.from_numpy(x[:n_train]), torch.from_numpy(y[:n_train])
    for epoch in range(1, cfg["epochs"] + 1):
        model.train()
        perm = torch.randperm(n_train, generator=gen)
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{cfg['epochs']}", disable=not progress, unit="batch")
        running = 0.0
        for step in bar:
            idx = perm[step * cfg["batch_size"]:(step + 1) * cfg["batch_size"]]
            opt.zero_grad(set_to_none=True)
            xb = xt[idx] if not cfg["shift"] else torch.from_numpy(random_shift(x[idx.numpy()], cfg["shift"], rng))
            loss = loss_fn(model(xb), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
            if step % 50 == 0:
                bar.set_postfix(loss=f"{running:.4f}")
        val_acc = evaluate(model, x[n_train:], y[n_train:]) if n_val else float("nan")
        history.append({"epoch": epoch, "loss": round(running, 5), "val_accuracy": val_acc})
        print(f"epoch {epoch}: loss {running:.4f}, val accuracy {val_acc:.4f}", flush=True)
        state = model.state_dict()
        torch.save({"epoch": epoch, "model": state, "optimizer": opt.state_dict()}, ckpt_dir / "checkpoint.pt")
        if not n_val or val_acc >= best["val_accuracy"]:
            best = {"val_accuracy": val_acc, "epoch": epoch, "state": {k: v.clone() for k, v in state.items()}}

    model.load_state_dict(best["state"])
    test_acc = evaluate(model, data.x_test, data.y_test)
    out_dir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(best["state"], buf)
    atomic_write_bytes(out_dir / "weights.pt", buf.getvalue())
    return write_metrics(design, out_dir, data, cfg, test_acc, best["val_accuracy"], best["epoch"], history,
                         time.time() - t0, torch=torch.__version__)
