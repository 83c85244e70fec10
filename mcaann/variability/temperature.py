"""How the blocks' nominal values follow the chip temperature (MODEL.md section 4).

The circuit's nominal values (``[circuit]``) and ``mismatch.gm_over_I`` are given at
``process.T_nominal``; at the chip temperature ``T = process.temperature``:

- the thermal voltage ``U_T = k T / q`` scales the sigmoid's current scale ``I_ref`` (activation and
  derivative blocks: a differential pair's slope is set by ``n U_T``) by ``T / T_nominal``, and a
  device's ``g_m / I = 1 / (n U_T)`` by ``T_nominal / T``;
- the carrier mobility, about ``T^-1.5``, scales the multipliers' gain ``K_m`` and the charge pump's
  transconductance ``K_g`` by ``(T / T_nominal) ** process.mobility_exponent``.

Leakage has its own law (``variability.leakage``); noise uses ``T`` directly.
"""

from __future__ import annotations


def thermal_factor(study) -> float:
    """``U_T(T) / U_T(T_nominal)`` = ``T / T_nominal`` (dimensionless)."""
    return study.process.temperature / study.process.T_nominal


def mobility_factor(study) -> float:
    """``mu(T) / mu(T_nominal)`` = ``(T / T_nominal) ** mobility_exponent`` (dimensionless)."""
    return thermal_factor(study) ** study.process.mobility_exponent


def i_ref(study) -> float:
    """The sigmoid blocks' nominal current scale ``I_ref`` at the chip temperature [A]."""
    return study.circuit.I_ref * thermal_factor(study)


def gm_over_i(study) -> float:
    """A device's ``g_m / I`` at the chip temperature [1/V]."""
    return study.mismatch.gm_over_I / thermal_factor(study)
