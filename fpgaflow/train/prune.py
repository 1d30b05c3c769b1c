"""Pruning during quantization-aware training: single weights (magnitude) or whole channels.

A design's `prune: {kind, sparsity: s, start: a, end: b}` picks a pruner from PRUNERS. The
pruned fraction follows Zhu & Gupta's cubic schedule from 0 at a x total steps to s at
b x total steps, so the network adapts as weights go; masks re-applied after every optimizer
step keep pruned weights at zero (Adam would otherwise move them again).

- magnitude: in every weighted layer the fraction s of weights with the smallest |w| is 0. A
  float 0 quantizes to exactly 0, so hls4ml sees the zeros (n_zeros) and, with the Latency
  strategy, leaves them without a multiplier.
- channel: in every conv and dense layer but the last, the fraction s of output channels with
  the smallest L2 norm loses its weights and its bias. Such a channel's activation is then
  exactly 0 (ReLU and floor quantization of 0 are 0), so the weights that read it multiply 0:
  removing the channel, and those weights from the next layer, changes no output bit. When
  training ends `finish` does that removal (`compact_state`), checks on the test images that
  the small network gives exactly the outputs of the masked one, and saves the small one:
  both backends then build the narrower layers of `core.layers.deployed`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.errors import FpgaflowError
from ..core.layers import kept_channels, weighted
from ..frontends.brevitas.model import QUANT_LAYERS, build_model, quant_layers


class _Schedule:
    def __init__(self, prune: dict, total_steps: int):
        self.sparsity, self.total = prune["sparsity"], max(1, total_steps)
        self.start, self.end = prune["start"] * self.total, max(prune["end"] * self.total, prune["start"] * self.total + 1)

    def target(self, step: int) -> float:
        progress = min(max((step - self.start) / (self.end - self.start), 0.0), 1.0)
        return self.sparsity * (1.0 - (1.0 - progress) ** 3)


def _lowest(score: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """A mask with the k lowest-scoring entries off; entries already off rank lowest, so they
    stay off and exactly k are off (ties broken by position, the same in every process)."""
    score = torch.where(mask, score, torch.full_like(score, -1.0))
    new = torch.ones_like(mask)
    new[torch.topk(score, k, largest=False, sorted=False).indices] = False
    return new


class MagnitudePruner(_Schedule):
    def __init__(self, model: nn.Module, spec: dict, total_steps: int):
        super().__init__(spec["prune"], total_steps)
        self.layers = quant_layers(model)
        self.masks = [torch.ones_like(m.weight, dtype=torch.bool) for m in self.layers]

    @torch.no_grad()
    def apply(self, step: int) -> None:
        """Masks for this step's target sparsity (the smallest |w| of each layer), applied."""
        s = self.target(step)
        for i, m in enumerate(self.layers):
            w = m.weight
            k = int(round(s * w.numel()))
            if k > 0:
                self.masks[i] = _lowest(w.detach().abs().flatten(), self.masks[i].flatten(), k).view_as(w)
            w.mul_(self.masks[i])

    def finish(self, spec: dict, state: dict, x_check: np.ndarray) -> tuple[dict, dict]:
        model = build_model(spec)
        model.load_state_dict(state)
        return state, {"quantized_weight_sparsity": quantized_sparsity(model)}


def channel_plan(spec: dict) -> list[dict]:
    """Per weighted layer of the trained network (model order): `prunes` (it drops output
    channels), `follows` (a depthwise layer: the index of the layer whose channels it keeps)
    and `source` (the index of the layer whose channels are its inputs; None: all kept)."""
    plan, owner = [], None
    for layer in weighted(spec, as_trained=True):
        entry = {"name": layer.name, "source": owner, "follows": None, "prunes": layer.prunable}
        if layer.type == "dwconv":
            entry["follows"] = owner
        else:
            owner = len(plan) if entry["prunes"] else None
        plan.append(entry)
    return plan


