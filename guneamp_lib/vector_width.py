"""Which vector width numba's compiled kernels use: 256 bits on CPUs that split 512-bit work.

AMD's Zen 4 executes every AVX-512 instruction as two 256-bit halves. LLVM's tuning for it
(``znver4``) still fills 512-bit registers wherever it can, which buys no arithmetic there
and lengthens the chain of dependent steps an LSTM runs from sample to sample. With 256-bit
vectors (docs/benchmarks.md, our engine alone, block 64): NAM's 16-unit LSTM 0.85 of its
time, our standard WaveNet 0.87, A2 and the slimmable WaveNet 0.93 to 0.96, most others
level; NAM's 2 x 6 LSTM 1.06 (its 32 gate rows fill two 512-bit registers). numba's
features are one per process, so it is all or nothing, and all wins. LLVM's tuning for
Intel's AVX-512 cores already prefers 256-bit vectors, so only Zen 4 needs telling.

numba reads its target features once per process, when it builds its code generator (the
first compiled function anywhere, librosa's included), so :func:`configure_vector_width`
runs when ``guneamp_lib`` is imported, before anything loads numba. It keeps every feature
of this CPU (AVX-512 instructions stay available, on 256-bit registers) and adds LLVM's
``prefer-256-bit``. A ``NUMBA_CPU_NAME`` or ``NUMBA_CPU_FEATURES`` the user set wins; setting
``NUMBA_CPU_FEATURES`` to the CPU's own features is the way to switch this off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PREFER_256 = "+prefer-256-bit"
# LLVM's names for the CPUs whose 512-bit operations run as two 256-bit ones (and whose
# LLVM tuning does not already prefer 256-bit vectors).
SPLIT_512 = frozenset({"znver4"})


def wanted_features(cpu_name: str, features: str, environ: dict[str, str]) -> str | None:
    """The ``NUMBA_CPU_FEATURES`` to set for this CPU, or None to leave numba's choice alone.

    ``features`` is LLVM's flattened feature string for the host (``+avx2,-avx512f,...``).
    """
    if environ.get("NUMBA_CPU_FEATURES") or environ.get("NUMBA_CPU_NAME"):
        return None  # the user's (or a benchmark's) choice
    flags = features.split(",")
    if cpu_name not in SPLIT_512 or "+avx512f" not in flags or PREFER_256 in flags:
        return None
    return ",".join([f for f in flags if f and f != "-prefer-256-bit"] + [PREFER_256])


def _may_be_zen4() -> bool:
    """A cheap first look (no LLVM loaded): an AMD CPU of family 25 with AVX-512, or no way to tell."""
    fields = {}
    try:  # the first processor's block only: the file has one per logical CPU (hundreds on a server)
        with Path("/proc/cpuinfo").open(errors="replace") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        return True  # not Linux: ask LLVM
    return (fields.get("vendor_id") == "AuthenticAMD" and fields.get("cpu family") == "25"
            and "avx512f" in fields.get("flags", "").split())


def codegen_started() -> bool:
    """Whether numba has built its code generator already (its features are then fixed)."""
    registry = sys.modules.get("numba.core.registry")
    if registry is None:
        return False
    # A cached property: present in the instance's dict once built (reading it would build it).
    return "_toplevel_target_context" in vars(registry.cpu_target)


def configure_vector_width() -> str | None:
    """Have numba compile for 256-bit vectors on a Zen 4; return the features set, or None.

    Does nothing elsewhere, where the user chose features, or where numba's code generator
    already exists (a program that compiled numba code before importing guneamp_lib: the
    kernels then run with numba's own choice, correct and a little slower).
    """
    if not _may_be_zen4() or codegen_started():
        return None
    try:
        import llvmlite.binding as ll

        cpu, features = ll.get_host_cpu_name(), ll.get_host_cpu_features().flatten()
    except (ImportError, RuntimeError):
        return None
    chosen = wanted_features(cpu, features, dict(os.environ))
    if chosen is None:
        return None
    os.environ["NUMBA_CPU_FEATURES"] = chosen
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba imported, nothing compiled yet: its config read the environment already
        config.CPU_FEATURES = chosen
    return chosen


def compiled_features() -> str:
    """The features numba's code generator compiles for in this process (builds it if needed)."""
    from numba.core.registry import cpu_target

    return cpu_target.target_context.codegen().magic_tuple()[2]
