"""Vivado HLS / Vitis HLS reports: csynth.xml (top and per module), <top>_csynth.rpt, and
the C/RTL co-simulation report <top>_cosim.rpt.

Handles both tool generations: Vivado HLS (up to 2020.1: <DSP48E>, no design hierarchy in
the XML) and Vitis HLS (2020.2 on: <DSP>, <FlowTarget>, and from 2022 a
<RTLDesignHierarchy> with per-module estimates in <ModuleInformation>). Per-layer rows come
from the design hierarchy (XML) or the "Detail: Instance" tables (text report).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..core.errors import FpgaflowError
from .schema import RESOURCE_ALIASES, empty, layer, number, resources


def _xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as e:
        raise FpgaflowError(f"{path}: malformed XML ({e}): the file is truncated or not a report") from None


def _text(node, path: str):
    found = node.find(path) if node is not None else None
    return found.text.strip() if found is not None and found.text is not None else None


def _resources(node) -> dict:
    out = resources()
    if node is None:
        return out
    for child in node:
        key = RESOURCE_ALIASES.get(child.tag.upper())
        if key:
            out[key] = number(child.text)
    return out


def _latency(perf) -> tuple[tuple, tuple]:
    lat = perf.find("SummaryOfOverallLatency") if perf is not None else None
    return ((number(_text(lat, "Best-caseLatency")), number(_text(lat, "Worst-caseLatency"))),
            (number(_text(lat, "Interval-min")), number(_text(lat, "Interval-max"))))


def _hls_tool(version: str | None, vitis_markers: bool) -> str:
    # Vitis HLS replaced Vivado HLS in 2020.2 (2020.1 shipped both)
    if vitis_markers:
        return "Vitis HLS"
    try:
        year, minor = (int(x) for x in (version or "").split(".")[:2])
    except ValueError:
        return "Vivado HLS"
    return "Vitis HLS" if (year, minor) >= (2020, 2) else "Vivado HLS"


def parse_csynth_xml(path: Path) -> dict:
    root = _xml(path)
    perf, area = root.find("PerformanceEstimates"), root.find("AreaEstimates")
    if root.tag != "profile" or perf is None or area is None:
        raise FpgaflowError(f"{path}: not a csynth report: no <PerformanceEstimates>/<AreaEstimates> under <profile>")
    version = _text(root, "ReportVersion/Version")
    user = root.find("UserAssignments")
    vitis = user is not None and user.find("FlowTarget") is not None or area.find("Resources/DSP") is not None
    r = empty(path, "hls", _hls_tool(version, vitis))
    r.update(tool_version=version, part=_text(user, "Part"), top=_text(user, "TopModelName"))
    r["clock_ns"] = {"target": number(_text(user, "TargetClockPeriod")),
                     "estimated": number(_text(perf, "SummaryOfTimingAnalysis/EstimatedClockPeriod"))}
    (best, worst), (imin, imax) = _latency(perf)
    r["latency_cycles"] = {"best": best, "worst": worst}
    r["interval_cycles"] = {"min": imin, "max": imax}
    r["resources"] = _resources(area.find("Resources"))
    r["available"] = _resources(area.find("AvailableResources"))
    modules = {_text(m, "Name"): m for m in root.findall("ModuleInformation/Module")}
    for inst in root.findall("RTLDesignHierarchy/TopModule/InstancesList/Instance"):
        m = modules.get(_text(inst, "ModuleName"))
        lat, ii = _latency(m.find("PerformanceEstimates")) if m is not None else ((None, None), (None, None))
        res = _resources(m.find("AreaEstimates/Resources")) if m is not None else resources()
        r["layers"].append(layer(_text(inst, "InstName"), lat, ii, res, module=_text(inst, "ModuleName")))
    return r


# ---- text reports: ASCII tables
def _tables(text: str) -> list[dict]:
    """Every +---+ table: {'title', 'header': [[cells]], 'rows': [[cells]]}, split on the second
    rule; the title is the text line above the table (its section heading, where it has one)."""
    tables, current, title = [], None, None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("+") and set(s) <= set("+-="):
            if current is None:
                current = {"title": title, "header": [], "rows": [], "rules": 0}
            current["rules"] += 1
            continue
        if s.startswith("+") and current is not None:  # "+  RTL  +  Status  +---": a header row drawn with +
            current["header"].append([c.strip() for c in s.strip("+").split("+") if c.strip("- ")])
            continue
        if s.startswith("|") and current is not None:
            cells = [c.strip() for c in s.strip("|").split("|")]
            (current["header"] if current["rules"] < 2 else current["rows"]).append(cells)
            continue
        if current is not None:
            tables.append(current)
            current = None
        if s and not set(s) <= set("-=*"):
            title = s
    if current is not None:
        tables.append(current)
    return tables


def _header_text(t) -> str:
    return " ".join(" ".join(row) for row in t["header"])


def _instance_latency(t) -> list[tuple]:
    out = []
    for cells in t["rows"]:
        if len(cells) >= 8 and cells[0]:
            out.append((cells[0], cells[1], number(cells[2]), number(cells[3]), number(cells[6]), number(cells[7])))
    return out


def _resource_columns(t) -> dict[str, int]:
    names = t["header"][-1]
    return {RESOURCE_ALIASES[n.upper()]: i for i, n in enumerate(names) if n.upper() in RESOURCE_ALIASES}


def parse_csynth_rpt(path: Path) -> dict:
    text = Path(path).read_text(errors="replace")
    head = re.search(r"==\s*(Vivado HLS|Vitis HLS) Report for '([^']+)'", text)
    if not head:
        raise FpgaflowError(f"{path}: not a csynth report: no \"Vivado HLS/Vitis HLS Report for '<top>'\" header")
    r = empty(path, "hls", head[1])
    r["top"] = head[2]
    version = re.search(r"^\* Version:\s*([\d.]+)", text, re.M)
    device = re.search(r"^\* Target device:\s*(\S+)", text, re.M)
    r["tool_version"] = version[1] if version else None
    r["part"] = device[1] if device else None
    latency_instances, util_instances = [], []
    for t in _tables(text):
        h = _header_text(t)
        if "Clock" in h and "Estimated" in h and t["rows"]:
            row = t["rows"][0]
            r["clock_ns"] = {"target": number(row[1].replace("ns", "")), "estimated": number(row[2].replace("ns", ""))}
        elif "Latency (cycles)" in h and "Instance" not in h and "Loop" not in h and t["rows"] \
                and r["latency_cycles"]["best"] is None:
            row = t["rows"][0]
            r["latency_cycles"] = {"best": number(row[0]), "worst": number(row[1])}
            r["interval_cycles"] = {"min": number(row[4]), "max": number(row[5])}
        elif "Instance" in h and "Latency" in h and not latency_instances:
            latency_instances = _instance_latency(t)
        elif t["header"] and t["header"][-1][:1] == ["Name"] and "BRAM_18K" in h and r["resources"]["LUT"] is None:
            # the utilization summary comes first; later Name tables (FIFO, memory details) have Totals too
            cols = _resource_columns(t)
            for row in t["rows"]:
                if row[0] in ("Total", "Available") and len(row) > max(cols.values()):
                    target = "resources" if row[0] == "Total" else "available"
                    r[target] = resources(**{k: number(row[i]) for k, i in cols.items()})
        elif t["header"] and t["header"][-1][:2] == ["Instance", "Module"] and "BRAM_18K" in h and not util_instances:
            cols = _resource_columns(t)
            util_instances = [(row[0], {k: number(row[i]) for k, i in cols.items()})
                              for row in t["rows"] if row and row[0] and row[0] != "Total" and len(row) > max(cols.values())]
    if r["latency_cycles"]["best"] is None and r["resources"]["LUT"] is None:
        raise FpgaflowError(f"{path}: csynth report without a latency or utilization summary: truncated?")
    util = dict(util_instances)
    for inst, module, lo, hi, imin, imax in latency_instances:
        r["layers"].append(layer(inst, (lo, hi), (imin, imax), resources(**util.get(inst, {})), module=module))
    seen = {l["name"] for l in r["layers"]}
    for inst, res in util_instances:  # instances with resources but no latency row
        if inst not in seen:
            r["layers"].append(layer(inst, res=resources(**res)))
    return r


def parse_cosim_rpt(path: Path) -> dict:
    text = Path(path).read_text(errors="replace")
    rows = [t for t in _tables(text) if "Latency" in _header_text(t) and "Interval" in _header_text(t)]
    verilog = [row for t in rows for row in t["rows"] if row and row[0] in ("Verilog", "VHDL") and row[1] != "NA"]
    if not verilog:
        raise FpgaflowError(f"{path}: not a co-simulation report: no RTL row with a status (Verilog/VHDL)")
    row = verilog[0]
    r = empty(path, "cosim", "HLS C/RTL co-simulation")
    top = re.search(r"Cosimulation Report for '([^']+)'", text)
    r["top"] = top[1] if top else Path(path).name.removesuffix("_cosim.rpt")
    r["status"] = row[1]
    r["latency_cycles"] = {"best": number(row[2]), "worst": number(row[4])}
    r["interval_cycles"] = {"min": number(row[5]), "max": number(row[7])} if len(row) >= 8 else r["interval_cycles"]
    return r
