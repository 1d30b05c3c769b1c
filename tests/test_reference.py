"""Reference modes: CPU always; GPU only where CUDA exists, and never a silent CPU stand-in."""
import json

import numpy as np
import pytest
import torch

from conftest import run_cli
from fpgaflow.core.data import load_split, to_input
from fpgaflow.core.errors import FpgaflowError
from fpgaflow.verify.references import reference


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where there is no CUDA")
def test_cuda_reference_without_cuda_is_a_clear_error(lenet):
    with pytest.raises(FpgaflowError, match="no CUDA device here"):
        reference("torch-cuda", lenet)
    for ref in ("torch-cuda", "all"):
        r = run_cli("csim", "lenet", "-n", "5", "--reference", ref)
        assert r.returncode == 2 and "no CUDA device here" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.gpu
def test_cuda_reference_equals_cpu(lenet, mnist_dir):
    images, _ = load_split(mnist_dir, "test")
    x = to_input(images)
    assert np.array_equal(reference("torch-cuda", lenet)(x), reference("torch-cpu", lenet)(x))


@pytest.mark.gpu
@pytest.mark.slow
def test_three_way_csim_cpu_gpu(built):
    r = run_cli("csim", "lenet", "-n", "500", "--reference", "all", "--no-progress", build=built)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads((built / "lenet" / "hls4ml" / "verify.json").read_text())
    assert v["reference"] == "torch-cpu+torch-cuda" and v["mismatches"] == 0
    assert {c["exact"] for c in v["comparisons"].values()} == {500}
