"""Report parsers against real files from public projects (tests/fixtures/reports/README.md),
the one schema, budgets, comparisons, and the HTML page in a real headless browser.
Expected numbers were read off the files' own summary tables."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run_cli
from fpgaflow.core.errors import FpgaflowError
from fpgaflow.reports import collect, parse, summary
from fpgaflow.reports.schema import EMPTY, RESOURCES

FIX = Path(__file__).parent / "fixtures" / "reports"
TOP_KEYS = set(EMPTY)


def res(**kw):
    return {k: kw.get(k) for k in RESOURCES}


def test_vivado_hls_2019_csynth_xml():
    r = parse(FIX / "autoencoder_vivadohls2019" / "csynth.xml")
    assert set(r) >= TOP_KEYS
    assert (r["tool"], r["tool_version"], r["part"], r["top"]) == ("Vivado HLS", "2019.2.1", "xc7z020-clg400-1", "myproject_axi")
    assert r["clock_ns"] == {"target": 5.0, "estimated": 4.429}
    assert r["latency_cycles"] == {"best": 96019, "worst": 96170}
    assert r["interval_cycles"] == {"min": 11266, "max": 95949}
    assert r["resources"] == res(LUT=35689, FF=53257, DSP=118, BRAM_18K=289, URAM=0)
    assert r["available"] == res(LUT=53200, FF=106400, DSP=220, BRAM_18K=280, URAM=0)


def test_vivado_hls_2019_csynth_rpt_has_every_layer():
    r = parse(FIX / "autoencoder_vivadohls2019" / "myproject_csynth.rpt")
    assert (r["tool"], r["tool_version"], r["top"]) == ("Vivado HLS", "2019.2.1", "myproject")
    assert r["resources"] == res(LUT=33365, FF=51414, DSP=118, BRAM_18K=285, URAM=0)
    assert r["latency_cycles"] == {"best": 96014, "worst": 96165} and r["interval_cycles"] == {"min": 4625, "max": 95949}
    assert len(r["layers"]) == 27
    conv = next(l for l in r["layers"] if l["name"] == "conv_2d_cl_array_array_ap_fixed_8u_config17_U0")
    assert conv["latency_cycles"] == {"best": 1296, "worst": 15228} and conv["interval_cycles"] == {"min": 1296, "max": 15228}
    assert conv["resources"] == res(LUT=1664, FF=5022, DSP=30, BRAM_18K=7, URAM=0)


def test_vitis_hls_2024_xml_hierarchy_and_rpt_agree():
    xml = parse(FIX / "ece226_vitis2024" / "csynth.xml")
    rpt = parse(FIX / "ece226_vitis2024" / "myproject_csynth.rpt")
    for r in (xml, rpt):
        assert (r["tool"], r["tool_version"], r["part"]) == ("Vitis HLS", "2024.1", "xcu250-figd2104-2L-e")
        assert r["resources"] == res(LUT=17966, FF=7123, DSP=467, BRAM_18K=29, URAM=0)
        assert r["latency_cycles"] == {"best": 395, "worst": 395} and r["interval_cycles"] == {"min": 390, "max": 390}
        assert len(r["layers"]) == 6
    by_name = {l["name"]: l for l in xml["layers"]}
    conv = by_name["conv_1d_cl_array_ap_fixed_9u_array_ap_fixed_16_6_5_3_0_16u_config2_U0"]
    assert conv["resources"] == res(LUT=11875, FF=3097, DSP=370, BRAM_18K=0, URAM=0)
    assert conv["latency_cycles"] == {"best": 393, "worst": 393}
    assert [l["resources"] for l in xml["layers"]] == [l["resources"] for l in rpt["layers"]]


def test_vitis_hls_2023_module_xml_and_rpt():
    xml = parse(FIX / "jettagger_vitis2023" / "JetTagger_csynth.xml")
    assert (xml["tool"], xml["tool_version"], xml["top"]) == ("Vitis HLS", "2023.2", "JetTagger")
    assert xml["clock_ns"] == {"target": 2.0, "estimated": 1.659}
    assert xml["latency_cycles"] == {"best": 167, "worst": 167} and xml["interval_cycles"] == {"min": 15, "max": 15}
    assert xml["resources"] == res(LUT=871201, FF=568773, DSP=2011, BRAM_18K=10, URAM=0)
    rpt = parse(FIX / "jettagger_vitis2023" / "JetTagger_csynth.rpt")
    assert rpt["resources"] == xml["resources"] and rpt["layers"]


def test_vivado_utilization_ultrascale_bram_tiles_to_18k():
    r = parse(FIX / "dnd_vivado2020" / "vivado_synth.rpt")
    assert (r["tool"], r["tool_version"], r["kind"]) == ("Vivado", "2020.1", "implementation")
    # Block RAM Tile 0.5 (36K tiles) = one 18K block; this part has no URAM row: null, not 0
    assert r["resources"] == res(LUT=31277, FF=4555, DSP=0, BRAM_18K=1, URAM=None)
    assert r["available"] == res(LUT=274080, FF=548160, DSP=2520, BRAM_18K=1824, URAM=None)
    assert r["latency_cycles"] == {"best": None, "worst": None}


@pytest.mark.parametrize("folder, version, part, used, available", [
    ("fullmodel_vivado2019_xcu50", "2019.2", "xcu50fsvh2104-2L",
     res(LUT=264101, FF=298539, DSP=4752, BRAM_18K=754, URAM=115), res(LUT=871680, FF=1743360, DSP=5952, BRAM_18K=2688, URAM=640)),
    ("examplehls4ml_vivado2019_xcvu9p", "2019.2.1", "xcvu9pflga2104-2L",
     res(LUT=60597, FF=14719, DSP=3306, BRAM_18K=3, URAM=0), res(LUT=1182240, FF=2364480, DSP=6840, BRAM_18K=4320, URAM=960)),
    ("hls4mltutorial_vivado2020_xcu250", "2020.1", "xcu250figd2104-2L",
     res(LUT=129289, FF=43298, DSP=5864, BRAM_18K=113, URAM=0), res(LUT=1728000, FF=3456000, DSP=12288, BRAM_18K=5376, URAM=1280)),
])
def test_vivado_utilization_multi_slr_parts(folder, version, part, used, available, capsys):
    """Alveo and VU9P reports carry per-SLR tables with no 'Used' column: they were a
    ValueError traceback ('Used' is not in list); now skipped with a warning naming them."""
    path = FIX / folder / "vivado_synth.rpt"
    r = parse(path)
    assert (r["tool_version"], r["part"], r["kind"]) == (version, part, "implementation")
    assert r["resources"] == used and r["available"] == available
    err = capsys.readouterr().err
    assert f"{path}: table '13. SLR CLB Logic and Dedicated Block Utilization' skipped: no 'Used' column" in err
    cli = run_cli("report", str(path))
    assert cli.returncode == 0 and "Traceback" not in cli.stderr and "skipped" in cli.stderr, cli.stderr


def test_a_report_no_parser_foresaw_is_one_line_naming_the_file(tmp_path):
    """Whatever a parser trips on, the user sees the file, not a traceback."""
    odd = tmp_path / "odd_csynth.rpt"
    odd.mkdir()  # a folder where a file was expected: IsADirectoryError inside the parser
    with pytest.raises(FpgaflowError, match=f"{odd}: cannot read this report \\(IsADirectoryError"):
        parse(odd)


def test_vivado_hls_2020_latency_design():
    r = parse(FIX / "dnd_vivado2020" / "myproject_csynth.rpt")
    assert (r["tool"], r["tool_version"]) == ("Vivado HLS", "2020.1")
    assert r["latency_cycles"] == {"best": 5, "worst": 5} and r["interval_cycles"] == {"min": 1, "max": 1}
    assert r["resources"]["LUT"] == 59561 and len(r["layers"]) == 4


def test_cosim_report():
    r = parse(FIX / "lfads_vivadohls2019" / "myproject_cosim.rpt")
    assert r["kind"] == "cosim" and r["status"] == "Pass" and r["top"] == "myproject"
    assert r["latency_cycles"] == {"best": 5477, "worst": 5477}
    assert r["interval_cycles"] == {"min": None, "max": None}  # NA in the file


def test_yosys_stat_json():
    r = parse(FIX / "fpgaflow_lenet_oss" / "yosys_stat.json")
    # LUT2..LUT6 and FDRE cells of the file's "design" block
    assert (r["tool"], r["tool_version"], r["kind"], r["top"]) == ("Yosys synth_xilinx", "0.23", "implementation", "fc2")
    assert r["resources"] == {"LUT": 12007 + 2569 + 1061 + 568 + 2273, "FF": 4085, "DSP": 0, "BRAM_18K": 0, "URAM": 0}
    assert [l["name"] for l in r["layers"]] == ["fc2"]
    assert r["clock_ns"]["estimated"] is None and r["latency_cycles"]["best"] is None  # Yosys does not time


def test_finn_estimate_files():
    r = parse(FIX / "fpgaflow_lenet_finn" / "estimate_layer_resources.json")
    assert (r["tool"], r["kind"]) == ("FINN estimate", "estimate")
    assert r["resources"] == {"LUT": 11208, "FF": None, "DSP": 1, "BRAM_18K": 123, "URAM": 0}  # the file's "total"
    assert len(r["layers"]) == 11
    swg = next(l for l in r["layers"] if l["name"] == "ConvolutionInputGenerator_rtl_2")
    assert swg["interval_cycles"] == {"min": 16530, "max": 16530} and swg["resources"]["LUT"] == 412
    assert r["latency_cycles"]["best"] == 107737 and r["interval_cycles"]["min"] == 16530
    assert r["bottleneck"] == "ConvolutionInputGenerator_rtl_2"


def test_folder_summary_picks_the_top_report():
    s = summary(collect(FIX / "ece226_vitis2024"))
    assert Path(s["hls"]["source"]).name in ("csynth.xml", "myproject_csynth.rpt")
    assert s["implementation"]["resources"]["LUT"] == 8565 and s["estimate"] is None


@pytest.mark.parametrize("name, content, message", [
    ("csynth.xml", None, "malformed XML"),
    ("myproject_csynth.rpt", None, "without a latency or utilization summary"),
    ("vivado_synth.rpt", None, "without a LUT/register/BRAM/DSP table"),
    ("csynth.xml", "<profile><ReportVersion/></profile>", "not a csynth report"),
    ("x_cosim.rpt", "nothing here", "not a co-simulation report"),
    ("yosys_stat.json", None, "malformed JSON.*truncated"),
    ("yosys_stat.json", '{"creator": "Yosys 0.23", "modules": {"top": {}}}', "no num_cells_by_type"),
    ("estimate_layer_resources.json", None, "malformed JSON.*truncated"),
    ("estimate_layer_resources.json", '{"total": {"LUT": 1}}', "no layers"),
])
def test_truncated_or_wrong_files_name_the_file(tmp_path, name, content, message):
    src = {"csynth.xml": FIX / "autoencoder_vivadohls2019" / "csynth.xml",
           "myproject_csynth.rpt": FIX / "autoencoder_vivadohls2019" / "myproject_csynth.rpt",
           "vivado_synth.rpt": FIX / "dnd_vivado2020" / "vivado_synth.rpt",
           "yosys_stat.json": FIX / "fpgaflow_lenet_oss" / "yosys_stat.json",
           "estimate_layer_resources.json": FIX / "fpgaflow_lenet_finn" / "estimate_layer_resources.json"}.get(name)
    path = tmp_path / name
    path.write_text(content if content is not None else src.read_text()[:900])  # cut off early
    with pytest.raises(FpgaflowError, match=message) as e:
        parse(path)
    assert str(path) in str(e.value)


def test_cli_json_is_the_schema():
    r = run_cli("report", str(FIX / "jettagger_vitis2023"), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["reports"]) == 2 and all(set(x) >= TOP_KEYS for x in data["reports"])
    for x in data["reports"]:
        assert set(x["resources"]) == set(RESOURCES) and set(x["clock_ns"]) == {"target", "estimated"}
        for l in x["layers"]:
            assert {"name", "latency_cycles", "interval_cycles", "resources"} <= set(l)


def test_cli_errors_are_one_line(tmp_path):
    for args, needle in ((["report", "lenet9"], "neither a design nor an existing file"),
                         (["report", str(tmp_path)], "no reports found"),
                         (["report", str(FIX / "dnd_vivado2020"), "--compare"], "--compare takes two builds")):
        r = run_cli(*args)
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr


def designs_with(tmp_path, change):
    root = tmp_path / "designs"
    shutil.copytree(ROOT / "designs" / "lenet", root / "lenet")
    spec = yaml.safe_load((root / "lenet" / "design.yaml").read_text())
    change(spec)
    (root / "lenet" / "design.yaml").write_text(yaml.safe_dump(spec))
    return {**os.environ, "FPGAFLOW_DESIGNS": str(root)}


@pytest.mark.slow
def test_design_report_estimates_and_budget_failure(built, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(built / "lenet", build / "lenet")
    ok = run_cli("report", "lenet", build=build)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Dense_MatMul_0 (fc1)" in ok.stdout
    assert (build / "lenet" / "report.html").is_file()
    est = json.loads((build / "lenet" / "report.json").read_text())["reports"][0]
    fc1 = next(l for l in est["layers"] if l.get("design_layer") == "fc1")
    # fc1 as the default folding (10,000 frames/s) left it: Resource strategy, n / R multipliers,
    # R + the fitted overhead cycles per frame
    m = json.loads((build / "lenet" / "hls4ml" / "fpgaflow.json").read_text())
    rf = next(l["reuse_factor"] for l in m["layers"] if l["name"] == "fc1")
    assert next(l["strategy"] for l in m["layers"] if l["name"] == "fc1") == "Resource"
    assert fc1["macs"] == 800 * 500 and fc1["multipliers"] == -(-400000 // rf) and fc1["latency_cycles"]["best"] == rf + 10
    assert est["interval_cycles"]["max"] <= 20000 == m["fit"]["target_cycles_per_frame"]
    assert fc1["resources"]["DSP"] == 0 < fc1["resources"]["LUT"]  # 4-bit products: LUTs, not DSPs
    for res in ("LUT", "FF", "DSP", "BRAM_18K"):  # totals are the layers' sums plus the design's constant
        assert est["resources"][res] >= sum(l["resources"][res] for l in est["layers"]) > 0 or res == "DSP"
    lut = est["resources"]["LUT"] / est["available"]["LUT"]
    env = designs_with(tmp_path, lambda s: s.update(budget={"LUT": 0.1, "latency_us": 10000}))
    r = run_cli("report", "lenet", build=build, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"BUDGET FAILED lenet: LUT = {lut:.1%} of the part, budget 10%" in r.stdout


@pytest.mark.slow
def test_compare_two_builds_per_layer(built, tmp_path):
    """The default build (folded for 10,000 frames/s) against one with fc1's reuse factor set by
    hand: every layer's delta is b - a, and the totals' delta is the totals' difference."""
    env = designs_with(tmp_path, lambda s: s["hls4ml"].update(reuse_factor={"fc1": 800}))
    other = tmp_path / "other"
    assert run_cli("hls", "lenet", build=other, env=env).returncode == 0
    r = run_cli("report", str(built / "lenet"), str(other / "lenet"), "--compare", "--json")
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)
    rows = {row["name"]: row for row in c["layers"]}
    fc1 = rows["Dense_MatMul_0"]["LUT"]
    assert fc1["a"] != fc1["b"] and fc1["delta"] == fc1["b"] - fc1["a"]
    for res in ("LUT", "BRAM_18K"):
        assert all(row[res]["delta"] == row[res]["b"] - row[res]["a"] for row in c["layers"] if row.get(res))
        assert c["totals"][res]["delta"] == c["totals"][res]["b"] - c["totals"][res]["a"] != 0


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def headless_dom(page: Path, profile: Path) -> subprocess.CompletedProcess:
    """The page as headless Chromium leaves it after its scripts ran: the DOM on stdout, the
    console on stderr."""
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=3000", "--dump-dom", Path(page).as_uri()],
                          capture_output=True, text=True, timeout=120)


