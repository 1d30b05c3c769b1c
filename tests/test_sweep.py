"""Design-space sweeps (`fpgaflow sweep`) on a real local Ray instance: points trained, built,
estimated and verified bit for bit; a trial's worker killed midway is recorded as failed and
`--resume` finishes it; the page in headless Chromium; `--best` writes a design that builds.
The sweep runs a small CNN of the test's own, in a designs folder of the test's own."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from fpgaflow.core.errors import FpgaflowError
from fpgaflow.core.spec import load_design
from fpgaflow.explore import results
from fpgaflow.explore.space import canonical, grid_points, parse_grid, point_hash, point_spec

TINY = """name: tiny
description: a small CNN for the sweep tests
framework: brevitas
dataset: {name: mnist, input_shape: [1, 28, 28], num_classes: 10}
quant: {input_bits: 8, weight_bits: 4, act_bits: 4, bias_bits: 16}
layers:
  - {type: conv, filters: 4, kernel: 5, stride: 2}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
  - {type: dense, units: 10, activation: none}
train: {seed: 0, epochs: 1, batch_size: 64, lr: 0.01, val_size: 1000}
hls4ml: {project_name: tiny}
"""
SWEEP = ["sweep", "tiny", "--grid", "weight_bits=3,4", "--steps", "20", "-n", "20", "--backend", "hls4ml",
         "--name", "kill", "--no-progress"]


def _tree(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(str(p.relative_to(folder)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    (root / "designs" / "tiny").mkdir(parents=True)
    (root / "designs" / "tiny" / "design.yaml").write_text(TINY)
    return root, {**os.environ, "FPGAFLOW_DESIGNS": str(root / "designs")}


# --- the space: keys, values, points, hashes (no Ray) ---

def test_keys_resolve_by_dotted_path_or_short_name_and_bad_ones_are_refused():
    assert canonical("weight_bits") == "quant.weight_bits" and canonical("target_fps") == "target.fps"
    assert canonical("prune.sparsity") == "prune.sparsity" and canonical("budget.LUT") == "budget.LUT"
    for bad, said in (("quant.weight_width", "no such key in quant"), ("layers", "what makes the design"),
                      ("quant", "a section"), ("train.seed.x", "a value, not a section")):
        with pytest.raises(FpgaflowError, match=said):
            canonical(bad)
    space = parse_grid(["weight_bits=2,3,4", "sparsity=0,0.5", "target_fps=1e4,100000"])
    assert space == {"quant.weight_bits": [2, 3, 4], "prune.sparsity": [0, 0.5], "target.fps": [10000.0, 100000]}
    assert len(grid_points(space)) == 12


def test_each_point_is_checked_as_a_design_file_and_named_by_its_whole_spec(lenet):
    settings = {"backends": ["hls4ml"], "epochs": 1, "steps": None, "images": 200}
    a = point_spec(lenet.spec, {"quant.weight_bits": 2, "target.fps": 1e5})
    assert a["quant"]["weight_bits"] == 2 and a["target"]["fps"] == 100000
    h = point_hash(a, {"quant.weight_bits": 2}, settings)
    assert h == point_hash(point_spec(lenet.spec, {"target.fps": 100000, "quant.weight_bits": 2}), {}, settings)
    assert h != point_hash(a, {}, {**settings, "epochs": 2}) != point_hash(a, {}, {**settings, "backends": ["finn"]})
    with pytest.raises(FpgaflowError, match=r"quant.weight_bits=1: quant.weight_bits: 1 is below the minimum 2"):
        point_spec(lenet.spec, {"quant.weight_bits": 1})


def test_driver_and_trial_name_a_point_alike_and_hardware_keys_share_a_training(lenet, tmp_path):
    """lenet's dataset.path is relative to its folder: the job makes it absolute for the trials,
    and the driver's --resume must hash the point as the trial does."""
    from fpgaflow.explore.command import job_of
    from fpgaflow.explore.point import job_hash, point_design
    from fpgaflow.explore.space import train_hash, training_first

    s = {"backends": ["hls4ml"], "epochs": 1, "steps": None, "images": 200, "cpus_per_trial": 1, "memory_gb": None,
         "search": None}
    job = job_of(lenet, s, tmp_path)
    assert Path(job["spec"]["dataset"]["path"]).is_absolute()
    point = {"quant.weight_bits": 3, "target.fps": 20000}
    design, h = point_design(job, point)
    assert job_hash(job, point) == h and design.dir == tmp_path / "points" / h / "design"
    a, b = (point_spec(job["spec"], {"quant.weight_bits": 3, "target.fps": f}) for f in (10000, 100000))
    assert train_hash(a, s) == train_hash(b, s) != train_hash(point_spec(job["spec"], {"quant.weight_bits": 2}), s)
    points = grid_points({"quant.weight_bits": [2, 3], "target.fps": [10000, 100000]})
    assert [p["target.fps"] for p in training_first(job["spec"], points, s)] == [10000, 10000, 100000, 100000]


