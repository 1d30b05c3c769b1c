"""fpgaflow: from quantization-aware training to a bit-exact FPGA design."""

__version__ = "0.1.0"
