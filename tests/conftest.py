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
