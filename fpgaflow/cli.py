"""The `fpgaflow` command: a thin layer over the stages. Every failure the user can cause
(bad design, missing data, missing tool) is one line on stderr and a non-zero exit."""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from .errors import FpgaflowError


def cmd_list(args) -> int:
    from .spec import designs_root, list_designs, load_design

    names = list_designs()
    if not names:
        print(f"no designs under {designs_root()}")
        return 0
    width = max(len(n) for n in names)
    for name in names:
        d = load_design(name)
        metrics = d.dir / "metrics.json"
        acc = f"test accuracy {json.loads(metrics.read_text())['test_accuracy']:.4f}" if metrics.exists() else "untrained"
        print(f"{name:{width}s} {d.spec['framework']:9s} {acc:22s} {d.spec['description']}")
    return 0


DIST_FLAGS = ("seed", "batch", "max_steps", "accum", "amp", "parallel", "resume")


def cmd_train(args) -> int:
    import os

    from .spec import load_design

    design = load_design(args.design)
    # only the flags given: 0 (--max-steps 0) is a value, not an absence
    extra = {k: v for k in DIST_FLAGS if (v := getattr(args, k)) is not None and v is not False
             and not (k == "accum" and v == 1)}
    if design.framework.name != "brevitas" and (extra or args.nproc > 1):
        raise FpgaflowError(f"{', '.join('--' + k.replace('_', '-') for k in extra) or '--nproc'}: "
                            f"distributed and scaled training is for Brevitas designs; {design.name} is {design.framework.name}")
    if (args.nproc > 1 or args.nnodes > 1) and design.spec["train"]["distill"]["alpha"] > 0 and not args.no_distill:
        raise FpgaflowError(f"{design.name} distills from a float teacher, and distillation trains with one process: "
                            f"drop --nproc/--nnodes, or pass --no-distill")
    if (args.nproc > 1 or args.nnodes > 1) and "WORLD_SIZE" not in os.environ:
        from .distributed import launch

        argv = ["--build-dir", args.build_dir, "train", args.design, *_train_argv(args)]
        return launch(argv, args.nproc, args.nnodes, args.node_rank, args.rdzv_endpoint)
    if args.parallel == "pipeline" and "WORLD_SIZE" not in os.environ:
        raise FpgaflowError("--parallel pipeline runs 2 stages: add --nproc 2")
    if args.no_distill:
        if design.framework.name != "brevitas":
            raise FpgaflowError(f"--no-distill: distillation is for Brevitas designs; {design.name} is {design.framework.name}")
        extra["distill"] = False
    m = design.framework.fn("train")(design, out_dir=args.out, epochs=args.epochs,
                                     checkpoint_dir=Path(args.build_dir) / design.name / "train",
                                     progress=not args.no_progress, **extra)
    if m is None:  # a worker other than rank 0
        return 0
    out = Path(args.out or design.dir)
    rate = f", {m['images_per_s']} images/s" if "images_per_s" in m else ""
    print(f"{design.name}: test accuracy {m['test_accuracy']:.4f} on {m['test_images']} images "
          f"(best epoch {m['best_epoch']}, {m['seconds']} s{rate}); wrote {out / design.weights.name} and {out / 'metrics.json'}")
    return 0


def _train_argv(args) -> list[str]:
    """The train flags to repeat in every torchrun worker."""
    out = []
    for flag, value in (("--epochs", args.epochs), ("--out", args.out), ("--seed", args.seed), ("--batch", args.batch),
                        ("--max-steps", args.max_steps), ("--parallel", args.parallel), ("--resume", args.resume)):
        if value is not None:
            out += [flag, str(value)]
    if args.accum != 1:
        out += ["--accum", str(args.accum)]
    out += ["--amp"] if args.amp else []
    out += ["--no-progress"] if args.no_progress else []
    out += ["--no-distill"] if args.no_distill else []
    return out


def build_hls(design, build_dir) -> Path:
    """export + convert: the hls4ml project of a design."""
    from .convert_hls4ml import convert
    from .reference import cpu_reference

    if not design.weights.exists():
        raise FpgaflowError(f"{design.weights} not found: train the design first (`fpgaflow train {design.name}`)")
    exported = design.framework.fn("export")(design, build_dir)
    print(f"exported {exported}")
    return convert(design, build_dir, cpu_reference(design))


