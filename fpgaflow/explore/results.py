"""A sweep's results: results.jsonl (one line a point, appended as each ends; a point run again
appends again and its last line counts), the Pareto fronts over objective pairs (pareto.json),
and the terminal's table of a front.

An entry of a front is one (point, backend): a point built with two backends is two
candidates, each with its own resources and speed. Only entries verified bit-exact count.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.atomic import atomic_write_text

# accuracy against each cost: (objective, sense) pairs; "max" is better when larger
PAIRS = [(("accuracy", "max"), ("LUT", "min")), (("accuracy", "max"), ("DSP", "min")),
         (("accuracy", "max"), ("BRAM_18K", "min")), (("accuracy", "max"), ("fps", "max")),
         (("accuracy", "max"), ("latency_us", "min"))]


def append(path: Path, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record, sort_keys=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read(path: Path) -> list[dict]:
    """The last record of each point, in the order the points first appeared."""
    latest = {}
    if Path(path).is_file():
        for line in Path(path).read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                latest[r["hash"]] = r
    return list(latest.values())


def finished(record: dict) -> bool:
    """Ran to its end (whatever it found): --resume leaves it. A point that failed runs again."""
    return record["error"] is None and all(be["error"] is None for be in record["backends"].values())


def bit_exact(record: dict) -> bool:
    """Ran to its end and every backend verified bit-exact."""
    return finished(record) and all(be["exact"] for be in record["backends"].values())


def value(record: dict, backend: dict, name: str):
    if name == "accuracy":
        return record["accuracy"]
    if name in ("fps", "latency_us"):
        return backend.get(name)
    return backend["resources"].get(name)


def entries(records: list[dict]) -> list[dict]:
    """Every (point, backend) that was built and verified bit-exact."""
    out = []
    for r in records:
        if r["error"] is not None or r["accuracy"] is None:
            continue
        for name, be in r["backends"].items():
            if be["error"] is None and be["exact"]:
                out.append({"hash": r["hash"], "backend": name, "point": r["point"], "record": r, "figures": be})
    return out


def front(items: list[dict], pair) -> list[dict]:
    """The non-dominated entries for `pair`: none other is at least as good on both objectives
    and better on one. Sorted by the second objective."""
    def key(e):
        return [value(e["record"], e["figures"], n) * (1 if s == "max" else -1) for n, s in pair]

    scored = [(e, key(e)) for e in items if all(value(e["record"], e["figures"], n) is not None for n, _ in pair)]
    keep = [e for e, k in scored
            if not any(all(o >= m for o, m in zip(other, k)) and other != k for _, other in scored)]
    name = pair[1][0]
    return sorted(keep, key=lambda e: value(e["record"], e["figures"], name))


def pareto(records: list[dict]) -> dict:
    items = entries(records)
    out = {}
    for pair in PAIRS:
        label = f"{pair[0][0]} vs {pair[1][0]}"
        out[label] = [{"hash": e["hash"], "backend": e["backend"], "point": e["point"],
                       **{n: value(e["record"], e["figures"], n) for n, _ in pair}} for e in front(items, pair)]
    return out


def write_pareto(folder: Path, records: list[dict]) -> dict:
    data = {"objectives": [[a[0], b[0]] for a, b in PAIRS], "fronts": pareto(records),
            "note": "non-dominated (point, backend) entries among those verified bit-exact; resources, frames/s "
                    "and latency are estimates (fpgaflow's resource model for hls4ml, FINN's for FINN)"}
    atomic_write_text(Path(folder) / "pareto.json", json.dumps(data, indent=1) + "\n")
    return data


def settings(point: dict) -> str:
    return " ".join(f"{k.split('.')[-1]}={v}" for k, v in point.items())


def front_table(records: list[dict], pair=PAIRS[0]) -> str:
    """The terminal's table of one front (accuracy against LUT by default)."""
    rows = front(entries(records), pair)
    head = f"{'backend':8s} {'accuracy':>8s} {'LUT':>9s} {'DSP':>6s} {'BRAM_18K':>8s} {'frames/s':>10s} " \
           f"{'latency us':>10s}  settings"
    out = [f"Pareto front, {pair[0][0]} against {pair[1][0]} ({len(rows)} of {len(entries(records))} bit-exact "
           f"entries; resources, frames/s and latency are estimates: FINN's for finn, fpgaflow's for hls4ml):", head]
    for e in rows:
        f, res = e["figures"], e["figures"]["resources"]

        def n(v, spec=",.0f"):
            return "-" if v is None else format(v, spec)
        out.append(f"{e['backend']:8s} {e['record']['accuracy']:>8.4f} {n(res['LUT']):>9s} {n(res['DSP']):>6s} "
                   f"{n(res['BRAM_18K']):>8s} {n(f['fps']):>10s} {n(f['latency_us'], ',.1f'):>10s}  "
                   f"{settings(e['point'])} [{e['hash'][:8]}]")
    return "\n".join(out)
