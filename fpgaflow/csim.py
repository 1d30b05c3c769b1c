"""C-simulation of an hls4ml project: the generated C++ built with g++ and the ap_types
headers (the project's own build_lib.sh), then called image by image through its bridge.

The firmware keeps static state (stream line buffers), so parallel runs use processes,
each with its own copy of the library, never threads.
"""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .errors import FpgaflowError


def _sources(project: Path) -> list[Path]:
    fw = project / "firmware"
    return [*fw.glob("*.cpp"), *fw.glob("*.h"), *project.glob("*_bridge.cpp"), project / "build_lib.sh"]


def library_path(project: Path) -> Path:
    script = (project / "build_lib.sh").read_text()
    name = re.search(r"^PROJECT=(\S+)", script, re.M).group(1)
    stamp = re.search(r"^LIB_STAMP=(\S+)", script, re.M).group(1)
    return project / "firmware" / f"{name}-{stamp}.so"


def compile_project(project: Path) -> tuple[Path, bool]:
    """(shared library, whether it was rebuilt). An unchanged project is not recompiled."""
    project = Path(project)
    if shutil.which("g++") is None:
        raise FpgaflowError("g++ not found: install a C++ compiler (Debian: apt-get install g++)")
    if not (project / "build_lib.sh").is_file():
        raise FpgaflowError(f"{project} has no build_lib.sh: not an hls4ml project")
    lib = library_path(project)
    if lib.exists() and lib.stat().st_mtime >= max(p.stat().st_mtime for p in _sources(project)):
        return lib, False
    proc = subprocess.run(["bash", "build_lib.sh"], cwd=project, capture_output=True, text=True)
    if proc.returncode != 0 or not lib.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise FpgaflowError(f"g++ failed to build the C-simulation of {project}:\n{tail}")
    return lib, True


_worker = {}


def _init(lib: str, func: str):
    so = ctypes.CDLL(lib)
    fn = getattr(so, func)
    fn.restype = None
    fn.argtypes = [ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double)]
    _worker["fn"] = fn


def _run_chunk(args):
    x, n_out = args
    out = np.zeros((len(x), n_out), dtype=np.float64)
    fn = _worker["fn"]
    ptr = ctypes.POINTER(ctypes.c_double)
    for i in range(len(x)):
        xi = np.ascontiguousarray(x[i], dtype=np.float64)
        fn(xi.ctypes.data_as(ptr), out[i].ctypes.data_as(ptr))
    return out


def run(lib: Path, project_name: str, x: np.ndarray, n_out: int, workers: int = 1,
        chunk: int = 25, progress: bool = True) -> np.ndarray:
    """Outputs (N, n_out) float64 of the C-simulation for inputs x (N, features)."""
    from tqdm import tqdm

    x = np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float64)
    chunks = [(x[i:i + chunk], n_out) for i in range(0, len(x), chunk)]
    func = f"{project_name}_double"
    bar = tqdm(total=len(x), desc="C-sim", unit="img", disable=not progress)
    results = []
    if workers <= 1:
        _init(str(lib), func)
        for c in chunks:
            results.append(_run_chunk(c))
            bar.update(len(c[0]))
    else:
        with mp.get_context("fork").Pool(workers, initializer=_init, initargs=(str(lib), func)) as pool:
            for r in pool.imap(_run_chunk, chunks):
                results.append(r)
                bar.update(len(r))
    bar.close()
    return np.concatenate(results) if results else np.zeros((0, n_out))