def console_errors(p: subprocess.CompletedProcess) -> list[str]:
    return [l for l in p.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]


@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium (make test installs it where apt-get works)")
def test_html_page_in_a_real_headless_browser(tmp_path):
    html = tmp_path / "report.html"
    r = run_cli("report", str(FIX / "ece226_vitis2024"), "--html", str(html))
    assert r.returncode == 0, r.stderr
    p = headless_dom(html, tmp_path / "profile")
    dom = p.stdout
    assert 'data-ready="1"' in dom, p.stderr[-2000:]
    charts = int(dom.split('data-charts="')[1].split('"')[0])
    assert charts >= 6 and dom.count("<svg") == charts  # utilisation, 4 resources, latency
    assert '<pre id="errors"></pre>' in dom
    assert console_errors(p) == []


def test_every_report_of_the_calibration_set_reads():
    """47 vendor reports of 28 public hls4ml designs (tests/fixtures/calibration): each parses,
    and its totals (and csynth's worst-case latency) equal the values read off the file by
    hand for the calibration index."""
    root = Path(__file__).parent / "fixtures" / "calibration"
    index = json.loads((root / "index.json").read_text())
    checked = 0
    for design in index:
        for key in ("reported", "reported_vivado_synth"):
            want = design.get(key)
            if not want:
                continue
            got = parse(root / design["name"] / want["source_file"])
            assert got["resources"] == res(**{k: want.get(k) for k in RESOURCES}), (design["name"], key)
            if key == "reported":
                assert got["latency_cycles"]["worst"] == want["latency_cycles"], design["name"]
            checked += 1
    assert len(index) == 28 and checked == 47