def test_bad_sweeps_are_one_line_and_write_nothing(tmp_path, capsys):
    from fpgaflow.cli import main

    def run(*args):
        code = main(["--build-dir", str(tmp_path / "build"), *args])
        return code, capsys.readouterr().err

    for args, said in ((["--grid", "weight_bits=1,4"], "is below the minimum"),
                       (["--grid", "bogus=1"], "bogus: no such key"),
                       (["--grid", "weight_bits"], "expected KEY=VALUE"),
                       (["--grid", "weight_bits=4", "--backend", "vivado"], "unknown backend"),
                       (["--grid", "weight_bits=4", "--search", "nsga2", "--objectives", "accuracy"], "two or more"),
                       (["--config", str(tmp_path / "none.yaml")], "no such file"),
                       ([], "nothing to sweep")):
        code, err = run("sweep", "lenet", *args)
        assert code == 2 and err.count("\n") == 1 and said in err, (args, err)
    code, err = run("sweep", "--best", "lenet/none")
    assert code == 2 and "no results" in err
    assert not (tmp_path / "build").exists()


def test_pareto_front_keeps_exactly_the_non_dominated_entries():
    def rec(h, acc, lut, exact=True, error=None):
        be = {"exact": exact, "n": 10, "mismatches": 0 if exact else 1, "fps": 1000.0, "latency_us": 5.0,
              "resources": {"LUT": lut, "FF": None, "DSP": 0, "BRAM_18K": 1, "URAM": 0}, "error": error}
        return {"point": {"quant.weight_bits": h}, "hash": str(h), "accuracy": acc, "error": None,
                "backends": {"hls4ml": be}}
    records = [rec(1, 0.90, 100), rec(2, 0.95, 300), rec(3, 0.93, 400), rec(4, 0.97, 900), rec(5, 0.99, 50, False),
               rec(6, 0.99, 10, True, "build failed")]
    front = results.pareto(records)["accuracy vs LUT"]
    assert [e["hash"] for e in front] == ["1", "2", "4"]  # 3 is beaten by 2; 5 not exact; 6 failed
    items = results.entries(records)
    pair = results.PAIRS[0]
    for e in items:  # every entry off the front is beaten by one on it
        if e["hash"] not in ("1", "2", "4"):
            assert any(f["accuracy"] >= e["record"]["accuracy"] and f["LUT"] <= e["figures"]["resources"]["LUT"]
                       for f in front)
    assert len(results.front(items, pair)) == 3


# --- real Ray ---

def _points(build: Path) -> Path:
    return build / "tiny" / "sweep" / "kill" / "points"


