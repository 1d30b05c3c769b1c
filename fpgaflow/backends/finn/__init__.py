"""FINN backend: Brevitas -> QONNX -> FINN HW layers, folded for a target and generated as
HLS/RTL; every stage's model executed and compared bit for bit with Brevitas."""
from __future__ import annotations

import json
from pathlib import Path

from ...core.errors import FpgaflowError
from ...verify.final import final_text
from ..base import Backend, expected_inexact

VERIFY_IMAGES = 1000  # FINN's node-by-node execution runs ~60-100 images/s per stage
FASTEST_FRAMES = 20  # the fastest folding's RTL run in `bench`: cycles per frame and latency settle within a few frames
PLUMBING = ("StreamingFIFO", "StreamingDataWidthConverter")  # what stitching adds between the layers


class FinnBackend(Backend):
    name = "finn"
    title = "FINN"
    folder = "finn"
    manifest = "fpgaflow-finn.json"
    frameworks = ("brevitas", "qonnx")
    vendors = ("xilinx", "lattice")   # Lattice: FINN runs for a Xilinx stand-in, fpgaflow's portable MVAU (part.py)
    page = "report-finn.html"

    def _build(self, design, build_dir, progress: bool, inexact: bool = False) -> Path:
        from .build import convert

        exported = self.export(design, build_dir)
        return convert(design, build_dir, exported, progress=progress, inexact=inexact)

    def summary(self, project: Path) -> int:
        m = json.loads((Path(project) / self.manifest).read_text())
        est = json.loads((Path(project) / "estimates.json").read_text())
        rows = {l["name"]: l for l in est["layers"]}
        print(f"{'layer':32s} {'PE':>4s} {'SIMD':>5s} {'cycles':>8s} {'LUT':>7s} {'BRAM_18K':>8s} {'DSP':>4s}")
        plumbing = [l for l in m["layers"] if l["op_type"].startswith(PLUMBING)]
        for l in m["layers"]:
            if l in plumbing:
                continue
            r = rows.get(l["name"], {})
            res = r.get("resources", {})
            print(f"{l['name']:32s} {l.get('PE', '-')!s:>4s} {l.get('SIMD', '-')!s:>5s} "
                  f"{r.get('interval_cycles', {}).get('max', '-')!s:>8s} {res.get('LUT', '-')!s:>7s} "
                  f"{res.get('BRAM_18K', '-')!s:>8s} {res.get('DSP', '-')!s:>4s}")
        if plumbing:
            luts = sum((rows.get(l["name"], {}).get("resources", {}).get("LUT") or 0) for l in plumbing)
            print(f"(+ {sum(l['op_type'].startswith('StreamingFIFO') for l in plumbing)} FIFOs and "
                  f"{sum(l['op_type'].startswith('StreamingDataWidth') for l in plumbing)} width converters between the "
                  f"layers, {luts:,} LUT)")
        p = m["performance"]
        print(f"FINN estimate at {m['clock_ns']} ns: {p['estimated_throughput_fps']:.0f} frames/s "
              f"(bottleneck {p['max_cycles_node_name']}, {p['max_cycles']} cycles; target {m['target_fps']} frames/s = "
              f"{m['target_cycles_per_frame']} cycles), latency {p['critical_path_cycles']} cycles = "
              f"{p['estimated_latency_ns'] / 1000:.1f} us")
        print(f"wrote FINN build {project} ({len(m['layers'])} layers, HLS/RTL sources under code/) in {m['seconds']} s")
        return 0

    def verify(self, design, build_dir, args) -> int:
        from .verify import verify_finn

        if args.reference not in ("default", design.framework.references[0]) or args.csim != "fast" \
                or args.harness != "exe":
            raise FpgaflowError("--reference/--csim/--harness are hls4ml C-sim options; the FINN backend compares "
                                f"every FINN stage with the CPU reference ({design.framework.references[0]})")
        if args.layer_cycles and not args.rtl:
            raise FpgaflowError("--layer-cycles goes with --rtl (it simulates the RTL layers one by one)")
        alone = None if not args.layer_cycles else ([] if args.layer_cycles == "all" else
                                                    [x.strip() for x in args.layer_cycles.split(",") if x.strip()])
        r = verify_finn(design, build_dir, n=args.n or VERIFY_IMAGES, workers=args.workers,
                        progress=not args.no_progress, rtl=args.rtl, alone=alone,
                        netlist=getattr(args, "netlist", False))
        print(f"{design.name} (FINN, stage {r['stage']}, {r['sim']} execution): n = {r['n']}, exact = {r['exact']}, "
              f"mismatches = {r['mismatches']}, max_abs_diff = {r['max_abs_diff']:g}, "
              f"argmax_agreement = {r['argmax_agreement']:.4f}, accuracy = {r['accuracy']:.4f}")
        if r.get("host"):
            print(f"runs as: {r['host']}{final_text(r)}")
        if r["first_divergence"]:
            d = r["first_divergence"]
            print(f"first divergence: stage '{d['stage']}' ({d['what']}), image {d['image']}:\n"
                  f"  finn      {d['finn']}\n  {r['reference']:9s} {d['reference']}")
        for s in r["stages"]:
            if s["stage"] in ("rtl", "netlist"):
                _print_rtl(s)
        print(f"compared in {r['compared_in']}; not simulated here: " + "; ".join(
            f"{k} ({v})" for k, v in r["not_simulated"].items()))
        print(f"{r['seconds']} s; wrote {self.project(design, build_dir) / 'verify.json'}")
        alone_differs = any(l.get("alone_exact") is False for s in r["stages"] for l in s.get("layers", []))
        if expected_inexact(r):
            return 0
        return 1 if any(s["mismatches"] for s in r["stages"]) or alone_differs else 0

    def compare(self, design, build_dir, n: int, workers: int | None = None, progress: bool = False) -> dict:
        from .verify import verify_finn

        r = verify_finn(design, build_dir, n=n, workers=workers, progress=progress, log=lambda *a: None)
        return {"exact": all(s["mismatches"] == 0 for s in r["stages"]), "n": r["n"],
                "mismatches": max(s["mismatches"] for s in r["stages"]),
                "compared": f"every FINN stage ({', '.join(s['stage'] for s in r['stages'])}) == {r['reference']}"}

    def synth(self, design, build_dir) -> int:
        from .synth import synth

        return synth(design, build_dir)

    def pnr(self, design, build_dir, part: str | None = None, progress: bool = True) -> int:
        from .rtl.command import pnr

        return pnr(design, build_dir, part, progress)

    def _dataflow(self, design, build_dir, use):
        """use(the specialized accelerator of the built project): FINN's folding works on it."""
        import tempfile

        from qonnx.core.modelwrapper import ModelWrapper

        from .build import read_manifest
        from .folding import specialized
        from .part import fpgapart, mvau

        folder = self.project(design, build_dir)
        read_manifest(folder)
        with tempfile.TemporaryDirectory() as tmp:
            _, _, dataflow = specialized(ModelWrapper(str(folder / "models" / "hw.onnx")), Path(tmp), fpgapart(design),
                                         mvau=mvau(design))
            return use(dataflow)

    def sweep(self, design, build_dir, targets: list[int]) -> list[dict]:
        from ..target import sweep_point
        from .balance import fold_for

        return self._dataflow(design, build_dir,
                              lambda dataflow: [sweep_point(fold_for(dataflow, design, fps)[1]) for fps in targets])

    def fastest(self, design, build_dir) -> dict:
        from ..target import fastest_json
        from .balance import fastest

        fit, ceiling = self._dataflow(design, build_dir, lambda dataflow: fastest(dataflow, design))
        out = fastest_json(fit, ceiling, "FINN estimate (res_estimation, dataflow_performance: latency is the sum "
                                         "of the layers' cycles); FF not estimated")
        if out["target_fps"]:
            out["rtl"] = self._measured(design, build_dir, out["target_fps"])
            if out["rtl"].get("latency_us") is not None:
                out["latency_us_estimate"], out["latency_us"] = out["latency_us"], out["rtl"]["latency_us"]
        return out

    def _measured(self, design, build_dir, fps: int) -> dict:
        """The fastest folding built (build_dir/<design>/fastest) and its stitched RTL simulated on
        FASTEST_FRAMES test images: cycles per frame and latency measured, where FINN's latency is
        its sum of the layers' cycles (lenet's default folding: 54.86 us, 21.8 measured)."""
        from .verify import verify_finn

        fast = design.with_target(fps)
        root = Path(build_dir) / design.name / "fastest"
        try:
            self.build(fast, root, progress=False)
            r = verify_finn(fast, root, n=FASTEST_FRAMES, progress=False, log=lambda *_: None, rtl=True)
        except FpgaflowError as e:
            return {"note": f"not measured: {e}"}
        sim = r["stages"][-1]
        clock = fast.spec["target"]["clock_ns"]
        return {"cycles_per_frame": sim["cycles_per_frame"], "latency_cycles": sim["frame_latency_cycles"],
                "latency_us": round(sim["frame_latency_cycles"] * clock / 1000, 2),
                "fps": round(1e9 / (sim["cycles_per_frame"] * clock), 1), "n": sim["n"], "exact": sim["exact"],
                "source": f"{sim['sim']} simulation of the stitched RTL ({sim['back_pressure']}); latency: first "
                          f"input beat to the first frame's last output beat; at the design's {clock} ns clock, an "
                          f"assumption (not placed and routed)"}


