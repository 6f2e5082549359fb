"""The capture signal (``guneamp capture-signal``) and the checks that know it.

The rig is simulated: the course's reference amp, a known whole-sample latency, noise of
a known level and, in one test, a known clock drift (band-limited resampling by scipy,
not by the library's own interpolation). The checks must find each of them.
"""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from guneamp_lib.capture.reamp_checks import analyze_capture, capture_check, check_capture_pair, mark_timing
from guneamp_lib.capture.reamp_signal import (DI_PEAK, MARK_LEVEL, MIN_SECONDS, NECK, capture_layout, capture_signal,
                                              find_layout, sidecar_path, write_capture_signal)
from guneamp_lib.capture.synth import ReferenceAmp
from guneamp_lib.cli import main

from .conftest import toy_di, write
from .test_reliability import run

SECONDS = MIN_SECONDS  # the shortest signal keeps the tests fast; every section is in it
LATENCY = 137
NOISE = 1e-4  # -80 dBFS, the floor of a good interface


@pytest.fixture(scope="module")
def sig44(tmp_path_factory):
    folder = tmp_path_factory.mktemp("capture")
    wav, side = write_capture_signal(folder / "signal.wav", SECONDS, 44100, seed=3)
    x, sr = sf.read(str(wav), dtype="float64")
    return {"wav": wav, "side": side, "x": x, "sr": sr, "layout": json.loads(side.read_text())}


