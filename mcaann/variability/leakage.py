"""Capacitor leakage ``I_leak(w) = G_leak (w - V_rest) + I_leak0`` and its temperature factor."""

from __future__ import annotations

import numpy as np


def temperature_factor(temperature: float, T_0: float, dT_double: float) -> float:
    """Leakage multiplier at ``temperature`` [K]: ``2 ** ((T - T_0) / dT_double)``."""
    return float(2.0 ** ((temperature - T_0) / dT_double))


def nominal_g_leak(study) -> float:
    """The median leak conductance at the chip temperature [S]; 0 with leakage off."""
    from mcaann.variability.process import resolve_process

    if not study.leakage.enabled:
        return 0.0
    lk = study.leakage
    return resolve_process(study).G_leak * temperature_factor(
        study.process.temperature, lk.T_0, lk.dT_double
    )


def leak_solution(t, w0, g_leak, c, v_rest=0.0, i_leak0=0.0):
    """Closed form of ``C dw/dt = -(G (w - V_rest) + I_leak0)`` [V] at times ``t`` [s]."""
    t, g = np.asarray(t, dtype=float), np.asarray(g_leak, dtype=float)
    safe_g = np.where(g > 0, g, 1.0)
    w_inf = v_rest - i_leak0 / safe_g
    return np.where(g > 0, w_inf + (w0 - w_inf) * np.exp(-t * g / c), w0 - i_leak0 / c * t)
