"""The cost model's layer records (cost.Record) read from an hls4ml model fpgaflow converted:
the same fields the calibration set records for public projects, so one model serves both."""
from __future__ import annotations

from .cost import Record

WEIGHTED = {"Dense", "Conv1D", "Conv2D", "PointwiseConv1D", "PointwiseConv2D", "DepthwiseConv1D", "DepthwiseConv2D"}
SKIPPED = {"Input", "Reshape", "Transpose"}   # no hardware in io_stream beyond wiring / a repack


def _width(var) -> int:
    return int(var.type.precision.width) if var is not None else 0


def _attr(layer, name: str, default=1) -> int:
    value = layer.get_attr(name)
    return int(value) if value is not None else default


def record(layer, io_type: str) -> Record | None:
    """One hls4ml layer as a cost record (None for layers that are only wiring)."""
    kind = layer.class_name
    if kind in SKIPPED:
        return None
    out = layer.get_output_variable()
    shape = [int(s) for s in out.shape]
    chan = shape[-1] if io_type == "io_stream" and len(shape) > 1 else int(_prod(shape))
    depth = int(_prod(shape[:-1])) if io_type == "io_stream" and len(shape) > 1 else 1
    rb = _width(out)
    ib = _width(layer.get_input_variable())
    common = dict(name=layer.name, io_type=io_type, ib=ib, rb=rb, out_depth=depth, out_width=chan * rb)
    if kind not in WEIGHTED:
        cls = "pool" if "Pooling" in kind else "act" if "Activation" in kind or kind in ("ReLU", "Softmax") else "other"
        op = str(layer.get_attr("activation") or "").lower() if cls == "act" else ""
        return Record(kind=cls, chan=chan, op=op, **common)
    weight = layer.get_weights("weight")
    accum = layer.get_attr("accum_t")
    conv = kind != "Dense"
    n_chan = _attr(layer, "n_chan")
    kh, kw = _attr(layer, "filt_height"), _attr(layer, "filt_width")
    in_h, in_w = _attr(layer, "in_height"), _attr(layer, "in_width")
    evaluations = _attr(layer, "out_height") * _attr(layer, "out_width") if conv else 1
    n_in = kh * kw * n_chan if conv else _attr(layer, "n_in")
    n_out = _attr(layer, "n_filt") if conv else _attr(layer, "n_out")
    # a depthwise kernel multiplies each channel by its own filter: kh x kw x channels products
    mults = kh * kw * n_chan if kind.startswith("Depthwise") else None
    return Record(
        kind="weighted", n_in=n_in, n_out=n_out, mults=mults, rf=_attr(layer, "reuse_factor"),
        strategy=str(layer.get_attr("strategy") or "latency").lower(), wb=int(weight.type.precision.width),
        ab=int(accum.precision.width) if accum is not None else rb, zeros=int(weight.nzeros), evaluations=evaluations,
        pixels_in=in_h * in_w if conv else 1, chan=n_chan if conv else n_in,
        line_bits=(kh - 1) * in_w * n_chan * ib if conv and io_type == "io_stream" else 0, **common)


def _prod(values) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def records_from_hls_model(hls_model, io_type: str) -> list[Record]:
    return [r for r in (record(l, io_type) for l in hls_model.get_layers()) if r is not None]
