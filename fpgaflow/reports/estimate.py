"""fpgaflow's estimate of an hls4ml project, without any vendor tool, from its manifest (fpgaflow.json).

Per layer and in total: LUT, FF, DSP, BRAM_18K, cycles, as the build wrote them into the
manifest from the cost model of backends/hls4ml/cost.py, calibrated on public projects' Vivado reports (its measured error is in
cost_model.json and docs/estimates.md; the page and the table quote the median). Per weighted
layer also the MACs per inference and the parallel multipliers after reuse. hls4ml declares no
URAM unless asked, so URAM is 0 by the templates, not by a guess.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..core.errors import FpgaflowError
from .schema import available, empty, layer, resources


def hls4ml_name(manifest: dict, short: str) -> str:
    for t in manifest.get("traced_layers", []):
        if t["name"] == short or t["name"].endswith("_" + short):
            return t["name"]
    return short


def error_note(e: dict) -> str:
    return ", ".join(f"{q} {e[q]['median']:.0%}" for q in ("LUT", "FF", "DSP", "BRAM_18K", "latency"))


def estimate(manifest_path: Path) -> dict:
    m = json.loads(Path(manifest_path).read_text())
    if "estimate" not in m:
        raise FpgaflowError(f"{manifest_path}: written by an older fpgaflow (no estimate); rebuild the project")
    avail = available(m.get("part"))
    e = m["estimate"]
    r = empty(manifest_path, "estimate", "fpgaflow estimate")
    r.update(part=m.get("part"), top=m.get("project_name"), tool_version=None, cycles_are_bounds=False)
    r["clock_ns"]["target"] = m.get("clock_ns")
    ours = {hls4ml_name(m, l["hls4ml"]): l for l in m["layers"]}
    for x in e["layers"]:
        l = ours.get(x["name"], {})
        extra = dict(design_layer=l["name"], macs=(l["n_in"] * l["n_out"]) * l.get("evaluations", 1),
                     multipliers=x["multipliers"], reuse_factor=x["reuse_factor"], strategy=x["strategy"]) if l else {}
        r["layers"].append(layer(x["name"], (x["cycles"], x["cycles"]), (x["cycles"], x["cycles"]),
                                 resources(**{k: x[k] for k in ("LUT", "FF", "DSP", "BRAM_18K")}, URAM=0), **extra))
    r["latency_cycles"] = {"best": e["latency_cycles"], "worst": e["latency_cycles"]}
    r["interval_cycles"] = {"min": e["interval_cycles"], "max": e["interval_cycles"]}
    r["resources"] = resources(**e["resources"], URAM=0)
    r["macs"] = sum(x.get("macs", 0) for x in r["layers"])
    r["note"] = (f"fpgaflow estimate: cost model calibrated on {e['error']['LUT']['designs']} public designs' Vivado "
                 f"synthesis reports; median error {error_note(e['error'])} (docs/estimates.md)")
    r["available"] = avail  # null for a part fpgaflow does not know
    return r
