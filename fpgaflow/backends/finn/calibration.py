"""Measure FINN's own analytical resource estimates against real post-synthesis Vivado results.

The calibration set (tests/fixtures/calibration/finn_index.json, see its README) holds four public
FINN builds made with an older FINN (2021-2022: StreamingFCLayer_Batch, Thresholding_Batch,
ConvolutionInputGenerator1D, StreamingMaxPool_Batch). For every layer with a row in the build's
post_synth_resources.xml, the layer is rebuilt as one finn-plus node and its
``node_res_estimation(part)`` (LUT, BRAM_18K, URAM, DSP) is compared with that row:
LUT = 'Total LUTs', BRAM_18K = 2 * RAMB36 + RAMB18, URAM, DSP = 'DSP48 Blocks'. FINN does not
estimate flip-flops, so FF is None throughout.

Op mapping (finn-plus 1.6.1): StreamingFCLayer_Batch -> MVAU_hls, Thresholding_Batch ->
Thresholding_hls, ConvolutionInputGenerator1D / ConvolutionInputGenerator ->
ConvolutionInputGenerator_rtl (there is no _hls variant any more). mem_mode 'const' / 'decoupled' /
'external' become 'internal_embedded' / 'internal_decoupled' / 'external'; ram_style, resType and
runtime_writeable_weights come from the build's final_hw_config.json. The old HLS MVAU kept its
thresholds in logic, so MVAU_hls gets ram_style_thresholds='distributed' (the old FINN estimate
always counted them). The estimators read node attributes only, so a bare node is enough (no
ModelWrapper, weights or thresholds). Layers without a finn-plus 1.6.1 counterpart (e.g.
StreamingMaxPool_Batch) or that fail to instantiate are listed in ``skipped`` with the reason.

Error of one layer or build total: |estimate - report| / report. Where report == 0 the relative
error is undefined: the layer is left out of ``layers`` / median / worst / per_layer, and counted
in ``zero_exact`` (estimate is 0 too) or ``zero_missed`` (estimate > 0). Build totals sum, per
build, the layers that have both an estimate and a post-synth row (FIFOs, data-width converters
and skipped layers are not in them).

    python -m fpgaflow.backends.finn.calibration tests/fixtures/calibration
"""
from __future__ import annotations

import ast
import json
import re
import statistics
import sys
from pathlib import Path

RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")
OP_MAP = {"StreamingFCLayer_Batch": ("MVAU_hls", "hls"), "MVAU": ("MVAU_hls", "hls"),
          "Thresholding_Batch": ("Thresholding_hls", "hls"),
          "ConvolutionInputGenerator1D": ("ConvolutionInputGenerator_rtl", "rtl"),
          "ConvolutionInputGenerator": ("ConvolutionInputGenerator_rtl", "rtl")}
MEM_MODES = {"const": "internal_embedded", "decoupled": "internal_decoupled", "external": "external"}
CONFIG_KEYS = ("ram_style", "resType", "runtime_writeable_weights")
SKIP_KEYS = {"name", "op_type", "cycles_estimate", "type", "n_in", "n_out", "outputs_per_inference",
             "reuse_factor_equiv", "weight_bits", "input_bits", "result_bits", "accum_bits"}


def full_part(part: str) -> str:
    """Vivado's short part name (xczu7evffvc1156-2) as FINN spells it (xczu7ev-ffvc1156-2-e)."""
    m = re.fullmatch(r"(xczu\d+[a-z]{2})([a-z]+\d+)-(\d)", part)
    return f"{m[1]}-{m[2]}-{m[3]}-e" if m else part


def _literal(value):
    """The index stores some fields as Python repr strings; others are already JSON values."""
    return ast.literal_eval(value) if isinstance(value, str) else value


def reported(row: dict) -> dict:
    """Post-synth row -> the resources FINN estimates (BRAM_18K = 2 x RAMB36 + RAMB18)."""
    n = lambda key: int(float(row.get(key) or 0))  # noqa: E731
    return {"LUT": n("Total LUTs"), "BRAM_18K": 2 * n("RAMB36") + n("RAMB18"), "URAM": n("URAM"),
            "DSP": n("DSP48 Blocks"), "FF": None}


def _hw_config(build_dir: Path) -> dict:
    """The build's final_hw_config.json (facile's copy is prefixed with its output folder)."""
    for path in sorted(build_dir.glob("*final_hw_config.json")):
        if "ooc" not in path.name:
            return json.loads(path.read_text())
    return {}


def make_node(layer: dict, config: dict):
    """One finn-plus ONNX node for an old-FINN layer dict; raises KeyError if there is no counterpart."""
    from onnx import helper

    new_type, backend = OP_MAP[layer["op_type"]]
    attrs = {k: v for k, v in layer.items() if k not in SKIP_KEYS}
    attrs.update({k: config[k] for k in CONFIG_KEYS if k in config})
    if "mem_mode" in attrs:
        attrs["mem_mode"] = MEM_MODES.get(attrs["mem_mode"], attrs["mem_mode"])
    if new_type == "MVAU_hls":
        attrs.setdefault("ram_style_thresholds", "distributed")
    if new_type.startswith("ConvolutionInputGenerator"):
        attrs.setdefault("ram_style", "distributed")
        attrs["is1D"] = int(1 in attrs.get("IFMDim", []))
    n_in = 1 if new_type.startswith("Conv") else 2
    return helper.make_node(new_type, [f"in{i}" for i in range(n_in)], ["out0"], name=layer["name"],
                            domain=f"finn.custom_op.fpgadataflow.{backend}", backend="fpgadataflow",
                            **attrs)


