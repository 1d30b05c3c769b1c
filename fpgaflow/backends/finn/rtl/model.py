"""The stitched design's data: its layers and the streams between them, as rtl.json holds them
(stitch.py writes them, the simulator, the per-layer synthesis and the tests read them)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

HW = Path(__file__).parent / "hw"


@dataclass
class Layer:
    """One stitched layer: its module, instance parameters and sources (relative to rtl/)."""
    name: str
    op_type: str
    module: str
    sources: list[str]
    params: dict = field(default_factory=dict)
    weights: str | None = None     # the weight streamer's module (decoupled MVAU), instantiated beside it
    weight_width: int = 0          # its stream's width (padded to bytes)
    implementation: str = "finn-rtllib"
    tie_off: list[str] = field(default_factory=list)   # input ports held at 0 (AXI-lite, set selection)
    inputs: list[str] = field(default_factory=list)    # the tensors on its in<k>_V ports (none: the chain's)
    outputs: list[str] = field(default_factory=list)   # the tensors on its out<k>_V ports
    holds_ready: bool = False   # its inputs are ready only once all are offered: starved = an input not offered


def rel(root: Path, path: Path) -> str:
    return str(path.relative_to(root))


def pack(values, bits: int) -> int:
    """Lanes into one stream word, lane 0 in the low bits, each two's complement in `bits`."""
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & ((1 << bits) - 1)) << (i * bits)
    return word


@dataclass
class Stream:
    """One AXI stream of the accelerator, named s<index>: the tensor one layer writes and one
    reads (the first stream is the accelerator's input, the last its output)."""
    index: int
    tensor: str
    width: int            # padded to whole bytes
    lanes: int
    bits: int
    signed: bool
    beats: int            # per frame
    order: str            # "nhwc", or "depthwise" for a depthwise window generator's output
    kernel: int = 0       # a depthwise stream's window size and channels
    channels: int = 0
    producer: str | None = None   # the layer writing it (None: the host)
    consumer: str | None = None   # the layer reading it (None: the host)

    @property
    def label(self) -> str:
        return f"s{self.index} ({self.producer or 'input'} -> {self.consumer or 'output'})"
