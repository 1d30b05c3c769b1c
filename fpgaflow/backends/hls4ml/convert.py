"""Exported model -> hls4ml: a complete Vitis/Vivado HLS project in build/<design>/hls4ml/.

One front end per framework reads the export stage's artefact: QONNX (Brevitas), prepared
by a list of qonnx transformations (each small and testable) for hls4ml's ONNX front end,
or the Keras file (QKeras) for hls4ml's Keras front end. Both use per-layer 'auto'
precisions (hls4ml infers exact accumulator widths from the quantizers). Reuse factors and
strategies come from the folding for the design's target (fold.py: `reuse_factor: auto`) or,
given explicitly, from reuse.py's rule; the manifest records the layers, the cost model's
records and estimate, and the folding's result. The project is written into a temporary
folder and renamed into place only when complete.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

from ...core.atomic import atomic_dir
from ...core.data import design_images, flat_hwc
from ...core.errors import FpgaflowError
from ...core.layers import weighted
from ...core.parts import part_capacity
from ...core.spec import Design
from ...core.vectors import write_dat
from .cost import as_dicts, estimate, from_dicts, load_model
from .prepare import exact_average_types, exact_batchnorm_types, exact_global_average_types, prepare
from .records import records_from_hls_model
from .reuse import choose_reuse, multipliers

PREPARED_NAME = "model.hls4ml.onnx"
MANIFEST = "fpgaflow.json"


class QonnxFront:
    """Brevitas designs: the QONNX export, prepared for hls4ml's ONNX front end. hls4ml's
    'auto' precisions take every width from the Quant nodes, the input's included."""

    weighted = ("Conv", "MatMul")  # hls4ml layer classes holding a weight matrix

    def __init__(self, design: Design, export_dir: Path):
        from ...frontends.qonnx.model import QONNX_NAME

        path = export_dir / QONNX_NAME
        if not path.is_file():
            raise FpgaflowError(f"{path} not found: export the design first (`fpgaflow hls {design.name}` does)")
        self.model = prepare(path)

    def parse(self, backend: str) -> tuple[list[dict], dict]:
        import hls4ml

        hls_layers, _, _ = hls4ml.converters.parse_onnx_model(self.model.model)
        config = hls4ml.utils.config_from_onnx_model(self.model.model, granularity="name", backend=backend)
        for name, precision in exact_average_types(self.model).items():
            config["LayerName"][name]["Precision"]["result"] = precision
        for name, types in exact_batchnorm_types(self.model).items():
            config["LayerName"][name]["Precision"].update(types)
        return hls_layers, config

    def convert(self, **kwargs):
        import hls4ml

        return hls4ml.converters.convert_from_onnx_model(self.model.model, **kwargs)

    def save(self, folder: Path) -> None:
        self.model.save(str(folder / PREPARED_NAME))


def input_type(spec: dict) -> str:
    """The input's fixed-point type: the model's input quantizer's grid (imported models), else
    pixel / 2^input_bits, ufixed<input_bits,0>. Both hold every input value exactly."""
    q = spec["quant"]["input"]
    if q["scale"] is None:
        return f"ufixed<{spec['quant']['input_bits']},0>"
    frac = -int(round(math.log2(q["scale"])))
    signed = q["min"] < 0
    width = max(abs(q["min"]), q["max"]).bit_length() + int(signed)
    return f"{'fixed' if signed else 'ufixed'}<{width},{width - frac}>"


