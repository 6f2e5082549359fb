"""RTNeural, the engine inside AIDA-X and Proteus, built here to prove our AIDA-X exports (notebook 13).

Its headers sit read-only in ``../shared/rtneural`` (BSD 3-Clause, pinned commit, see its
ORIGIN.md) and are never copied into this repository. :func:`build_driver` compiles our
``rtneural_driver.cpp`` (next to this file) against them, with the Eigen backend, into the
git-ignored ``build/rtneural/<key>/``; the key is made of the compiler's version, the flags
and the bytes of the driver and of every RTNeural header, so a build is reused until one
changes (a first build takes about 30 s, more on a busy machine).

Use::

    from benchmarks.rtneural import build_driver, missing_requirements, run_driver
    exe = build_driver()                     # None: missing_requirements() says why
    y = play_aidax(exe, "model.json", x, knobs=[0.3, 0.7])   # what AIDA-X plays

The driver runs RTNeural's network alone (:func:`run_driver`); :func:`play_aidax` puts AIDA-X's
gains and skip around it (:class:`guneamp_lib.models.aidax.AidaxLevels`, read from the plugin).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.nam_core import _digest, _eigen_dir
from guneamp_lib.models.aidax import AidaxLevels, read_aidax

ROOT = Path(__file__).resolve().parents[1]
DRIVER_SOURCE = Path(__file__).with_name("rtneural_driver.cpp")
# The build ORIGIN.md gives (Eigen backend), at the optimisation AIDA-X's releases use.
FLAGS = ["-std=c++17", "-O2", "-DRTNEURAL_USE_EIGEN=1", "-DRTNEURAL_DEFAULT_ALIGNMENT=16", "-w"]


def source_dir() -> Path:
    return Path(os.environ.get("GUNEAMP_RTNEURAL", ROOT.parent / "shared" / "rtneural"))


def _compiler() -> str | None:
    return shutil.which("g++") or shutil.which("clang++")


def missing_requirements() -> str | None:
    """Why the driver cannot be built here, in one line; None when it can."""
    src = source_dir()
    if not (src / "RTNeural" / "RTNeural.h").is_file():
        return f"RTNeural's headers are not in {src} (set GUNEAMP_RTNEURAL to their folder)"
    if _compiler() is None:
        return "no C++ compiler (g++ or clang++) on the PATH"
    if _eigen_dir() is None:
        return "no Eigen headers (on Debian: apt-get install libeigen3-dev)"
    return None


def build_driver(build_root: Path | None = None) -> Path | None:
    """Build (or reuse) ``rtneural_driver``; None when this machine cannot build it."""
    if missing_requirements() is not None:
        return None
    src, cxx = source_dir(), _compiler()
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    headers = sorted(f for f in (src / "RTNeural").rglob("*") if f.is_file())
    key = _digest([version, *FLAGS, DRIVER_SOURCE.read_bytes()]
                  + [part for f in headers for part in (f.relative_to(src).as_posix(), f.read_bytes())])
    out = (build_root or ROOT / "build" / "rtneural") / key
    exe = out / "rtneural_driver"
    if exe.is_file():
        return exe
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        built = Path(tmp) / "rtneural_driver"
        cmd = ["nice", cxx, *FLAGS, f"-I{src}", f"-I{src / 'modules' / 'json'}", "-isystem", str(_eigen_dir()),
               str(DRIVER_SOURCE), "-o", str(built)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}\n{r.stderr[-4000:]}")
        os.replace(built, exe)
    return exe


def run_driver(exe: Path, model: str | Path, x: np.ndarray, knobs=()) -> np.ndarray:
    """``x`` (float32) through the network of an AIDA-X model file in RTNeural, knobs (0..1) held.

    The network alone: no gains, no skip. Float32 out.
    """
    with tempfile.TemporaryDirectory(prefix="rtneural-") as d:
        inp, outp = Path(d) / "x.f32", Path(d) / "y.f32"
        np.ascontiguousarray(x, dtype="<f4").tofile(inp)
        r = subprocess.run([str(exe), str(model), str(inp), str(outp), *(repr(float(k)) for k in knobs)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"rtneural_driver failed on {model}: {r.stderr.strip()}")
        return np.fromfile(outp, dtype="<f4")


def play_aidax(exe: Path, model: str | Path, x: np.ndarray, knobs=()) -> np.ndarray:
    """What AIDA-X plays for ``x``: the file's gains and skip around RTNeural's network."""
    levels = AidaxLevels.of(read_aidax(model))
    return levels.play(x, lambda u: run_driver(exe, model, u, knobs))