def build_finn(design, build_dir, progress: bool = True) -> Path:
    """export + FINN flow: the FINN dataflow build of a Brevitas design."""
    from .convert_finn import convert

    if design.framework.name != "brevitas":
        raise FpgaflowError(f"the FINN backend takes Brevitas designs (via QONNX); {design.name} is "
                            f"{design.framework.name}: use --backend hls4ml")
    if not design.weights.exists():
        raise FpgaflowError(f"{design.weights} not found: train the design first (`fpgaflow train {design.name}`)")
    exported = design.framework.fn("export")(design, build_dir)
    print(f"exported {exported}")
    return convert(design, build_dir, exported, progress=progress)


BACKENDS = {"hls4ml": ("hls4ml", "fpgaflow.json", build_hls), "finn": ("finn", "fpgaflow-finn.json", build_finn)}


def ensure_hls(design, build_dir, backend: str = "hls4ml") -> Path:
    """The design's project for a backend, built first where it is missing."""
    folder, manifest, build = BACKENDS[backend]
    project = Path(build_dir) / design.name / folder
    return project if (project / manifest).is_file() else build(design, build_dir)


def _print_pruned_channels(design) -> None:
    from .spec import CHANNEL_PRUNABLE, deployed

    built = deployed(design.spec)["layers"]
    cut = [f"{a['name']} {a[k]}->{b[k]}" for a, b in zip(design.spec["layers"], built)
           if (k := CHANNEL_PRUNABLE.get(a["type"])) and a[k] != b[k]]
    if cut:
        print(f"channel-pruned (trained -> built): {', '.join(cut)}")


def cmd_hls(args) -> int:
    from .spec import load_design

    design = load_design(args.design)
    _print_pruned_channels(design)
    if args.backend == "finn":
        return _print_finn_build(build_finn(design, args.build_dir, progress=not args.no_progress))
    project = build_hls(design, args.build_dir)
    m = json.loads((project / "fpgaflow.json").read_text())
    print(f"{'layer':8s} {'hls4ml':10s} {'weights':>12s} {'zeros':>7s} {'mult./inference':>15s} {'reuse':>6s} {'multipliers':>11s}")
    for l in m["layers"]:
        print(f"{l['name']:8s} {l['hls4ml']:10s} {l['n_in']:>6d}x{l['n_out']:<5d} {l['zero_weights']:>7d} "
              f"{l['multiplications']:>15,d} {l['reuse_factor']:>6d} {l['multipliers']:>11d}")
    print(f"total: {sum(l['multiplications'] for l in m['layers']):,} multiplications per inference (products by a "
          f"zero weight not counted), {m['total_multipliers']} parallel multipliers of {m['part_dsp']} DSPs on {m['part']}"
          + (" (Resource strategy: zero weights still occupy multipliers)" if m["strategy"] == "Resource" else ""))
    print(f"wrote HLS project {project} ({m['io_type']}, {m['strategy']}, {m['tb_images']} testbench vectors)")
    return 0


def _print_finn_build(folder: Path) -> int:
    m = json.loads((folder / "fpgaflow-finn.json").read_text())
    est = json.loads((folder / "estimates.json").read_text())
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
    print(f"wrote FINN build {folder} ({len(m['layers'])} layers, HLS/RTL sources under code/) in {m['seconds']} s")
    return 0


def _cmd_csim_finn(design, args) -> int:
    from .verify_finn import verify_finn

    if args.reference not in ("default", "torch-cpu") or args.csim != "fast" or args.harness != "exe":
        raise FpgaflowError("--reference/--csim/--harness are hls4ml C-sim options; the FINN backend compares "
                            "every FINN stage with the Brevitas CPU reference")
    r = verify_finn(design, args.build_dir, n=args.n or 1000, workers=args.workers, progress=not args.no_progress)
    print(f"{design.name} (FINN, stage {r['stage']}, {r['sim']} execution): n = {r['n']}, exact = {r['exact']}, "
          f"mismatches = {r['mismatches']}, max_abs_diff = {r['max_abs_diff']:g}, "
          f"argmax_agreement = {r['argmax_agreement']:.4f}, accuracy = {r['accuracy']:.4f}")
    if r["first_divergence"]:
        d = r["first_divergence"]
        print(f"first divergence: stage '{d['stage']}' ({d['what']}), image {d['image']}:\n"
              f"  finn      {d['finn']}\n  torch-cpu {d['torch-cpu']}")
    print(f"compared in {r['compared_in']}; not simulated here: " + "; ".join(
        f"{k} ({v})" for k, v in r["not_simulated"].items()))
    print(f"{r['seconds']} s; wrote {Path(args.build_dir) / design.name / 'finn' / 'verify.json'}")
    return 1 if any(s["mismatches"] for s in r["stages"]) else 0


