"""C-simulation of an hls4ml project: its generated C++ compiled with g++ and the ap_types
headers, run either as a standalone testbench executable (sim/testbench.cpp beside this module) or as a
library called through the project's bridge.

Two code variants of the same project:
- "stock": the project's sources as hls4ml wrote them, with the flags of its build_lib.sh;
- "fast": the same sources, but the dense kernels selected in parameters.h are swapped for
  the integer kernels of sim/fast_dense.h (C-sim only; the project on disk is untouched).
Tests prove the two equal output for output. Builds are cached by the hash of everything
that goes into them, so an unchanged project is never recompiled.

The firmware keeps static state (stream line buffers), so parallel runs use processes.
"""
from __future__ import annotations

import ctypes
import hashlib
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...core.errors import FpgaflowError
from ...core.vectors import read_dat

SIM_DIR = Path(__file__).resolve().parent / "sim"  # package data: a wheel install has it too
VARIANTS = ("fast", "stock")
HARNESSES = ("exe", "lib")
# stock kernel class -> the walk of sim/fast_dense.h that replays its weight layout
FAST_KERNELS = {
    "DenseLatency": "WalkLatency",
    "DenseResource_rf_leq_nin": "WalkResourceLeqNin",
    "DenseResource_rf_gt_nin_rem0": "WalkResourceGtNinRem0",
}
_KERNEL_RE = re.compile(r"using kernel = nnet::(" + "|".join(FAST_KERNELS) + r")<data_T, res_T, CONFIG_T>;")


@dataclass(frozen=True)
class Build:
    variant: str
    lib: Path
    exe: Path
    compiled: bool
    seconds: float
    fast_kernels: int


def require_gxx() -> str:
    gxx = shutil.which("g++")
    if gxx is None:
        raise FpgaflowError("g++ not found: install a C++ compiler (Debian: apt-get install g++)")
    return gxx


@lru_cache(maxsize=None)
def _flags(gxx: str) -> tuple[str, ...]:
    """build_lib.sh's flags; C++17 at least, which the fast kernels need."""
    def accepts(flag):
        return subprocess.run([gxx, "-Werror", "-fsyntax-only", flag, "-xc++", "-", "-o", os.devnull],
                              input="", capture_output=True, text=True).returncode == 0
    std = "-std=c++23" if accepts("-std=c++23") else "-std=c++17"
    return ("-O3", "-fPIC", std, *(["-fno-gnu-unique"] if accepts("-fno-gnu-unique") else []))


def project_name(project: Path) -> str:
    script = (Path(project) / "build_lib.sh")
    if not script.is_file():
        raise FpgaflowError(f"{project} has no build_lib.sh: not an hls4ml project")
    return re.search(r"^PROJECT=(\S+)", script.read_text(), re.M).group(1)


def _inputs(project: Path) -> list[Path]:
    fw = project / "firmware"
    files = [p for p in fw.rglob("*") if p.is_file() and p.suffix in (".h", ".hpp", ".cpp")]
    return sorted(files) + sorted(project.glob("*_bridge.cpp"))


def _digest(project: Path, variant: str, flags) -> str:
    h = hashlib.sha256(f"{variant}|{' '.join(flags)}".encode())
    for p in _inputs(project) + [SIM_DIR / "testbench.cpp", SIM_DIR / "fast_dense.h"]:
        h.update(str(p.relative_to(project) if p.is_relative_to(project) else p.name).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:20]


def _fast_overlay(project: Path, dest: Path) -> int:
    """Sources of the fast variant in dest: top-level files copied, parameters.h patched."""
    fw = dest / "firmware"
    fw.mkdir(parents=True)
    for p in (project / "firmware").iterdir():
        if p.is_dir():
            os.symlink(p.resolve(), fw / p.name)
        elif p.suffix in (".h", ".cpp"):
            shutil.copy2(p, fw / p.name)
    for p in project.glob("*_bridge.cpp"):
        shutil.copy2(p, dest / p.name)
    params = fw / "parameters.h"
    text, n = _KERNEL_RE.subn(
        lambda m: f"using kernel = fpgaflow::Dense<nnet::{m[1]}<data_T, res_T, CONFIG_T>, "
                  f"fpgaflow::{FAST_KERNELS[m[1]]}, data_T, res_T, CONFIG_T>;", params.read_text())
    params.write_text('#include "fast_dense.h"\n' + text)
    return n


