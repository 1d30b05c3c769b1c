"""Balanced folding of the FINN accelerator for a throughput target, within the part's budget.

For a target of C cycles per frame (clock / frames per second):
- FINN's SetFolding folds what has no weights (sliding windows, with the RTL window's
  parallel_window mode where SIMD alone cannot keep up; pooling; thresholds; depthwise VVAUs);
- every MVAU then takes the least parallelism that meets C: the SIMD x PE (divisors of
  MW x MH) with the fewest multiply-accumulates per cycle, so nothing is parallel for nothing
  (SetFolding raises SIMD first and can overshoot by a divisor step);
- an MVAU whose weights would need a stream wider than FINN's ap_int limit (8,191 bits)
  keeps them in the layer (mem_mode internal_embedded) instead of streaming them;
- while the DSP estimate is over budget on a Xilinx part (`finn.mvau: auto`), finn-rtllib's
  MVAUs (products on DSPs only) become fpgaflow's (FINN's HLS MVAU in the model, its products
  in LUTs), most DSPs freed per LUT first, as long as the LUTs stay within budget;
- while the LUT estimate is over budget, MVAUs move their products to DSPs (resType dsp),
  most LUTs saved per DSP first, as long as the DSPs stay within budget.
The result is checked against FINN's own estimates (LUT, BRAM_18K, URAM, DSP; FINN does not
estimate FF) and the budget (the design's `budget`, 70 % of each resource by default).
"""
from __future__ import annotations

import copy
import logging
import math

from ..target import Fit, budget_of, cycles_per_frame, fastest_of, refuse_unless_fits
from .part import fpgapart

ESTIMATED = ("LUT", "BRAM_18K", "URAM", "DSP")   # what FINN's res_estimation gives
LATENCY_RULE = "FINN's sum of the layers' cycles; streaming layers overlap: an upper bound"


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _mvaus(model):
    from qonnx.custom_op.registry import getCustomOp

    return [(n, getCustomOp(n)) for n in model.graph.node if n.op_type.startswith("MVAU")]


