import math

import pytest

from fpgaflow.core.errors import FpgaflowError
from fpgaflow.core.parts import _table, part_capacity
from fpgaflow.backends.hls4ml.reuse import choose_reuse, multipliers

LENET = [("conv1", 25, 20), ("conv2", 500, 50), ("fc1", 800, 500), ("fc2", 500, 10)]


@pytest.fixture(scope="module")
def valid():
    import hls4ml  # the real validity rule of hls4ml's dense/conv kernels

    return hls4ml.backends.get_backend("Vitis")._validate_reuse_factor


@pytest.mark.parametrize("part", list(_table()))
def test_auto_reuse_fits_every_part(part, valid):
    dsp = part_capacity(part)["DSP"]
    chosen = choose_reuse(LENET, dsp, "auto", valid)
    assert sum(multipliers(i, o, chosen[n]) for n, i, o in LENET) <= dsp
    target = math.ceil(sum(i * o for _, i, o in LENET) / dsp)
    for name, n_in, n_out in LENET:
        rf = chosen[name]
        assert valid(n_in, n_out, rf)
        # smallest valid choice at or above the target: no cheaper-in-latency valid value skipped
        lower = min(target, n_in * n_out)
        assert rf >= lower and not any(valid(n_in, n_out, r) for r in range(lower, rf))


def test_explicit_reuse_respected_and_checked(valid):
    chosen = choose_reuse(LENET, 1728, {"fc1": 800}, valid)
    assert chosen["fc1"] == 800 and chosen["conv1"] == choose_reuse(LENET, 1728, "auto", valid)["conv1"]
    with pytest.raises(FpgaflowError, match=r"7 is not valid for layer fc1 \(800x500 weights\); valid values near it"):
        choose_reuse(LENET, 1728, {"fc1": 7}, valid)
    with pytest.raises(FpgaflowError, match=r"layer fc1 with reuse factor 1 needs 400000 parallel multipliers"):
        choose_reuse(LENET, 1728, {"fc1": 1}, valid)


def test_unknown_part_lists_known():
    with pytest.raises(FpgaflowError, match=r"unknown part 'xc9x999'.*xczu7ev-ffvc1156-2-e"):
        part_capacity("xc9x999")
