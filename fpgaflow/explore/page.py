"""sweep.html: one scatter plot per objective pair (accuracy against LUT, DSP, BRAM_18K, frames/s,
latency), a colour per backend, the Pareto front drawn as a step line, each point's settings on
hover, and every point in a table (failures with their one-line errors). Self-contained: the
SVG is drawn here, the script only checks and marks the page (the browser test reads that)."""
from __future__ import annotations

import html
import json
import math
from pathlib import Path

from ..core.atomic import atomic_write_text
from ..reports.html import COLOURS
from . import results

LEFT, TOP, WIDTH, HEIGHT = 70, 30, 520, 280


def _scale(values: list[float], log: bool):
    """(value -> 0..1, value at 0..1 -> value): padded, and never below 0 for counts."""
    lo, hi = min(values), max(values)
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    pad = (hi - lo) * 0.08 or (abs(hi) * 0.05 or 1)
    lo, hi = lo - pad, hi + pad
    if not log and min(values) >= 0:
        lo = max(lo, 0.0)

    def back(t):
        v = lo + t * (hi - lo)
        return 10 ** v if log else v
    return (lambda v: ((math.log10(v) if log else v) - lo) / (hi - lo)), back


def _label(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _chart(pair, items: list[dict], backends: list[str]) -> str:
    (yname, _), (xname, xsense) = pair
    pts = [e for e in items if results.value(e["record"], e["figures"], xname) is not None]
    title = f"accuracy against {xname} ({'higher' if xsense == 'max' else 'lower'} is better; estimates)"
    out = [f'<svg class="chart sweep" data-pair="{html.escape(xname)}" data-points="{len(pts)}" '
           f'xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 150}" height="{TOP + HEIGHT + 50}" role="img" '
           f'aria-label="{html.escape(title)}">',
           f'<text x="4" y="18" font-weight="bold">{html.escape(title)}</text>',
           f'<line x1="{LEFT}" y1="{TOP + HEIGHT}" x2="{LEFT + WIDTH}" y2="{TOP + HEIGHT}" stroke="#444"/>',
           f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + HEIGHT}" stroke="#444"/>']
    if not pts:
        out.append(f'<text x="{LEFT + 20}" y="{TOP + 40}">no bit-exact point has a {html.escape(xname)} figure</text>')
        return "\n".join(out + ["</svg>"])
    xs = [results.value(e["record"], e["figures"], xname) for e in pts]
    ys = [e["record"]["accuracy"] for e in pts]
    log = min(xs) > 0 and max(xs) / min(xs) > 20
    fx, x_at = _scale(xs, log)
    fy, y_at = _scale(ys, False)

    def at(e):
        return (LEFT + WIDTH * fx(results.value(e["record"], e["figures"], xname)),
                TOP + HEIGHT - HEIGHT * fy(e["record"]["accuracy"]))

    axis = f"{xname}{' (log)' if log else ''}"
    out.append(f'<text x="{LEFT + WIDTH / 2}" y="{TOP + HEIGHT + 36}" text-anchor="middle" font-size="12">{axis}</text>')
    for t in (0, 0.25, 0.5, 0.75, 1):
        out.append(f'<text x="{LEFT + WIDTH * t:.1f}" y="{TOP + HEIGHT + 16}" text-anchor="middle" font-size="11">'
                   f'{_label(x_at(t))}</text>')
        out.append(f'<text x="{LEFT - 6}" y="{TOP + HEIGHT * (1 - t) + 4:.1f}" text-anchor="end" font-size="11">'
                   f'{y_at(t):.4f}</text>')
    best = results.front(pts, pair)
    if len(best) > 1:  # the front as a staircase: what each cost buys at best
        steps, prev = [], None
        for e in sorted(best, key=lambda e: at(e)[0]):
            x, y = at(e)
            if prev is not None:
                steps.append(f"{x:.1f},{prev:.1f}")
            steps.append(f"{x:.1f},{y:.1f}")
            prev = y
        out.append(f'<polyline class="front" points="{" ".join(steps)}" fill="none" stroke="#999" '
                   f'stroke-dasharray="4 3"/>')
    on_front = {(e["hash"], e["backend"]) for e in best}
    # the first backend drawn largest, the others smaller on top: coinciding points stay visible
    rank = {b: i for i, b in enumerate(backends)}
    for e in sorted(pts, key=lambda e: rank.get(e["backend"], 0)):
        x, y = at(e)
        colour = COLOURS[backends.index(e["backend"]) % len(COLOURS)] if e["backend"] in backends else "#000"
        edge = ' stroke="#000" stroke-width="2"' if (e["hash"], e["backend"]) in on_front else f' stroke="{colour}"'
        f = e["figures"]
        tip = (f"{e['backend']} [{e['hash'][:8]}] {results.settings(e['point'])}: accuracy {e['record']['accuracy']:.4f}, "
               f"{xname} {results.value(e['record'], f, xname):,}, LUT {f['resources']['LUT']}, DSP {f['resources']['DSP']}"
               f", {f['fps']:,.0f} frames/s, {f['latency_us']} us")
        radius = max(3, 7 - 2 * rank.get(e["backend"], 0))
        out.append(f'<circle class="point" data-hash="{e["hash"]}" cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{colour}"'
                   f'{edge}><title>{html.escape(tip)}</title></circle>')
    for j, b in enumerate(backends):
        out.append(f'<rect x="{LEFT + WIDTH + 20}" y="{TOP + 20 * j}" width="10" height="10" '
                   f'fill="{COLOURS[j % len(COLOURS)]}"/><text x="{LEFT + WIDTH + 34}" y="{TOP + 20 * j + 10}" '
                   f'font-size="11">{html.escape(b)}</text>')
    out.append(f'<text x="{LEFT + WIDTH + 20}" y="{TOP + 20 * len(backends) + 10}" font-size="11">black ring: front'
               f'</text>')
    return "\n".join(out + ["</svg>"])


def _table(records: list[dict], backends: list[str]) -> str:
    keys = list(dict.fromkeys(k for r in records for k in r["point"]))
    head = ["hash", *keys, "accuracy", "s"] + [f"{b} {c}" for b in backends
                                              for c in ("exact", "LUT", "DSP", "BRAM_18K", "frames/s", "latency us")]
    rows = []
    for r in records:
        cells = [r["hash"][:8], *[r["point"].get(k) for k in keys], r["accuracy"], r["seconds"]]
        for b in backends:
            be = r["backends"].get(b)
            if be is None or be["error"]:
                cells += [(be or {}).get("error") or ("-" if r["error"] is None else ""), None, None, None, None, None]
            else:
                cells += [f"{be['n'] - be['mismatches']}/{be['n']}", *[be["resources"][k] for k in ("LUT", "DSP",
                                                                                               "BRAM_18K")],
                          be["fps"], be["latency_us"]]
        if r["error"]:
            cells.append(f"FAILED: {r['error']}")
        rows.append(cells)
    def cell(v):
        return "" if v is None else html.escape(f"{v:,}" if isinstance(v, (int, float)) and not isinstance(v, bool)
                                                else str(v))
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return (f'<table id="points"><tr>{"".join(f"<th>{html.escape(h)}</th>" for h in head)}<th>error</th></tr>'
            f"{body}</table><p class=note>A backend that failed shows its error in its first column; a point that "
            f"failed, in the last.</p>")


def write_page(folder: Path, design: str, s: dict, records: list[dict]) -> Path:
    backends = list(dict.fromkeys([*s["backends"], *(b for r in records for b in r["backends"])]))
    items = results.entries(records)
    charts = "".join(_chart(pair, items, backends) for pair in results.PAIRS)
    failed = sum(not results.finished(r) for r in records)
    data = json.dumps({"points": len(records), "entries": len(items), "failed": failed}).replace("</", "<\\/")
    title = f"{design} sweep {s['name']}"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; margin: 8px 0 20px; font-size: 12px; }}
