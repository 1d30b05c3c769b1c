"""`fpgaflow report <design> --sweep-fps 1000,10000,...`: the design folded for each target by
every backend that takes it, as estimated (nothing is written but the sweep's JSON), drawn as
throughput against LUT, DSP and BRAM_18K on the report page: the cost of speed per backend.

A point is backends.target.sweep_point: what the folding reaches (frames/s, latency), its
resources, and whether it meets the target within the budget; points that do not fit are drawn
hollow, and the fastest fitting point per backend is the Pareto end of its curve.
"""
from __future__ import annotations

import html
import math

from ..core.errors import FpgaflowError
from .html import COLOURS

AXES = ("LUT", "DSP", "BRAM_18K")


def parse_targets(text: str) -> list[int]:
    try:
        targets = sorted({int(float(t)) for t in text.split(",") if t.strip()})
    except ValueError:
        raise FpgaflowError(f"--sweep-fps {text}: expected comma-separated frames per second, e.g. 1000,10000,100000") from None
    if not targets or targets[0] < 1:
        raise FpgaflowError(f"--sweep-fps {text}: expected positive frames per second")
    return targets


def run_sweep(design, build_dir, targets: list[int], log=print) -> dict:
    """{backend: [point per target]} for every backend that takes the design (built first where missing)."""
    from ..backends import for_framework

    out = {}
    for b in for_framework(design.framework.name):
        b.ensure(design, build_dir)
        log(f"{design.name}: {b.title} folded for {len(targets)} targets ...")
        out[b.name] = b.sweep(design, build_dir, targets)
    return {"design": design.name, "targets": targets, "points": out}


def lines(data: dict) -> list[str]:
    rows = [f"{'backend':8s} {'target':>10s} {'frames/s':>10s} {'latency us':>10s} "
            + "".join(f"{r:>10s}" for r in AXES) + "  fits"]
    for backend, points in data["points"].items():
        for p in points:
            res = "".join(f"{'-' if p['resources'][r] is None else format(p['resources'][r], ','):>10s}" for r in AXES)
            why = [] if p["meets_target"] else [f"{p['bottleneck']} cannot go faster"]
            why += [f"over {', '.join(p['over_budget'])} budget"] if p["over_budget"] else []
            why = "no: " + "; ".join(why) if why else "yes"
            rows.append(f"{backend:8s} {p['target_fps']:>10,d} {p['fps']:>10,.0f} {p['latency_us']:>10,.1f} {res}  {why}")
    return rows


def _chart(resource: str, data: dict) -> str:
    """Throughput (x, log) against one resource (y), one polyline per backend."""
    left, top, width, height = 70, 30, 520, 260
    pts = [(b, p) for b, ps in data["points"].items() for p in ps if p["resources"][resource] is not None]
    xs = [p["fps"] for _, p in pts] or [1]
    ys = [p["resources"][resource] for _, p in pts] or [1]
    x0, x1 = math.log10(min(xs)) - 0.1, math.log10(max(xs)) + 0.1
    ymax = max(ys + [1]) * 1.1

    def at(p):
        return (left + width * (math.log10(p["fps"]) - x0) / max(x1 - x0, 1e-9),
                top + height - height * p["resources"][resource] / ymax)

    title = f"{resource} against throughput (estimates; hollow: over budget or target missed)"
    out = [f'<svg class="chart sweep" xmlns="http://www.w3.org/2000/svg" width="{left + width + 160}" '
           f'height="{top + height + 50}" role="img" aria-label="{html.escape(title)}">',
           f'<text x="4" y="18" font-weight="bold">{html.escape(title)}</text>',
           f'<line x1="{left}" y1="{top + height}" x2="{left + width}" y2="{top + height}" stroke="#444"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + height}" stroke="#444"/>',
           f'<text x="{left + width / 2}" y="{top + height + 32}" text-anchor="middle" font-size="12">frames/s (log)</text>',
           f'<text x="{left - 8}" y="{top + 10}" text-anchor="end" font-size="11">{ymax / 1.1:,.0f}</text>']
    for k in range(math.ceil(x0), math.floor(x1) + 1):
        x = left + width * (k - x0) / max(x1 - x0, 1e-9)
        out.append(f'<text x="{x:.1f}" y="{top + height + 16}" text-anchor="middle" font-size="11">1e{k}</text>')
    for j, backend in enumerate(data["points"]):
        colour = COLOURS[j % len(COLOURS)]
        mine = [p for b, p in pts if b == backend]
        if len(mine) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(at, mine))
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}"/>')
        for p in mine:
            x, y = at(p)
            fill = colour if p["fits"] else "white"
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" stroke="{colour}">'
                       f'<title>{html.escape(backend)}: target {p["target_fps"]:,}, {p["fps"]:,.0f} frames/s, '
                       f'{p["latency_us"]} us, {resource} {p["resources"][resource]:,}</title></circle>')
        out.append(f'<rect x="{left + width + 20}" y="{top + 20 * j}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{left + width + 34}" y="{top + 20 * j + 10}" font-size="11">{html.escape(backend)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def section(data: dict) -> str:
    """The report page's sweep section: one chart per resource and the points as a table."""
    table = "<pre>" + html.escape("\n".join(lines(data))) + "</pre>"
    return ("<h2>Throughput against resources</h2><p class=note>Each backend folded for "
            + html.escape(", ".join(f"{t:,}" for t in data["targets"]))
            + " frames/s, as estimated (fpgaflow's model for hls4ml, FINN's for FINN).</p>"
            + "".join(_chart(r, data) for r in AXES) + table)
