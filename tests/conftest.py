import math
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from guneamp_lib import paths


@pytest.fixture
def shared_data():
    d = paths.shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is not present next to the checkout")
    return d


def write(path, x, sr=44100, subtype="FLOAT"):
    sf.write(str(path), np.asarray(x, dtype=np.float32), sr, subtype=subtype)
    return path


def toy_amp(x: np.ndarray) -> np.ndarray:
    """A small amp with memory: drive, asymmetric clip, one-pole low-pass."""
    from scipy.signal import lfilter

    y = np.tanh(4.0 * x + 0.1) - np.tanh(0.1)
    return lfilter([0.3], [1.0, -0.7], y).astype(np.float32)


def toy_di(seconds=3.0, sr=44100, seed=0) -> np.ndarray:
    """Decaying harmonic notes with gaps: enough like a DI for fast tests."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = np.zeros(n, dtype=np.float64)
    t = np.arange(int(0.4 * sr)) / sr
    for start in range(0, n - t.size, int(0.3 * sr)):
        f = rng.uniform(82, 660)
        note = sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 6)) * np.exp(-t * rng.uniform(3, 12))
        x[start : start + t.size] += rng.uniform(0.2, 1.0) * note
    return (x / np.abs(x).max()).astype(np.float32)


@pytest.fixture
def toy_pair(tmp_path):
    x = toy_di()
    y = toy_amp(x)
    ir = np.zeros(256, dtype=np.float32)
    ir[0] = 1.0
    ir[1:] = 0.5 * np.exp(-np.arange(255) / 20.0) * np.cos(np.arange(255) * 0.3)
    from scipy.signal import fftconvolve

    y_cab = fftconvolve(y, ir)[: y.size].astype(np.float32)
    return {
        "clean": write(tmp_path / "clean.wav", x),
        "amp_direct": write(tmp_path / "amp_direct.wav", y / np.abs(y).max() * 0.9),
        "amp": write(tmp_path / "amp.wav", y_cab / np.abs(y_cab).max() * 0.9),
        "cab_ir": write(tmp_path / "cab_ir.wav", ir / np.abs(ir).max()),
        "dir": tmp_path,
    }


def toy_knob_amp(x: np.ndarray, drive: float) -> np.ndarray:
    """The toy amp with a drive knob (0..10): the input gain rises 3.5 dB a step."""
    return toy_amp(x * 10.0 ** ((drive - 5.0) * 3.5 / 20.0) * 0.25)


def toy_knob_set(folder, drives, test_drives, seconds=2.0):
    """A knob manifest of the toy amp: one training DI at each of ``drives``, a separate test DI at
    each of ``test_drives`` and, as each training row's test take, at its own drive too."""
    di, di_test = toy_di(seconds, seed=1), toy_di(seconds, seed=2)
    write(folder / "di.wav", di)
    write(folder / "di_test.wav", di_test)
    lines = ["name,clean,target,split,test_clean,test_target,knob:drive"]
    for d in drives:
        write(folder / f"amp_{d}.wav", toy_knob_amp(di, d))
        write(folder / f"amp_test_{d}.wav", toy_knob_amp(di_test, d))
        lines.append(f"train {d},di.wav,amp_{d}.wav,train,di_test.wav,amp_test_{d}.wav,{d}")
    for d in test_drives:
        write(folder / f"held_{d}.wav", toy_knob_amp(di_test, d))
        lines.append(f"held {d},di_test.wav,held_{d}.wav,test,,,{d}")
    path = folder / "knobs.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def nam_core_exact():
    """NAM core's exact-tanh build (the reference our .nam files must play equal in), built once
    per session; the test skips with the reason where it cannot be built."""
    from benchmarks.nam_core import build_nam_core, missing_requirements

    why = missing_requirements()
    if why is not None:
        pytest.skip(f"NAM core cannot be built here: {why}")
    return build_nam_core("exact")