def cmd_csim(args) -> int:
    from .spec import load_design
    from .triage import describe
    from .verify import verify

    design = load_design(args.design)
    if args.backend == "finn":
        return _cmd_csim_finn(design, args)
    r = verify(design, args.build_dir, n=args.n, reference=args.reference, harness=args.harness,
               variant=args.csim, workers=args.workers, progress=not args.no_progress)
    print(f"{design.name}: n = {r['n']}, exact = {r['exact']}, mismatches = {r['mismatches']}, "
          f"max_abs_diff = {r['max_abs_diff']:g}, argmax_agreement = {r['argmax_agreement']:.4f}, "
          f"accuracy = {r['accuracy']:.4f}")
    for pair, c in r.get("comparisons", {}).items():
        print(f"  {pair:24s} exact {c['exact']}/{c['n']}, max_abs_diff {c['max_abs_diff']:g}")
    print(f"reference {r['reference']}; C-sim {r['csim_variant']} via {r['csim_harness']}: "
          f"{r['csim_images_per_s']} images/s on {r['workers']} process(es); {r['seconds']} s in all; "
          f"wrote {Path(args.build_dir) / design.name / 'hls4ml' / 'verify.json'}")
    for m in r["first_mismatches"]:
        print(f"MISMATCH image {m['image']}:")
        for k, v in m.items():
            if k != "image":
                print(f"  {k:10s} {v}")
    if "triage" in r:
        print(describe(r["triage"]))
    return 1 if r["mismatches"] else 0


def cmd_bench(args) -> int:
    from .bench import inference_tables, run_bench, table
    from .spec import list_designs, load_design

    names = args.designs or [n for n in list_designs() if load_design(n).weights.exists()]
    designs = [load_design(n) for n in names]
    for d in designs:
        ensure_hls(d, args.build_dir)
        if d.framework.name == "brevitas":
            ensure_hls(d, args.build_dir, "finn")
    data = run_bench(designs, Path(args.build_dir), n=args.n)
    print(table(data))
    print()
    print(inference_tables(data))
    print(f"machine: {data['machine']['cpu']}, {data['machine']['cores']} cores; "
          f"wrote {Path(args.build_dir) / 'bench.json'}")
    return 0 if all(data["designs"][n]["csim_exact"] for n in names) else 1


def cmd_report(args) -> int:
    from .report_cmd import run_report

    return run_report(args)


def cmd_synth(args) -> int:
    from .synth import synth

    return synth(args.design, Path(args.build_dir), backend=args.backend)


def add_backend(s) -> None:
    s.add_argument("--backend", default="hls4ml", choices=list(BACKENDS),
                   help="hls4ml (default; QKeras directly, Brevitas via QONNX) or finn (Brevitas via QONNX)")


def cmd_synth_oss(args) -> int:
    from .parts import part_capacity
    from .reports.yosys import parse_yosys_stat
    from .spec import load_design
    from .synth_oss import synth_oss

    design = load_design(args.design)
    m = synth_oss(design, Path(args.build_dir), layer=args.layer)
    folder = Path(args.build_dir) / design.name / "oss" / m["layer"]
    r = parse_yosys_stat(folder / "yosys_stat.json")
    cap = part_capacity(m["part"])
    print(f"{design.name} {m['layer']} ({m['weights'][0]}x{m['weights'][1]} weights, {m['input_bits']}-bit inputs): "
          f"da4ml adder graph equal to the integer layer on {m['adder_graph_check']['exact']}/"
          f"{m['adder_graph_check']['n']} test images")
    for k, v in r["resources"].items():
        share = f" ({100 * v / cap[k]:.2f}% of {m['part']})" if v is not None and cap.get(k) else ""
        print(f"  {k:9s} {v}{share}")
    print(f"Yosys {r['tool_version']} synth_xilinx -family {m['yosys_family']}: {m['yosys_seconds']} s; "
          f"{m['nextpnr']}; wrote {folder} (`fpgaflow report {folder}`)")
    return 0


