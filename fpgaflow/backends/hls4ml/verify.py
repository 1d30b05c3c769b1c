"""Bit-exact verification of an hls4ml project: C-simulation outputs against the reference inference.

Equal means equal: both sides are exact multiples of the output's power-of-two scale, so
they are compared with ==, no tolerance. Writes <project>/verify.json; on a mismatch, the
triage of the first mismatching image names the first layer that differs.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ...core.atomic import atomic_write_text
from ...core.data import design_images, flat_hwc
from ...verify.final import add_final, final_outputs, segments
from ...core.errors import FpgaflowError
from ...core.hashing import sha256
from ...core.spec import Design
from ...imports.check import not_exact_because
from ...core.vectors import write_dat
from ...verify import references, triage
from ...verify.compare import compare, default_workers
from ...verify.references import DEFAULT, reference_names
from . import csim
from .convert import read_manifest


def run_csim(project: Path, manifest: dict, b: csim.Build, x_hwc: np.ndarray, expected: np.ndarray, harness: str,
             workers: int, progress: bool) -> np.ndarray:
    n_out = manifest["n_outputs"]
    if harness == "lib":
        return csim.run_lib(b, manifest["project_name"], x_hwc, n_out, workers=workers, progress=progress)
    vec = project.parent / "csim" / "vectors"
    vec.mkdir(parents=True, exist_ok=True)
    write_dat(vec / "inputs.dat", x_hwc)
    write_dat(vec / "expected.dat", expected)
    hw, tb_mismatches = csim.run_exe(b, vec / "inputs.dat", vec / "expected.dat", len(x_hwc), x_hwc[0].size, n_out,
                                     workers=workers, progress=progress)
    ours = int((hw != expected).any(axis=1).sum())
    if ours != tb_mismatches:  # the testbench compares in C++; both counts must agree
        raise FpgaflowError(f"the testbench counted {tb_mismatches} mismatches, the comparison here {ours}")
    return hw


def verify(design: Design, build_root: Path, n: int | None = None, reference: str = DEFAULT,
           harness: str = "exe", variant: str = "fast", workers: int | None = None, progress: bool = True,
           log=print) -> dict:
    names = reference_names(design, reference)
    if harness not in csim.HARNESSES:
        raise FpgaflowError(f"unknown C-sim harness '{harness}' (known: {', '.join(csim.HARNESSES)})")
    # a reference that cannot run here (no CUDA) fails first, before any other check or work
    predictors = {r: references.reference(r, design) for r in names}
    project = Path(build_root) / design.name / "hls4ml"
    manifest = read_manifest(project)
    if design.weights.exists() and sha256(design.weights) != manifest["weights_sha256"]:
        raise FpgaflowError(f"{design.weights} changed since {project} was built: run `fpgaflow hls {design.name}` again")

    x, labels = design_images(design, "test", n)
    x_hwc = flat_hwc(x)

    t0 = time.time()
    b = csim.build(project, variant)
    log(f"C-sim ({variant}) {'compiled' if b.compiled else 'reused from cache'} in {b.seconds:.2f} s"
        + (f"; {b.fast_kernels} dense kernels on integers" if variant == "fast" else ""))
    outputs, speeds = {}, {}
    for r, predict in predictors.items():
        t = time.time()
        outputs[r] = predict(x)
        speeds[r] = round(len(x) / max(time.time() - t, 1e-9), 1)
    workers = workers or default_workers()
    t = time.time()
    hw = run_csim(project, manifest, b, x_hwc, outputs[names[0]], harness, workers, progress)
    csim_s = time.time() - t

    result = add_final(design, compare(hw, outputs[names[0]], labels), hw,
                       final_outputs(design, outputs[names[0]]), labels)
    if len(names) > 1:
        comparisons = {f"csim|{r}": compare(hw, outputs[r]) for r in names}
        for i, a in enumerate(names):
            for c in names[i + 1:]:
                comparisons[f"{a}|{c}"] = compare(outputs[a], outputs[c])
        bad = sorted(set().union(*(set(c["mismatch_indices"]) for c in comparisons.values())))
        result.update({"exact": len(x) - len(bad), "mismatches": len(bad), "mismatch_indices": bad,
                       "max_abs_diff": max(c["max_abs_diff"] for c in comparisons.values())})
        result["comparisons"] = {k: {f: v for f, v in c.items() if f != "mismatch_indices"}
                                 for k, c in comparisons.items()}
    bad = result.pop("mismatch_indices")
    result.update({
        "reference": "+".join(names),
        "seconds": round(time.time() - t0, 2),
        "csim_variant": variant,
        "csim_harness": harness,
        "csim_seconds": round(csim_s, 2),
        "csim_images_per_s": round(len(x) / csim_s, 1) if csim_s else None,
        "reference_images_per_s": speeds,
        "compile_seconds": round(b.seconds, 2),
        "compiled": b.compiled,
        "workers": workers,
        "not_exact_because": not_exact_because(design, build_root, "hls4ml"),
        "host": segments(design),
        "first_mismatches": [{"image": int(i), "csim": hw[i].tolist(),
                              **{r: outputs[r][i].tolist() for r in names}} for i in bad[:5]],
    })
    if bad:
        result["triage"] = triage.first_divergence(design, project, b.lib, manifest["project_name"],
                                                   manifest["traced_layers"], x[bad[0]], int(bad[0]))
    atomic_write_text(project / "verify.json", json.dumps(result, indent=2) + "\n")
    return result
