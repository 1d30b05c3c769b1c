"""The `fpgaflow` command: a thin layer over the stages. Every failure the user can cause
(bad design, missing data, missing tool) is one line on stderr and a non-zero exit.

Backends come from fpgaflow.backends' registry and the train flags from train.options:
nothing here branches on a backend's or a framework's name."""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from .core.errors import FpgaflowError


def cmd_list(args) -> int:
    from .core.spec import designs_root, list_designs, load_design

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


def cmd_train(args) -> int:
    from .core.spec import load_design
    from .train.options import scaled_given, worker_argv

    design = load_design(args.design)
    extra = scaled_given(args)
    several = args.nproc > 1 or args.nnodes > 1
    if not design.framework.scaled_training and (extra or args.nproc > 1):
        raise FpgaflowError(f"{', '.join('--' + k.replace('_', '-') for k in extra) or '--nproc'}: "
                            f"distributed and scaled training is for Brevitas designs; {design.name} is {design.framework.name}")
    if several and design.spec["train"]["distill"]["alpha"] > 0 and not args.no_distill:
        raise FpgaflowError(f"{design.name} distills from a float teacher, and distillation trains with one process: "
                            f"drop --nproc/--nnodes, or pass --no-distill")
    if several and "WORLD_SIZE" not in os.environ:
        from .train.distributed import launch

        argv = ["--build-dir", args.build_dir, "train", args.design, *worker_argv(args)]
        return launch(argv, args.nproc, args.nnodes, args.node_rank, args.rdzv_endpoint)
    if args.parallel == "pipeline" and "WORLD_SIZE" not in os.environ:
        raise FpgaflowError("--parallel pipeline runs 2 stages: add --nproc 2")
    if args.no_distill:
        if not design.framework.scaled_training:
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


def _print_pruned_channels(design) -> None:
    from .core.layers import resolve

    built = {l.name: l for l in resolve(design.spec)}  # batch normalizations are folded away
    cut = [f"{a.name} {a.width}->{built[a.name].width}" for a in resolve(design.spec, as_trained=True)
           if a.name in built and a.width != built[a.name].width]
    if cut:
        print(f"channel-pruned (trained -> built): {', '.join(cut)}")


def cmd_hls(args) -> int:
    from .backends import get_backend
    from .core.spec import load_design

    design = load_design(args.design).with_target(args.target_fps, args.target_latency_us, args.part)
    backend = get_backend(args.backend)
    _print_pruned_channels(design)
    return backend.summary(backend.build(design, args.build_dir, progress=not args.no_progress, inexact=args.inexact))


def cmd_csim(args) -> int:
    from .backends import get_backend
    from .core.spec import load_design

    design = load_design(args.design)
    return get_backend(args.backend).verify(design, args.build_dir, args)


def cmd_synth(args) -> int:
    from .backends import get_backend
    from .core.spec import load_design

    return get_backend(args.backend).synth(load_design(args.design), Path(args.build_dir))


def cmd_synth_oss(args) -> int:
    from .backends import oss
    from .core.spec import load_design

    design = load_design(args.design)
    if args.backend == "finn":
        from .backends.finn.rtl.command import synth_oss

        return synth_oss(design, args.build_dir, layers=args.layer, progress=not args.no_progress)
    return oss.run(design, args.build_dir, layer=args.layer)


def cmd_pnr(args) -> int:
    from .backends import get_backend
    from .core.spec import load_design

    return get_backend(args.backend).pnr(load_design(args.design), Path(args.build_dir), args.part,
                                         progress=not args.no_progress)


def cmd_import(args) -> int:
    from .imports.command import import_model

    import_model(args.model, args.name, args.data, force=args.force, description=args.description,
                 input_bits=args.input_bits, input_int_bits=args.input_int_bits)
    return 0


def cmd_check(args) -> int:
    from .imports.check import run_check

    return run_check(args.design, args.build_dir, json_out=args.json)


def cmd_report(args) -> int:
    from .reports.command import run_report

    return run_report(args)


def cmd_bench(args) -> int:
    from .bench.run import fpga_lines, inference_tables, run_bench, table
    from .core.spec import list_designs, load_design

    names = args.designs or [n for n in list_designs() if load_design(n).weights.exists()]
    designs = [load_design(n) for n in names]
    if args.train_steps < 0:
        raise FpgaflowError(f"--train-steps {args.train_steps}: must be >= 0 (0: training speed not measured)")
    data = run_bench(designs, Path(args.build_dir), n=args.n, train_steps=args.train_steps)
    print(table(data))
    print()
    print(inference_tables(data))
    print()
    print(fpga_lines(data))
    print(f"machine: {data['machine']['cpu']}, {data['machine']['cores']} cores; "
          f"wrote {Path(args.build_dir) / 'bench.json'}")
    # a backend that cannot take a design is a reason in its rows, not a failure; a mismatch is
    return 1 if any(data["designs"][n].get("csim_exact") is False for n in names) else 0


