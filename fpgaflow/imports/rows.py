"""What `fpgaflow check` reports: one row per node (QONNX) or layer (Keras) of an imported
model, with each backend's verdict, and the network it reads in fpgaflow's layer vocabulary.

A verdict says whether the backend maps the node, and whether the node can be bit-exact
there (why not, when not). The whole model maps where every row maps; it can be exact where
every row can.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import FpgaflowError
from ..frontends.qonnx.model import is_pow2


def scale_text(scale) -> str:
    """A quantizer's scale as a check row names it: 2^n, 1/n, a number, or how many per channel."""
    s = np.asarray(scale).reshape(-1)
    if len(s) > 1:
        return f"{len(s)} per-channel scales"
    x = float(s[0])
    if x == 0:
        return "0"
    return f"2^{int(math.log2(x))}" if is_pow2(x) else (f"1/{1 / x:g}" if x < 1 and float(1 / x).is_integer() else f"{x:g}")


@dataclass
class Verdict:
    maps: bool = True
    exact: bool = True
    note: str = ""
    host: bool = False      # runs on the host CPU (a host segment), not on this backend's hardware

    def cell(self) -> str:
        if not self.maps:
            return f"no: {self.note}"
        return "exact" + (f" ({self.note})" if self.note else "") if self.exact else f"not exact: {self.note}"


def maps(note: str = "") -> Verdict:
    return Verdict(True, True, note)


def inexact(why: str) -> Verdict:
    return Verdict(True, False, why)


def unmapped(why: str) -> Verdict:
    return Verdict(False, False, why)


ON_HOST_NOTE = ("runs on the host CPU: qonnx executes it in float, the same code after the reference and the "
                "hardware, so it adds no difference")


def on_host() -> Verdict:
    return Verdict(True, True, ON_HOST_NOTE, host=True)


@dataclass
class Row:
    node: str
    op: str
    what: str
    verdicts: dict[str, Verdict]        # backend name -> verdict

    def as_json(self) -> dict:
        return {"node": self.node, "op": self.op, "what": self.what,
                **{b: {"maps": v.maps, "exact": v.exact, "note": v.note, "host": v.host}
                   for b, v in self.verdicts.items()}}


UNQUANTIZED_INPUT = "(input)"     # the row that says a model's input has no quantizer


@dataclass
class Analysis:
    """An imported model read once: its rows, its network as spec layers, its input and output."""
    format: str                          # qonnx | keras
    backends: tuple[str, ...]            # the backends that can take this format
    rows: list[Row] = field(default_factory=list)
    layers: list[dict] = field(default_factory=list)
    input_shape: list[int] = field(default_factory=list)
    input_quant: dict | None = None      # {bits, scale, min, max, rounding}
    num_classes: int = 0
    data_shape: list[int] | None = None  # the samples as the data come, where a host head reshapes them
    host: dict = field(default_factory=dict)   # host segments: {head, tail: {file, nodes, ops}}
    whole: object = None                 # the uncut model's predictor (an import that cut host segments)

    def maps(self, backend: str) -> bool:
        return all(r.verdicts[backend].maps for r in self.rows)

    def exact(self, backend: str) -> bool:
        return all(r.verdicts[backend].exact for r in self.rows)

    def first(self, backend: str, attr: str) -> Row | None:
        return next((r for r in self.rows if not getattr(r.verdicts[backend], attr)), None)

    def summary(self, backend: str) -> str:
        bad = self.first(backend, "maps")
        if bad is not None:
            return f"does not map: node '{bad.node}' ({bad.op}): {bad.verdicts[backend].note}"
        inexact_rows = [r for r in self.rows if not r.verdicts[backend].exact]
        if inexact_rows:
            r = inexact_rows[0]
            more = f" (and {len(inexact_rows) - 1} more nodes)" if len(inexact_rows) > 1 else ""
            return f"maps, cannot be bit-exact: node '{r.node}' ({r.op}): {r.verdicts[backend].note}{more}"
        return "maps every node; bit-exact possible"

    def input_unquantized(self) -> bool:
        """No quantizer of the model fixes its input (not: a quantizer fpgaflow cannot take)."""
        return any(r.node == UNQUANTIZED_INPUT for r in self.rows)

    def declare_input(self, grid: dict) -> None:
        """An input grid declared for a model whose input no quantizer fixes (input_grid.py)."""
        self.input_quant = grid
        self.rows = [Row(r.node, r.op, f"model input on a declared grid: {grid['origin']}",
                         {b: maps() for b in self.backends}) if r.node == UNQUANTIZED_INPUT else r for r in self.rows]

    def segments(self) -> str:
        """Where each part runs, in one line."""
        parts = [f"host head ({', '.join(self.host['head']['ops'])})"] if "head" in self.host else []
        parts.append(f"hardware ({len(self.rows) - sum(len(s['nodes']) for s in self.host.values())} nodes)")
        if "tail" in self.host:
            parts.append(f"host tail ({', '.join(self.host['tail']['ops'])})")
        return " -> ".join(parts)

    def as_json(self) -> dict:
        return {"format": self.format, "input_shape": self.input_shape, "input_quant": self.input_quant,
                "host": self.host, "segments": self.segments(),
                "num_classes": self.num_classes, "layers": self.layers,
                "backends": {b: {"maps": self.maps(b), "exact_possible": self.exact(b), "summary": self.summary(b)}
                             for b in self.backends},
                "nodes": [r.as_json() for r in self.rows]}

    def require(self, backend: str, allow_inexact: bool) -> None:
        """Refuse a backend the model does not map on, or cannot be exact on unless allowed."""
        if backend not in self.backends:
            raise FpgaflowError(f"the {backend} backend does not take {self.format} models "
                                f"(it takes: {', '.join(self.backends)})")
        bad = self.first(backend, "maps")
        if bad is not None:
            raise FpgaflowError(f"{backend}: node '{bad.node}' ({bad.op}) cannot be mapped: {bad.verdicts[backend].note}")
        if not self.exact(backend) and not allow_inexact:
            raise FpgaflowError(f"{backend}: {self.summary(backend)}; build anyway with --inexact (verification then "
                                f"reports the largest difference and the argmax agreement)")


def table(analysis: Analysis) -> str:
    """One line per node with a short verdict per backend; each distinct reason once, numbered,
    below the table."""
    names = {"hls4ml": "hls4ml", "finn": "FINN"}
    notes: list[str] = []

    def cell(v: Verdict) -> str:
        if v.host:
            return "host"
        if not v.note or (v.maps and v.exact):
            return "exact" if v.maps else "no"
        if v.note not in notes:
            notes.append(v.note)
        tag = f"[{notes.index(v.note) + 1}]"
        return f"no {tag}" if not v.maps else (f"exact {tag}" if v.exact else f"NOT EXACT {tag}")

    head = ["node", "op", "what", *(names[b] for b in analysis.backends)]
    body = [[r.node, r.op, r.what, *(cell(r.verdicts[b]) for b in analysis.backends)] for r in analysis.rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(f"{c:{w}s}" for c, w in zip(cells, widths)).rstrip() for cells in [head, *body]]
    hosted = [f"host: {ON_HOST_NOTE}"] if any(v.host for r in analysis.rows for v in r.verdicts.values()) else []
    return "\n".join(lines + [f"[{i + 1}] {n}" for i, n in enumerate(notes)] + hosted)
