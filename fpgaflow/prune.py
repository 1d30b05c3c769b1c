"""Magnitude pruning during quantization-aware training.

A design's `prune: {kind: magnitude, sparsity: s, start: a, end: b}` zeroes, in every weighted
layer, the fraction of weights with the smallest magnitude. The fraction follows Zhu & Gupta's
cubic schedule from 0 at a x total steps to s at b x total steps, so the network adapts as
weights go; a mask re-applied after every optimizer step keeps pruned weights at zero (Adam
would otherwise move them again). A float weight of exactly 0 quantizes to exactly 0, so the
trained model's quantized weights have the same zeros, which hls4ml counts (n_zeros) and,
with the Latency strategy, leaves without a multiplier.
"""
from __future__ import annotations

import torch
from torch import nn

from .models import quant_layers


class MagnitudePruner:
    def __init__(self, model: nn.Module, prune: dict, total_steps: int):
        self.layers = quant_layers(model)
        self.sparsity, self.total = prune["sparsity"], max(1, total_steps)
        self.start, self.end = prune["start"] * self.total, max(prune["end"] * self.total, prune["start"] * self.total + 1)
        self.masks = [torch.ones_like(m.weight, dtype=torch.bool) for m in self.layers]

    def target(self, step: int) -> float:
        progress = min(max((step - self.start) / (self.end - self.start), 0.0), 1.0)
        return self.sparsity * (1.0 - (1.0 - progress) ** 3)

    @torch.no_grad()
    def apply(self, step: int) -> None:
        """Masks for this step's target sparsity (the smallest |w| of each layer), applied."""
        s = self.target(step)
        for i, m in enumerate(self.layers):
            w = m.weight
            k = int(round(s * w.numel()))
            if k > 0:
                # pruned weights rank lowest, so they stay pruned and exactly k are zero;
                # ties are broken by position, the same in every process
                score = torch.where(self.masks[i], w.detach().abs(), torch.full_like(w, -1.0)).flatten()
                mask = torch.ones(w.numel(), dtype=torch.bool, device=w.device)
                mask[torch.topk(score, k, largest=False, sorted=False).indices] = False
                self.masks[i] = mask.view_as(w)
            w.mul_(self.masks[i])


def quantized_sparsity(model: nn.Module) -> dict[str, float]:
    """Fraction of exactly-zero quantized weights per weighted layer (in model order)."""
    out = {}
    for i, m in enumerate(quant_layers(model)):
        q = m.quant_weight().value
        out[f"{i}:{type(m).__name__}"] = round(float((q == 0).float().mean()), 4)
    return out
