"""Vendor synthesis tools (Vitis HLS, Vivado): the script to run where the tool is, and the
run itself where it is here. Neither tool is on these machines: commands detect the tool and
say what to run where it exists."""
from __future__ import annotations

import subprocess
from pathlib import Path

from ..core.atomic import atomic_write_text
from ..core.errors import FpgaflowError


def write_script(folder: Path, what: str, lines: list[str]) -> Path:
    """folder/fpgaflow_synth.sh: what to run where the tool is, written whether or not it is here."""
    script = folder / "fpgaflow_synth.sh"
    atomic_write_text(script, f"#!/bin/sh\n# written by fpgaflow synth: {what}\n" + "\n".join(lines) + "\n")
    script.chmod(0o755)
    return script


def run_tool(argv: list[str], shown: str, folder: Path, tool: str, report: str) -> int:
    """Run the synthesis with its output in folder/synth.log; a failure names the log."""
    log_path = folder / "synth.log"
    print(f"running {shown} (log: {log_path})")
    with open(log_path, "w") as log:
        rc = subprocess.run(argv, cwd=folder, stdout=log, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        raise FpgaflowError(f"{tool} failed (exit {rc}); see {log_path}")
    print(f"synthesized; `{report}` shows the reports")
    return 0
