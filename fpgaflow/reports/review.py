"""Review of a build: one summary from its reports, per-layer rows, budgets, comparisons.

The numbers a budget or a comparison uses come from the most real source present:
resources from Vivado (implementation) > HLS C synthesis > fpgaflow's estimate; latency
from C/RTL co-simulation > HLS > estimate (a lower bound, labelled as such).
"""
from __future__ import annotations

from .schema import RESOURCES, is_bound

SOURCES = ("estimate", "hls", "implementation", "place-and-route", "cosim")
TITLES = {"estimate": "estimate", "hls": "HLS synthesis", "implementation": "logic synthesis",
          "place-and-route": "place and route", "cosim": "co-simulation"}
BUDGET_KEYS = (*RESOURCES, "latency_us", "interval_us")


def best_resources(s: dict) -> tuple[dict | None, str | None]:
    """The most real report that has totals (Yosys per layer has none while a layer is missing)."""
    for kind in ("place-and-route", "implementation", "hls", "estimate"):
        if s.get(kind) is not None and any(v is not None for v in s[kind]["resources"].values()):
            return s[kind], kind
    return None, None


def _cycles(r, key, which):
    return r[key][which] if r is not None else None


def placed_clock_ns(pnr: dict) -> float | None:
    """The clock a place-and-route report supports: the asked one where timing was met, else the one reached."""
    return pnr["clock_ns"]["target"] if pnr.get("timing_met") else pnr["clock_ns"].get("achieved")


def best_timing(s: dict) -> dict:
    """latency and interval in cycles and microseconds, with the source each came from."""
    clock = next((s[k]["clock_ns"]["target"] for k in ("hls", "estimate") if s.get(k) and s[k]["clock_ns"]["target"]), None)
    out = {"clock_ns": clock, "clock_source": "the design's clock (an assumption: no placed design met it)"}
    pnr = s.get("place-and-route")
    if pnr is not None:
        met = pnr.get("timing_met")
        clock = placed_clock_ns(pnr)
        out = {"clock_ns": clock, "clock_source": f"place and route ({pnr['part']}): timing "
                                                  f"{'met' if met else 'not met, the clock reached'}"}
    for key, worst in (("latency_cycles", "worst"), ("interval_cycles", "max")):
        for kind in ("cosim", "hls", "estimate"):
            r = s.get(kind)
            v = r and (r[key][worst] if r[key][worst] is not None else r[key]["best" if worst == "worst" else "min"])
            if v is not None:
                out[key] = {"cycles": v, "source": kind, "lower_bound": is_bound(r),
                            "us": v * clock / 1000 if clock else None}
                break
        else:
            out[key] = {"cycles": None, "source": None, "lower_bound": False, "us": None}
    return out


def layer_key(l: dict) -> str:
    return l.get("layer") or l["name"]


def layers(s: dict) -> list[dict]:
    """Per-layer rows: the HLS report's layers (else the logic synthesis report's), with the
    estimate's matched by layer name."""
    est = {layer_key(l): l for l in (s["estimate"]["layers"] if s.get("estimate") else [])}
    rows = []
    primary = next((s[k] for k in ("hls", "implementation") if s.get(k) and s[k]["layers"]), None)
    if primary:
        for l in primary["layers"]:
            rows.append({"name": layer_key(l), "report": l, "estimate": est.pop(layer_key(l), None)})
    rows += [{"name": k, "report": None, "estimate": l} for k, l in est.items()]
    for r in rows:  # the design's own name (conv1, fc1, ...) where the estimate knows it
        own = r["estimate"] and r["estimate"].get("design_layer")
        r["label"] = f"{r['name']} ({own})" if own and own != r["name"] else r["name"]
    return rows


def check_budgets(s: dict, budget: dict) -> list[dict]:
    """[{key, limit, value, used, source, status: pass|fail|unknown}] for each budget key."""
    res, res_kind = best_resources(s)
    timing = best_timing(s)
    out = []
    for key, limit in budget.items():
        if key in RESOURCES:
            used = res and res["resources"].get(key)
            avail = res and res["available"].get(key)
            value = used / avail if used is not None and avail else None
            row = {"key": key, "limit": limit, "value": value, "used": used, "available": avail, "source": res_kind}
        else:
            t = timing["latency_cycles" if key == "latency_us" else "interval_cycles"]
            value = t["us"]
            row = {"key": key, "limit": limit, "value": value, "source": t["source"], "lower_bound": t["lower_bound"]}
        # a lower bound above the limit fails; one below it proves nothing
        if value is None or (row.get("lower_bound") and value <= limit):
            row["status"] = "unknown"
        else:
            row["status"] = "pass" if value <= limit else "fail"
        out.append(row)
    return out


def _delta(a, b):
    return None if a is None or b is None else b - a


def compare(a: dict, b: dict) -> dict:
    """Per-layer and total deltas from build a to build b, on the most real report of each."""
    def primary(s):
        return s.get("hls") or s.get("estimate")

    pa, pb = primary(a), primary(b)
    la = {layer_key(l): l for l in (pa["layers"] if pa else [])}
    lb = {layer_key(l): l for l in (pb["layers"] if pb else [])}
    names = list(la) + [n for n in lb if n not in la]
    rows = []
    for n in names:
        x, y = la.get(n), lb.get(n)
        row = {"name": n, "status": "same" if x and y else ("removed" if x else "added")}
        for k in RESOURCES:
            row[k] = {"a": x and x["resources"][k], "b": y and y["resources"][k],
                      "delta": _delta(x and x["resources"][k], y and y["resources"][k])}
        lat_a = x and (x["latency_cycles"]["worst"] or x["latency_cycles"]["best"])
        lat_b = y and (y["latency_cycles"]["worst"] or y["latency_cycles"]["best"])
        row["latency_cycles"] = {"a": lat_a, "b": lat_b, "delta": _delta(lat_a, lat_b)}
        rows.append(row)
    totals = {k: {"a": pa and pa["resources"][k], "b": pb and pb["resources"][k],
                  "delta": _delta(pa and pa["resources"][k], pb and pb["resources"][k])} for k in RESOURCES}
    ta, tb = best_timing(a)["latency_cycles"]["cycles"], best_timing(b)["latency_cycles"]["cycles"]
    totals["latency_cycles"] = {"a": ta, "b": tb, "delta": _delta(ta, tb)}
    return {"a": pa and pa["source"], "b": pb and pb["source"], "layers": rows, "totals": totals}
