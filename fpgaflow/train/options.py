"""The `fpgaflow train` flags, declared once: the CLI's parser, the check that Brevitas-only
flags are not given to other frameworks, and the argv repeated in every torchrun worker are
all read from TRAIN_FLAGS."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from .distributed import PARALLEL


@dataclass(frozen=True)
class Flag:
    name: str                   # the attribute on args (--max-steps -> max_steps)
    help: str
    type: type | None = None    # None: an on/off switch
    default: object = None
    choices: tuple | None = None
    scaled: bool = False        # distributed and scaled training: Brevitas designs only
    worker: bool = True         # repeated in every torchrun worker (the launch flags are not)

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


TRAIN_FLAGS = (
    Flag("epochs", "override train.epochs of the design", int),
    Flag("out", "folder for the weights and metrics.json (default: the design's folder)", str),
    Flag("seed", "override train.seed", int, scaled=True),
    Flag("batch", "images per process and micro-step (default: train.batch_size)", int, scaled=True),
    Flag("max_steps", "stop after this many optimizer steps (0: write the initial state)", int, scaled=True),
    Flag("accum", "gradient accumulation: micro-steps per optimizer step", int, 1, scaled=True),
    Flag("amp", "mixed precision (bf16 autocast on CPU; fp16/bf16 on CUDA)", scaled=True),
    Flag("nproc", "processes per node, launched with torchrun (gloo on CPU, NCCL on GPU)", int, 1, worker=False),
    Flag("parallel", "with --nproc > 1: ddp (default), fsdp (sharded parameters) or pipeline (2 stages)", str,
         choices=PARALLEL, scaled=True),
    Flag("nnodes", "machines taking part (multi-node, as torchrun)", int, 1, worker=False),
    Flag("node_rank", "this machine's rank, 0 .. nnodes-1", int, 0, worker=False),
    Flag("rdzv_endpoint", "HOST:PORT of the rendezvous, the same on every node", str, worker=False),
    Flag("resume", "checkpoint to continue from (build/<design>/train/checkpoint.pt)", str, scaled=True),
    Flag("no_distill", "train without the float teacher even where train.distill.alpha > 0 (for comparisons)"),
    Flag("no_progress", "no progress bar"),
)


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    for f in TRAIN_FLAGS:
        if f.type is None:
            parser.add_argument(f.option, action="store_true", help=f.help)
        else:
            parser.add_argument(f.option, type=f.type, default=f.default, choices=f.choices, help=f.help)


def _given(args, f: Flag) -> bool:
    # 0 (--max-steps 0) is a value, not an absence
    value = getattr(args, f.name)
    return value is not None and value is not False and value != f.default


def scaled_given(args) -> dict:
    """The Brevitas-only flags given, as keyword arguments of the trainer."""
    return {f.name: getattr(args, f.name) for f in TRAIN_FLAGS if f.scaled and _given(args, f)}


def worker_argv(args) -> list[str]:
    """The train flags to repeat in every torchrun worker."""
    out = []
    for f in TRAIN_FLAGS:
        if f.worker and _given(args, f):
            out += [f.option] if f.type is None else [f.option, str(getattr(args, f.name))]
    return out
