"""The knob manifest: rows with settings in dial units, a split, and one refusal per broken row."""

from pathlib import Path

import pytest

from guneamp_lib.errors import GuneampError
from guneamp_lib.knobs import Knob, KnobSpace
from guneamp_lib.study import many
from guneamp_lib.study.manifest import read_knob_manifest

HEADER = "name,clean,target,split,knob:drive,knob:treble\n"
ROWS = ["a,di.wav,a.wav,train,0,2\n", "b,di.wav,b.wav,,10,8\n", "c,di.wav,c.wav,train,5,5\n",
        "held,di_test.wav,h.wav,test,2.5,6\n"]


def write(tmp_path: Path, text: str, name: str = "knobs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_settings_split_and_the_space_of_the_training_rows(tmp_path):
    m = read_knob_manifest(write(tmp_path, HEADER + "".join(ROWS)))
    assert m.knob_names == ("drive", "treble")
    assert [r.name for r in m.train] == ["a", "b", "c"]
    assert [r.name for r in m.test] == ["held"]
    held = m.test[0]
    assert held.settings == {"drive": 2.5, "treble": 6.0}
    assert held.clean == tmp_path.resolve() / "di_test.wav" and held.target == tmp_path.resolve() / "h.wav"
    # The scaling comes from the training rows only: the held-out row does not widen it.
    assert m.space == KnobSpace([Knob("drive", 0, 10), Knob("treble", 2, 8)])


def test_yaml_rows_may_carry_a_knobs_mapping(tmp_path):
    text = ("captures:\n"
            "  - {clean: di.wav, target: a.wav, knobs: {drive: 0, treble: 2}}\n"
            "  - {clean: di.wav, target: b.wav, knobs: {drive: 10, treble: 8}, test_clean: t.wav, test_target: tb.wav}\n"
            "  - {clean: t.wav, target: c.wav, split: test, 'knob:drive': 4, 'knob:treble': 3}\n")
    m = read_knob_manifest(write(tmp_path, text, "knobs.yaml"))
    assert [r.settings for r in m.rows] == [{"drive": 0, "treble": 2}, {"drive": 10, "treble": 8},
                                           {"drive": 4, "treble": 3}]
    assert m.rows[1].takes()[1] == (tmp_path.resolve() / "t.wav", tmp_path.resolve() / "tb.wav")
    assert m.rows[0].name == "drive 0, treble 2"


@pytest.mark.parametrize("text, message", [
    ("name,clean,target,split\na,di.wav,a.wav,train\n", "no knob columns"),
    (HEADER + "a,di.wav,a.wav,train,0,\n", "row 1: column knob:treble is empty"),
    (HEADER + ROWS[0] + "b,di.wav,b.wav,train,loud,8\n", "row 2: column knob:drive must be a number"),
    (HEADER + ROWS[0] + "b,di.wav,b.wav,train,nan,8\n", "row 2: column knob:drive must be a finite number"),
    (HEADER + ROWS[0] + "b,di.wav,b.wav,train,inf,8\n", "row 2: column knob:drive must be a finite number"),
    (HEADER + ROWS[0] + "b,di.wav,b.wav,holdout,1,8\n", "row 2: column split must be train or test"),
    (HEADER + ROWS[0] + "b,,b.wav,train,1,8\n", "row 2: column clean is empty"),
    (HEADER.replace("split", "gain") + ROWS[0], "row 1: unknown column"),
    (HEADER + "a,di.wav,a.wav,test,0,2\n", "every row is split=test"),
    (HEADER + "a,di.wav,a.wav,train,0,2\nb,di.wav,b.wav,train,3,2\n", "every training row sets knob:treble to 2"),
    ("name,clean,target,knob:7th\na,di.wav,a.wav,1\n", "column knob:7th"),
])
def test_a_broken_manifest_is_one_error_naming_row_and_column(tmp_path, text, message):
    with pytest.raises(GuneampError, match=message):
        read_knob_manifest(write(tmp_path, text))


def test_a_yaml_row_without_one_of_the_knobs_is_refused(tmp_path):
    text = ("- {clean: di.wav, target: a.wav, knobs: {drive: 0, treble: 2}}\n"
            "- {clean: di.wav, target: b.wav, knobs: {drive: 10}}\n")
    with pytest.raises(GuneampError, match="row 2: column knob:treble is missing"):
        read_knob_manifest(write(tmp_path, text, "knobs.yaml"))


def test_train_many_still_refuses_knob_columns_it_cannot_use(tmp_path):
    text = "clean,target,model,out,knob:drive\ndi.wav,a.wav,lstm:8,out_a,3\n"
    with pytest.raises(GuneampError, match="unknown column.*knob:drive"):
        many.read_manifest(write(tmp_path, text))
