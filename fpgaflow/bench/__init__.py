"""`fpgaflow bench`: speeds, memory and the inference table, as numbers in build/bench.json
(run.py), with the int8 CPU runtime and FPGA estimates beside the references (inference.py)."""
