"""`fpgaflow bench`: speed and memory of the verification path, per design, as numbers.

Writes build/bench.json: {"machine": {...}, "designs": {name: {...}}}. Keys are only ever
added, never renamed; a value not measured here is null.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..backends.finn import VERIFY_IMAGES
from ..backends.hls4ml import csim
from ..backends.hls4ml.convert import read_manifest
from ..backends.hls4ml.verify import run_csim, verify
from ..core.atomic import atomic_write_text
from ..core.data import design_images, flat_hwc
from ..core.spec import Design
from ..verify.compare import default_workers
from ..verify.references import cpu_reference, gpu_reference

STOCK_IMAGES = 1000  # the stock build is ~4x slower: time it on a slice, and check it equals the fast one there
FINN_IMAGES = VERIFY_IMAGES


def machine() -> dict:
    import torch

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    gxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "torch": torch.__version__, "gxx": gxx[0] if gxx else None,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)  # ru_maxrss is in KiB on Linux


def _rate(fn, x) -> float:
    t = time.time()
    fn(x)
    return round(len(x) / max(time.time() - t, 1e-9), 1)


def bench_design(design: Design, build_root: Path, n: int | None, unavailable: dict,
                 train_steps: int = 100, log=print) -> dict:
    """One design's row. A backend in `unavailable` (it cannot take the design) gets its
    reason instead of numbers; the others are measured."""
    from ..backends import for_framework

    built = {b.name for b in for_framework(design.framework.name)} - set(unavailable)
    x, labels = design_images(design, "test", n)
    workers = default_workers()
    row = {"unavailable": unavailable}
    r = None
    if "hls4ml" in built:
        r = _csim_numbers(design, build_root, n, x, workers, row)
    gpu, _ = gpu_reference(design)
    row["reference_gpu_img_per_s"] = _rate(gpu, x) if gpu else None
    # training throughput, 1 process (all cores) against 2 DDP processes (gloo, one thread each)
    row["train_img_per_s_1proc"] = train_throughput(design, 1, train_steps)
    row["train_img_per_s_2proc"] = train_throughput(design, 2, train_steps)
    finn = None
    if "finn" in built:
        from ..backends.finn.verify import verify_finn

        finn = verify_finn(design, build_root, n=min(len(x), FINN_IMAGES), progress=False, log=lambda *_: None)
    from .inference import inference_table

    row["inference"] = inference_table(design, build_root, x, labels, r, finn, workers, unavailable)
    row["fpga"] = fpga_at_fastest(design, build_root, unavailable)
    row["peak_rss_mb"] = _peak_rss_mb()
    return row


def fpga_at_fastest(design: Design, build_root: Path, unavailable: dict) -> dict:
    """Per backend, the design folded for the fastest target that fits the part (estimates)."""
    from ..backends import for_framework

    return {b.name: ({"target_fps": None, "note": f"not built: {unavailable[b.name]}"} if b.name in unavailable
                     else b.fastest(design, build_root)) for b in for_framework(design.framework.name)}


def _csim_numbers(design: Design, build_root: Path, n: int | None, x: np.ndarray, workers: int, row: dict) -> dict:
    """hls4ml C-sim: compile times (cold, cached), verification speed and exactness, and the
    stock ap_fixed build on a slice (its speed, and output-for-output equality with fast)."""
    project = Path(build_root) / design.name / "hls4ml"
    manifest = read_manifest(project)
    with tempfile.TemporaryDirectory() as cold_cache:
        cold = csim.build(project, "fast", cache=Path(cold_cache))
        cached = csim.build(project, "fast", cache=Path(cold_cache))
    r = verify(design, build_root, n=n, progress=False, log=lambda *_: None)
    row.update({
        "csim_img_per_s": r["csim_images_per_s"],
        "csim_exact": r["mismatches"] == 0,
        "csim_n": r["n"],
        "reference_cpu_img_per_s": r["reference_images_per_s"][design.framework.references[0]],
        "compile_s_cold": round(cold.seconds, 2),
        "compile_s_cached": round(cached.seconds, 3),
    })
    xs = x[:STOCK_IMAGES]
    x_hwc = flat_hwc(xs)
    expected = cpu_reference(design)(xs)
    t = time.time()
    stock = run_csim(project, manifest, csim.build(project, "stock"), x_hwc, expected, "exe", workers, False)
    row["csim_stock_img_per_s"] = round(len(xs) / (time.time() - t), 1)
    fast = run_csim(project, manifest, csim.build(project, "fast"), x_hwc, expected, "exe", workers, False)
    row["csim_stock_equals_fast"] = bool(np.array_equal(stock, fast))
    row["csim_workers"] = workers
    return r


TRAIN_STEPS = 100


def train_throughput(design: Design, nproc: int, steps: int = TRAIN_STEPS) -> float | None:
    """Training images/s of `fpgaflow train` with nproc processes (DDP), over `steps` optimizer
    steps; null for a framework without scaled training, or with 0 steps (not measured)."""
    if not design.framework.scaled_training or steps <= 0:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        # the QAT loop alone: a distilling design would first train its float teacher
        cmd = [sys.executable, "-m", "fpgaflow", "--build-dir", tmp, "train", design.name, "--max-steps", str(steps),
               "--no-progress", "--out", tmp, "--nproc", str(nproc), "--no-distill"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"training benchmark failed: {r.stderr[-1000:]}")
        return json.loads((Path(tmp) / "metrics.json").read_text())["images_per_s"]


def build_projects(design: Design, build_root: Path, log=print) -> dict[str, str]:
    """Each backend's project of the design, built where missing; {backend: reason} for those
    that cannot take it (the bench goes on with the rest)."""
    from ..backends import for_framework
    from ..core.errors import FpgaflowError

    unavailable = {}
    for backend in for_framework(design.framework.name):
        try:
            backend.ensure(design, build_root)
        except FpgaflowError as e:
            unavailable[backend.name] = str(e)
            log(f"{design.name}: no {backend.title} build, so no {backend.title} rows: {e}")
    return unavailable


def run_bench(designs: list[Design], build_root: Path, n: int | None = None, train_steps: int = TRAIN_STEPS,
              log=print) -> dict:
    out_path = Path(build_root) / "bench.json"
    data = json.loads(out_path.read_text()) if out_path.exists() else {}
    data["machine"] = machine()
    data.setdefault("designs", {})
    for d in designs:
        log(f"benchmarking {d.name} ...")
        unavailable = build_projects(d, build_root, log)
        data["designs"].setdefault(d.name, {}).update(bench_design(d, build_root, n, unavailable, train_steps, log))
        atomic_write_text(out_path, json.dumps(data, indent=2) + "\n")  # each design's row as soon as it is measured
    return data


COLUMNS = [("csim_img_per_s", "C-sim img/s"), ("csim_exact", "exact"), ("csim_n", "n"),
           ("csim_stock_img_per_s", "stock img/s"), ("reference_cpu_img_per_s", "ref CPU img/s"),
           ("reference_gpu_img_per_s", "ref GPU img/s"), ("compile_s_cold", "compile cold s"),
           ("compile_s_cached", "cached s"), ("peak_rss_mb", "peak RSS MB"),
           ("train_img_per_s_1proc", "train 1p img/s"), ("train_img_per_s_2proc", "train 2p img/s")]


def inference_tables(data: dict) -> str:
    from .inference import format_table

    return "\n\n".join(format_table(name, row["inference"]) for name, row in data["designs"].items()
                         if row.get("inference"))


def fpga_lines(data: dict) -> str:
    """Per design and backend: the fastest folding that fits the part, as estimated (FINN's measured
    in RTL simulation too)."""
    lines = ["fastest folding that fits the part (estimates; FINN's RTL-measured where it ran):"]
    for name, row in data["designs"].items():
        for backend, f in (row.get("fpga") or {}).items():
            if f.get("target_fps") is None:
                lines.append(f"  {name} {backend}: {f.get('note')}")
                continue
            res = ", ".join(f"{k} {v:,}" for k, v in f["resources"].items() if v is not None)
            rtl = f.get("rtl") or {}
            latency = (f"latency {f['latency_us']} us RTL-measured ({rtl['cycles_per_frame']} cycles/frame, "
                       f"{rtl['exact']}/{rtl['n']} exact; FINN's estimate {f['latency_us_estimate']} us)"
                       if "latency_us_estimate" in f else f"latency {f['latency_us']} us")
            lines.append(f"  {name} {backend}: {f['fps']:,.0f} frames/s, {latency}, {res} "
                         f"(bottleneck {f['bottleneck']}; {f['source'].split(' (')[0]})"
                         + (f"; RTL {rtl['note']}" if "note" in rtl else ""))
    return "\n".join(lines)


def table(data: dict) -> str:
    width = max([len("design"), *map(len, data["designs"])]) + 2
    head = f"{'design':{width}s}" + "".join(f"{title:>15s}" for _, title in COLUMNS)
    rows = [head]
    for name, row in data["designs"].items():
        cells = []
        for key, _ in COLUMNS:
            v = row.get(key)
            cells.append(f"{'-' if v is None else v!s:>15s}")
        rows.append(f"{name:{width}s}" + "".join(cells))
    return "\n".join(rows)