def parser() -> argparse.ArgumentParser:
    from .reference import ALL, DEFAULT, REFERENCES

    p = argparse.ArgumentParser(prog="fpgaflow", description="Quantization-aware training to bit-exact FPGA designs.")
    p.add_argument("--build-dir", default="build", help="where stage artefacts go (default: build)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("list", help="list the designs under designs/")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("train", help="quantization-aware training; writes designs/<design>/weights.pt (or .h5)")
    s.add_argument("design")
    s.add_argument("--epochs", type=int, help="override train.epochs of the design")
    s.add_argument("--out", help="folder for the weights and metrics.json (default: the design's folder)")
    s.add_argument("--seed", type=int, help="override train.seed")
    s.add_argument("--batch", type=int, help="images per process and micro-step (default: train.batch_size)")
    s.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (0: write the initial state)")
    s.add_argument("--accum", type=int, default=1, help="gradient accumulation: micro-steps per optimizer step")
    s.add_argument("--amp", action="store_true", help="mixed precision (bf16 autocast on CPU; fp16/bf16 on CUDA)")
    s.add_argument("--nproc", type=int, default=1, help="processes per node, launched with torchrun (gloo on CPU, NCCL on GPU)")
    s.add_argument("--parallel", choices=["ddp", "fsdp", "pipeline"],
                   help="with --nproc > 1: ddp (default), fsdp (sharded parameters) or pipeline (2 stages)")
    s.add_argument("--nnodes", type=int, default=1, help="machines taking part (multi-node, as torchrun)")
    s.add_argument("--node-rank", type=int, default=0, help="this machine's rank, 0 .. nnodes-1")
    s.add_argument("--rdzv-endpoint", help="HOST:PORT of the rendezvous, the same on every node")
    s.add_argument("--resume", help="checkpoint to continue from (build/<design>/train/checkpoint.pt)")
    s.add_argument("--no-distill", action="store_true",
                   help="train without the float teacher even where train.distill.alpha > 0 (for comparisons)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("hls", help="export (QONNX or Keras) and write the HLS project: build/<design>/hls4ml "
                                   "(or build/<design>/finn with --backend finn)")
    s.add_argument("design")
    add_backend(s)
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_hls)

    s = sub.add_parser("csim", help="compile the HLS project (g++) and compare it bit for bit with the reference")
    s.add_argument("design")
    add_backend(s)
    s.add_argument("-n", "--n", type=int, help="number of test images (default: all; 1000 for --backend finn)")
    s.add_argument("--workers", type=int, help="C-sim processes (default: one per core, at most 8)")
    s.add_argument("--reference", default=DEFAULT, choices=[DEFAULT, *REFERENCES, ALL],
                   help="reference inference: default (the framework's CPU one: torch-cpu or tf-cpu), "
                        "torch-cuda / tf-cuda (GPU), or all (C-sim, CPU and GPU compared three ways)")
    s.add_argument("--csim", default="fast", choices=["fast", "stock"],
                   help="fast: integer dense kernels, proven equal to stock (default); stock: hls4ml's code as is")
    s.add_argument("--harness", default="exe", choices=["exe", "lib"],
                   help="exe: the standalone testbench of sim/ (default); lib: the project's bridge via ctypes")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_csim)

    s = sub.add_parser("report", help="per-layer review of estimates and synthesis reports: table, HTML, budgets",
                       description="fpgaflow report lenet (a design: build/lenet, with its budgets), "
                                   "fpgaflow report PATH (any project folder or report file), "
                                   "fpgaflow report A B --compare (per-layer deltas)")
    s.add_argument("targets", nargs="+", metavar="DESIGN_OR_PATH")
    s.add_argument("--compare", action="store_true", help="compare two builds, layer by layer")
    s.add_argument("--json", action="store_true", help="print the parsed reports as JSON (one schema) instead of tables")
    s.add_argument("--html", help="write the HTML page here (default for a design: build/<design>/report.html, "
                                  "report-finn.html for --backend finn)")
    add_backend(s)
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("synth", help="run Vitis/Vivado HLS synthesis of the project where the tool is installed")
    s.add_argument("design")
    add_backend(s)
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("synth-oss", help="open-source synthesis of a dense layer: da4ml Verilog -> Yosys synth_xilinx")
    s.add_argument("design")
    s.add_argument("--layer", help="dense layer to synthesize (default: the last one)")
    s.set_defaults(func=cmd_synth_oss)

    s = sub.add_parser("bench", help="C-sim and reference speed, compile times, memory: build/bench.json")
    s.add_argument("designs", nargs="*", help="designs to measure (default: every trained design)")
    s.add_argument("-n", "--n", type=int, help="test images per design (default: all)")
    s.set_defaults(func=cmd_bench)
    return p


def _quiet_libraries() -> None:
    # brevitas, qonnx, torch.onnx and tf_keras warn about optional packages and opset versions that do
    # not affect the flow; users see fpgaflow's own messages instead
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(brevitas|qonnx|hls4ml|torch|tf_keras|qkeras|tensorflow)\.")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    _quiet_libraries()
    try:
        return args.func(args)
    except FpgaflowError as e:
        print(f"fpgaflow: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fpgaflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
