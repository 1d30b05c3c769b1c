"""`fpgaflow import MODEL --name NAME --data DATA`: a design folder from a user's model file.

The folder (design.yaml saying where the model came from, the model file, metrics.json with
the test accuracy the imported model reaches as fpgaflow runs it) is written to a temporary
sibling and renamed into place only when every check passed, so a refused import leaves no
folder. The model is read before anything is written: not a model, a model without
quantization, data that disagree with it, each is one line.
"""
from __future__ import annotations

import datetime
import json
import os
from importlib import import_module
from pathlib import Path

import numpy as np
import yaml

from ..core.atomic import atomic_dir
from ..core.errors import FpgaflowError
from ..core.hashing import sha256
from ..core.spec import NAME_RE, Design, designs_root, validate
from . import FORMATS
from .input_grid import declare
from .rows import UNQUANTIZED_INPUT


def detect(path: Path) -> str:
    for fmt in FORMATS.values():
        if path.name.lower().endswith(fmt.suffixes):
            return fmt.name
    head = path.read_bytes()[:8] if path.is_file() else b""
    if head.startswith(b"\x89HDF"):
        return "keras"
    known = ", ".join(s for f in FORMATS.values() for s in f.suffixes)
    raise FpgaflowError(f"{path}: not a model file fpgaflow imports (known: {known}: QONNX or a QKeras model)")


def _dataset(data: Path, folder: Path, analysis) -> tuple[dict, list[np.ndarray]]:
    """The dataset entry, after checking the data against the model (shapes, labels): one .npz,
    or a folder of MNIST-format IDX files (pixel / 255, as torchvision's ToTensor reads them);
    and the samples of both splits."""
    from ..core.data import PIXEL_DIVISOR, idx_samples
    from ..core.npz import as_labels, load_npz_split

    shape = analysis.data_shape or analysis.input_shape
    entry, samples = {"name": data.stem, "format": "idx" if data.is_dir() else "npz"}, []
    for split in ("train", "test"):
        if data.is_dir():
            x, labels = idx_samples(data, split, shape, PIXEL_DIVISOR)
            as_labels(labels, len(x), analysis.num_classes, f"{data} {split} labels")
        else:
            x, _ = load_npz_split(data, split, shape, analysis.num_classes)
        samples.append(x)
    if data.is_dir():
        entry["pixel_divisor"] = PIXEL_DIVISOR
    root = designs_root().parent
    absolute = data.resolve()
    path = os.path.relpath(absolute, folder) if absolute.is_relative_to(root) else str(absolute)
    return {**entry, "path": path, "input_shape": analysis.input_shape, "num_classes": analysis.num_classes}, samples


