"""Bit-exact verification of a FINN build, stage by stage, against the CPU reference (Brevitas or qonnx).

Every stage model that fpgaflow-finn.json lists is executed on the same test images (qonnx /
FINN node-by-node execution) and compared with == to the reference's output. The comparison is in
the model's output scale: the accelerator's integer outputs times the output's power-of-two
scale (the host's one Mul), so equal floats are equal integers. The qonnx stage takes
the model's input (integer x input scale); the FINN stages take the integer (the accelerator's input).

verify.json: the top-level fields describe the lowest stage that ran (closest to hardware),
"stages" lists every stage, and "first_divergence" names the first stage that differs.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ...core.atomic import atomic_write_text
from ...core.data import design_images
from ...verify.final import add_final, final_outputs, final_text, segments
from ...core.errors import FpgaflowError
from ...core.hashing import sha256
from ...core.spec import Design
from ...imports.check import not_exact_because
from ...verify.compare import compare, default_workers
from ...verify.references import cpu_reference
from .build import read_manifest

CHUNK = 50
_MODELS: dict = {}


def _load_models(folder: str, stages: list[str]) -> None:
    from qonnx.core.modelwrapper import ModelWrapper

    _MODELS.clear()
    for s in stages:
        _MODELS[s] = ModelWrapper(str(Path(folder) / "models" / f"{s}.onnx"))


def _run_chunk(stage: str, x: np.ndarray) -> np.ndarray:
    from finn.core.onnx_exec import execute_onnx

    model = _MODELS[stage]
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([np.asarray(execute_onnx(model, {name_in: x[i:i + 1]})[name_out]).reshape(1, -1)
                           for i in range(len(x))])


def _init(folder: str, stages: list[str], build_dir: str) -> None:
    os.environ["FINN_BUILD_DIR"] = build_dir
    _load_models(folder, stages)


def execute(folder: Path, stage: str, x: np.ndarray, workers: int, progress: bool) -> np.ndarray:
    """One stage's outputs for all images, in chunks over worker processes."""
    from tqdm import tqdm

    chunks = [x[i:i + CHUNK] for i in range(0, len(x), CHUNK)]
    build_dir = str(folder / "code")
    if workers <= 1:
        _init(str(folder), [stage], build_dir)
        parts = [_run_chunk(stage, c) for c in tqdm(chunks, desc=stage, disable=not progress, leave=False)]
    else:
        with ProcessPoolExecutor(workers, initializer=_init, initargs=(str(folder), [stage], build_dir)) as pool:
            parts = list(tqdm(pool.map(_run_chunk, [stage] * len(chunks), chunks), total=len(chunks), desc=stage,
                              disable=not progress, leave=False))
    return np.concatenate(parts)


def _compared_in(scale: float | None) -> str:
    if scale is None:
        return "the model's output, float operations after the accelerator included"
    return "the accelerator's integers, the model's output" if scale == 1.0 else \
        f"the model's output scale: accelerator integers x {scale} (host Mul)"


def verify_finn(design: Design, build_root: Path, n: int | None = 1000, workers: int | None = None,
                progress: bool = True, log=print, rtl: bool = False, alone: list[str] | None = None,
                netlist: bool = False) -> dict:
    from . import FinnBackend

    FinnBackend().check(design)
    folder = Path(build_root).resolve() / design.name / "finn"
    manifest = read_manifest(folder)
    built = manifest.get("weights_sha256")  # null when built from a QONNX file fpgaflow did not export
    if built and design.weights.exists() and sha256(design.weights) != built:
        raise FpgaflowError(f"{design.weights} changed since {folder} was built: run "
                            f"`fpgaflow hls {design.name} --backend finn` again")
    if rtl or netlist:
        from .rtl.stitch import require

        require(manifest, folder, "--netlist" if netlist else "--rtl")
    if netlist and not (folder / "rtl" / "pnr" / "netlist.v").is_file():
        raise FpgaflowError(f"--netlist: {folder} has no synthesized netlist: run `fpgaflow pnr {design.name} "
                            f"--backend finn` first")
    x, labels = design_images(design, "test", n)
    t0 = time.time()
    ref = cpu_reference(design)(x)
    ref_final = final_outputs(design, ref)
    workers = workers or default_workers()
    integer_input = (x / manifest["input_scale"]).astype(np.float32)
    stages, first = [], None
    for s in manifest["stages"]:
        t = time.time()
        # builds made before imported models wrote "integer pixel" for the integer input
        fed = integer_input if s["input"] in ("integer", "integer pixel") else x
        out = execute(folder, s["stage"], fed, workers, progress)
        seconds = time.time() - t
        c = compare(out.reshape(ref.shape), ref, labels)
        bad = c.pop("mismatch_indices")
        entry = {"stage": s["stage"], "sim": "python", "n": c["n"], "exact": c["exact"], "mismatches": c["mismatches"],
                 "max_abs_diff": c["max_abs_diff"], "argmax_agreement": c["argmax_agreement"],
                 "accuracy": c["accuracy"], "images_per_s": round(len(x) / seconds, 1) if seconds else None}
        add_final(design, entry, out.reshape(ref.shape), ref_final, labels)
        stages.append(entry)
        log(f"  {s['stage']:12s} exact {c['exact']}/{c['n']}  max_abs_diff {c['max_abs_diff']:g}  "
            f"({entry['images_per_s']} images/s){final_text(entry)}")
        if bad and first is None:
            i = int(bad[0])
            first = {"stage": s["stage"], "what": s["what"], "image": i, "finn": out[i].tolist(),
                     "reference": ref[i].tolist(), "mismatches": c["mismatches"]}
    simulated = [("rtl", "the stitched RTL accelerator in Verilator")] if rtl else []
    if netlist:
        simulated.append(("netlist", "the ECP5 netlist Yosys synthesized from the RTL, in Verilator"))
    for stage, what in simulated:
        from .rtl.verify import verify_rtl

        entry, out = verify_rtl(folder, manifest, integer_input, ref, labels, log=log,
                                alone=alone if stage == "rtl" else None, progress=progress, netlist=stage == "netlist")
        add_final(design, entry, out.reshape(ref.shape), ref_final, labels)
        stages.append(entry)
        log(f"  {stage:12s} exact {entry['exact']}/{entry['n']}  max_abs_diff {entry['max_abs_diff']:g}  "
            f"({entry['images_per_s']} images/s, {entry['cycles']} cycles){final_text(entry)}")
        if entry["mismatches"] and first is None:
            i = entry["first_bad_image"]
            first = {"stage": stage, "what": what, "image": i, "finn": out[i].tolist(), "reference": ref[i].tolist(),
                     "mismatches": entry["mismatches"], "layer": entry["first_bad_layer"]}
    lowest = stages[-1]
    result = {
        "design": design.name, "backend": "finn", "stage": lowest["stage"], "sim": lowest["sim"],
        "n": lowest["n"], "exact": lowest["exact"], "mismatches": lowest["mismatches"],
        "max_abs_diff": lowest["max_abs_diff"], "argmax_agreement": lowest["argmax_agreement"],
        "accuracy": lowest["accuracy"], "final": lowest.get("final"),
        "reference": design.framework.references[0],
        "compared_in": _compared_in(manifest["output_scale"]),
        "not_exact_because": not_exact_because(design, build_root, "finn"),
        "host": segments(design),
        "stages": stages, "first_divergence": first,
        "not_simulated": manifest["not_simulated"],
        "workers": workers, "seconds": round(time.time() - t0, 2),
    }
    atomic_write_text(folder / "verify.json", json.dumps(result, indent=2) + "\n")
    return result
