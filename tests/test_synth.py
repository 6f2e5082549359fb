"""Tests for guneamp_lib.capture.synth: the default guitar, reference amp, cabinet and data set."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from guneamp_lib.capture import guitar, synth
from guneamp_lib.errors import GuneampError, GuneampWarning
from guneamp_lib.capture.synth import (
    DEFAULT_FILES,
    SAMPLE_RATE,
    ReferenceAmp,
    generate_default_data,
    synth_cab_ir,
)
from guneamp_lib.capture.guitar import guitar_score, synth_di

SR = SAMPLE_RATE
KINDS = {"single", "chord", "mute"}


@pytest.fixture(scope="module")
def di40():
    """The default 40 s take, seed 0, as the course uses it."""
    return synth_di(40.0, SR, seed=0)


def _sine(freq, amp, seconds, sr=SR):
    return amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)


def _frame_rms_db(x, frame=2205):
    x = np.asarray(x, dtype=np.float64)
    n = x.size // frame * frame
    rms = np.sqrt(np.mean(x[:n].reshape(-1, frame) ** 2, axis=1))
    return 20 * np.log10(rms / np.max(np.abs(x)) + 1e-12)


# ---------------------------------------------------------------- the guitar


def test_di_is_deterministic_per_seed():
    a, b, c = synth_di(6.0, seed=3), synth_di(6.0, seed=3), synth_di(6.0, seed=4)
    assert a.dtype == np.float32 and a.shape == (6 * SR,)
    assert np.array_equal(a, b)
    assert not np.allclose(a[: c.size], c, atol=1e-3)
    # Peak exactly 0.5: scaling by a power of two is exact, so normalizing recovers the amp's input.
    assert np.max(np.abs(a)) == np.float32(0.5)


def test_plucked_string_is_in_tune():
    rng = np.random.default_rng(0)
    librosa = pytest.importorskip("librosa")
    for midi in (40, 57, 76, 88):  # E2 .. E6
        note = guitar.Note(0.0, 1.0, midi, 0, 0.8, "single")
        y = guitar._pluck(note, SR, rng)
        f0 = np.median(librosa.yin(y[2000:30000], fmin=60, fmax=2000, sr=SR, frame_length=4096))
        cents = 1200 * np.log2(f0 / note.f0)
        print(f"MIDI {midi}: {note.f0:.2f} Hz, measured {f0:.2f} Hz ({cents:+.2f} cents)")
        assert abs(cents) < 5


def test_di_pitches_span_two_octaves(di40):
    """Estimate f0 on single notes no other held note overlaps; they must match the score.

    Other notes may still be fading (released before the analysis window), as on a real
    guitar; a pitch a semitone off would be 100 cents away, well beyond the 50 allowed.
    """
    librosa = pytest.importorskip("librosa")
    score = guitar_score(40.0, seed=0)
    ends = [n.start + n.dur for n in score]
    checked, right = 0, []
    for i, n in enumerate(score):
        if n.kind != "single" or n.legato or n.dur < 0.15:
            continue
        w0, w1 = n.start + 0.03, n.start + 0.14
        alone = all(ends[j] < w0 or score[j].start > w1 for j in range(len(score)) if j != i)
        if not alone:
            continue
        seg = di40[int(w0 * SR): int(w1 * SR)].astype(np.float64)
        f0 = np.median(librosa.yin(seg, fmin=70, fmax=1600, sr=SR, frame_length=2048))
        checked += 1
        if abs(1200 * np.log2(f0 / n.f0)) < 50:
            right.append(n.midi)
    span = max(right) - min(right)
    print(f"{checked} isolated single notes, {len(right)} at the scored pitch, "
          f"{len(set(right))} distinct, span {span} semitones")
    assert checked >= 15
    assert len(right) >= 0.9 * checked
    assert len(set(right)) >= 8
    assert span >= 24


def test_score_covers_the_neck_and_the_dynamics():
    for seed in (0, 1, 2):
        score = guitar_score(40.0, seed)
        singles = [n.midi for n in score if n.kind == "single"]
        lows = [n.midi for n in score if n.kind in ("single", "mute")]
        vel = np.array([n.velocity for n in score])
        assert min(lows) <= 47 and max(singles) >= 82, (min(lows), max(singles))
        assert vel.min() < 0.3 and vel.max() > 0.9
        assert any(n.legato for n in score)
        assert any(n.dur >= 0.5 for n in score if n.kind == "single")  # sustained notes
        chords = [n for n in score if n.kind == "chord"]
        # Strums: strings of one chord start a few ms apart, not together.
        gaps = np.diff([n.start for n in chords])
        assert np.any((gaps > 0.002) & (gaps < 0.04))


@pytest.mark.parametrize("seconds", [30.0, 40.0])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_fifth_of_the_take_has_singles_chords_and_mutes(seed, seconds):
    score = guitar_score(seconds, seed)
    window = 0.2 * seconds
    for t0 in np.arange(0.0, seconds - window + 1e-9, 0.1):
        kinds = {n.kind for n in score if t0 <= n.start < t0 + window}
        assert kinds == KINDS, f"seed {seed}: {t0:.2f}..{t0 + window:.2f} s has only {kinds}"


def test_di_has_rests_dynamics_and_a_busy_validation_split(di40):
    db = _frame_rms_db(di40)
    silent = db < -60
    sounding = db[~silent]
    spread = np.percentile(sounding, 95) - np.percentile(sounding, 10)
    tail = silent[int(0.8 * silent.size):]
    print(f"silent frames {silent.mean():.1%}, level spread {spread:.1f} dB, "
          f"silent in the last 20 % {tail.mean():.1%}")
    assert 0.03 < silent.mean() < 0.35
    assert spread > 20
    assert tail.mean() < 0.4
    assert silent[0]  # the take starts with a breath of silence


def test_di_rejects_bad_arguments():
    with pytest.raises(GuneampError):
        synth_di(0.0)
    with pytest.raises(GuneampError):
        synth_di(5.0, sr=8000)


# ---------------------------------------------------------------- the reference amp


def _harmonic_levels(y, freq, sr=SR):
    """Power at each harmonic below Nyquist, and total power elsewhere (both from a windowed FFT)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.abs(np.fft.rfft(y * signal.windows.blackmanharris(y.size))) ** 2
    f = np.fft.rfftfreq(y.size, 1 / sr)
    near = np.zeros(f.size, bool)
    harmonics = []
    for k in range(1, int(sr / 2 / freq) + 1):
        band = np.abs(f - k * freq) <= 8
        near |= band
        harmonics.append(p[band].sum())
    audible = (f >= 20) & (f <= sr / 2 - 20)
    return np.array(harmonics), p[audible & ~near].sum()