def _least_parallel(inst, cycles: int) -> tuple[int, int]:
    """(SIMD, PE) with the fewest MACs per cycle that meets `cycles` (the most parallel if none does)."""
    mw, mh = inst.get_nodeattr("MW"), inst.get_nodeattr("MH")
    vectors = math.prod(inst.get_nodeattr("numInputVectors"))
    fits = [(s * p, p, s) for s in divisors(mw) for p in divisors(mh) if vectors * (mw // s) * (mh // p) <= cycles]
    if not fits:
        return mw, mh
    _, pe, simd = min(fits)
    return simd, pe


def fold_to(model, cycles: int):
    """A copy of the specialized accelerator folded for `cycles` per frame (see the module doc)."""
    from finn.transformation.fpgadataflow.set_folding import SetFolding
    from finn.util.basic import MAX_ALLOWED_AP_INT_W

    model = copy.deepcopy(model)
    for _, inst in _mvaus(model):
        simd, pe = _least_parallel(inst, cycles)
        if simd * pe * inst.get_input_datatype(1).bitwidth() > MAX_ALLOWED_AP_INT_W:
            inst.set_nodeattr("mem_mode", "internal_embedded")
    # SetFolding warns about every layer on its way to the target; whether the target is met is
    # decided from the estimates afterwards (fit_to_target), so its warnings are not shown
    finn_log = logging.getLogger("finn_logger")
    finn_log.disabled, was = True, finn_log.disabled
    try:
        model = model.transform(SetFolding(cycles, mvau_wwidth_max=MAX_ALLOWED_AP_INT_W, two_pass_relaxation=False))
    finally:
        finn_log.disabled = was
    for _, inst in _mvaus(model):
        simd, pe = _least_parallel(inst, cycles)
        inst.set_nodeattr("SIMD", simd)
        inst.set_nodeattr("PE", pe)
    return model


def estimate(model, design, target_fps: int, cycles: int) -> Fit:
    from finn.analysis.fpgadataflow.dataflow_performance import dataflow_performance
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from finn.transformation.fpgadataflow.annotate_cycles import AnnotateCycles

    layers = model.analysis(lambda m: res_estimation(m, fpgapart=fpgapart(design)))
    totals = {r: round(sum(l.get(r, 0) for l in layers.values())) for r in ESTIMATED}
    perf = model.transform(AnnotateCycles()).analysis(dataflow_performance)
    budget, available = budget_of(design, ESTIMATED)
    return Fit(target_fps, cycles, design.spec["target"]["clock_ns"], int(perf["max_cycles"]),
               perf["max_cycles_node_name"], int(perf["critical_path_cycles"]), totals, budget, available,
               "FINN estimate", LATENCY_RULE)


def _greedy(model, design, fit: Fit, target_fps: int, cycles: int, over: str, spend: str, movable, move):
    """While `over` is over budget: `move` the MVAU (of those `movable`) that saves the most of
    `over` per unit of `spend` it adds, as long as `spend` stays within budget; re-estimated
    after each move. Each candidate is tried on a copy of its node."""
    from qonnx.custom_op.registry import getCustomOp

    part = fpgapart(design)
    while over in fit.over():
        best = None
        for node, inst in _mvaus(model):
            if not movable(node, inst):
                continue
            trial = copy.deepcopy(node)
            move(trial)
            before, after = inst.node_res_estimation(part), getCustomOp(trial).node_res_estimation(part)
            saved, cost = before[over] - after[over], after[spend] - before[spend]
            if saved > 0 and fit.resources[spend] + cost <= fit.budget[spend] and (
                    best is None or saved / max(cost, 1) > best[0]):
                best = (saved / max(cost, 1), node)
        if best is None:
            break
        move(best[1])
        fit = estimate(model, design, target_fps, cycles)
    return model, fit


def _to_dsps(model, design, fit: Fit, target_fps: int, cycles: int):
    """Move MVAU products from LUTs to DSPs while LUTs are over budget and DSPs are not."""
    from qonnx.custom_op.registry import getCustomOp

    return _greedy(model, design, fit, target_fps, cycles, "LUT", "DSP",
                   lambda node, inst: node.op_type.endswith("_hls") and inst.get_nodeattr("resType") != "dsp",
                   lambda node: getCustomOp(node).set_nodeattr("resType", "dsp"))


def as_portable_mvau(node) -> None:
    """An MVAU_rtl node made FINN's HLS MVAU with products in LUTs, which fpgaflow's RTL block
    (rtl/hw/fpgaflow_mvau.sv) takes: same folding and weights, no DSP48."""
    from qonnx.custom_op.registry import getCustomOp

    node.op_type, node.domain = "MVAU_hls", "finn.custom_op.fpgadataflow.hls"
    for attr in [a for a in node.attribute if a.name == "pumpedCompute"]:   # MVAU_rtl's own
        node.attribute.remove(attr)
    getCustomOp(node).set_nodeattr("resType", "lut")


def _off_dsps(model, design, fit: Fit, target_fps: int, cycles: int):
    """finn-rtllib MVAUs made fpgaflow's where they cannot serve: weights too wide to stream,
    then while DSPs are over budget and LUTs are not."""
    if design.spec["finn"]["mvau"] != "auto":
        return model, fit
    # weights too wide for FINN's stream stay in the layer, which the stitched RTL's finn-rtllib
    # MVAU does not take (it streams them); fpgaflow's reads them from its own memory
    embedded = [n for n, inst in _mvaus(model) if n.op_type == "MVAU_rtl"
                and inst.get_nodeattr("mem_mode") == "internal_embedded"]
    for node in embedded:
        as_portable_mvau(node)
    if embedded:
        fit = estimate(model, design, target_fps, cycles)
    return _greedy(model, design, fit, target_fps, cycles, "DSP", "LUT",
                   lambda node, inst: node.op_type == "MVAU_rtl", as_portable_mvau)


def fold_for(model, design, target_fps: int):
    """(folded model, Fit) for a target; nothing is checked against the budget here."""
    cycles = cycles_per_frame(design.spec["target"]["clock_ns"], target_fps)
    model = fold_to(model, cycles)
    fit = estimate(model, design, target_fps, cycles)
    model, fit = _off_dsps(model, design, fit, target_fps, cycles)
    model, fit = _to_dsps(model, design, fit, target_fps, cycles)
    latency = design.spec["target"]["latency_us"]
    if latency is not None:
        model, fit = _for_latency(model, design, fit, int(latency * 1000 / design.spec["target"]["clock_ns"]))
    return model, fit


# a layer's parallelism attributes: (attribute, the attribute bounding it), for the latency search
_SPEEDUPS = {"ConvolutionInputGenerator": ("SIMD", "IFMChannels"), "Pool": ("PE", "Channels"),
             "Thresholding": ("PE", "NumChannels"), "VVAU": ("PE", "Channels")}


def _faster(node, inst):
    """The next-faster folding of a layer: [(attribute, value)] to set, or None where there is none."""
    kind = node.op_type.rsplit("_", 1)[0]
    if kind == "MVAU":
        cycles = inst.get_exp_cycles()
        mw, mh = inst.get_nodeattr("MW"), inst.get_nodeattr("MH")
        vectors = math.prod(inst.get_nodeattr("numInputVectors"))
        faster = [(s * p, s, p) for s in divisors(mw) for p in divisors(mh) if vectors * (mw // s) * (mh // p) < cycles]
        return [("SIMD", min(faster)[1]), ("PE", min(faster)[2])] if faster else None
    if kind not in _SPEEDUPS or (kind == "ConvolutionInputGenerator" and inst.get_nodeattr("depthwise")):
        return None  # a depthwise window follows its VVAU's PE
    attr, bound = _SPEEDUPS[kind]
    larger = [d for d in divisors(inst.get_nodeattr(bound)) if d > inst.get_nodeattr(attr)]
    return [(attr, larger[0])] if larger else None


def _for_latency(model, design, fit: Fit, cycles: int):
    """While FINN's latency (the sum of the layers' cycles) is above `cycles`, speed up the layer
    that saves the most cycles per share of the budget it adds, as long as everything fits."""
    from qonnx.custom_op.registry import getCustomOp

    part = fpgapart(design)
    while fit.latency_cycles > cycles:
        best = None
        for node in model.graph.node:
            inst = getCustomOp(node)
            change = _faster(node, inst)
            if change is None:
                continue
            before, base = inst.get_exp_cycles(), inst.node_res_estimation(part)
            old = [(a, inst.get_nodeattr(a)) for a, _ in change]
            for a, v in change:
                inst.set_nodeattr(a, v)
            after = inst.node_res_estimation(part)
            saved = before - inst.get_exp_cycles()
            cost = sum(max(0, after.get(r, 0) - base.get(r, 0)) / fit.budget[r] for r in ESTIMATED
                       if fit.budget.get(r))
            for a, v in old:
                inst.set_nodeattr(a, v)
            if saved > 0 and (best is None or saved / (cost + 1e-9) > best[0]):
                best = (saved / (cost + 1e-9), inst, change, old)
        if best is None:
            break
        for a, v in best[2]:
            best[1].set_nodeattr(a, v)
        trial = estimate(model, design, fit.target_fps, fit.target_cycles)
        if trial.over():  # the cheapest speed-up no longer fits: stop at the last fitting folding
            for a, v in best[3]:
                best[1].set_nodeattr(a, v)
            break
        fit = trial
    return model, fit


def fit_to_target(model, design):
    """The accelerator folded for the design's target, or one line saying why it cannot be."""
    folded, fit = fold_for(model, design, design.target_fps())
    rtl = any(n.op_type == "MVAU_rtl" for n in model.graph.node)
    advice = {"DSP": "finn-plus' RTL MVAUs multiply on DSPs only; `finn: {layers: hls}` in the design builds HLS "
                     "MVAUs that can use LUTs (no RTL simulation then)"} if rtl else None
    refuse_unless_fits(fit, design, lambda fps: fold_for(model, design, fps)[1], advice)
    return folded, fit


def fastest(model, design) -> tuple[Fit | None, int]:
    """(the fastest folding that fits the budget, the frames/s no folding can pass) for the
    specialized accelerator: the layer that cannot go faster bounds it, the budget may more."""
    return fastest_of(lambda fps: fold_for(model, design, fps)[1], design.spec["target"]["clock_ns"])
