"""The inference table: one design on every runtime this product reaches, side by side.

Rows: the framework's fp32 CPU inference (the QAT model, fake-quantized in float32), an int8
CPU runtime (ONNX Runtime's QLinearConv/QGemm kernels on a statically quantized copy),
the GPU reference where CUDA exists, hls4ml C-simulation, and the FPGA estimates of both
backends (latency = cycles x clock, throughput = 1 / (initiation interval x clock)).
Each row has its accuracy on the test images it ran; the rows that are bit-exact with the
reference carry the reference's accuracy by construction and say so.

The int8 model is ONNX Runtime's own 8-bit quantization (its calibration, uint8
activations, round to nearest) of the trained weights, not fpgaflow's 4-bit design: it is
what a CPU int8 deployment of this network would run, and its accuracy is measured, not
assumed equal.
"""
from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_dir
from ..core.spec import Design

INT8_NAME = "model.int8.onnx"
CALIBRATION_IMAGES = 1000
LATENCY_RUNS = 200


def _measure(predict, x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(accuracy, images/s over x in the predictor's batches, mean microseconds for one image).
    The accuracy pass also warms the runtime up, so the timed passes leave out one-time setup."""
    accuracy = float((predict(x).argmax(1) == y).mean())
    t = time.time()
    predict(x)
    rate = len(x) / max(time.time() - t, 1e-9)
    ones = x[:LATENCY_RUNS]
    t = time.time()
    for i in range(len(ones)):
        predict(ones[i:i + 1])
    return accuracy, round(rate, 1), round((time.time() - t) / len(ones) * 1e6, 1)


# the reference's row in the inference table, by the design's CPU reference
REFERENCE_TITLES = {"torch-cpu": "PyTorch fp32 (QAT model)", "tf-cpu": "TensorFlow fp32 (QAT model)",
                    "qonnx-cpu": "qonnx execution (imported)"}


def int8_model(design: Design, build_root: Path, calibration: np.ndarray) -> Path:
    """ONNX Runtime static int8 quantization (QOperator: QLinearConv, QGemm) of the float copy."""
    import torch
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    final = Path(build_root) / design.name / "int8"
    if (final / INT8_NAME).is_file():
        return final / INT8_NAME
    from ..frontends.brevitas.float_model import float_copy

    plain = float_copy(design)
    c, h, w = design.spec["dataset"]["input_shape"]

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": calibration[i:i + 50]} for i in range(0, len(calibration), 50)])

        def get_next(self):
            return next(self.batches, None)

    with atomic_dir(final) as tmp:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            torch.onnx.export(plain, torch.zeros(1, c, h, w), str(tmp / "model.float.onnx"), input_names=["x"],
                              output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, dynamo=False)
            quant_pre_process(str(tmp / "model.float.onnx"), str(tmp / "model.pre.onnx"))
            quantize_static(str(tmp / "model.pre.onnx"), str(tmp / INT8_NAME), Batches(),
                            quant_format=QuantFormat.QOperator, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8)
    return final / INT8_NAME


def ort_predictor(path: Path, threads: int, batch: int = 500):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def predict(x: np.ndarray) -> np.ndarray:
        return np.concatenate([session.run(None, {"x": x[i:i + batch]})[0] for i in range(0, len(x), batch)])

    return predict


def row(runtime: str, device: str, accuracy=None, n=None, images_per_s=None, latency_us=None, note: str = "") -> dict:
    return {"runtime": runtime, "device": device, "accuracy": accuracy, "n": n, "images_per_s": images_per_s,
            "latency_us": latency_us, "note": note}


def fpga_rows(design: Design, build_root: Path, hls_accuracy: dict | None, finn_accuracy: dict | None,
              unavailable: dict) -> list[dict]:
    from ..reports import parse

    clock, part = design.spec["target"]["clock_ns"], design.spec["target"]["part"]
    rows = [row(f"FPGA estimate, {name}", part, note=f"not built: {why}")
            for name, why in (("hls4ml", unavailable.get("hls4ml")), ("FINN", unavailable.get("finn"))) if why]
    sources = []
    if hls_accuracy is not None:
        sources.append(("FPGA estimate, hls4ml", Path(build_root) / design.name / "hls4ml" / "fpgaflow.json",
                        hls_accuracy, "fpgaflow's estimate (cost model calibrated on public Vivado reports)"))
    finn = Path(build_root) / design.name / "finn" / "estimates" / "estimate_layer_resources.json"
    if finn_accuracy is not None and finn.is_file():
        sources.append(("FPGA estimate, FINN", finn, finn_accuracy, "FINN's analytical estimate"))
    for runtime, path, acc, note in sources:
        r = parse(path)
        latency, interval = r["latency_cycles"]["best"], r["interval_cycles"]["min"]
        rows.append(row(runtime, design.spec["target"]["part"], acc["accuracy"], acc["n"],
                        round(1e9 / (interval * clock), 1) if interval else None,
                        round(latency * clock / 1000, 1) if latency else None,
                        f"{note}; accuracy of its bit-exact simulation ({acc['what']})"))
    if finn_accuracy is not None:
        rows += measured_rows(Path(build_root) / design.name / "finn", clock, part, finn_accuracy)
    return rows


def measured_rows(folder: Path, clock_ns: float, part: str, acc: dict) -> list[dict]:
    """The FINN accelerator's frames/s and latency from its RTL simulation's measured cycles, at the
    routed clock where `fpgaflow pnr` placed it (the design's clock otherwise, said to be assumed)."""
    from ..reports.review import placed_clock_ns
    from ..reports.schema import read_report

    if not (folder / "rtlsim.report.json").is_file():
        return []
    sim = read_report(folder / "rtlsim.report.json")
    interval, latency = sim["interval_cycles"]["min"], sim["latency_cycles"]["best"]
    if not interval:
        return []
    clock, device = clock_ns, part
    basis = f"the design's {clock_ns} ns clock, an assumption (not placed and routed)"
    if (folder / "pnr.report.json").is_file():
        pnr = read_report(folder / "pnr.report.json")
        clock, device = placed_clock_ns(pnr), pnr["part"]
        basis = (f"nextpnr-ecp5's routed clock on {pnr['part']}: {pnr['fmax_mhz']['achieved_mhz']} MHz, "
                 f"{'meets' if pnr['timing_met'] else 'misses'} the asked {pnr['fmax_mhz']['target_mhz']} MHz")
    return [row("FPGA RTL-measured, FINN", device, acc["accuracy"], acc["n"], round(1e9 / (interval * clock), 1),
                round(latency * clock / 1000, 1) if latency else None,
                f"cycles per frame and latency measured in Verilator ({sim['note'].split(';')[0]}); clock: {basis}")]


def inference_table(design: Design, build_root: Path, x: np.ndarray, y: np.ndarray, csim_result: dict | None,
                    finn_result: dict | None, workers: int, unavailable: dict | None = None) -> list[dict]:
    from ..core.data import design_images
    from ..verify.references import cpu_reference, gpu_reference

    fw = design.framework
    rows = []
    cpu = cpu_reference(design)
    acc, rate, lat = _measure(cpu, x, y)
    name = REFERENCE_TITLES[fw.references[0]]
    rows.append(row(name, "CPU", acc, len(x), rate, lat, "the reference: fake-quantized in float32"))
    if fw.name == "brevitas":
        path = int8_model(design, build_root, design_images(design, "train", CALIBRATION_IMAGES)[0])
        int8 = ort_predictor(path, workers)
        acc, rate, lat = _measure(int8, x, y)
        rows.append(row("ONNX Runtime int8", "CPU", acc, len(x), rate, lat,
                        "static int8 (QLinearConv/QGemm), ORT's own calibration on 1,000 training images"))
    else:
        rows.append(row("int8 runtime", "CPU", note="not measured: the int8 path is built for Brevitas designs"))
    gpu, why_not = gpu_reference(design)
    if gpu is None:
        rows.append(row(name, "GPU", note=f"not measured: {why_not}"))
    else:
        acc, rate, lat = _measure(gpu, x, y)
        rows.append(row(name, "GPU", acc, len(x), rate, lat))
    hls_acc = None
    if csim_result is not None:
        rows.append(row("hls4ml C-simulation", f"CPU, {csim_result['workers']} processes", csim_result["accuracy"],
                        csim_result["n"], csim_result["csim_images_per_s"], None,
                        f"bit-exact with the reference on {csim_result['exact']}/{csim_result['n']} images"))
        hls_acc = {"accuracy": csim_result["accuracy"], "n": csim_result["n"], "what": "hls4ml C-sim"}
    finn_acc = None if finn_result is None else {"accuracy": finn_result["accuracy"], "n": finn_result["n"],
                                                  "what": f"FINN stage {finn_result['stage']}"}
    return rows + fpga_rows(design, build_root, hls_acc, finn_acc, unavailable or {})


def format_table(name: str, rows: list[dict]) -> str:
    head = f"{name}: inference\n{'runtime':32s} {'device':22s} {'accuracy':>9s} {'n':>6s} {'images/s':>10s} {'latency us':>11s}  note"
    lines = [head]
    for r in rows:
        acc = "-" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f}%"
        lines.append(f"{r['runtime']:32s} {r['device'][:22]:22s} {acc:>9s} {r['n'] or '-'!s:>6s} "
                     f"{r['images_per_s'] or '-'!s:>10s} {r['latency_us'] or '-'!s:>11s}  {r['note']}")
    return "\n".join(lines)
