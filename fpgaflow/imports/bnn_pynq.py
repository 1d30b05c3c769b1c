"""brevitas_examples' bnn_pynq networks (FINN's own end-to-end examples: TFC, SFC, LFC on
MNIST, CNV on CIFAR-10) exported with export_qonnx as they stand, for `fpgaflow import`: each
with its `forward`'s preprocessing (a Reshape, 2x - 1) before its input quantizer and
TensorNorm's float affine after its last layer. The fully connected ones are trained a few
steps on MNIST (as torchvision's ToTensor gives it: pixel / 255); CNV stays untrained and gets
random 32x32x3 images (no CIFAR-10 here). Nothing is downloaded.

    python -m fpgaflow.imports.bnn_pynq build/bnn_pynq ../shared/datasets/mnist [tfc_2w2a ...]
"""
from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import numpy as np

FC = ("tfc_1w1a", "tfc_1w2a", "tfc_2w2a", "sfc_1w1a", "sfc_1w2a", "sfc_2w2a", "lfc_1w1a", "lfc_1w2a")
CNV = ("cnv_1w1a", "cnv_1w2a", "cnv_2w2a")


def random_images_npz(path: Path, n_train: int = 200, n_test: int = 1000, seed: int = 0) -> Path:
    """Random 32x32 RGB images (pixel / 255, (N, 3, 32, 32)) with random labels 0..9."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n_train + n_test, 3, 32, 32)).astype(np.float32) / np.float32(255)
    labels = rng.integers(0, 10, size=n_train + n_test)
    np.savez(path, x_train=pixels[:n_train], y_train=labels[:n_train], x_test=pixels[n_train:],
             y_test=labels[n_train:])
    return Path(path)


def export(name: str, path: Path, mnist: Path | None = None, steps: int = 60, seed: int = 0) -> Path:
    """bnn_pynq's `name` as it stands; the MNIST ones trained `steps` Adam steps first."""
    import torch
    from brevitas.export import export_qonnx
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(seed)
    net, _ = model_with_cfg(name, pretrained=False)
    shape = (1, 3, 32, 32) if name.startswith("cnv") else (1, 1, 28, 28)
    if mnist is not None and not name.startswith("cnv"):
        from ..core.data import load_split

        images, labels = load_split(Path(mnist), "train")
        x = torch.from_numpy(images[:3000].astype(np.float32) / 255.0)[:, None]   # torchvision's ToTensor
        y = torch.from_numpy(labels[:3000])
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        for _ in range(steps):
            i = torch.randint(0, len(x), (100,))
            loss = torch.nn.functional.cross_entropy(net(x[i]), y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with contextlib.redirect_stdout(io.StringIO()):   # torch.onnx prints its progress
        export_qonnx(net.eval(), input_t=torch.zeros(*shape), export_path=str(path))
    return Path(path)


def main(out: str, mnist: str, names: list[str]) -> None:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    if any(n.startswith("cnv") for n in names):
        print(f"wrote {random_images_npz(folder / 'random32.npz')}")
    for name in names:
        print(f"wrote {export(name, folder / f'{name}.onnx', Path(mnist))}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/bnn_pynq",
         sys.argv[2] if len(sys.argv) > 2 else "../shared/datasets/mnist", sys.argv[3:] or list(FC + CNV))
