"""Back ends: the ways from a trained design to hardware, registered by name.

Each is a `Backend` (base.py) with build, verify, synth and summary; the CLI, the report
and the benchmark look backends up here and never branch on their names. A new backend is
a subpackage with a Backend subclass and one entry below.
"""
from __future__ import annotations

from ..core.errors import FpgaflowError
from .base import Backend
from .finn import FinnBackend
from .hls4ml import Hls4mlBackend

BACKENDS: dict[str, Backend] = {b.name: b for b in (Hls4mlBackend(), FinnBackend())}
DEFAULT = "hls4ml"


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise FpgaflowError(f"unknown backend '{name}' (known: {', '.join(BACKENDS)})")
    return BACKENDS[name]


def for_framework(framework: str) -> list[Backend]:
    """The backends that take designs of a framework."""
    return [b for b in BACKENDS.values() if framework in b.frameworks]
