"""The review as one self-contained HTML page (inline SVG charts, no network, no libraries).

Charts: utilisation of the part per source, per-layer resources, per-layer latency, and the
estimate against the synthesis report where both exist. A few lines of script mark the
page ready and record errors, which the browser test reads back.
"""
from __future__ import annotations

import html
import json
import math

from .review import SOURCES, TITLES, best_timing, layers
from .schema import RESOURCES, is_bound

COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"]


def _esc(v) -> str:
    return html.escape(str(v))


def bar_chart(title: str, labels: list[str], series: dict[str, list], unit: str = "", log: bool = False,
              limit: float | None = None) -> str:
    """Horizontal grouped bars; None values are drawn as 'n/a'."""
    row_h, bar_h = 8 + 14 * max(1, len(series)), 12
    left, width, top = 230, 520, 30
    height = top + row_h * max(1, len(labels)) + 40
    values = [v for vs in series.values() for v in vs if v is not None and v > 0]
    vmax = max(values + ([limit] if limit else []), default=1)
    vmin = min(values, default=1)

    def scale(v):
        if log:
            lo, hi = math.log10(max(vmin, 1e-9)) - 0.3, math.log10(vmax)
            return width * (math.log10(v) - lo) / max(hi - lo, 1e-9) if v > 0 else 0
        return width * v / vmax if vmax else 0

    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{left + width + 120}" height="{height}" '
           f'role="img" aria-label="{_esc(title)}">',
           f'<text x="4" y="18" font-weight="bold">{_esc(title)}</text>']
    for i, label in enumerate(labels):
        y0 = top + i * row_h
        out.append(f'<text x="{left - 6}" y="{y0 + row_h / 2 + 4}" text-anchor="end" font-size="12">{_esc(label)}</text>')
        for j, (name, vs) in enumerate(series.items()):
            v = vs[i]
            y = y0 + 4 + j * 14
            if v is None:
                out.append(f'<text x="{left + 4}" y="{y + 10}" font-size="10" fill="#888">n/a ({_esc(name)})</text>')
                continue
            w = max(scale(v), 1)
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{COLOURS[j % len(COLOURS)]}">'
                       f'<title>{_esc(label)} {_esc(name)}: {v:,} {unit}</title></rect>')
            out.append(f'<text x="{left + w + 4:.1f}" y="{y + 10}" font-size="10">{v:,.4g}{_esc(unit)}</text>')
    if limit is not None:
        x = left + scale(limit)
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 36}" stroke="#c00" stroke-dasharray="4"/>')
    ly = height - 14
    for j, name in enumerate(series):
        out.append(f'<rect x="{left + j * 150}" y="{ly - 10}" width="10" height="10" fill="{COLOURS[j % len(COLOURS)]}"/>'
                   f'<text x="{left + j * 150 + 14}" y="{ly}" font-size="11">{_esc(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _table(head: list[str], rows: list[list]) -> str:
    h = "".join(f"<th>{_esc(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{_esc('-' if c is None else c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _range(d: dict, lo: str, hi: str):
    a, b = d[lo], d[hi]
    return a if b is None or a == b else f"{a}-{b}"


def _latency_cell(r: dict, kind: str):
    v = r["latency_cycles"]["worst"] or r["latency_cycles"]["best"]
    return f">= {v}" if is_bound(r) and v is not None else v


def _charts(s: dict, present: list[str], avail: dict, rows: list[dict]) -> list[str]:
    """The page's charts: utilisation of the part, per-layer resources and latency, estimate vs report."""
    charts = []
    util = {TITLES[k]: [round(100 * s[k]["resources"][r] / avail[r], 2)
                        if s[k]["resources"][r] is not None and avail.get(r) else None for r in RESOURCES]
            for k in present if k != "cosim"}
    charts.append(bar_chart("Utilisation of the part (% of available)", list(RESOURCES), util, "%", limit=100))
    names = [r["label"] for r in rows]
    source = "report" if any(r["report"] for r in rows) else "estimate"
    label = "HLS report" if source == "report" else "estimate"
    if rows:
        for res in ("DSP", "LUT", "FF", "BRAM_18K"):
            vals = [r[source]["resources"][res] if r[source] else None for r in rows]
            if any(v is not None for v in vals):
                charts.append(bar_chart(f"{res} per layer ({label})", names, {res: vals}))
        lat = {f"latency ({label}{', lower bound' if source == 'estimate' and is_bound(s.get('estimate')) else ''})":
               [(r[source]["latency_cycles"]["worst"] or r[source]["latency_cycles"]["best"]) if r[source] else None
                for r in rows]}
        charts.append(bar_chart("Latency per layer (cycles, log scale)", names, lat, log=True))
        both = [r for r in rows if r["report"] and r["estimate"]]
        if both:
            charts.append(bar_chart("Estimate vs report: DSP", [r["label"] for r in both],
                                    {"estimate": [r["estimate"]["resources"]["DSP"] for r in both],
                                     "HLS report": [r["report"]["resources"]["DSP"] for r in both]}))
            charts.append(bar_chart("Estimate vs report: latency (cycles, log scale)", [r["label"] for r in both],
                                    {"estimate": [r["estimate"]["latency_cycles"]["best"] for r in both],
                                     "HLS report": [r["report"]["latency_cycles"]["worst"] for r in both]}, log=True))
    return charts


def page(title: str, s: dict, budgets: list[dict] | None = None, extra: str = "") -> str:
    """The review page; `extra`: further sections (HTML) after the budgets, e.g. a throughput sweep."""
    present = [k for k in SOURCES if s.get(k)]
    avail = next((s[k]["available"] for k in ("implementation", "hls", "estimate") if s.get(k)), {})
    rows = layers(s)
    charts = _charts(s, present, avail, rows)
    totals = _table(["", *[TITLES[k] for k in present], "available"],
                    [[res, *[s[k]["resources"][res] for k in present], avail.get(res)] for res in RESOURCES]
                    + [["latency (cycles)", *[_latency_cell(s[k], k) for k in present], None]])
    layer_rows = _table(
        ["layer", "latency (cycles)", "interval", *RESOURCES, "est. MACs", "est. multipliers",
         "est. cycles (lower bound)" if is_bound(s.get("estimate")) else "est. cycles", "est. LUT", "est. BRAM_18K"],
        [[r["label"], r["report"] and _range(r["report"]["latency_cycles"], "best", "worst"),
          r["report"] and _range(r["report"]["interval_cycles"], "min", "max"),
          *[r["report"] and r["report"]["resources"][k] for k in RESOURCES],
          r["estimate"] and r["estimate"].get("macs"), r["estimate"] and r["estimate"].get("multipliers"),
          r["estimate"] and r["estimate"]["latency_cycles"]["best"], r["estimate"] and r["estimate"]["resources"]["LUT"],
          r["estimate"] and r["estimate"]["resources"]["BRAM_18K"]]
         for r in rows])
    sources = _table(["source", "tool", "version", "part", "top", "file"],
                     [[TITLES[k], s[k]["tool"], s[k]["tool_version"], s[k]["part"], s[k]["top"], s[k]["source"]]
                      for k in present])
    timing = best_timing(s)
    budget_html = ""
    if budgets:
        budget_html = "<h2>Budgets</h2>" + _table(
            ["budget", "limit", "value", "from", "status"],
            [[b["key"], b["limit"], None if b["value"] is None else round(b["value"], 4), TITLES.get(b["source"]),
              b["status"]] for b in budgets])
    est_note = (f"<p class=note>{_esc(s['estimate'].get('note') or 'Estimates: no vendor tool ran.')}</p>"
                if "estimate" in present else "")
    lat = timing["latency_cycles"]
    headline = (f"latency {'&ge; ' if lat['lower_bound'] else ''}{lat['us']:.4g} &micro;s at {timing['clock_ns']} ns "
                f"(from {TITLES[lat['source']]})") if lat["us"] is not None else "latency unknown"
    data = json.dumps({"summary": s, "budgets": budgets or []}).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; margin: 8px 0 20px; font-size: 13px; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.note {{ color: #555; font-size: 13px; max-width: 60em; }}
svg.chart {{ display: block; margin: 10px 0 24px; font-family: sans-serif; }}
#errors:empty {{ display: none; }} #errors {{ color: #c00; }}
</style></head>
<body>
<h1>{_esc(title)}</h1>
<p>{headline}</p>
{est_note}
<h2>Totals</h2>{totals}
{budget_html}
{extra}
<h2>Per layer</h2>{layer_rows}
<h2>Charts</h2>
{''.join(charts)}
<h2>Sources</h2>{sources}
<pre id="errors"></pre>
<script type="application/json" id="report-data">{data}</script>
<script>
window.addEventListener("error", function (e) {{ document.getElementById("errors").textContent += e.message + "\\n"; }});
document.addEventListener("DOMContentLoaded", function () {{
  var data = JSON.parse(document.getElementById("report-data").textContent);
  document.body.dataset.charts = document.querySelectorAll("svg.chart").length;
  document.body.dataset.sources = Object.keys(data.summary).filter(function (k) {{ return data.summary[k]; }}).join(",");
  document.body.dataset.ready = "1";
}});
</script>
</body></html>
"""
