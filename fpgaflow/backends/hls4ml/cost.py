"""Resource and cycle model of an hls4ml project, per layer, before any vendor tool runs.

Every layer is first described as a `Record` (what hls4ml wrote for it: sizes, reuse factor,
strategy, bit widths, zero weights, stream geometry); the same record is built from a project
fpgaflow writes (`records_from_hls_model`) and from the public projects of the calibration set
(`records_from_index`), so the model is checked on exactly what it is used on.

The model is linear in a few per-layer quantities with a physical meaning (products that Vivado
builds in LUTs x their operand widths, adder bits, weight-select bits, line-buffer bits,
activation widths), and its coefficients are fitted to Vivado's post-synthesis utilisation of
public designs (`calibration.py` fits them and writes cost_model.json with the measured error).
Cycles follow hls4ml's templates: an io_stream convolution reads one input pixel per initiation
interval (the reuse factor with the Latency strategy; the reuse factor plus a fitted overhead
with Resource), io_parallel layers take their reuse factor. DSPs are counted by a width rule
(see `uses_dsp`); BRAM_18K from the memories hls4ml declares (Resource-strategy weights, stream
FIFOs); neither is fitted.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

MODEL_FILE = Path(__file__).with_name("cost_model.json")
BRAM18_WIDTH, BRAM18_DEPTH = 36, 512
LUT_FEATURES = ("lut_mult_bits", "adder_bits", "select_bits", "line_bits", "act_bits", "layers")
FF_FEATURES = ("operand_bits", "adder_bits", "act_bits", "layers")
TABLE_BRAM18 = {"softmax": 3, "sigmoid": 1, "tanh": 1}   # hls4ml's lookup tables (1,024 entries each)


@dataclass
class Record:
    name: str
    kind: str              # weighted | pool | act | other
    io_type: str           # io_stream | io_parallel
    n_in: int = 0          # weighted: the kernel's matrix (inputs x outputs per evaluation)
    n_out: int = 0
    rf: int = 1
    strategy: str = "latency"
    wb: int = 0            # weight, input, accumulator, result bits
    ib: int = 0
    ab: int = 0
    rb: int = 0
    zeros: int = 0
    evaluations: int = 1   # kernel evaluations per inference (output pixels of a convolution)
    pixels_in: int = 1     # stream words read per inference
    chan: int = 1          # elements per stream word (io_stream) or in parallel (io_parallel)
    line_bits: int = 0     # io_stream convolution line buffer: (kernel_h - 1) x in_w x channels x input bits
    mults: int | None = None  # products per evaluation where not n_in x n_out (depthwise)
    op: str = ""           # activation function (its lookup tables take BRAM)
    out_depth: int = 1     # io_stream: words the layer's output FIFO holds (one per output pixel)
    out_width: int = 0     #            and their width in bits

    @property
    def weights(self) -> int:
        """Weights (and products) per kernel evaluation."""
        return self.mults if self.mults is not None else self.n_in * self.n_out


def uses_dsp(r: Record) -> bool:
    """Where Vivado builds a product, as seen on the calibration set: in LUTs when either operand
    has 4 bits or fewer or neither passes 8 bits, when the weight is a narrow constant (Latency
    strategy, reuse 1, weights of 6 bits or fewer: shift-and-add), or when it does not fit one
    DSP48's 27 x 18 multiplier; in a DSP otherwise."""
    lo, hi = sorted((r.wb, r.ib))
    if lo <= 4 or hi <= 8 or hi > 27 or lo > 18:
        return False
    return not (r.strategy == "latency" and r.rf == 1 and r.wb <= 6)


def products(r: Record) -> int:
    """Parallel multipliers: n/R, with the Latency strategy's zero weights dropped (as hls4ml's
    multiplier_limit does)."""
    p = math.ceil(r.weights / max(r.rf, 1))
    if r.strategy == "latency":
        p -= r.zeros // max(r.rf, 1)
    return max(p, 0)


def features(r: Record) -> dict:
    """The per-layer quantities the LUT/FF model is linear in."""
    f = dict.fromkeys(LUT_FEATURES + FF_FEATURES, 0)
    f["layers"] = 1
    if r.kind == "weighted":
        p = products(r)
        f["lut_mult_bits"] = 0 if uses_dsp(r) else p * r.wb * r.ib
        f["operand_bits"] = p * (r.wb + r.ib)
        f["adder_bits"] = p * r.ab
        # reuse > 1: every weight is selected in turn (a multiplexer or LUT ROM over all of them)
        f["select_bits"] = r.weights * r.wb if r.rf > 1 else 0
        # a streamed convolution's line buffer and window logic: the fit gives ~5 LUT per buffered
        # bit, far above one SRL32 per 32 bits, so it stands for the window and packing logic too
        f["line_bits"] = r.line_bits
    else:
        f["act_bits"] = r.chan * max(r.rb, r.ib)
    return f