def build(project: Path, variant: str = "fast", cache: Path | None = None) -> Build:
    """Compile (or reuse) the project's C-simulation: a shared library and a testbench."""
    if variant not in VARIANTS:
        raise FpgaflowError(f"unknown C-sim variant '{variant}' (known: {', '.join(VARIANTS)})")
    project = Path(project).resolve()
    name = project_name(project)
    gxx = require_gxx()
    flags = _flags(gxx)
    cache = Path(cache or project.parent / "csim-cache")
    t0 = time.time()
    out = cache / f"{name}-{variant}-{_digest(project, variant, flags)}"
    lib, exe = out / f"lib{name}.so", out / "testbench"
    if lib.exists() and exe.exists():
        return Build(variant, lib, exe, False, time.time() - t0, int((out / "fast_kernels").read_text()))

    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".build-"))
    try:
        src, n_fast = project, 0
        if variant == "fast":
            src = tmp / "src"
            n_fast = _fast_overlay(project, src)
        inc = ["-I", str(src / "firmware" / "ap_types"), "-I", str(src / "firmware")]
        if variant == "fast":
            inc += ["-I", str(SIM_DIR)]
        defs = [f'-DWEIGHTS_DIR="{project / "firmware" / "weights"}"', f"-DFPGAFLOW_TOP={name}_double"]
        units = {"top.o": src / "firmware" / f"{name}.cpp", "bridge.o": src / f"{name}_bridge.cpp",
                 "tb.o": SIM_DIR / "testbench.cpp"}
        procs = {obj: subprocess.Popen([gxx, *flags, *inc, *defs, "-c", str(cpp), "-o", str(tmp / obj)],
                                       cwd=src, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for obj, cpp in units.items()}
        for obj, p in procs.items():
            _check(p.communicate()[0], p.returncode, f"compiling {units[obj].name}")
        for args in (["-shared", "top.o", "bridge.o", "-o", lib.name], ["top.o", "bridge.o", "tb.o", "-o", exe.name]):
            p = subprocess.run([gxx, *flags, *args], cwd=tmp, capture_output=True, text=True)
            _check(p.stdout + p.stderr, p.returncode, f"linking {args[-1]}")
        (tmp / "fast_kernels").write_text(str(n_fast))
        for f in ("top.o", "bridge.o", "tb.o"):
            (tmp / f).unlink()
        shutil.rmtree(tmp / "src", ignore_errors=True)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Build(variant, lib, exe, True, time.time() - t0, n_fast)


def _check(output: str, rc: int, what: str) -> None:
    if rc != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise FpgaflowError(f"g++ failed {what}:\n{tail}")


# ---- library harness: the bridge function called through ctypes, one image at a time
_worker: dict = {}


def _init(lib: str, func: str):
    so = ctypes.CDLL(lib)
    fn = getattr(so, func)
    fn.restype = None
    fn.argtypes = [ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double)]
    _worker["fn"] = fn


def _run_chunk(args):
    x, n_out = args
    out = np.zeros((len(x), n_out), dtype=np.float64)
    fn, ptr = _worker["fn"], ctypes.POINTER(ctypes.c_double)
    for i in range(len(x)):
        xi = np.ascontiguousarray(x[i], dtype=np.float64)
        fn(xi.ctypes.data_as(ptr), out[i].ctypes.data_as(ptr))
    return out


def run_lib(b: Build, name: str, x: np.ndarray, n_out: int, workers: int = 1, progress: bool = True) -> np.ndarray:
    from tqdm import tqdm

    x = np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float64)
    chunk = 25
    chunks = [(x[i:i + chunk], n_out) for i in range(0, len(x), chunk)]
    bar = tqdm(total=len(x), desc=f"C-sim ({b.variant}, lib)", unit="img", disable=not progress)
    results = []
    # a fresh process per run: a library already loaded in this process would not be reloaded
    with mp.get_context("fork").Pool(max(1, workers), initializer=_init, initargs=(str(b.lib), f"{name}_double")) as pool:
        for r in pool.imap(_run_chunk, chunks):
            results.append(r)
            bar.update(len(r))
    bar.close()
    return np.concatenate(results) if results else np.zeros((0, n_out))


def _lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


# ---- executable harness: sim/testbench.cpp over vector files, one process per slice
def run_exe(b: Build, inputs: Path, expected: Path, n: int, n_in: int, n_out: int, workers: int = 1,
            progress: bool = True) -> tuple[np.ndarray, int]:
    """(outputs, mismatches the testbench itself counted) for the first n vectors."""
    from tqdm import tqdm

    workers = max(1, min(workers, n))
    bounds = np.linspace(0, n, workers + 1).astype(int)
    outdir = Path(tempfile.mkdtemp(prefix="fpgaflow-csim-"))
    try:
        procs = []
        for k in range(workers):
            first, count = int(bounds[k]), int(bounds[k + 1] - bounds[k])
            procs.append(subprocess.Popen(
                [str(b.exe), str(inputs), str(expected), str(n_in), str(n_out), str(first), str(count),
                 str(outdir / f"{k}.dat")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        bar = tqdm(total=n, desc=f"C-sim ({b.variant}, exe, {workers} processes)", unit="img", disable=not progress)
        outs = [outdir / f"{k}.dat" for k in range(workers)]
        # each testbench flushes its output file every few vectors: its lines are the progress
        while any(p.poll() is None for p in procs):
            time.sleep(0.25)
            bar.update(sum(_lines(f) for f in outs) - bar.n)
        bar.update(n - bar.n)
        bar.close()
        mismatches = 0
        for p in procs:
            out, err = p.communicate()
            if p.returncode not in (0, 1):
                raise FpgaflowError(f"C-sim testbench failed (exit {p.returncode}): {err.strip() or out.strip()}")
            m = re.search(r"n = (\d+), mismatches = (\d+)", out)
            mismatches += int(m.group(2))
        outputs = np.concatenate([read_dat(outdir / f"{k}.dat", n_out) for k in range(workers)])
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
    return outputs, mismatches
