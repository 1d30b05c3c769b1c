import json

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow

KEYS = {"csim_img_per_s", "csim_exact", "csim_n", "reference_cpu_img_per_s", "reference_gpu_img_per_s",
        "compile_s_cold", "compile_s_cached", "peak_rss_mb"}


def test_bench_writes_its_schema(built):
    r = run_cli("bench", "lenet", "-n", "60", build=built)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads((built / "bench.json").read_text())
    row = data["designs"]["lenet"]
    assert KEYS <= set(row) and {"cpu", "cores"} <= set(data["machine"])
    assert row["csim_n"] == 60 and row["csim_exact"] is True and row["csim_stock_equals_fast"] is True
    assert row["csim_img_per_s"] > 0 and row["compile_s_cold"] > row["compile_s_cached"]
    assert "C-sim img/s" in r.stdout and "lenet" in r.stdout
