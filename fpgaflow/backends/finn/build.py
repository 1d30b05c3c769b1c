"""Brevitas -> QONNX -> FINN: the design as a FINN dataflow accelerator, no Vivado needed.

Artefact: build/<design>/finn/ (written to a temporary folder, then renamed):
  models/<stage>.onnx        one model per stage that can change numbers (verify executes them)
  models/dataflow_parent.onnx, models/dataflow.onnx   host graph and the folded accelerator
  code/                      per-layer HLS C++ and RTL with FINN's hls_syn_*.tcl scripts
  estimates/                 FINN's own estimate reports (resources, cycles, throughput, folding)
  estimates.json             the same in fpgaflow's report schema
  fpgaflow-finn.json         manifest: stages, layers, folding, input/output scaling

The steps and stages are named once, in stages.py; this module runs them and writes the
manifest and FINN's estimates.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import time
from pathlib import Path

from ...core.atomic import atomic_dir, atomic_write_text
from ...core.data import input_scale
from ...core.errors import FpgaflowError
from ...core.spec import Design
from .folding import folding, target_cycles
from .stages import STAGES, STEPS, BuildState

MANIFEST = "fpgaflow-finn.json"
# FINN attributes that hold absolute paths into the build folder
PATH_ATTRS = ("code_gen_dir_ipgen", "code_gen_dir_cppsim", "ipgen_path", "ip_path", "model")
# a matrix-vector unit's weight matrix (MW inputs x MH outputs) and a layer's channels, which
# channel pruning shrinks
SHAPE_ATTRS = ("MW", "MH", "IFMChannels", "NumChannels")


def _set_build_dir(path: Path) -> None:
    """FINN writes generated code under FINN_BUILD_DIR, read once into its global settings."""
    os.environ["FINN_BUILD_DIR"] = str(path)
    from finn.util.settings import get_settings

    get_settings().finn_build_dir = path


def _relocate(root: Path, old: str, new: str) -> None:
    """Point the absolute paths FINN stored (ONNX attributes, tcl/verilog text) at the final folder."""
    from qonnx.core.modelwrapper import ModelWrapper

    for onnx_file in (root / "models").glob("*.onnx"):
        model = ModelWrapper(str(onnx_file))
        for node in model.graph.node:
            for a in node.attribute:
                if a.name in PATH_ATTRS and a.s and old.encode() in a.s:
                    a.s = a.s.replace(old.encode(), new.encode())
        model.save(str(onnx_file))
    for f in [*(root / "code").rglob("*"), *(root / "rtl").rglob("*")]:
        if f.is_file() and f.suffix in (".tcl", ".v", ".sv", ".cpp", ".h", ".sh"):
            text = f.read_text(errors="replace")
            if old in text:
                f.write_text(text.replace(old, new))


def _finn():
    """FINN's imports, with a clear error where finn-plus is not installed."""
    try:
        import finn  # noqa: F401
    except ImportError:
        raise FpgaflowError("the FINN backend needs finn-plus: run `make venv` (it installs finn-plus 1.6.1 "
                            "with --no-deps next to the pinned torch/brevitas)") from None


def convert(design: Design, build_root: Path, qonnx_path: Path, progress: bool = True, inexact: bool = False) -> Path:
    _finn()
    from tqdm import tqdm

    final = Path(build_root).resolve() / design.name / "finn"
    started = time.time()
    with atomic_dir(final) as tmp:
        (tmp / "models").mkdir()
        (tmp / "code").mkdir()
        _set_build_dir(tmp / "code")
        state = BuildState(design, Path(qonnx_path), tmp, inexact=inexact)
        bar = tqdm(STEPS, desc=f"FINN {design.name}", disable=not progress, leave=False)
        log = io.StringIO()
        with contextlib.redirect_stdout(log), _finn_logger_to(log):
            for step in bar:
                bar.set_postfix_str(step.name)
                step.run(state, step)
        bar.close()
        (tmp / "build.log").write_text(log.getvalue())
        if (tmp / "rtl").is_dir() and _output_scale(state.parent) is None:
            shutil.rmtree(tmp / "rtl")
            state.no_rtl = ("the host computes float arithmetic after the accelerator (a model built --inexact): its "
                            "integer outputs are not the model's output, so there is no RTL to compare")
        manifest = _manifest(design, state, final, round(time.time() - started, 1))
        atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        _relocate(tmp, str(tmp), str(final))
        from ...reports.finn import parse_finn_estimates

        report = parse_finn_estimates(tmp / "estimates" / "estimate_layer_resources.json")
        report["source"] = str(final / "estimates" / "estimate_layer_resources.json")
        atomic_write_text(tmp / "estimates.json", json.dumps(report, indent=2) + "\n")
    return final


