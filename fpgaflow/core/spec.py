"""Design specs: designs/<name>/design.yaml, validated against a schema kept as data.

A schema node is either a leaf (type, bounds, choices, default) or a mapping of keys to
nodes; unknown keys, wrong types and impossible values are errors naming the key path.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..frontends import FRAMEWORKS, Framework, framework
from .errors import FpgaflowError
from .graph_rules import check_graph
from .layers import CHANNEL_PRUNABLE, NAME_RE, WEIGHTED
from .parts import part_capacity



def leaf(type_, default=None, *, required=False, min=None, max=None, choices=None):
    return {"_leaf": True, "type": type_, "default": default, "required": required,
            "min": min, "max": max, "choices": choices}


BITS = dict(min=2, max=16)  # 1-bit signed narrow range holds only 0; wider than 16 is not "low-bit"
LAYER_COMMON = {
    "type": leaf(str, required=True),
    "name": leaf(str),
    # the layers it reads, by name ("input": the model's input); unset: the layer before it
    "inputs": leaf(list),
}
LAYER_SCHEMAS = {
    "conv": {**LAYER_COMMON, "filters": leaf(int, required=True, min=1), "kernel": leaf(int, required=True, min=1),
             "stride": leaf(int, 1, min=1), "padding": leaf(int, 0, min=0),
             "activation": leaf(str, "relu", choices=["relu", "none"]),
             "weight_bits": leaf(int, **BITS), "act_bits": leaf(int, min=1, max=16)},
    # depthwise: one k x k filter per input channel (groups = channels); with a 1x1 conv after
    # it, a depthwise-separable block
    "dwconv": {**LAYER_COMMON, "kernel": leaf(int, required=True, min=1),
               "stride": leaf(int, 1, min=1), "padding": leaf(int, 0, min=0),
               "activation": leaf(str, "relu", choices=["relu", "none"]),
               "weight_bits": leaf(int, **BITS), "act_bits": leaf(int, min=1, max=16)},
    "maxpool": {**LAYER_COMMON, "kernel": leaf(int, 2, min=1)},
    # the mean over kernel x kernel windows, stride kernel (imported models: AvgPool2d, TruncAvgPool2d)
    "avgpool": {**LAYER_COMMON, "kernel": leaf(int, 2, min=1)},
    "flatten": {**LAYER_COMMON},
    "dense": {**LAYER_COMMON, "units": leaf(int, required=True, min=1),
              "activation": leaf(str, "relu", choices=["relu", "none"]),
              "weight_bits": leaf(int, **BITS), "act_bits": leaf(int, min=1, max=16)},
    # batch normalization of the conv / dense layer it reads (which has activation: none); it
    # trains folded into that layer's weights and is gone from the deployed network
    "batchnorm": {**LAYER_COMMON, "activation": leaf(str, "relu", choices=["relu", "none"]),
                  "act_bits": leaf(int, min=1, max=16)},
    # element-wise sum of two inputs of one shape (a residual add): every operand on one
    # signed grid of operand_bits, then the activation
    "add": {**LAYER_COMMON, "activation": leaf(str, "relu", choices=["relu", "none"]),
            "operand_bits": leaf(int, 8, **BITS), "act_bits": leaf(int, min=1, max=16)},
    # channels of two inputs of one height and width, one after the other: every operand
    # on one signed grid of operand_bits first
    "concat": {**LAYER_COMMON, "operand_bits": leaf(int, 8, **BITS)},
    # the mean of each channel over the whole map: (C, H, W) -> (C,)
    "global_avgpool": {**LAYER_COMMON},
}
SCHEMA = {
    "name": leaf(str, required=True),
    "description": leaf(str, ""),
    "framework": leaf(str, "brevitas", choices=list(FRAMEWORKS)),
    # an imported model (fpgaflow import): where it came from; its file is the design's weights
    "source": {
        "file": leaf(str),        # the imported file, as the user named it
        "format": leaf(str, choices=["qonnx", "keras"]),
        "sha256": leaf(str),      # of the model file in the design folder
        "imported": leaf(str),    # when (UTC)
    },
    "dataset": {
        "name": leaf(str, "mnist"),
        # idx: MNIST-format files in a folder; npz: one file with x_train, y_train, x_test, y_test
        "format": leaf(str, "idx", choices=["idx", "npz"]),
        "path": leaf(str),
        "input_shape": leaf(list, required=True),   # [channels, height, width] or [features]
        "num_classes": leaf(int, required=True, min=2),
        # IDX images of an imported model: pixel / pixel_divisor in float32 (255: torchvision's ToTensor)
        "pixel_divisor": leaf(float, min=1.0),
    },
    # an imported model's host segments (fpgaflow import): QONNX files in the design folder that
    # the CPU runs before the hardware (head: the data as they come, input_shape, to the body's
    # input) and after it (tail: the body's output to the model's)
    "host": {
        "head": {"file": leaf(str), "nodes": leaf(list), "ops": leaf(list), "input_shape": leaf(list),
                 "sha256": leaf(str)},
        "tail": {"file": leaf(str), "nodes": leaf(list), "ops": leaf(list), "sha256": leaf(str)},
    },
    "quant": {
        "input_bits": leaf(int, 8, min=1, max=16),
        # the model's own input quantizer (imported models): integers min..max times scale, reached
        # with rounding; unset: pixel / 2^input_bits (the built-in designs)
        "input": {
            "scale": leaf(float, min=0.0),
            "min": leaf(int),
            "max": leaf(int),
            "rounding": leaf(str, "ROUND", choices=["ROUND", "FLOOR"]),
            # where a grid no quantizer of the model gives came from (fpgaflow import: the data, or
            # --input-bits); unset: the model's own input quantizer
            "origin": leaf(str),
        },
        "weight_bits": leaf(int, 4, **BITS),
        "act_bits": leaf(int, 4, min=1, max=16),
        "bias_bits": leaf(int, 16, min=2, max=32),
    },
    "layers": leaf(list, required=True),
    "train": {
        "seed": leaf(int, 0, min=0),
        "epochs": leaf(int, 10, min=0),
        "batch_size": leaf(int, 64, min=1),
        "lr": leaf(float, 1e-3, min=0.0),
        "weight_decay": leaf(float, 0.0, min=0.0),
        "val_size": leaf(int, 5000, min=0),
        "shift": leaf(int, 0, min=0, max=8),  # augmentation: random translation by up to this many pixels
        "distill": {  # knowledge distillation from a float teacher of the same network; alpha 0: off
            "alpha": leaf(float, 0.0, min=0.0, max=1.0),
            "temperature": leaf(float, 4.0, min=0.1, max=100.0),
            "teacher_epochs": leaf(int, 5, min=1),
        },
    },
    "target": {
        "part": leaf(str, "xczu7ev-ffvc1156-2-e"),
        "clock_ns": leaf(float, 5.0, min=0.5, max=100.0),
        # throughput and latency the hardware is folded for (FINN; without fps: finn.target_fps);
        # `fpgaflow hls --target-fps` overrides fps
        "fps": leaf(int, min=1),
        "latency_us": leaf(float, min=1e-3),
    },
    "hls4ml": {
        "backend": leaf(str, "Vitis", choices=["Vitis", "Vivado"]),
        "io_type": leaf(str, "io_stream", choices=["io_stream", "io_parallel"]),
        "strategy": leaf(str, "Resource", choices=["Latency", "Resource"]),
        "reuse_factor": leaf((str, int, dict), "auto"),
        "project_name": leaf(str, "myproject"),
        "tb_images": leaf(int, 100, min=1),   # test images written as the project's testbench vectors
    },
    "prune": {  # pruning during QAT; sparsity 0: off
        # magnitude: single weights set to 0; channel: whole output channels removed from the hardware
        "kind": leaf(str, "magnitude", choices=["magnitude", "channel"]),
        "sparsity": leaf(float, 0.0, min=0.0, max=0.99),   # fraction of each layer's weights (or channels) pruned
        "start": leaf(float, 0.1, min=0.0, max=1.0),       # schedule: fractions of the training steps
        "end": leaf(float, 0.6, min=0.0, max=1.0),
    },
    "finn": {
        "target_fps": leaf(int, 10000, min=1),      # folding aims at clock / target_fps cycles per frame
        # rtl: every layer finn-plus has as RTL is built as RTL (standalone thresholds, RTL MVAUs), the
        # chain stitched for Verilator and Yosys; hls: MVAUs with fused thresholds, for Vitis HLS only
        "layers": leaf(str, "rtl", choices=["rtl", "hls"]),
        # the RTL build's MVAU: finn-rtllib (finn-plus' RTL MVU: 4-8-bit operands, Xilinx DSPs), fpgaflow
        # (portable, LUT products; 2-bit layers get it anyway), auto: fpgaflow on Lattice parts
        "mvau": leaf(str, "auto", choices=["auto", "finn-rtllib", "fpgaflow"]),
        # the window generator (one SIMD group per beat): finn-rtllib's, fpgaflow's (registered control,
        # double-buffered frames), auto: fpgaflow on Lattice parts; a parallel window stays finn-rtllib's
        "swg": leaf(str, "auto", choices=["auto", "finn-rtllib", "fpgaflow"]),
    },
    "budget": leaf(dict, {}),
}


def _check_leaf(node, value, where):
    types = node["type"] if isinstance(node["type"], tuple) else (node["type"],)
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, types):
        names = " or ".join(t.__name__ for t in types)
        raise FpgaflowError(f"{where}: expected {names}, got {type(value).__name__} ({value!r})")
    if node["choices"] is not None and value not in node["choices"]:
        raise FpgaflowError(f"{where}: {value!r} is not one of {node['choices']}")
    if node["min"] is not None and value < node["min"]:
        raise FpgaflowError(f"{where}: {value} is below the minimum {node['min']}")
    if node["max"] is not None and value > node["max"]:
        raise FpgaflowError(f"{where}: {value} is above the maximum {node['max']}")
    return value


def _apply(schema: dict, data, where: str) -> dict:
    if not isinstance(data, dict):
        raise FpgaflowError(f"{where or 'design'}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(schema))
    if unknown:
        raise FpgaflowError(f"{where + '.' if where else ''}{unknown[0]}: unknown key (allowed: {', '.join(schema)})")
    out = {}
    for key, node in schema.items():
        path = f"{where}.{key}" if where else key
        if node.get("_leaf"):
            if key in data and data[key] is not None:
                out[key] = _check_leaf(node, data[key], path)
            elif node["required"]:
                raise FpgaflowError(f"{path}: required key is missing")
            else:
                out[key] = copy.deepcopy(node["default"])
        else:
            out[key] = _apply(node, data.get(key) or {}, path)
    return out


def validate(data) -> dict:
    """A complete spec (defaults filled in) from parsed YAML, or an FpgaflowError."""
    spec = _apply(SCHEMA, data, "")
    if not NAME_RE.match(spec["name"]):
        raise FpgaflowError(f"name: {spec['name']!r} must be lower-case letters, digits and '_'")
    shape = spec["dataset"]["input_shape"]
    if len(shape) not in (1, 3) or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        raise FpgaflowError(f"dataset.input_shape: expected [channels, height, width] or [features] of positive ints, "
                            f"got {shape}")
    if spec["dataset"]["format"] == "npz" and not spec["dataset"]["path"]:
        raise FpgaflowError("dataset.path: an npz dataset names its file")
    for key, segment in spec["host"].items():
        if segment["file"] is not None and (Path(segment["file"]).name != segment["file"]
                                            or not segment["file"].endswith(".onnx")):
            raise FpgaflowError(f"host.{key}.file: {segment['file']!r} must be an .onnx file in the design's folder")
    if spec["host"]["head"]["file"] and not spec["host"]["head"]["input_shape"]:
        raise FpgaflowError("host.head.input_shape: a host head names the shape the data come in")
    q = spec["quant"]["input"]
    if q["scale"] is not None and q["scale"] <= 0:
        raise FpgaflowError(f"quant.input.scale: {q['scale']} must be positive")
    if q["scale"] is not None and (q["min"] is None or q["max"] is None or q["min"] >= q["max"]):
        raise FpgaflowError(f"quant.input: a scale needs integer min < max, got min {q['min']}, max {q['max']}")
    if not spec["layers"]:
        raise FpgaflowError("layers: at least one layer is needed")
    layers, counts = [], {}
    for i, layer in enumerate(spec["layers"]):
        where = f"layers[{i}]"
        kind = layer.get("type") if isinstance(layer, dict) else None
        if kind not in LAYER_SCHEMAS:
            raise FpgaflowError(f"{where}.type: unsupported layer {kind!r} (supported: {', '.join(LAYER_SCHEMAS)})")
        supported = FRAMEWORKS[spec["framework"]].layer_types
        if kind not in supported:  # refused here, not halfway through training
            raise FpgaflowError(f"{where}.type: {spec['framework']} designs have no {kind!r} layer "
                                f"(supported: {', '.join(supported)})")
        layer = _apply(LAYER_SCHEMAS[kind], layer, where)
        if kind in WEIGHTED:
            counts[kind] = counts.get(kind, 0) + 1
            layer["name"] = layer["name"] or f"{WEIGHTED[kind]}{counts[kind]}"
        layers.append({k: v for k, v in layer.items() if v is not None})
    spec["layers"] = layers
    check_graph(spec)
    last = layers[-1]
    if last["type"] != "dense" or last.get("activation") != "none" or last["units"] != spec["dataset"]["num_classes"]:
        raise FpgaflowError("layers: the last layer must be dense with units = num_classes and activation: none "
                            "(the compared output is the pre-softmax logits)")
    part_capacity(spec["target"]["part"])  # an unknown part is refused at load, naming the key
    _check_prune(spec, layers)
    _check_reuse(spec, layers)
    _check_budget(spec["budget"])
    return spec


def _check_prune(spec, layers):
    prune = spec["prune"]
    if prune["sparsity"] == 0:
        return
    if not FRAMEWORKS[spec["framework"]].scaled_training:
        raise FpgaflowError(f"prune: pruning trains Brevitas designs only (this design's framework is {spec['framework']})")
    if prune["end"] <= prune["start"]:
        raise FpgaflowError(f"prune.end: {prune['end']} must come after prune.start {prune['start']}")
    if prune["kind"] == "channel" and not any(l["type"] in CHANNEL_PRUNABLE for l in layers[:-1]):
        raise FpgaflowError("prune.kind: channel pruning needs a conv or dense layer before the last "
                            "(the last layer's outputs are the classes and stay)")


BUDGET_RESOURCES = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")  # fractions of the part's capacity
BUDGET_TIMES = ("latency_us", "interval_us")


def _check_budget(budget: dict) -> None:
    for key, value in budget.items():
        where = f"budget.{key}"
        if key not in BUDGET_RESOURCES + BUDGET_TIMES:
            raise FpgaflowError(f"{where}: unknown budget (allowed: {', '.join(BUDGET_RESOURCES + BUDGET_TIMES)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise FpgaflowError(f"{where}: expected a positive number, got {value!r}")
        if key in BUDGET_RESOURCES and value > 1:
            raise FpgaflowError(f"{where}: {value} is a fraction of the part's {key} (0 < x <= 1), e.g. 0.7 for 70%")


def _check_reuse(spec, layers):
    rf = spec["hls4ml"]["reuse_factor"]
    if isinstance(rf, str) and rf != "auto":
        raise FpgaflowError(f"hls4ml.reuse_factor: expected 'auto', an int or a mapping layer -> int, got {rf!r}")
    if isinstance(rf, int) and rf < 1:
        raise FpgaflowError(f"hls4ml.reuse_factor: {rf} must be >= 1")
    if isinstance(rf, dict):
        names = [l["name"] for l in layers if l["type"] in WEIGHTED]
        for k, v in rf.items():
            if k not in names:
                raise FpgaflowError(f"hls4ml.reuse_factor.{k}: no such weighted layer (layers: {', '.join(names)})")
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise FpgaflowError(f"hls4ml.reuse_factor.{k}: expected a positive int, got {v!r}")


@dataclass(frozen=True)
class Design:
    name: str
    dir: Path
    spec: dict

    @property
    def framework(self) -> Framework:
        return framework(self.spec["framework"])

    @property
    def weights(self) -> Path:
        return self.dir / self.framework.weights_file

    def with_target(self, fps: int | None, latency_us: float | None = None, part: str | None = None) -> "Design":
        """The design with target.fps / target.latency_us / target.part set (command-line overrides),
        checked like the file's values."""
        spec = copy.deepcopy(self.spec)
        if part is not None:
            part_capacity(part)   # a part fpgaflow knows, or one line naming the known ones
            spec["target"]["part"] = part
        for key, value, flag, low in (("fps", fps, "--target-fps", 1), ("latency_us", latency_us, "--target-latency-us",
                                                                        SCHEMA["target"]["latency_us"]["min"])):
            if value is None:
                continue
            if isinstance(value, bool) or value < low:
                raise FpgaflowError(f"{flag} {value}: expected a positive number (at least {low})")
            spec["target"][key] = value
        return Design(self.name, self.dir, spec)

    def target_fps(self) -> int:
        """Frames per second the hardware is folded for: target.fps, else finn.target_fps."""
        return self.spec["target"]["fps"] or self.spec["finn"]["target_fps"]


