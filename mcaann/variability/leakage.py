"""Capacitor leakage ``I_leak(w) = G_leak (w - V_rest) + I_leak0`` and its temperature factor."""

from __future__ import annotations

import math

import numpy as np

from mcaann.units import K_BOLTZMANN, Q_ELECTRON

#: Boltzmann's constant [eV/K]
K_BOLTZMANN_EV = K_BOLTZMANN / Q_ELECTRON


def temperature_factor(temperature: float, T_0: float, dT_double: float | None = None,
                       E_a: float | None = None) -> float:
    """Leakage multiplier at ``temperature`` [K] relative to ``T_0`` [K].

    Arrhenius, ``exp(-E_a / k (1/T - 1/T_0))`` with the activation energy ``E_a`` [eV] (subthreshold and
    junction leakage: about 0.5-0.6 eV), or, for older studies, ``2 ** ((T - T_0) / dT_double)``.
    """
    if (E_a is None) == (dT_double is None):
        raise ValueError("give exactly one of E_a and dT_double")
    if E_a is not None:
        return math.exp(-E_a / K_BOLTZMANN_EV * (1.0 / temperature - 1.0 / T_0))
    return float(2.0 ** ((temperature - T_0) / dT_double))


def nominal_g_leak(study) -> float:
    """The median leak conductance at the chip temperature [S]; 0 with leakage off."""
    from mcaann.variability.process import resolve_process

    if not study.leakage.enabled:
        return 0.0
    lk = study.leakage
    proc = resolve_process(study)
    return proc.G_leak * temperature_factor(study.process.temperature, lk.T_0, lk.dT_double,
                                            None if lk.dT_double is not None else proc.E_a)


def leak_solution(t, w0, g_leak, c, v_rest=0.0, i_leak0=0.0):
    """Closed form of ``C dw/dt = -(G (w - V_rest) + I_leak0)`` [V] at times ``t`` [s]."""
    t, g = np.asarray(t, dtype=float), np.asarray(g_leak, dtype=float)
    safe_g = np.where(g > 0, g, 1.0)
    w_inf = v_rest - i_leak0 / safe_g
    return np.where(g > 0, w_inf + (w0 - w_inf) * np.exp(-t * g / c), w0 - i_leak0 / c * t)


def hold(w: np.ndarray, t: float, g_leak: np.ndarray, cap: np.ndarray, v_rest: float,
         i_leak0: float, kT: float, z: np.ndarray | None) -> np.ndarray:
    """Weights after holding for ``t`` [s] with teaching off: the exact transition of
    ``C dw = -(G (w - V_rest) + I_leak0) dt + sqrt(S) dB``, an Ornstein-Uhlenbeck process whose white
    current has the two-sided density ``S = 2 k T G + q |I_leak0|`` [A^2/Hz] (``blocks.noise_sigma``),
    with standard normals ``z`` for the noise (None: noise off)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        leaky = g_leak > 0
        theta = g_leak / cap
        decay = np.exp(-theta * t)
        w_inf = np.where(leaky, v_rest - i_leak0 / np.where(leaky, g_leak, 1.0), 0.0)
        mean = np.where(leaky, w_inf + (w - w_inf) * decay, w - i_leak0 / cap * t)
        if z is None:
            return mean
        density = 2.0 * kT * g_leak + Q_ELECTRON * abs(i_leak0)
        # variance S / (2 G C) (1 - e^{-2 theta t}); without leak conductance, S t / C^2
        var = np.where(leaky, density / (2.0 * np.where(leaky, g_leak, 1.0) * cap) * -np.expm1(-2.0 * theta * t),
                       density * t / cap**2)
    return mean + np.sqrt(var) * z
