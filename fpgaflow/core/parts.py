"""FPGA part capacities (parts.yaml is the data)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from .errors import FpgaflowError


@lru_cache(maxsize=1)
def _table() -> dict:
    return yaml.safe_load((Path(__file__).with_name("parts.yaml")).read_text())


def part_capacity(part: str) -> dict:
    table = _table()
    if part not in table:
        raise FpgaflowError(f"target.part: unknown part '{part}' (known: {', '.join(table)}; "
                            f"add its capacity to fpgaflow/core/parts.yaml)")
    return table[part]


def vendor(part: str) -> str:
    return _table().get(part, {}).get("vendor", "xilinx")


def is_lattice(part: str) -> bool:
    return vendor(part) == "lattice"


def lattice_parts() -> list[str]:
    return [p for p in _table() if is_lattice(p)]


def finn_part(part: str) -> str:
    """The part FINN's code generation and estimates run for: the part itself, or for a part FINN
    does not know (Lattice) the Xilinx stand-in parts.yaml names."""
    return part_capacity(part).get("finn_part", part)
