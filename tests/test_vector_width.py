"""256-bit vectors for numba's kernels on a Zen 4, and nowhere else (guneamp_lib.vector_width).

The choice must be made before numba builds its code generator, and it must reach the
machine code; both are checked in fresh processes, as a user's program would start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import llvmlite.binding as ll
import pytest

from guneamp_lib.vector_width import PREFER_256, wanted_features

ROOT = Path(__file__).resolve().parents[1]
HOST = ll.get_host_cpu_features().flatten()
ZEN4 = "+avx2,+avx512f,+avx512vl,+fma,-prefer-256-bit"


@pytest.mark.parametrize("cpu, features, environ, expected", [
    ("znver4", ZEN4, {}, "+avx2,+avx512f,+avx512vl,+fma," + PREFER_256),
    ("skylake-avx512", ZEN4, {}, None),            # LLVM's Intel tuning prefers 256 bits already
    ("znver3", "+avx2,+fma,-avx512f", {}, None),    # no AVX-512: nothing to narrow
    ("znver4", ZEN4.replace("+avx512f", "-avx512f"), {}, None),
    ("znver4", ZEN4 + "," + PREFER_256, {}, None),  # already there
    ("znver4", ZEN4, {"NUMBA_CPU_FEATURES": "+avx2"}, None),   # the user's choice wins
    ("znver4", ZEN4, {"NUMBA_CPU_NAME": "haswell"}, None),
])
def test_only_a_zen4_left_to_numba_gets_256_bit_vectors(cpu, features, environ, expected):
    assert wanted_features(cpu, features, environ) == expected


def _fresh(code: str, **env: str) -> dict:
    """Run ``code`` in a new interpreter (no numba features set, a private cache); it prints JSON."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU_")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**base, "PYTHONPATH": str(ROOT), **env}, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


LSTM_ASM = """
import json, os
import numpy as np
import guneamp_lib
from guneamp_lib.render import lstm_kernels as lk
from guneamp_lib.vector_width import compiled_features
kernel, layout = lk.lstm_kernel(16), lk.lstm_layout(1, 16)
params = np.zeros(sum(size for _, size in layout.values()), np.float32)
x = np.zeros(64, np.float32)
kernel(x, np.empty_like(x), params, np.zeros(32, np.float32), np.zeros(lk.gate_count(16), np.float32))
asm = "".join(kernel.inspect_asm().values())
print(json.dumps({"features": compiled_features(), "env": os.environ.get("NUMBA_CPU_FEATURES"),
                  "zmm": asm.count("%zmm"), "ymm": asm.count("%ymm")}))
"""


def test_the_kernels_machine_code_follows_the_choice(tmp_path):
    got = _fresh(LSTM_ASM, NUMBA_CACHE_DIR=str(tmp_path))  # compiled here, so its assembly is at hand
    wanted = wanted_features(ll.get_host_cpu_name(), HOST, {})
    if wanted is None:  # not a Zen 4: numba's own choice, untouched
        assert got["env"] is None and PREFER_256 not in got["features"].split(",")
    else:
        assert got["features"] == wanted == got["env"]
        assert got["zmm"] == 0 and got["ymm"] > 100, got  # 256-bit registers only, and vector code


def test_a_users_features_win(tmp_path):
    got = _fresh("import json, guneamp_lib; from guneamp_lib.vector_width import compiled_features;"
                 "print(json.dumps({'features': compiled_features()}))",
                 NUMBA_CPU_FEATURES=HOST, NUMBA_CACHE_DIR=str(tmp_path))
    assert got["features"] == HOST


def test_numba_already_compiling_is_left_alone():
    """A program that built numba's code generator before importing guneamp_lib keeps its features."""
    got = _fresh("import json, os\nfrom numba.core.registry import cpu_target\ncpu_target.target_context\n"
                 "import guneamp_lib\nfrom guneamp_lib.vector_width import codegen_started, compiled_features\n"
                 "print(json.dumps({'started': codegen_started(), 'env': os.environ.get('NUMBA_CPU_FEATURES'),"
                 " 'features': compiled_features()}))")
    assert got["started"] and got["env"] is None and PREFER_256 not in got["features"].split(",")
