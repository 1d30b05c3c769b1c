"""HLS synthesis of each HLS layer of a FINN build with the hls_syn_*.tcl scripts FINN wrote;
the RTL layers need none. Stitching the IP and the bitfile are FINN builder steps that need
Vivado."""
from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from ...core.errors import FpgaflowError
from ..vendor import run_tool, write_script
from .build import read_manifest


def synth(design, build_dir: Path) -> int:
    folder = (Path(build_dir) / design.name / "finn").resolve()
    read_manifest(folder)
    scripts = sorted((folder / "code").rglob("hls_syn_*.tcl"))
    lines = [f"(cd {shlex.quote(str(t.parent))} && vitis_hls -f {shlex.quote(t.name)}) || exit 1" for t in scripts]
    script = write_script(folder, "Vitis HLS synthesis of every HLS layer of the FINN build (needs finn-hlslib where "
                                  "FINN_DEPS points)", lines)
    if shutil.which("vitis_hls") is None:
        raise FpgaflowError(
            f"vitis_hls not found on PATH, so nothing was synthesized. On a machine with Vitis HLS run `sh {script}` "
            f"({len(scripts)} HLS layers); then FINN's step_create_stitched_ip (Vivado) on "
            f"{folder / 'models' / 'dataflow.onnx'} stitches the layers")
    return run_tool(["sh", str(script)], str(script), folder, "vitis_hls", f"fpgaflow report {design.name} --backend finn")
