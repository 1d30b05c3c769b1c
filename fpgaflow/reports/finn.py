"""FINN's analytical estimate reports (its builder's report/ folder) in the report schema.

estimate_layer_resources.json is the entry point; its siblings add per-layer cycles
(estimate_layer_cycles.json) and the network's critical path and bottleneck
(estimate_network_performance.json), MACs (op_and_param_counts.json) and parallel
multipliers, PE x SIMD of each matrix layer (auto_folding_config.json). FINN estimates LUT, BRAM, URAM and DSP, not FF, so FF
is null. A FINN layer streams: its cycles are both its latency and its initiation interval.
"""
from __future__ import annotations

from pathlib import Path

from ..core.errors import FpgaflowError
from .schema import available, empty, layer, read_json, resources

LAYER_RESOURCES = ("LUT", "DSP", "BRAM_18K", "URAM")


def _load(path: Path, required: bool = True):
    if not path.is_file():
        if required:
            raise FpgaflowError(f"{path}: no such file")
        return None
    data = read_json(path)
    if not isinstance(data, dict):
        raise FpgaflowError(f"{path}: expected a JSON object of layers, got {type(data).__name__}")
    return data


def _res(entry: dict, path: Path, name: str) -> dict:
    if not isinstance(entry, dict):
        raise FpgaflowError(f"{path}: layer '{name}' has no resource mapping")
    def whole(v):  # FINN sums the totals as floats (123.0): the schema's counts are ints
        return int(v) if isinstance(v, float) and v.is_integer() else v

    return resources(**{k: whole(entry.get(k)) for k in LAYER_RESOURCES})


def parse_finn_estimates(path: Path) -> dict:
    path = Path(path)
    data = _load(path)
    folder = path.parent
    cycles = _load(folder / "estimate_layer_cycles.json", required=False) or {}
    perf = _load(folder / "estimate_network_performance.json", required=False) or {}
    target = _load(folder / "fpgaflow_target.json", required=False) or {}
    counts = _load(folder / "op_and_param_counts.json", required=False) or {}
    folding = _load(folder / "auto_folding_config.json", required=False) or {}
    r = empty(path, "estimate", "FINN estimate")
    r["cycles_are_bounds"] = False
    r["tool_version"] = target.get("tool_version")
    r["part"] = target.get("part")
    r["clock_ns"]["target"] = target.get("clock_ns")
    layers = {k: v for k, v in data.items() if k != "total"}
    if not layers:
        raise FpgaflowError(f"{path}: no layers in FINN's resource estimate")
    for name, entry in layers.items():
        c = cycles.get(name)
        ops = counts.get(name) or {}
        macs = sum(v for k, v in ops.items() if k.startswith("op_mac")) if ops else None
        fold = folding.get(name) or {}
        mult = fold["PE"] * fold["SIMD"] if name.startswith(("MVAU", "VVAU")) and "PE" in fold and "SIMD" in fold else None
        r["layers"].append(layer(name, (c, c), (c, c), _res(entry, path, name), macs=macs or None, multipliers=mult))
    total = data.get("total")
    r["resources"] = _res(total, path, "total") if total is not None else resources(
        **{k: sum(l["resources"][k] or 0 for l in r["layers"]) for k in LAYER_RESOURCES})
    if any(l["macs"] for l in r["layers"]):
        r["macs"] = sum(l["macs"] or 0 for l in r["layers"])
    if perf:
        r["latency_cycles"] = {"best": perf.get("critical_path_cycles"), "worst": perf.get("critical_path_cycles")}
        r["interval_cycles"] = {"min": perf.get("max_cycles"), "max": perf.get("max_cycles")}
        r["bottleneck"] = perf.get("max_cycles_node_name")
        r["throughput_fps"] = perf.get("estimated_throughput_fps")
    r["note"] = "FINN's analytical estimates (no synthesis ran): LUT, DSP, BRAM, URAM and cycles; FF is not estimated"
    r["available"] = available(r["part"])
    return r

