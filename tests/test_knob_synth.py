"""``guneamp synth --knobs``: the reference amp at the settings of a plan, deterministic, one level for all."""

import numpy as np
import pytest

from guneamp_lib.capture.knob_synth import KNOB_NAMES, MANIFEST_NAME
from guneamp_lib.capture.plan import nearest_setting
from guneamp_lib.capture.synth import ReferenceAmp
from guneamp_lib.cli import main
from guneamp_lib.dsp.audio import read_audio
from guneamp_lib.study.manifest import read_knob_manifest

# Eight 0.5 s takes: the whole set in seconds, the same code path as the default 40 s.
SECONDS = "4"


@pytest.fixture(scope="module")
def knob_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("knobs")
    assert main(["synth", "--knobs", "--out", str(out), "--seconds", SECONDS, "--quiet"]) == 0
    return out


def test_same_bytes_twice(knob_set, tmp_path):
    again = tmp_path / "again"
    assert main(["synth", "--knobs", "--out", str(again), "--seconds", SECONDS, "--quiet"]) == 0
    first = sorted(p.name for p in knob_set.iterdir())
    assert first == sorted(p.name for p in again.iterdir())
    assert len(first) > 60
    for name in first:
        assert (knob_set / name).read_bytes() == (again / name).read_bytes(), name


def test_manifest_holds_the_plan_and_held_out_rows_play_a_take_never_trained_on(knob_set):
    m = read_knob_manifest(knob_set / MANIFEST_NAME)
    assert m.knob_names == KNOB_NAMES
    assert len(m.train) == 16 + 40 and len(m.test) == 8
    assert all(k.low == 0 and k.high == 10 for k in m.space.knobs)
    trained_on = {r.clean for r in m.train}
    assert len(trained_on) == 8
    assert {r.clean for r in m.test}.isdisjoint(trained_on)
    # Baseline (b) has its recording: the nearest training setting also played the held-out take.
    for row in m.test:
        near = m.train[nearest_setting(m.space, row.settings, [r.settings for r in m.train])]
        assert near.test_clean == row.clean and near.test_target.is_file()
    assert all(r.target.is_file() and r.clean.is_file() for r in m.rows)


def test_every_recording_is_the_amp_at_its_setting_at_one_shared_level(knob_set):
    m = read_knob_manifest(knob_set / MANIFEST_NAME)
    scales = []
    for row in (m.train[0], m.train[-1], m.test[0]):
        di, sr, _ = read_audio(row.clean)
        target, _, _ = read_audio(row.target)
        expect = ReferenceAmp(**row.settings)(di / 0.5, sr)
        scale = float(np.dot(target, expect) / np.dot(expect, expect))
        np.testing.assert_allclose(target, scale * expect, atol=1e-6)
        scales.append(scale)
    # One factor for every file: the knobs' level changes stay in the recordings.
    assert max(scales) - min(scales) < 1e-6


def test_existing_set_is_kept_and_out_needs_knobs(knob_set, tmp_path, capsys):
    before = (knob_set / MANIFEST_NAME).stat().st_mtime_ns
    assert main(["synth", "--knobs", "--out", str(knob_set), "--seconds", SECONDS, "--quiet"]) == 0
    assert "already in" in capsys.readouterr().out
    assert (knob_set / MANIFEST_NAME).stat().st_mtime_ns == before
    assert main(["synth", "--out", str(tmp_path)]) == 2
    assert "--out is the folder of `synth --knobs`" in capsys.readouterr().err