def add_backend(s) -> None:
    from .backends import BACKENDS, DEFAULT

    s.add_argument("--backend", default=DEFAULT, choices=list(BACKENDS),
                   help="hls4ml (default; QKeras directly, Brevitas via QONNX) or finn (Brevitas via QONNX)")


def add_rtl_flags(s) -> None:
    s.add_argument("--rtl", action="store_true",
                   help="FINN: also simulate the stitched RTL accelerator in Verilator, cycle by cycle (stage rtl)")
    s.add_argument("--netlist", action="store_true",
                   help="FINN: also simulate the ECP5 netlist `fpgaflow pnr` synthesized (stage netlist): Yosys kept "
                        "the function")
    s.add_argument("--layer-cycles", nargs="?", const="all", metavar="LAYER,...",
                   help="with --rtl: also simulate each RTL layer alone (one Verilator build each) for its own "
                        "cycles per frame next to FINN's estimate (default: every compute layer)")


def add_import_commands(sub) -> None:
    s = sub.add_parser("import", help="a design folder from your own model file (QONNX or QKeras .h5) and .npz data",
                       description="fpgaflow import my_mlp.qonnx.onnx --name jets --data data/jets.npz")
    s.add_argument("model", help="QONNX file (Brevitas export_qonnx; a <file>.onnx.data beside it is read too) or a "
                                 "QKeras model file (.h5)")
    s.add_argument("--name", required=True, help="the design's name: designs/<name>/")
    s.add_argument("--data", required=True, help=".npz with x_train, y_train, x_test, y_test, or a folder of "
                                                 "MNIST-format IDX files (pixels / 255)")
    s.add_argument("--input-bits", type=int, metavar="B", help="a model without an input quantizer: the hardware's "
                   "input type ap_fixed<B, I> (with --input-int-bits; default: the data's own power-of-two grid)")
    s.add_argument("--input-int-bits", type=int, metavar="I", help="integer bits of that type, sign included")
    s.add_argument("--description", help="one line for design.yaml (default: where it came from)")
    s.add_argument("--force", action="store_true", help="replace an existing design of that name")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("check", help="per node of the design's model: whether hls4ml and FINN map it and whether it "
                                     "can be bit-exact there (no build)")
    s.add_argument("design")
    s.add_argument("--json", action="store_true", help="print the check as JSON")
    s.set_defaults(func=cmd_check)


def cmd_sweep(args) -> int:
    if args.best:
        from .explore.best import write_best

        return write_best(args)
    if not args.design:
        raise FpgaflowError("sweep: name the design to sweep (or --best DESIGN/SWEEP)")
    from .explore.command import run_sweep

    return run_sweep(args)


def add_sweep_command(sub) -> None:
    s = sub.add_parser("sweep", help="design-space exploration on Ray: train, build, estimate and verify every point "
                                     "of a grid or a multi-objective search; results.jsonl, pareto.json, sweep.html",
                       description="fpgaflow sweep lenet --grid weight_bits=2,3,4 prune.sparsity=0,0.5 "
                                   "target_fps=10000,100000 --epochs 1")
    s.add_argument("design", nargs="?")
    s.add_argument("--grid", nargs="+", metavar="KEY=V1,V2",
                   help="spec keys by dotted path (quant.weight_bits) or short name (weight_bits, act_bits, sparsity, "
                        "target_fps, reuse_factor, ...), and `backend`; the grid is every combination")
    s.add_argument("--config", help="a sweep file (YAML): name, grid, search, backends, epochs, steps, images, "
                                    "cpus_per_trial; flags override it")
    s.add_argument("--name", help="the sweep's name: build/<design>/sweep/<name> (default: the file's stem, or sweep)")
    s.add_argument("--backend", help="comma-separated backends each point is built with (default: every backend "
                                     "that takes the design)")
    s.add_argument("--epochs", type=int, help="training epochs per point (default 1)")
    s.add_argument("--steps", type=int, help="at most this many optimizer steps per point (Brevitas designs)")
    s.add_argument("-n", "--images", type=int, help="test images each backend is verified on, bit for bit (default 200)")
    s.add_argument("--cpus-per-trial", type=int, help="CPUs Ray reserves for each point (default 1)")
    s.add_argument("--memory-gb", type=float, help="memory Ray reserves for each point, in GB (default: none "
                                                   "reserved; results record each point's peak)")
    s.add_argument("--address", help="a running Ray cluster: ray://head:10001 (Ray Client) or head:6379 on one of "
                                      "its nodes (default: a local Ray instance on this machine)")
    s.add_argument("--resume", action="store_true", help="finish the sweep of that name: points that ended are "
                                                        "skipped, failed and missing ones run")
    s.add_argument("--force", action="store_true", help="start the sweep of that name again from nothing")
    s.add_argument("--search", choices=["nsga2"], help="a multi-objective search (Optuna's NSGA-II through Ray "
                                                       "Tune) over the grid's values instead of every combination")
    s.add_argument("--trials", type=int, help="with --search: points to try (default 20)")
    s.add_argument("--objectives", help="with --search: comma-separated, e.g. accuracy,LUT (default) or "
                                        "accuracy,DSP,latency_us")
    s.add_argument("--seed", type=int, help="with --search: the sampler's seed (default 0)")
    s.add_argument("--best", metavar="DESIGN/SWEEP",
                   help="write the most accurate bit-exact point that fits the limits as a new design folder")
    s.add_argument("--to", help="with --best: the new design's name (default <design>_<sweep>_best)")
    for r in ("lut", "ff", "dsp", "bram"):
        s.add_argument(f"--max-{r}", type=int, help=f"with --best: at most this many {r.upper()}"
                                                    + (" (BRAM_18K)" if r == "bram" else ""))
    s.add_argument("--min-fps", type=float, help="with --best: at least this many frames/s")
    s.add_argument("--max-latency-us", type=float, help="with --best: at most this latency")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sweep)


