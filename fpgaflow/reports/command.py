"""`fpgaflow report`: resolve designs and paths, collect their reports, print and write the review."""
from __future__ import annotations

import html
import json
from pathlib import Path

from ..backends import DEFAULT, get_backend
from ..core.atomic import atomic_write_text
from ..core.errors import FpgaflowError
from ..core.spec import NAME_RE, designs_root, list_designs, load_design
from ..verify.final import segments
from . import PARSERS, collect, summary
from .html import page
from .render import budget_failure, budget_table, compare_table, console, layer_table, summary_table
from .review import check_budgets, compare
from .sweep import lines, parse_targets, run_sweep, section


def _sweeps(args, collected, build_dir: Path) -> dict:
    """--sweep-fps: {design: sweep data} for the designs named, written to build/<design>/sweep-fps.json."""
    if not getattr(args, "sweep_fps", None):
        return {}
    targets = parse_targets(args.sweep_fps)
    out = {}
    for label, _, design in collected:
        if design is None:
            raise FpgaflowError(f"--sweep-fps takes design names, not paths ({label})")
        data = run_sweep(design, build_dir, targets, log=lambda m: None if args.json else print(m))
        atomic_write_text(build_dir / design.name / "sweep-fps.json", json.dumps(data, indent=2) + "\n")
        if not args.json:
            print("\n".join(lines(data)))
        out[design.name] = data
    return out


def resolve(target: str, build_dir: Path, backend: str = DEFAULT):
    """(label, folder or file, design or None). A design is built first where its project is missing."""
    b = get_backend(backend)
    if NAME_RE.match(target) and (designs_root() / target / "design.yaml").is_file():
        design = load_design(target)
        project = b.ensure(design, build_dir)
        return (design.name if backend == DEFAULT else f"{design.name} ({backend})"), project, design
    path = Path(target)
    if not path.exists():
        hint = f" (designs: {', '.join(list_designs())})" if NAME_RE.match(target) else ""
        raise FpgaflowError(f"{target}: neither a design nor an existing file or folder{hint}")
    # a design's build folder (build/<design>) holds one project per backend: take the one asked for
    if path.is_dir() and (path / b.folder / b.manifest).is_file():
        return str(path), path / b.folder, None
    return str(path), path, None


def run_report(args) -> int:
    build_dir = Path(args.build_dir)
    backend = getattr(args, "backend", DEFAULT)
    resolved = [resolve(t, build_dir, backend) for t in args.targets]
    collected = [(label, collect(path), design) for label, path, design in resolved]
    for label, reports, _ in collected:
        if not reports:
            raise FpgaflowError(f"{label}: no reports found (known: {', '.join(p for p, _ in PARSERS)})")
    out = console()
    if args.compare:
        if len(collected) != 2:
            raise FpgaflowError(f"--compare takes two builds, got {len(collected)}")
        c = compare(summary(collected[0][1]), summary(collected[1][1]))
        if args.json:
            print(json.dumps(c, indent=2))
        else:
            out.print(compare_table(c))
        return 0

    sweeps = _sweeps(args, collected, build_dir)
    failed = False
    for label, reports, design in collected:
        s = summary(reports)
        budgets = check_budgets(s, design.spec["budget"]) if design else []
        failed |= any(b["status"] == "fail" for b in budgets)
        data = {"reports": reports, "summary": {k: v and v["source"] for k, v in s.items()}, "budgets": budgets}
        runs_as = segments(design) if design else None
        if runs_as:
            data["runs_as"] = runs_as
        if args.json:
            print(json.dumps(data, indent=2))
        else:
            if runs_as:
                out.print(f"{label} runs as: {runs_as} (the figures below are the hardware's)")
            out.print(summary_table(label, s))
            out.print(layer_table(label, s))
            if budgets:
                out.print(budget_table(budgets))
        html_path = Path(args.html) if args.html else (build_dir / design.name / get_backend(backend).page
                                                       if design else None)
        if html_path is not None:
            extra = section(sweeps[design.name]) if design and design.name in sweeps else ""
            if runs_as:
                extra = f"<p>Runs as: {html.escape(runs_as)}; the figures are the hardware's.</p>\n" + extra
            atomic_write_text(html_path, page(f"fpgaflow report: {label}", s, budgets, extra))
            if design:
                atomic_write_text(html_path.with_suffix(".json"), json.dumps(data, indent=2) + "\n")
            if not args.json:
                out.print(f"wrote {html_path}")
        for b in budgets:
            if b["status"] == "fail":
                out.print(budget_failure(label, b))
    return 1 if failed else 0
