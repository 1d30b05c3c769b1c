"""Each RTL layer simulated alone: its own cycles per frame, as FINN's estimate defines them.

In the stitched accelerator a layer waits on its neighbours, so its cycles there say little
about the layer. Here one layer (with its weight streamer) is verilated by itself, fed two
frames of its input as FINN's Python execution of one image computes it, with the input
always offered and the output always taken: the cycles between its two frames' last output
beats are the layer's own interval (FINN's `exp_cycles`), and its output must equal Python's.

Each layer is its own Verilator build under rtl/alone/<layer>/ (its src/ a link to rtl/src,
so the stitched design's relative paths hold); kept while its sources are unchanged.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ....core.errors import FpgaflowError
from .. import PLUMBING
from . import sim, stitch


def measure(folder: Path, image: np.ndarray, only: list[str] | None = None, progress: bool = True) -> list[dict]:
    from tqdm import tqdm

    from .reference import python_streams

    root = folder / "rtl"
    rtl = stitch.read(root)
    streams = [stitch.Stream(**s) for s in rtl["streams"]]
    layers = [stitch.Layer(**l) for l in rtl["layers"]]
    names = {l.name for l in layers}
    if only:
        unknown = sorted(set(only) - names)
        if unknown:
            raise FpgaflowError(f"--layer-cycles {', '.join(unknown)}: no such RTL layer (layers: "
                                f"{', '.join(l.name for l in layers if not l.op_type.startswith(PLUMBING))})")
    chosen = [(k, l) for k, l in enumerate(layers)
              if (l.name in only if only else not l.op_type.startswith(PLUMBING))]
    context = python_streams(folder, image)
    io = stitch.wiring(layers, streams)
    rows = []
    for k, layer in tqdm(chosen, desc="layers alone", disable=not progress, leave=False):
        row = {"name": layer.name, "op_type": layer.op_type, "implementation": layer.implementation}
        if len(io[k][0]) != 1 or len(io[k][1]) != 1:   # the testbench feeds one stream and reads one
            rows.append({**row, "cycles_per_frame": None, "output_equals_python": None})
            continue
        sub = root / "alone" / layer.name
        sub.mkdir(parents=True, exist_ok=True)
        if not (sub / "src").exists():
            os.symlink(os.path.relpath(root / "src", sub), sub / "src")
        (s_in,), (s_out,) = io[k]
        stitch.write_design(sub, [layer], [s_in, s_out])
        binary = sim.compile(sub, log=lambda m: None)
        frame = np.asarray(context[s_in.tensor])
        r = sim.simulate(sub, binary, np.concatenate([frame, frame]), tap_frames=0, ready_percent=100)
        want = sim.to_beats(np.asarray(context[s_out.tensor])[None], s_out)
        got = r["out"]
        exact = not r["deadlock"] and np.array_equal(got, np.concatenate([want, want]))
        done = r["frame_done"]
        rows.append({**row, "cycles_per_frame": done[1] - done[0] if len(done) == 2 else None,
                     "output_equals_python": bool(exact)})
    return rows
