"""NAM core, the C++ engine of the Neural Amp Modeler plugin, built here for comparison.

The plugin's engine is what NAM users actually run, so it is the reference our streaming
engine is timed against, and the proof that our ``.nam`` exports mean to NAM what they
mean to us. Its sources sit read-only in ``../shared/nam-core`` (MIT licensed, pinned
commit, see its ORIGIN.md) and are never copied into this repository. This module
compiles them into the git-ignored ``build/nam-core/<variant>-<key>/``, with two programs:

- ``benchmodel``: upstream's own timing tool (2 s of silence in 64-sample blocks);
- ``nam_driver``: ours (``nam_driver.cpp`` next to this file). It loads a ``.nam`` with
  ``nam::get_dsp``, streams a raw float64 file through ``process`` in blocks of N samples,
  writes the raw float64 output and prints the time spent in ``process``. One program
  thus serves both the timing and the comparison of outputs.

Two build variants, because NAM's speed depends on the flags and on its ``tanh``:

- ``"fast"``: upstream's release flags for its tools (``-Ofast``, link-time optimisation,
  its A2 fast path enabled). ``nam_driver`` runs the plugin's default fast ``tanh``
  approximation unless given ``--exact-tanh``: this is what a plugin user runs.
- ``"exact"``: ``-O3`` without fast-math, for ``--exact-tanh`` runs. NAM computes in
  float32 as we do, so this build's output matches ours to an ESR of about 1e-13.

A build is cached under a key made of the compiler's version, the flags and the bytes of
every NAM source and header, so it is rebuilt only when one of them changes; the two
small programs are relinked when their own source changes. Compiles run one at a time
under ``nice`` (the machine is shared): a first build takes a few minutes.

Use::

    from benchmarks.nam_core import build_nam_core, missing_requirements, run_driver
    build = build_nam_core("exact")          # the build folder, or None
    if build is None:
        print("skipped:", missing_requirements())
    else:
        y, seconds = run_driver(build, "model.nam", x, block=64, exact_tanh=True)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DRIVER_SOURCE = Path(__file__).with_name("nam_driver.cpp")

# Upstream's tools/CMakeLists.txt builds with -Ofast and interprocedural optimisation, and
# its top-level CMakeLists.txt defines NAM_ENABLE_A2_FAST.
VARIANTS = {
    "fast": ["-Ofast", "-flto=auto", "-DNAM_ENABLE_A2_FAST"],
    "exact": ["-O3", "-DNAM_ENABLE_A2_FAST"],
}
DESCRIPTION = {"fast": "-Ofast -flto (upstream's release flags)", "exact": "-O3 (no fast-math)"}
COMMON_FLAGS = ["-std=c++20", "-march=native", "-DNDEBUG", "-w"]
# An instruction set to build for instead of this machine's (``arch``): "haswell" is AVX2
# without AVX-512, the CI machines' kind, for timing both kinds on one AVX-512 machine.
ARCHES = ("native", "haswell")


def _common(arch: str) -> list[str]:
    return [f"-march={arch}" if f == "-march=native" else f for f in COMMON_FLAGS]
EIGEN_DIRS = (Path("/usr/include/eigen3"), Path("/usr/local/include/eigen3"))


class NamCoreBuildError(RuntimeError):
    """The compiler and the sources are there, but the build failed (the message has its output)."""


def source_dir() -> Path:
    """NAM core's sources: ``$GUNEAMP_NAM_CORE``, else ``nam-core`` next to ``$GUNEAMP_SHARED_DATA``,
    else ``../shared/nam-core`` next to the checkout."""
    if os.environ.get("GUNEAMP_NAM_CORE"):
        return Path(os.environ["GUNEAMP_NAM_CORE"])
    if os.environ.get("GUNEAMP_SHARED_DATA"):
        return Path(os.environ["GUNEAMP_SHARED_DATA"]).parent / "nam-core"
    return ROOT.parent / "shared" / "nam-core"


def _eigen_dir() -> Path | None:
    return next((d for d in EIGEN_DIRS if (d / "Eigen" / "Dense").is_file()), None)


def _compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++")


def missing_requirements() -> str | None:
    """Why NAM core cannot be built here, in one line; None when it can."""
    src = source_dir()
    if not (src / "NAM" / "get_dsp.h").is_file():
        return f"NAM core's sources are not in {src} (set GUNEAMP_NAM_CORE to their folder)"
    if _compiler() is None:
        return "no C++ compiler (g++ or clang++) on the PATH"
    if _eigen_dir() is None:
        return "no Eigen headers (on Debian: apt-get install libeigen3-dev)"
    return None


def _digest(parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def _library_key(variant: str, cxx: str, src: Path, arch: str = "native") -> str:
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    files = sorted(f for f in (src / "NAM").rglob("*") if f.is_file())
    return _digest([version, *_common(arch), *VARIANTS[variant]]
                   + [part for f in files for part in (f.relative_to(src).as_posix(), f.read_bytes())])


def build_nam_core(variant: str = "fast", build_root: Path | None = None, verbose: bool = False,
                   arch: str = "native") -> Path | None:
    """Build NAM core's ``benchmodel`` and our ``nam_driver``; return the folder that holds both.

    ``variant``: ``"fast"`` or ``"exact"`` (see the module docstring); ``arch``: the
    instruction set (:data:`ARCHES`). Returns None when
    this machine lacks what the build needs (:func:`missing_requirements` says what);
    raises :class:`NamCoreBuildError` when a compile fails. A cached build is reused.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if arch not in ARCHES:
        raise ValueError(f"arch must be one of {', '.join(ARCHES)}, got {arch!r}")
    if missing_requirements() is not None:
        return None
    src, cxx, eigen = source_dir(), _compiler(), _eigen_dir()
    name = variant if arch == "native" else f"{variant}-{arch}"
    out = (build_root or ROOT / "build" / "nam-core") / f"{name}-{_library_key(variant, cxx, src, arch)}"
    flags = [*_common(arch), *VARIANTS[variant], f"-I{src}", "-isystem", str(eigen),
             f"-I{src / 'Dependencies' / 'nlohmann'}"]
    objects = _library_objects(out, src, cxx, flags, verbose)
    for prog, source in (("benchmodel", src / "tools" / "benchmodel.cpp"), ("nam_driver", DRIVER_SOURCE)):
        key = _digest([source.read_bytes(), *flags])
        stamp = out / f"{prog}.key"
        if (out / prog).is_file() and stamp.is_file() and stamp.read_text() == key:
            continue
        with tempfile.TemporaryDirectory(dir=out) as tmp:
            obj, exe = Path(tmp) / f"{prog}.o", Path(tmp) / prog
            _run(["nice", cxx, *flags, "-c", str(source), "-o", str(obj)], verbose)
            _run(["nice", cxx, *_common(arch), *VARIANTS[variant], *map(str, objects), str(obj), "-o", str(exe)],
                 verbose)
            os.replace(exe, out / prog)
        stamp.write_text(key)
    return out