def _thd(amp, level, freq=200.0):
    y = amp(_sine(freq, level, 1.5))[SR // 2:]
    h, _ = _harmonic_levels(y, freq)
    return float(np.sqrt(h[1:].sum() / h[0]))


def test_amp_is_nonlinear_and_soft_at_low_level():
    amp = ReferenceAmp()
    thd = {lvl: _thd(amp, lvl) for lvl in (0.03, 0.3, 1.0)}
    print("THD at 200 Hz: " + ", ".join(f"{lvl:g} -> {100 * v:.1f} %" for lvl, v in thd.items()))
    assert thd[1.0] > 0.2  # clearly distorted at full level
    assert thd[0.03] < 0.03  # nearly clean when played softly
    assert thd[0.03] < thd[0.3] < thd[1.0]
    # Even harmonics are there: the stages clip asymmetrically.
    h, _ = _harmonic_levels(amp(_sine(200.0, 1.0, 1.5))[SR // 2:], 200.0)
    assert h[1] / h[0] > 1e-3
    # Not a scaled copy: doubling the input does not double the output.
    x = synth_di(3.0, seed=1) / 0.5
    y1, y2 = amp(0.5 * x), amp(x)
    assert np.sum((y2 - 2 * y1) ** 2) > 0.05 * np.sum(y2.astype(np.float64) ** 2)


def test_amp_output_shape_and_determinism():
    x = synth_di(3.0, seed=2) / 0.5
    y = ReferenceAmp()(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.all(np.isfinite(y)) and 0.1 < np.max(np.abs(y)) < 1.0
    assert np.array_equal(y, ReferenceAmp()(x))


def test_amp_has_memory_beyond_its_static_curve():
    amp = ReferenceAmp()
    # A memoryless system maps the same amplitude distribution to the same output levels,
    # whatever the frequency; filters between the stages make them differ.
    lo = amp(_sine(100.0, 0.1, 1.0))[SR // 2:].astype(np.float64)
    hi = amp(_sine(3000.0, 0.1, 1.0))[SR // 2:].astype(np.float64)
    ratio_db = 20 * np.log10(np.sqrt(np.mean(hi ** 2) / np.mean(lo ** 2)))
    print(f"3 kHz vs 100 Hz sine at the same level: {ratio_db:+.1f} dB")
    assert abs(ratio_db) > 3
    # On music, the best function of the present input sample leaves much unexplained.
    x = (synth_di(6.0, seed=5) / 0.5).astype(np.float64)
    y = amp(x).astype(np.float64)
    bins = np.digitize(x, np.linspace(-1, 1, 401))
    means = np.bincount(bins, y, minlength=403) / np.maximum(np.bincount(bins, minlength=403), 1)
    unexplained = np.sum((y - means[bins]) ** 2) / np.sum(y ** 2)
    print(f"energy not explained by any static curve: {unexplained:.1%}")
    assert unexplained > 0.1


def test_amp_memory_is_short():
    """Apart from the coupling highpasses, nothing remembers long: the tail is gone in 50 ms."""
    x = np.zeros(SR // 2)
    x[100] = 1e-3  # small, so the amp is linear
    y = ReferenceAmp()(x).astype(np.float64)
    tail = np.sum(y[100 + int(0.05 * SR):] ** 2) / np.sum(y ** 2)
    print(f"impulse-response energy after 50 ms: {10 * np.log10(tail):.1f} dB")
    assert tail < 1e-5


def test_amp_is_exactly_causal():
    rng = np.random.default_rng(0)
    n = synth.BLOCK + 5000
    x = np.clip(rng.standard_normal(n) * 0.3, -1, 1)
    for t in (1234, synth.BLOCK - 3, synth.BLOCK + 1000):  # inside a block and across the seam
        x2 = x.copy()
        x2[t:] = np.clip(rng.standard_normal(n - t) * 0.3, -1, 1)
        y1, y2 = ReferenceAmp()(x), ReferenceAmp()(x2)
        changed = np.flatnonzero(y1 != y2)
        # Nothing before t changes; the change arrives within the anti-aliasing filters' delay.
        assert changed.size and t <= changed[0] <= t + 8, (t, changed[:3])
    # A prefix of the input gives the prefix of the output, whatever the block seams.
    full = ReferenceAmp()(x)
    assert np.array_equal(ReferenceAmp()(x[: synth.BLOCK + 77]), full[: synth.BLOCK + 77])


@pytest.mark.parametrize("freq", [5000.0, 6000.0, 7000.0])
def test_amp_is_free_of_aliasing(freq):
    """A high sine at full drive: whatever is not a harmonic of it is aliasing."""
    x = _sine(freq, 1.0, 1.5)

    def alias_db(amp):
        h, other = _harmonic_levels(amp(x)[SR // 2:], freq)
        return 10 * np.log10(other / h.sum())

    ours, naive = alias_db(ReferenceAmp()), alias_db(ReferenceAmp(oversample=1))
    print(f"{freq:.0f} Hz: non-harmonic energy {ours:.1f} dB re harmonics (8x); "
          f"{naive:.1f} dB without oversampling")
    assert ours < -80
    assert naive > -40  # the measurement does see aliasing when it is there


def test_static_curve_is_the_amps_nonlinearity():
    amp = ReferenceAmp()
    levels = np.linspace(-1, 1, 2001)
    c = amp.static_curve(levels)
    assert c[1000] == 0.0
    assert np.all(np.diff(c) > 0)
    slope0 = (c[1001] - c[999]) / (levels[1001] - levels[999])
    slope1 = (c[-1] - c[-2]) / (levels[-1] - levels[-2])
    assert slope1 < 0.1 * slope0  # saturates
    assert abs(c[-1] + c[0]) > 0.01 * abs(c[-1])  # asymmetric
    assert np.max(np.abs(c)) <= amp.output_level
    # At low level the amp is its static slope times its filters: the two share their gains.
    sos = amp._filters(SR)
    _, h = signal.sosfreqz(np.vstack([sos[k] for k in ("in", "s1", "s2", "s3", "out")]),
                           worN=[1000.0], fs=SR * amp.oversample)
    y = amp(_sine(1000.0, 1e-3, 1.0))[SR // 2:].astype(np.float64)
    measured = np.sqrt(2 * np.mean(y ** 2)) / 1e-3
    assert measured == pytest.approx(slope0 * abs(h[0]), rel=0.01)


def test_amp_knobs_and_sag_do_something():
    x = synth_di(3.0, seed=1) / 0.5

    def centroid(y):
        p = np.abs(np.fft.rfft(y)) ** 2
        return np.sum(np.fft.rfftfreq(y.size, 1 / SR) * p) / np.sum(p)

    assert centroid(ReferenceAmp(treble=10)(x)) > 1.2 * centroid(ReferenceAmp(treble=0)(x))
    assert _thd(ReferenceAmp(drive=9), 0.3) > 1.5 * _thd(ReferenceAmp(drive=2), 0.3)
    loud, quiet = _sine(200.0, 1.0, 0.5), _sine(200.0, 0.003, 0.5)
    no_sag, sag = ReferenceAmp(sag=0.0), ReferenceAmp(sag=1.0)

    def rel(a, b):
        return np.sqrt(np.sum((a - b) ** 2) / np.sum(a.astype(np.float64) ** 2))

    assert rel(no_sag(loud), sag(loud)) > 0.02
    assert rel(no_sag(quiet), sag(quiet)) < 1e-3


def test_amp_rejects_bad_settings():
    with pytest.raises(GuneampError):
        ReferenceAmp(drive=11)
    with pytest.raises(GuneampError):
        ReferenceAmp(oversample=0)
    with pytest.raises(GuneampError):
        ReferenceAmp()(np.zeros((2, 100)))


# ---------------------------------------------------------------- the cabinet


def _response_db(h, freqs):
    _, hh = signal.freqz(np.asarray(h, np.float64), worN=np.asarray(freqs, float), fs=SR)
    return 20 * np.log10(np.abs(hh))


def test_cab_ir_shape_and_start():
    h = synth_cab_ir()
    assert h.dtype == np.float32 and h.size == 2048
    assert np.array_equal(h, synth_cab_ir())
    assert not np.allclose(h, synth_cab_ir(seed=1), atol=1e-3)
    peak = int(np.argmax(np.abs(h)))
    assert h[peak] == 1.0 and peak < 0.001 * SR
    onset = int(np.argmax(np.abs(h) > 0.01))
    assert onset <= 0.00025 * SR  # no pre-delay: above -40 dB within a quarter millisecond
    energy = np.cumsum(h.astype(np.float64) ** 2)
    assert energy[int(0.005 * SR)] > 0.9 * energy[-1]  # front-loaded, like a minimum-phase IR


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cab_ir_response_and_decay(seed):
    h = synth_cab_ir(seed=seed)
    low = np.arange(60, 201, 2)
    db_low = _response_db(h, low)
    mid = np.mean(_response_db(h, np.linspace(1000, 3000, 41)))
    at = dict(zip((40, 2000, 6000, 10000, 12000), _response_db(h, [40, 2000, 6000, 10000, 12000])))
    # Schroeder backward integration: when has the energy decayed by 60 dB?
    edc = np.cumsum(h[::-1].astype(np.float64) ** 2)[::-1]
    t60 = np.argmax(edc < edc[0] * 1e-6) / SR
    print(f"seed {seed}: low peak {low[np.argmax(db_low)]} Hz, "
          f"10 kHz {at[10000] - at[2000]:.1f} dB re 2 kHz, "
          f"{at[10000] - mid:.1f} dB re 1-3 kHz, slope 6->12 kHz {at[12000] - at[6000]:.1f} dB/oct, "
          f"energy -60 dB after {1000 * t60:.1f} ms")
    assert 80 <= low[np.argmax(db_low)] <= 125  # the low resonance
    assert np.max(db_low) - at[40] > 10  # and the roll-off below it
    assert at[10000] < mid - 30 and at[10000] < at[2000] - 30
    assert at[12000] - at[6000] < -24
    assert 0 < t60 < 0.04
    # The 2048 taps hold all the filter has: what the truncation drops is below -60 dB.
    longer = signal.sosfilt(synth._cab_sos(SR, seed), np.eye(1, SR // 2)[0])
    assert np.sum(longer[2048:] ** 2) < 1e-6 * np.sum(longer ** 2)


# ---------------------------------------------------------------- the default data set


def _bytes_without_peak_time(path):
    """File bytes with the wall-clock stamp of libsndfile's PEAK chunk blanked out."""
    b = bytearray(path.read_bytes())
    pos = 12
    while pos + 8 <= len(b):
        size = int.from_bytes(b[pos + 4: pos + 8], "little")
        if b[pos: pos + 4] == b"PEAK":
            b[pos + 12: pos + 16] = bytes(4)  # after the 4-byte version comes the timestamp
        pos += 8 + size + (size & 1)
    return bytes(b)


def test_default_data_is_identical_for_a_seed(tmp_path):
    a = generate_default_data(tmp_path / "a", seed=1, seconds=6.0, progress=False)
    b = generate_default_data(tmp_path / "b", seed=1, seconds=6.0, progress=False)
    c = generate_default_data(tmp_path / "c", seed=2, seconds=6.0, progress=False)
    assert set(a) == {"clean", "amp_direct", "cab_ir", "amp"}
    assert sorted(p.name for p in a.values()) == sorted(DEFAULT_FILES)
    for key in a:
        assert _bytes_without_peak_time(a[key]) == _bytes_without_peak_time(b[key]), key
        assert not np.array_equal(sf.read(a[key])[0], sf.read(c[key])[0]), key


def test_default_data_files_fit_together(tmp_path):
    paths = generate_default_data(tmp_path, seed=0, seconds=6.0, progress=False)
    info = {k: sf.info(str(p)) for k, p in paths.items()}
    assert {i.samplerate for i in info.values()} == {SR}
    assert {i.channels for i in info.values()} == {1}
    assert {i.subtype for i in info.values()} == {"FLOAT"}
    assert info["clean"].frames == info["amp_direct"].frames == info["amp"].frames == 6 * SR
    data = {k: sf.read(str(p), dtype="float32")[0] for k, p in paths.items()}
    assert all(np.max(np.abs(v)) <= synth.WRITE_PEAK_LIMIT + 1e-6 for v in data.values())
    clean = data["clean"]
    assert np.max(np.abs(clean)) == np.float32(0.5)
    # amp_direct is the amp driven by the clean take normalized to peak 1, up to a gain.
    direct = ReferenceAmp()(clean / np.max(np.abs(clean))).astype(np.float64)
    gain = np.dot(data["amp_direct"], direct) / np.dot(direct, direct)
    assert np.allclose(data["amp_direct"], gain * direct, atol=1e-6)
    # amp is amp_direct through the cabinet, causally, cut to the same length.
    ir = synth_cab_ir(seed=0).astype(np.float64)
    wet = signal.fftconvolve(direct, ir)[: clean.size]
    gain = np.dot(data["amp"], wet) / np.dot(wet, wet)
    assert np.allclose(data["amp"], gain * wet, atol=1e-5)
    # The course's reader takes them without complaint (no clipping, no silence).
    from guneamp_lib.dsp.audio import read_audio

    with warnings.catch_warnings():
        warnings.simplefilter("error", GuneampWarning)
        for p in paths.values():
            read_audio(p)


def test_default_data_skips_existing_files_unless_told(tmp_path):
    paths = generate_default_data(tmp_path, seed=0, seconds=3.0, progress=False)
    stamp = {k: (p.stat().st_ino, p.stat().st_mtime_ns) for k, p in paths.items()}
    again = generate_default_data(tmp_path, seed=5, seconds=3.0, progress=False)
    assert again == paths
    assert {k: (p.stat().st_ino, p.stat().st_mtime_ns) for k, p in paths.items()} == stamp
    # A partial set may be the user's own recordings: never replaced without overwrite.
    paths["amp"].unlink()
    with pytest.raises(GuneampError, match="amp.wav.*--overwrite"):
        generate_default_data(tmp_path, seed=0, seconds=3.0, progress=False)
    assert not paths["amp"].exists()
    assert paths["clean"].stat().st_ino == stamp["clean"][0]
    generate_default_data(tmp_path, seed=0, seconds=3.0, overwrite=True, progress=False)
    assert all(p.exists() for p in paths.values())
    before = sf.read(str(paths["clean"]))[0]
    generate_default_data(tmp_path, seed=5, seconds=3.0, overwrite=True, progress=False)
    assert not np.array_equal(before, sf.read(str(paths["clean"]))[0])


@pytest.mark.slow
def test_full_default_data(tmp_path):
    t0 = time.perf_counter()
    paths = generate_default_data(tmp_path, progress=False)
    took = time.perf_counter() - t0
    print(f"40 s of default data generated in {took:.1f} s")
    info = {k: sf.info(str(p)) for k, p in paths.items()}
    assert info["clean"].frames == info["amp_direct"].frames == info["amp"].frames == 40 * SR
    assert info["cab_ir"].frames == 2048
    assert {i.samplerate for i in info.values()} == {SR}
