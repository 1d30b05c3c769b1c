"""The grid a tensor's values lie on: the power of two every value is a multiple of.

Quantized networks compute on grids: a Quant's output is integers times its scale, a product
of two grids lies on the product of their steps, a sum on the finer of two power-of-two grids.
Knowing a tensor's grid tells whether a threshold can be hit exactly (a tie), which is what
placing half-to-even thresholds needs. None: not known (float arithmetic, a non-power-of-two
scale, an input that is not integer).
"""
from __future__ import annotations

import math

import numpy as np

FINEST = -48         # below 2^-48 a float32 model holds no grid worth the name
PASS_THROUGH = ("Relu", "MaxPool", "Reshape", "Flatten", "Transpose", "Identity", "Im2Col")


def const_grid(values) -> float | None:
    """The largest power of two that divides every value (inf for all zeros), or None."""
    v = np.abs(np.asarray(values, dtype=np.float64)).reshape(-1)
    v = v[v != 0]
    if not len(v):
        return math.inf
    for e in range(int(math.floor(math.log2(v.min()))), FINEST - 1, -1):
        step = 2.0 ** e
        if np.array_equal(v / step, np.round(v / step)):
            return step
    return None


def _scalar_pow2(model, name) -> float | None:
    value = model.get_initializer(name)
    if value is None or np.asarray(value).size != 1:
        return None
    x = float(np.asarray(value).reshape(()))
    return x if x > 0 and math.log2(x) == int(math.log2(x)) else None


def _finer(a, b):
    return None if a is None or b is None else min(a, b)


def _times(a, b):
    return None if a is None or b is None else a * b


def grid(model, tensor: str, depth: int = 0) -> float | None:
    value = model.get_initializer(tensor)
    if value is not None:
        return const_grid(value)
    producer = model.find_producer(tensor)
    if producer is None:   # a graph input: integers where its datatype says so
        dt = model.get_tensor_datatype(tensor)
        return 1.0 if dt is not None and dt.is_integer() else None
    if depth > 200:
        return None
    op, ins = producer.op_type, producer.input
    if op in PASS_THROUGH:
        return grid(model, ins[0], depth + 1)
    if op == "Quant":
        zero = model.get_initializer(ins[2])
        return _scalar_pow2(model, ins[1]) if zero is not None and not np.any(np.asarray(zero)) else None
    if op == "Mul":
        return _times(grid(model, ins[0], depth + 1), grid(model, ins[1], depth + 1))
    if op in ("Add", "Sub"):
        return _finer(grid(model, ins[0], depth + 1), grid(model, ins[1], depth + 1))
    if op in ("Conv", "MatMul", "Gemm"):
        g = _times(grid(model, ins[0], depth + 1), grid(model, ins[1], depth + 1))
        return _finer(g, grid(model, ins[2], depth + 1)) if len(ins) > 2 and ins[2] else g
    if op in ("MultiThreshold", "QuantAvgPool2d"):     # integers (a window's sum, shifted)
        return 1.0
    if op == "Concat":
        grids = [grid(model, i, depth + 1) for i in ins]
        return None if any(g is None for g in grids) else min(grids)
    if op in ("AveragePool", "GlobalAveragePool"):
        # a sum on the input's grid divided by 2^k pixels lies on that grid / 2^k
        shape_in, shape_out = model.get_tensor_shape(ins[0]), model.get_tensor_shape(producer.output[0])
        window = int(np.prod(shape_in[2:]) // np.prod(shape_out[2:])) if op == "GlobalAveragePool" else \
            int(np.prod([a.ints for a in producer.attribute if a.name == "kernel_shape"][0]))
        g = grid(model, ins[0], depth + 1)
        return g / window if g is not None and window & (window - 1) == 0 else None
    return None
