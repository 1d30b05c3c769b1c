"""Brevitas -> QONNX -> FINN: the design as a FINN dataflow accelerator, no Vivado needed.

Artefact: build/<design>/finn/ (written to a temporary folder, then renamed):
  models/<stage>.onnx        one model per stage that can change numbers (verify executes them)
  models/dataflow_parent.onnx, models/dataflow.onnx   host graph and the folded accelerator
  code/                      per-layer HLS C++ and RTL with FINN's hls_syn_*.tcl scripts
  estimates/                 FINN's own estimate reports (resources, cycles, throughput, folding)
  estimates.json             the same in fpgaflow's report schema
  fpgaflow-finn.json         manifest: stages, layers, folding, input/output scaling

The stages are lists of qonnx/FINN Transformations (FINN's builder steps, composed here so
each stage's model is kept and verified, plus fpgaflow's own in finn_transforms).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_dir, atomic_write_text
from .errors import FpgaflowError
from .finn_transforms import generic_flat_model
from .spec import Design

MANIFEST = "fpgaflow-finn.json"
HW_DOMAIN = "finn.custom_op.fpgadataflow"
# FINN attributes that hold absolute paths into the build folder
PATH_ATTRS = ("code_gen_dir_ipgen", "code_gen_dir_cppsim", "ipgen_path", "ip_path", "model")
FOLDING_ATTRS = ("PE", "SIMD", "parallel_window", "ram_style", "resType", "mem_mode")
# a matrix-vector unit's weight matrix (MW inputs x MH outputs) and a layer's channels, which
# channel pruning shrinks
SHAPE_ATTRS = ("MW", "MH", "IFMChannels", "NumChannels")


@dataclass(frozen=True)
class Stage:
    name: str
    what: str


# the stages whose models verify executes, in flow order
STAGES = [
    Stage("qonnx", "Brevitas' QONNX export as is (qonnx execution; input pixel / 2^n)"),
    Stage("finn_onnx", "fpgaflow's fixes + ConvertQONNXtoFINN (integer input, FLOOR thresholds)"),
    Stage("streamlined", "streamlined: scales and biases moved into integer thresholds, convs lowered"),
    Stage("hw", "HW layers (MVAU, Thresholding, SWG, Pool, ElementwiseAdd), bit widths minimized; "
                "FINN's node-by-node Python execution"),
    Stage("folded", "the accelerator as generated: HLS/RTL variants folded for the target, final weights, "
                    "thresholds and widths, each layer run as its generic FINN op in Python"),
]


def _finn():
    """FINN's imports, with a clear error where finn-plus is not installed."""
    try:
        import finn  # noqa: F401
    except ImportError:
        raise FpgaflowError("the FINN backend needs finn-plus: run `make venv` (it installs finn-plus 1.6.1 "
                            "with --no-deps next to the pinned torch/brevitas)") from None


