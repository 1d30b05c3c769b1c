"""hls4ml backend: the exported model (QONNX for Brevitas, Keras for QKeras) through hls4ml
into a Vitis/Vivado HLS project, C-simulated with g++ and compared bit for bit."""
from __future__ import annotations

import json
from pathlib import Path

from ...core.errors import FpgaflowError
from ..base import Backend


class Hls4mlBackend(Backend):
    name = "hls4ml"
    title = "hls4ml"
    folder = "hls4ml"
    manifest = "fpgaflow.json"
    frameworks = ("brevitas", "keras")
    page = "report.html"

    def _build(self, design, build_dir, progress: bool) -> Path:
        from ...verify.references import cpu_reference
        from .convert import convert

        if design.spec["target"]["fps"]:
            raise FpgaflowError(f"target {design.spec['target']['fps']:,} frames/s: the hls4ml backend does not fold to a "
                                f"throughput target yet (its reuse factors come from hls4ml.reuse_factor); "
                                f"use --backend finn, or drop target.fps / --target-fps")
        self.export(design, build_dir)
        return convert(design, build_dir, cpu_reference(design))

    def summary(self, project: Path) -> int:
        m = json.loads((Path(project) / self.manifest).read_text())
        print(f"{'layer':8s} {'hls4ml':10s} {'weights':>12s} {'zeros':>7s} {'mult./inference':>15s} {'reuse':>6s} "
              f"{'multipliers':>11s}")
        for l in m["layers"]:
            print(f"{l['name']:8s} {l['hls4ml']:10s} {l['n_in']:>6d}x{l['n_out']:<5d} {l['zero_weights']:>7d} "
                  f"{l['multiplications']:>15,d} {l['reuse_factor']:>6d} {l['multipliers']:>11d}")
        print(f"total: {sum(l['multiplications'] for l in m['layers']):,} multiplications per inference (products by a "
              f"zero weight not counted), {m['total_multipliers']} parallel multipliers of {m['part_dsp']} DSPs on "
              f"{m['part']}" + (" (Resource strategy: zero weights still occupy multipliers)"
                                if m["strategy"] == "Resource" else ""))
        print(f"wrote HLS project {project} ({m['io_type']}, {m['strategy']}, {m['tb_images']} testbench vectors)")
        return 0

    def verify(self, design, build_dir, args) -> int:
        from ...verify.triage import describe
        from .verify import verify

        r = verify(design, build_dir, n=args.n, reference=args.reference, harness=args.harness,
                   variant=args.csim, workers=args.workers, progress=not args.no_progress)
        print(f"{design.name}: n = {r['n']}, exact = {r['exact']}, mismatches = {r['mismatches']}, "
              f"max_abs_diff = {r['max_abs_diff']:g}, argmax_agreement = {r['argmax_agreement']:.4f}, "
              f"accuracy = {r['accuracy']:.4f}")
        for pair, c in r.get("comparisons", {}).items():
            print(f"  {pair:24s} exact {c['exact']}/{c['n']}, max_abs_diff {c['max_abs_diff']:g}")
        print(f"reference {r['reference']}; C-sim {r['csim_variant']} via {r['csim_harness']}: "
              f"{r['csim_images_per_s']} images/s on {r['workers']} process(es); {r['seconds']} s in all; "
              f"wrote {self.project(design, build_dir) / 'verify.json'}")
        for m in r["first_mismatches"]:
            print(f"MISMATCH image {m['image']}:")
            for k, v in m.items():
                if k != "image":
                    print(f"  {k:10s} {v}")
        if "triage" in r:
            print(describe(r["triage"]))
        return 1 if r["mismatches"] else 0

    def synth(self, design, build_dir) -> int:
        from .synth import synth

        return synth(design, build_dir)

    def fastest(self, design, build_dir) -> dict:
        return {"target_fps": None, "note": "not measured: the hls4ml backend does not fold to a throughput "
                                            "target yet (reuse factors from hls4ml.reuse_factor)"}
