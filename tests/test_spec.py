import copy

import pytest
import yaml

from fpgaflow.core.errors import FpgaflowError
from fpgaflow.core.spec import list_designs, load_design, load_spec_file, validate

from conftest import ROOT

RAW = yaml.safe_load((ROOT / "designs/lenet/design.yaml").read_text())


def with_change(path, value):
    data = copy.deepcopy(RAW)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def test_lenet_loads_with_defaults(lenet):
    spec = lenet.spec
    assert [l.get("name") for l in spec["layers"] if l["type"] in ("conv", "dense")] == ["conv1", "conv2", "fc1", "fc2"]
    assert spec["quant"] == {"input_bits": 8, "weight_bits": 4, "act_bits": 4, "bias_bits": 16,
                             "input": {"scale": None, "min": None, "max": None, "rounding": "ROUND", "origin": None}}
    assert spec["hls4ml"]["reuse_factor"] == "auto"
    assert "lenet" in list_designs()


@pytest.mark.parametrize("path, value, message", [
    (("quant", "weight_bits"), 1, r"quant.weight_bits: 1 is below the minimum 2"),
    (("quant", "act_bits"), 0, r"quant.act_bits: 0 is below the minimum 1"),
    (("quant", "weight_bits"), 33, r"quant.weight_bits: 33 is above the maximum 16"),
    (("quant", "bias_bits"), "16", r"quant.bias_bits: expected int, got str"),
    (("quant", "act_bits"), True, r"quant.act_bits: expected int, got bool"),
    (("quant", "wieght_bits"), 4, r"quant.wieght_bits: unknown key"),
    (("hls4ml", "io_type"), "io_serial", r"hls4ml.io_type: 'io_serial' is not one of"),
    (("hls4ml", "reuse_factor"), {"conv9": 4}, r"hls4ml.reuse_factor.conv9: no such weighted layer"),
    (("hls4ml", "reuse_factor"), "lots", r"hls4ml.reuse_factor: expected 'auto'"),
    (("target", "clock_ns"), "fast", r"target.clock_ns: expected float"),
    (("dataset", "input_shape"), [28, 28], r"dataset.input_shape"),
    (("host",), {"head": {"file": "../../x.onnx", "input_shape": [784]}}, r"host.head.file: '../../x.onnx' must be"),
    (("host",), {"tail": {"file": "tail.py"}}, r"host.tail.file: 'tail.py' must be an .onnx file"),
    (("host",), {"head": {"file": "h.onnx"}}, r"host.head.input_shape: a host head names"),
    (("layers",), [{"type": "lstm", "units": 4}], r"layers\[0\].type: unsupported layer 'lstm'"),
    (("layers",), [{"type": "dense", "units": 10, "activation": "none", "bits": 3}], r"layers\[0\].bits: unknown key"),
    (("layers",), [{"type": "flatten"}, {"type": "dense", "units": 10}], r"last layer must be dense"),
    (("layers",), [{"type": "dense", "units": 10, "activation": "none"}],
     r"layers\[0\]: a dense layer reads a vector, 'input' gives \[1, 28, 28\] \(flatten or global_avgpool first\)"),
    (("layers",), [{"type": "dense", "units": 10, "activation": "none", "weight_bits": 1}],
     r"layers\[0\].weight_bits: 1 is below the minimum"),
    (("colour",), "red", r"colour: unknown key"),
    (("budget",), {"LUTS": 0.5}, r"budget.LUTS: unknown budget"),
    (("budget",), {"DSP": 80}, r"budget.DSP: 80 is a fraction of the part's DSP"),
    (("budget",), {"latency_us": -1}, r"budget.latency_us: expected a positive number"),
    (("quant", "input"), {"scale": 0.0, "min": 0, "max": 255}, r"quant.input.scale: 0.0 must be positive"),
    (("quant", "input"), {"scale": 0.5, "min": 3, "max": 3}, r"quant.input: a scale needs integer min < max"),
    (("dataset", "input_shape"), [4, 4], r"dataset.input_shape: expected \[channels, height, width\] or \[features\]"),
    (("framework",), "jax", r"framework: 'jax' is not one of \['brevitas', 'keras', 'qonnx', 'keras_model'\]"),
    (("prune",), {"kind": "filters", "sparsity": 0.5}, r"prune.kind: 'filters' is not one of \['magnitude', 'channel'\]"),
    (("prune",), {"kind": "channel", "sparsity": 0.5, "start": 0.6, "end": 0.2}, r"prune.end: 0.2 must come after"),
    (("layers",), [{"type": "flatten"}, {"type": "dense", "units": 10, "activation": "none"}], None),
])
def test_bad_specs_name_the_key(path, value, message):
    data = with_change(path, value)
    if message is None:  # channel pruning of a network whose only weighted layer is the classifier
        data["prune"] = {"kind": "channel", "sparsity": 0.5}
        message = r"prune.kind: channel pruning needs a conv or dense layer before the last"
    with pytest.raises(FpgaflowError, match=message):
        validate(data)