def _passes(stage: str) -> list:
    """The transformations of one stage, in order (imports deferred: FINN is heavy)."""
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.elementwise_binary_operation import (
        InferElementwiseBinaryOperation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
        InferQuantizedMatrixVectorActivation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer
    from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from finn.transformation.qonnx.give_unique_node_names_recursive import GiveUniqueNodeNamesRecursive
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.reorder import MakeMaxPoolNHWC
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (
        GiveReadableTensorNames,
        GiveUniqueNodeNames,
        RemoveStaticGraphInputs,
        RemoveUnusedTensors,
    )
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    from . import finn_transforms as ff

    tidy = [InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(), InferDataTypes(),
            RemoveStaticGraphInputs()]
    return {
        "finn_onnx": [ff.FoldBiasQuant(), ff.IntegerInput(), ff.FloorQuantToMultiThreshold(),
                      ff.RejectRoundQuantActs(), ConvertQONNXtoFINN(), *tidy],
        "streamlined": [absorb.AbsorbScalarBiasIntoMultiThreshold(), Streamline(), LowerConvsToMatMul(),
                        MakeMaxPoolNHWC(), absorb.AbsorbTransposeIntoMultiThreshold(), MakeMaxPoolNHWC(),
                        absorb.AbsorbConsecutiveTransposes(), Streamline(), InferDataLayouts(), RemoveUnusedTensors(),
                        ff.BiasBeforeOutputScale()],
        "hw": [InferQuantizedMatrixVectorActivation(), InferThresholdingLayer(), InferPool(), InferConvInpGen(),
               RemoveCNVtoFCFlatten(),
               InferElementwiseBinaryOperation(InferElementwiseBinaryOperation.reject_output_dequant),
               GiveUniqueNodeNamesRecursive(), InferDataLayouts(), InferDataTypes(), InferShapes(),
               ff.RequireMapped(), *_minimize_bit_width()],
    }[stage]


def _minimize_bit_width() -> list:
    """FINN's weight/accumulator width minimization and threshold rounding (its builder's order)."""
    from finn.transformation.fpgadataflow.minimize_accumulator_width import MinimizeAccumulatorWidth
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import MinimizeWeightBitWidth
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.infer_datatypes import InferDataTypes

    return [MinimizeWeightBitWidth(), MinimizeAccumulatorWidth(), InferDataTypes(), RoundAndClipThresholds(),
            InferDataTypes(), MinimizeWeightBitWidth(), InferDataTypes()]


def _apply(model, passes, stage: str):
    for t in passes:
        try:
            model = model.transform(t)
        except FpgaflowError:
            raise
        except Exception as e:
            raise FpgaflowError(f"FINN stage '{stage}': {type(t).__name__} failed: {str(e).strip().splitlines()[0]}") \
                from None
    return model


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
    for f in (root / "code").rglob("*"):
        if f.is_file() and f.suffix in (".tcl", ".v", ".sv", ".cpp", ".h", ".sh"):
            text = f.read_text(errors="replace")
            if old in text:
                f.write_text(text.replace(old, new))


def target_cycles(design: Design) -> int:
    """Cycles per frame that the folding aims at: the clock over the target frames per second."""
    return max(1, int(1e9 / design.spec["target"]["clock_ns"] / design.spec["finn"]["target_fps"]))


def convert(design: Design, build_root: Path, qonnx_path: Path, progress: bool = True) -> Path:
    _finn()
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.util.cleanup import cleanup_model
    from tqdm import tqdm

    part, clock = design.spec["target"]["part"], design.spec["target"]["clock_ns"]
    final = Path(build_root).resolve() / design.name / "finn"
    started = time.time()
    with atomic_dir(final) as tmp:
        models, code = tmp / "models", tmp / "code"
        models.mkdir()
        code.mkdir()
        _set_build_dir(code)
        steps = ["qonnx", "finn_onnx", "streamlined", "hw", "folded", "estimates", "codegen"]
        bar = tqdm(steps, desc=f"FINN {design.name}", disable=not progress, leave=False)
        log = io.StringIO()
        captured = contextlib.ExitStack()
        captured.enter_context(contextlib.redirect_stdout(log))
        captured.enter_context(_finn_logger_to(log))
        model = cleanup_model(ModelWrapper(str(qonnx_path)))
        model.save(str(models / "qonnx.onnx"))
        bar.update()
        for stage in ("finn_onnx", "streamlined", "hw"):
            bar.set_postfix_str(stage)
            model = _apply(model, _passes(stage), stage)
            model.save(str(models / f"{stage}.onnx"))
            bar.update()

        bar.set_postfix_str("folded")
        parent, dataflow = _fold(model, design, models)
        bar.update()
        bar.set_postfix_str("estimates")
        from .reports.finn import parse_finn_estimates

        perf = write_estimates(dataflow, part, clock, tmp / "estimates")
        bar.update()
        bar.set_postfix_str("codegen")
        from finn.transformation.fpgadataflow.prepare_ip import PrepareIP

        dataflow = _apply(dataflow, [PrepareIP(part, clock)], "codegen")
        dataflow.save(str(models / "dataflow.onnx"))
        generic_flat_model(parent, dataflow).save(str(models / "folded.onnx"))
        bar.update()
        bar.close()
        captured.close()
        (tmp / "build.log").write_text(log.getvalue())
        # FINN's folding says where the target was missed and why: worth seeing without the log
        for line in log.getvalue().splitlines():
            if any(k in line for k in ("did not", "Reverting")):
                print(f"FINN folding: {line.strip()}")

        layers = []
        for node in dataflow.graph.node:
            inst = getCustomOp(node)
            code_dir = Path(inst.get_nodeattr("code_gen_dir_ipgen"))
            shape = {a: inst.get_nodeattr(a) for a in SHAPE_ATTRS if a in inst.get_nodeattr_types()}
            layers.append({"name": node.name, "op_type": node.op_type, **shape, **folding(inst),
                           "code": str(final / code_dir.relative_to(tmp)) if code_dir.is_relative_to(tmp) else None})
        out_scale = _output_scale(parent)
        manifest = {
            "design": design.name, "backend": "finn", "part": part, "clock_ns": clock,
            "target_fps": design.spec["finn"]["target_fps"], "target_cycles_per_frame": target_cycles(design),
            "qonnx": str(qonnx_path), "weights_sha256": _exported_weights(Path(qonnx_path)), "input_scale": 2.0 ** -design.spec["quant"]["input_bits"],
            "output_scale": out_scale,
            "stages": [{"stage": s.name, "what": s.what, "model": f"models/{s.name}.onnx",
                        "input": "pixel / 2^n" if s.name == "qonnx" else "integer pixel"} for s in STAGES],
            "not_simulated": {
                "cppsim": "HLS layers: FINN compiles them against Vitis HLS's simulation libraries (XILINX_HLS)",
                "rtlsim": "RTL layers and the stitched design: FINN simulates them with Vivado's xsi (XILINX_VIVADO)"},
            "layers": layers, "performance": perf,
            "seconds": round(time.time() - started, 1),
        }
        atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        _relocate(tmp, str(tmp), str(final))
        report = parse_finn_estimates(tmp / "estimates" / "estimate_layer_resources.json")
        report["source"] = str(final / "estimates" / "estimate_layer_resources.json")
        atomic_write_text(tmp / "estimates.json", json.dumps(report, indent=2) + "\n")
    return final


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
    """The host's final Mul: accelerator output x scale = the model's output."""
    import numpy as np

    last = parent.find_producer(parent.graph.output[0].name)
    if last is not None and last.op_type == "Mul":
        value = parent.get_initializer(last.input[1])
        if value is not None and np.asarray(value).size == 1:
            return float(np.asarray(value).reshape(()))
    return None


def _fold(model, design: Design, models: Path):
    """Partition the accelerator off the host graph, pick HLS/RTL variants, fold for the target."""
    from finn.transformation.fpgadataflow.create_dataflow_partition import CreateDataflowPartition
    from finn.transformation.fpgadataflow.set_folding import SetFolding
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.transformation.qonnx.give_unique_node_names_recursive import GiveUniqueNodeNamesRecursive
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    parent = _apply(model, [CreateDataflowPartition(partition_model_dir=str(models / "partitions"))], "folded")
    partitions = parent.get_nodes_by_op_type("StreamingDataflowPartition")
    if len(partitions) != 1:
        raise FpgaflowError(f"FINN backend: expected one dataflow partition, got {len(partitions)}")
    sdp = getCustomOp(partitions[0])
    dataflow = ModelWrapper(sdp.get_nodeattr("model"))
    fin = design.spec["finn"]
    dataflow = _apply(dataflow, [
        SpecializeLayers(design.spec["target"]["part"]), GiveUniqueNodeNamesRecursive(), InferShapes(), InferDataTypes(),
        SetFolding(target_cycles(design), mvau_wwidth_max=fin["mvau_wwidth_max"], two_pass_relaxation=True),
        GiveUniqueNodeNamesRecursive(), *_minimize_bit_width()], "folded")
    dataflow.save(str(models / "dataflow.onnx"))
    sdp.set_nodeattr("model", str(models / "dataflow.onnx"))
    parent.save(str(models / "dataflow_parent.onnx"))
    return parent, dataflow


def folding(inst) -> dict:
    """A FINN layer's parallelism and memory attributes (those it has)."""
    types = inst.get_nodeattr_types()
    return {a: inst.get_nodeattr(a) for a in FOLDING_ATTRS if a in types}


def write_estimates(dataflow, part: str, clock_ns: float, out: Path) -> dict:
    """FINN's analytical estimates, in FINN's own file names (as its builder writes them)."""
    from finn.analysis.fpgadataflow.dataflow_performance import dataflow_performance
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.op_and_param_counts import aggregate_dict_keys, op_and_param_counts
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from finn.transformation.fpgadataflow.annotate_cycles import AnnotateCycles
    from qonnx.custom_op.registry import getCustomOp

    out.mkdir(parents=True, exist_ok=True)
    resources = dataflow.analysis(lambda m: res_estimation(m, fpgapart=part))
    resources["total"] = aggregate_dict_keys(resources)
    annotated = dataflow.transform(AnnotateCycles())
    perf = dict(annotated.analysis(dataflow_performance))
    perf["estimated_throughput_fps"] = 1e9 / clock_ns / perf["max_cycles"]
    perf["estimated_latency_ns"] = perf["critical_path_cycles"] * clock_ns
    config = {n.name: folding(getCustomOp(n)) for n in dataflow.graph.node}
    files = {"estimate_layer_resources.json": resources,
             "estimate_layer_cycles.json": dataflow.analysis(exp_cycles_per_layer),
             "estimate_network_performance.json": perf,
             "op_and_param_counts.json": dataflow.analysis(op_and_param_counts),
             "auto_folding_config.json": {"Defaults": {}, **config},
             "fpgaflow_target.json": {"part": part, "clock_ns": clock_ns, "tool_version": _finn_version()}}
    for name, data in files.items():
        atomic_write_text(out / name, json.dumps(data, indent=2, default=_jsonable) + "\n")
    return perf


def _finn_version() -> str:
    from importlib.metadata import version

    return f"finn-plus {version('finn-plus')}"


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FpgaflowError(f"{folder}: no FINN build here (run `fpgaflow hls <design> --backend finn`)")
    return json.loads(path.read_text())
