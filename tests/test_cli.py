"""Every user mistake is one clear line on stderr and a non-zero exit, never a traceback."""
import os
import shutil

import pytest

from conftest import ROOT, run_cli as run


def assert_clear_error(r, *needles):
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


def test_list_shows_lenet():
    r = run("list")
    lines = {line.split()[0]: line for line in r.stdout.splitlines()}
    assert r.returncode == 0 and {"lenet", "lenet_qkeras", "dscnn"} <= set(lines)
    assert "test accuracy 0.9938" in lines["lenet"]


def test_help_lists_commands():
    r = run("--help")
    assert r.returncode == 0
    for c in ("list", "train", "hls", "csim"):
        assert c in r.stdout


def test_unknown_design():
    assert_clear_error(run("hls", "lenet9"), "unknown design 'lenet9'", "known designs: ", "lenet")


def test_path_as_design_name():
    assert_clear_error(run("csim", "../../etc"), "invalid design name")


def designs_copy(tmp_path, mutate):
    root = tmp_path / "designs"
    shutil.copytree(ROOT / "designs" / "lenet", root / "lenet")
    mutate(root / "lenet")
    return {**os.environ, "FPGAFLOW_DESIGNS": str(root)}


def test_corrupt_weights(tmp_path):
    env = designs_copy(tmp_path, lambda d: (d / "weights.pt").write_bytes(b"not a checkpoint"))
    assert_clear_error(run("hls", "lenet", env=env, build=tmp_path / "b"), "cannot load weights", "weights.pt")
    assert not (tmp_path / "b" / "lenet" / "hls4ml").exists()


def test_pickled_code_is_refused(tmp_path):
    import torch

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    env = designs_copy(tmp_path, lambda d: torch.save({"x": Evil()}, d / "weights.pt"))
    r = run("hls", "lenet", env=env, build=tmp_path / "b")
    assert_clear_error(r, "cannot load weights")
    assert "pwned" not in r.stdout


def test_missing_weights(tmp_path):
    env = designs_copy(tmp_path, lambda d: (d / "weights.pt").unlink())
    assert_clear_error(run("hls", "lenet", env=env, build=tmp_path / "b"), "weights.pt not found", "fpgaflow train lenet")


def test_malformed_design_yaml(tmp_path):
    env = designs_copy(tmp_path, lambda d: (d / "design.yaml").write_text("name: lenet\nlayers: [\n"))
    assert_clear_error(run("hls", "lenet", env=env), "design.yaml: malformed YAML at line")


def test_missing_data_dir(tmp_path):
    env = {**os.environ, "FPGAFLOW_DATA": str(tmp_path / "nowhere")}
    assert_clear_error(run("train", "lenet", "--epochs", "0", "--out", str(tmp_path), env=env),
                       "data directory not found", "nowhere")


@pytest.mark.slow
def test_missing_gxx(tmp_path, built):
    build = tmp_path / "b"
    shutil.copytree(built / "lenet" / "hls4ml", build / "lenet" / "hls4ml", symlinks=True)  # the session's project
    # a PATH with python but no g++
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "sh"):
        os.symlink(shutil.which(tool), bindir / tool)
    env = {**os.environ, "PATH": str(bindir)}
    assert_clear_error(run("csim", "lenet", "-n", "5", env=env, build=build), "g++ not found")
