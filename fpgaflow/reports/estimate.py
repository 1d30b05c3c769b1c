"""Estimates without any vendor tool, from the project manifest (fpgaflow.json).

Per weighted layer: MACs per inference, parallel multipliers after reuse, weight storage
(bits and 18K BRAM blocks if stored in BRAM), and a latency lower bound: a layer with reuse
factor R needs at least R cycles per kernel evaluation, and a convolution evaluates its
kernel once per output pixel. In a dataflow design layers overlap, so the design's latency
and interval are at least the largest layer bound. These are bounds and counts, not
synthesis results: LUT and FF are not estimated (null), and Vivado may build narrow
multiplications in LUTs, so the DSP figure is an upper bound.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .schema import available, empty, layer, resources

BRAM18_BITS = 18 * 1024
BRAM18_MAX_WIDTH = 36   # a BRAM18 as 512 x 36
BRAM18_DEPTH_AT_36 = 512


def weight_bram18(n_weights: int, reuse: int, bits: int) -> int:
    """hls4ml's Resource strategy reads ceil(n/R) weights per cycle from an R-deep memory."""
    width = math.ceil(n_weights / reuse) * bits
    return math.ceil(width / BRAM18_MAX_WIDTH) * math.ceil(reuse / BRAM18_DEPTH_AT_36)


def hls4ml_name(manifest: dict, short: str) -> str:
    for t in manifest.get("traced_layers", []):
        if t["name"] == short or t["name"].endswith("_" + short):
            return t["name"]
    return short


def estimate(manifest_path: Path) -> dict:
    m = json.loads(Path(manifest_path).read_text())
    r = empty(manifest_path, "estimate", "fpgaflow estimate")
    r.update(part=m.get("part"), top=m.get("project_name"), tool_version=None)
    r["clock_ns"]["target"] = m.get("clock_ns")
    bounds = []
    for l in m["layers"]:
        n = l["n_in"] * l["n_out"]
        bits = l.get("weight_bits")
        cycles = l["reuse_factor"] * l.get("evaluations", 1)
        bounds.append(cycles)
        bram = weight_bram18(n, l["reuse_factor"], bits) if bits else None
        r["layers"].append(layer(
            hls4ml_name(m, l["hls4ml"]), (cycles, None), (cycles, None),
            resources(DSP=l["multipliers"], BRAM_18K=bram),
            design_layer=l["name"], macs=n * l.get("evaluations", 1), multipliers=l["multipliers"],
            reuse_factor=l["reuse_factor"], weight_bits=n * bits if bits else None))
    r["latency_cycles"]["best"] = max(bounds) if bounds else None
    r["interval_cycles"]["min"] = max(bounds) if bounds else None
    r["resources"] = resources(DSP=sum(l["multipliers"] for l in m["layers"]),
                               BRAM_18K=sum(x["resources"]["BRAM_18K"] or 0 for x in r["layers"])
                               if all(x["resources"]["BRAM_18K"] is not None for x in r["layers"]) else None)
    r["macs"] = sum(x["macs"] for x in r["layers"])
    r["note"] = ("estimate: MACs, multipliers after reuse (DSP upper bound), weight BRAM, latency lower bound; "
                 "LUT/FF need synthesis")
    r["available"] = available(m.get("part"))  # null for a part fpgaflow does not know
    return r
