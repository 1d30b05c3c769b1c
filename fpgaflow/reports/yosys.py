"""Yosys `stat -json` (after `synth_xilinx`) in the report schema.

Cells are Xilinx primitives: LUT1..LUT6 count as LUTs, FD* as flip-flops, DSP48E1/E2 as DSPs,
RAMB18 as one and RAMB36 as two 18K blocks, URAM288 as URAM. Yosys does not time the design,
so clock and latency stay null. Each module is a layer row when the design was not flattened.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..core.errors import FpgaflowError
from .schema import available, empty, layer, read_json, resources


def _count(cells: dict) -> dict:
    def total(pattern: str) -> int:
        return sum(n for cell, n in cells.items() if re.fullmatch(pattern, cell))

    return resources(LUT=total(r"LUT[1-6]"), FF=total(r"FD[A-Z]*"), DSP=total(r"DSP48E[12]"),
                     BRAM_18K=total(r"RAMB18E[12]") + 2 * total(r"RAMB36E[12]"), URAM=total(r"URAM288(_BASE)?"))


def _cells(entry: dict, path: Path, where: str) -> dict:
    cells = entry.get("num_cells_by_type") if isinstance(entry, dict) else None
    if not isinstance(cells, dict):
        raise FpgaflowError(f"{path}: {where} has no num_cells_by_type; is this Yosys `stat -json` output?")
    return cells


def parse_yosys_stat(path: Path) -> dict:
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict) or "modules" not in data:
        raise FpgaflowError(f"{path}: no 'modules' object; not Yosys `stat -json` output")
    r = empty(path, "implementation", "Yosys synth_xilinx")
    creator = str(data.get("creator", ""))
    m = re.search(r"Yosys (\S+)", creator)
    r["tool_version"] = m.group(1) if m else None
    modules = data["modules"]
    if not isinstance(modules, dict) or not modules:
        raise FpgaflowError(f"{path}: 'modules' is empty")
    names = {name.lstrip("\\"): entry for name, entry in modules.items()}
    design = data.get("design")
    if design is not None:
        r["resources"] = _count(_cells(design, path, "'design'"))
    top = data.get("top") or (next(iter(names)) if len(names) == 1 else None)
    r["top"] = top
    if design is None:
        if top is None:
            raise FpgaflowError(f"{path}: several modules and no 'design' total; run `stat -json -top <module>`")
        r["resources"] = _count(_cells(names[top], path, f"module {top}"))
    for name, entry in names.items():
        r["layers"].append(layer(name, res=_count(_cells(entry, path, f"module {name}"))))
    # synth-oss writes the part it synthesized for beside the statistics; Yosys does not record it
    sidecar = path.parent / "synth_oss.json"
    if sidecar.is_file():
        r["part"] = read_json(sidecar).get("part")
        r["available"] = available(r["part"])
    r["note"] = "Yosys logic synthesis to Xilinx primitives: cell counts, no placement or timing"
    return r