def estimate(layer: dict, config: dict, part: str) -> dict:
    """FINN-plus node_res_estimation of one layer, as ints per resource (FF None)."""
    from qonnx.custom_op.registry import getCustomOp

    res = getCustomOp(make_node(layer, config)).node_res_estimation(part)
    return {**{r: int(round(float(res.get(r, 0)))) for r in RESOURCES}, "FF": None}


def collect(folder: Path) -> tuple[list[dict], dict]:
    """Rows {build, layer, op, est, rep} for every layer with a post-synth row, and the skipped ones."""
    rows, skipped = [], {}
    for entry in json.loads((Path(folder) / "finn_index.json").read_text()):
        build, part = entry["name"], full_part(entry["post_synth_part"])
        config = _hw_config(Path(folder) / "finn" / build)
        synth = _literal(entry["post_synth_layer_rows"])
        for layer in _literal(entry["layers"]):
            name, key = layer["name"], f"{build}/{layer['name']}"
            row = next((r for r in synth if r["Instance"].strip().endswith("_" + name)
                        or r["Instance"].strip() == name), None)
            if row is None:
                skipped[key] = "no post-synth row"
                continue
            if layer["op_type"] not in OP_MAP:
                skipped[key] = f"{layer['op_type']}: no counterpart op in finn-plus 1.6.1"
                continue
            try:
                est = estimate(layer, config.get(name, {}), part)
            except Exception as exc:  # noqa: BLE001  (report, do not crash)
                skipped[key] = f"{type(exc).__name__}: {exc}"
                continue
            rows.append({"build": build, "layer": name, "op": OP_MAP[layer["op_type"]][0],
                         "est": est, "rep": reported(row)})
    return rows, skipped


def _stats(pairs: dict, unit: str) -> dict:
    """Relative-error stats over {key: (est, rep)}; rep == 0 counted apart (see module docstring)."""
    rel = {k: abs(e - r) / r for k, (e, r) in pairs.items() if r > 0}
    zeros = [e for e, r in pairs.values() if r == 0]
    vals = list(rel.values())
    return {unit: len(rel), "median": statistics.median(vals) if vals else None,
            "worst": max(vals) if vals else None, f"per_{unit[:-1]}": rel,
            "zero_exact": sum(e == 0 for e in zeros), "zero_missed": sum(e != 0 for e in zeros)}


def finn_errors(folder: Path) -> dict:
    """Per resource, FINN-plus estimate vs post-synth error per layer, and per build total.

    Returns {resource: {"layers", "median", "worst", "per_layer": {build/layer: rel. error},
    "zero_exact", "zero_missed"} or None for FF, "totals": {resource: same with "builds" /
    "per_build"}, "rows": [...], "skipped": {build/layer: reason}}.
    """
    rows, skipped = collect(Path(folder))
    out: dict = {"FF": None, "totals": {"FF": None}, "rows": rows, "skipped": skipped}
    for res in RESOURCES:
        out[res] = _stats({f"{x['build']}/{x['layer']}": (x["est"][res], x["rep"][res]) for x in rows},
                          "layers")
        totals: dict = {}
        for x in rows:
            e, r = totals.get(x["build"], (0, 0))
            totals[x["build"]] = (e + x["est"][res], r + x["rep"][res])
        out["totals"][res] = _stats(totals, "builds") | {"sums": totals}
    return out


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def main(argv: list[str] | None = None) -> None:
    """Print per-layer estimate/report pairs, build totals, error summary and skipped layers."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "tests/fixtures/calibration")
    out = finn_errors(folder)
    head = "".join(f"{r:>16}" for r in RESOURCES)
    print(f"{'build/layer':58}{'op':>30}{head}    (estimate/report)")
    for x in out["rows"]:
        cells = "".join(f"{x['est'][r]:>8}/{x['rep'][r]:<7}" for r in RESOURCES)
        print(f"{x['build'] + '/' + x['layer']:58}{x['op']:>30}{cells}")
    print(f"\n{'build total':58}{'':>30}{head}")
    for build in out["totals"]["LUT"]["sums"]:
        cells = "".join(f"{out['totals'][r]['sums'][build][0]:>8}/{out['totals'][r]['sums'][build][1]:<7}"
                        for r in RESOURCES)
        print(f"{build:58}{'':>30}{cells}")
    print("\n|est - rep| / rep   n  median  worst  (rep == 0: exact / missed)")
    for res in RESOURCES:
        for label, s, n in (("layers", out[res], "layers"), ("totals", out["totals"][res], "builds")):
            print(f"{res:9}{label:7} {s[n]:4} {_fmt(s['median']):>7} {_fmt(s['worst']):>6}"
                  f"   ({s['zero_exact']} / {s['zero_missed']})")
    print("FF       not estimated by FINN")
    print(f"\nskipped ({len(out['skipped'])}):")
    for key, why in out["skipped"].items():
        print(f"  {key}: {why}")


if __name__ == "__main__":
    main()
