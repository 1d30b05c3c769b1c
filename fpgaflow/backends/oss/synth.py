"""`fpgaflow synth-oss`: open-source logic synthesis of a dense layer of a trained design.

da4ml turns the layer (integer weights and bias of the trained Brevitas model) into a fully
unrolled adder graph and emits Verilog; Yosys (`synth_xilinx`, `stat -json`) maps it to
Xilinx primitives; fpgaflow's report schema reads the result. Before any Verilog is written
the adder graph is run (da4ml's interpreter) on the layer's real inputs, the integer
activations of test images, and must equal the integer matrix product exactly.

Artefact: build/<design>/oss/<layer>/ with src/ (Verilog), yosys_stat.json, yosys.log,
synth_oss.json. Only dense layers: a convolution unrolled over every pixel is not a kernel
this flow can hold, and a layer above MAX_WEIGHTS weights would take Yosys hours.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from ...core.atomic import atomic_dir, atomic_write_text
from ...core.errors import FpgaflowError
from ...core.layers import weighted
from ...core.spec import Design

MAX_WEIGHTS = 20000
# Yosys' synth_xilinx families by part prefix (UltraScale+ parts start with xczu/xcvu..p/xcku..p,
# Alveo cards with xcu)
FAMILIES = (("xczu", "xcup"), ("xcvu", "xcup"), ("xcku", "xcup"), ("xcu", "xcup"), ("xc7", "xc7"))


def family(part: str) -> str:
    return next((f for prefix, f in FAMILIES if part.startswith(prefix)), "xc7")


def _layer(design: Design, name: str | None):
    layers = weighted(design.spec)
    dense = [l for l in layers if l.type == "dense"]
    if not dense:
        raise FpgaflowError(f"{design.name} has no dense layer; synth-oss synthesizes dense layers")
    chosen = next((l for l in layers if l.name == name), None) if name else dense[-1]
    if chosen is None:
        raise FpgaflowError(f"--layer {name}: no such layer in {design.name} (weighted layers: "
                            f"{', '.join(l.name for l in layers)})")
    if chosen.type != "dense":
        raise FpgaflowError(f"--layer {name}: synth-oss takes dense layers; {name} is a {chosen.type}")
    return chosen, layers.index(chosen), chosen.in_bits


def integer_layer(design: Design, index: int, n_images: int):
    """(weights, bias, inputs) of the index-th weighted Brevitas layer as integers; inputs are
    that layer's integer input activations for the first n test images."""
    import torch

    from ...core.data import design_images
    from ...frontends.brevitas.model import quantized_params, trained_model

    model = trained_model(design)
    _, w, b, x = quantized_params(model, torch.from_numpy(design_images(design, "test", n_images)[0]))[index]
    as_int = lambda t, s: (t / s).round().detach().numpy().astype(np.int64)  # noqa: E731
    return as_int(w.value, w.scale), as_int(b.value, b.scale), as_int(x.value, x.scale)


def synth_oss(design: Design, build_root: Path, layer: str | None = None, n_images: int = 200) -> dict:
    if design.framework.name != "brevitas":
        raise FpgaflowError(f"synth-oss takes Brevitas designs; {design.name} is {design.framework.name}")
    yosys = shutil.which("yosys")
    if yosys is None:
        raise FpgaflowError("yosys not found on PATH: `apt-get install yosys` (Debian's 0.23 works; `make tools` "
                            "installs it where it can), then run synth-oss again")
    try:
        from da4ml.codegen import VerilogModel
        from da4ml.trace import FixedVariableArrayInput, comb_trace
        from da4ml.trace.ops import quantize
    except ImportError:
        raise FpgaflowError("synth-oss needs da4ml: run `make venv` (the `oss` extra)") from None
    chosen, index, in_bits = _layer(design, layer)
    w, b, x = integer_layer(design, index, n_images)
    if w.size > MAX_WEIGHTS:
        raise FpgaflowError(f"layer {chosen.name} has {w.size} weights; a fully unrolled kernel above {MAX_WEIGHTS} "
                            f"is beyond what synth-oss builds (pick a smaller layer with --layer)")
    if x.min() < 0 or x.max() >= 2 ** in_bits:
        raise FpgaflowError(f"layer {chosen.name}: inputs outside unsigned {in_bits} bits ({x.min()}..{x.max()})")
    name = chosen.name
    t0 = time.time()
    inputs = FixedVariableArrayInput(w.shape[1])
    comb = comb_trace(inputs, quantize(inputs, 0, in_bits, 0) @ w.T.astype(np.float32) + b.astype(np.float32))
    expected = x @ w.T + b
    got = comb.predict(x.astype(np.float64))
    if not np.array_equal(got, expected):
        raise FpgaflowError(f"da4ml's adder graph for {name} differs from the integer layer on "
                            f"{int((got != expected).any(axis=1).sum())} of {len(x)} images")
    part, clock = design.spec["target"]["part"], design.spec["target"]["clock_ns"]
    final = Path(build_root) / design.name / "oss" / name
    with atomic_dir(final) as tmp:
        VerilogModel(comb, name, tmp, latency_cutoff=clock, print_latency=False, part_name=part,
                     clock_period=clock).write()
        sources = sorted((tmp / "src").glob("*.v")) + sorted(
            p for p in (tmp / "src" / "static").glob("*.v") if p.name != "lookup_table.v" or comb.lookup_tables)
        script = (f"read_verilog {' '.join(str(p.relative_to(tmp)) for p in sources)}; "
                  f"synth_xilinx -family {family(part)} -top {name} -flatten -noiopad; "
                  f"tee -q -o yosys_stat.json stat -json")
        atomic_write_text(tmp / "yosys.ys", script.replace("; ", "\n") + "\n")
        t1 = time.time()
        with open(tmp / "yosys.log", "w") as log:
            rc = subprocess.run([yosys, "-q", "-s", "yosys.ys"], cwd=tmp, stdout=log, stderr=subprocess.STDOUT).returncode
        if rc != 0:
            tail = (tmp / "yosys.log").read_text()[-1500:]
            raise FpgaflowError(f"yosys failed (exit {rc}) on {name}:\n{tail}")
        manifest = {"design": design.name, "layer": name, "weights": list(w.shape), "input_bits": in_bits,
                    "part": part, "yosys_family": family(part), "clock_ns": clock,
                    "adder_graph_check": {"n": len(x), "exact": int(len(x) - (got != expected).any(axis=1).sum())},
                    "trace_seconds": round(t1 - t0, 1), "yosys_seconds": round(time.time() - t1, 1),
                    "nextpnr": "not run: nextpnr has no open device model of Xilinx UltraScale+ / 7-series parts"}
        atomic_write_text(tmp / "synth_oss.json", json.dumps(manifest, indent=2) + "\n")
    return manifest
