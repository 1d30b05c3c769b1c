"""Vivado `report_utilization` text reports (hls4ml's vivado_synth.rpt, utilization_*.rpt).

7-series reports say "Slice LUTs"/"Slice Registers", UltraScale ones "CLB LUTs"/"CLB
Registers"; both give Block RAM in 36K tiles (0.5 = one 18K block), converted to BRAM_18K.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..core.errors import FpgaflowError
from .hls import _tables
from .schema import empty, number, warn

SITES = {  # Site Type (without the trailing *) -> resource
    "Slice LUTs": "LUT", "CLB LUTs": "LUT", "Slice Registers": "FF", "CLB Registers": "FF",
    "Block RAM Tile": "BRAM_18K", "DSPs": "DSP", "URAM": "URAM",
}


def parse_utilization(path: Path) -> dict:
    text = Path(path).read_text(errors="replace")
    if "report_utilization" not in text and "Utilization Design Information" not in text:
        raise FpgaflowError(f"{path}: not a Vivado utilization report (no report_utilization header)")
    version = re.search(r"Tool Version\s*:\s*Vivado v\.([\d.]+)", text)
    r = empty(path, "implementation", "Vivado")
    r["tool_version"] = version[1] if version else None
    design, device = re.search(r"\|\s*Design\s*:\s*(\S+)", text), re.search(r"\|\s*Device\s*:\s*(\S+)", text)
    r["top"] = design[1] if design else None
    r["part"] = device[1] if device else None
    state = re.search(r"\|\s*Design State\s*:\s*(.+?)\s*$", text, re.M)
    r["design_state"] = state[1] if state else None
    for t in _tables(text):
        if not t["header"] or t["header"][-1][:1] != ["Site Type"]:
            continue
        head = t["header"][-1]
        if "Used" not in head:  # e.g. the per-SLR tables of a multi-SLR part: SLR0, SLR1, ... columns
            warn(f"{path}: table '{t['title'] or ' | '.join(head)}' skipped: no 'Used' column")
            continue
        used, avail = head.index("Used"), head.index("Available") if "Available" in head else None
        for row in t["rows"]:
            key = SITES.get(row[0].rstrip("*").strip())
            if key and r["resources"][key] is None:
                scale = 2 if key == "BRAM_18K" else 1  # 36K tiles -> 18K blocks
                u = number(row[used])
                r["resources"][key] = None if u is None else _int(u * scale)
                a = number(row[avail]) if avail is not None else None
                r["available"][key] = None if a is None else _int(a * scale)
    if all(v is None for v in r["resources"].values()):
        raise FpgaflowError(f"{path}: Vivado utilization report without a LUT/register/BRAM/DSP table: truncated?")
    return r


def _int(v):
    return int(v) if float(v) == int(v) else v
