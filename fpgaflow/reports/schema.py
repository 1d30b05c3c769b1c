"""The one report schema every parser fills, whatever the tool or its version.

A value the source does not have is None (null in JSON), never 0. BRAM is counted in 18K
blocks: a 36K tile counts 2.
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

from ..core.errors import FpgaflowError

RESOURCES = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")
# names tools use for a resource -> the schema's name
RESOURCE_ALIASES = {"DSP48E": "DSP", "DSP48E1": "DSP", "DSP48E2": "DSP", "DSPS": "DSP", "DSP": "DSP",
                    "LUT": "LUT", "FF": "FF", "BRAM_18K": "BRAM_18K", "BRAM": "BRAM_18K", "URAM": "URAM"}


def resources(**values) -> dict:
    return {k: values.get(k) for k in RESOURCES}


def layer(name: str, latency=(None, None), interval=(None, None), res: dict | None = None, **extra) -> dict:
    return {"name": name, "latency_cycles": {"best": latency[0], "worst": latency[1]},
            "interval_cycles": {"min": interval[0], "max": interval[1]},
            "resources": res or resources(), **extra}


EMPTY = {
    "source": None, "kind": None, "tool": None, "tool_version": None, "part": None, "top": None,
    "clock_ns": {"target": None, "estimated": None},
    "latency_cycles": {"best": None, "worst": None},
    "interval_cycles": {"min": None, "max": None},
    "resources": resources(), "available": resources(),
    "layers": [],
}


# 'hls' (C synthesis), 'cosim' (co-simulation, RTL simulation), 'implementation' (logic synthesis:
# Vivado, Yosys), 'place-and-route' (nextpnr: placed resources and the routed design's Fmax),
# 'estimate' (no tool ran)
KINDS = ("estimate", "hls", "cosim", "implementation", "place-and-route")


def empty(source: str, kind: str, tool: str) -> dict:
    """A report of `kind` (KINDS) with every figure null."""
    r = copy.deepcopy(EMPTY)
    r.update(source=str(source), kind=kind, tool=tool)
    return r


def available(part: str | None) -> dict:
    """The part's capacity in the schema's keys; all null for no part or one fpgaflow does not know."""
    from ..core.parts import part_capacity

    if not part:
        return resources()
    try:
        cap = part_capacity(part)
    except FpgaflowError:
        return resources()
    return resources(**{k: cap.get(k) for k in RESOURCES})


def read_json(path: Path):
    """A JSON report file; a truncated or malformed one is an error naming the file."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise FpgaflowError(f"{path}: malformed JSON ({e.msg} at line {e.lineno}); is the file truncated?") from None


def is_bound(report: dict | None) -> bool:
    """Whether a report's cycle counts are lower bounds (fpgaflow's own estimate) rather than
    a tool's figure (synthesis, co-simulation, FINN's analytical estimate)."""
    return bool(report) and report["kind"] == "estimate" and report.get("cycles_are_bounds", True)


def warn(message: str) -> None:
    """A part of a report the parser does not know and skips: said on stderr, never fatal."""
    print(f"fpgaflow: warning: {message}", file=sys.stderr)


def number(text):
    """'123' -> 123, '4.429' -> 4.429, '0.5' -> 0.5; '-', 'NA', 'undef', '' -> None."""
    if text is None:
        return None
    t = str(text).strip().replace(",", "")
    if t in ("", "-", "NA", "N/A", "undef", "?"):
        return None
    if t.startswith("~"):
        t = t[1:]
    try:
        v = float(t)
    except ValueError:
        return None
    return int(v) if v == int(v) and "." not in t else v


def read_report(path: Path) -> dict:
    """A report fpgaflow wrote in this schema itself (*.report.json: Yosys per layer, RTL simulation)."""
    data = read_json(path)
    missing = [k for k in EMPTY if not isinstance(data, dict) or k not in data]
    if missing:
        raise FpgaflowError(f"{path}: not an fpgaflow report (missing {', '.join(missing)})")
    if data["kind"] not in KINDS:
        raise FpgaflowError(f"{path}: unknown report kind {data['kind']!r}")
    data["source"] = str(path)
    return data
