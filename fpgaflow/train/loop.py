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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from ..core.atomic import atomic_write_bytes
from ..core.errors import FpgaflowError
from ..core.spec import Design
from ..frontends.brevitas.model import build_model, deployed_state
from .common import Split, load_data, random_shift, train_config, write_metrics
from .distributed import Context, Pipeline, average_replicated_grads, context, finish, full_state_dict, wrap


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(torch.from_numpy(x[i:i + batch]))
            correct += int((logits.argmax(1).numpy() == y[i:i + batch]).sum())
    return correct / max(len(x), 1)


def evaluate_state(design: Design, state: dict, x: np.ndarray, y: np.ndarray, as_trained: bool = True) -> float:
    model = build_model(design.spec, as_trained=as_trained)
    model.load_state_dict(state)
    return evaluate(model, x, y)


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


@dataclass
class Run:
    """One training run: what `setup` builds and the loop's parts (step, checkpoint, evaluate) use."""
    ctx: Context
    design: Design
    cfg: dict
    data: Split
    ckpt_dir: Path
    model: nn.Module
    net: nn.Module                 # the model as this process trains it (DDP/FSDP wrapper, pipeline stage)
    pipeline: Pipeline | None
    opt: torch.optim.Optimizer
    sched: object
    pruner: object | None
    teacher: nn.Module | None
    per_step: int                  # images per optimizer step, all processes together
    steps_per_epoch: int
    total: int                     # optimizer steps of the whole schedule
    start: dict                    # position to start from: epoch, step, global_step
    global_step: int = 0
    autocast: object = None
    loss_fn: nn.Module = field(default_factory=nn.CrossEntropyLoss)


def _options(ctx: Context, design: Design, epochs, seed, batch, accum, amp, parallel, resume, distill) -> dict:
    """The run's settings: the design's train section with the command's overrides, checked."""
    cfg = train_config(design, epochs)
    cfg.update(seed=cfg["seed"] if seed is None else seed, batch_size=batch or cfg["batch_size"], accum=accum,
               amp=amp, world=ctx.world, parallel=parallel or ("ddp" if ctx.active else "none"))
    if accum < 1:
        raise FpgaflowError(f"--accum {accum}: must be >= 1")
    if cfg["parallel"] == "none" and ctx.active:
        raise FpgaflowError("several processes need a parallel mode: ddp, fsdp or pipeline")
    if resume and cfg["parallel"] in ("fsdp", "pipeline"):
        raise FpgaflowError(f"--resume works with one process or ddp, not {cfg['parallel']}")
    if not distill:
        cfg["distill"] = {**cfg["distill"], "alpha": 0.0}
    return cfg


def _load_checkpoint(resume, design: Design, model: nn.Module) -> dict:
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
    return ckpt


def setup(ctx: Context, design: Design, cfg: dict, checkpoint_dir, resume) -> Run:
    """Data, teacher, model (calibrated, or restored from a checkpoint), wrapped for the
    parallel mode, with its optimizer, schedule and pruner: everything before the first step."""
    parallel = cfg["parallel"]
    data = load_data(design, cfg)
    ckpt_dir = Path(checkpoint_dir or Path("build") / design.name / "train")
    teacher = None
    if cfg["distill"]["alpha"] > 0:
        from .distill import check_supported, teacher as train_teacher

        check_supported(parallel)
        teacher = train_teacher(design, data, cfg, ckpt_dir.parent / "teacher").to(ctx.device)

    torch.manual_seed(cfg["seed"])
    model = build_model(design.spec, as_trained=True).to(ctx.device)
    start = {"epoch": 1, "step": 0, "global_step": 0}
    ckpt = _load_checkpoint(resume, design, model) if resume else None
    if ckpt is not None:
        start = {k: ckpt[k] for k in start}
    else:
        # calibration is the same whatever --batch says: the design's batch size
        calibrate(model, data.x[:data.n_train], cfg["seed"], design.spec["train"]["batch_size"], ctx.device)

    pipeline = Pipeline(model, ctx) if parallel == "pipeline" else None
    dp_world = 1 if pipeline else ctx.world
    net = pipeline.stage if pipeline else wrap(model, parallel, ctx)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=cfg["lr"],
                           weight_decay=cfg["weight_decay"])
    per_step = cfg["batch_size"] * cfg["accum"] * dp_world
    steps_per_epoch = data.n_train // per_step
    if steps_per_epoch == 0:
        raise FpgaflowError(f"a global batch of {per_step} images is larger than the {data.n_train} training images")
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
    if ctx.main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    return Run(ctx, design, cfg, data, ckpt_dir, model, net, pipeline, opt, sched, pruner, teacher, per_step,
               steps_per_epoch, total, start, start["global_step"], _autocast(cfg["amp"], ctx.device))


