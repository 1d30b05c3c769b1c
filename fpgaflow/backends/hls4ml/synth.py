"""HLS synthesis (and Vivado logic synthesis) of a design's hls4ml project with the vendor
tool where it is installed; where it is not, say exactly what to run where it is. hls4ml
writes build_prj.tcl; the command here only sets its switches."""
from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from ...core.errors import FpgaflowError
from ..vendor import run_tool, write_script
from .convert import read_manifest

TOOLS = {"Vitis": "vitis_hls", "Vivado": "vivado_hls"}
# hls4ml's build_prj.tcl switches: C synthesis and Vivado synthesis (vivado_synth.rpt), no
# C-sim (fpgaflow csim does that) and no co-simulation (long; run it by hand with cosim=1)
SWITCHES = "reset=1 csim=0 synth=1 cosim=0 validation=0 export=0 vsynth=1"


def synth(design, build_dir: Path) -> int:
    project = Path(build_dir) / design.name / "hls4ml"
    manifest = read_manifest(project)
    tool = TOOLS[manifest.get("hls4ml_backend", "Vitis")]
    command = f"{tool} -f build_prj.tcl {shlex.quote(SWITCHES)}"
    script = write_script(project, "C and logic synthesis of this project",
                          [f"cd \"$(dirname \"$0\")\" && exec {command}"])
    if shutil.which(tool) is None:
        raise FpgaflowError(
            f"{tool} not found on PATH, so nothing was synthesized. On a machine with "
            f"{'Vitis HLS' if tool == 'vitis_hls' else 'Vivado HLS'} (and Vivado for vsynth), run "
            f"`sh {script}` (= cd {project} && {command}), bring {project} back, then `fpgaflow report {design.name}`")
    return run_tool(shlex.split(command), f"{command} in {project}", project, tool, f"fpgaflow report {design.name}")