def _print_rtl(stage: dict) -> None:
    """The measured cycles of the RTL stage, each next to FINN's estimate."""
    est = stage["estimate"]
    per_frame = stage["cycles_per_frame"]
    what = "RTL" if stage["stage"] == "rtl" else "ECP5 netlist"
    print(f"{what} ({stage['sim']}, {stage['back_pressure']}): {per_frame if per_frame is not None else '-'} cycles/frame "
          f"measured (FINN estimate {est['cycles_per_frame']}, bottleneck {est['bottleneck']}); latency "
          f"{stage['latency_cycles']} cycles first input to first output, {stage['frame_latency_cycles']} to the "
          f"first frame's last output (FINN's sum of layer cycles: {est['latency_cycles']})")
    fifos = stage.get("fifo_depths")
    if fifos:
        print(f"FIFOs: {fifos['fifos']} sized by simulation in {fifos['seconds']} s (sum of depths "
              f"{fifos['total_depth']:,}); with every FIFO unbounded the accelerator ran "
              f"{fifos['interval_cycles_unbounded']} cycles/frame")
    print(f"  {'layer':34s} {'implementation':42s} {'busy/frame':>10s} {'alone':>7s} {'FINN est.':>9s}")
    for l in stage["layers"]:
        if l["op_type"].startswith(PLUMBING):
            continue
        alone = l.get("alone_cycles_per_frame")
        print(f"  {l['name']:34s} {l['implementation']:42s} {l['busy_cycles_per_frame']:>10.0f} "
              f"{'-' if alone is None else alone:>7} "
              f"{l['estimate_cycles'] if l['estimate_cycles'] is not None else '-'!s:>9s}"
              + ("  OUTPUT DIFFERS from Python alone" if l.get("alone_exact") is False else ""))
    print("  (busy: in the stitched run, neither starved nor blocked; alone: the layer simulated by itself, "
          "input always offered, output always taken; FIFOs and width converters not listed; "
          + (f"verilated in {stage['compile_seconds']} s, " if stage["compile_seconds"] >= 1 else
             "Verilator build reused, ")
          + f"{stage['cycles']} cycles simulated in {stage['sim_seconds']} s)")
    if stage["first_bad_layer"]:
        b = stage["first_bad_layer"]
        print(f"first RTL layer that differs from FINN's Python execution (image {stage['first_bad_image']}): "
              f"{b['layer']} ({b['op_type']}, {b['implementation']}), stream {b['stream']}: "
              f"{b['beats_differing']} of {b['beats']} beats")
