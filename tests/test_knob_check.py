"""``guneamp check --manifest``: every row of a knob manifest checked, failures in the same table."""

import numpy as np

from guneamp_lib.cli import main
from guneamp_lib.study.knob_check import check_manifest
from guneamp_lib.study.manifest import read_knob_manifest

from .conftest import toy_di, toy_knob_amp, toy_knob_set, write


def test_every_row_in_one_table_with_the_failing_rows_reason(tmp_path, capsys):
    path = toy_knob_set(tmp_path, [0, 5, 10], [2.5])
    di = toy_di(2.0, seed=1)
    write(tmp_path / "silent.wav", np.zeros_like(di))
    write(tmp_path / "di_48k.wav", di, sr=48000)
    write(tmp_path / "amp_48k.wav", toy_knob_amp(di, 7), sr=48000)
    with open(path, "a") as f:
        f.write("gone,di.wav,no_such.wav,train,,,3\n")
        f.write("quiet,di.wav,silent.wav,train,,,4\n")
        f.write("rate,di_48k.wav,amp_48k.wav,train,,,7\n")
        f.write("bad test take,di.wav,amp_5.wav,train,di_test.wav,silent.wav,6\n")
    checks = check_manifest(read_knob_manifest(path), max_lag_s=0.25)
    verdict = {c.row.name: c for c in checks}
    assert [n for n, c in verdict.items() if c.ok] == ["train 0", "train 5", "train 10", "held 2.5"]
    assert "no_such.wav" in verdict["gone"].problem
    assert "silent" in verdict["quiet"].problem.lower()
    assert "48000 Hz" in verdict["rate"].problem and "one rate" in verdict["rate"].problem
    assert verdict["bad test take"].problem.startswith("test take:")

    assert main(["check", "--manifest", str(path)]) == 1
    out = capsys.readouterr().out
    table = [ln for ln in out.splitlines() if ln.startswith("| ")][1:]
    assert len(table) == 8
    assert sum("| FAILED |" in ln for ln in table) == 4
    assert "4 of 8 rows usable" in out


def test_a_clean_set_passes_and_the_two_forms_do_not_mix(tmp_path, capsys):
    path = toy_knob_set(tmp_path, [0, 10], [5])
    assert main(["check", "--manifest", str(path)]) == 0
    assert "3 of 3 rows usable" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "di.wav"), str(tmp_path / "amp_0.wav"), "--manifest", str(path)]) == 2
    assert main(["check"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("error: give a clean and an amp file, or --manifest")
