"""Small graph models made outside fpgaflow's design files, for `fpgaflow import` of graphs:
MNIST at 16x16 as one .npz, and Brevitas networks with BatchNorm, a residual add, a
concatenation and average pooling, exported with export_qonnx as users do. Tests and docs
build them in seconds; nothing is downloaded.

    python -m fpgaflow.imports.graph_examples build/examples ../shared/datasets/mnist
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .examples import train_and_export


def mnist16_npz(path: Path, mnist: Path, n_train: int = 4000, n_test: int = 1000) -> Path:
    """MNIST at 16x16 in [0, 1): each 28x28 image padded to 32x32 and averaged over 2x2 blocks,
    shape (N, 1, 16, 16), labels int64."""
    from ..core.data import load_split

    def small(split: str, n: int):
        images, labels = load_split(Path(mnist), split)
        x = np.pad(images[:n].astype(np.float32) / 256.0, ((0, 0), (2, 2), (2, 2)))
        return x.reshape(n, 1, 16, 2, 16, 2).mean(axis=(3, 5)).astype(np.float32), labels[:n].astype(np.int64)

    (x_train, y_train), (x_test, y_test) = small("train", n_train), small("test", n_test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return Path(path)


def _quantizers(pow2: bool):
    """(input, weight, activation, signed 8-bit) quantizers: power-of-two scales (fixed point)
    or Brevitas' defaults (float scales)."""
    from brevitas import quant

    if pow2:
        weight, act, signed = quant.Int8WeightPerTensorFixedPoint, quant.Uint8ActPerTensorFixedPoint, \
            quant.Int8ActPerTensorFixedPoint
    else:
        weight, act, signed = quant.Int8WeightPerTensorFloat, quant.Uint8ActPerTensorFloat, quant.Int8ActPerTensorFloat

    class W4(weight):
        bit_width = 4

    class A4(act):
        bit_width = 4

    return signed, W4, A4, signed


def brevitas_graph(pow2: bool = True, seed: int = 0):
    """A Brevitas network on (1, 16, 16) with every block fpgaflow imports in a graph: conv ->
    BatchNorm -> QuantReLU, max pool, a residual block (the skip and the block's output through
    one shared quantizer, so the add sums integers on one grid), two 1x1 branches joined by
    torch.cat (one shared quantizer again), global average pooling over the 8x8 map
    (AdaptiveAvgPool2d(1), which torch exports as ReduceMean) and a linear classifier."""
    import torch
    from brevitas import nn as qnn

    inq, W4, A4, shared = _quantizers(pow2)
    torch.manual_seed(seed)        # the initial weights: the same network every run

    def conv(c_in, c_out, k):
        return qnn.QuantConv2d(c_in, c_out, k, padding=k // 2, bias=False, weight_quant=W4)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=inq, return_quant_tensor=True)
            self.stem, self.stem_bn, self.stem_relu = conv(1, 8, 3), torch.nn.BatchNorm2d(8), qnn.QuantReLU(act_quant=A4)
            self.pool = torch.nn.MaxPool2d(2)
            self.a, self.a_bn, self.a_relu = conv(8, 8, 3), torch.nn.BatchNorm2d(8), qnn.QuantReLU(act_quant=A4)
            self.b, self.b_bn = conv(8, 8, 3), torch.nn.BatchNorm2d(8)
            self.join = qnn.QuantIdentity(act_quant=shared, return_quant_tensor=True)   # both operands of the add
            self.res_relu = qnn.QuantReLU(act_quant=A4)
            self.left, self.right = conv(8, 8, 1), conv(8, 8, 1)
            self.cat_q = qnn.QuantIdentity(act_quant=shared, return_quant_tensor=True)   # both operands of the cat
            self.cat_relu = qnn.QuantReLU(act_quant=A4)
            self.gap = torch.nn.AdaptiveAvgPool2d(1)
            self.gap_q = qnn.QuantIdentity(act_quant=shared)
            self.fc = qnn.QuantLinear(16, 10, bias=False, weight_quant=W4)

        def forward(self, x):
            x = self.pool(self.stem_relu(self.stem_bn(self.stem(self.inp(x)))))
            y = self.b_bn(self.b(self.a_relu(self.a_bn(self.a(x)))))
            x = self.res_relu(self.join(y) + self.join(x))
            x = torch.cat([self.cat_q(self.left(x)), self.cat_q(self.right(x))], dim=1)
            x = self.gap_q(self.gap(self.cat_relu(x)))
            return self.fc(torch.flatten(x, 1))

    return Net()


def brevitas_pools(seed: int = 0):
    """Average pooling smaller than the map, both ways Brevitas writes it: AvgPool2d(2) (a float
    AveragePool, quantized after by a QuantReLU) and TruncAvgPool2d(2) (AveragePool + Trunc:
    the sum's low bits cut, ROUND), then the global mean; power-of-two quantizers."""
    import torch
    from brevitas import nn as qnn

    inq, W4, A4, _ = _quantizers(True)
    torch.manual_seed(seed)        # the initial weights: the same network every run

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=inq, return_quant_tensor=True)
            self.c1 = qnn.QuantConv2d(1, 8, 3, padding=1, bias=False, weight_quant=W4)
            self.r1 = qnn.QuantReLU(act_quant=A4, return_quant_tensor=True)
            self.avg = torch.nn.AvgPool2d(2)
            self.r2 = qnn.QuantReLU(act_quant=A4, return_quant_tensor=True)
            self.c2 = qnn.QuantConv2d(8, 16, 3, padding=1, bias=False, weight_quant=W4)
            self.r3 = qnn.QuantReLU(act_quant=A4, return_quant_tensor=True)
            self.trunc = qnn.TruncAvgPool2d(2, float_to_int_impl_type="ROUND")
            self.r4 = qnn.QuantReLU(act_quant=A4)
            self.gap = torch.nn.AdaptiveAvgPool2d(1)
            self.fc = qnn.QuantLinear(16, 10, bias=False, weight_quant=W4)

        def forward(self, x):
            x = self.r2(self.avg(self.r1(self.c1(self.inp(x)))))
            x = self.r4(self.trunc(self.r3(self.c2(x))))
            return self.fc(torch.flatten(self.gap(x), 1))

    return Net()


def main(out: str, mnist: str) -> None:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    npz = mnist16_npz(folder / "mnist16.npz", Path(mnist))
    print(f"wrote {npz}")
    for pow2, name in ((True, "graph_pow2.onnx"), (False, "graph_float.onnx")):
        print(f"wrote {train_and_export(brevitas_graph(pow2), npz, folder / name, steps=300)}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1] if len(sys.argv) > 1 else "build/examples",
         sys.argv[2] if len(sys.argv) > 2 else "../shared/datasets/mnist")
