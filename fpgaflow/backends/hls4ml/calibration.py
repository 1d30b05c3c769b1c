"""Fit the hls4ml cost model (cost.py) to public designs' vendor reports and measure its error.

The calibration set (tests/fixtures/calibration/index.json, see its README) holds, per public
hls4ml project, the layers as hls4ml wrote them and the totals of its Vivado post-synthesis
utilisation and HLS C-synthesis reports. LUT and FF coefficients are fitted by non-negative least
squares on relative error to Vivado synthesis; the cycle constants by a small grid search on the
C-synthesis latency and interval; DSP and BRAM_18K are rules, not fitted. The error published is
measured on the same designs (in-sample) and leave-one-design-out (each design predicted by a fit
that never saw it), per resource: median and worst of |estimate - report| / report.

    python -m fpgaflow.backends.hls4ml.calibration tests/fixtures/calibration   # rewrites cost_model.json
"""
from __future__ import annotations

import itertools
import json
import statistics
import sys
from pathlib import Path

from .cost import FF_FEATURES, LUT_FEATURES, MODEL_FILE, Record, estimate, features, spill
from .records import WEIGHTED

CYCLE_GRID = {"resource_ii_overhead": range(0, 16), "depth_per_layer": (0, 1, 2, 3, 4, 5, 6),
              "depth_per_log2_input": (0, 0.25, 0.5, 0.75, 1.0)}


def _stream_geometry(l: dict, evaluations: int) -> tuple[int, int]:
    """(input pixels read per inference, line-buffer bits) of a streamed convolution."""
    k = l.get("kernel") or [1]
    if "in_hw" in l and l["in_hw"]:
        h, w = l["in_hw"]
        return h * w, (k[0] - 1) * w * l["n_chan"] * l["input_bits"]
    if "in_w" in l and l["in_w"]:
        return l["in_w"], (k[0] - 1) * l["n_chan"] * l["input_bits"]
    side = round(evaluations ** 0.5) + k[0] - 1   # same-size output assumed where the input size is not recorded
    return (side * side if len(k) == 2 else evaluations), (k[0] - 1) * side * (l.get("n_chan") or 1) * l["input_bits"]