def test_pruning_is_for_brevitas_designs():
    data = yaml.safe_load((ROOT / "designs/lenet_qkeras/design.yaml").read_text())
    data["prune"] = {"kind": "magnitude", "sparsity": 0.5}
    with pytest.raises(FpgaflowError, match=r"prune: pruning trains Brevitas designs only \(this design's framework is keras\)"):
        validate(data)


def test_channel_pruning_deploys_narrower_layers():
    from fpgaflow.core.layers import deployed

    spec = validate(with_change(("prune",), {"kind": "channel", "sparsity": 0.3}))
    widths = [l.get("filters", l.get("units")) for l in deployed(spec)["layers"] if l["type"] in ("conv", "dense")]
    assert widths == [14, 35, 350, 10]  # 70 % of conv1, conv2, fc1; the classes stay
    assert [l.get("filters", l.get("units")) for l in spec["layers"] if l["type"] in ("conv", "dense")] == [20, 50, 500, 10]
    assert deployed(validate(RAW)) == validate(RAW)  # no channel pruning: as written


def test_missing_required_key():
    data = copy.deepcopy(RAW)
    del data["layers"]
    with pytest.raises(FpgaflowError, match="layers: required key is missing"):
        validate(data)


def test_malformed_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "design.yaml"
    bad.write_text("name: x\nquant: {weight_bits: 4\n")
    with pytest.raises(FpgaflowError, match=r"design.yaml: malformed YAML at line"):
        load_spec_file(bad)


def test_yaml_tags_are_not_executed(tmp_path):
    bad = tmp_path / "design.yaml"
    bad.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(FpgaflowError, match="malformed YAML"):
        load_spec_file(bad)


def test_unknown_design_lists_known():
    with pytest.raises(FpgaflowError, match=r"unknown design 'lenet5' \(known designs: .*lenet"):
        load_design("lenet5")


@pytest.mark.parametrize("name", ["../lenet", "lenet/../lenet", "/etc/passwd", "LeNet", "", "a b"])
def test_design_names_are_not_paths(name):
    with pytest.raises(FpgaflowError, match="invalid design name"):
        load_design(name)


def test_layer_types_a_framework_cannot_build_are_refused_at_load():
    """A depthwise layer in a QKeras design failed halfway through training; now the spec says so."""
    data = yaml.safe_load((ROOT / "designs/lenet_qkeras/design.yaml").read_text())
    data["layers"].insert(1, {"type": "dwconv", "kernel": 3, "padding": 1})
    with pytest.raises(FpgaflowError, match=r"layers\[1\].type: keras designs have no 'dwconv' layer \(supported: conv, "):
        validate(data)


def test_resolved_layers(lenet):
    from fpgaflow.core.layers import resolve

    layers = resolve(lenet.spec)
    assert [l.name for l in layers] == ["conv1", "pool1", "conv2", "pool2", "flatten1", "fc1", "fc2"]
    conv2, fc1 = layers[2], layers[5]
    assert (conv2.in_shape, conv2.out_shape, conv2.matrix, conv2.evaluations) == ((20, 12, 12), (50, 8, 8), (500, 50), 64)
    assert (fc1.matrix, fc1.in_bits, fc1.weight_bits, fc1.act_bits, fc1.evaluations) == ((800, 500), 4, 4, 4, 1)
    assert layers[0].in_bits == 8 and layers[-1].act_bits is None and layers[-1].last and not layers[-1].prunable


def test_unknown_part_and_bad_targets_are_refused_at_load():
    with pytest.raises(FpgaflowError, match=r"target.part: unknown part 'xc9000'"):
        validate(with_change(("target", "part"), "xc9000"))
    with pytest.raises(FpgaflowError, match=r"target.fps: 0 is below the minimum 1"):
        validate(with_change(("target", "fps"), 0))
    with pytest.raises(FpgaflowError, match=r"target.latency_us: -1.0 is below the minimum"):
        validate(with_change(("target", "latency_us"), -1))


def test_each_framework_lists_the_layer_types_its_builder_takes():
    """The registry's layer_types (checked at load, without importing torch or TensorFlow) is
    a copy of each model builder's table: they must not drift apart."""
    from fpgaflow.frontends import FRAMEWORKS
    from fpgaflow.frontends.brevitas.model import LAYER_BUILDERS as BREVITAS
    from fpgaflow.frontends.qkeras.model import LAYER_BUILDERS as QKERAS

    assert set(FRAMEWORKS["brevitas"].layer_types) == set(BREVITAS)
    assert set(FRAMEWORKS["keras"].layer_types) == set(QKERAS)
