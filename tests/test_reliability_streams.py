"""Issue 20, second half of the probe: memory flat in the file's length, checkpoint budgets,
sample rates, and samples far beyond full scale.

The block paths of ``check`` and ``score`` are held to the whole-file computation on pairs
that span several blocks (their memory is measured by ``make bench``, section 7, not here).
"""

import warnings
import zipfile

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy import signal

import guneamp_lib.capture.lag as lag_module
from guneamp_lib.capture.checks import blocks_silent_share, check_pair, silent_share, validate_pair
from guneamp_lib.capture.lag import PairSignal, estimate_lag, polarity, welch_spectra
from guneamp_lib.capture.reamp_checks import check_capture_pair
from guneamp_lib.dsp.audio import read_audio
from guneamp_lib.dsp.blocks import AudioReader, scan_audio
from guneamp_lib.dsp.error import ErrorSums, esr, pre_emphasis
from guneamp_lib.errors import GuneampError
from guneamp_lib.models.checkpoint import load_checkpoint
from guneamp_lib.study.score import predict_at_level, score_files
from tests.conftest import toy_amp, toy_di, write
from tests.test_reliability import SR, files, refused, run  # noqa: F401 - files is a fixture

LAG = 9


@pytest.fixture
def long_pair(tmp_path):
    """A 6 s pair, the target late by LAG samples, stereo, with flat tops across block ends."""
    x = toy_di(seconds=6.0, seed=3)
    y = np.roll(toy_amp(x), LAG)
    y = 0.8 * y / np.abs(y).max()
    y[4090:4110] = 0.8  # a clipped run over the 4096-sample block boundary
    stereo = np.stack([y, 0.5 * y], axis=1)
    clean = write(tmp_path / "clean.wav", x)
    amp = tmp_path / "amp.wav"
    sf.write(str(amp), stereo.astype(np.float32), SR, subtype="FLOAT")
    return clean, amp


def close(a, b, rel=1e-9):
    return a == pytest.approx(b, rel=rel, abs=1e-300)


# --------------------------------------------------------------------------- blocks equal the whole


def test_scan_in_blocks_equals_read_audio(long_pair):
    for path in long_pair:
        with warnings.catch_warnings():  # the clipped file warns; whether the clean one does is not the point
            warnings.simplefilter("ignore")
            _, _, whole = read_audio(path)
        with AudioReader(path) as r:
            blocked = scan_audio(r, block=4096)
        assert (blocked.frames, blocked.channels, blocked.sample_rate) == (whole.frames, whole.channels, whole.sample_rate)
        assert close(blocked.peak, whole.peak) and close(blocked.rms, whole.rms)
        assert blocked.clipped_fraction == whole.clipped_fraction
    assert whole.clipped_fraction > 0  # the run across the boundary is counted


def test_welch_in_batches_equals_scipy(monkeypatch):
    rng = np.random.default_rng(1)
    c = rng.standard_normal(60_000)
    t = np.roll(c, 5) + 0.1 * rng.standard_normal(c.size)
    monkeypatch.setattr(lag_module, "WELCH_BATCH_SAMPLES", 3 * 2048)
    f, sxx, syy, sxy = welch_spectra(PairSignal.of_arrays(c, t), SR, 2048)
    kw = dict(fs=SR, window="hann", nperseg=2048, noverlap=1536, detrend=False)
    for mine, ref in ((sxx, signal.welch(c, **kw)[1]), (syy, signal.welch(t, **kw)[1]), (sxy, signal.csd(c, t, **kw)[1])):
        np.testing.assert_allclose(mine, ref, rtol=1e-9)


def test_check_in_blocks_equals_the_whole_files(long_pair, monkeypatch):
    clean, amp = long_pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c, _, _ = read_audio(clean)
        t, _, _ = read_audio(amp)
    whole_lag = estimate_lag(c, t, SR)
    monkeypatch.setattr(lag_module, "WELCH_BATCH_SAMPLES", 1 << 14)  # many batches of segments
    report = check_pair(clean, amp, block=4096)
    assert report.lag == whole_lag and LAG <= report.lag.lag <= LAG + 3 and report.lag.reliable  # the low-pass peaks late
    assert str(report) == str(check_pair(clean, amp, block=1 << 22))
    pieces = [c[i : i + 1000] for i in range(0, c.size, 1000)]
    assert blocks_silent_share(pieces, SR, float(np.abs(c).max())) == silent_share(c, SR)
    assert polarity(c, t, SR, report.lag.lag) == 1


def test_error_sums_in_blocks_equal_the_whole():
    rng = np.random.default_rng(2)
    t, p = rng.standard_normal(10_000), rng.standard_normal(10_000)
    sums = ErrorSums()
    edges = [0, 1, 2, 700, 701, 4096, 9000, 10_000]
    for lo, hi in zip(edges[:-1], edges[1:]):
        sums.add(t[lo:hi], p[lo:hi])
    assert close(sums.esr, esr(t, p))
    tt, pp = torch.from_numpy(t), torch.from_numpy(p)
    assert close(sums.esr_pre_emphasis, esr(pre_emphasis(tt), pre_emphasis(pp)))


