"""Quantization-aware training: the Brevitas loop (loop.py: calibrate, wrap, step, evaluate,
checkpoint) on PyTorch's own distributed engine (distributed.py), the QKeras trainer
(qkeras.py), what both share (common.py), pruning (prune.py), distillation (distill.py) and
the command's flags (options.py)."""
