import math

import pytest

from mcaann.units import parse_cli_value, parse_spice_number


@pytest.mark.parametrize("text,value", [
    ("100n", 1e-7), ("0.1p", 1e-13), ("10meg", 1e7), ("1k", 1e3), ("2.5u", 2.5e-6), ("3m", 3e-3),
    ("1e-9", 1e-9), ("0.1pF", 1e-13), ("5", 5.0), ("-2f", -2e-15), ("1MEG", 1e6), ("1M", 1e-3),
])
def test_spice_suffixes(text, value):
    assert parse_spice_number(text) == pytest.approx(value, rel=1e-15)


def test_inf_is_never_in_femto():
    assert parse_spice_number("inf") == math.inf
    assert parse_spice_number("-inf") == -math.inf
    assert parse_cli_value("inf") == math.inf


def test_bad_numbers():
    for bad in ["abc", "1x", "", "1.2.3"]:
        with pytest.raises(ValueError):
            parse_spice_number(bad)


def test_cli_values():
    assert parse_cli_value("true") is True
    assert parse_cli_value("[2, 8, 1]") == [2, 8, 1]
    assert parse_cli_value("1e-9") == 1e-9
    assert parse_cli_value("100n") == pytest.approx(1e-7)
    assert parse_cli_value("rk4") == "rk4"
    assert parse_cli_value('"fixed"') == "fixed"
