"""Open place and route on a Lattice ECP5 (the whole flow on a small design, synthesis to the
netlist's simulation, is test_import's jets test): what is refused, in one line."""
from __future__ import annotations

import pytest
from conftest import run_cli

pytestmark = pytest.mark.slow

PART = "LFE5U-85F-6BG381C"


def test_pnr_of_a_xilinx_part_is_one_line_naming_the_option(tmp_path):
    r = run_cli("pnr", "lenet", "--no-progress", build=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "xczu7ev-ffvc1156-2-e is not a part open place and route reaches" in r.stderr and "--part" in r.stderr
    assert not (tmp_path / "lenet").exists()
    r = run_cli("hls", "lenet", "--part", PART, build=tmp_path)   # hls4ml writes Vitis projects: Xilinx only
    assert r.returncode == 2 and "the hls4ml backend builds for xilinx parts" in r.stderr, r.stderr
    r = run_cli("hls", "lenet", "--backend", "finn", "--part", "LFE5U-99F", build=tmp_path)
    assert r.returncode == 2 and "unknown part 'LFE5U-99F'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
