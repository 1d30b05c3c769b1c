"""Bit-exact verification: C-simulation outputs against the reference inference.

Equal means equal: both sides are exact multiples of the output's power-of-two scale, so
they are compared with ==, no tolerance. Writes <project>/verify.json.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from . import csim
from .atomic import atomic_write_text
from .convert_hls4ml import read_manifest
from .data import data_dir, load_split, to_input
from .errors import FpgaflowError
from .export import sha256
from .reference import REFERENCES
from .spec import Design


def compare(hw: np.ndarray, ref: np.ndarray, labels: np.ndarray) -> dict:
    if hw.shape != ref.shape:
        raise FpgaflowError(f"C-sim gave outputs of shape {hw.shape}, the reference {ref.shape}")
    differs = (hw != ref).any(axis=1)
    n = len(hw)
    return {
        "n": n,
        "exact": int(n - differs.sum()),
        "mismatches": int(differs.sum()),
        "max_abs_diff": float(np.abs(hw - ref).max()) if n else 0.0,
        "argmax_agreement": float((hw.argmax(1) == ref.argmax(1)).mean()) if n else 0.0,
        "accuracy": float((hw.argmax(1) == labels).mean()) if n else 0.0,
        "mismatch_indices": np.flatnonzero(differs).tolist(),
    }


def verify(design: Design, build_root: Path, n: int | None = None, reference: str = "torch-cpu",
           workers: int | None = None, progress: bool = True, log=print) -> dict:
    project = Path(build_root) / design.name / "hls4ml"
    manifest = read_manifest(project)
    if design.weights.exists() and sha256(design.weights) != manifest["weights_sha256"]:
        raise FpgaflowError(f"{design.weights} changed since {project} was built: run `fpgaflow hls {design.name}` again")
    if reference not in REFERENCES:
        raise FpgaflowError(f"unknown reference '{reference}' (known: {', '.join(REFERENCES)})")
    images, labels = load_split(data_dir(design.spec["dataset"]["path"], design.dir), "test")
    if n is not None:
        if n < 1:
            raise FpgaflowError(f"N={n}: need at least one image")
        images, labels = images[:n], labels[:n]
    x = to_input(images)

    t0 = time.time()
    t = time.time()
    lib, rebuilt = csim.compile_project(project)
    compile_s = time.time() - t
    log(f"C-sim library {'compiled' if rebuilt else 'reused (unchanged)'} in {compile_s:.1f} s: {lib.name}")
    t = time.time()
    ref = REFERENCES[reference](design)(x)
    ref_s = time.time() - t
    t = time.time()
    workers = workers or min(len(os.sched_getaffinity(0)), 8)
    hw = csim.run(lib, manifest["project_name"], x.transpose(0, 2, 3, 1), manifest["n_outputs"],
                  workers=workers, progress=progress)
    csim_s = time.time() - t

    result = compare(hw, ref, labels)
    bad = result.pop("mismatch_indices")
    result.update({
        "reference": reference,
        "seconds": round(time.time() - t0, 2),
        "csim_seconds": round(csim_s, 2),
        "csim_images_per_s": round(len(x) / csim_s, 1) if csim_s else None,
        "reference_images_per_s": round(len(x) / ref_s, 1) if ref_s else None,
        "compile_seconds": round(compile_s, 2),
        "compiled": rebuilt,
        "workers": workers,
        "first_mismatches": [
            {"image": int(i), "csim": hw[i].tolist(), "reference": ref[i].tolist()} for i in bad[:5]],
    })
    atomic_write_text(project / "verify.json", json.dumps(result, indent=2) + "\n")
    return result
