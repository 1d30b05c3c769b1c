"""Brevitas quantizers declared for bit-exact hardware.

Every scale is a power of two, so each tensor is an integer times 2^k and maps to an
ap_fixed type with no rounding. Activations round with FLOOR: hls4ml reproduces it as
AP_TRN and FINN as inclusive thresholds, whereas Brevitas' default (half to even) has no
threshold equivalent. Biases take the accumulator's scale (input scale x weight scale), so
they add into the accumulator without rescaling.
"""
from brevitas.core.function_wrapper.ops_ste import FloorSte
from brevitas.core.scaling import ScalingImplType
from brevitas.inject.enum import FloatToIntImplType
from brevitas.quant.base import PerTensorPoTScaling8bit, UintQuant
from brevitas.quant.fixed_point import (Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint,
                                       Uint8ActPerTensorFixedPoint)
from brevitas.quant.scaled_int import IntBias
from brevitas.quant.solver import ActQuantSolver


class WeightQuant(Int8WeightPerTensorFixedPoint):
    """Signed narrow-range weights, per-tensor power-of-two scale from the max |w|."""


class ActQuant(Uint8ActPerTensorFixedPoint):
    """Unsigned activations (after ReLU), learned power-of-two scale, floor rounding."""

    float_to_int_impl_type = FloatToIntImplType.FLOOR


class OperandQuant(Int8ActPerTensorFixedPoint):
    """Signed operands of a residual add (a branch's accumulator, a skip's activation), one
    learned power-of-two scale shared by all of them, floor rounding."""

    float_to_int_impl_type = FloatToIntImplType.FLOOR


class InputQuant(UintQuant, PerTensorPoTScaling8bit, ActQuantSolver):
    """Fixed input grid: with n bits and 2^-n scale, pixel/256 is held exactly (8 bits)."""

    scaling_impl_type = ScalingImplType.CONST
    # scale = scaling_const / (2^n - 1) rounded down to a power of two = 2^-n
    max_val = 1.0
    restrict_value_float_to_int_impl = FloorSte
    float_to_int_impl_type = FloatToIntImplType.FLOOR


class BiasQuant(IntBias):
    """Bias on the accumulator grid (scale = input scale x weight scale)."""

    bit_width = 16
