"""Quantization-aware training of a design's Brevitas model: one code path for 1 process,
N data-parallel processes (DDP, FSDP) and a 2-stage pipeline, with gradient accumulation
and mixed precision.

Semantics that make runs comparable (tests check them):
- Global batch = batch x accum x data-parallel processes. Each epoch's order is one seeded
  permutation (DistributedSampler: rank r takes every W-th index), so 2 processes x batch b,
  1 process x accum 2 x batch b, and 1 process x batch 2b see the same images per step and
  take the same optimizer steps.
- Brevitas' activation scales start by collecting statistics for their first forward
  passes (300 here); per-process batches would give each run different statistics. So
  every run first calibrates them on the same fixed batches (`calibrate`), identical in
  every process, and training proper starts from learned parameters.
- Only rank 0 writes weights, metrics, checkpoints and the progress bar. A checkpoint
  holds the position (epoch, step), so a resumed run continues the same sequence.
"""
from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from .atomic import atomic_write_bytes
from .distributed import (Context, Pipeline, average_replicated_grads, context, finish, full_state_dict, wrap)
from .errors import FpgaflowError
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


def stats_modules(model: nn.Module) -> list:
    return [m for m in model.modules() if hasattr(m, "collect_stats_steps") and hasattr(m, "counter")]


def calibrate(model: nn.Module, x: np.ndarray, seed: int, batch: int, device: str = "cpu") -> int:
    """Forward passes (train mode, no gradients) on fixed seeded batches until every
    statistics-initialised scale has become a learned parameter; returns the passes run."""
    mods = stats_modules(model)
    steps = max((m.collect_stats_steps + 1 - m.counter for m in mods), default=0)
    if steps <= 0:
        return 0
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed + 10_000))
    model.train()
    with torch.no_grad():
        for i in range(steps):
            idx = order[(i * batch) % len(x):][:batch]
            model(torch.from_numpy(x[idx.numpy()]).to(device))
    return steps


def _autocast(amp: bool, device: str):
    if not amp:
        return contextlib.nullcontext
    dtype = torch.bfloat16 if device == "cpu" or torch.cuda.is_bf16_supported() else torch.float16
    return lambda: torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=dtype)


def train(design: Design, out_dir: Path | None = None, epochs: int | None = None,
          checkpoint_dir: Path | None = None, progress: bool = True, *, seed: int | None = None,
          batch: int | None = None, max_steps: int | None = None, accum: int = 1, amp: bool = False,
          parallel: str | None = None, resume: Path | None = None, distill: bool = True) -> dict | None:
    ctx = context()
    try:
        return _train(ctx, design, out_dir, epochs, checkpoint_dir, progress, seed, batch, max_steps, accum, amp,
                      parallel, resume, distill)
    finally:
        finish(ctx)


