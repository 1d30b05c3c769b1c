"""hls4ml backend: the exported model (QONNX for Brevitas, Keras for QKeras) through hls4ml
into a Vitis/Vivado HLS project, C-simulated with g++ and compared bit for bit."""
from __future__ import annotations

import json
from pathlib import Path

from ...core.errors import FpgaflowError
from ...verify.final import final_text
from ..base import Backend, expected_inexact


class Hls4mlBackend(Backend):
    name = "hls4ml"
    title = "hls4ml"
    folder = "hls4ml"
    manifest = "fpgaflow.json"
    frameworks = ("brevitas", "keras", "qonnx", "keras_model")
    page = "report.html"

    def _build(self, design, build_dir, progress: bool, inexact: bool = False) -> Path:
        from ...verify.references import cpu_reference
        from .convert import convert

        if design.spec["target"]["fps"] and design.spec["hls4ml"]["reuse_factor"] != "auto":
            raise FpgaflowError("hls4ml.reuse_factor is set and so is a throughput target (target.fps / --target-fps): "
                                "the target chooses the reuse factors; set hls4ml.reuse_factor: auto or drop the target")
        self.export(design, build_dir)
        return convert(design, build_dir, cpu_reference(design))

    def summary(self, project: Path) -> int:
        m = json.loads((Path(project) / self.manifest).read_text())
        print(f"{'layer':8s} {'hls4ml':10s} {'weights':>12s} {'zeros':>7s} {'mult./inference':>15s} {'strategy':>8s} "
              f"{'reuse':>6s} {'multipliers':>11s}")
        for l in m["layers"]:
            print(f"{l['name']:8s} {l['hls4ml']:10s} {l['n_in']:>6d}x{l['n_out']:<5d} {l['zero_weights']:>7d} "
                  f"{l['multiplications']:>15,d} {l['strategy']:>8s} {l['reuse_factor']:>6d} {l['multipliers']:>11d}")
        print(f"total: {sum(l['multiplications'] for l in m['layers']):,} multiplications per inference (products by a "
              f"zero weight not counted), {m['total_multipliers']:,} parallel multipliers"
              + (" (Resource strategy: zero weights still occupy multipliers)"
                 if any(l["strategy"] == "Resource" for l in m["layers"]) else ""))
        fit = m.get("fit")
        if fit:
            res = ", ".join(f"{v:,} {k}" for k, v in fit["resources"].items() if k in fit["available"])
            print(f"folded for {fit['target_fps']:,} frames/s ({fit['target_cycles_per_frame']:,} cycles at "
                  f"{m['clock_ns']} ns): {fit['fps']:,.0f} frames/s, bottleneck {fit['bottleneck']} "
                  f"({fit['interval_cycles']:,} cycles), latency {fit['latency_cycles']:,} cycles = {fit['latency_us']} us; "
                  f"{res} ({fit['source']}, within the budget)")
        print(f"wrote HLS project {project} ({m['io_type']}, {m['tb_images']} testbench vectors)")
        return 0

    def verify(self, design, build_dir, args) -> int:
        from ...verify.triage import describe
        from .verify import verify

        if getattr(args, "rtl", False):
            raise FpgaflowError("--rtl simulates the stitched FINN accelerator (--backend finn); hls4ml's projects "
                                "are checked by C-simulation")
        r = verify(design, build_dir, n=args.n, reference=args.reference, harness=args.harness,
                   variant=args.csim, workers=args.workers, progress=not args.no_progress)
        print(f"{design.name}: n = {r['n']}, exact = {r['exact']}, mismatches = {r['mismatches']}, "
              f"max_abs_diff = {r['max_abs_diff']:g}, argmax_agreement = {r['argmax_agreement']:.4f}, "
              f"accuracy = {r['accuracy']:.4f}")
        if r.get("host"):
            print(f"runs as: {r['host']}{final_text(r)}")
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
        return 0 if expected_inexact(r) else (1 if r["mismatches"] else 0)

    def compare(self, design, build_dir, n: int, workers: int | None = None, progress: bool = False) -> dict:
        from .verify import verify

        r = verify(design, build_dir, n=n, workers=workers, progress=progress, log=lambda *a: None)
        return {"exact": r["mismatches"] == 0, "n": r["n"], "mismatches": r["mismatches"],
                "compared": f"C-sim ({r['csim_variant']}) == {r['reference']}"}

    def synth(self, design, build_dir) -> int:
        from .synth import synth

        return synth(design, build_dir)

    def _records(self, design, build_dir):
        """The built project's layer records and hls4ml's reuse-factor validator."""
        import hls4ml

        from .convert import read_manifest
        from .cost import from_dicts

        m = read_manifest(self.project(design, build_dir))
        return from_dicts(m["records"]), hls4ml.backends.get_backend(m["hls4ml_backend"])._validate_reuse_factor

    def sweep(self, design, build_dir, targets: list[int]) -> list[dict]:
        from ..target import sweep_point
        from .fold import fold_for

        records, valid = self._records(design, build_dir)
        return [sweep_point(fold_for(records, design, fps, valid)[1]) for fps in targets]

    def fastest(self, design, build_dir) -> dict:
        """The fastest target whose folding fits the budget, from the built project's layers."""
        from ..target import fastest_json
        from .fold import fastest

        records, valid = self._records(design, build_dir)
        fit, ceiling = fastest(records, design, valid)
        return fastest_json(fit, ceiling, "fpgaflow estimate (cost model calibrated on public Vivado reports, "
                                          "docs/estimates.md); latency: the bottleneck's interval plus the layers after it")
