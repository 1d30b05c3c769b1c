"""Invariants that make hardware equality possible, checked on the trained lenet."""
import math

import numpy as np
import pytest
import torch

from fpgaflow.core.data import load_split, to_input
from fpgaflow.frontends.brevitas.model import trained_model
from fpgaflow.frontends.brevitas.model import build_model
from fpgaflow.frontends.brevitas.quantizers import ActQuant, InputQuant


def is_pot(v: float) -> bool:
    return v > 0 and math.log2(v) == round(math.log2(v))


def test_input_quant_holds_pixels_exactly():
    import brevitas.nn as qnn

    q = qnn.QuantIdentity(act_quant=InputQuant, bit_width=8, return_quant_tensor=True).eval()
    x = torch.arange(256, dtype=torch.float32) / 256
    out = q(x)
    assert float(out.scale) == 2.0 ** -8
    assert torch.equal(out.value, x)


def test_activation_rounds_down():
    import brevitas.nn as qnn

    torch.manual_seed(0)
    act = qnn.QuantReLU(act_quant=ActQuant, bit_width=4, return_quant_tensor=True)
    act.train()
    for _ in range(40):  # past the statistics phase, so the scale is a learned parameter
        act(torch.rand(256) * 3)
    act.eval()
    x = torch.linspace(-1, 5, 997)
    out = act(x)
    s = float(out.scale)
    assert is_pot(s)
    expected = torch.clamp(torch.floor(torch.relu(x) / s), 0, 15) * s
    assert torch.equal(out.value, expected)
    # exact ties stay put, unlike half-to-even rounding
    ties = torch.tensor([0.5, 1.5, 2.5]) * s
    assert torch.equal(act(ties).value, torch.tensor([0.0, 1.0, 2.0]) * s)


@pytest.fixture(scope="module")
def model(lenet):
    return trained_model(lenet)


def test_trained_weights_are_pot_integers(model):
    layers = [m for m in model.modules() if hasattr(m, "quant_weight")]
    assert len(layers) == 4
    for m in layers:
        qw = m.quant_weight()
        assert is_pot(float(qw.scale))
        ints = qw.value / qw.scale
        assert torch.equal(ints, torch.round(ints)) and ints.abs().max() <= 7  # 4-bit narrow range


def test_qonnx_scales_are_powers_of_two(lenet, tmp_path):
    import onnx
    from onnx import numpy_helper

    from fpgaflow.frontends.brevitas.export import export_qonnx

    path = export_qonnx(lenet, tmp_path)
    graph = onnx.load(path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}
    quants = [n for n in graph.node if n.op_type == "Quant"]
    assert len(quants) == 1 + 4 + 4 + 3  # input, 4 weights, 4 biases, 3 activations
    for n in quants:
        scale = inits.get(n.input[1], consts.get(n.input[1]))
        assert all(is_pot(float(s)) for s in np.ravel(scale)), n.name
    modes = {n.name: next(a.s.decode() for a in n.attribute if a.name == "rounding_mode") for n in quants}
    # activations (unsigned, fed by Relu or the input) floor; weights and biases are constants
    for n in quants:
        signed = next(a.i for a in n.attribute if a.name == "signed")
        if not signed:
            assert modes[n.name] == "FLOOR", n.name


def test_float32_reference_is_exact(lenet, model, mnist_dir):
    """The float32 reference equals float64 arithmetic: every sum is exact in both."""
    x, _ = load_split(mnist_dir, "test")
    xs = torch.from_numpy(to_input(x[:500]))
    with torch.no_grad():
        y32 = model(xs).double()
        y64 = trained_model(lenet).double()(xs.double())
    assert torch.equal(y32, y64)


def test_model_shape_errors_are_clear(lenet):
    from fpgaflow.core.errors import FpgaflowError

    spec = {**lenet.spec, "layers": lenet.spec["layers"][:-1] + [{"type": "dense", "units": 7, "activation": "none"}]}
    with pytest.raises(FpgaflowError, match=r"expected \(10,\) logits"):
        build_model(spec)
