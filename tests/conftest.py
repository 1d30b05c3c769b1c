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
    from fpgaflow.core.spec import load_design

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


def _build(tmp_path_factory, design, *args):
    """build/ with the design's project, made by the CLI (`fpgaflow hls design *args`)."""
    build = tmp_path_factory.mktemp(f"build-{design}")
    r = run_cli("hls", design, *args, build=build)
    assert r.returncode == 0, r.stdout + r.stderr
    return build


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """build/ with the lenet hls4ml project, made by the CLI from the committed weights."""
    return _build(tmp_path_factory, "lenet")


@pytest.fixture(scope="session")
def built_qkeras(tmp_path_factory):
    """build/ with the lenet_qkeras hls4ml project, made by the CLI from the committed weights."""
    return _build(tmp_path_factory, "lenet_qkeras")


def narrow(project, layer, width_delta, int_delta):
    """Narrow the output type of one layer in the generated defines.h: a real fault."""
    import json
    import re

    manifest = json.loads((project / "fpgaflow.json").read_text())
    type_name = next(t["type"] for t in manifest["traced_layers"] if t["name"] == layer)
    defines = project / "firmware" / "defines.h"
    text, count = re.subn(rf"ap_fixed<(\d+),(\d+)>(, [^>]*>)? {type_name};",
                          lambda m: f"ap_fixed<{int(m[1]) + width_delta},{int(m[2]) + int_delta}>{m[3] or ''} {type_name};",
                          defines.read_text())
    assert count == 1
    defines.write_text(text)


def design_copy(tmp_path, name: str, **changes) -> dict:
    """designs/<name> copied under tmp_path, its design.yaml's top-level sections replaced by
    `changes`; the environment that makes the CLI see it."""
    import shutil

    import yaml

    root = tmp_path / "designs"
    shutil.copytree(ROOT / "designs" / name, root / name)
    spec = yaml.safe_load((root / name / "design.yaml").read_text())
    spec.update(changes)
    (root / name / "design.yaml").write_text(yaml.safe_dump(spec))
    return {**os.environ, "FPGAFLOW_DESIGNS": str(root)}


def _write_idx(path, array):
    import numpy as np

    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(bytes([0, 0, 0x08, array.ndim]) + dims + np.asarray(array, dtype=np.uint8).tobytes())


def small_world(tmp_path, mnist_dir, design, n_train=2000, n_test=400, **train):
    """A designs folder holding one design with `train` settings changed, and the first
    n_train/n_test real MNIST images written as IDX files: quick real training runs.
    Returns (folder, env for run_cli)."""
    import shutil

    import yaml

    from fpgaflow.core.data import load_split

    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for split, stem, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images, labels = load_split(mnist_dir, split)
        _write_idx(data / f"{stem}-images-idx3-ubyte", images[:n])
        _write_idx(data / f"{stem}-labels-idx1-ubyte", labels[:n])
    designs = tmp_path / "designs"
    shutil.copytree(ROOT / "designs" / design, designs / design, ignore=shutil.ignore_patterns("*.pt", "*.h5"))
    spec_path = designs / design / "design.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["train"].update(train)
    spec_path.write_text(yaml.safe_dump(spec))
    return tmp_path, {**os.environ, "FPGAFLOW_DATA": str(data), "FPGAFLOW_DESIGNS": str(designs)}
