"""Open place and route on a Lattice ECP5: the whole flow on lenet_w2a2 (Yosys synth_ecp5,
nextpnr-ecp5, ecppack, the netlist simulated against Brevitas). Real tools from the venv."""
from __future__ import annotations

import json
import os
import shutil

import pytest
import yaml
from conftest import ROOT, run_cli

pytestmark = pytest.mark.slow

PART = "LFE5U-85F-6BG381C"


def _on_lattice(tmp_path, name: str, clock_ns: float) -> dict:
    """A copy of a built-in design whose target is an ECP5 part: the env that finds it."""
    root = tmp_path / "designs"
    shutil.copytree(ROOT / "designs" / name, root / name)
    spec = yaml.safe_load((root / name / "design.yaml").read_text())
    spec["target"].update(part=PART, clock_ns=clock_ns)
    (root / name / "design.yaml").write_text(yaml.safe_dump(spec))
    return {**os.environ, "FPGAFLOW_DESIGNS": str(root)}


def test_lenet_w2a2_on_an_ecp5_placed_routed_and_netlist_equals_brevitas(tmp_path):
    """lenet_w2a2 (2-bit: every MVAU is fpgaflow's portable one) built for an LFE5U-85F: the
    stitched RTL equals Brevitas at FINN's estimated cycles per frame; Yosys' netlist of it,
    placed and routed, equals Brevitas too, and the report carries the routed clock."""
    env, build = _on_lattice(tmp_path, "lenet_w2a2", clock_ns=8.0), tmp_path / "b"
    r = run_cli("hls", "lenet_w2a2", "--backend", "finn", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("csim", "lenet_w2a2", "--backend", "finn", "-n", "100", "--rtl", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = build / "lenet_w2a2" / "finn"
    v = json.loads((folder / "verify.json").read_text())
    assert [s["stage"] for s in v["stages"]][-1] == "rtl" and all(s["exact"] == s["n"] == 100 for s in v["stages"])
    rtl = v["stages"][-1]
    mvaus = [l for l in rtl["layers"] if l["op_type"] == "MVAU_hls"]
    assert len(mvaus) == 4 and all(l["implementation"] == "fpgaflow hw/fpgaflow_mvau.sv" for l in mvaus)
    assert rtl["cycles_per_frame"] == rtl["estimate"]["cycles_per_frame"]

    r = run_cli("pnr", "lenet_w2a2", "--no-progress", build=build, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    p = json.loads((folder / "pnr.report.json").read_text())
    assert p["kind"] == "place-and-route" and p["part"] == PART
    res, cap = p["resources"], p["available"]
    assert 0 < res["LUT"] <= cap["LUT"] == 83640 and 0 < res["FF"] and 0 < res["BRAM_18K"] <= 208
    # narrow products are LUT adders: no 18x18 multiplier for a 2-bit product
    assert res["DSP"] == 0, p["yosys_cells"]
    f = p["fmax_mhz"]
    assert f["target_mhz"] == 125.0 and f["achieved_mhz"] > 0 and p["timing_met"] == (f["achieved_mhz"] >= 125.0)
    assert (folder / p["bitstream"]["file"]).stat().st_size == p["bitstream"]["bytes"] > 100_000
    assert p["critical_path"]["ns"] > 0 and f"Fmax {f['achieved_mhz']} MHz" in r.stdout
    again = run_cli("pnr", "lenet_w2a2", "--no-progress", build=build, env=env)
    assert again.returncode == 0 and "reused" in again.stdout

    r = run_cli("csim", "lenet_w2a2", "--backend", "finn", "-n", "20", "--netlist", "--no-progress", build=build,
                env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((folder / "verify.json").read_text())
    net = v["stages"][-1]
    assert net["stage"] == "netlist" and net["exact"] == net["n"] == 20
    assert net["cycles_per_frame"] == rtl["cycles_per_frame"]

    r = run_cli("report", "lenet_w2a2", "--backend", "finn", build=build, env=env)
    assert r.returncode == 0 and "place and route" in r.stdout, r.stdout + r.stderr


def test_pnr_of_a_xilinx_part_is_one_line_naming_the_option(tmp_path):
    r = run_cli("pnr", "lenet", "--no-progress", build=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "xczu7ev-ffvc1156-2-e is not a part open place and route reaches" in r.stderr and "--part" in r.stderr
    assert not (tmp_path / "lenet").exists()