def _spec(name: str, fmt, path: Path, digest: str, dataset: dict, analysis, description: str | None) -> dict:
    q = analysis.input_quant
    if q is None:
        raise FpgaflowError(f"{path}: the model's input is not quantized by a per-tensor quantizer; fpgaflow feeds "
                            f"the hardware integers: add an input quantizer (Brevitas QuantIdentity, QKeras "
                            f"QActivation(quantized_bits(...))) as the model's first layer")
    bits = [l["weight_bits"] for l in analysis.layers if "weight_bits" in l]
    acts = [l["act_bits"] for l in analysis.layers if "act_bits" in l]
    common = lambda xs, default: max(set(xs), key=xs.count) if xs else default  # noqa: E731
    return {
        "name": name,
        "description": description or f"imported from {path.name}",
        "framework": fmt.framework,
        "source": {"file": str(path), "format": fmt.name, "sha256": digest,
                   "imported": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
        "dataset": dataset,
        "quant": {"input_bits": q["bits"], "weight_bits": common(bits, 4), "act_bits": common(acts, 4),
                  "input": {k: q[k] for k in ("scale", "min", "max", "rounding", "origin") if k in q}},
        "layers": analysis.layers,
        "hls4ml": {"project_name": name},
        "host": analysis.host,
    }


def import_model(model: str, name: str, data: str, force: bool = False, description: str | None = None,
                 input_bits: int | None = None, input_int_bits: int | None = None, log=print) -> Path:
    from ..core.data import design_images
    from ..frontends import framework
    from ..verify.final import final_outputs
    from ..verify.references import cpu_reference

    if not isinstance(name, str) or not NAME_RE.match(name):
        raise FpgaflowError(f"--name {name!r}: use lower-case letters, digits and '_' (a design name, not a path)")
    final = designs_root() / name
    if final.exists() and not force:
        raise FpgaflowError(f"design '{name}' exists ({final}): choose another --name, or pass --force to replace it")
    path, data_path = Path(model).expanduser(), Path(data).expanduser()
    if not path.is_file():
        raise FpgaflowError(f"model file not found: {path}")
    fmt = FORMATS[detect(path)]
    analysis, write = getattr(import_module(fmt.read.split(":")[0]), fmt.read.split(":")[1])(path)
    # the model first: an unquantized input may still get a grid from the data (below)
    _refuse_unmapped(analysis, path, but=UNQUANTIZED_INPUT if fmt.declares_input else None)
    dataset, samples = _dataset(data_path, final, analysis)
    if analysis.input_unquantized() and fmt.declares_input:
        analysis.declare_input(declare(np.concatenate(samples), input_bits, input_int_bits, data))
    elif input_bits is not None or input_int_bits is not None:
        raise FpgaflowError(f"--input-bits/--input-int-bits: {path.name} quantizes its input itself (its grid is used)"
                            if not analysis.input_unquantized() else
                            f"--input-bits/--input-int-bits: {fmt.name} models take no declared input grid")
    _refuse_unmapped(analysis, path)
    with atomic_dir(final) as tmp:
        model_file = write(tmp)
        spec = _spec(name, fmt, path, sha256(model_file), dataset, analysis, description)
        try:
            spec = validate(spec)
        except FpgaflowError as e:
            raise FpgaflowError(f"{path}: the model as fpgaflow reads it is not a design it can build: {e}") from None
        spec["source"]["sha256"] = sha256(model_file)
        for segment in spec["host"].values():
            if segment["file"]:
                segment["sha256"] = sha256(tmp / segment["file"])
        design = Design(name, tmp, spec)
        if design.weights != model_file:
            model_file.replace(design.weights)
        x, labels = design_images(design, "test")
        logits = final_outputs(design, cpu_reference(design)(x))
        if analysis.whole is not None:
            _same_as_model(design, analysis.whole, logits, path)
        accuracy = float((logits.argmax(1) == labels).mean())
        (tmp / "design.yaml").write_text(
            f"# Imported with `fpgaflow import {path.name}`: the model file is the reference; fpgaflow does not\n"
            f"# train it. Layers and quant are read from the model (fpgaflow check {name} shows each node).\n"
            + yaml.safe_dump(_written(spec), sort_keys=False, default_flow_style=None, width=110))
        (tmp / "metrics.json").write_text(json.dumps({
            "design": name, "framework": spec["framework"], "test_accuracy": accuracy, "test_images": len(x),
            "measured_with": framework(spec["framework"]).references[0], "imported_from": str(path)}, indent=2) + "\n")
    log(f"imported {path} as {final} ({fmt.name}, {len(analysis.layers)} layers, {analysis.input_shape} -> "
        f"{analysis.num_classes} classes); test accuracy {accuracy:.4f} on {len(x)} samples of {data_path.name}")
    if "origin" in analysis.input_quant:
        log(f"  input grid (the model has no input quantizer): {analysis.input_quant['origin']}")
    if analysis.host:
        log(f"  runs as: {analysis.segments()}; host head, body and host tail in turn == the whole model on "
            f"{len(x)}/{len(x)} test samples")
    for b in analysis.backends:
        log(f"  {b}: {analysis.summary(b)}")
    return final


def _refuse_unmapped(analysis, path: Path, but: str | None = None) -> None:
    """One line naming the first node no backend maps (the row `but` left for later)."""
    bad = next((r for r in analysis.rows if r.node != but and not any(v.maps for v in r.verdicts.values())), None)
    if bad is not None:
        note = next(iter(bad.verdicts.values())).note
        raise FpgaflowError(f"{path}: node '{bad.node}' ({bad.op}) maps to no backend: {note}")


def _same_as_model(design, whole, outputs, path: Path) -> None:
    """The host head, the body (the reference) and the host tail, one after the other, give the
    uncut model's outputs on every test sample, or the import stops."""
    from ..core.data import raw_samples
    from ..core.npz import quantize_input

    x, _ = raw_samples(design, "test")
    if not design.spec["host"]["head"]["file"]:     # the data meet the model's input grid first
        x = quantize_input(x, design.spec["quant"]["input"])
    expected = whole(x)
    differs = int((expected != outputs).any(axis=1).sum())
    if differs:
        raise FpgaflowError(f"{path}: cut into host head, body and host tail it gives other outputs than the whole model "
                            f"on {differs} of {len(x)} test samples; fpgaflow cannot split this graph")


def _written(spec: dict) -> dict:
    """The spec as design.yaml keeps it: the sections import sets, defaults left out."""
    keep = ("name", "description", "framework", "source", "dataset", "quant", "layers", "hls4ml")
    out = {k: spec[k] for k in keep}
    host = {k: {f: v for f, v in s.items() if v is not None} for k, s in spec["host"].items() if s["file"]}
    if host:
        out["host"] = host
    out["dataset"] = {k: v for k, v in spec["dataset"].items() if v is not None}
    out["quant"] = {**spec["quant"], "input": {k: v for k, v in spec["quant"]["input"].items() if v is not None}}
    out["hls4ml"] = {"project_name": spec["hls4ml"]["project_name"]}
    return out
