import gzip

import numpy as np
import pytest

from fpgaflow.core.data import data_dir, load_split, read_idx, to_input
from fpgaflow.core.errors import FpgaflowError


def test_reads_real_mnist(mnist_dir):
    x, y = load_split(mnist_dir, "test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y[:8].tolist() == [7, 2, 1, 0, 4, 1, 4, 9]  # from the dataset's README
    xt, yt = load_split(mnist_dir, "train")
    assert xt.shape == (60000, 28, 28)
    assert yt[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]


def test_raw_and_gzip_read_the_same(mnist_dir, tmp_path):
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        (tmp_path / f"t10k-{kind}").write_bytes(gzip.decompress((mnist_dir / f"t10k-{kind}.gz").read_bytes()))
    x_raw, y_raw = load_split(tmp_path, "test")
    x_gz, y_gz = load_split(mnist_dir, "test")
    assert np.array_equal(x_raw, x_gz) and np.array_equal(y_raw, y_gz)


def test_input_grid_is_exact():
    px = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    x = to_input(px)
    assert x.shape == (1, 1, 16, 16)
    assert np.array_equal(x.ravel() * 256, np.arange(256, dtype=np.float32))


@pytest.mark.parametrize("payload, message", [
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated header"),
    (b"PK\x03\x04garbage-garbage", "bad magic"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "header says"),
])
def test_corrupt_file_named(tmp_path, payload, message):
    bad = tmp_path / "t10k-labels-idx1-ubyte"
    bad.write_bytes(payload)
    with pytest.raises(FpgaflowError, match=message) as e:
        read_idx(bad)
    assert str(bad) in str(e.value)


def test_corrupt_gzip_named(tmp_path):
    bad = tmp_path / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 40)[:-12])
    with pytest.raises(FpgaflowError, match="corrupt data file") as e:
        read_idx(bad)
    assert str(bad) in str(e.value)


def test_missing_file_named(tmp_path):
    with pytest.raises(FpgaflowError, match="t10k-images-idx3-ubyte"):
        load_split(tmp_path, "test")
    with pytest.raises(FpgaflowError, match="data directory not found"):
        load_split(tmp_path / "nope", "test")


def test_env_var_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("FPGAFLOW_DATA", str(tmp_path))
    assert data_dir("/somewhere/else") == tmp_path
    monkeypatch.delenv("FPGAFLOW_DATA")
    assert data_dir("rel/dir", tmp_path) == (tmp_path / "rel/dir").resolve()
    with pytest.raises(FpgaflowError, match="FPGAFLOW_DATA"):
        data_dir(None)


@pytest.mark.parametrize("bits", [2, 4, 8, 10])
def test_input_honours_input_bits(lenet, bits):
    """quant.input_bits = n puts the data on the 2^-n grid the model's input quantizer holds
    (it was pixel/256 whatever n said, off the grid of every n < 8)."""
    import copy

    import torch

    from fpgaflow.core.data import design_images
    from fpgaflow.core.spec import Design, validate
    from fpgaflow.frontends.brevitas.model import build_model

    raw = copy.deepcopy(lenet.spec)
    raw["quant"]["input_bits"] = bits
    design = Design("lenet", lenet.dir, validate(raw))
    x, _ = design_images(design, "test", 200)
    steps = x * 2.0 ** bits
    assert np.array_equal(steps, np.floor(steps)) and x.min() >= 0 and x.max() < 1
    pixels, _ = load_split(data_dir(lenet.spec["dataset"]["path"], lenet.dir), "test")
    assert np.array_equal(x[:, 0], np.floor(pixels[:200] / 2.0 ** max(0, 8 - bits)) / 2.0 ** min(bits, 8))
    # the Brevitas input quantizer leaves such data as it is: every backend is fed what it holds
    quant_input = build_model(design.spec)[0].eval()
    with torch.no_grad():
        assert torch.equal(quant_input(torch.from_numpy(x)).value, torch.from_numpy(x))
