"""`fpgaflow sweep`: the settings (command line over a sweep file), the sweep's folder, the run
on Ray, and what it leaves: results.jsonl, pareto.json, sweep.html and the front's table.

    build/<design>/sweep/<name>/
        sweep.json       the settings, checked again by --resume
        results.jsonl    one line a point, appended as each point ends
        pareto.json      the fronts; sweep.html the page
        points/<hash>/   each point's design, build, log and result (status.json while it runs)
"""
from __future__ import annotations

import json
import os
import re
import socket
import shutil
import threading
import time
from pathlib import Path

import yaml

from ..core.atomic import atomic_write_text
from ..core.errors import FpgaflowError
from . import results
from .point import folder_of, job_hash
from .space import add, check_points, grid_points, parse_grid, training_first

SWEEP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
FILE_KEYS = {"name", "grid", "search", "backends", "epochs", "steps", "images", "cpus_per_trial", "memory_gb"}
SEARCH_KEYS = {"algorithm": "nsga2", "trials": 20, "objectives": ["accuracy", "LUT"], "seed": 0}
DEFAULTS = {"epochs": 1, "steps": None, "images": 200, "cpus_per_trial": 1, "memory_gb": None}


def read_file(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise FpgaflowError(f"--config {path}: no such file")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise FpgaflowError(f"--config {path}: malformed YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(data, dict):
        raise FpgaflowError(f"--config {path}: expected a mapping of sweep settings")
    unknown = sorted(set(data) - FILE_KEYS)
    if unknown:
        raise FpgaflowError(f"--config {path}: {unknown[0]}: unknown key (allowed: {', '.join(sorted(FILE_KEYS))})")
    data.setdefault("name", p.stem)
    return data


def _int(value, where: str, low: int):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise FpgaflowError(f"{where}: expected an integer >= {low}, got {value!r}")
    return value


def settings(args, design) -> dict:
    """The sweep's settings: command-line flags over the --config file over the defaults."""
    from ..backends import for_framework, get_backend

    f = read_file(args.config) if args.config else {}
    space = parse_grid(args.grid or [])
    grid = {} if args.grid else f.get("grid") or {}  # --grid replaces the file's whole grid
    if not isinstance(grid, dict):
        raise FpgaflowError(f"grid: expected a mapping of keys to lists of values, got {grid!r}")
    for key, values in grid.items():
        add(space, str(key), values if isinstance(values, list) else [values], f"grid.{key}")
    if not space:
        raise FpgaflowError("nothing to sweep: give --grid KEY=V1,V2 ... or a --config file with a grid")
    s = {k: f.get(k, v) for k, v in DEFAULTS.items()}
    for k in DEFAULTS:
        if getattr(args, k, None) is not None:
            s[k] = getattr(args, k)
    s["epochs"] = _int(s["epochs"], "epochs", 0)
    s["steps"] = _int(s["steps"], "steps", 1)
    s["images"] = _int(s["images"], "images", 1)
    s["cpus_per_trial"] = _int(s["cpus_per_trial"], "cpus_per_trial", 1)
    if s["memory_gb"] is not None and (isinstance(s["memory_gb"], bool) or not isinstance(s["memory_gb"], (int, float))
                                       or s["memory_gb"] <= 0):
        raise FpgaflowError(f"memory_gb: expected a positive number of GB, got {s['memory_gb']!r}")
    names = args.backend.split(",") if args.backend else f.get("backends") or [b.name for b in for_framework(
        design.framework.name)]
    if not isinstance(names, list):
        raise FpgaflowError(f"backends: expected a list, e.g. [hls4ml, finn], got {names!r}")
    s["backends"] = [get_backend(str(n).strip()).name for n in names]
    for b in s["backends"]:
        get_backend(b).check(design)
    s["name"] = args.name or f.get("name") or "sweep"
    if not SWEEP_NAME.match(s["name"]):
        raise FpgaflowError(f"sweep name {s['name']!r}: lower-case letters, digits, '-' and '_'")
    s["space"] = space
    s["search"] = _search(args, f.get("search"), space, s["backends"])
    return s


def _search(args, given, space: dict, backends: list[str]) -> dict | None:
    from .ray_run import OBJECTIVES

    if not args.search and not given:
        return None
    given = dict(given or {})
    unknown = sorted(set(given) - set(SEARCH_KEYS))
    if unknown:
        raise FpgaflowError(f"search.{unknown[0]}: unknown key (allowed: {', '.join(SEARCH_KEYS)})")
    s = {**SEARCH_KEYS, **given}
    for key in ("trials", "seed"):
        if getattr(args, key, None) is not None:
            s[key] = getattr(args, key)
    if args.objectives:
        s["objectives"] = [o.strip() for o in args.objectives.split(",")]
    if args.search:
        s["algorithm"] = args.search
    if s["algorithm"] != "nsga2":
        raise FpgaflowError(f"search.algorithm {s['algorithm']!r}: the search is Optuna's NSGA-II (nsga2)")
    _int(s["trials"], "search.trials", 1)
    if len(s["objectives"]) < 2 or any(o not in OBJECTIVES for o in s["objectives"]):
        raise FpgaflowError(f"search.objectives {','.join(s['objectives'])}: two or more of {', '.join(OBJECTIVES)}")
    s["space"] = dict(space)
    if len(backends) > 1 and "backend" not in space:  # one backend per trial: its figures are the objectives
        s["space"]["backend"] = list(backends)
    return s


def sweep_folder(build_dir, design: str, name: str) -> Path:
    return Path(build_dir).resolve() / design / "sweep" / name


def _stored(folder: Path, s: dict, resume: bool, force: bool) -> None:
    """A sweep folder holds one sweep: --resume continues it with the same settings."""
    saved = folder / "sweep.json"
    wanted = dict(s)
    if saved.is_file() and not force:
        if not resume:
            raise FpgaflowError(f"{folder} holds an earlier sweep: --resume finishes it, --force starts it again, "
                                f"--name picks another")
        old = _comparable(json.loads(saved.read_text()))
        for k, v in _comparable(wanted).items():
            if json.dumps(old.get(k), sort_keys=True) != json.dumps(v, sort_keys=True):
                raise FpgaflowError(f"--resume: {k} differs from the stored sweep's ({old.get(k)} there, {wanted[k]} "
                                    f"now); --force starts it again")
    elif resume and not saved.is_file():
        raise FpgaflowError(f"--resume: no sweep in {folder} to resume")
    if force and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(saved, json.dumps(wanted, indent=1) + "\n")


def _comparable(s: dict) -> dict:
    """What must not change on --resume: everything but a search's budget (it may grow)."""
    s = json.loads(json.dumps(s))
    if s.get("search"):
        s["search"].pop("trials", None)
    return s


def _stored_settings(folder: Path) -> dict:
    saved = folder / "sweep.json"
    if not saved.is_file():
        raise FpgaflowError(f"--resume: no sweep in {folder} (--name names it; --grid or --config describe a new one)")
    return json.loads(saved.read_text())


def job_of(design, s: dict, folder: Path) -> dict:
    """What every trial needs, shipped to it by Ray: the spec with an absolute data path (a point's
    design lives in the sweep folder, not beside the original)."""
    from ..core.data import dataset_file

    spec = json.loads(json.dumps(design.spec))
    if spec["dataset"].get("path"):
        spec["dataset"]["path"] = str(dataset_file(spec["dataset"]["path"], design.dir))
    return {"design": design.name, "spec": spec, "folder": str(folder), "search": s["search"] is not None,
            **{k: s[k] for k in ("backends", "epochs", "steps", "images", "cpus_per_trial", "memory_gb")}}


def run_sweep(args) -> int:
    from ..core.spec import load_design
    from .page import write_page

    design = load_design(args.design)
    if design.framework.imported:
        raise FpgaflowError(f"{design.name} is an imported model (fixed weights): a sweep trains every point; "
                            f"sweep the folding of it with `fpgaflow report {design.name} --sweep-fps`")
    if args.resume and not args.grid and not args.config:  # the stored sweep's own settings
        s = _stored_settings(sweep_folder(args.build_dir, design.name, args.name or "sweep"))
        if s["search"] and args.trials:
            s["search"]["trials"] = _int(args.trials, "--trials", 1)
    else:
        s = settings(args, design)
    if s["steps"] is not None and not design.framework.scaled_training:
        raise FpgaflowError(f"--steps: {design.framework.name} training counts epochs; use --epochs")
    points = grid_points(s["space"]) if s["search"] is None else []
    check_points(design.spec, points, s["backends"])
    if s["search"]:  # every choice on its own: combinations are checked as trials start
        check_points(design.spec, [{k: v} for k, vs in s["search"]["space"].items() for v in vs], s["backends"])
    folder = sweep_folder(args.build_dir, design.name, s["name"])
    _stored(folder, s, args.resume, args.force)
    job = job_of(design, s, folder)
    log = folder / "results.jsonl"
    done = {r["hash"]: r for r in results.read(log) if results.finished(r)}
    todo = training_first(job["spec"], [p for p in points if job_hash(job, p) not in done], job)
    total = len(points) if points else s["search"]["trials"]
    left = len(todo) if points else max(0, total - len(done))
    t0 = time.time()
    ok = True
    if left == 0:
        print(f"{design.name}/{s['name']}: all {total} points done before; nothing to run")
    else:
        steps = "" if s["steps"] is None else f", at most {s['steps']} steps"
        print(f"{design.name}/{s['name']}: {left} of {total} points to run on Ray "
              f"({args.address or 'local'}; {s['cpus_per_trial']} CPU per trial; {s['epochs']} epoch(s){steps}; "
              f"{'+'.join(s['backends'])}; bit-exact on {s['images']} test images)")
        # a search's earlier points run again as trials that return their stored records at once
        ok = _run(job, todo, left if points else total, log, args, s["search"], list(done.values()))
    records = results.read(log)
    results.write_pareto(folder, records)
    page = write_page(folder, design.name, s, records)
    print(results.front_table(records))
    return _summary(records, page, folder, time.time() - t0, ok, left)


def _run(job, todo, expected, log, args, search, done) -> bool:
    from tqdm import tqdm

    from .ray_run import run

    bar = tqdm(total=expected, desc="points", unit="point", disable=args.no_progress)

    earlier = {r["hash"] for r in done}

    def on_record(record):
        bar.update(1)
        if record.get("cached") and record["hash"] in earlier:
            return  # a search's earlier point, handed to the sampler again: on record already
        results.append(log, record)
        bar.write(_line(record))

    def on_lost(point, why):  # the trial's process died: no record came from it
        h = job_hash(job, point)
        on_record({"point": point, "hash": h, "accuracy": None, "seconds": None, "error": why, "backends": {},
                   "folder": str(folder_of(job, h))})

    stop = threading.Event()
    threading.Thread(target=_watch, args=(Path(job["folder"]) / "points", bar, stop), daemon=True).start()
    try:
        return run(job, todo, on_record, on_lost, address=args.address, search=search, done=done) == expected
    finally:
        stop.set()
        bar.close()


def _watch(points: Path, bar, stop: threading.Event) -> None:
    """The running points' stages on the progress bar (from their status.json): a point takes
    minutes, and the bar should say where each one is."""
    while not stop.wait(2.0):
        running = []
        for st in sorted(points.glob("*/status.json")):
            try:
                s = json.loads(st.read_text())
            except (OSError, ValueError):
                continue
            if s["stage"] != "done" and _alive(s):
                running.append(f"{st.parent.name[:8]} {s['stage']} {time.time() - s['since']:.0f}s")
        bar.set_postfix_str(", ".join(running), refresh=True)


def _alive(status: dict) -> bool:
    """False for a point whose process on this machine is gone (killed: its status went stale)."""
    if status.get("host") != socket.gethostname():
        return True
    try:
        os.kill(status["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _line(r: dict) -> str:
    head = f"  [{r['hash'][:8]}] {results.settings(r['point'])}: "
    if r["error"]:
        return head + f"FAILED: {r['error']}"
    parts = [f"accuracy {r['accuracy']:.4f}"]
    for name, be in r["backends"].items():
        if be["error"]:
            parts.append(f"{name} FAILED: {be['error']}")
        else:
            res = {k: "-" if v is None else v for k, v in be["resources"].items()}
            parts.append(f"{name} {'exact' if be['exact'] else 'NOT EXACT'} {be['n'] - be['mismatches']}/{be['n']}, "
                         f"{res['LUT']} LUT, {res['DSP']} DSP, {be['fps']:,.0f} frames/s ({be['estimate']})")
    reused = " training reused," if r.get("trained", {}).get("reused") else ""
    return head + "; ".join(parts) + f" ({reused} {r['seconds']} s)".replace("( ", "(")


def _summary(records, page, folder, seconds, ok, ran) -> int:
    failed = [r for r in records if not results.finished(r)]
    inexact = [r for r in records if results.finished(r) and not results.bit_exact(r)]
    print(f"{len(records)} points: {len(records) - len(failed)} ran to the end ({len(records) - len(failed) - len(inexact)}"
          f" bit-exact on every backend), {len(failed)} failed"
          + (f", {len(inexact)} NOT bit-exact" if inexact else "")
          + (f"; {seconds:.0f} s" if ran else "") + f"; wrote {folder / 'results.jsonl'}, pareto.json, {page.name}")
    if not ok:
        print("interrupted: `--resume` runs what is left")
        return 130
    return 1 if failed or inexact else 0
