"""Multi-process training on PyTorch's own engine: torchrun launches, torch.distributed talks.

`launch` re-runs the same `fpgaflow train` command under torchrun (gloo on CPU, NCCL on
CUDA); each process then finds RANK/WORLD_SIZE in its environment (`context`). The model
wrappers (`wrap`) give every parallel mode the same training loop:
- ddp: DistributedDataParallel, gradients averaged over ranks;
- fsdp: FSDP2 `fully_shard` (parameters sharded). FSDP2 refuses 0-d parameters, and
  Brevitas' learned activation scales are 0-d: those stay replicated and their gradients
  are averaged here, so the quantizers survive the wrapping;
- pipeline: an explicit 2-stage split of the Sequential model over 2 ranks, activations (a
  QuantTensor's value and scale) sent forward and their gradients sent back.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..core.errors import FpgaflowError

PARALLEL = ("ddp", "fsdp", "pipeline")


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def context() -> Context:
    """Join the process group torchrun set up (or run alone)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Context()
    cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    return Context(dist.get_rank(), dist.get_world_size(), f"cuda:{local}" if cuda else "cpu")


def finish(ctx: Context) -> None:
    if ctx.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def launch(argv: list[str], nproc: int, nnodes: int = 1, node_rank: int = 0, rdzv_endpoint: str | None = None) -> int:
    """Run `fpgaflow <argv>` in nproc processes per node under torchrun; returns its exit code."""
    if nnodes > 1 and not rdzv_endpoint:
        raise FpgaflowError("--nnodes > 1 needs --rdzv-endpoint HOST:PORT (the same on every node)")
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}"]
    if nnodes == 1:
        cmd.append("--standalone")
    else:
        cmd += [f"--nnodes={nnodes}", f"--node_rank={node_rank}", "--rdzv_backend=c10d",
                f"--rdzv_endpoint={rdzv_endpoint}", "--rdzv_id=fpgaflow"]
    cmd += ["-m", "fpgaflow", *argv]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(cmd, env=env).returncode


# ---- data-parallel wrappers
def wrap(model: nn.Module, parallel: str, ctx: Context) -> nn.Module:
    if not ctx.active:
        return model
    if parallel == "ddp":
        return nn.parallel.DistributedDataParallel(model, device_ids=None if ctx.device == "cpu" else [ctx.device])
    if parallel == "fsdp":
        from torch.distributed.fsdp import fully_shard

        fully_shard(model, ignored_params=set(replicated_params(model)))
        return model
    raise FpgaflowError(f"unknown parallel mode '{parallel}'")


def replicated_params(model: nn.Module) -> list:
    # a list in registration order, never a set: every rank must all-reduce them in the same order
    return [p for p in model.parameters() if p.dim() == 0]


def average_replicated_grads(model: nn.Module, ctx: Context) -> None:
    """FSDP leaves the 0-d (ignored) parameters alone: average their gradients like DDP would."""
    for p in replicated_params(model):
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= ctx.world


def full_state_dict(model: nn.Module, parallel: str) -> dict:
    """The whole model's state dict on every rank (collective for fsdp)."""
    from torch.distributed.tensor import DTensor

    if parallel == "ddp" and isinstance(model, nn.parallel.DistributedDataParallel):
        model = model.module
    return {k: (v.full_tensor() if isinstance(v, DTensor) else v).detach().cpu().clone()
            for k, v in model.state_dict().items()}


# ---- 2-stage pipeline
def split_point(model: nn.Sequential) -> int:
    """Cut after the module that ends the first half of the parameters (by count)."""
    if not isinstance(model, nn.Sequential):
        raise FpgaflowError("--parallel pipeline cuts a chain in two; this design branches or folds a batchnorm "
                            "(use ddp or fsdp)")
    total = sum(p.numel() for p in model.parameters())
    seen = 0
    for i, m in enumerate(model):
        seen += sum(p.numel() for p in m.parameters())
        if seen * 2 >= total and 0 < i + 1 < len(model):
            return i + 1
    return len(model) // 2


class Pipeline:
    """Rank 0 runs model[:k], rank 1 runs model[k:] and the loss; one micro-batch at a time."""

    def __init__(self, model: nn.Sequential, ctx: Context):
        if ctx.world != 2:
            raise FpgaflowError(f"--parallel pipeline runs 2 stages on 2 processes (--nproc 2), got {ctx.world}")
        self.ctx, self.cut = ctx, split_point(model)
        self.stage = model[:self.cut] if ctx.rank == 0 else model[self.cut:]

    def step(self, x: torch.Tensor, y: torch.Tensor, loss_fn, scale: float, autocast) -> float | None:
        """Forward and backward of one micro-batch; rank 1 returns the loss."""
        if self.ctx.rank == 0:
            with autocast():
                out = self.stage(x)
            value, qscale = out.value, out.scale
            meta = torch.tensor([float(out.zero_point), float(out.bit_width), float(out.signed)])
            header = torch.zeros(8, dtype=torch.long)  # fixed size: ndim, then the shape
            header[0], header[1:1 + value.dim()] = value.dim(), torch.tensor(list(value.shape))
            for t in (header, value.detach().float(),
                      qscale.detach().float().reshape(1), meta):
                dist.send(t.contiguous(), 1)
            grads = [torch.empty_like(value, dtype=torch.float32), torch.empty(1)]
            for g in grads:
                dist.recv(g, 1)
            pairs = [(t, g) for t, g in ((value.float(), grads[0]), (qscale.reshape(1), grads[1])) if t.requires_grad]
            if pairs:
                torch.autograd.backward([t for t, _ in pairs], [g for _, g in pairs])
            return None
        from brevitas.quant_tensor import IntQuantTensor

        header = torch.empty(8, dtype=torch.long)
        dist.recv(header, 0)
        shape = header[1:1 + int(header[0])].tolist()
        value, qscale, meta = torch.empty(*shape), torch.empty(1), torch.empty(3)
        for t in (value, qscale, meta):
            dist.recv(t, 0)
        value.requires_grad_(True)
        qscale.requires_grad_(True)
        qt = IntQuantTensor(value, qscale.reshape(()), torch.tensor(meta[0].item()), torch.tensor(meta[1].item()),
                            bool(meta[2].item()), self.stage.training)
        with autocast():
            loss = loss_fn(self.stage(qt), y)
        (loss * scale).backward()
        for g in (value.grad if value.grad is not None else torch.zeros_like(value),
                  (qscale.grad if qscale.grad is not None else torch.zeros(1)).reshape(1)):
            dist.send(g.contiguous().float(), 0)
        return float(loss)

    def full_state_dict(self) -> dict:
        own = {k: v.detach().cpu().clone() for k, v in self.stage.state_dict().items()}
        parts = [None, None]
        dist.all_gather_object(parts, own)
        return {**parts[0], **parts[1]}
