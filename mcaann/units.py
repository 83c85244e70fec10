"""SPICE-style numbers: ``"100n"``, ``"0.1p"``, ``"10meg"`` -> SI floats."""

from __future__ import annotations

import math
import re

# Longest suffixes first, so that "meg" is never read as "m" (milli).
_SUFFIXES: dict[str, float] = {
    "meg": 1e6,
    "mil": 25.4e-6,
    "t": 1e12,
    "g": 1e9,
    "k": 1e3,
    "m": 1e-3,
    "u": 1e-6,
    "µ": 1e-6,
    "n": 1e-9,
    "p": 1e-12,
    "f": 1e-15,
    "a": 1e-18,
}
#: Boltzmann's constant [J/K] and the elementary charge [C] (exact, SI 2019)
K_BOLTZMANN = 1.380649e-23
Q_ELECTRON = 1.602176634e-19

_NUMBER = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Zµ]*)\s*$")
_INF = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "infinity": math.inf}


def parse_spice_number(text: str) -> float:
    """Return the SI value of a SPICE number such as ``"100n"`` (1e-7) or ``"10meg"`` (1e7).

    Letters after the scale suffix are ignored as SPICE does (``"0.1pF"`` is 1e-13).
    ``"inf"`` and ``"-inf"`` are infinity, never "in" + femto. Raises ``ValueError``.
    """
    s = text.strip().lower()
    if s in _INF:
        return _INF[s]
    m = _NUMBER.match(s)
    if not m:
        raise ValueError(f"not a number: {text!r}")
    value = float(m.group(1))
    letters = m.group(2)
    if not letters:
        return value
    for suffix in _SUFFIXES:
        if letters.startswith(suffix):
            return value * _SUFFIXES[suffix]
    raise ValueError(f"unknown SPICE suffix in {text!r}")


#: a number with an exponent and a SPICE suffix ("1e-13F"): almost always a unit taken for a scale
_EXPONENT_AND_SUFFIX = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+\s*[a-zA-Zµ]+\s*$")


def warn_suffix(field: str, text: str, value: float) -> None:
    """Warn (``McaannWarning``) when ``text`` has both an exponent and a suffix, as ``"1e-13F"``
    (read the SPICE way: 1e-28, F = femto), so that a unit taken for a scale is seen."""
    if not _EXPONENT_AND_SUFFIX.match(text):
        return
    import warnings

    from mcaann.errors import McaannWarning

    warnings.warn(f"{field}: {text!r} reads as {value:g} (a SPICE suffix scales: F is femto, not farad; "
                  "M is milli); write the number without the letters", McaannWarning, stacklevel=3)


def parse_cli_value(text: str) -> object:
    """Read a ``--set``/``--sweep`` value: a TOML literal, else a SPICE number, else a string."""
    import tomllib

    stripped = text.strip()
    low = stripped.lower()
    if low in _INF:
        return _INF[low]
    try:
        return tomllib.loads(f"v = {stripped}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return parse_spice_number(stripped)
    except ValueError:
        return stripped


def format_si(value: float, unit: str = "", digits: int = 3) -> str:
    """Format a value with an SI prefix for tables: 1e-7 A -> '100 nA'."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}".strip()
    prefixes = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"),
                (1e-6, "u"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"), (1e-18, "a")]
    for scale, p in prefixes:
        if abs(value) >= scale * 0.9999999:
            return f"{value / scale:.{digits}g} {p}{unit}".strip()
    return f"{value:.{digits}g} {unit}".strip()
