"""The FINN flow as named steps, each declared once (FINN's builder registers its steps by
name the same way). A step with `what` is a stage: its model is kept as models/<name>.onnx
and verification executes it; the manifest, the progress bar and the verifier all read
STEPS. The transformations each step runs are in passes.py.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .folding import fold, write_estimates
from .part import fpgapart, own_rtl
from .passes import apply, branches, finn_onnx_passes, hw_passes, streamline_passes, stream_passes


@dataclass
class BuildState:
    """What the steps hand on: the model so far, and after folding the host graph (parent),
    the accelerator (dataflow) and FINN's performance estimate."""
    design: object
    qonnx_path: Path
    root: Path                     # the build folder being written (models/, code/, estimates/)
    model: object = None
    parent: object = None
    dataflow: object = None
    performance: dict = field(default_factory=dict)
    fit: object = None             # balance.Fit: the target, what it needs, the budget
    no_rtl: str | None = None      # why the accelerator could not be stitched as RTL
    fifo_depths: dict | None = None  # how the stitched RTL's FIFO depths were found
    inexact: bool = False          # built --inexact: float arithmetic may end the model, on the host

    @property
    def rtl(self) -> bool:
        return self.design.spec["finn"]["layers"] == "rtl"

    @property
    def models(self) -> Path:
        return self.root / "models"


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[BuildState, "Step"], None]
    what: str | None = None        # a verified stage: what its model is
    integer_input: bool = True     # its model takes the integer input (else the model input: integer x input scale)

    @property
    def model_file(self) -> str:
        return f"models/{self.name}.onnx"


def _transform(passes: Callable[[BuildState], list]) -> Callable[[BuildState, Step], None]:
    def run(state: BuildState, step: Step) -> None:
        state.model = apply(state.model, passes(state), step.name)
        state.model.save(str(state.root / step.model_file))
    return run


def _qonnx(state: BuildState, step: Step) -> None:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    state.model = cleanup_model(ModelWrapper(str(state.qonnx_path)))
    state.model.save(str(state.root / step.model_file))


def _folded(state: BuildState, step: Step) -> None:
    """Partition, fold, estimate, generate code (and for RTL layers the stitched RTL); then the
    flat model of the final layers."""
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

    from .transforms import generic_flat_model

    target, part = state.design.spec["target"], fpgapart(state.design)
    state.parent, state.dataflow, state.fit = fold(state.model, state.design, state.models)
    if state.rtl:
        state.dataflow = apply(state.dataflow, stream_passes(part), "stitch")
    state.dataflow = apply(state.dataflow, [PrepareIP(part, target["clock_ns"])], "codegen")
    if state.rtl:
        _stitch(state)
    # estimated after stitching: sizing sets the FIFOs' depths, which FINN's estimates count
    state.performance = write_estimates(state.dataflow, part, target["clock_ns"], state.root / "estimates")
    state.dataflow.save(str(state.models / "dataflow.onnx"))
    generic_flat_model(state.parent, state.dataflow).save(str(state.root / step.model_file))


def _stitch(state: BuildState) -> None:
    """The accelerator as one RTL design (rtl/), every FIFO sized by simulation (FINN's minimum
    depth of 2 costs a chain throughput: lenet's default folding ran 22,622 cycles a frame where
    FINN estimates 20,000; where a stream forks, it deadlocks). A layer with no RTL leaves the
    build without it: csim --rtl says why."""
    from ...core.errors import FpgaflowError
    from .rtl import fifo_sizing

    target, root = state.design.spec["target"], state.root / "rtl"
    try:
        state.fifo_depths = fifo_sizing.size(state.dataflow, root, fpgapart(state.design), target["clock_ns"],
                                              own=own_rtl(state.design))
    except FpgaflowError as e:
        shutil.rmtree(root, ignore_errors=True)
        state.no_rtl = str(e)


STEPS = [
    Step("qonnx", _qonnx, "the QONNX model as is (qonnx execution; the model's input: integer x input scale)",
         integer_input=False),
    Step("finn_onnx", _transform(lambda state: finn_onnx_passes()),
         "fpgaflow's fixes + ConvertQONNXtoFINN (integer input, FLOOR thresholds)"),
    Step("streamlined", _transform(lambda state: streamline_passes(state.inexact, branches(state.model))),
         "streamlined: scales and biases moved into integer thresholds, convs lowered"),
    Step("hw", _transform(lambda state: hw_passes(state.rtl, state.inexact)),
         "HW layers (MVAU, VVAU, Thresholding, SWG, FMPadding, Pool, ElementwiseAdd), bit widths minimized; "
         "FINN's node-by-node Python execution"),
    Step("folded", _folded,
         "the accelerator as generated: HLS/RTL variants folded for the target, final weights, "
         "thresholds and widths, each layer run as its generic FINN op in Python (the FIFOs and width "
         "converters of RTL builds left out: they compute nothing)"),
]
# the stages whose models verify executes, in flow order
STAGES = [s for s in STEPS if s.what]
