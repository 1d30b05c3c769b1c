"""Every FIFO of a branching accelerator sized from its occupancy in an RTL simulation.

Where a stream forks (a skip connection) one branch runs ahead of the other by as many beats
as the slower branch holds back; a FIFO on the faster one shallower than that stops the fork,
and so the whole accelerator, for good. FINN sizes FIFOs the same way (every FIFO at full
depth, simulated, each set to what it held), in Vivado's simulator and slowly; here Verilator
runs the stitched design with FINN's FIFO gauge model (FINN_SIMULATION: a FIFO that never fills
and counts what it holds):

1. the input always offered: the accelerator's interval P (cycles per frame, FIFOs unbounded);
2. the input offered at one frame per P cycles, evenly (a source at the accelerator's own
   throughput, so the FIFOs near the input do not fill with frames offered early): each FIFO's
   depth = the most beats it held + 1 (a full FIFO refuses a beat even in the cycle it gives one),
   at least FINN's minimum of 2.

The depths go into the FIFO nodes (models/dataflow.onnx, FINN's estimates) and their RTL; the
RTL verification then simulates the hardware's FIFOs at these depths and measures the interval
again, to be compared with P.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from ....core.errors import FpgaflowError
from . import sim, stitch

FRAMES = 5   # frames in flight: enough for every branch to reach its steady skew
SEED = 0


def _frames(s: stitch.Stream, n: int) -> np.ndarray:
    """Random frames in the input's range: FINN's layers take as many cycles whatever the values."""
    low, high = (-(1 << (s.bits - 1)), 1 << (s.bits - 1)) if s.signed else (0, 1 << s.bits)
    return np.random.default_rng(SEED).integers(low, high, size=(n, s.beats * s.lanes))


def measure(root: Path, log=print) -> dict:
    """The stitched design under root simulated with gauges; returns the sizing record."""
    t0 = time.time()
    manifest = stitch.read(root)
    streams = [stitch.Stream(**s) for s in manifest["streams"]]
    binary = sim.compile(root, log=log, gauges=True)
    frames = _frames(streams[0], FRAMES)
    free = sim.simulate(root, binary, frames, tap_frames=0, ready_percent=100)
    if free["deadlock"]:
        raise FpgaflowError(f"FIFO sizing: the accelerator stalled even with unbounded FIFOs: "
                            f"{', '.join(streams[i].label for i in free['waiting'][:4])}")
    done = free["frame_done"]
    interval = round((done[-1] - done[0]) / (len(done) - 1))
    paced = sim.simulate(root, binary, frames, tap_frames=0, ready_percent=100, pace=interval)
    depths = {name: max(2, held + 1) for name, held in paced["fifo_held"].items()}
    return {"method": f"Verilator RTL simulation of {FRAMES} random frames with FINN's FIFO gauges (unbounded): "
                      f"the input offered at the accelerator's own interval; depth = most beats held + 1, "
                      f"at least 2",
            "interval_cycles_unbounded": interval, "frames": FRAMES,
            "seconds": round(time.time() - t0, 1), "depths": depths}


def apply_depths(model, depths: dict, part: str, clock_ns: float) -> None:
    """Set each FIFO node's depth and regenerate its RTL (FINN's template)."""
    from qonnx.custom_op.registry import getCustomOp

    for node in model.graph.node:
        if node.name in depths:
            inst = getCustomOp(node)
            inst.set_nodeattr("depth", int(depths[node.name]))
            inst.generate_hdl(model, part, clock_ns)


def size(model, root: Path, part: str, clock_ns: float, log=lambda m: None, own: frozenset = frozenset()) -> dict:
    """Stitch, measure, set the depths, stitch again: rtl/ then holds the sized design (`own`:
    stitch.layers')."""
    stitch.write(model, root, own)
    record = measure(root, log=log)
    shutil.rmtree(root / "obj_gauges", ignore_errors=True)
    apply_depths(model, record["depths"], part, clock_ns)
    stitch.write(model, root, own)
    return record
