"""`fpgaflow sweep --best lenet/NAME --max-lut 50000`: the most accurate bit-exact (point,
backend) of a sweep within the limits, written as a design folder (design.yaml, the point's
trained weights, metrics.json) that `fpgaflow hls` builds like any other. The one way a sweep
writes under designs/."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import yaml

from ..core.atomic import atomic_dir
from ..core.errors import FpgaflowError
from ..core.spec import NAME_RE, designs_root, load_spec_file
from . import results
from .command import SWEEP_NAME, sweep_folder

LIMITS = {  # flag -> (figure, at most / at least)
    "max_lut": ("LUT", "max"), "max_ff": ("FF", "max"), "max_dsp": ("DSP", "max"), "max_bram": ("BRAM_18K", "max"),
    "min_fps": ("fps", "min"), "max_latency_us": ("latency_us", "max"),
}


def _within(e: dict, limits: dict) -> bool:
    for figure, (kind, bound) in limits.items():
        v = results.value(e["record"], e["figures"], figure)
        if v is None or (v > bound if kind == "max" else v < bound):
            return False
    return True


def pick(records: list[dict], limits: dict) -> dict | None:
    """Highest accuracy; among equals, fewest LUT."""
    fits = [e for e in results.entries(records) if _within(e, limits)]
    return max(fits, key=lambda e: (e["record"]["accuracy"], -(e["figures"]["resources"]["LUT"] or 0)), default=None)


def write_best(args) -> int:
    design, _, name = args.best.partition("/")
    if not NAME_RE.match(design) or not SWEEP_NAME.match(name):
        raise FpgaflowError(f"--best {args.best}: expected DESIGN/SWEEP, e.g. lenet/bits")
    folder = sweep_folder(args.build_dir, design, name)
    records = results.read(folder / "results.jsonl")
    if not records:
        raise FpgaflowError(f"--best {args.best}: no results in {folder}")
    limits = {LIMITS[k][0]: (LIMITS[k][1], getattr(args, k)) for k in LIMITS if getattr(args, k) is not None}
    e = pick(records, limits)
    if e is None:
        said = ", ".join(f"{f} {'<=' if k == 'max' else '>='} {v:,}" for f, (k, v) in limits.items())
        raise FpgaflowError(f"--best {args.best}: no bit-exact point within {said or 'the sweep'} "
                            f"({len(results.entries(records))} bit-exact entries)")
    to = args.to or f"{design}_{name.replace('-', '_')}_best"[:64]
    if not NAME_RE.match(to):
        raise FpgaflowError(f"--to {to!r}: lower-case letters, digits and '_'")
    target = designs_root() / to
    if target.exists() and not args.force:
        raise FpgaflowError(f"{target} exists: --to another name, or --force to replace it")
    source = Path(e["record"]["folder"]) / "design"
    spec = load_spec_file(source / "design.yaml")
    weights = [p for p in source.iterdir() if p.name.startswith("weights.")]
    if not weights:
        raise FpgaflowError(f"{source}: the point's weights are missing (a point trained on another node of a cluster "
                            f"keeps them there unless the sweep folder is shared)")
    spec["name"] = to
    spec["description"] = (f"{design} sweep {name}, point {e['hash'][:8]} ({results.settings(e['point'])}), "
                           f"best for {e['backend']}")
    path = spec["dataset"].get("path")
    if path and Path(path).is_absolute():
        spec["dataset"]["path"] = os.path.relpath(path, target)  # as the original kept it: relative to the folder
    with atomic_dir(target) as tmp:
        f = e["figures"]
        header = (f"# from `fpgaflow sweep` {design}/{name}, point {e['hash']}: {e['backend']}, test accuracy "
                  f"{e['record']['accuracy']:.4f}, bit-exact {f['n'] - f['mismatches']}/{f['n']}, estimated "
                  f"{f['resources']['LUT']} LUT, {f['resources']['DSP']} DSP, {f['fps']:,.0f} frames/s\n")
        (tmp / "design.yaml").write_text(header + yaml.safe_dump(spec, sort_keys=False, default_flow_style=None,
                                                                 width=110))
        for w in weights:
            shutil.copy2(w, tmp / w.name)
        metrics = source / "metrics.json"
        if metrics.is_file():
            m = json.loads(metrics.read_text())
            m["design"] = to
            (tmp / "metrics.json").write_text(json.dumps(m, indent=2) + "\n")
    print(f"{to}: {e['backend']} point {e['hash'][:8]} ({results.settings(e['point'])}), accuracy "
          f"{e['record']['accuracy']:.4f}, {f['resources']['LUT']} LUT, {f['resources']['DSP']} DSP, "
          f"{f['fps']:,.0f} frames/s (estimates); wrote {target} (build it: fpgaflow hls {to} --backend {e['backend']})")
    return 0
