"""Small example models for `fpgaflow import`, made here in seconds: a jet-tagging-style MLP
(16 features -> 64 -> 32 -> 32 -> 5) as Brevitas (exported to QONNX) and as QKeras, and an
.npz dataset for them. The docs' commands and the tests use them; nothing is downloaded.

    python -m fpgaflow.imports.examples build/examples
"""
from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import numpy as np

JETS_FEATURES, JETS_CLASSES = 16, 5


def jets_npz(path: Path) -> Path:
    """A jet-tagging-like dataset: 16 features, 5 classes from a fixed linear teacher."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2600, JETS_FEATURES)).astype(np.float32)
    y = (x @ rng.normal(size=(JETS_FEATURES, JETS_CLASSES))).argmax(1)
    np.savez(path, x_train=x[:2000], y_train=y[:2000], x_test=x[2000:], y_test=y[2000:])
    return Path(path)


def on_grid(npz: Path, path: Path, frac: int = 4) -> Path:
    """The same data rounded to multiples of 2^-frac (as pixel/16 digits already are): data a
    model without an input quantizer can be fed exactly."""
    data = dict(np.load(npz))
    for key in ("x_train", "x_test"):
        data[key] = (np.round(data[key] * 2.0 ** frac) / 2.0 ** frac).astype(np.float32)
    np.savez(path, **data)
    return Path(path)


def brevitas_jets(path, npz, input_quantizer: bool = True):
    """16 -> 64 -> 32 -> 32 -> 5 in Brevitas with power-of-two (fixed-point) quantizers and
    Brevitas' default ROUND activations, trained 150 steps, exported with export_qonnx. Without
    `input_quantizer` the first QuantLinear reads the float input."""
    import torch
    from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int16Bias
    from brevitas.quant import Uint8ActPerTensorFixedPoint

    class W4(Int8WeightPerTensorFixedPoint):
        bit_width = 4

    class A4(Uint8ActPerTensorFixedPoint):
        bit_width = 4

    torch.manual_seed(0)
    widths = [JETS_FEATURES, 64, 32, 32]
    layers = [QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)] if input_quantizer else []
    for a, b in zip(widths, widths[1:]):
        # a bias quantizer takes its scale from the input's: a float input's layer has no bias
        # and gives a float output
        extra = dict(bias_quant=Int16Bias, return_quant_tensor=True) if layers else dict(bias=False)
        layers += [QuantLinear(a, b, weight_quant=W4, **extra),
                   QuantReLU(act_quant=A4, return_quant_tensor=True)]
    layers.append(QuantLinear(widths[-1], JETS_CLASSES, weight_quant=W4, bias_quant=Int16Bias))
    return train_and_export(torch.nn.Sequential(*layers), npz, path, steps=150, lr=1e-2, batch=128)


def train_and_export(net, npz: Path, path: Path, steps: int = 150, lr: float = 3e-3, batch: int = 64,
                     seed: int = 0) -> Path:
    """`steps` Adam steps on the .npz's training split, then export_qonnx of the eval network."""
    import torch
    from brevitas.export import export_qonnx

    torch.manual_seed(seed)
    data = np.load(npz)
    x, y = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"].astype(np.int64))
    opt = torch.optim.Adam(net.parameters(), lr)
    net.train()
    for _ in range(steps):
        i = torch.randint(0, len(x), (batch,))
        loss = torch.nn.functional.cross_entropy(net(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with contextlib.redirect_stdout(io.StringIO()):   # torch.onnx prints its progress
        export_qonnx(net.eval(), input_t=x[:1], export_path=str(path))
    return Path(path)


def qkeras_jets(path, npz, epochs: int = 5, input_quantizer: bool = True):
    """The same MLP in QKeras (input quantized_bits(8, 3), 4-bit weights, quantized_relu(4, 2)),
    trained `epochs` epochs, saved as one .h5 file. Without `input_quantizer` the first QDense
    takes the float input (the shape of hls4ml's jet-tagging tutorial)."""
    from ..frontends.qkeras.env import setup

    keras = setup()
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    keras.utils.set_random_seed(0)
    q = dict(kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(12, 4, alpha=1))
    layers = [keras.layers.Input((JETS_FEATURES,), name="features")]
    if input_quantizer:
        layers.append(QActivation(quantized_bits(8, 3, alpha=1), name="inq"))
    for i, units in enumerate([64, 32, 32]):
        layers += [QDense(units, name=f"fc{i + 1}", **q), QActivation(quantized_relu(4, 2), name=f"relu{i + 1}")]
    model = keras.Sequential(layers + [QDense(JETS_CLASSES, name="logits", **q)])
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    data = np.load(npz)
    model.fit(data["x_train"], data["y_train"], epochs=epochs, batch_size=64, verbose=0)
    model.save(str(path), include_optimizer=False)
    return path


def main(out: str) -> None:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    npz = jets_npz(folder / "jets.npz")
    grid = on_grid(npz, folder / "jets_grid.npz")
    for made in (npz, brevitas_jets(folder / "jets.qonnx.onnx", npz), qkeras_jets(folder / "jets_qkeras.h5", npz),
                 grid, qkeras_jets(folder / "jets_qkeras_float_in.h5", grid, input_quantizer=False)):
        print(f"wrote {made}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/examples")
