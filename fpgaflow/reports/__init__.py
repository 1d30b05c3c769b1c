"""Synthesis and estimate reports in one schema (fpgaflow.reports.schema).

PARSERS is the registry: a file-name pattern -> the parser for that kind of file. `collect`
parses every report under a path; inside an hls4ml project the per-module reports of the
HLS tool are left out once the top-level one is found (their numbers are its layer rows),
and instance names are mapped to hls4ml layer names through firmware/parameters.h.
"""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from ..core.errors import FpgaflowError
from .estimate import estimate
from .finn import parse_finn_estimates
from .schema import KINDS, read_report
from .hls import parse_cosim_rpt, parse_csynth_rpt, parse_csynth_xml
from .vivado import parse_utilization
from .yosys import parse_yosys_stat

PARSERS = [  # (file-name pattern, parser), first match wins
    ("fpgaflow.json", estimate),
    ("*.report.json", read_report),
    ("estimate_layer_resources.json", parse_finn_estimates),
    ("*yosys*stat*.json", parse_yosys_stat),
    ("*_cosim.rpt", parse_cosim_rpt),
    ("*csynth.xml", parse_csynth_xml),
    ("*csynth.rpt", parse_csynth_rpt),
    ("vivado_synth.rpt", parse_utilization),
    ("*utilization*.rpt", parse_utilization),
]
SKIP = ("csynth_design_size.*",)  # Vitis' instruction counts, not a synthesis summary


def parser_for(path: Path):
    name = Path(path).name
    if any(fnmatch.fnmatch(name, p) for p in SKIP):
        return None
    return next((fn for pattern, fn in PARSERS if fnmatch.fnmatch(name, pattern)), None)


def parse(path: Path) -> dict:
    """One report in the schema. A file that cannot be read is one error naming it, whatever the
    parser tripped on: a report never ends in a traceback."""
    fn = parser_for(path)
    if fn is None:
        raise FpgaflowError(f"{path}: not a report fpgaflow reads (known: {', '.join(p for p, _ in PARSERS)})")
    try:
        return fn(Path(path))
    except FpgaflowError:
        raise
    except Exception as e:  # a layout no parser foresaw (or an unreadable file): name the file, not a line of ours
        detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise FpgaflowError(f"{path}: cannot read this report ({type(e).__name__}{': ' + detail if detail else ''})") \
            from None


def layer_names(project: Path) -> dict[str, str]:
    """hls4ml config index -> layer name, from the comments hls4ml writes in parameters.h."""
    params = project / "firmware" / "parameters.h"
    if not params.is_file():
        return {}
    names = {}
    for name, idx in re.findall(r"^// (\w+)\s*\nstruct config(\d+)\w*\s*[:{]", params.read_text(), re.M):
        names.setdefault(idx, name)
    return names


def _name_layers(report: dict, names: dict[str, str]) -> None:
    for l in report["layers"]:
        idx = re.findall(r"config(\d+)", l.get("module") or l["name"])
        if idx and idx[-1] in names:
            l["layer"] = names[idx[-1]]


def collect(path: Path) -> list[dict]:
    """Every report under path (or the one file), parsed; layer names mapped where possible."""
    path = Path(path)
    if not path.exists():
        raise FpgaflowError(f"{path}: no such file or folder")
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and parser_for(p) and ".autopilot" not in p.parts)
    reports = [parse(p) for p in files]
    for r in reports:
        project = next((p for p in [Path(r["source"]).parent, *Path(r["source"]).parents]
                        if (p / "firmware" / "parameters.h").is_file()), None)
        if project is not None:
            _name_layers(r, layer_names(project))
    return reports


def _merge(primary: dict, others: list[dict]) -> dict:
    """Fill what the primary report lacks from other reports of the same top (xml + rpt)."""
    out = dict(primary)
    for o in others:
        for key in ("tool_version", "part"):
            out[key] = out[key] or o[key]
        for key in ("clock_ns", "latency_cycles", "interval_cycles", "resources", "available"):
            out[key] = {k: v if v is not None else o[key].get(k) for k, v in out[key].items()}
    return out


def summary(reports: list[dict]) -> dict:
    """The reports a reviewer looks at: {'estimate', 'hls', 'cosim', 'implementation', 'place-and-route'}
    (None where absent).

    'hls' is the top of the design: the C-synthesis report whose top is no other report's
    layer module, with the most layer rows; per-module reports only feed its layers."""
    by_kind = {k: [r for r in reports if r["kind"] == k] for k in KINDS}
    hls = by_kind["hls"]
    modules = {l.get("module") for r in hls for l in r["layers"]}
    tops = [r for r in hls if r["top"] not in modules] or hls
    primary = max(tops, key=lambda r: (len(r["layers"]), r["source"].endswith(".rpt"))) if tops else None
    if primary is not None:
        primary = _merge(primary, [r for r in hls if r is not primary and r["top"] == primary["top"]])
    return {"estimate": (by_kind["estimate"] or [None])[0], "hls": primary,
            **{k: (by_kind[k] or [None])[0] for k in ("cosim", "implementation", "place-and-route")}}
