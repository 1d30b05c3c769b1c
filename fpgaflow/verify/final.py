"""The model's final outputs where an imported model's host tail runs after the hardware.

The body's outputs (hardware or reference) go through the same host tail (the design's
framework's host_tail: qonnx executing the tail's own file), then compared with ==, as the body's
outputs are. Accuracy is the final outputs' (a tail may reorder classes).
"""
from __future__ import annotations

import numpy as np

from .compare import compare


def has_tail(design) -> bool:
    return bool(((design.spec.get("host") or {}).get("tail") or {}).get("file"))


def final_outputs(design, y: np.ndarray) -> np.ndarray:
    """The model's outputs from its body's outputs y (y itself where there is no host tail)."""
    return design.framework.fn("host_tail")(design, y) if has_tail(design) else y


def compare_final(design, hw: np.ndarray, ref_final: np.ndarray, labels: np.ndarray | None) -> dict | None:
    """hw's final outputs against the reference's, or None where the design has no host tail."""
    if not has_tail(design):
        return None
    c = compare(final_outputs(design, hw.reshape(len(hw), -1)), ref_final, labels)
    c.pop("mismatch_indices")
    return c


def segments(design) -> str | None:
    """What runs where, in one line, for a design with host segments (None without)."""
    host = design.spec.get("host") or {}
    parts = [(k, s) for k, s in host.items() if s.get("file")]
    if not parts:
        return None
    text = {k: f"host {k} on the CPU ({', '.join(s.get('ops') or s.get('nodes') or [])})" for k, s in parts}
    return " -> ".join(p for p in (text.get("head"), "the hardware", text.get("tail")) if p)


def add_final(design, entry: dict, hw: np.ndarray, ref_final: np.ndarray, labels: np.ndarray | None) -> dict:
    """entry (a body comparison) with the final outputs' comparison beside it and their accuracy."""
    c = compare_final(design, hw, ref_final, labels)
    if c is not None:
        entry["final"] = {k: c[k] for k in ("n", "exact", "mismatches", "max_abs_diff")}
        if "accuracy" in c:
            entry["accuracy"] = c["accuracy"]
    return entry


def final_text(entry: dict) -> str:
    f = entry.get("final")
    return f"; after the host tail exact {f['exact']}/{f['n']}" if f else ""