class KerasFront:
    """QKeras designs: the exported Keras model through hls4ml's Keras front end, precisions
    from the quantizers; the input layer is declared on the input's grid (input_type)."""

    weighted = ("QConv2D", "QDense", "Conv2D", "Dense")

    def __init__(self, design: Design, export_dir: Path):
        from ...frontends.qkeras.export import KERAS_NAME
        from ...frontends.qkeras.model import load_exported

        path = export_dir / KERAS_NAME
        if not path.is_file():
            raise FpgaflowError(f"{path} not found: export the design first (`fpgaflow hls {design.name}` does)")
        self.model = load_exported(path)
        self.input_type = input_type(design.spec)

    def parse(self, backend: str) -> tuple[list[dict], dict]:
        import hls4ml

        supported = set(hls4ml.converters.get_supported_keras_layers())
        for layer in self.model.layers:
            kind = type(layer).__name__
            if kind not in supported:
                raise FpgaflowError(f"layer '{layer.name}' ({kind}) is not supported by hls4ml's Keras front end")
        config = hls4ml.utils.config_from_keras_model(self.model, granularity="name", backend=backend)
        # the input layer (a Sequential model's `layers` leaves it out: its first layer may be a QDense)
        first = self.model._input_layers[0].name
        config["LayerName"][first if first in config["LayerName"] else self.model.layers[0].name]["Precision"][
            "result"] = self.input_type
        for name, precision in exact_global_average_types(self.model).items():
            config["LayerName"][name]["Precision"].update(precision)
        return [{"name": l.name, "class_name": type(l).__name__} for l in self.model.layers], config

    def convert(self, **kwargs):
        import hls4ml

        return hls4ml.converters.convert_from_keras_model(self.model, **kwargs)

    def save(self, folder: Path) -> None:
        pass  # the Keras file in export/ is the model; hls4ml reads it as is


CONV_KEYS = ("filt_height", "n_chan", "n_filt", "in_height", "stride_height")  # of hls4ml's parsed Conv


def _signature(layer) -> tuple | None:
    """What tells a conv from the others: kernel, channels in and out, input height, stride."""
    if layer.type == "dense":
        return None
    return (layer.get("kernel"), layer.in_shape[0], layer.out_shape[0], layer.in_shape[1], layer.get("stride", 1))


def weighted_layers(spec: dict, hls_layers: list[dict], weighted_classes=QonnxFront.weighted) -> list[dict]:
    """Pair the design's weighted layers (as deployed) with hls4ml's weighted layers: in a chain
    both orders agree; in a graph hls4ml may order the branches otherwise, so a conv pairs with
    the first unpaired one of its shape (where hls4ml's parse gives shapes)."""
    ours = weighted(spec)
    theirs = [l for l in hls_layers if l["class_name"] in weighted_classes]
    if len(ours) != len(theirs):
        raise FpgaflowError(f"hls4ml sees {len(theirs)} weighted layers, the design has {len(ours)}")
    free, pairs = list(theirs), []
    for l in ours:
        sig = _signature(l)
        h = next((h for h in free if sig is None or not all(k in h for k in CONV_KEYS)
                  or tuple(h[k] for k in CONV_KEYS) == sig), None)
        if h is None:
            raise FpgaflowError(f"no hls4ml layer has the shape of {l.name} (kernel, channels, height, stride {sig})")
        free.remove(h)
        pairs.append((l, h))
    return [{"name": l.name, "hls4ml": h["name"], "n_in": l.matrix[0], "n_out": l.matrix[1], "weight_bits": l.weight_bits,
             "evaluations": l.evaluations} for l, h in pairs]


def convert(design: Design, build_root: Path, reference_fn, log=print) -> Path:
    """Write build/<design>/hls4ml from the design's export in build/<design>/export/."""
    spec, opts = design.spec, design.spec["hls4ml"]
    build = Path(build_root) / design.name
    front = design.framework.fn("hls4ml_front")(design, build / "export")
    export_info = json.loads((build / "export" / "export.json").read_text())
    capacity = part_capacity(spec["target"]["part"])
    layers, config = _configure(design, front, capacity["DSP"])
    fit = _fold(design, front, config, layers) if opts["reuse_factor"] == "auto" else None
    x, _ = design_images(design, "test", opts["tb_images"])
    y = reference_fn(x)

    final = build / "hls4ml"
    with atomic_dir(final) as tmp:
        tb_in, tb_out = tmp / "tb_input.dat", tmp / "tb_output.dat"
        write_dat(tb_in, flat_hwc(x))  # channels last, as the HLS input
        write_dat(tb_out, y)
        front.save(tmp)
        hls_model = _hls_model(design, front, config, tmp, input_data_tb=str(tb_in), output_data_tb=str(tb_out))
        tb_in.unlink()
        tb_out.unlink()
        _check_written(hls_model, layers)
        _retarget_paths(tmp, final)
        manifest = _manifest(design, hls_model, layers, capacity["DSP"], len(x), export_info["weights_sha256"])
        manifest["fit"] = _fit_json(fit)
        manifest["estimate"] = _estimate(manifest, capacity["DSP"])
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return final


