"""Reuse factors and strategies of an hls4ml project for a throughput (and latency) target.

For a target of C cycles per frame every weighted layer takes the largest reuse factor R
(least parallelism) that meets C, from hls4ml's templates:
- a streamed (io_stream) convolution reads one input pixel per initiation interval, so R <=
  C / input pixels; it uses the Latency strategy, whose pipeline takes a pixel every R cycles
  (the Resource strategy adds ~10 cycles per pixel, fitted on the calibration set);
- a layer evaluated once per frame (dense) with many weights (> 4,096) and room for R >= 64
  uses the Resource strategy: weights in BRAM, R + 10 cycles; otherwise Latency, R cycles;
  Resource reuse factors are the ones hls4ml accepts (its own validator).
With `hls4ml.strategy: Latency` every layer keeps the Latency strategy. The slowest layer is
the bottleneck. With a latency target, the slowest layer that can still go
faster has its reuse factor halved until the target is met.
Resources and cycles come from the calibrated model (cost.py) and are checked against the
budget (backends.target).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from ..target import Fit, budget_of, cycles_per_frame, fastest_of, refuse_unless_fits
from .cost import Record, estimate, load_model

RESOURCES = ("LUT", "FF", "DSP", "BRAM_18K")
RESOURCE_STRATEGY_MIN_WEIGHTS = 4096
RESOURCE_STRATEGY_MIN_REUSE = 64
LATENCY_RULE = "fpgaflow's model: the bottleneck's interval plus the layers after it"

Validator = Callable[[int, int, int], bool]


def _streamed(r: Record) -> bool:
    return r.io_type == "io_stream" and r.evaluations > 1


def choose(r: Record, cycles: int, valid: Validator, overhead: int, resource: bool = True) -> Record:
    """The layer folded for `cycles` per frame (see the module doc); R = 1 where even that is
    slower. resource=False: the design asked for the Latency strategy everywhere."""
    per_evaluation = cycles // r.pixels_in if _streamed(r) else cycles
    n = r.weights
    room = per_evaluation - overhead
    if resource and not _streamed(r) and n > RESOURCE_STRATEGY_MIN_WEIGHTS and room >= RESOURCE_STRATEGY_MIN_REUSE:
        rf = next((x for x in range(min(room, n), RESOURCE_STRATEGY_MIN_REUSE - 1, -1) if valid(r.n_in, r.n_out, x)), None)
        if rf is not None:
            return replace(r, rf=rf, strategy="resource")
    return replace(r, rf=max(1, min(per_evaluation, n)), strategy="latency")


def _resource_allowed(design) -> bool:
    """hls4ml.strategy Resource (the default) lets the folding choose per layer; Latency is kept
    everywhere (pruned designs ask for it: its multipliers skip zero weights)."""
    return design.spec["hls4ml"]["strategy"] == "Resource"


def _fit(records: list[Record], design, target_fps: int, cycles: int, model: dict) -> Fit:
    budget, available = budget_of(design, RESOURCES)
    e = estimate(records, model, available["DSP"])
    slowest = max((x for x in e["layers"] if x["cycles"] is not None), key=lambda x: x["cycles"])
    return Fit(target_fps, cycles, design.spec["target"]["clock_ns"], e["interval_cycles"], slowest["name"],
               e["latency_cycles"], {**e["resources"], "URAM": 0}, budget, available, "fpgaflow estimate", LATENCY_RULE)


def _for_latency(records: list[Record], design, fit: Fit, model: dict, valid: Validator, fold) -> tuple[list, Fit]:
    """While the latency is over its target, halve the reuse factor of the slowest layer that can
    still go faster (R > 1); stop at the last folding that fits the budget."""
    target = int(design.spec["target"]["latency_us"] * 1000 / design.spec["target"]["clock_ns"])
    overhead = model["coefficients"]["cycles"]["resource_ii_overhead"]
    while fit.latency_cycles > target:
        e = estimate(records, model)
        candidates = [(x["cycles"], i) for i, x in enumerate(e["layers"]) if x["cycles"] is not None and records[i].rf > 1]
        if not candidates:
            break
        _, i = max(candidates)
        r = records[i]
        per_eval = (r.rf + (overhead if r.strategy == "resource" else 0)) // 2
        faster = choose(r, per_eval * (r.pixels_in if _streamed(r) else 1), valid, overhead, _resource_allowed(design))
        if faster.rf >= r.rf:
            faster = replace(r, rf=max(1, r.rf // 2), strategy="latency")
        records = records[:i] + [faster] + records[i + 1:]
        trial = fold(records)
        if trial.over():
            break
        fit = trial
    return records, fit


def fold_for(records: list[Record], design, target_fps: int, valid: Validator, model: dict | None = None):
    """(records folded for the target, Fit); nothing is checked against the budget here."""
    model = model or load_model()
    cycles = cycles_per_frame(design.spec["target"]["clock_ns"], target_fps)
    overhead = model["coefficients"]["cycles"]["resource_ii_overhead"]
    resource = _resource_allowed(design)
    folded = [choose(r, cycles, valid, overhead, resource) if r.kind == "weighted" else r for r in records]
    fit = _fit(folded, design, target_fps, cycles, model)
    if design.spec["target"]["latency_us"] is not None:
        folded, fit = _for_latency(folded, design, fit, model, valid,
                                   lambda rs: _fit(rs, design, target_fps, cycles, model))
    return folded, fit


def fit_to_target(records: list[Record], design, valid: Validator) -> tuple[list[Record], Fit]:
    """The project folded for the design's target, or one line saying why it cannot be."""
    folded, fit = fold_for(records, design, design.target_fps(), valid)
    refuse_unless_fits(fit, design, lambda fps: fold_for(records, design, fps, valid)[1])
    return folded, fit


def fastest(records: list[Record], design, valid: Validator) -> tuple[Fit | None, int]:
    """(the fastest folding that fits the budget, the frames/s no folding can pass)."""
    return fastest_of(lambda fps: fold_for(records, design, fps, valid)[1], design.spec["target"]["clock_ns"])