def layer_cycles(r: Record, c: dict) -> int | None:
    """Initiation interval of one layer per inference, from hls4ml's templates."""
    if r.kind != "weighted":
        return None
    ii = r.rf + (c["resource_ii_overhead"] if r.strategy == "resource" else 0)
    if r.io_type == "io_stream" and r.evaluations > 1:
        return r.pixels_in * ii       # the line buffer takes one input pixel per II
    return ii


def bram18(r: Record) -> int:
    """Memories hls4ml declares: Resource-strategy weights as an R-deep, n/R-wide ROM (BRAM when
    deeper than Vivado's LUTRAM threshold), and io_stream FIFOs between layers (one word per
    output pixel, BRAM past 1,024 bits)."""
    blocks = TABLE_BRAM18.get(r.op, 0)
    if r.kind == "weighted" and r.strategy == "resource" and r.rf >= 64:
        width = math.ceil(r.weights / r.rf) * r.wb
        blocks += math.ceil(width / BRAM18_WIDTH) * math.ceil(r.rf / BRAM18_DEPTH)
    if r.io_type == "io_stream" and r.out_depth > 32 and r.out_depth * r.out_width > 1024:
        blocks += math.ceil(r.out_width / BRAM18_WIDTH) * math.ceil(r.out_depth / BRAM18_DEPTH)
    return blocks


def spill(records: list[Record], part_dsp: int | None) -> tuple[int, float]:
    """Products past the part's DSP count (Vivado builds them in LUTs) and their operand bits."""
    dsp = [(products(r), r.wb * r.ib) for r in records if r.kind == "weighted" and uses_dsp(r)]
    total = sum(p for p, _ in dsp)
    if part_dsp is None or total <= part_dsp:
        return 0, 0.0
    excess = total - part_dsp
    return excess, excess * sum(p * b for p, b in dsp) / total


def load_model(path: Path = MODEL_FILE) -> dict:
    return json.loads(Path(path).read_text())


def estimate(records: list[Record], model: dict | None = None, part_dsp: int | None = None) -> dict:
    """Per-layer and total LUT, FF, DSP, BRAM_18K, interval and latency in cycles. The totals add
    the design's own constant, and move the products past the part's DSP count (Vivado builds
    them in LUTs) from DSP to LUT at the fitted LUTs per product bit."""
    model = model or load_model()
    k = model["coefficients"]
    rows = []
    for r in records:
        f = features(r)
        rows.append({
            "name": r.name, "kind": r.kind, "reuse_factor": r.rf if r.kind == "weighted" else None,
            "strategy": r.strategy if r.kind == "weighted" else None,
            "multipliers": products(r) if r.kind == "weighted" else 0,
            "LUT": round(sum(k["lut"][n] * f[n] for n in LUT_FEATURES)),
            "FF": round(sum(k["ff"][n] * f[n] for n in FF_FEATURES)),
            "DSP": products(r) if r.kind == "weighted" and uses_dsp(r) else 0,
            "BRAM_18K": bram18(r), "cycles": layer_cycles(r, k["cycles"])})
    total = {res: sum(x[res] for x in rows) for res in ("LUT", "FF", "DSP", "BRAM_18K")}
    total["LUT"] += round(k["lut"]["design"])
    total["FF"] += round(k["ff"]["design"])
    spilled, bits = spill(records, part_dsp)
    total["DSP"] -= spilled
    total["LUT"] += round(k["lut"]["lut_mult_bits"] * bits)
    interval, latency = cycles(records, rows, k["cycles"])
    return {"layers": rows, "resources": total, "interval_cycles": interval, "latency_cycles": latency}


def cycles(records: list[Record], rows: list[dict], c: dict) -> tuple[int | None, int | None]:
    """Design interval = the slowest layer. Latency: io_parallel layers run one after another
    (each its interval plus a pipeline depth growing with log2 of its inputs); an io_stream
    design's output follows the bottleneck layer's last input by the layers after it."""
    weighted = [(r, x["cycles"]) for r, x in zip(records, rows) if x["cycles"] is not None]
    if not weighted:
        return None, None
    interval = max(cy for _, cy in weighted)
    depth = sum(c["depth_per_layer"] + c["depth_per_log2_input"] * math.log2(max(r.n_in, 2)) for r, _ in weighted)
    if records[0].io_type == "io_parallel":
        return interval, round(sum(cy for _, cy in weighted) + depth)
    slowest = max(range(len(weighted)), key=lambda i: weighted[i][1])
    after = sum(cy for r, cy in weighted[slowest + 1:] if r.evaluations == 1)  # whole-input layers wait
    return interval, round(interval + after + depth)


def as_dicts(records: list[Record]) -> list[dict]:
    return [asdict(r) for r in records]


def from_dicts(rows: list[dict]) -> list[Record]:
    return [Record(**r) for r in rows]
