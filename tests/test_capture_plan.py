"""The capture plan: every knob at 5 levels, the corners, no full grid from 3 knobs, held-out settings inside."""

import itertools

import numpy as np
import pytest

from guneamp_lib.capture.plan import manifest_text, nearest_setting, plan_settings
from guneamp_lib.cli import main
from guneamp_lib.errors import GuneampError
from guneamp_lib.knobs import Knob, KnobSpace
from guneamp_lib.study.manifest import read_knob_manifest

NAMES = ("drive", "bass", "mid", "treble", "master")


def space(k: int) -> KnobSpace:
    # Different ranges per knob, so a mix-up of dial units and 0..1 shows.
    return KnobSpace([Knob(n, i, 10 + 2 * i) for i, n in enumerate(NAMES[:k])])


def unit(sp: KnobSpace, settings) -> np.ndarray:
    return np.array([sp.normalize(s) for s in settings], dtype=np.float64)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_plan_covers_levels_corners_and_holds_out_settings_between_them(k):
    sp = space(k)
    plan = plan_settings(sp)
    train, test = unit(sp, plan.train), unit(sp, plan.test)
    for j, kn in enumerate(sp.knobs):
        levels = sorted({s[kn.name] for s in plan.train})
        assert len(levels) >= 5 and levels[0] == kn.low and levels[-1] == kn.high
    corners = set(itertools.product((0.0, 1.0), repeat=k))
    assert corners <= {tuple(p) for p in np.round(train, 9)}
    assert len({tuple(p) for p in train}) == len(train), "a setting is planned twice"
    if k >= 3:
        assert len(train) < 5 ** k
        assert len(train) == 2 ** k + 5 * k  # the corners and a hypercube that stays off them
    else:
        assert len(train) == 5 ** k
    assert len(test) >= 2
    assert np.all((test > 0) & (test < 1)), "a held-out setting sits on the edge of the range"
    # At least half a step (of 4) from every training setting on every knob.
    gaps = np.abs(test[:, None, :] - train[None, :, :]).min(axis=1)
    assert np.all(gaps >= 0.125 - 1e-9)


def test_three_knobs_are_spread_not_stacked():
    sp = space(3)
    train = unit(sp, plan_settings(sp).train)
    d = np.sqrt(((train[:, None] - train[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    # A Latin hypercube left unoptimized puts two settings one step apart (0.25); maximin does better.
    assert d.min() > 0.3


def test_plan_is_deterministic_and_the_seed_changes_it():
    sp = space(4)
    assert plan_settings(sp, seed=3) == plan_settings(sp, seed=3)
    assert plan_settings(sp, seed=3).train != plan_settings(sp, seed=4).train


def test_refusals():
    with pytest.raises(GuneampError, match="more than a capture plan covers"):
        plan_settings(KnobSpace([Knob(f"k{i}", 0, 1) for i in range(6)]))
    with pytest.raises(GuneampError, match="levels must be"):
        plan_settings(space(2), levels=4)


def test_nearest_setting_measures_each_knob_over_its_range():
    sp = KnobSpace([Knob("drive", 0, 10), Knob("treble", 0, 100)])
    # In dial units the second is closer (|5| < |30|); over each range the first is (0.3 < 0.5).
    candidates = [{"drive": 5, "treble": 30}, {"drive": 0, "treble": 0}, {"drive": 10, "treble": 0}]
    assert nearest_setting(sp, {"drive": 5, "treble": 0}, candidates) == 0


def test_cli_writes_a_template_the_manifest_reader_accepts_once_filled(tmp_path, capsys):
    out = tmp_path / "plan.csv"
    assert main(["capture-plan", "--knob", "drive=0:10", "--knob", "treble=2:8", "--seconds", "60",
                 "--clean", "sig.wav", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "30 takes (25 to train on, 5 held out), 30.0 minutes" in said
    text = out.read_text()
    with pytest.raises(GuneampError, match="row 1: column target is empty"):
        read_knob_manifest(out)
    filled = tmp_path / "filled.csv"
    lines = text.splitlines()
    filled.write_text("\n".join([lines[0]] + [ln.replace("sig.wav,,", f"sig.wav,take{i}.wav,")
                                                for i, ln in enumerate(lines[1:])]) + "\n")
    m = read_knob_manifest(filled)
    assert len(m.train) == 25 and len(m.test) == 5
    assert m.space == KnobSpace([Knob("drive", 0, 10), Knob("treble", 2, 8)])
    plan = plan_settings(m.space)
    assert [r.settings for r in m.rows] == list(plan.settings)
    assert text == manifest_text(plan, [{"clean": "sig.wav"}] * len(plan.settings))
    assert main(["capture-plan", "--knob", "drive=0:10", "--out", str(out)]) == 2, "overwrote without --overwrite"