def rig(x, sr, latency=LATENCY, noise=NOISE, drift=None, oversample=1, seed=0):
    """Reamp through the reference amp: its output arrives ``latency`` samples late, with noise."""
    y = ReferenceAmp(oversample=oversample)(x / DI_PEAK, sr).astype(np.float64)
    y = np.concatenate([np.zeros(latency), y, np.zeros(sr // 10)])
    if drift is not None:  # the recorder's clock runs fast by up/down - 1
        up, down = drift
        y = signal.resample_poly(y, up, down)
    return y + noise * np.random.default_rng(seed).standard_normal(y.size)


@pytest.fixture(scope="module")
def recorded(sig44):
    return rig(sig44["x"], sig44["sr"])


def test_sections_lie_where_the_sidecar_says(sig44):
    x, lay = sig44["x"], sig44["layout"]
    assert lay["frames"] == x.size and lay["sample_rate"] == 44100 and lay["seed"] == 3
    marks = np.asarray(lay["marks"])
    assert np.all(x[marks] == np.float32(MARK_LEVEL))
    sounding = np.zeros(x.size, bool)
    for s in lay["sections"]:
        part = x[s["start"]:s["end"]]
        if s["kind"] == "silence":
            assert not np.any(part), s["name"]
        elif s["kind"] == "marks":
            assert np.count_nonzero(part) == len(lay["marks"]) // 2
        else:
            assert np.sqrt(np.mean(part**2)) > 1e-3, s["name"]
        sounding[s["start"]:s["end"]] = True
    assert not np.any(x[~sounding]), "sound outside every section"
    for r in lay["repeats"]:
        a, b = r["source_start"], r["start"]
        assert np.array_equal(x[a:a + r["length"]], x[b:b + r["length"]])
    for n in lay["notes"]:  # each note sounds in its slot
        assert np.max(np.abs(x[n["start"]:n["end"]])) > 1e-3
    assert {n["midi"] for n in lay["notes"] if n["kind"] == "single"} == set(NECK)
    assert {n["kind"] for n in lay["notes"]} == {"single", "chord", "mute"}
    assert np.max(np.abs(x)) == pytest.approx(DI_PEAK, abs=1e-6)


def test_layout_follows_from_length_and_rate(sig44):
    """What the checks rebuild for a DI without its sidecar is the sidecar."""
    lay = dict(sig44["layout"])
    lay.pop("seed")
    assert capture_layout(sig44["x"].size, 44100) == lay


def test_deterministic_and_both_rates():
    a, la = capture_signal(SECONDS, 48000, seed=0)
    b, _ = capture_signal(SECONDS, 48000, seed=0)
    c, lc = capture_signal(SECONDS, 48000, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert la["sections"] == lc["sections"] and la["marks"] == lc["marks"]
    l44 = capture_layout(int(SECONDS * 44100), 44100)
    for s48, s44 in zip(la["sections"], l44["sections"]):  # the same plan in seconds at either rate
        assert s48["name"] == s44["name"]
        assert s48["start"] / 48000 == pytest.approx(s44["start"] / 44100, abs=1.5 / 44100)
    assert a.size == SECONDS * 48000 and a.dtype == np.float32


def test_latency_exact_through_a_simulated_rig(sig44, recorded):
    rep = analyze_capture(recorded, 44100, sig44["layout"])
    assert rep.latency == LATENCY
    assert rep.marks_found == len(sig44["layout"]["marks"])
    assert abs(rep.drift_ppm) < 0.05
    assert any(p.startswith(f"latency: the recording answers the timing marks {LATENCY} samples") for p in rep.problems)


@pytest.mark.parametrize("shift", [-8000, 0, 20000])
def test_latency_late_or_early_and_a_dc_offset(sig44, recorded, shift):
    """A recording started late (negative shift), or with a long latency, or with a DC offset."""
    early = NOISE * np.random.default_rng(9).standard_normal(max(shift, 0))
    rec = recorded[-shift:] if shift < 0 else np.concatenate([early, recorded])
    rep = analyze_capture(rec + 0.01, 44100, sig44["layout"])
    assert rep.latency == LATENCY + shift
    assert rep.noise_floor_dbfs == pytest.approx(-80, abs=0.5)


def test_gear_with_filters_of_its_own_adds_its_delay(sig44):
    """At 2x the amp's anti-aliasing filters delay its answer; the rig's latency adds to it exactly."""
    x, lay = sig44["x"], sig44["layout"]
    own = mark_timing(rig(x, 44100, latency=0, oversample=2), lay).latency
    assert 1 <= own <= 5
    assert mark_timing(rig(x, 44100, oversample=2), lay).latency == own + LATENCY


def test_drift_from_the_marks(sig44):
    up, down = 50001, 50000  # the recording clock runs 20 ppm fast
    rec = rig(sig44["x"], 44100, drift=(up, down))
    rep = analyze_capture(rec, 44100, sig44["layout"])
    ppm = 1e6 * (up / down - 1)
    assert rep.drift_ppm == pytest.approx(ppm, abs=0.2)
    assert abs(rep.latency - LATENCY) <= 1  # a drifting clock puts the clicks between samples
    assert rep.slide == pytest.approx(ppm * 1e-6 * sig44["x"].size, abs=1.0)
    assert any(p.startswith("drift:") for p in rep.problems)
    # Undoing the drift keeps it out of the noise estimate: the repeat still shows the noise alone.
    assert rep.best_possible_esr < 1e-5


@pytest.mark.parametrize("noise", [1e-4, 1e-3])
def test_noise_floor_and_best_esr(sig44, noise):
    lay = sig44["layout"]
    rec = rig(sig44["x"], 44100, noise=noise, seed=5)
    rep = analyze_capture(rec, 44100, lay)
    assert rep.noise_floor_dbfs == pytest.approx(20 * np.log10(noise), abs=0.5)
    r = next(r for r in lay["repeats"] if r["name"] == "repeat")
    clean_take = rig(sig44["x"], 44100, noise=0.0)[r["start"] + LATENCY:r["start"] + LATENCY + r["length"]]
    expected = noise**2 / np.mean(clean_take**2)  # each take's noise-to-signal ratio
    assert rep.best_possible_esr == pytest.approx(expected, rel=0.25)


def test_a_recording_that_stops_early_misses_notes(sig44, recorded):
    lay = sig44["layout"]
    cut = next(s for s in lay["sections"] if s["name"] == "chords")["start"] + 5 * 44100
    rep = analyze_capture(recorded[:cut], 44100, lay)
    late = [n for n in lay["notes"] if n["end"] + LATENCY > cut]
    assert len(rep.notes_missing) == len(late) > 0
    assert any(p.startswith("the recording stops") for p in rep.problems)
    assert any(p.startswith(f"notes: {len(late)} of {len(lay['notes'])} notes") for p in rep.problems)


def test_a_noise_gate_that_swallows_soft_notes(sig44, recorded):
    lay = sig44["layout"]
    gated = recorded.copy()
    soft = [n for n in lay["notes"] if n["velocity"] == min(m["velocity"] for m in lay["notes"])]
    for n in soft:
        gated[n["start"] + LATENCY:n["end"] + LATENCY] = 0.0
    rep = analyze_capture(gated, 44100, lay)
    assert soft and len(rep.notes_missing) == len(soft)


def test_no_marks_no_measurement(sig44):
    rep = analyze_capture(1e-4 * np.random.default_rng(0).standard_normal(sig44["x"].size), 44100, sig44["layout"])
    assert rep.latency is None and rep.problems and "timing marks" in rep.problems[0]


def test_cli_check_reports_the_latency(sig44, recorded, tmp_path, capsys):
    rec = write(tmp_path / "rec.wav", recorded, 44100)
    code, out, err = run(capsys, "check", sig44["wav"], rec)
    assert code == 1, out + err
    assert f"PROBLEM: latency: the recording answers the timing marks {LATENCY} samples" in out
    assert "capture signal: its layout from the sidecar" in out
    # The music-based lag no longer counts as a second problem.
    assert "1 problem(s) to fix" in out
    # Without the sidecar the signal is recognised by its marks, with the same findings.
    bare = tmp_path / "bare.wav"
    shutil.copy(sig44["wav"], bare)
    code, out2, _ = run(capsys, "check", bare, rec)
    assert "recognised by its timing marks" in out2
    assert out2.split("capture signal:")[1].split("\n", 1)[1] == out.split("capture signal:")[1].split("\n", 1)[1]


def test_cli_train_prints_the_findings(sig44, recorded, tmp_path, capsys):
    rec = write(tmp_path / "rec.wav", recorded, 44100)
    code, out, err = run(capsys, "train", "--clean", sig44["wav"], "--amp", rec, "--target-kind", "amp_direct",
                         "--align", "--model", "lstm:8", "--oversample", "1", "--epochs", "1", "--time-budget", "3",
                         "--out", tmp_path / "run", "--quiet", "--device", "cpu")
    assert code == 0, err
    assert f"latency: the recording answers the timing marks {LATENCY} samples" in out
    assert "noise floor:" in out and "repeat:" in out


def test_other_dis_are_not_the_capture_signal(tmp_path):
    x = toy_di(3.0)
    clean = write(tmp_path / "clean.wav", x)
    assert find_layout(clean, x.astype(np.float64), 44100) is None
    assert capture_check(clean, write(tmp_path / "amp.wav", np.tanh(3 * x))) is None


def test_a_di_that_misses_the_low_strings_is_told(tmp_path):
    sr = 44100
    t = np.arange(4 * sr) / sr
    x = 0.3 * np.sin(2 * np.pi * 660 * t) * np.exp(-3 * (t % 0.5))  # one high note, again and again
    report, cap = check_capture_pair(write(tmp_path / "c.wav", x), write(tmp_path / "t.wav", np.tanh(4 * x)))
    assert cap is None
    assert any(w.startswith("coverage:") for w in report.warnings)


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["capture-signal", "--help"])
    assert e.value.code == 0 and "sidecar" in capsys.readouterr().out


def test_cli_bad_input(tmp_path, capsys, sig44):
    out = tmp_path / "s.wav"
    for argv, needle in ((["--seconds", "10"], "--seconds"), (["--seconds", "nan"], "--seconds"),
                         (["--rate", "96000"], "--rate")):
        code, _, err = run(capsys, "capture-signal", "--output", out, "--quiet", *argv)
        assert code == 2 and err.startswith("error:") and needle in err and err.count("\n") == 1
        assert not out.exists()
    code, _, err = run(capsys, "capture-signal", "--output", tmp_path / "s.flac", "--quiet")
    assert code == 2 and ".wav" in err
    # Nothing of the user's is replaced: neither the WAV nor a sidecar alone.
    sidecar_path(out).write_text("mine")
    code, _, err = run(capsys, "capture-signal", "--output", out, "--quiet")
    assert code == 2 and "--overwrite" in err and sidecar_path(out).read_text() == "mine" and not out.exists()
    # A sidecar of ours that does not fit the WAV beside it.
    wav = tmp_path / "sig.wav"
    shutil.copy(sig44["wav"], wav)
    side = dict(sig44["layout"], frames=123)
    sidecar_path(wav).write_text(json.dumps(side))
    code, _, err = run(capsys, "check", wav, wav)
    assert code == 2 and err.startswith("error:") and "sidecar" in err
    sidecar_path(wav).write_text(json.dumps(dict(sig44["layout"], version=99)))
    code, _, err = run(capsys, "check", wav, wav)
    assert code == 2 and "capture-signal" in err