def _hls_model(design: Design, front, config: dict, folder: Path, write: bool = True, **testbench):
    """hls4ml's model of the design (written into `folder` unless write=False)."""
    spec, opts = design.spec, design.spec["hls4ml"]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            hls_model = front.convert(
                output_dir=str(folder), project_name=opts["project_name"], io_type=opts["io_type"],
                backend=opts["backend"], hls_config=config, part=spec["target"]["part"],
                clock_period=spec["target"]["clock_ns"], **testbench)
            if write:
                hls_model.config.trace_output = True  # what hls4ml's own trace() sets
                hls_model.write()
    except Exception as e:
        raise FpgaflowError(f"hls4ml conversion of {design.name} failed: {e}") from None
    return hls_model


def _matching(layers: list[dict], hls_name: str) -> dict | None:
    """Our layer behind an hls4ml layer: hls4ml renames MatMul+Add to Dense_<name>, Conv to Conv2D_<name>."""
    return next((l for l in layers if hls_name == l["hls4ml"] or hls_name.endswith("_" + l["hls4ml"])), None)


def _fold(design: Design, front, config: dict, layers: list[dict]):
    """Reuse factors and strategies for the design's target (fold.py; target.fps, else the
    default 10,000 frames/s), set in `config` and `layers`; the design's hls4ml model is
    converted once, unwritten, to read its layers."""
    import tempfile

    import hls4ml

    from .fold import fit_to_target

    with tempfile.TemporaryDirectory() as tmp:
        model = _hls_model(design, front, config, Path(tmp), write=False)
    valid = hls4ml.backends.get_backend(design.spec["hls4ml"]["backend"])._validate_reuse_factor
    folded, fit = fit_to_target(records_from_hls_model(model, design.spec["hls4ml"]["io_type"]), design, valid)
    for r in folded:
        l = _matching(layers, r.name) if r.kind == "weighted" else None
        if l is None:
            continue
        l.update(reuse_factor=r.rf, strategy=r.strategy.capitalize(),
                 multipliers=multipliers(l["n_in"], l["n_out"], r.rf))
        config["LayerName"][l["hls4ml"]].update(ReuseFactor=r.rf, Strategy=l["strategy"])
    return fit


def _estimate(manifest: dict, part_dsp: int) -> dict:
    """The cost model's estimate of the project as written (per layer and totals), with the
    model's measured error, for the report (reports/estimate.py reads it from the manifest)."""
    model = load_model()
    e = estimate(from_dicts(manifest["records"]), model, part_dsp)
    e["error"] = {q: {k: v for k, v in s.items() if k != "per_design"} for q, s in model["error"].items()}
    return e


def _fit_json(fit) -> dict | None:
    if fit is None:
        return None
    return {"target_fps": fit.target_fps, "target_cycles_per_frame": fit.target_cycles, "interval_cycles": fit.max_cycles,
            "fps": round(fit.fps, 1), "latency_cycles": fit.latency_cycles, "latency_us": round(fit.latency_us, 2),
            "bottleneck": fit.bottleneck, "resources": fit.resources, "budget": fit.budget, "available": fit.available,
            "source": fit.source}


def _configure(design: Design, front, dsp: int) -> tuple[list[dict], dict]:
    """hls4ml's per-layer config for the design: strategy, reuse factors (reuse.py's
    rule within the part's DSPs), trace hooks; and the weighted layers with their choices."""
    import hls4ml

    opts = design.spec["hls4ml"]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            hls_layers, config = front.parse(opts["backend"])
    except Exception as e:  # hls4ml raises bare Exception for unsupported layers
        raise FpgaflowError(f"hls4ml cannot convert {design.name}: {e}") from None
    layers = weighted_layers(design.spec, hls_layers, front.weighted)
    backend = hls4ml.backends.get_backend(opts["backend"])
    reuse = choose_reuse([(l["name"], l["n_in"], l["n_out"]) for l in layers], dsp,
                         opts["reuse_factor"], backend._validate_reuse_factor)
    config["Model"]["Strategy"] = opts["strategy"]
    # trace hooks sit under #ifndef __SYNTHESIS__ and return at once unless enabled, so the
    # synthesized design is unchanged; triage uses them to find the first differing layer
    for layer_cfg in config["LayerName"].values():
        layer_cfg["Trace"] = True
    for l in layers:
        l["reuse_factor"] = reuse[l["name"]]
        l["strategy"] = opts["strategy"]
        l["multipliers"] = multipliers(l["n_in"], l["n_out"], l["reuse_factor"])
        layer_cfg = config["LayerName"][l["hls4ml"]]
        layer_cfg["ReuseFactor"] = l["reuse_factor"]
        layer_cfg["Strategy"] = opts["strategy"]
    return layers, config


