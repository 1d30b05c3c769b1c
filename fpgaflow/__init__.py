"""fpgaflow: from quantization-aware training to a bit-exact FPGA design."""

__version__ = "0.1.0"

import os as _os

# TensorFlow picks Keras 2 or 3 when first imported, whoever imports it: fpgaflow's Keras
# flow (QKeras, hls4ml's Keras front end) needs Keras 2 (tf_keras); see fpgaflow.frontends.qkeras.env
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
