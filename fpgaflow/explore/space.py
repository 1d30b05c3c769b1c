"""What a sweep explores: overrides of the design spec by dotted key (`quant.weight_bits=2,3,4`),
each checked as the design file is before anything runs, expanded into points, each point
named by a hash of everything that decides its result.

A point is a flat mapping {dotted key: value}; the key `backend` (not a spec key) picks the
backend a point is built with, so that a search can treat the backend as one more choice.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json

from ..core.errors import FpgaflowError
from ..core.spec import SCHEMA, validate

# short names users write for the keys swept most (the issue tracker's own words)
ALIASES = {
    "weight_bits": "quant.weight_bits",
    "act_bits": "quant.act_bits",
    "input_bits": "quant.input_bits",
    "bias_bits": "quant.bias_bits",
    "sparsity": "prune.sparsity",
    "target_fps": "target.fps",
    "latency_us": "target.latency_us",
    "reuse_factor": "hls4ml.reuse_factor",
    "strategy": "hls4ml.strategy",
}
BACKEND_KEY = "backend"
# sections whose change would make a different design, not a variant of this one
FIXED = ("name", "description", "framework", "source", "dataset", "layers")
# sections that change the hardware, not the trained weights: points differing only there share
# one training
HARDWARE = ("target", "hls4ml", "finn", "budget")


def canonical(key: str) -> str:
    """The dotted spec path of a key as the user wrote it, or a one-line refusal."""
    key = ALIASES.get(key, key)
    if key == BACKEND_KEY:
        return key
    parts = key.split(".")
    if parts[0] in FIXED:
        raise FpgaflowError(f"{key}: {parts[0]} is what makes the design; a sweep varies quant, train, prune, target, "
                            f"hls4ml, finn and budget keys")
    node = SCHEMA
    for i, part in enumerate(parts):
        if node.get("_leaf"):
            types = node["type"] if isinstance(node["type"], tuple) else (node["type"],)
            if dict in types:
                return key  # inside a mapping value (budget.LUT, hls4ml.reuse_factor.fc1): validate checks it
            raise FpgaflowError(f"{key}: {'.'.join(parts[:i])} is a value, not a section")
        if part not in node:
            where = ".".join(parts[:i]) or "the design file"
            raise FpgaflowError(f"{key}: no such key in {where} (keys: {', '.join(node)}); "
                                f"short names: {', '.join(ALIASES)}")
        node = node[part]
    if not node.get("_leaf"):
        raise FpgaflowError(f"{key}: a section, not a value (keys: {', '.join(node)})")
    return key


def parse_value(text: str):
    """A command-line value as the YAML file would hold it: int, float, true/false, null or text."""
    text = text.strip()
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "null": None, "none": None}.get(text.lower(), text)


def parse_grid(items: list[str]) -> dict:
    """`--grid weight_bits=2,3 prune.sparsity=0,0.5` -> {canonical key: [values]}."""
    space = {}
    for item in items:
        key, eq, values = item.partition("=")
        if not eq or not key or not values:
            raise FpgaflowError(f"--grid {item}: expected KEY=VALUE,VALUE,... (e.g. weight_bits=2,3,4)")
        add(space, key, [parse_value(v) for v in values.split(",") if v.strip()], f"--grid {item}")
    return space


def add(space: dict, key: str, values: list, where: str) -> None:
    path = canonical(key.strip())
    if path in space:
        raise FpgaflowError(f"{where}: {path} is given twice")
    if not values:
        raise FpgaflowError(f"{where}: no values")
    if len(set(map(json.dumps, values))) != len(values):
        raise FpgaflowError(f"{where}: a value is given twice")
    space[path] = values


def set_path(spec: dict, path: str, value) -> None:
    node = spec
    parts = path.split(".")
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            raise FpgaflowError(f"{path}: {part} holds {node!r}, not a mapping")
    node[parts[-1]] = value


def point_spec(base: dict, point: dict) -> dict:
    """The design spec with the point's overrides, validated as a design file is; errors name
    the override."""
    spec = copy.deepcopy(base)
    for key, value in point.items():
        if key != BACKEND_KEY:
            if key == "target.fps" and isinstance(value, float) and value.is_integer():
                value = int(value)  # 1e5 on the command line
            set_path(spec, key, value)
    try:
        return validate(spec)
    except FpgaflowError as e:
        given = ", ".join(f"{k}={v}" for k, v in point.items())
        raise FpgaflowError(f"point {given}: {e}") from None


def grid_points(space: dict) -> list[dict]:
    keys = list(space)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(space[k] for k in keys))]


def check_points(base: dict, points: list[dict], backends: list[str]) -> None:
    """Every point's spec valid, every backend named: refused before anything runs."""
    from ..backends import get_backend

    for point in points:
        point_spec(base, point)
        for b in point_backends(point, backends):
            get_backend(b)


def point_backends(point: dict, backends: list[str]) -> list[str]:
    return [point[BACKEND_KEY]] if BACKEND_KEY in point else list(backends)


def point_hash(spec: dict, point: dict, settings: dict) -> str:
    """Names a point's result: its full spec (name aside), the training it gets, the images it is
    verified on and its backends. Same inputs, same hash, same folder: --resume skips it."""
    spec = {k: v for k, v in spec.items() if k not in ("name", "description")}
    blob = json.dumps({"spec": spec, "backends": point_backends(point, settings["backends"]),
                       "epochs": settings["epochs"], "steps": settings["steps"], "images": settings["images"]},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_hash(spec: dict, settings: dict) -> str:
    """Names a point's training: the spec without its hardware sections, and the training length."""
    spec = {k: v for k, v in spec.items() if k not in ("name", "description", *HARDWARE)}
    blob = json.dumps({"spec": spec, "epochs": settings["epochs"], "steps": settings["steps"]}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def training_first(base: dict, points: list[dict], settings: dict) -> list[dict]:
    """The points reordered so that those sharing a training come apart: every distinct training
    first, the points that reuse one after (they then find it done instead of waiting for it)."""
    seen: dict[str, int] = {}
    ranked = []
    for i, p in enumerate(points):
        h = train_hash(point_spec(base, p), settings)
        seen[h] = seen.get(h, -1) + 1
        ranked.append((seen[h], i, p))
    return [p for _, _, p in sorted(ranked, key=lambda t: t[:2])]