def designs_root() -> Path:
    env = os.environ.get("FPGAFLOW_DESIGNS")
    if env:
        return Path(env)
    if Path("designs").is_dir():
        return Path("designs").resolve()
    return Path(__file__).resolve().parents[2] / "designs"


def list_designs() -> list[str]:
    root = designs_root()
    return sorted(p.parent.name for p in root.glob("*/design.yaml")) if root.is_dir() else []


def load_design(name: str) -> Design:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise FpgaflowError(f"invalid design name {name!r}: use lower-case letters, digits and '_' (no paths)")
    path = designs_root() / name / "design.yaml"
    if not path.is_file():
        known = ", ".join(list_designs()) or "none"
        raise FpgaflowError(f"unknown design '{name}' (known designs: {known})")
    return Design(name, path.parent, load_spec_file(path, expect_name=name))


def load_spec_file(path: Path, expect_name: str | None = None) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise FpgaflowError(f"{path}: malformed YAML{at}: {getattr(e, 'problem', e)}") from None
    try:
        spec = validate(data)
    except FpgaflowError as e:
        raise FpgaflowError(f"{path}: {e}") from None
    if expect_name and spec["name"] != expect_name:
        raise FpgaflowError(f"{path}: name: {spec['name']!r} does not match its folder '{expect_name}'")
    return spec
