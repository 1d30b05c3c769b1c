"""Triage of a mismatch: the first layer whose C-sim output differs from the reference.

The C-sim side comes from hls4ml's trace hooks (compiled into every project, enabled only
here); the reference side from running the trained model (Brevitas or QKeras) stage by
stage. Both are in the hardware's grid (the reference's quantized tensors are integers
times powers of two) and are compared with ==, in channels-last order as the hardware
holds them.
"""
from __future__ import annotations

import ctypes
import re
from pathlib import Path

import numpy as np

from ..core.data import flat_hwc
from ..core.layers import weighted
from ..core.spec import Design

# hls4ml layer class -> the stage kind it is matched on (each front end's trace names its own classes)
HLS_KINDS = {"Activation": "act", "ParametrizedActivation": "act", "Conv2D": "conv", "Conv1D": "conv",
             "Dense": "dense", "Pooling2D": "pool", "Pooling1D": "pool"}
_TYPEDEF_RE = re.compile(r"typedef\s+(?:nnet::array<)?((?:ap_u?fixed|ap_u?int)<[^>]*>)(?:,\s*[^;]*)?\s+(\w+);")


class _TraceData(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p)]


def hardware_types(project: Path) -> dict[str, str]:
    """Type name -> ap type, as the project's defines.h has it now."""
    text = (Path(project) / "firmware" / "defines.h").read_text()
    return {name: t for t, name in _TYPEDEF_RE.findall(text)}


def trace_csim(lib: Path, name: str, traced: list[dict], x_row: np.ndarray) -> dict[str, np.ndarray]:
    so = ctypes.CDLL(str(lib))
    top = getattr(so, f"{name}_double")
    ptr = ctypes.POINTER(ctypes.c_double)
    top.argtypes, top.restype = [ptr, ptr], None
    so.allocate_trace_storage.argtypes = [ctypes.c_size_t]
    so.collect_trace_output.argtypes = [ctypes.POINTER(_TraceData)]
    sizes = {t["name"]: int(np.prod(t["shape"])) for t in traced}
    x = np.ascontiguousarray(x_row, dtype=np.float64)
    out = np.zeros(64 * 1024, dtype=np.float64)  # larger than any output of these designs
    so.allocate_trace_storage(ctypes.sizeof(ctypes.c_double))
    try:
        top(x.ctypes.data_as(ptr), out.ctypes.data_as(ptr))
        data = (_TraceData * len(sizes))()
        so.collect_trace_output(data)
        result = {}
        for d in data:
            layer = d.name.decode()
            arr = ctypes.cast(d.data, ptr)
            result[layer] = np.ctypeslib.as_array(arr, shape=(sizes[layer],)).copy()
    finally:
        so.free_trace_storage()
    return result


def labelled(design: Design, stages: list[dict]) -> list[dict]:
    """Name each stage after the design's layers: conv1, quant(conv1), pool(conv1), fc1, ...; a
    stage that knows its layer (`layer`: in a graph, the layer its module belongs to) by that."""
    names = iter(l.name for l in weighted(design.spec))
    last = "input"
    for st in stages:
        if st["kind"] in ("conv", "dense"):
            last = st["label"] = st.get("layer") or next(names)
        else:
            st["label"] = f"{'quant' if st['kind'] == 'act' else st['kind']}({st.get('layer') or last})"
    return stages


def first_divergence(design: Design, project: Path, lib: Path, name: str, traced: list[dict],
                     x_chw: np.ndarray, image: int) -> dict:
    hw = trace_csim(lib, name, traced, flat_hwc(x_chw[None])[0])
    ref = design.framework.fn("trace")(design, x_chw[None])
    hw_layers = [t for t in traced if t["class"] in HLS_KINDS]
    types = hardware_types(project)
    if [HLS_KINDS[t["class"]] for t in hw_layers] == [s["kind"] for s in ref]:
        pairs = [(t, [s]) for t, s in zip(hw_layers, ref)]
    else:
        # a graph: hls4ml may order the branches otherwise, and fuse a quantizer into the layer
        # before it, so each hls4ml layer is held against every stage of its size; it matches if
        # it equals one of them
        pairs = [(t, [s for s in ref if s["values"].size == hw[t["name"]].size]) for t in hw_layers]
        if not all(c for _, c in pairs):
            return {"image": image, "error": "cannot align the hls4ml layers with the model's modules",
                    "hls4ml": [t["name"] for t in hw_layers], "model": [s["label"] for s in ref]}
    matched = []
    for t, candidates in pairs:
        a = hw[t["name"]]
        differing = [np.flatnonzero(a != s["values"]) for s in candidates]
        if any(len(d) == 0 for d in differing):
            matched.append(t["name"])
            continue
        closest = min(range(len(candidates)), key=lambda i: len(differing[i]))
        s, differs = candidates[closest], differing[closest]
        k = int(differs[0])
        position = list(np.unravel_index(k, t["shape"])) if len(t["shape"]) > 1 else [k]
        return {"image": image, "layer": t["name"], "design_layer": s["label"], "index": k,
                "position": [int(p) for p in position], "csim": float(a[k]), "reference": float(s["values"][k]),
                "csim_type": types.get(t["type"], t["precision"]), "reference_type": s["type"],
                "differing_elements": int(len(differs)), "elements": int(len(a)), "matching_layers": matched}
    return {"image": image, "layer": None, "matching_layers": matched,
            "error": "every traced layer matches; the difference lies after the last traced layer"}


def describe(t: dict) -> str:
    if t.get("layer") is None:
        return f"TRIAGE image {t['image']}: {t['error']}"
    return (f"TRIAGE image {t['image']}: first differing layer {t['layer']} ({t['design_layer']}), "
            f"element {t['index']} at {tuple(t['position'])}: C-sim {t['csim']:g} [{t['csim_type']}] vs "
            f"reference {t['reference']:g} [{t['reference_type']}]; {t['differing_elements']} of "
            f"{t['elements']} elements differ; {len(t['matching_layers'])} layers before it match exactly")
