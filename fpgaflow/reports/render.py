"""Terminal output of a review: rich tables (plain text where the output is not a terminal)."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .review import SOURCES, TITLES, best_timing, layers
from .schema import RESOURCES, is_bound


def fmt(v, pct_of=None) -> str:
    if v is None:
        return "-"
    text = f"{v:,}" if isinstance(v, int) else f"{v:,.3g}"
    if pct_of:
        text += f" ({100 * v / pct_of:.0f}%)"
    return text


def _delta(v) -> str:
    if v is None:
        return "-"
    return "0" if v == 0 else f"[red]+{v:,}[/red]" if v > 0 else f"[green]{v:,}[/green]"


def summary_table(name: str, s: dict) -> Table:
    present = [k for k in SOURCES if s.get(k)]
    t = Table(title=f"{name}: totals", title_justify="left")
    t.add_column("")
    for k in present:
        r = s[k]
        t.add_column(f"{TITLES[k]}\n{r['tool']} {r['tool_version'] or ''}".strip(), justify="right")
    avail = next((s[k]["available"] for k in ("implementation", "hls", "estimate") if s.get(k)), {})
    t.add_column("available", justify="right")
    for res in RESOURCES:
        # each report's share of its own part (place and route may target another part than the build)
        t.add_row(res, *[fmt(s[k]["resources"][res], s[k]["available"].get(res) or avail.get(res)) for k in present],
                  fmt(avail.get(res)))
    for key, label in (("latency_cycles", "latency (cycles)"), ("interval_cycles", "interval (cycles)")):
        lo, hi = ("best", "worst") if key == "latency_cycles" else ("min", "max")
        cells = []
        for k in present:
            a, b = s[k][key][lo], s[k][key][hi]
            prefix = ">= " if is_bound(s[k]) and a is not None else ""
            cells.append(prefix + (fmt(a) if a == b or b is None else f"{fmt(a)}-{fmt(b)}"))
        t.add_row(label, *cells, "")
    t.add_row("clock est. (ns)", *[fmt(s[k]["clock_ns"]["estimated"]) for k in present], "")
    timing = best_timing(s)
    lat = timing["latency_cycles"]
    if lat["us"] is not None:
        t.caption = (f"latency {'>= ' if lat['lower_bound'] else ''}{lat['us']:.3g} us at {timing['clock_ns']} ns "
                     f"(cycles from {TITLES[lat['source']]}; clock: {timing['clock_source']})")
    return t


def layer_table(name: str, s: dict) -> Table:
    t = Table(title=f"{name}: per layer", title_justify="left")
    rows = layers(s)
    has_report, has_estimate = any(r["report"] for r in rows), any(r["estimate"] for r in rows)
    cols = ["layer"] + (["latency", "interval", *RESOURCES] if has_report else []) + \
        (["est. MACs", "est. mult.", "est. cycles >=" if is_bound(s.get("estimate")) else "est. cycles",
          "est. LUT", "est. BRAM"] if has_estimate else [])
    for col in cols:
        t.add_column(col, justify="left" if col == "layer" else "right")
    for row in rows:
        r, e = row["report"], row["estimate"]
        lat = r and r["latency_cycles"]
        ii = r and r["interval_cycles"]
        cells = [row["label"]]
        if has_report:
            cells += [
                "-" if not r else fmt(lat["best"]) if lat["best"] == lat["worst"] else f"{fmt(lat['best'])}-{fmt(lat['worst'])}",
                "-" if not r else fmt(ii["min"]) if ii["min"] == ii["max"] else f"{fmt(ii['min'])}-{fmt(ii['max'])}",
                *[fmt(r["resources"][k]) if r else "-" for k in RESOURCES]]
        if has_estimate:
            cells += [fmt(e and e.get("macs")), fmt(e and e.get("multipliers")), fmt(e and e["latency_cycles"]["best"]),
                      fmt(e and e["resources"]["LUT"]), fmt(e and e["resources"]["BRAM_18K"])]
        t.add_row(*cells)
    return t


def budget_table(rows: list[dict]) -> Table:
    t = Table(title="budgets", title_justify="left")
    for col in ("budget", "limit", "value", "from", "status"):
        t.add_column(col, justify="left" if col in ("budget", "status", "from") else "right")
    colour = {"pass": "green", "fail": "red", "unknown": "yellow"}
    for b in rows:
        value, limit = budget_text(b)
        t.add_row(b["key"], limit, value, TITLES.get(b["source"], "-"), f"[{colour[b['status']]}]{b['status']}[/]")
    return t


def budget_text(b: dict) -> tuple[str, str]:
    """(value, limit) of a budget row as text: percentages of the part, or microseconds."""
    is_fraction = b["key"] not in ("latency_us", "interval_us")
    value = "-" if b["value"] is None else (f"{100 * b['value']:.1f}%" if is_fraction else f"{b['value']:.3g} us")
    if b.get("lower_bound") and b["value"] is not None:
        value = ">= " + value
    return value, f"{100 * b['limit']:.0f}%" if is_fraction else f"{b['limit']} us"


def budget_failure(label: str, b: dict) -> str:
    value, limit = budget_text(b)
    of_part = "" if b["key"].endswith("_us") else " of the part"
    return f"[red]BUDGET FAILED[/red] {label}: {b['key']} = {value}{of_part}, budget {limit} (from the {b['source']} report)"


def compare_table(c: dict) -> Table:
    t = Table(title=f"compare: {c['a']}  ->  {c['b']}", title_justify="left")
    t.add_column("layer")
    t.add_column("")
    for col in (*RESOURCES, "latency"):
        t.add_column(col, justify="right")
    for row in [*c["layers"], {"name": "total", "status": "", **c["totals"]}]:
        t.add_row(row["name"], row["status"],
                  *[_delta(row[k]["delta"]) if row[k]["delta"] is not None else f"{fmt(row[k]['a'])} -> {fmt(row[k]['b'])}"
                    for k in (*RESOURCES, "latency_cycles")])
    return t


def console() -> Console:
    return Console(width=160, highlight=False)