def records_from_index(entry: dict) -> list[Record]:
    io = entry["io_type"]
    out, prev_evals, prev_out = [], 1, 1
    for l in entry["layers"]:
        t = l["type"]
        if t in WEIGHTED:
            ev = l.get("outputs_per_inference") or 1
            pixels, line = _stream_geometry(l, ev) if ev > 1 else (1, 0)
            out.append(Record(
                name=l["name"], kind="weighted", io_type=io, n_in=l["n_in"], n_out=l["n_out"], rf=l["reuse_factor"] or 1,
                strategy=(l.get("strategy") or entry["strategy"]).lower(), wb=l["weight_bits"], ib=l["input_bits"],
                ab=l["accum_bits"] or l["result_bits"], rb=l["result_bits"] or 0, zeros=l.get("n_zeros") or 0,
                evaluations=ev, pixels_in=pixels, chan=l.get("n_chan") or l["n_in"],
                line_bits=line if io == "io_stream" else 0, mults=l.get("effective_mults_per_output_pixel"),
                out_depth=ev, out_width=l["n_out"] * (l["result_bits"] or 0)))
            prev_evals, prev_out = ev, l["n_out"]
            continue
        kind = "act" if t.startswith(("Activation", "BatchNorm")) else "pool" if t.startswith("Pooling") else "other"
        n = l.get("n_in") or l.get("n_filt") or prev_out
        chan = n if io == "io_parallel" else max(1, n // max(prev_evals, 1)) if kind == "act" else (l.get("n_filt") or prev_out)
        depth = prev_evals // (l["pool"][0] * l["pool"][1]) if l.get("pool") and len(l["pool"]) == 2 else prev_evals
        rb = l.get("result_bits") or l.get("input_bits") or 0
        out.append(Record(name=l["name"], kind=kind, io_type=io, ib=l.get("input_bits") or 0, rb=rb, chan=chan,
                          op=t.split(":")[-1] if kind == "act" else "", out_depth=max(depth, 1),
                          out_width=(chan if io == "io_stream" else 0) * rb))
        prev_evals = max(depth, 1)
    return out


def load_index(folder: Path) -> list[dict]:
    return json.loads((Path(folder) / "index.json").read_text())


def _nnls(rows: list[list[float]], reported: list[float]) -> list[float]:
    """Non-negative least squares on relative error: each design's row divided by its report."""
    import numpy as np
    from scipy.optimize import nnls

    scale = np.array(reported, dtype=float)
    coef, _ = nnls(np.array(rows, dtype=float) / scale[:, None], np.ones(len(reported)))
    return [float(c) for c in coef]


def part_dsp(part: str) -> int | None:
    """DSPs of a calibration design's part (vendors write part names with or without dashes)."""
    from ...core.parts import _table

    want = part.replace("-", "")
    return next((v["DSP"] for k, v in _table().items() if k.replace("-", "") == want), None)


def _design_features(entry: dict, names) -> list[float]:
    records = records_from_index(entry)
    sums = dict.fromkeys(names, 0.0)
    for r in records:
        f = features(r)
        for n in names:
            sums[n] += f[n]
    if "lut_mult_bits" in sums:
        sums["lut_mult_bits"] += spill(records, part_dsp(entry["part"]))[1]
    return [sums[n] for n in names] + [1.0]   # the design's own constant (its top-level glue)


def fit_resources(designs: list[dict]) -> dict:
    out = {}
    for res, names in (("LUT", LUT_FEATURES), ("FF", FF_FEATURES)):
        rows = [_design_features(d, names) for d in designs]
        coef = _nnls(rows, [d["reported_vivado_synth"][res] for d in designs])
        out[res.lower()] = dict(zip(list(names) + ["design"], coef))
    return out


def fit_cycles(designs: list[dict], resources: dict) -> dict:
    best = None
    for values in itertools.product(*CYCLE_GRID.values()):
        c = dict(zip(CYCLE_GRID, values))
        model = {"coefficients": {**resources, "cycles": c}}
        errs = []
        for d in designs:
            e = estimate(records_from_index(d), model, part_dsp(d["part"]))
            errs += [_rel(e["latency_cycles"], d["reported"]["latency_cycles"]),
                     _rel(e["interval_cycles"], d["reported"]["interval_cycles"])]
        score = (statistics.median(errs), max(errs))
        if best is None or score < best[0]:
            best = (score, c)
    return best[1]


def _rel(est, rep) -> float:
    return abs(est - rep) / rep if rep else float(est != rep)


def _synthesized(index: list[dict]) -> list[dict]:
    return [d for d in index if d.get("reported_vivado_synth") and not d.get("doubtful")]


def errors(index: list[dict], model: dict) -> dict:
    """Relative error per quantity: {quantity: {designs, median, worst, per_design}}."""
    per = {q: {} for q in ("LUT", "FF", "DSP", "BRAM_18K", "latency", "interval")}
    for d in index:
        e = estimate(records_from_index(d), model, part_dsp(d["part"]))
        if d in _synthesized(index):
            for res in ("LUT", "FF", "DSP", "BRAM_18K"):
                per[res][d["name"]] = _rel(e["resources"][res], d["reported_vivado_synth"][res])
        if not d.get("doubtful"):
            per["latency"][d["name"]] = _rel(e["latency_cycles"], d["reported"]["latency_cycles"])
            per["interval"][d["name"]] = _rel(e["interval_cycles"], d["reported"]["interval_cycles"])
    return {q: _summary(v) for q, v in per.items()}


def _summary(per_design: dict) -> dict:
    vals = list(per_design.values())
    return {"designs": len(vals), "median": round(statistics.median(vals), 4), "worst": round(max(vals), 4),
            "per_design": {k: round(v, 4) for k, v in sorted(per_design.items())}}


def csynth_errors(index: list[dict]) -> dict:
    """The same comparison for the HLS tool's own C-synthesis estimate (csynth report vs Vivado
    synthesis of the same design): what a user gets without fpgaflow's model."""
    per = {res: {} for res in ("LUT", "FF", "DSP", "BRAM_18K")}
    for d in _synthesized(index):
        for res in per:
            if d["reported"].get(res) is not None:
                per[res][d["name"]] = _rel(d["reported"][res], d["reported_vivado_synth"][res])
    return {q: _summary(v) for q, v in per.items()}


def leave_one_out(index: list[dict]) -> dict:
    """LUT and FF error of each synthesized design under a fit made without it."""
    synth = _synthesized(index)
    per = {"LUT": {}, "FF": {}}
    for d in synth:
        rest = [x for x in synth if x is not d]
        model = {"coefficients": {**fit_resources(rest), "cycles": dict.fromkeys(CYCLE_GRID, 0)}}
        e = estimate(records_from_index(d), model, part_dsp(d["part"]))
        for res in per:
            per[res][d["name"]] = _rel(e["resources"][res], d["reported_vivado_synth"][res])
    return {q: _summary(v) for q, v in per.items()}


def calibrate(folder: Path) -> dict:
    index = load_index(folder)
    resources = fit_resources(_synthesized(index))
    cycles = fit_cycles([d for d in index if not d.get("doubtful")], resources)
    model = {"coefficients": {**resources, "cycles": cycles}}
    model["error"] = errors(index, model)
    model["error_leave_one_out"] = leave_one_out(index)
    model["error_of_hls_csynth"] = csynth_errors(index)
    model["calibration_set"] = [{"name": d["name"], "repo": d["repo"], "commit": d["commit"],
                                 "files": sorted(d["files"].values()), "tool": d["tool"]} for d in index]
    return model


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "tests/fixtures/calibration")
    model = calibrate(folder)
    MODEL_FILE.write_text(json.dumps(model, indent=1) + "\n")
    for q, s in {**model["error"], **{f"{k} (leave one out)": v for k, v in model["error_leave_one_out"].items()},
                 **{f"{k} (HLS csynth)": v for k, v in model["error_of_hls_csynth"].items()}}.items():
        print(f"{q:22s} {s['designs']:3d} designs  median {s['median']:.1%}  worst {s['worst']:.1%}")
    print(f"wrote {MODEL_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
