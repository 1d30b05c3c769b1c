"""The FINN accelerator as RTL that open tools take: stitched by fpgaflow (stitch.py, with
fpgaflow's own blocks in hw/ for what finn-plus has only as HLS and finn-rtllib copies patched
as patches.py lists), simulated in Verilator (sim.py, verify.py, alone.py; the testbench in
sim/), synthesized per layer in Yosys (yosys.py, command.py). See docs/rtl.md."""