th, td {{ border: 1px solid #ccc; padding: 3px 6px; text-align: right; }}
.note {{ color: #555; font-size: 13px; max-width: 60em; }}
svg.chart {{ display: block; margin: 10px 0 24px; font-family: sans-serif; }}
#errors:empty {{ display: none; }} #errors {{ color: #c00; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>{len(records)} points ({failed} failed), {len(items)} bit-exact (point, backend) entries; trained
{s['epochs']} epoch(s){'' if s['steps'] is None else f", at most {s['steps']} steps"} each, verified on
{s['images']} test images. Swept: {html.escape(', '.join(f"{k} = {v}" for k, v in s['space'].items()))}.</p>
<p class=note>Resources, frames/s and latency are estimates at the point's folding target (fpgaflow's resource
model for hls4ml, FINN's for FINN); accuracy is measured on the test set. Only bit-exact entries are drawn.</p>
<h2>Trade-offs</h2>
{charts}
<h2>Points</h2>
{_table(records, backends)}
<pre id="errors"></pre>
<script type="application/json" id="sweep-data">{data}</script>
<script>
window.addEventListener("error", function (e) {{ document.getElementById("errors").textContent += e.message + "\\n"; }});
document.addEventListener("DOMContentLoaded", function () {{
  var data = JSON.parse(document.getElementById("sweep-data").textContent);
  var charts = document.querySelectorAll("svg.chart");
  document.body.dataset.charts = charts.length;
  document.body.dataset.rows = document.querySelectorAll("#points tr").length - 1;
  document.body.dataset.drawn = document.querySelectorAll("svg.chart[data-pair='LUT'] circle.point").length;
  document.body.dataset.agrees = String(data.points === Number(document.body.dataset.rows));
  document.body.dataset.ready = "1";
}});
</script>
</body></html>
"""
    path = Path(folder) / "sweep.html"
    atomic_write_text(path, page)
    return path
