"""What every backend's folding for a throughput/latency target shares: the cycles a target asks
for, the budget (the design's `budget`, 70 % of each resource by default), the result of a
folding (`Fit`), the search for the fastest target that fits, and the one-line refusals."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..core.errors import FpgaflowError
from ..core.parts import part_capacity

DEFAULT_BUDGET = 0.7
REPORTED = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")   # the report schema's resources, in its order


def cycles_per_frame(clock_ns: float, fps: float) -> int:
    """The initiation interval a throughput target asks for: clock cycles per frame."""
    return max(1, int(1e9 / clock_ns / fps))


@dataclass
class Fit:
    target_fps: int
    target_cycles: int
    clock_ns: float
    max_cycles: int
    bottleneck: str
    latency_cycles: int
    resources: dict          # the estimate's totals (null where the estimator has none)
    budget: dict             # what the budget allows of each resource
    available: dict          # the part's capacity
    source: str = "estimate"  # whose estimate, for messages: "FINN estimate", "fpgaflow estimate"
    latency_rule: str = ""    # how latency_cycles is counted, for messages

    @property
    def fps(self) -> float:
        """Frames per second the folding reaches: one frame per bottleneck interval."""
        return 1e9 / self.clock_ns / self.max_cycles

    @property
    def latency_us(self) -> float:
        return self.latency_cycles * self.clock_ns / 1000

    def over(self) -> dict:
        """resource -> used / allowed, for each over its budget."""
        return {r: self.resources[r] / self.budget[r] for r in self.budget
                if self.resources.get(r) is not None and self.budget.get(r) is not None
                and self.resources[r] > self.budget[r]}


def budget_of(design, resources) -> tuple[dict, dict]:
    """(allowed for each of `resources`, the part's capacity of every resource) for the design's
    part and budget."""
    cap = part_capacity(design.spec["target"]["part"])
    fractions = design.spec["budget"]
    return ({r: math.floor(cap[r] * fractions.get(r, DEFAULT_BUDGET)) for r in resources}, _reported(cap))


def fits(fit: Fit) -> bool:
    return fit.max_cycles <= fit.target_cycles and not fit.over()


def fastest_fitting(fold: Callable[[int], Fit], below: int) -> Fit | None:
    """The highest target (frames/s, < `below`) whose folding `fold(fps)` meets it within the
    budget: halved until one fits, then bisected (to 2 %)."""
    lo, hi = None, below
    fps = below // 2
    while fps >= 1:
        fit = fold(fps)
        if fits(fit):
            lo = fit
            break
        hi, fps = fps, fps // 2
    if lo is None:
        return None
    while hi - lo.target_fps > max(1, lo.target_fps // 50):
        mid = (lo.target_fps + hi) // 2
        fit = fold(mid)
        lo, hi = (fit, hi) if fits(fit) else (lo, mid)
    return lo


def fastest_of(fold: Callable[[int], Fit], clock_ns: float) -> tuple[Fit | None, int]:
    """(the fastest folding `fold(fps)` that fits the budget, the frames/s no folding can pass):
    folded for one frame per cycle every layer is at its fastest, which bounds the target; the
    budget may bound it lower."""
    ceiling = int(fold(int(1e9 / clock_ns)).fps)
    fit = fold(ceiling)
    return (fit if fits(fit) else fastest_fitting(fold, ceiling)), ceiling


def refuse_unless_fits(fit: Fit, design, fold: Callable[[int], Fit], advice: dict | None = None) -> None:
    """One line naming why a folding does not meet the design's target: the layer that cannot go
    faster, the resource over budget (with the fastest target that fits, and the backend's
    `advice` for that resource), or the latency."""
    target = fit.target_fps
    clock, part = design.spec["target"]["clock_ns"], design.spec["target"]["part"]
    if fit.max_cycles > fit.target_cycles:
        raise FpgaflowError(
            f"target {target:,} frames/s needs {fit.target_cycles:,} cycles per frame at {clock} ns; "
            f"{fit.bottleneck} cannot go below {fit.max_cycles:,} cycles however it is folded: the fastest this "
            f"design runs is {fit.fps:,.0f} frames/s (--target-fps {int(fit.fps)})")
    over = fit.over()
    if over:
        resource = max(over, key=over.get)
        share = design.spec["budget"].get(resource, DEFAULT_BUDGET)
        fastest = fastest_fitting(fold, target)
        hint = (f"the fastest target that fits is {fastest.target_fps:,} frames/s (--target-fps {fastest.target_fps})"
                if fastest else "no target fits")
        raise FpgaflowError(
            f"target {target:,} frames/s does not fit {part}: it needs {fit.resources[resource]:,} {resource} "
            f"({fit.source}), the part has {fit.available[resource]:,} and the budget allows "
            f"{fit.budget[resource]:,} ({share:.0%}); {hint}" + (f"; {advice[resource]}" if advice and
                                                                 resource in advice else ""))
    latency = design.spec["target"]["latency_us"]
    if latency is not None and fit.latency_us > latency:
        raise FpgaflowError(
            f"target.latency_us {latency}: the {fit.source} is {fit.latency_us:.1f} us "
            f"({fit.latency_cycles:,} cycles, {fit.latency_rule}) at {target:,} frames/s")


def _reported(values: dict) -> dict:
    """Every resource of the report schema, null where the estimator has none."""
    return {r: values.get(r) for r in REPORTED}


def fastest_json(fit: Fit | None, ceiling: int, source: str) -> dict:
    """The fastest fitting folding as bench.json records it per backend (null where not estimated)."""
    if fit is None:
        return {"target_fps": None, "note": f"no folding of this design fits the budget (ceiling {ceiling:,} frames/s)"}
    return {"target_fps": fit.target_fps, "fps": round(fit.fps, 1), "latency_us": round(fit.latency_us, 2),
            "resources": _reported(fit.resources), "available": _reported(fit.available),
            "budget": fit.budget, "bottleneck": fit.bottleneck, "ceiling_fps": ceiling, "source": source}


def sweep_point(fit: Fit) -> dict:
    """One target of a throughput sweep: what the folding reaches and whether it fits."""
    return {"target_fps": fit.target_fps, "fps": round(fit.fps, 1), "latency_us": round(fit.latency_us, 2),
            "resources": _reported(fit.resources), "available": _reported(fit.available),
            "bottleneck": fit.bottleneck, "meets_target": fit.max_cycles <= fit.target_cycles,
            "over_budget": sorted(fit.over()), "fits": fits(fit), "source": fit.source}