def _check_written(hls_model, layers: list[dict]) -> None:
    """hls4ml kept every reuse factor asked for; count the zero weights of what it wrote."""
    for h in hls_model.get_layers():
        # only layers holding weights: a padded conv gains a zero-padding layer of a similar name
        l = _matching(layers, h.name) if "weight" in h.weights else None
        if l is None:
            continue
        if h.get_attr("reuse_factor") != l["reuse_factor"]:
            raise FpgaflowError(f"hls4ml changed the reuse factor of {l['name']} to {h.get_attr('reuse_factor')}")
        _count_zeros(l, h, l["strategy"])


def _manifest(design: Design, hls_model, layers: list[dict], dsp: int, tb_images: int, weights_sha256: str) -> dict:
    import hls4ml

    spec, opts = design.spec, design.spec["hls4ml"]
    traced = [{"name": l.name, "class": l.class_name, "activation": l.get_attr("activation"),
               "shape": list(l.get_output_variable().shape), "type": l.get_output_variable().type.name,
               "precision": str(l.get_output_variable().type.precision)}
              for l in hls_model.get_layers() if l.get_attr("function_cpp") and l.get_attr("trace")]
    return {
        "design": design.name,
        "backend": "hls4ml",
        "hls4ml_version": hls4ml.__version__,
        "hls4ml_backend": opts["backend"],
        "project_name": opts["project_name"],
        "io_type": opts["io_type"],
        "strategy": opts["strategy"],
        "part": spec["target"]["part"],
        "clock_ns": spec["target"]["clock_ns"],
        "part_dsp": dsp,
        "input_shape_hwc": _hwc(spec["dataset"]["input_shape"]),
        "n_outputs": spec["dataset"]["num_classes"],
        "layers": layers,
        "records": as_dicts(records_from_hls_model(hls_model, opts["io_type"])),   # what the cost model reads
        "total_multipliers": sum(l["multipliers"] for l in layers),
        "tb_images": int(tb_images),
        "traced_layers": traced,
        "weights_sha256": weights_sha256,
    }


def _hwc(shape: list[int]) -> list[int]:
    """The input's shape as the HLS project streams it: [H, W, C] for an image, [F] for a vector."""
    return [shape[1], shape[2], shape[0]] if len(shape) == 3 else list(shape)


def _count_zeros(layer: dict, hls_layer, strategy: str) -> None:
    """The multiplications the generated project performs: hls4ml counts a layer's zero weights
    (n_zeros in parameters.h). With the Latency strategy the weights are constants in unrolled
    code, HLS drops products by zero and hls4ml caps the multipliers at ceil(n/R) - n_zeros/R;
    with Resource they sit in a memory and every slot still costs its multiplier."""
    n = layer["n_in"] * layer["n_out"]
    zeros = int(hls_layer.get_weights("weight").nzeros)
    layer["zero_weights"] = zeros
    layer["multiplications"] = (n - zeros) * layer.get("evaluations", 1)
    if strategy == "Latency":
        layer["multipliers"] = multipliers(layer["n_in"], layer["n_out"], layer["reuse_factor"]) - zeros // layer["reuse_factor"]


def _retarget_paths(tmp: Path, final: Path) -> None:
    """hls4ml records its output folder in the config; point it at the final location."""
    cfg = tmp / "hls4ml_config.yml"
    if cfg.exists():
        cfg.write_text(cfg.read_text().replace(str(tmp), str(final.resolve())))


def read_manifest(project: Path) -> dict:
    path = Path(project) / MANIFEST
    if not path.is_file():
        raise FpgaflowError(f"no complete hls4ml project at {project} (run `fpgaflow hls <design>` first)")
    return json.loads(path.read_text())
