"""`fpgaflow synth-oss <design> --backend finn`: Yosys per RTL layer, next to FINN's estimate."""
from __future__ import annotations

import json
from pathlib import Path


def synth_oss(design, build_dir, layers: str | None = None, progress: bool = True) -> int:
    from .. import FinnBackend
    from .stitch import require
    from .yosys import synth_layers

    folder = FinnBackend().ensure(design, Path(build_dir))
    manifest = json.loads((folder / "fpgaflow-finn.json").read_text())
    require(manifest, folder, "synth-oss --backend finn")
    only = [x.strip() for x in layers.split(",") if x.strip()] if layers else None
    r = synth_layers(folder, manifest["part"], only=only, progress=progress)
    est = {l["name"]: l["resources"] for l in json.loads((folder / "estimates.json").read_text())["layers"]}
    head = (f"{'layer':34s} {'LUT':>6s} {'FF':>6s} {'DSP':>4s} {'BRAM':>4s} {'CARRY':>5s} | {'FINN est.: LUT':>14s} "
            f"{'BRAM':>4s} {'DSP':>4s} {'s':>5s}")
    print(f"{design.name}: Yosys {r['tool_version']} {r['tool'].split(' (')[0]} per RTL layer, part {r['part']}")
    print(head)
    fmt = lambda v: "-" if v is None else f"{v:,.0f}"  # noqa: E731
    for l in r["layers"]:
        res, e = l["resources"], est.get(l["name"], {})
        cells = l["cells"] or {}
        print(f"{l['name']:34s} {fmt(res['LUT']):>6s} {fmt(res['FF']):>6s} {fmt(res['DSP']):>4s} "
              f"{fmt(res['BRAM_18K']):>4s} {fmt(cells.get('CARRY')):>5s} | {fmt(e.get('LUT')):>14s} "
              f"{fmt(e.get('BRAM_18K')):>4s} {fmt(e.get('DSP')):>4s} {l['seconds']:>5.1f}"
              + (f"  not synthesized: {l['error']}" if l["error"] else "") + ("  (-nolutram)" if l["note"] else ""))
    s = r["synthesized_layers"]
    total = ", ".join(f"{k} {v:,}" for k, v in s["resources"].items() if k != "URAM")
    if r["not_synthesized"]:
        print(f"{s['count']} of {s['of']} layers synthesized ({total}); no design total: "
              f"{', '.join(x['name'] for x in r['not_synthesized'])} not synthesized (reasons above)")
    elif s["of"] < s["in_design"]:
        print(f"the {s['of']} layers asked for: {total} (not a design total: the design has {s['in_design']} layers)")
    else:
        print(f"design total (all {s['of']} layers): {total}")
    print(f"wrote {folder / 'yosys.report.json'} and {folder / 'rtl' / 'yosys'} "
          f"(`fpgaflow report {design.name} --backend finn` shows it beside FINN's estimate)")
    return 0


def pnr(design, build_dir, part: str | None, progress: bool = True) -> int:
    """`fpgaflow pnr <design> --backend finn`: the stitched accelerator placed and routed (pnr.py)."""
    from ....core.parts import is_lattice
    from .. import FinnBackend
    from .pnr import place_and_route, require_lattice
    from .stitch import require

    backend = FinnBackend()
    built = backend.project(design, Path(build_dir)) / backend.manifest
    built_part = json.loads(built.read_text())["part"] if built.is_file() else None
    # the part the build was made for where it is a Lattice one (hls --part), else the design's
    part = part or (built_part if built_part and is_lattice(built_part) else design.spec["target"]["part"])
    require_lattice(part)
    folder = backend.ensure(design, Path(build_dir))
    manifest = json.loads((folder / "fpgaflow-finn.json").read_text())
    require(manifest, folder, "pnr --backend finn")
    clock_ns = manifest["clock_ns"]
    r = place_and_route(folder, part, clock_ns, progress=progress)
    res, cap, f = r["resources"], r["available"], r["fmax_mhz"]
    names = {"LUT": "LUT4", "FF": "FF", "BRAM_18K": "DP16KD", "DSP": "MULT18X18D"}
    print(f"{design.name} on {part}: placed and routed by nextpnr-ecp5 ({r['tool_version']})")
    print("  " + ", ".join(f"{names[k]} {res[k]:,} of {cap[k]:,} ({100 * res[k] / cap[k]:.0f} %)"
                           for k in names if res[k] is not None and cap[k]))
    verdict = "met" if r["timing_met"] else f"NOT met: the accelerator runs at {f['achieved_mhz']} MHz at most"
    print(f"  Fmax {f['achieved_mhz']} MHz after routing, asked {f['target_mhz']} MHz ({clock_ns} ns): timing {verdict}")
    for what, key in (("slowest path", "critical_path"),
                      ("slowest pin path (pins where nextpnr put them, unconstrained)", "pin_path")):
        if cp := r.get(key):
            print(f"  {what}: {cp['from']} -> {cp['to']}, {cp['ns']} ns ({cp['routing_ns']} ns of it routing)")
    s = r["seconds"]
    print(f"  Yosys {s['yosys']} s, nextpnr {s['nextpnr']} s, ecppack {s['ecppack']} s; bitstream "
          f"{folder / r['bitstream']['file']} ({r['bitstream']['bytes']:,} bytes)")
    print(f"wrote {folder / 'pnr.report.json'}; the netlist's simulation: `fpgaflow csim {design.name} --backend finn "
          f"--netlist`")
    return 0