def _manifest(design: Design, state: BuildState, final: Path, seconds: float) -> dict:
    from qonnx.custom_op.registry import getCustomOp

    tmp = state.root
    layers = []
    for node in state.dataflow.graph.node:
        inst = getCustomOp(node)
        code_dir = Path(inst.get_nodeattr("code_gen_dir_ipgen"))
        shape = {a: inst.get_nodeattr(a) for a in SHAPE_ATTRS if a in inst.get_nodeattr_types()}
        layers.append({"name": node.name, "op_type": node.op_type, **shape, **folding(inst),
                       "code": str(final / code_dir.relative_to(tmp)) if code_dir.is_relative_to(tmp) else None})
    return {
        "design": design.name, "backend": "finn", "part": design.spec["target"]["part"],
        "clock_ns": design.spec["target"]["clock_ns"],
        "target_fps": design.target_fps(), "target_cycles_per_frame": target_cycles(design),
        "fit": {"resources": state.fit.resources, "budget": state.fit.budget, "available": state.fit.available,
                "source": "FINN estimate (res_estimation) of the folded layers"},
        "qonnx": str(state.qonnx_path), "weights_sha256": _exported_weights(state.qonnx_path),
        "input_scale": input_scale(design.spec),
        "output_scale": _output_scale(state.parent),
        "stages": [{"stage": s.name, "what": s.what, "model": s.model_file,
                    "input": "integer" if s.integer_input else "model input"} for s in STAGES],
        "not_simulated": {
            "cppsim": "HLS layers: FINN compiles them against Vitis HLS's simulation libraries (XILINX_HLS)",
            "rtlsim": "FINN's own RTL simulation needs Vivado's xsi (XILINX_VIVADO); fpgaflow simulates the stitched "
                      "RTL in Verilator instead: csim --rtl" if design.spec["finn"]["layers"] == "rtl" else
                      "RTL layers and the stitched design: FINN simulates them with Vivado's xsi (XILINX_VIVADO); "
                      "this build has HLS MVAUs (finn.layers: hls), so no stitched RTL"},
        "layers": layers, "performance": state.performance,
        "rtl": {"stitched": (tmp / "rtl").is_dir(), "folder": "rtl" if (tmp / "rtl").is_dir() else None,
                "fifo_depths": state.fifo_depths,
                "why_not": state.no_rtl if state.rtl else "finn.layers: hls (MVAUs with fused thresholds are HLS-only)"},
        "seconds": seconds,
    }


@contextlib.contextmanager
def _finn_logger_to(stream):
    """FINN's logger (and its prints) into the build log instead of between the progress bar."""
    import logging

    logger = logging.getLogger("finn_logger")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _exported_weights(qonnx_path: Path) -> str | None:
    """The sha256 of the weights the export was made from (export.json beside it), if fpgaflow exported it."""
    info = qonnx_path.parent / "export.json"
    return json.loads(info.read_text()).get("weights_sha256") if info.is_file() else None


def _output_scale(parent) -> float | None:
    """The host's final Mul: accelerator output x scale = the model's output (1 where the
    accelerator's output is the model's)."""
    import numpy as np

    last = parent.find_producer(parent.graph.output[0].name)
    if last is not None and last.op_type == "StreamingDataflowPartition":
        return 1.0
    if last is not None and last.op_type == "Mul":
        value = parent.get_initializer(last.input[1])
        if value is not None and np.asarray(value).size == 1:
            return float(np.asarray(value).reshape(()))
    return None


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FpgaflowError(f"{folder}: no FINN build here (run `fpgaflow hls <design> --backend finn`)")
    return json.loads(path.read_text())