def _micro_loss(run: Run, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    with run.autocast():
        if run.teacher is None:
            return run.loss_fn(run.net(xb), yb)
        from .distill import kd_loss

        with torch.no_grad():
            soft = run.teacher(xb)
        kd = run.cfg["distill"]
        return kd_loss(run.net(xb), yb, soft, kd["alpha"], kd["temperature"])


def step(run: Run, batches: list, rng: np.random.Generator) -> float:
    """One optimizer step over `accum` micro-batches (index tensors); returns the mean loss."""
    x, y, cfg, accum = run.data.x, run.data.y, run.cfg, run.cfg["accum"]
    run.opt.zero_grad(set_to_none=True)
    step_loss = 0.0
    for k, idx in enumerate(batches):
        xb_np = x[idx.numpy()]
        if cfg["shift"]:
            xb_np = random_shift(xb_np, cfg["shift"], rng)
        xb, yb = torch.from_numpy(xb_np).to(run.ctx.device), torch.from_numpy(y[idx.numpy()]).to(run.ctx.device)
        if run.pipeline:
            loss = run.pipeline.step(xb, yb, run.loss_fn, 1.0 / accum, run.autocast)
            step_loss += (loss or 0.0) / accum
            continue
        # DDP averages gradients on the last micro-batch only
        sync = contextlib.nullcontext() if k == accum - 1 or cfg["parallel"] != "ddp" else run.net.no_sync()
        with sync:
            loss = _micro_loss(run, xb, yb)
            (loss / accum).backward()
        step_loss += float(loss.detach()) / accum
    if cfg["parallel"] == "fsdp":
        average_replicated_grads(run.net, run.ctx)
    run.opt.step()
    run.sched.step()
    run.global_step += 1
    if run.pruner is not None:
        run.pruner.apply(run.global_step)
    return step_loss


def snapshot(run: Run) -> dict:
    return full_state_dict(run.net, run.cfg["parallel"]) if not run.pipeline else run.pipeline.full_state_dict()


def checkpoint(run: Run, epoch: int, step_in_epoch: int) -> dict:
    """The full state (collective under FSDP and the pipeline); rank 0 writes it with the position."""
    state = snapshot(run)
    if run.ctx.main:
        buf = io.BytesIO()
        torch.save({"epoch": epoch, "step": step_in_epoch, "global_step": run.global_step, "model": state,
                    "optimizer": run.opt.state_dict(), "scheduler": run.sched.state_dict(), "train": run.cfg}, buf)
        atomic_write_bytes(run.ckpt_dir / "checkpoint.pt", buf.getvalue())
    return state


def train(design: Design, out_dir: Path | None = None, epochs: int | None = None,
          checkpoint_dir: Path | None = None, progress: bool = True, *, seed: int | None = None,
          batch: int | None = None, max_steps: int | None = None, accum: int = 1, amp: bool = False,
          parallel: str | None = None, resume: Path | None = None, distill: bool = True) -> dict | None:
    ctx = context()
    try:
        cfg = _options(ctx, design, epochs, seed, batch, accum, amp, parallel, resume, distill)
        run = setup(ctx, design, cfg, checkpoint_dir, resume)
        return _epochs(run, Path(out_dir or design.dir), max_steps, progress)
    finally:
        finish(ctx)


def _epochs(run: Run, out_dir: Path, max_steps: int | None, progress: bool) -> dict | None:
    """The epoch loop: steps, a checkpoint and a validation per epoch, the best epoch kept."""
    from tqdm import tqdm

    ctx, cfg, data = run.ctx, run.cfg, run.data
    dp_world, dp_rank = (1, 0) if run.pipeline else (ctx.world, ctx.rank)
    rng = np.random.default_rng(cfg["seed"])
    dataset = TensorDataset(torch.arange(data.n_train))
    sampler = DistributedSampler(dataset, num_replicas=dp_world, rank=dp_rank, shuffle=True, seed=cfg["seed"],
                                 drop_last=True)
    best = {"val_accuracy": -1.0, "epoch": 0, "state": None}
    history, seen, running, state = [], 0, None, None
    limit = max_steps if max_steps is not None else run.total
    has_val = len(data.x) > data.n_train
    t0 = time.time()
    epoch = run.start["epoch"]
    while epoch <= cfg["epochs"] and run.global_step < limit:
        sampler.set_epoch(epoch)
        loader = list(DataLoader(dataset, batch_size=cfg["batch_size"], sampler=sampler, drop_last=True))
        first = run.start["step"] if epoch == run.start["epoch"] else 0
        bar = tqdm(range(first, run.steps_per_epoch), desc=f"epoch {epoch}/{cfg['epochs']}", unit="step",
                   disable=not (progress and ctx.main))
        run.net.train()
        i = first
        for i in bar:
            if run.global_step >= limit:
                break
            loss = step(run, [loader[i * cfg["accum"] + k][0] for k in range(cfg["accum"])], rng)
            seen += run.per_step
            running = loss if running is None else 0.98 * running + 0.02 * loss
            if i % 50 == 0:
                bar.set_postfix(loss=f"{running:.4f}")
        else:
            i = run.steps_per_epoch
        done_epoch = i >= run.steps_per_epoch
        state = checkpoint(run, epoch + 1 if done_epoch else epoch, 0 if done_epoch else i)
        if not done_epoch:
            break
        val = evaluate_state(run.design, state, data.x[data.n_train:], data.y[data.n_train:]) \
            if ctx.main and has_val else float("nan")
        history.append({"epoch": epoch, "loss": None if running is None else round(running, 5), "val_accuracy": val})
        if ctx.main:
            print(f"epoch {epoch}: loss {running:.4f}, val accuracy {val:.4f}", flush=True)
            # a pruned design keeps only epochs that reached its full sparsity
            pruned = run.pruner is None or run.pruner.target(run.global_step) >= run.pruner.sparsity
            if pruned and (not has_val or val >= best["val_accuracy"]):
                best = {"val_accuracy": val, "epoch": epoch, "state": state}
        epoch += 1
    seconds = time.time() - t0
    if state is None:  # --max-steps 0: the initial (calibrated) state
        state = snapshot(run)
    if not ctx.main:
        return None
    final = best["state"] if best["state"] is not None and max_steps is None else state
    return _save(run, out_dir, final, best, history, seconds, seen)


def _save(run: Run, out_dir: Path, final: dict, best: dict, history: list, seconds: float, seen: int) -> dict:
    """The weights the hardware gets (channel pruning cuts its channels out here), their test
    accuracy, weights.pt and metrics.json."""
    design, data, extra = run.design, run.data, {}
    final = deployed_state(design.spec, final)  # batch normalizations folded into their layers
    if run.pruner is not None:
        final, extra = run.pruner.finish(design.spec, final, data.x_test)
    test_acc = evaluate_state(design, final, data.x_test, data.y_test, as_trained=False)  # the deployed network
    out_dir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(final, buf)
    atomic_write_bytes(out_dir / "weights.pt", buf.getvalue())
    if run.teacher is not None:
        from .distill import teacher_accuracy

        extra["teacher_test_accuracy"] = teacher_accuracy(run.ckpt_dir.parent / "teacher")
    return write_metrics(design, out_dir, data, run.cfg, test_acc, best["val_accuracy"], best["epoch"], history, seconds,
                         torch=torch.__version__, steps=run.global_step, images_per_s=round(seen / max(seconds, 1e-9), 1),
                         **extra)
