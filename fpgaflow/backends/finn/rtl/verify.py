"""The `rtl` stage of FINN verification: the stitched accelerator in Verilator against Brevitas.

Every output of every image is compared with == in the model's output scale, as the Python
stages are. Cycles are measured, not estimated: cycles per frame in the steady state (between
the first and the last frame's last output beat), latency from the first input beat to the
first output beat, and per layer the cycles it was busy (neither starved nor blocked), each
next to FINN's estimate. Where an output differs, the first differing image is simulated
again with every stream tapped and compared with FINN's Python execution of the same layers:
the first stream that differs names the layer that produced it.
"""
from __future__ import annotations

import json
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from ....core.data import channels_last
from ....core.errors import FpgaflowError
from ....verify.compare import compare
from . import sim, stitch
from .reference import python_streams

READY_PERCENT = 70   # the output's ready: back-pressure on 30 % of the cycles (seeded, repeatable)


def accelerator_input(integer_images: np.ndarray) -> np.ndarray:
    """The host's layout change: NCHW images -> the NHWC frames the first layer streams."""
    return channels_last(np.asarray(integer_images))


def first_bad_layer(folder: Path, binary: Path, streams: list, layers: list, image: np.ndarray) -> dict | None:
    """Simulate one image with every stream tapped; the first stream unlike Python's execution."""
    context = python_streams(folder, image)
    frames = accelerator_input(image[None])
    if not np.array_equal(frames.reshape(-1), np.asarray(context[streams[0].tensor]).reshape(-1)):
        raise FpgaflowError("RTL stage: the accelerator's input differs from the host graph's (layout change)")
    r = sim.simulate(folder / "rtl", binary, frames, tap_frames=1, ready_percent=READY_PERCENT)
    by_name = {l["name"]: l for l in layers}
    for s in streams[1:]:   # in the order the layers write them: the first that differs is where it began
        want = sim.to_beats(np.asarray(context[s.tensor])[None], s)
        got = r["taps"][s.index]
        if got.shape != want.shape or not np.array_equal(got, want):
            diff = int((got != want).any(axis=1).sum()) if got.shape == want.shape else None
            layer = by_name[s.producer]
            return {"layer": layer["name"], "op_type": layer["op_type"], "implementation": layer["implementation"],
                    "stream": f"s{s.index}", "beats_differing": diff, "beats": len(want)}
    return None


def stall_error(r: dict, streams: list, frames: int) -> FpgaflowError:
    """One line for a run in which no stream moved for the harness's stall limit: where it stopped
    and where the wait begins: a stream offered (valid) to a layer that does not take it although
    none of its own outputs is refused, so it waits on something else (a join on its other input).
    Everything behind such a stream is back-pressure."""
    stuck = next(s for s, b in zip(streams, r["beats"]) if b < frames * s.beats)
    waiting = {streams[i].index for i in r["waiting"]}
    blocked = {s.producer for s in streams if s.index in waiting}
    roots = [s.label for s in streams if s.index in waiting and s.consumer not in blocked]
    return FpgaflowError(f"RTL stage: deadlock: no stream moved for {r['stall_limit']:,} cycles (stopped at cycle "
                         f"{r['cycles']:,}); {stuck.label} carried {r['beats'][stuck.index]} of "
                         f"{frames * stuck.beats} beats; the wait begins at {', '.join(roots[:4]) or 'no stream'} "
                         f"(offered, not taken, its reader refused nothing); {len(waiting)} streams wait in all")


def _fifo_summary(manifest: dict) -> dict | None:
    """How the build sized its FIFOs (fifo_sizing.py), without the per-FIFO depths (rtl.json, the
    manifest hold them)."""
    sizing = (manifest.get("rtl") or {}).get("fifo_depths")
    if not sizing or "depths" not in sizing:
        return None
    return {"fifos": len(sizing["depths"]), "total_depth": sum(sizing["depths"].values()),
            **{k: sizing[k] for k in ("method", "interval_cycles_unbounded", "frames", "seconds")}}


def _estimates(folder: Path) -> tuple[dict, dict]:
    est = folder / "estimates"
    return (json.loads((est / "estimate_layer_cycles.json").read_text()),
            json.loads((est / "estimate_network_performance.json").read_text()))


