"""`fpgaflow synth`: HLS synthesis (and Vivado logic synthesis) of a design's hls4ml project
with the vendor tool where it is installed; where it is not, say exactly what to run where
it is. hls4ml writes build_prj.tcl; the command here only sets its switches."""
from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from .atomic import atomic_write_text
from .convert_hls4ml import read_manifest
from .errors import FpgaflowError
from .spec import load_design

TOOLS = {"Vitis": "vitis_hls", "Vivado": "vivado_hls"}
# hls4ml's build_prj.tcl switches: C synthesis and Vivado synthesis (vivado_synth.rpt), no
# C-sim (fpgaflow csim does that) and no co-simulation (long; run it by hand with cosim=1)
SWITCHES = "reset=1 csim=0 synth=1 cosim=0 validation=0 export=0 vsynth=1"


def synth(name: str, build_dir: Path, backend: str = "hls4ml") -> int:
    design = load_design(name)
    if backend == "finn":
        return synth_finn(design, build_dir)
    project = build_dir / design.name / "hls4ml"
    manifest = read_manifest(project)
    tool = TOOLS[manifest.get("hls4ml_backend", "Vitis")]
    command = f"{tool} -f build_prj.tcl {shlex.quote(SWITCHES)}"
    script = _script(project, "C and logic synthesis of this project", [f"cd \"$(dirname \"$0\")\" && exec {command}"])
    if shutil.which(tool) is None:
        raise FpgaflowError(
            f"{tool} not found on PATH, so nothing was synthesized. On a machine with "
            f"{'Vitis HLS' if tool == 'vitis_hls' else 'Vivado HLS'} (and Vivado for vsynth), run "
            f"`sh {script}` (= cd {project} && {command}), bring {project} back, then `fpgaflow report {design.name}`")
    return _run(shlex.split(command), f"{command} in {project}", project, tool, f"fpgaflow report {design.name}")


def _script(folder: Path, what: str, lines: list[str]) -> Path:
    """folder/fpgaflow_synth.sh: what to run where the tool is, written whether or not it is here."""
    script = folder / "fpgaflow_synth.sh"
    atomic_write_text(script, f"#!/bin/sh\n# written by fpgaflow synth: {what}\n" + "\n".join(lines) + "\n")
    script.chmod(0o755)
    return script


def _run(argv: list[str], shown: str, folder: Path, tool: str, report: str) -> int:
    """Run the synthesis with its output in folder/synth.log; a failure names the log."""
    log_path = folder / "synth.log"
    print(f"running {shown} (log: {log_path})")
    with open(log_path, "w") as log:
        rc = subprocess.run(argv, cwd=folder, stdout=log, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        raise FpgaflowError(f"{tool} failed (exit {rc}); see {log_path}")
    print(f"synthesized; `{report}` shows the reports")
    return 0


def synth_finn(design, build_dir: Path) -> int:
    """HLS synthesis of each FINN HLS layer with the hls_syn_*.tcl FINN wrote; the RTL layers
    need none. Stitching the IP and the bitfile are FINN builder steps that need Vivado."""
    from .convert_finn import read_manifest

    folder = (build_dir / design.name / "finn").resolve()
    read_manifest(folder)
    scripts = sorted((folder / "code").rglob("hls_syn_*.tcl"))
    lines = [f"(cd {shlex.quote(str(t.parent))} && vitis_hls -f {shlex.quote(t.name)}) || exit 1" for t in scripts]
    script = _script(folder, "Vitis HLS synthesis of every HLS layer of the FINN build (needs finn-hlslib where "
                             "FINN_DEPS points)", lines)
    if shutil.which("vitis_hls") is None:
        raise FpgaflowError(
            f"vitis_hls not found on PATH, so nothing was synthesized. On a machine with Vitis HLS run `sh {script}` "
            f"({len(scripts)} HLS layers); then FINN's step_create_stitched_ip (Vivado) on "
            f"{folder / 'models' / 'dataflow.onnx'} stitches the layers")
    return _run(["sh", str(script)], str(script), folder, "vitis_hls", f"fpgaflow report {design.name} --backend finn")
