import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / "shared" / "datasets" / "mnist"

# tests read the real MNIST beside the checkout (as CI has it) unless the user points elsewhere
os.environ.setdefault("FPGAFLOW_DATA", str(SHARED_MNIST))
os.environ.setdefault("FPGAFLOW_DESIGNS", str(ROOT / "designs"))


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    path = Path(os.environ["FPGAFLOW_DATA"])
    if not (path / "t10k-images-idx3-ubyte.gz").exists() and not (path / "t10k-images-idx3-ubyte").exists():
        pytest.fail(f"MNIST not found at {path}: set FPGAFLOW_DATA")
    return path


@pytest.fixture(scope="session")
def lenet():
    from fpgaflow.spec import load_design

    return load_design("lenet")


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA: torch.cuda.is_available() is False here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def run_cli(*args, build=None, env=None):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "fpgaflow"] + (["--build-dir", str(build)] if build else []) + list(args)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """build/ with the lenet hls4ml project, made by the CLI from the committed weights."""
    build = tmp_path_factory.mktemp("build")
    r = run_cli("hls", "lenet", build=build)
    assert r.returncode == 0, r.stdout + r.stderr
    return build
