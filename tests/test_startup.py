"""A bad option is refused before torch is imported (issue 10: "a bad option costs less than a second").

Importing torch, SciPy and numba takes seconds, far more than checking every option. So
the command line imports them only inside a command, after its options and paths are
checked, and what options are checked against lives in the torch-free
:mod:`guneamp_lib.vocabulary`. These tests hold that in a fresh interpreter (this one
has torch loaded already): they check which modules got imported, never how long it
took; ``benchmarks/startup.py`` measures the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from guneamp_lib import models, runtime, vocabulary
from guneamp_lib.capture import reamp_signal
from guneamp_lib.dsp import oversampling
from guneamp_lib.models import nam
from guneamp_lib.models.nam_convnet import NamConvNet, NamLinear
from guneamp_lib.models.nam_lstm import NamLSTM
from guneamp_lib.models.nam_wavenet import NamWaveNet
from guneamp_lib.study import datasets, evaluate, many
from guneamp_lib.training import data, defaults, resume

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "scipy", "numba", "librosa")

# One bad option (or missing input, for `score`) per command: argv after `guneamp`.
BAD = {
    "synth": ["synth", "--seconds", "0"],
    "capture-signal": ["capture-signal", "--seconds", "5"],
    "capture-plan": ["capture-plan", "--knob", "drive=0", "--out", "plan.csv"],
    "train": ["train", "--lr", "nan"],
    "train-many": ["train-many", "rows.csv", "--steps", "0"],
    "render": ["render", "--model", "m.pt", "--input", "di.wav", "--output", "out.wav", "--gain-db", "nan"],
    "export": ["export", "--model", "m.pt", "--output", "m.nam", "--input-level-dbu", "inf"],
    "check": ["check", "clean.wav", "amp.wav", "--max-lag", "nan"],
    "course": ["course", "-p", "SEED", "[unclosed"],
    "pipeline": ["pipeline", "--time-budget", "nan"],
    "evaluate": ["evaluate", "--time-budget", "-1"],
    "score": ["score", "--model", "no_such_model.pt", "--clean", "di.wav", "--amp", "amp.wav"],
    "play": ["play", "--model", "m.pt", "--gate-db", "nan"],
}
# More options (and missing inputs) each command checks before torch.
MORE_BAD = [
    ["train", "--oversample", "0"], ["train", "--batch-size", "0"], ["train", "--seed", str(2**70)],
    ["train", "--model", "resnet"], ["train", "--model", "seed_cnn@8x"], ["train", "--model", "lstm:big"],
    ["train", "--time-budget", "inf"], ["evaluate", "--models", "resnet"], ["evaluate", "--datasets", "RAT@x"],
    ["export", "--model", "m.pt", "--output", "m.nam", "--gear-type", "banjo"], ["train-many", "no_such_rows.csv"],
    ["check", "no_such_clean.wav", "amp.wav"], ["capture-plan", "--knob", "drive=0:1", "--knob", "drive=0:2", "--out", "p.csv"],
    ["check", "--manifest", "no_such_knobs.csv"], ["score", "--manifest", "no_such_knobs.csv", "--model", "k.pt"],
    ["score", "--clean", "di.wav", "--amp", "amp.wav"], ["render", "--model", "m.pt", "--input", "di.wav", "--output", "o.wav"],
    ["play", "--model", "no_such_model.pt"], ["play", "--model", "m.pt", "--knob", "drive"],
    ["play", "--model", "m.pt", "--knob", "9lives=3"], ["play", "--model", "m.pt", "--seconds", "0"],
]

# Runs every case in one fresh interpreter and reports, per case, the exit status, the
# stderr text and whether a heavy module got imported.
PROBE = """
import contextlib, io, json, sys
from guneamp_lib.cli import main
heavy = {heavy!r}
out = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    out.append({{"code": code, "stderr": err.getvalue(),
                 "heavy": sorted(m for m in sys.modules if m.split(".")[0] in heavy)}})
print(json.dumps(out))
"""


def _fresh_python(code: str, *args: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, env=env,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_building_the_command_line_imports_nothing_heavy(tmp_path):
    code = ("import sys; from guneamp_lib.cli import build_parser; build_parser(); "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    assert _fresh_python(code, cwd=tmp_path).strip() == "[]"


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    cases = list(BAD.values()) + MORE_BAD
    out = _fresh_python(PROBE.format(heavy=HEAVY), json.dumps(cases), cwd=tmp_path_factory.mktemp("cwd"))
    return {" ".join(argv): r for argv, r in zip(cases, json.loads(out))}


def test_every_command_has_a_case():
    from guneamp_lib.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == set(BAD)


@pytest.mark.parametrize("argv", list(BAD.values()) + MORE_BAD, ids=" ".join)
def test_bad_option_is_one_error_line_without_torch(refusals, argv):
    r = refusals[" ".join(argv)]
    lines = r["stderr"].splitlines()
    assert r["code"] == 2, r
    assert len(lines) == 1 and lines[0].startswith("error: "), r["stderr"]
    assert r["heavy"] == [], f"{argv[0]} imported {r['heavy']} before refusing"


def test_trainable_model_names_are_the_models_table_less_nams_own():
    # --model is checked against the training table, without torch; every model of the
    # table that is offered for training must have a row there, and nothing else.
    assert set(defaults.TRAINING) == set(models.MODELS) - {NamLSTM.name, NamWaveNet.name, NamConvNet.name,
                                                           NamLinear.name}


def test_library_and_command_line_share_one_vocabulary():
    v = vocabulary
    assert runtime.DEVICE_CHOICES is v.DEVICE_CHOICES
    assert oversampling.MAX_FACTOR is v.MAX_FACTOR
    assert resume.DEFAULT_SAVE_EVERY_STEPS is v.DEFAULT_SAVE_EVERY_STEPS
    assert data.TARGET_KINDS is v.TARGET_KINDS
    assert (reamp_signal.SAMPLE_RATES, reamp_signal.MIN_SECONDS, reamp_signal.MAX_SECONDS) == (
        v.CAPTURE_RATES, v.CAPTURE_MIN_SECONDS, v.CAPTURE_MAX_SECONDS)
    assert (nam.GEAR_TYPES, nam.TONE_TYPES, nam.LEVEL_DBU_RANGE) == (v.GEAR_TYPES, v.TONE_TYPES, v.LEVEL_DBU_RANGE)
    assert datasets.parse_dataset is v.parse_dataset
    assert evaluate.DEFAULT_MODELS is v.DEFAULT_MODELS and many.DEFAULT_STEPS is v.DEFAULT_STEPS


@pytest.mark.slow
def test_startup_benchmark_reports_each_refusal():
    """``benchmarks/startup.py`` runs and reports (its figures are not judged: timings vary)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import startup
    finally:
        sys.path.pop(0)
    s = startup.bench(quick=True)
    assert set(s["refusal_seconds"]) == set(startup.REFUSALS)
    assert all(v > 0 for v in s["refusal_seconds"].values()) and s["import_torch_seconds"] > 0
    text = "\n".join(startup.report_lines(s))
    assert all(label in text for label in startup.REFUSALS) and "import torch" in text
