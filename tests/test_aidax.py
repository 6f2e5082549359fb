"""AIDA-X's levels, as its plugin applies them (models/aidax.py), against our render and RTNeural."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from guneamp_lib.cli import main
from guneamp_lib.errors import GuneampError
from guneamp_lib.knobs import Knob, KnobSpace
from guneamp_lib.models import build_model
from guneamp_lib.models.aidax import AIDAX_SILENT_DB, AidaxLevels, aidax_payload, db_factor, read_aidax
from guneamp_lib.models.checkpoint import Checkpoint, save_checkpoint

from .conftest import toy_di, write

SPACE = KnobSpace([Knob("drive", 0, 10), Knob("treble", 2, 8)])


def _ckpt(name="lstm", input_gain=1.7, output_gain=0.4, seed=3):
    torch.manual_seed(seed)
    model = build_model(name, hidden_size=8, num_knobs=2).eval()
    return Checkpoint(model, name, 44100, 1, 256, target_kind="amp_direct", knobs=SPACE,
                      input_gain=input_gain, output_gain=output_gain)


def test_levels_are_read_as_the_plugin_reads_them():
    assert db_factor(6.0) == pytest.approx(10 ** (6 / 20)) and db_factor(-20.0) == pytest.approx(0.1)
    assert db_factor(AIDAX_SILENT_DB) == 0.0 and db_factor(AIDAX_SILENT_DB + 1) > 0
    assert AidaxLevels.of({"layers": []}) == AidaxLevels(1.0, 1.0, False)  # keys missing: unity, no skip
    assert AidaxLevels.of({"in_gain": "6", "out_gain": None, "in_skip": 1}) == AidaxLevels(1.0, 1.0, True)
    with pytest.raises(GuneampError, match="in_skip is 2"):
        AidaxLevels.of({"in_skip": 2})
    x = np.float32([0.5, -0.25, 1.0])
    net = np.float32([0.1, 0.2, -0.3])
    skip = AidaxLevels(2.0, 0.5, True).play(x, lambda u: net)
    np.testing.assert_allclose(skip, (2.0 * x + net) * 0.5)  # the input gain comes before the skip
    alone = AidaxLevels(2.0, 0.5, False).play(x, lambda u: u * 0 + net)
    np.testing.assert_allclose(alone, net * 0.5)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_export_at_a_non_unity_level_plays_as_guneamp_render(tmp_path, name):
    """The plugin's formula on our network's output (the skip taken out) equals `guneamp render`'s file."""
    ckpt = _ckpt(name)
    save_checkpoint(tmp_path / "m.pt", ckpt)
    assert main(["export", "--format", "aidax", "--model", str(tmp_path / "m.pt"),
                 "--output", str(tmp_path / "m.json")]) == 0
    payload = read_aidax(tmp_path / "m.json")
    levels = AidaxLevels.of(payload)
    assert levels.skip and levels.input_gain == pytest.approx(1.7) and levels.output_gain == pytest.approx(2.5)
    x = (0.6 * toy_di(1.0, seed=5)[:15000]).astype(np.float32)
    write(tmp_path / "di.wav", x)
    settings = {"drive": 7.5, "treble": 3.0}
    assert main(["render", "--model", str(tmp_path / "m.pt"), "--input", str(tmp_path / "di.wav"), "--output",
                 str(tmp_path / "y.wav"), "--knob", "drive=7.5", "--knob", "treble=3", "--quiet"]) == 0
    rendered = sf.read(tmp_path / "y.wav", dtype="float32")[0]
    knobs = torch.from_numpy(SPACE.normalize(settings))

    def network(u):  # our network alone: the model less its skip
        with torch.no_grad():
            t = torch.from_numpy(u).view(1, 1, -1)
            return (ckpt.model(t, knobs=knobs[None]) - t).view(-1).numpy()

    played = levels.play(x, network)
    assert np.abs(rendered).max() > 0.05
    np.testing.assert_allclose(rendered, played, atol=2e-5)


def test_a_level_the_plugin_would_silence_is_refused():
    with pytest.raises(GuneampError, match="-90 dB or less"):
        aidax_payload(_ckpt(output_gain=10 ** (91 / 20)))
    assert json.dumps(aidax_payload(_ckpt(output_gain=10 ** (80 / 20))))  # -80 dB still plays
