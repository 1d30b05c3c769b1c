"""The input grid of a model whose input no quantizer fixes (a QDense on float inputs, as in
hls4ml's tutorials): the hardware takes fixed-point inputs, so the grid is declared, never
guessed. From the data where every value is k x 2^-f within MAX_BITS bits (then the grid changes
no value), else from `--input-bits B --input-int-bits I` (ap_fixed<B, I>, signed where the data
have negative values; values rounded half to even and saturated, before both the reference and
the hardware see them). It goes into design.yaml's quant.input with its origin.
"""
from __future__ import annotations

import numpy as np

from ..core.errors import FpgaflowError

MAX_BITS = 16
OPTION = "--input-bits B --input-int-bits I"


def _range(bits: int, signed: bool) -> tuple[int, int]:
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)


def from_data(x: np.ndarray) -> dict | None:
    """The coarsest power-of-two grid that holds every value of x exactly in at most MAX_BITS
    bits (sign included), or None."""
    values = np.unique(np.asarray(x, dtype=np.float64))
    if not np.all(np.isfinite(values)):
        return None
    signed = bool(values[0] < 0)
    for frac in range(0, MAX_BITS + 1):
        k = values * 2.0 ** frac
        if not np.array_equal(k, np.round(k)):
            continue
        lo, hi = int(k[0]), int(k[-1])
        bits = max((-lo - 1).bit_length() if lo < 0 else 0, hi.bit_length(), 1) + int(signed)
        if bits > MAX_BITS:
            return None
        low, high = _range(bits, signed)
        return {"bits": bits, "scale": 2.0 ** -frac, "min": low, "max": high, "rounding": "ROUND",
                "origin": f"the data: every value a multiple of 2^-{frac} in {lo * 2.0 ** -frac:g}.."
                          f"{hi * 2.0 ** -frac:g} ({'signed' if signed else 'unsigned'}, {bits} bits)"}
    return None


def from_option(bits: int, int_bits: int, x: np.ndarray) -> dict:
    if not 2 <= bits <= MAX_BITS or not -MAX_BITS <= int_bits <= bits:
        raise FpgaflowError(f"--input-bits {bits} --input-int-bits {int_bits}: need 2 <= B <= {MAX_BITS} and I <= B "
                            f"(ap_fixed<B, I>)")
    signed = bool(np.min(x) < 0)
    low, high = _range(bits, signed)
    return {"bits": bits, "scale": 2.0 ** (int_bits - bits), "min": low, "max": high, "rounding": "ROUND",
            "origin": f"--input-bits {bits} --input-int-bits {int_bits}: "
                      f"ap_{'' if signed else 'u'}fixed<{bits},{int_bits}>, rounded half to even and saturated"}


def declare(x: np.ndarray, bits: int | None, int_bits: int | None, data: str) -> dict:
    """The input grid for a model without an input quantizer: the option's, else the data's, else
    one line naming the option."""
    if (bits is None) != (int_bits is None):
        raise FpgaflowError(f"give both {OPTION} (the input's fixed-point type ap_fixed<B, I>)")
    if bits is not None:
        return from_option(bits, int_bits, x)
    grid = from_data(x)
    if grid is None:
        sample = next((float(v) for v in np.asarray(x, dtype=np.float64).reshape(-1)
                       if not float(v * 2.0 ** MAX_BITS).is_integer()), float(np.asarray(x).reshape(-1)[0]))
        raise FpgaflowError(f"--data {data}: the model's input has no quantizer and the data are not on a power-of-two "
                            f"grid within {MAX_BITS} bits (e.g. {sample:.6g}): give the hardware's input type with "
                            f"{OPTION}")
    return grid