def _library_objects(out: Path, src: Path, cxx: str, flags: list[str], verbose: bool) -> list[Path]:
    """NAM's own sources compiled once per key; each object appears only when complete."""
    out.mkdir(parents=True, exist_ok=True)
    objects = []
    for f in sorted(src.glob("NAM/*.cpp")) + sorted(src.glob("NAM/*/*.cpp")):
        obj = out / (f.relative_to(src / "NAM").with_suffix("").as_posix().replace("/", "_") + ".o")
        if not obj.is_file():
            tmp = obj.with_name(obj.name + f".{os.getpid()}.tmp")
            try:
                _run(["nice", cxx, *flags, "-c", str(f), "-o", str(tmp)], verbose)
                os.replace(tmp, obj)
            finally:
                tmp.unlink(missing_ok=True)
        objects.append(obj)
    return objects


def _run(cmd: list[str], verbose: bool) -> None:
    if verbose:
        print("nam-core:", Path(cmd[1]).name, Path(cmd[-3]).name if cmd[-2] == "-o" else "", file=sys.stderr)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise NamCoreBuildError(f"{' '.join(cmd)}\n{r.stderr[-4000:]}")


def run_driver(build: Path, model: str | Path, x: np.ndarray, block: int = 64, exact_tanh: bool = False,
               repeat: int = 1, prewarm: bool = True, output: bool = True,
               clock: str = "wall", slim: float | None = None) -> tuple[np.ndarray | None, float | tuple[float, float]]:
    """Stream ``x`` through NAM core in blocks of ``block`` samples.

    Returns NAM's output (float64; None when ``output`` is False) and the fastest of
    ``repeat`` runs' time inside ``process``, in seconds: wall-clock time, or with
    ``clock="cpu"`` the processor time, which load from other processes inflates less;
    ``clock="both"`` gives ``(wall, cpu)``. ``slim`` sets the plugin's CPU slider (0 to 1)
    on a slimmable model; None leaves its default, the full model.
    Every run starts from a fresh
    ``Reset``, which prewarms the model with silence (as our engine's ``reset`` does) unless
    ``prewarm`` is False, when every history starts at zero.
    """
    if clock not in ("wall", "cpu", "both"):
        raise ValueError(f"clock must be 'wall', 'cpu' or 'both', got {clock!r}")
    with tempfile.TemporaryDirectory(prefix="nam-driver-") as d:
        inp, outp = Path(d) / "x.f64", Path(d) / "y.f64"
        np.ascontiguousarray(x, dtype="<f8").tofile(inp)
        cmd = [str(Path(build) / "nam_driver"), "--block", str(block), "--repeat", str(repeat)]
        cmd += ["--exact-tanh"] * exact_tanh + ["--no-prewarm"] * (not prewarm)
        cmd += [] if slim is None else ["--slim", repr(float(slim))]
        cmd += [str(model), str(inp)] + [str(outp)] * output
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"nam_driver failed on {model}: {r.stderr.strip()}")
        fields = r.stdout.split()
        wall, cpu = (float(fields[fields.index(k) + 1]) for k in ("best_s", "best_cpu_s"))
        seconds = (wall, cpu) if clock == "both" else cpu if clock == "cpu" else wall
        y = np.fromfile(outp, dtype="<f8") if output else None
    return y, seconds
