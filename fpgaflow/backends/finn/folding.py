"""Folding of the FINN accelerator and FINN's analytical estimates of it.

`fold` partitions the accelerator off the host graph, picks each layer's HLS or RTL variant
and folds it for the design's target frames per second within the part's budget (balance.py);
`write_estimates` writes FINN's own estimate reports (resources, cycles, throughput).
"""
from __future__ import annotations

import json
from pathlib import Path

from ...core.atomic import atomic_write_text
from ...core.errors import FpgaflowError
from ...core.spec import Design
from .balance import cycles_per_frame, fit_to_target
from .part import fpgapart, mvau, set_node_attr
from .passes import apply, minimize_bit_width

FOLDING_ATTRS = ("PE", "SIMD", "parallel_window", "ram_style", "resType", "mem_mode")


def target_cycles(design: Design) -> int:
    """Cycles per frame that the folding aims at: the clock over the target frames per second."""
    return cycles_per_frame(design.spec["target"]["clock_ns"], design.target_fps())


def specialized(parent_model, models: Path, part: str, stage: str = "folded", mvau: str = "finn-rtllib"):
    """(host graph, its partition node, the accelerator with HLS/RTL variants chosen; `mvau`
    'fpgaflow': every MVAU as FINN's HLS variant, which fpgaflow's portable MVAU takes in RTL)."""
    from finn.transformation.fpgadataflow.create_dataflow_partition import CreateDataflowPartition
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.transformation.qonnx.give_unique_node_names_recursive import GiveUniqueNodeNamesRecursive
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    parent = apply(parent_model, [CreateDataflowPartition(partition_model_dir=str(models / "partitions"))], stage)
    partitions = parent.get_nodes_by_op_type("StreamingDataflowPartition")
    if len(partitions) != 1:
        raise FpgaflowError(f"FINN backend: expected one dataflow partition, got {len(partitions)}")
    sdp = getCustomOp(partitions[0])
    prefer = [set_node_attr("MVAU", "preferred_impl_style", "hls")] if mvau == "fpgaflow" else []
    dataflow = apply(ModelWrapper(sdp.get_nodeattr("model")), [
        *prefer, SpecializeLayers(part), GiveUniqueNodeNamesRecursive(), InferShapes(), InferDataTypes()], stage)
    return parent, sdp, dataflow


def fold(model, design: Design, models: Path, stage: str = "folded"):
    """Partition the accelerator off the host graph, pick HLS/RTL variants, fold for the target
    within the budget (balance.py); returns (host graph, accelerator, Fit)."""
    from finn.transformation.qonnx.give_unique_node_names_recursive import GiveUniqueNodeNamesRecursive

    parent, sdp, dataflow = specialized(model, models, fpgapart(design), stage, mvau(design))
    dataflow, fit = fit_to_target(dataflow, design)
    dataflow = apply(dataflow, [GiveUniqueNodeNamesRecursive(), *minimize_bit_width()], stage)
    dataflow.save(str(models / "dataflow.onnx"))
    sdp.set_nodeattr("model", str(models / "dataflow.onnx"))
    parent.save(str(models / "dataflow_parent.onnx"))
    return parent, dataflow, fit


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


