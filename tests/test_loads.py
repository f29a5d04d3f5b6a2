"""The load rule: multiples of 0.5 kg within [0, max]; never rounded, never clamped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.loads import LoadError, check_load


@pytest.mark.parametrize("kg,expected", [("0", 0.0), (0.5, 0.5), ("12.5", 12.5), (100, 100.0),
                                         ("20.0", 20.0), (7, 7.0)])
def test_valid_loads_pass_unchanged(kg, expected):
    assert check_load(kg, 100.0) == expected


@pytest.mark.parametrize("kg,message", [
    ("12.3", "not a multiple of 0.5 kg; the nearest valid loads are 12.0 kg and 12.5 kg"),
    ("0.2", "nearest valid loads are 0.0 kg and 0.5 kg"),
    ("99.9", "nearest valid loads are 99.5 kg and 100.0 kg"),
    ("500", "above the unit's maximum of 100.0 kg per cable"),
    ("100.5", "above the unit's maximum of 100.0 kg per cable"),
    ("-0.5", "negative"),
    ("twelve", "not a plain decimal number"),
    ("nan", "not a plain decimal number"),  # text: no name for a number is one
    ("inf", "not a plain decimal number"),
    (float("nan"), "not a finite number"),  # a float from code
    (float("inf"), "not a finite number"),
])
def test_invalid_loads_are_refused_with_what_is_allowed(kg, message):
    with pytest.raises(LoadError, match=message.replace(".", r"\.").replace("'", ".")):
        check_load(kg, 100.0)


def test_nearest_loads_never_name_one_above_the_maximum():
    with pytest.raises(LoadError) as e:
        check_load("49.7", 49.5)
    assert "maximum" in str(e.value)
    with pytest.raises(LoadError) as e:
        check_load("49.2", 49.5)
    assert "49.0 kg and 49.5 kg" in str(e.value)


@given(st.integers(0, 400))
def test_every_step_on_the_grid_is_accepted(steps):
    assert check_load(steps / 2, 200.0) == steps / 2


@given(st.floats(0, 200, allow_nan=False).filter(lambda x: (x * 2) != int(x * 2)))
def test_nothing_off_the_grid_is_accepted(kg):
    with pytest.raises(LoadError):
        check_load(kg, 200.0)
