"""Default reuse factors: the rule that keeps every design inside its part.

A weighted layer with n_in x n_out weights (a convolution: kernel_h*kernel_w*C_in x C_out)
and reuse factor R asks for ceil(n_in*n_out / R) parallel multipliers. The rule: one target
R = ceil(total weights / DSPs of the part), then each layer takes the smallest reuse factor
that hls4ml accepts and that is >= min(target, n_in*n_out). The sum of multipliers over all
layers is then at most the part's DSP count, so no layer (nor all together) asks for more
multipliers than the part has.
"""
from __future__ import annotations

import math
from typing import Callable

from ...core.errors import FpgaflowError

Validator = Callable[[int, int, int], bool]


def multipliers(n_in: int, n_out: int, rf: int) -> int:
    return math.ceil(n_in * n_out / rf)


def smallest_valid_at_least(n_in: int, n_out: int, lower: int, valid: Validator) -> int:
    for rf in range(max(1, lower), n_in * n_out + 1):
        if valid(n_in, n_out, rf):
            return rf
    return n_in * n_out  # always valid: one multiplier, all weights in sequence


def valid_near(n_in: int, n_out: int, rf: int, valid: Validator, count: int = 3) -> list[int]:
    below = [r for r in range(rf, 0, -1) if valid(n_in, n_out, r)][:count]
    above = [r for r in range(rf, n_in * n_out + 1) if valid(n_in, n_out, r)][:count]
    return sorted(set(below + above))


def choose_reuse(layers: list[tuple[str, int, int]], dsp: int, requested, valid: Validator) -> dict[str, int]:
    """Reuse factor per layer name. `requested` is 'auto', one int, or {name: int} (others auto)."""
    total = sum(n_in * n_out for _, n_in, n_out in layers)
    target = max(1, math.ceil(total / max(dsp, 1)))
    chosen = {}
    for name, n_in, n_out in layers:
        want = requested.get(name) if isinstance(requested, dict) else (requested if isinstance(requested, int) else None)
        if want is None:
            chosen[name] = smallest_valid_at_least(n_in, n_out, min(target, n_in * n_out), valid)
            continue
        if not valid(n_in, n_out, want):
            raise FpgaflowError(f"hls4ml.reuse_factor: {want} is not valid for layer {name} ({n_in}x{n_out} weights); "
                                f"valid values near it: {valid_near(n_in, n_out, want, valid)}")
        if multipliers(n_in, n_out, want) > dsp:
            raise FpgaflowError(f"hls4ml.reuse_factor: layer {name} with reuse factor {want} needs "
                                f"{multipliers(n_in, n_out, want)} parallel multipliers, the part has {dsp} DSPs")
        chosen[name] = want
    return chosen
