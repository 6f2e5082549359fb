"""Hostile ``.nam`` files: each class gets one ``error:`` line naming what is wrong, before anything is built.

The classes are issue 20's and 21's: truncated files, wrong types, too few or too many
weights, NaN weights, absurd declared sizes, and nesting meant to exhaust the parser.
Every refusal must name the field (its path in the file), be one line, quote no torch
internals, and (for the size classes) come before the reader allocates what the file
declares: a 1e12 dilation or a million channels must cost nothing.
"""

from __future__ import annotations

import copy
import json
import tracemalloc

import pytest
import torch

from guneamp_lib.cli import main
from guneamp_lib.errors import GuneampError
from guneamp_lib.models import WaveNet
from guneamp_lib.models.checkpoint import Checkpoint
from guneamp_lib.models.lstm import LSTMModel
from guneamp_lib.models.nam import load_model_file, nam_payload
from guneamp_lib.models.nam_fields import MAX_JSON_DEPTH, json_depth


@pytest.fixture(scope="module")
def good():
    torch.manual_seed(0)
    wave = nam_payload(Checkpoint(WaveNet("nano").eval(), "wavenet", 48000, 1, 1, target_kind="amp_direct"))
    lstm = nam_payload(Checkpoint(LSTMModel(8).eval(), "lstm", 48000, 1, 1, target_kind="amp_direct"))
    return wave, lstm


def edited(d, path, value):
    """``d`` with the field at ``path`` (keys and indices) set to ``value`` (``...`` deletes it)."""
    d = copy.deepcopy(d)
    node = d
    for k in path[:-1]:
        node = node[k]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