def verify_rtl(folder: Path, manifest: dict, integer_images: np.ndarray, ref: np.ndarray, labels: np.ndarray,
               log=print, alone: list[str] | None = None, progress: bool = True,
               netlist: bool = False) -> tuple[dict, np.ndarray]:
    """The rtl stage's entry for verify.json and the outputs in the model's scale. alone: the layers
    to simulate one by one as well ([] for every compute layer, None for none). netlist: the
    `netlist` stage instead: Yosys' synth_ecp5 netlist of the same top (pnr.py), gate by gate."""
    rtl = stitch.read(folder / "rtl")   # verify_finn checked that the build was stitched
    streams = [stitch.Stream(**s) for s in rtl["streams"]]
    per_layer, perf = _estimates(folder)
    t0 = time.time()
    big = len(integer_images) * perf["max_cycles"] >= sim.BIG_RUN_CYCLES
    binary = sim.compile(folder / "rtl", log=log, optimize=big, netlist=netlist)
    compile_seconds = round(time.time() - t0, 1)
    frames = accelerator_input(integer_images)
    r = sim.simulate(folder / "rtl", binary, frames, tap_frames=0, ready_percent=READY_PERCENT, progress=progress,
                     stall_limit=sim.stall_limit(perf["max_cycles"]))
    if r["deadlock"]:
        raise stall_error(r, streams, len(frames))
    out = r["out"].reshape(len(frames), -1).astype(np.float64) * manifest["output_scale"]
    c = compare(out.reshape(ref.shape).astype(ref.dtype), ref, labels)
    bad = c.pop("mismatch_indices")
    n, done = len(frames), r["frame_done"]
    steady = (n > 1)
    busy = [(b - b0) / (n - 1) if steady else b for b, b0 in zip(r["busy"], r["busy_at_first_frame"])]
    entry = {
        "stage": "netlist" if netlist else "rtl", "sim": f"verilator {version('verilator')}", "n": c["n"],
        "exact": c["exact"],
        "mismatches": c["mismatches"], "max_abs_diff": c["max_abs_diff"],
        "argmax_agreement": c["argmax_agreement"], "accuracy": c["accuracy"],
        "images_per_s": round(n / r["seconds"], 1) if r["seconds"] else None,
        "cycles_per_frame": round((done[-1] - done[0]) / (n - 1), 1) if steady else None,
        "latency_cycles": r["first_output_cycle"] - r["first_input_cycle"],
        "frame_latency_cycles": done[0] - r["first_input_cycle"],
        "estimate": {"cycles_per_frame": perf["max_cycles"], "latency_cycles": perf["critical_path_cycles"],
                     "bottleneck": perf["max_cycles_node_name"], "source": "FINN estimate (dataflow_performance)"},
        "back_pressure": f"output ready on {READY_PERCENT} % of the cycles (seeded xorshift)",
        "layers": [{"name": l["name"], "op_type": l["op_type"], "implementation": l["implementation"],
                    "busy_cycles_per_frame": round(b, 1), "estimate_cycles": per_layer.get(l["name"])}
                   for l, b in zip(rtl["layers"], busy)],
        "busy_rule": "cycles in which the layer was neither starved (input ready, nothing valid) nor blocked "
                     "(output valid, not taken); steady state, per frame",
        "cycles": r["cycles"], "compile_seconds": compile_seconds, "sim_seconds": r["seconds"],
        "fifo_depths": _fifo_summary(manifest), "first_bad_layer": None,
    }
    if alone is not None:
        from .alone import measure

        t = time.time()
        by_name = {r["name"]: r for r in measure(folder, np.asarray(integer_images[0]), alone or None,
                                                   progress=progress)}
        for l in entry["layers"]:
            if l["name"] in by_name:
                l["alone_cycles_per_frame"] = by_name[l["name"]]["cycles_per_frame"]
                l["alone_exact"] = by_name[l["name"]]["output_equals_python"]
        entry["alone_rule"] = ("each layer verilated by itself, two frames of its input (FINN's Python execution of "
                               "test image 0) always offered, output always taken: cycles between the frames' last "
                               "output beats; its output compared with Python's")
        entry["alone_seconds"] = round(time.time() - t, 1)
    if netlist:
        entry["netlist"] = "rtl/pnr/netlist.v: Yosys synth_ecp5 (ECP5 cells), the netlist nextpnr placed"
    else:
        _write_report(folder, manifest, entry)
    if bad:
        entry["first_bad_layer"] = first_bad_layer(folder, binary, streams, rtl["layers"],
                                                   np.asarray(integer_images[bad[0]]))
        entry["first_bad_image"] = int(bad[0])
    return entry, out


def _write_report(folder: Path, manifest: dict, entry: dict) -> None:
    """The measured cycles in the report schema (kind cosim: simulated RTL), for `fpgaflow report`."""
    from ....core.atomic import atomic_write_text
    from ....reports.schema import available, empty

    path = folder / "rtlsim.report.json"
    r = empty(path, "cosim", "fpgaflow RTL testbench (Verilator)")
    r.update(tool_version=entry["sim"].split()[-1], part=manifest["part"], available=available(manifest["part"]),
             top="fpgaflow_top", clock_ns={"target": manifest["clock_ns"], "estimated": None},
             latency_cycles={"best": entry["frame_latency_cycles"], "worst": entry["frame_latency_cycles"]},
             interval_cycles={"min": entry["cycles_per_frame"], "max": entry["cycles_per_frame"]})
    r["note"] = (f"measured on {entry['n']} frames ({entry['exact']} bit-exact), {entry['back_pressure']}; latency: "
                 f"first input beat to the first frame's last output beat")
    atomic_write_text(path, json.dumps(r, indent=2) + "\n")