def test_score_in_pieces_equals_the_whole_files(files):
    ckpt = load_checkpoint(files["model"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c, _, _ = read_audio(files["clean"])
        t, _, _ = read_audio(files["amp"])
    c, t, est = validate_pair(c, t, SR, SR, align=True)
    pred = predict_at_level(ckpt, c, ckpt.ir).double()
    target = torch.from_numpy(t).double()
    got = score_files(files["model"], files["clean"], files["amp"], chunk=5000)  # several pieces
    assert got.lag_samples == est.lag and got.seconds == c.size / SR
    assert got.esr == pytest.approx(esr(target, pred), rel=1e-6)
    assert got.esr_pre_emphasis == pytest.approx(esr(pre_emphasis(target), pre_emphasis(pred)), rel=1e-6)


# --------------------------------------------------------------------------- samples far beyond full scale


def test_a_sample_far_beyond_full_scale_is_reported_and_refused(files, capsys):
    y, _ = sf.read(str(files["amp"]), dtype="float32")
    y[SR] = 1e30
    bad = write(files["dir"] / "bad_amp.wav", y)
    code, out, _ = run(capsys, "check", files["clean"], bad)
    assert code == 1
    assert "PROBLEM:" in out and "far beyond full scale" in out and "first at 1.000 s" in out
    line = refused(capsys, "train", "--clean", files["clean"], "--amp", bad, "--ir", files["ir"],
                   "--out", files["dir"] / "run", "--device", "cpu", "--quiet")
    assert str(bad) in line and "1.000 s" in line and "export" in line
    assert not (files["dir"] / "run").exists()
    with pytest.raises(GuneampError, match="far beyond full scale"):
        score_files(files["model"], files["clean"], bad)
    line = refused(capsys, "render", "--model", files["model"], "--input", bad, "--output", files["dir"] / "o.wav")
    assert "far beyond full scale" in line and "1.000 s" in line
    assert not (files["dir"] / "o.wav").exists()


# --------------------------------------------------------------------------- sample rates


def test_a_rate_no_interface_uses_is_refused(files, capsys):
    x, _ = sf.read(str(files["clean"]), dtype="float32")
    one = files["dir"] / "one_hz.wav"
    sf.write(str(one), x, 1, subtype="FLOAT")
    for argv in (("check", one, one), ("check", files["clean"], one),
                 ("train", "--clean", one, "--amp", one, "--ir", files["ir"], "--out", files["dir"] / "run", "--device",
                  "cpu", "--quiet")):
        assert "no audio interface uses" in refused(capsys, *argv)
    assert not (files["dir"] / "run").exists()


def test_a_checkpoint_at_a_rate_no_interface_uses_is_refused(files):
    payload = torch.load(files["model"], weights_only=True)
    torch.save({**payload, "sample_rate": 1000}, files["dir"] / "odd.pt")
    with pytest.raises(GuneampError, match="'sample_rate'"):
        load_checkpoint(files["dir"] / "odd.pt")


def test_coverage_advice_names_notes_at_192_khz(tmp_path):
    sr = 192_000
    t = np.arange(3 * sr) / sr
    x = (0.3 * np.sin(2 * np.pi * 660 * t) * np.exp(-3 * (t % 0.5))).astype(np.float32)  # one high note only
    report, cap = check_capture_pair(write(tmp_path / "c.wav", x, sr=sr), write(tmp_path / "t.wav", np.tanh(4 * x), sr=sr))
    line = next(w for w in report.warnings if w.startswith("coverage:"))
    lo, hi = (float(v) for v in line.split("bands (")[1].split(" Hz")[0].split(" to "))
    assert 40 <= lo < hi < 1500, line  # fundamentals of the neck, not ultrasound
    assert "the notes E2" in line or "the notes D#2" in line or "the notes F2" in line, line


# --------------------------------------------------------------------------- checkpoint budgets


def _tampered(files, name, **changes):
    payload = torch.load(files["model"], weights_only=True)
    payload.update(changes)
    bad = files["dir"] / name
    torch.save(payload, bad)
    return bad


def test_an_ir_that_inflates_is_refused_before_it_does(files, capsys):
    bad = _tampered(files, "inflating.pt", ir=torch.zeros(1).expand(300_000_000))
    assert bad.stat().st_size < 100_000
    line = refused(capsys, "render", "--model", bad, "--input", files["clean"], "--output", files["dir"] / "o.wav")
    assert "'ir'" in line and "inflate" in line
    line = refused(capsys, "export", "--model", bad, "--output", files["dir"] / "o.nam")
    assert "inflate" in line
    assert not (files["dir"] / "o.wav").exists() and not (files["dir"] / "o.nam").exists()


def test_an_ir_longer_than_any_cabinet_is_refused(files):
    bad = _tampered(files, "long_ir.pt", ir=torch.full((10 * SR + 1,), 0.01))
    with pytest.raises(GuneampError, match="no cabinet rings that long"):
        load_checkpoint(bad)


def test_a_receptive_field_beyond_the_budget_is_refused(files):
    payload = torch.load(files["model"], weights_only=True)
    config = {**payload["model_config"], "dilations": [1, 2, 4, 1 << 26]}  # same weights, 2^27 samples of history
    bad = _tampered(files, "deep.pt", model_config=config)
    with pytest.raises(GuneampError, match="receptive field"):
        load_checkpoint(bad)


def test_a_compressed_archive_is_refused(files):
    bad = files["dir"] / "deflated.pt"
    with zipfile.ZipFile(files["model"]) as src, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as dst:
        for entry in src.infolist():
            dst.writestr(entry.filename, src.read(entry))
    with pytest.raises(GuneampError, match="compressed"):
        load_checkpoint(bad)
