"""One point of a sweep, start to end, in whatever process runs it (a Ray trial's worker): the
design with the point's overrides written to the point's own folder, trained with fpgaflow's
training loop, then for each backend built, estimated and verified bit for bit.

Everything a point writes stays under build/<design>/sweep/<name>/points/<hash>/: the design
folder of the sweep's design is never touched (`--best` is the one way a point becomes a
design). A failure is the point's one-line `error` (or a backend's), never an exception out of
here: the sweep goes on.
"""
from __future__ import annotations

import fcntl
import json
import os
import resource
import shutil
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import yaml

from ..core.atomic import atomic_dir, atomic_write_text
from ..core.errors import FpgaflowError
from ..core.spec import Design
from .space import point_backends, point_hash, point_spec, train_hash

def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    first = text[0] if text else ""
    return first if isinstance(e, FpgaflowError) else f"{type(e).__name__}: {first}".rstrip(": ")


def folder_of(job: dict, h: str) -> Path:
    return Path(job["folder"]) / "points" / h


def status(folder: Path, stage: str) -> None:
    """Where the point is, for the terminal and for whoever wants to find its process."""
    atomic_write_text(folder / "status.json", json.dumps(
        {"stage": stage, "pid": os.getpid(), "host": socket.gethostname(), "since": round(time.time(), 1)}) + "\n")


@contextmanager
def log_to(path: Path):
    """The point's own output (training, builds, compilers) into its log file, not the terminal:
    file-descriptor level, so subprocesses' output goes there too."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def point_design(job: dict, point: dict) -> tuple[Design, str]:
    spec = point_spec(job["spec"], point)
    h = point_hash(spec, point, job)
    spec["name"] = f"{job['design'][:40]}_{h[:12]}"
    return Design(spec["name"], folder_of(job, h) / "design", spec), h


def job_hash(job: dict, point: dict) -> str:
    """The point's hash as its trial computes it (from the job's spec, its data path absolute):
    what the driver skips on --resume."""
    return point_design(job, point)[1]


def run_point(job: dict, point: dict) -> dict:
    """The point's record (results.jsonl's line), also written to its folder as result.json."""
    t0 = time.time()
    design, h = point_design(job, point)
    folder = design.dir.parent
    done = _finished(folder / "result.json")
    if done:  # a search drew a point it has (a grid's driver skips them before Ray)
        return {**done, "cached": True}
    shutil.rmtree(folder, ignore_errors=True)  # what a killed run of this point left: it starts from nothing
    folder.mkdir(parents=True)
    record = {"point": point, "hash": h, "accuracy": None, "seconds": None, "error": None, "backends": {},
              "train_seconds": None, "host": socket.gethostname(), "folder": str(folder)}
    status(folder, "train")
    with log_to(folder / "log.txt"):
        try:
            _set_threads(job["cpus_per_trial"])
            design.dir.mkdir(exist_ok=True)
            atomic_write_text(design.dir / "design.yaml", yaml.safe_dump(design.spec, sort_keys=False))
            m, record["trained"] = trained(design, job, folder)
            record["accuracy"] = m["test_accuracy"]
            record["test_images"] = m["test_images"]
            record["train_seconds"] = m["seconds"]
            for name in point_backends(point, job["backends"]):
                status(folder, name)
                record["backends"][name] = run_backend(design, name, folder / "build", job)
        except Exception as e:  # noqa: BLE001 - the point's failure is data; the sweep goes on
            record["error"] = one_line(e)
    record["seconds"] = round(time.time() - t0, 1)
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    record["peak_rss_mb"] = round(max(own.ru_maxrss, children.ru_maxrss) / 1024)
    atomic_write_text(folder / "result.json", json.dumps(record, indent=1) + "\n")
    status(folder, "done")
    return record


def _finished(path: Path) -> dict | None:
    from .results import finished

    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if finished(record) else None


def _set_threads(cpus: int) -> None:
    # Ray sets OMP_NUM_THREADS for the trial; torch reads it only at import, which may be earlier
    try:
        import torch

        torch.set_num_threads(max(1, int(cpus)))
    except ImportError:
        pass


def trained(design: Design, job: dict, folder: Path) -> tuple[dict, dict]:
    """(the training's metrics, {hash, reused}): the weights trained for this point, or by an
    earlier point whose spec differs only in hardware keys (sweep/<name>/trained/<hash>/). A
    point that needs a training another is running waits for it (a file lock)."""
    h = train_hash(design.spec, job)
    cache = Path(job["folder"]) / "trained" / h
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.parent / f".{h}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released by the kernel if this process dies
        reused = (cache / "metrics.json").is_file()
        if not reused:
            with atomic_dir(cache) as tmp:  # a killed training leaves nothing that looks done
                _train(design, job, folder, tmp)
    for f in cache.iterdir():
        shutil.copy2(f, design.dir / f.name)
    return json.loads((cache / "metrics.json").read_text()), {"hash": h, "reused": reused}


def _train(design: Design, job: dict, folder: Path, out: Path) -> dict:
    extra = {"max_steps": job["steps"]} if job["steps"] is not None else {}
    m = design.framework.fn("train")(design, out_dir=out, epochs=job["epochs"],
                                     checkpoint_dir=folder / "train", progress=False, **extra)
    if m is None:
        raise FpgaflowError("training returned no metrics")
    return m


def run_backend(design: Design, name: str, build_dir: Path, job: dict) -> dict:
    """Build, estimate (the resource model of fpgaflow's reports: fpgaflow's for hls4ml, FINN's
    for FINN) and verify one backend; its failure is its own `error`."""
    from ..backends import get_backend
    from ..backends.target import REPORTED

    b = get_backend(name)
    out = {"exact": None, "n": None, "mismatches": None, "fps": None, "latency_us": None,
           "resources": dict.fromkeys(REPORTED), "error": None}
    t = time.time()
    try:
        b.build(design, build_dir, progress=False)
        est = b.sweep(design, build_dir, [design.target_fps()])[0]
        out.update({"target_fps": est["target_fps"], "fps": est["fps"], "latency_us": est["latency_us"],
                    "resources": est["resources"], "fits": est["fits"],
                    "bottleneck": est["bottleneck"], "estimate": est["source"]})
        out.update(b.compare(design, build_dir, job["images"], workers=job["cpus_per_trial"]))
    except Exception as e:  # noqa: BLE001
        out["error"] = one_line(e)
    out["seconds"] = round(time.time() - t, 1)
    return out