def _train(ctx: Context, design, out_dir, epochs, checkpoint_dir, progress, seed, batch, max_steps, accum, amp,
           parallel, resume, distill):
    from tqdm import tqdm

    cfg = train_config(design, epochs)
    calib_batch = cfg["batch_size"]  # calibration is the same whatever --batch says
    cfg.update(seed=cfg["seed"] if seed is None else seed, batch_size=batch or cfg["batch_size"], accum=accum,
               amp=amp, world=ctx.world, parallel=parallel or ("ddp" if ctx.active else "none"))
    parallel = cfg["parallel"]
    if accum < 1:
        raise FpgaflowError(f"--accum {accum}: must be >= 1")
    if parallel == "none" and ctx.active:
        raise FpgaflowError("several processes need a parallel mode: ddp, fsdp or pipeline")
    if resume and parallel in ("fsdp", "pipeline"):
        raise FpgaflowError(f"--resume works with one process or ddp, not {parallel}")
    out_dir = Path(out_dir or design.dir)
    data = load_data(design, cfg)
    n_train = data.n_train
    x, y = data.x, data.y
    ckpt_dir = Path(checkpoint_dir or Path("build") / design.name / "train")
    if not distill:
        cfg["distill"] = {**cfg["distill"], "alpha": 0.0}
    kd = cfg["distill"]
    teacher_net = None
    if kd["alpha"] > 0:
        from .distill import check_supported, teacher

        check_supported(parallel)
        teacher_net = teacher(design, data, cfg, ckpt_dir.parent / "teacher").to(ctx.device)

    torch.manual_seed(cfg["seed"])
    model = build_model(design.spec, as_trained=True).to(ctx.device)
    start = {"epoch": 1, "step": 0, "global_step": 0}
    ckpt = None
    if resume:
        try:
            ckpt = torch.load(resume, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise FpgaflowError(f"--resume {resume}: no such checkpoint") from None
        except Exception:  # torch raises several types for corrupt files and ones that hold code
            raise FpgaflowError(f"--resume {resume}: not a readable training checkpoint") from None
        try:
            model.load_state_dict(ckpt["model"])
        except (KeyError, TypeError, RuntimeError):
            raise FpgaflowError(f"--resume {resume}: not a checkpoint of {design.name}'s model") from None
        start = {k: ckpt[k] for k in start}
    else:
        calibrate(model, x[:n_train], cfg["seed"], calib_batch, ctx.device)

    pipeline = Pipeline(model, ctx) if parallel == "pipeline" else None
    dp_world, dp_rank = (1, 0) if pipeline else (ctx.world, ctx.rank)
    net = pipeline.stage if pipeline else wrap(model, parallel, ctx)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    per_step = cfg["batch_size"] * accum * dp_world
    steps_per_epoch = n_train // per_step
    if steps_per_epoch == 0:
        raise FpgaflowError(f"a global batch of {per_step} images is larger than the {n_train} training images")
    total = max(1, cfg["epochs"] * steps_per_epoch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=total)
    pruner = None
    if design.spec["prune"]["sparsity"] > 0:
        if parallel in ("fsdp", "pipeline"):
            raise FpgaflowError(f"pruning trains with one process or ddp, not {parallel}")
        from .prune import PRUNERS

        pruner = PRUNERS[design.spec["prune"]["kind"]](model, design.spec, total)
        pruner.apply(start["global_step"])
    if ckpt is not None:
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
    loss_fn = nn.CrossEntropyLoss()
    autocast = _autocast(amp, ctx.device)
    rng = np.random.default_rng(cfg["seed"])
    if ctx.main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)

    dataset = TensorDataset(torch.arange(n_train))
    sampler = DistributedSampler(dataset, num_replicas=dp_world, rank=dp_rank, shuffle=True, seed=cfg["seed"],
                                 drop_last=True)
    best = {"val_accuracy": -1.0, "epoch": 0, "state": None}
    history, seen, global_step = [], 0, start["global_step"]
    limit = max_steps if max_steps is not None else total
    t0 = time.time()
    running = None

    def snapshot():
        return full_state_dict(net, parallel) if not pipeline else pipeline.full_state_dict()

    def save_checkpoint(epoch, step):
        state = snapshot()
        if ctx.main:
            buf = io.BytesIO()
            torch.save({"epoch": epoch, "step": step, "global_step": global_step, "model": state,
                        "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "train": cfg}, buf)
            atomic_write_bytes(ckpt_dir / "checkpoint.pt", buf.getvalue())
        return state

    epoch = start["epoch"]
    state = None
    while epoch <= cfg["epochs"] and global_step < limit:
        sampler.set_epoch(epoch)
        loader = list(DataLoader(dataset, batch_size=cfg["batch_size"], sampler=sampler, drop_last=True))
        first = start["step"] if epoch == start["epoch"] else 0
        bar = tqdm(range(first, steps_per_epoch), desc=f"epoch {epoch}/{cfg['epochs']}", unit="step",
                   disable=not (progress and ctx.main))
        net.train()
        step = first
        for step in bar:
            if global_step >= limit:
                break
            opt.zero_grad(set_to_none=True)
            step_loss = 0.0
            for k in range(accum):
                (idx,) = loader[step * accum + k]
                xb_np = x[idx.numpy()]
                if cfg["shift"]:
                    xb_np = random_shift(xb_np, cfg["shift"], rng)
                xb, yb = torch.from_numpy(xb_np).to(ctx.device), torch.from_numpy(y[idx.numpy()]).to(ctx.device)
                if pipeline:
                    loss = pipeline.step(xb, yb, loss_fn, 1.0 / accum, autocast)
                    step_loss += (loss or 0.0) / accum
                    continue
                sync = contextlib.nullcontext() if k == accum - 1 or parallel != "ddp" else net.no_sync()
                with sync:
                    with autocast():
                        if teacher_net is None:
                            loss = loss_fn(net(xb), yb)
                        else:
                            from .distill import kd_loss

                            with torch.no_grad():
                                soft = teacher_net(xb)
                            loss = kd_loss(net(xb), yb, soft, kd["alpha"], kd["temperature"])
                    (loss / accum).backward()
                step_loss += float(loss.detach()) / accum
            if parallel == "fsdp":
                average_replicated_grads(net, ctx)
            opt.step()
            sched.step()
            global_step += 1
            if pruner is not None:
                pruner.apply(global_step)
            seen += per_step
            running = step_loss if running is None else 0.98 * running + 0.02 * step_loss
            if step % 50 == 0:
                bar.set_postfix(loss=f"{running:.4f}")
        else:
            step = steps_per_epoch
        done_epoch = step >= steps_per_epoch
        state = save_checkpoint(epoch + 1 if done_epoch else epoch, 0 if done_epoch else step)
        if done_epoch:
            val = _validate(design, state, x[n_train:], y[n_train:]) if ctx.main and len(x) > n_train else float("nan")
            history.append({"epoch": epoch, "loss": None if running is None else round(running, 5), "val_accuracy": val})
            if ctx.main:
                print(f"epoch {epoch}: loss {running:.4f}, val accuracy {val:.4f}", flush=True)
                # a pruned design keeps only epochs that reached its full sparsity
                pruned = pruner is None or pruner.target(global_step) >= pruner.sparsity
                if pruned and (not len(x) > n_train or val >= best["val_accuracy"]):
                    best = {"val_accuracy": val, "epoch": epoch, "state": state}
            epoch += 1
        else:
            break
    seconds = time.time() - t0
    if state is None:  # --max-steps 0: the initial (calibrated) state
        state = snapshot()
    if not ctx.main:
        return None
    final = best["state"] if best["state"] is not None and max_steps is None else state
    extra = {}
    if pruner is not None:  # the weights the hardware gets: channel pruning cuts its channels out here
        final, extra = pruner.finish(design.spec, final, data.x_test)
    test_acc = _validate(design, final, data.x_test, data.y_test, as_trained=False)  # the deployed network
    out_dir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(final, buf)
    atomic_write_bytes(out_dir / "weights.pt", buf.getvalue())
    if teacher_net is not None:
        from .distill import teacher_accuracy

        extra["teacher_test_accuracy"] = teacher_accuracy(ckpt_dir.parent / "teacher")
    return write_metrics(design, out_dir, data, cfg, test_acc, best["val_accuracy"], best["epoch"], history, seconds,
                         torch=torch.__version__, steps=global_step, images_per_s=round(seen / max(seconds, 1e-9), 1),
                         **extra)


def _validate(design: Design, state: dict, x: np.ndarray, y: np.ndarray, as_trained: bool = True) -> float:
    model = build_model(design.spec, as_trained=as_trained)
    model.load_state_dict(state)
    return evaluate(model, x, y)
