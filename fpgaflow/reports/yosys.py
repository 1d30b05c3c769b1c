"""Yosys `stat -json` (after `synth_xilinx`) in the report schema.

Cells are Xilinx primitives: LUT1..LUT6 and LUT6_2 count as LUTs, LUT RAM/SRL cells as the LUTs
they take, FD* as flip-flops, DSP48E1/E2 as DSPs,
RAMB18 as one and RAMB36 as two 18K blocks, URAM288 as URAM. Yosys does not time the design,
so clock and latency stay null. Each module is a layer row when the design was not flattened.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..core.errors import FpgaflowError
from .schema import available, empty, layer, read_json, resources


# LUT RAM and shift-register cells by the LUTs they occupy (UltraScale+ / 7-series slices)
LUT_CELLS = {"LUT6_2": 1, "RAM32M16": 8, "RAM64M8": 8, "RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2,
             "RAM128X1D": 4, "RAM256X1D": 8, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4,
             "RAM512X1S": 8, "SRL16E": 1, "SRLC32E": 1}


def count_cells(cells: dict) -> tuple[dict, dict]:
    """(the schema's resources, the cells behind them a reviewer asks about: carry chains, LUT RAM, SRLs)."""
    def total(pattern: str) -> int:
        return sum(n for cell, n in cells.items() if re.fullmatch(pattern, cell))

    lut_like = {c: cells.get(c, 0) * luts for c, luts in LUT_CELLS.items() if cells.get(c)}
    res = resources(LUT=total(r"LUT[1-6]") + sum(lut_like.values()), FF=total(r"FD[A-Z]*"), DSP=total(r"DSP48E[12]"),
                    BRAM_18K=total(r"RAMB18E[12]") + 2 * total(r"RAMB36E[12]"), URAM=total(r"URAM288(_BASE)?"))
    extra = {"CARRY": total(r"CARRY[48]"), "LUT_as_RAM_or_SRL": sum(v for c, v in lut_like.items() if c != "LUT6_2"),
             "LUT6_2": cells.get("LUT6_2", 0)}
    return res, extra


def _count(cells: dict) -> dict:
    return count_cells(cells)[0]


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
