"""FINN backend: Brevitas -> QONNX -> FINN HW layers, folded for a target and generated as
HLS/RTL; every stage's model executed and compared bit for bit with Brevitas."""
from __future__ import annotations

import json
from pathlib import Path

from ...core.errors import FpgaflowError
from ..base import Backend

VERIFY_IMAGES = 1000  # FINN's node-by-node execution runs ~60-100 images/s per stage


class FinnBackend(Backend):
    name = "finn"
    title = "FINN"
    folder = "finn"
    manifest = "fpgaflow-finn.json"
    frameworks = ("brevitas",)
    page = "report-finn.html"

    def _build(self, design, build_dir, progress: bool) -> Path:
        from .build import convert

        exported = self.export(design, build_dir)
        return convert(design, build_dir, exported, progress=progress)

    def summary(self, project: Path) -> int:
        m = json.loads((Path(project) / self.manifest).read_text())
        est = json.loads((Path(project) / "estimates.json").read_text())
        rows = {l["name"]: l for l in est["layers"]}
        print(f"{'layer':32s} {'PE':>4s} {'SIMD':>5s} {'cycles':>8s} {'LUT':>7s} {'BRAM_18K':>8s} {'DSP':>4s}")
        for l in m["layers"]:
            r = rows.get(l["name"], {})
            res = r.get("resources", {})
            print(f"{l['name']:32s} {l.get('PE', '-')!s:>4s} {l.get('SIMD', '-')!s:>5s} "
                  f"{r.get('interval_cycles', {}).get('max', '-')!s:>8s} {res.get('LUT', '-')!s:>7s} "
                  f"{res.get('BRAM_18K', '-')!s:>8s} {res.get('DSP', '-')!s:>4s}")
        p = m["performance"]
        print(f"FINN estimate at {m['clock_ns']} ns: {p['estimated_throughput_fps']:.0f} frames/s "
              f"(bottleneck {p['max_cycles_node_name']}, {p['max_cycles']} cycles; target {m['target_fps']} frames/s = "
              f"{m['target_cycles_per_frame']} cycles), latency {p['critical_path_cycles']} cycles = "
              f"{p['estimated_latency_ns'] / 1000:.1f} us")
        print(f"wrote FINN build {project} ({len(m['layers'])} layers, HLS/RTL sources under code/) in {m['seconds']} s")
        return 0

    def verify(self, design, build_dir, args) -> int:
        from .verify import verify_finn

        if args.reference not in ("default", "torch-cpu") or args.csim != "fast" or args.harness != "exe":
            raise FpgaflowError("--reference/--csim/--harness are hls4ml C-sim options; the FINN backend compares "
                                "every FINN stage with the Brevitas CPU reference")
        r = verify_finn(design, build_dir, n=args.n or VERIFY_IMAGES, workers=args.workers,
                        progress=not args.no_progress)
        print(f"{design.name} (FINN, stage {r['stage']}, {r['sim']} execution): n = {r['n']}, exact = {r['exact']}, "
              f"mismatches = {r['mismatches']}, max_abs_diff = {r['max_abs_diff']:g}, "
              f"argmax_agreement = {r['argmax_agreement']:.4f}, accuracy = {r['accuracy']:.4f}")
        if r["first_divergence"]:
            d = r["first_divergence"]
            print(f"first divergence: stage '{d['stage']}' ({d['what']}), image {d['image']}:\n"
                  f"  finn      {d['finn']}\n  torch-cpu {d['torch-cpu']}")
        print(f"compared in {r['compared_in']}; not simulated here: " + "; ".join(
            f"{k} ({v})" for k, v in r["not_simulated"].items()))
        print(f"{r['seconds']} s; wrote {self.project(design, build_dir) / 'verify.json'}")
        return 1 if any(s["mismatches"] for s in r["stages"]) else 0

    def synth(self, design, build_dir) -> int:
        from .synth import synth

        return synth(design, build_dir)

    def _dataflow(self, design, build_dir, use):
        """use(the specialized accelerator of the built project): FINN's folding works on it."""
        import tempfile

        from qonnx.core.modelwrapper import ModelWrapper

        from .build import read_manifest
        from .folding import specialized

        folder = self.project(design, build_dir)
        read_manifest(folder)
        with tempfile.TemporaryDirectory() as tmp:
            _, _, dataflow = specialized(ModelWrapper(str(folder / "models" / "hw.onnx")), Path(tmp),
                                         design.spec["target"]["part"])
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
        return fastest_json(fit, ceiling, "FINN estimate (res_estimation, dataflow_performance: latency is the sum "
                                          "of the layers' cycles); FF not estimated")
