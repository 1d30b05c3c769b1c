"""A design's data: standard IDX files (the MNIST format, gzip or raw) from a directory the
user names, or one .npz file (x_train, y_train, x_test, y_test) of any input shape.

The IDX directory comes from FPGAFLOW_DATA (it wins) or the design file's dataset.path; an
npz file from dataset.path. Inputs are put on the model's input grid before anyone sees them,
so every backend and reference is fed values it holds exactly.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from .errors import FpgaflowError

# IDX type byte -> numpy dtype (big-endian as the format stores it)
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

SPLITS = {"train": "train", "test": "t10k"}


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file; any malformation is an error naming the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise FpgaflowError(f"data file not found: {path}") from None
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise FpgaflowError(f"corrupt data file {path}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise FpgaflowError(f"corrupt data file {path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise FpgaflowError(f"corrupt data file {path}: truncated header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise FpgaflowError(f"corrupt data file {path}: {len(raw)} bytes, header says {expected}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def data_dir(spec_path: str | None, design_dir: Path | None = None) -> Path:
    env = os.environ.get("FPGAFLOW_DATA")
    if env:
        return Path(env).expanduser()
    if not spec_path:
        raise FpgaflowError("no data directory: set FPGAFLOW_DATA or dataset.path in the design file")
    return dataset_file(spec_path, design_dir)


def _find(directory: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (directory / name).exists():
            return directory / name
    raise FpgaflowError(f"data file not found: {directory / (stem + '.gz')} (nor uncompressed); "
                        f"set FPGAFLOW_DATA to the folder holding the IDX files")


PIXEL_DIVISOR = 255.0   # IDX pixels as an imported model takes them unless dataset.pixel_divisor says


def load_split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, H, W], labels int64 [N]) of 'train' or 'test'."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FpgaflowError(f"data directory not found: {directory} (set FPGAFLOW_DATA)")
    prefix = SPLITS[split]
    images = read_idx(_find(directory, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find(directory, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise FpgaflowError(f"{directory}: {split} images {images.shape} and labels {labels.shape} do not match")
    return images, labels.astype(np.int64)


def to_input(images: np.ndarray, bits: int = 8) -> np.ndarray:
    """uint8 pixels -> float32 NCHW on the model's input grid (quant.input_bits = n: steps of
    2^-n). With n = 8 that is pixel/256; fewer bits keep the top n bits of the pixel (what the
    input quantizer's floor does), so every backend is fed values it holds exactly; more bits
    hold pixel/256 as it is. Exact in float32."""
    x = images.astype(np.float32) / 256.0
    if bits < 8:
        x = np.floor(x * 2.0 ** bits) / np.float32(2.0 ** bits)
    return x.astype(np.float32)[:, None, :, :]


def raw_samples(design, split: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """An imported design's samples as the data come (before its host head and input grid):
    an npz file's, or an IDX folder's pixels / dataset.pixel_divisor."""
    dataset = design.spec["dataset"]
    head = design.spec["host"]["head"]
    shape = head["input_shape"] if head["file"] else dataset["input_shape"]
    if dataset["format"] == "npz":
        from .npz import load_npz_split

        x, labels = load_npz_split(dataset_file(dataset["path"], design.dir), split, shape, dataset["num_classes"])
    else:
        x, labels = idx_samples(data_dir(dataset["path"], design.dir), split, shape, dataset["pixel_divisor"])
    return (x, labels) if n is None else (x[:n], labels[:n])


def design_images(design, split: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first n samples of a design's split (all for None) as model input (NCHW images or
    feature vectors, on the input grid), with their labels. An imported model's data go through
    its host head first (spec host.head), as they reach the hardware."""
    if n is not None and n < 1:
        raise FpgaflowError(f"N={n}: need at least one image")
    spec = design.spec
    if spec["quant"]["input"]["scale"] is None and spec["dataset"]["format"] != "npz":   # a built-in design
        images, labels = load_split(data_dir(spec["dataset"]["path"], design.dir), split)
        if n is not None:
            images, labels = images[:n], labels[:n]
        return to_input(images, spec["quant"]["input_bits"]), labels
    from .npz import quantize_input

    x, labels = raw_samples(design, split, n)
    if spec["host"]["head"]["file"]:
        x = design.framework.fn("host_head")(design, x)
    return quantize_input(x, spec["quant"]["input"]), labels


def idx_samples(directory: Path, split: str, shape: list[int], divisor: float | None):
    """An IDX folder's split as an imported model's samples: pixel / divisor in float32 (default
    255: torchvision's ToTensor, bit for bit), arranged as `shape`."""
    from .npz import as_model_input

    images, labels = load_split(directory, split)
    x = images.astype(np.float32) / np.float32(divisor if divisor is not None else PIXEL_DIVISOR)
    return as_model_input(x, shape, f"{directory} {split} images"), labels


def dataset_file(path: str, design_dir: Path | None) -> Path:
    """dataset.path (an IDX folder or an npz file): a relative one is relative to the design's
    folder, so it works from any cwd."""
    p = Path(path).expanduser()
    return p if p.is_absolute() or design_dir is None else (design_dir / p).resolve()


def input_scale(spec: dict) -> float:
    """The input grid's step: the model's input quantizer's scale, else 2^-input_bits."""
    return spec["quant"]["input"]["scale"] or 2.0 ** -spec["quant"]["input_bits"]


def channels_last(x: np.ndarray) -> np.ndarray:
    """NCHW images as NHWC (Keras' layout, the order the hardware streams); vectors as they are."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1) if x.ndim == 4 else x)


def flat_hwc(x: np.ndarray) -> np.ndarray:
    """Samples as the hardware streams them: images channels-last, flattened; vectors as they are."""
    return channels_last(x).reshape(len(x), -1)
