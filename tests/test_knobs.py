"""The knob vocabulary every knob model shares: names, ranges, scaling to 0..1, refusals."""

import numpy as np
import pytest

from guneamp_lib.errors import GuneampError
from guneamp_lib.knobs import Knob, KnobSpace, parse_range, parse_setting


def space():
    return KnobSpace([Knob("drive", 0, 10), Knob("treble", 2, 8)])


def test_normalize_maps_the_trained_range_to_unit_interval_in_model_order():
    s = space()
    v = s.normalize({"treble": 5.0, "drive": 10.0})
    assert v.dtype == np.float32
    np.testing.assert_allclose(v, [1.0, 0.5])
    assert s.denormalize(v) == {"drive": 10.0, "treble": 5.0}


def test_refusals_name_the_knob():
    s = space()
    with pytest.raises(GuneampError, match="unknown knob 'gain'"):
        s.normalize({"drive": 1, "treble": 3, "gain": 2})
    with pytest.raises(GuneampError, match="'treble' has no value"):
        s.normalize({"drive": 1})
    with pytest.raises(GuneampError, match="outside the range .*--extrapolate"):
        s.normalize({"drive": 11, "treble": 3})
    np.testing.assert_allclose(s.normalize({"drive": 11, "treble": 3}, extrapolate=True), [1.1, 1 / 6], rtol=1e-6)
    with pytest.raises(GuneampError, match="finite"):
        s.normalize({"drive": float("nan"), "treble": 3}, extrapolate=True)


def test_parse_setting_and_range():
    assert parse_setting("treble=7.5") == ("treble", 7.5)
    assert parse_range("drive=0:10") == Knob("drive", 0.0, 10.0)
    for bad in ("treble", "treble=", "=3", "9x=1", "treble=inf"):
        with pytest.raises(GuneampError):
            parse_setting(bad)
    for bad in ("drive=0", "drive=5:5", "drive=3:1", "drive=a:b"):
        with pytest.raises(GuneampError):
            parse_range(bad)


def test_json_round_trip_and_malformed_lists():
    s = space()
    assert KnobSpace.from_json(s.to_json()) == s
    for bad in ({"name": "x"}, [{"name": "x", "low": 0}], [{"name": 3, "low": 0, "high": 1}],
                [{"name": "x", "low": "nan", "high": 1}]):
        with pytest.raises(GuneampError):
            KnobSpace.from_json(bad)
    with pytest.raises(GuneampError, match="twice"):
        KnobSpace([Knob("a", 0, 1), Knob("a", 0, 2)])


def test_from_settings_spans_the_captured_values():
    s = KnobSpace.from_settings([{"drive": 2, "bass": 5}, {"drive": 8, "bass": 0}], names=["drive", "bass"])
    assert s.knobs == (Knob("drive", 2, 8), Knob("bass", 0, 5))
    with pytest.raises(GuneampError, match="empty"):
        KnobSpace.from_settings([{"drive": 2}, {"drive": 2}])