class ChannelPruner(_Schedule):
    def __init__(self, model: nn.Module, spec: dict, total_steps: int):
        super().__init__(spec["prune"], total_steps)
        self.layers = quant_layers(model)
        self.plan = channel_plan(spec)
        self.keep = {j: torch.ones(m.weight.shape[0], dtype=torch.bool, device=m.weight.device)
                     for j, (m, p) in enumerate(zip(self.layers, self.plan)) if p["prunes"]}

    def out_mask(self, j: int) -> torch.Tensor | None:
        p = self.plan[j]
        return self.keep.get(j if p["prunes"] else p["follows"])

    @torch.no_grad()
    def apply(self, step: int) -> None:
        """Channel masks for this step's target (the smallest L2 norms), applied to weights and biases."""
        s = self.target(step)
        for j, keep in self.keep.items():
            w = self.layers[j].weight
            k = w.shape[0] - kept_channels(w.shape[0], s)
            if k > 0:
                self.keep[j] = _lowest(w.detach().flatten(1).norm(dim=1), keep, k)
        for j, m in enumerate(self.layers):
            mask = self.out_mask(j)
            if mask is not None:
                m.weight.mul_(mask.view(-1, *[1] * (m.weight.dim() - 1)))
                m.bias.mul_(mask)

    def finish(self, spec: dict, state: dict, x_check: np.ndarray) -> tuple[dict, dict]:
        full = build_model(spec, as_trained=True)
        full.load_state_dict(state)
        # the full target's masks: a no-op after a whole schedule, the rest of the cut after a
        # run stopped early (--max-steps), so the design's widths always hold
        ChannelPruner(full, spec, self.total).apply(self.total)
        state = full.state_dict()
        small = compact_state(spec, state)
        model = build_model(spec)
        model.load_state_dict(small)
        equal = _equal_outputs(full.eval(), model.eval(), x_check)
        if equal != len(x_check):
            raise FpgaflowError(f"channel pruning: the compacted network differs from the trained one on "
                                f"{len(x_check) - equal} of {len(x_check)} images (a pruned channel was not silent)")
        widths = {p["name"]: [int(state[f"{name}.weight"].shape[0]), int(small[f"{name}.weight"].shape[0])]
                  for p, name in zip(channel_plan(spec), _layer_names(model)) if p["prunes"]}
        return small, {"channels_trained_kept": widths, "compaction_exact_images": equal}


def _layer_names(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if type(m).__name__ in QUANT_LAYERS]


def compact_state(spec: dict, state: dict) -> dict:
    """The channel-pruned trained state dict of the design's full network -> the state dict of
    its deployed (narrower) network: pruned output channels, and the inputs that read them, cut
    out. Refuses weights whose dropped channels are not all zero (not channel-pruned weights)."""
    plan = channel_plan(spec)
    names = _layer_names(build_model(spec))
    out, keep = dict(state), {}
    for j, (p, name) in enumerate(zip(plan, names)):
        w, b = state[f"{name}.weight"], state[f"{name}.bias"]
        if p["prunes"]:
            score = w.flatten(1).abs().sum(1) + b.abs()
            order = torch.argsort(-score, stable=True)
            n_kept = kept_channels(w.shape[0], spec["prune"]["sparsity"])
            kept, dropped = order[:n_kept], order[n_kept:]
            if bool((score[dropped] != 0).any()):
                raise FpgaflowError(f"channel pruning: layer {p['name']} has {int((score != 0).sum())} live output "
                                    f"channels, the design keeps {len(kept)}: these weights were not channel-pruned")
            keep[j] = torch.sort(kept).values
        rows = keep.get(j if p["prunes"] else p["follows"])
        if rows is not None:
            w, b = w[rows], b[rows]
        src = p["source"]
        if p["follows"] is None and src in keep:
            n_src = state[f"{names[src]}.weight"].shape[0]
            spread = w.shape[1] // n_src  # a dense layer after flatten reads H x W features per channel
            cols = (keep[src][:, None] * spread + torch.arange(spread)[None, :]).flatten()
            w = w[:, cols]
        out[f"{name}.weight"], out[f"{name}.bias"] = w.contiguous(), b.contiguous()
    return out


def _equal_outputs(a: nn.Module, b: nn.Module, x: np.ndarray, batch: int = 1000) -> int:
    """Images on which two models give bit-identical outputs."""
    equal = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(x[i:i + batch])
            equal += int((a(xb) == b(xb)).all(dim=1).sum())
    return equal


PRUNERS = {"magnitude": MagnitudePruner, "channel": ChannelPruner}


def quantized_sparsity(model: nn.Module) -> dict[str, float]:
    """Fraction of exactly-zero quantized weights per weighted layer (in model order)."""
    out = {}
    for i, m in enumerate(quant_layers(model)):
        q = m.quant_weight().value
        out[f"{i}:{type(m).__name__}"] = round(float((q == 0).float().mean()), 4)
    return out
