"""`fpgaflow check <design>`: the design's model read node by node (no build), and the check
`fpgaflow hls` runs before it converts anything. Writes build/<design>/check.json."""
from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path

from ..core.atomic import atomic_write_text
from . import FORMATS
from .rows import table

CHECK_FILE = "check.json"


def analyse(design, build_root: Path):
    """The Analysis of a design's model: the imported file, or the export of a built-in design."""
    fmt = FORMATS[design.framework.model_format]
    module, _, fn = fmt.analyse.partition(":")
    analysis = getattr(import_module(module), fn)(design, Path(build_root))
    out = Path(build_root) / design.name / CHECK_FILE
    atomic_write_text(out, json.dumps({"design": design.name, **analysis.as_json()}, indent=2) + "\n")
    return analysis


def run_check(name: str, build_root, json_out: bool = False) -> int:
    from ..core.spec import load_design

    design = load_design(name)
    analysis = analyse(design, build_root)
    if json_out:
        print(json.dumps(analysis.as_json(), indent=2))
        return 0
    print(table(analysis))
    if analysis.host:
        print(f"runs as: {analysis.segments()}")
    for b in analysis.backends:
        print(f"{b}: {analysis.summary(b)}")
    print(f"wrote {Path(build_root) / design.name / CHECK_FILE}")
    # exit 1 where no backend maps the model: a script can stop before a build
    return 0 if any(analysis.maps(b) for b in analysis.backends) else 1


def not_exact_because(design, build_root, backend: str) -> str | None:
    """Why the design's model cannot be bit-exact on `backend` (the check `hls` ran, kept in
    build/<design>/check.json), or None where it can: verification then demands ==."""
    path = Path(build_root) / design.name / CHECK_FILE
    if not design.framework.imported or not path.is_file():
        return None
    verdict = json.loads(path.read_text()).get("backends", {}).get(backend, {})
    return None if verdict.get("exact_possible", True) else verdict.get("summary")