@pytest.mark.slow
def test_a_killed_trial_is_recorded_the_other_finishes_and_resume_completes_it(space):
    root, env = space
    build = root / "build"
    designs_before = _tree(root / "designs")
    cmd = [sys.executable, "-m", "fpgaflow", "--build-dir", str(build), *SWEEP]
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed, deadline = None, time.time() + 600
    while p.poll() is None and killed is None and time.time() < deadline:
        for st in _points(build).glob("*/status.json"):
            s = json.loads(st.read_text())
            if s["stage"] == "hls4ml":  # trained, now building: midway
                os.kill(s["pid"], signal.SIGKILL)
                killed = st.parent.name
                break
        time.sleep(0.1)
    out, _ = p.communicate(timeout=600)
    assert killed is not None, out
    assert p.returncode == 1, out
    log = build / "tiny" / "sweep" / "kill" / "results.jsonl"
    first = [json.loads(l) for l in log.read_text().splitlines()]
    assert len(first) == 2
    dead = next(r for r in first if r["hash"] == killed)
    other = next(r for r in first if r["hash"] != killed)
    assert "worker process" in dead["error"] and "died" in dead["error"] and dead["backends"] == {}
    assert other["error"] is None and other["backends"]["hls4ml"]["exact"] is True
    assert other["backends"]["hls4ml"]["n"] == 20 and other["backends"]["hls4ml"]["resources"]["LUT"] > 0
    assert "1 failed" in out

    r = run_cli("--build-dir", str(build), *SWEEP, "--resume", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 of 2 points to run" in r.stdout
    lines = [json.loads(l) for l in log.read_text().splitlines()]
    assert [l["hash"] for l in lines] == [first[0]["hash"], first[1]["hash"], killed]  # only the killed one ran
    assert lines[-1]["error"] is None and lines[-1]["backends"]["hls4ml"]["exact"] is True
    assert (_points(build) / killed / "result.json").is_file()

    r = run_cli("--build-dir", str(build), "sweep", "tiny", "--name", "kill", "--resume", env=env)  # its own settings
    assert r.returncode == 0 and "nothing to run" in r.stdout, r.stdout + r.stderr
    assert len(log.read_text().splitlines()) == 3
    pareto = json.loads((log.parent / "pareto.json").read_text())
    assert {e["hash"] for e in pareto["fronts"]["accuracy vs LUT"]} <= {killed, other["hash"]}
    assert _tree(root / "designs") == designs_before  # nothing under designs/ until --best


@pytest.mark.slow
def test_sweep_page_in_a_real_headless_browser(space):
    from test_reports import chromium, console_errors, headless_dom

    if chromium() is None:
        pytest.skip("needs Debian's chromium for the page check")
    root, _ = space
    page = root / "build" / "tiny" / "sweep" / "kill" / "sweep.html"
    if not page.is_file():
        pytest.skip("needs the sweep of the killed-trial test")
    p = headless_dom(page, root / "profile")
    dom = p.stdout
    assert 'data-ready="1"' in dom, p.stderr[-2000:]
    assert 'data-charts="5"' in dom and 'data-rows="2"' in dom and 'data-agrees="true"' in dom
    assert 'data-drawn="2"' in dom and dom.count('class="point"') == 10  # 2 points x 5 charts
    assert '<pre id="errors"></pre>' in dom
    assert console_errors(p) == []


@pytest.mark.slow
def test_best_point_becomes_a_design_that_builds(space):
    root, env = space
    build = root / "build"
    if not (build / "tiny" / "sweep" / "kill" / "results.jsonl").is_file():
        pytest.skip("needs the sweep of the killed-trial test")
    r = run_cli("--build-dir", str(build), "sweep", "--best", "tiny/kill", "--max-lut", "1", env=env)
    assert r.returncode == 2 and "no bit-exact point within LUT <= 1" in r.stderr
    r = run_cli("--build-dir", str(build), "sweep", "--best", "tiny/kill", "--max-lut", "1000000", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = root / "designs" / "tiny_kill_best"
    assert sorted(p.name for p in folder.iterdir()) == ["design.yaml", "metrics.json", "weights.pt"]
    header = (folder / "design.yaml").read_text().splitlines()[0]
    assert header.startswith("# from `fpgaflow sweep` tiny/kill, point ") and "hls4ml" in header
    assert any(p.name in header for p in _points(build).iterdir())
    assert load_design_in(root / "designs", "tiny_kill_best").spec["quant"]["weight_bits"] in (3, 4)
    r = run_cli("--build-dir", str(build), "hls", "tiny_kill_best", "--no-progress", env=env)
    assert r.returncode == 0, r.stdout + r.stderr


def load_design_in(designs: Path, name: str):
    old = os.environ["FPGAFLOW_DESIGNS"]
    os.environ["FPGAFLOW_DESIGNS"] = str(designs)
    try:
        return load_design(name)
    finally:
        os.environ["FPGAFLOW_DESIGNS"] = old


@pytest.mark.slow
def test_multi_objective_search_runs_optuna_nsga2_trials_on_ray_and_resume_extends_it(space):
    root, env = space
    build = root / "build"
    r = run_cli("--build-dir", str(build), "sweep", "tiny", "--grid", "weight_bits=2,3,4,5,6", "act_bits=2,3,4,5",
                "--search", "nsga2", "--trials", "2", "--objectives", "accuracy,LUT", "--steps", "10", "-n", "10",
                "--backend", "hls4ml", "--name", "search", "--no-progress", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    log = build / "tiny" / "sweep" / "search" / "results.jsonl"
    lines = [json.loads(l) for l in log.read_text().splitlines()]
    assert len(lines) == 2 and all(l["backends"]["hls4ml"]["exact"] for l in lines)
    assert all(set(l["point"]) == {"quant.weight_bits", "quant.act_bits"} for l in lines)
    # a larger budget: the two earlier points go to the sampler from their records, one new trial runs
    r = run_cli("--build-dir", str(build), "sweep", "tiny", "--name", "search", "--resume", "--trials", "3",
                "--no-progress", env=env)
    assert r.returncode == 0 and "1 of 3 points to run" in r.stdout, r.stdout + r.stderr
    after = [json.loads(l) for l in log.read_text().splitlines()]
    assert after[:2] == lines and len(after) == 3 and after[2]["hash"] not in {l["hash"] for l in lines}
    assert after[2]["backends"]["hls4ml"]["exact"] and "cached" not in after[2]
