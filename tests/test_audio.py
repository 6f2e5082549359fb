import os
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from guneamp_lib.dsp.audio import load_wav, peak_normalize, read_audio, save_wav
from guneamp_lib.errors import GuneampError, GuneampWarning
from tests.conftest import write

SR = 44100


def sine(n=4410, amp=0.5):
    return (amp * np.sin(np.arange(n) * 0.05)).astype(np.float32)


def test_load_wav_native_rate_mono_float32_peak_normalized(tmp_path):
    write(tmp_path / "a.wav", sine(amp=0.25), sr=48000, subtype="PCM_24")
    x, sr = load_wav(tmp_path / "a.wav")
    assert sr == 48000
    assert x.dtype == torch.float32 and x.ndim == 1 and x.numel() == 4410
    assert x.abs().max().item() == pytest.approx(1.0, abs=1e-6)


def test_missing_file(tmp_path):
    with pytest.raises(GuneampError, match="not found.*guneamp synth"):
        load_wav(tmp_path / "nope.wav")


def test_not_audio(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("these are my guitar notes, not audio")
    with pytest.raises(GuneampError, match="not a readable audio file"):
        load_wav(p)


def test_truncated_wav(tmp_path):
    p = write(tmp_path / "t.wav", sine(44100), subtype="PCM_16")
    data = p.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(GuneampError, match="truncated"):
        load_wav(cut)


def test_stereo_is_mixed_to_mono_with_a_notice(tmp_path):
    st = np.stack([sine(), -0.5 * sine()], axis=1)
    sf.write(tmp_path / "st.wav", st, SR)
    with pytest.warns(GuneampWarning, match="2 channels; mixing them to mono"):
        x, _ = load_wav(tmp_path / "st.wav")
    assert x.ndim == 1 and x.numel() == 4410


def test_silent_file_no_division_blow_up(tmp_path):
    write(tmp_path / "s.wav", np.zeros(1000))
    with pytest.warns(GuneampWarning, match="silent"):
        x, _ = load_wav(tmp_path / "s.wav")
    assert torch.all(x == 0) and torch.isfinite(x).all()
    assert torch.all(peak_normalize(torch.zeros(10)) == 0)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_samples(tmp_path, bad):
    x = sine()
    x[1234] = bad
    write(tmp_path / "n.wav", x)
    with pytest.raises(GuneampError, match="NaN or infinite samples.*0.028 s"):
        load_wav(tmp_path / "n.wav")


def test_clipped_input_warns(tmp_path):
    x = np.clip(3 * sine(44100), -1, 1)
    write(tmp_path / "c.wav", x, subtype="PCM_16")
    with pytest.warns(GuneampWarning, match="looks clipped"):
        _, _, info = read_audio(tmp_path / "c.wav")
    assert info.clipped_fraction > 0.1


def test_unclipped_input_does_not_warn(tmp_path):
    write(tmp_path / "ok.wav", sine(44100))
    with warnings.catch_warnings():
        warnings.simplefilter("error", GuneampWarning)
        _, _, info = read_audio(tmp_path / "ok.wav")
    assert info.clipped_fraction == 0.0
    assert info.peak_dbfs == pytest.approx(20 * np.log10(0.5), abs=0.01)


def test_save_wav_is_atomic_and_never_overwrites_an_input(tmp_path):
    src = write(tmp_path / "in.wav", sine())
    before = src.read_bytes()
    with pytest.raises(GuneampError, match="one of the input files"):
        save_wav(src, np.zeros(10), SR, protect=[src])
    assert src.read_bytes() == before
    out = save_wav(tmp_path / "sub" / "out.wav", torch.ones(5) * 0.5, SR)
    assert sf.read(out)[0].tolist() == [0.5] * 5
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["out.wav"]  # no temp file left


def test_save_wav_refuses_nan(tmp_path):
    with pytest.raises(GuneampError, match="NaN"):
        save_wav(tmp_path / "x.wav", np.array([0.0, np.nan]), SR)
    assert not (tmp_path / "x.wav").exists()


def test_empty_file(tmp_path):
    write(tmp_path / "e.wav", np.zeros(0))
    with pytest.raises(GuneampError, match="no audio samples"):
        load_wav(tmp_path / "e.wav")


def test_write_text_atomic_replaces_whole_files_and_keeps_the_old_one_on_failure(tmp_path, monkeypatch):
    from guneamp_lib.paths import write_text_atomic

    target = tmp_path / "sub" / "report.md"
    assert write_text_atomic(target, "first") == target and target.read_text() == "first"
    write_text_atomic(target, "second")
    assert target.read_text() == "second"

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(target, "third")
    assert target.read_text() == "second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.md"]  # no temporary file left


def test_atomic_output_keeps_the_old_file_when_the_writer_fails(tmp_path):
    from guneamp_lib.paths import atomic_output

    target = tmp_path / "out.wav"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="writer failed"):
        with atomic_output(target) as tmp:
            assert tmp.parent == tmp_path and tmp != target
            tmp.write_bytes(b"half a file")
            raise RuntimeError("writer failed")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]