def add_synth_commands(sub) -> None:
    s = sub.add_parser("synth", help="run Vitis/Vivado HLS synthesis of the project where the tool is installed")
    s.add_argument("design")
    add_backend(s)
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("synth-oss", help="open-source synthesis with Yosys synth_xilinx: every RTL layer of the FINN "
                                         "build (--backend finn), or a dense layer as da4ml Verilog (hls4ml)")
    s.add_argument("design")
    add_backend(s)
    s.add_argument("--layer", help="hls4ml: the dense layer (default: the last one); finn: RTL layers to synthesize, "
                                   "comma-separated (default: all)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_synth_oss)

    s = sub.add_parser("pnr", help="the FINN accelerator on a Lattice ECP5: Yosys synth_ecp5, nextpnr-ecp5 place and "
                                   "route at the design's clock, timing, ecppack bitstream (open tools, from the venv)",
                       description="fpgaflow pnr lenet --backend finn --part LFE5U-85F-6BG381C")
    s.add_argument("design")
    add_backend(s)
    s.add_argument("--part", help="a Lattice ECP5 part of fpgaflow/core/parts.yaml (default: the design's target.part)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_pnr, backend="finn")


def parser() -> argparse.ArgumentParser:
    from .train.options import add_train_flags
    from .verify.references import ALL, DEFAULT, REFERENCES

    p = argparse.ArgumentParser(prog="fpgaflow", description="Quantization-aware training to bit-exact FPGA designs.")
    p.add_argument("--build-dir", default="build", help="where stage artefacts go (default: build)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("list", help="list the designs under designs/")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("train", help="quantization-aware training; writes designs/<design>/weights.pt (or .h5)")
    s.add_argument("design")
    add_train_flags(s)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("hls", help="export (QONNX or Keras) and write the HLS project: build/<design>/hls4ml "
                                   "(or build/<design>/finn with --backend finn)")
    s.add_argument("design")
    add_backend(s)
    s.add_argument("--target-fps", type=int, help="frames per second to fold for (both backends; overrides target.fps; default 10,000)")
    s.add_argument("--target-latency-us", type=float,
                   help="latency to fold for, in microseconds (both backends; overrides target.latency_us)")
    s.add_argument("--part", help="the FPGA part to build for (overrides target.part; fpgaflow/core/parts.yaml lists "
                                  "them; Lattice ECP5 parts: FINN only, then `fpgaflow pnr`)")
    s.add_argument("--inexact", action="store_true",
                   help="build a model that `fpgaflow check` says cannot be bit-exact; verification then reports the "
                        "largest difference and the argmax agreement")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_hls)

    add_import_commands(sub)

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
    add_rtl_flags(s)
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
    s.add_argument("--sweep-fps", metavar="FPS,FPS,...",
                   help="fold the design for each target frames/s with every backend that takes it (estimates) and "
                        "draw throughput against LUT/DSP/BRAM on the page; writes build/<design>/sweep-fps.json")
    add_backend(s)
    s.set_defaults(func=cmd_report)

    add_synth_commands(sub)
    add_sweep_command(sub)

    s = sub.add_parser("bench", help="C-sim and reference speed, compile times, memory: build/bench.json")
    s.add_argument("designs", nargs="*", help="designs to measure (default: every trained design)")
    s.add_argument("-n", "--n", type=int, help="test images per design (default: all)")
    s.add_argument("--train-steps", type=int, default=100,
                   help="optimizer steps of the training-speed runs (default 100; 0: not measured)")
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