def refused(tmp_path, content) -> str:
    path = tmp_path / "hostile.nam"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(GuneampError) as e:
        load_model_file(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    for internal in ("torch", "Tensor", "size mismatch", "Traceback", "view_as"):
        assert internal not in msg, msg
    return msg


LAYER = ("config", "layers", 0)


@pytest.mark.parametrize("where, value, named", [
    (LAYER + ("channels",), "4", "config.layers[0].channels is '4'"),
    (LAYER + ("channels",), 4.0, "config.layers[0].channels is 4.0"),
    (LAYER + ("channels",), True, "config.layers[0].channels is True"),
    (LAYER + ("dilations",), "1,2,4", "config.layers[0].dilations is '1,2,4'; it must be a list"),
    (LAYER + ("dilations", 2), -4, "config.layers[0].dilations[2] is -4"),
    (LAYER + ("kernel_sizes",), [3, 3], "config.layers[0].kernel_sizes has 2 entries where"),
    (LAYER + ("activation",), [{"type": "Swish"}] * 7, "config.layers[0].activation is the activation 'Swish'"),
    (LAYER + ("gating_mode",), ["sometimes"] * 7, "config.layers[0].gating_mode is 'sometimes'"),
    (LAYER + ("head",), 3, "config.layers[0].head is 3"),
    (LAYER + ("head", "bias"), "yes", "config.layers[0].head.bias is 'yes'; it must be true or false"),
    (LAYER + ("layer1x1",), {"active": True}, "config.layers[0].layer1x1 lacks the field 'groups'"),
    (LAYER + ("input_size",), ..., "config.layers[0] lacks the field 'input_size'"),
    (("config", "layers"), {}, "config.layers is {}; it must be a list"),
    (("config", "head_scale"), "loud", "config.head_scale is 'loud'"),
    (("config",), [], "config must be a JSON object"),
    (("version",), 7, "version is 7"),
    (("version",), "0.8.0", "version is 0.8.0; NAM's plugin (and guneamp) read formats 0.5.x, 0.6.x, 0.7.x"),
    (("version",), "0.4.9", "version is 0.4.9"),
    (("weights",), {"0": 1.0}, "weights is {'0': 1.0}; it must be a list"),
    (("weights", 5), "0.1", "weights[5] is '0.1'; weights must be numbers"),
    (("weights", 5), [0.1], "weights[5] is [0.1]; weights must be numbers"),
    (("weights",), ..., "lacks the field 'weights'"),
])
def test_wrong_types_and_missing_fields_are_named(good, tmp_path, where, value, named):
    assert named in refused(tmp_path, edited(good[0], where, value))


def test_weights_too_few_too_many_and_not_finite(good, tmp_path):
    wave, lstm = good
    n = len(wave["weights"])
    assert f"weights holds {n - 1} numbers where the config needs {n}" in refused(
        tmp_path, edited(wave, ("weights",), wave["weights"][1:]))
    assert f"weights holds {n + 3} numbers where the config needs {n}" in refused(
        tmp_path, edited(wave, ("weights",), wave["weights"] + [0.0] * 3))
    m = len(lstm["weights"])
    assert f"weights holds {m - 2} numbers" in refused(tmp_path, edited(lstm, ("weights",), lstm["weights"][2:]))
    for bad in ("NaN", "Infinity", "-Infinity"):
        text = json.dumps(wave).replace(json.dumps(wave["weights"][:3])[:-1], f"[{bad}", 1)
        assert "weights[0] is" in refused(tmp_path, text) and "must be finite" in refused(tmp_path, text)


def test_truncated_files_and_non_json(good, tmp_path):
    text = json.dumps(good[0])
    for cut in (len(text) // 2, len(text) - 1, 1):
        assert "is not a .nam file (not JSON" in refused(tmp_path, text[:cut])
    assert "is not a model" in refused(tmp_path, "[1, 2, 3]")


@pytest.mark.parametrize("where, value, named", [
    (LAYER + ("dilations",), [1, 2, 10**12, 8, 16, 32, 64], "config.layers[0].dilations[2] is 1000000000000"),
    (LAYER + ("dilations",), [2**19] * 7, "declare a receptive field of"),
    (LAYER + ("channels",), 10**6, "config.layers[0].channels is 1000000"),
    (LAYER + ("kernel_sizes",), [10**9] * 7, "config.layers[0].kernel_sizes[0] is 1000000000"),
    (LAYER + ("head", "out_channels"), 2**40, "config.layers[0].head.out_channels is 1099511627776"),
])
def test_absurd_sizes_are_refused_before_anything_is_allocated(good, tmp_path, where, value, named):
    content = edited(good[0], where, value)
    tracemalloc.start()
    try:
        msg = refused(tmp_path, content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert named in msg
    assert peak < 20e6  # parsing the small file, nothing of what it declares


def test_history_budget_counts_channels_times_look_back(good, tmp_path):
    # Within the receptive-field budget, but 1024 channels of 2**19 samples each: 2**29 values.
    layers = [dict(good[0]["config"]["layers"][0], channels=1024, bottleneck=1024, dilations=[2**19],
                   kernel_sizes=[2], activation=[{"type": "Tanh"}], gating_mode=["none"],
                   secondary_activation=[None])]
    assert "values of history" in refused(tmp_path, edited(good[0], ("config", "layers"), layers))


def test_huge_lstm_is_refused_by_its_size(good, tmp_path):
    assert "config.hidden_size is 1000000" in refused(tmp_path, edited(good[1], ("config", "hidden_size"), 10**6))
    assert "config.num_layers is 0" in refused(tmp_path, edited(good[1], ("config", "num_layers"), 0))


def test_deep_nesting_is_measured_before_parsing(good, tmp_path):
    assert json_depth('{"a": [1, {"b": "[[[[\\"{{"}]}') == 3
    deep = "[" * 100_000 + "]" * 100_000
    assert "nests 100000 levels deep" in refused(tmp_path, deep)
    # deep inside an otherwise good file (in its metadata, which nobody reads)
    d = copy.deepcopy(good[0])
    d["metadata"]["x"] = "PLACEHOLDER"
    text = json.dumps(d).replace('"PLACEHOLDER"', "[" * (MAX_JSON_DEPTH + 5) + "]" * (MAX_JSON_DEPTH + 5))
    assert "levels deep" in refused(tmp_path, text)


def test_containers_nest_and_order_as_nam_requires(good, tmp_path):
    wave = good[0]
    container = {"version": "0.7.0", "architecture": "SlimmableContainer", "weights": [], "sample_rate": 48000,
                 "config": {"submodels": [{"max_value": 1.0, "model": wave}, {"max_value": 0.5, "model": wave}]}}
    assert "config.submodels' max_value are [1.0, 0.5]" in refused(tmp_path, container)
    inner = edited(wave, ("weights",), wave["weights"][:-1])
    container["config"]["submodels"] = [{"max_value": 1.0, "model": inner}]
    assert "config.submodels[0].model.weights holds" in refused(tmp_path, container)


def test_a_condition_dsp_runs_at_its_wavenets_rate(good, tmp_path):
    wave = copy.deepcopy(good[0])
    wave["config"]["condition_dsp"] = dict(copy.deepcopy(good[0]), sample_rate=44100)
    assert "config.condition_dsp.sample_rate is 44100 where the WaveNet runs at 48000" in refused(tmp_path, wave)


def test_the_command_line_prints_one_error_line(good, tmp_path, capsys):
    bad = tmp_path / "bad.nam"
    bad.write_text("[" * 5000 + "]" * 5000)
    di = tmp_path / "di.wav"
    import numpy as np
    import soundfile as sf
    sf.write(di, np.zeros(4800, np.float32), 48000, subtype="FLOAT")
    code = main(["render", "--model", str(bad), "--input", str(di), "--output", str(tmp_path / "out.wav")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith("error:") and "levels deep" in err[0]
