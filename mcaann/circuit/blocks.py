"""The circuit's blocks and their per-instance parameters (MODEL.md section 2).

Each synapse (weight) has three multipliers (forward ``x*w``, backward ``delta*w``,
update ``delta*x``), the update path's transresistance ``R_e``, a charge pump and a
capacitor. Each neuron has an activation block, a derivative block, an error circuit
and a delta circuit. Every parameter below exists per instance and per block; the
variability module fills it (at its nominal value where mismatch is off).

Multiplier ``M(a, b) = K_I tanh(K_m (a + Voff_a)(b + Voff_b) / K_I)`` [A].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# kinds: how mismatch perturbs a parameter
GAIN = "gain"  # relative: nominal * (1 + sigma_rel * z)
OFFSET_V = "offset_v"  # differential-pair offset voltage [V]
OFFSET_I = "offset_i"  # input-referred offset voltage times transconductance [A]
FIXED = "fixed"  # per-block array at its nominal value (saturation currents)
CAP = "cap"  # capacitor: C * (1 + A_C / sqrt(C / C_density) * z)
LEAK = "leak"  # log-normal leak conductance, temperature-scaled


@dataclass(frozen=True)
class ParamSpec:
    """A per-block parameter: its name in the dataset, block kind, mismatch kind, units."""

    name: str
    block: str  # multiplier | activation | derivative | error | delta | pump | capacitor
    kind: str
    units: str
    long_name: str
    nominal: Callable  # study -> nominal value (SI)


def _c(attr: str) -> Callable:
    return lambda s: getattr(s.circuit, attr)


def _zero(_s) -> float:
    return 0.0


def _one(_s) -> float:
    return 1.0


def _g_leak(s) -> float:
    from mcaann.variability.leakage import nominal_g_leak

    return nominal_g_leak(s)


def _mult(tag: str, a: str, b: str) -> list[ParamSpec]:
    return [
        ParamSpec(f"km_{tag}", "multiplier", GAIN, "A V-2", f"{tag} multiplier gain K_m", _c("K_m")),
        ParamSpec(f"voffa_{tag}", "multiplier", OFFSET_V, "V", f"{tag} multiplier offset on {a}", _zero),
        ParamSpec(f"voffb_{tag}", "multiplier", OFFSET_V, "V", f"{tag} multiplier offset on {b}", _zero),
        ParamSpec(f"ki_{tag}", "multiplier", FIXED, "A", f"{tag} multiplier saturation current K_I", _c("K_I")),
    ]


#: Per-synapse parameters, over ``(instance, weight)``; the order is the kernels' row order.
SYNAPSE_PARAMS: tuple[ParamSpec, ...] = tuple(
    _mult("fwd", "x", "w")
    + _mult("bwd", "delta", "w")
    + _mult("upd", "delta", "x")
    + [
        ParamSpec("re_upd", "pump", GAIN, "V A-1", "update-path transresistance R_e",
                  lambda s: s.circuit.R_e_eff),
        ParamSpec("kg", "pump", GAIN, "S", "charge-pump transconductance K_g", _c("K_g")),
        ParamSpec("imax", "pump", FIXED, "A", "charge-pump saturation current I_max", _c("I_max")),
        ParamSpec("c", "capacitor", CAP, "F", "weight capacitance C", _c("C")),
        ParamSpec("g_leak", "capacitor", LEAK, "S", "leak conductance at chip temperature", _g_leak),
    ]
)

#: Per-neuron parameters, over ``(instance, neuron)``.
NEURON_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("v_amp", "activation", GAIN, "V", "activation swing V_amp", _c("V_amp")),
    ParamSpec("iref", "activation", GAIN, "A", "activation reference current I_ref", _c("I_ref")),
    ParamSpec("ioff", "activation", OFFSET_I, "A", "activation offset current I_off", _zero),
    ParamSpec("a_d", "derivative", GAIN, "1", "derivative gain A_d", _one),
    ParamSpec("iref_d", "derivative", GAIN, "A", "derivative reference current I_ref_d", _c("I_ref")),
    ParamSpec("ioff_d", "derivative", OFFSET_I, "A", "derivative offset current I_off_d", _zero),
    ParamSpec("voff_e", "error", OFFSET_V, "V", "error circuit offset V_off_e", _zero),
    ParamSpec("re_err", "error", GAIN, "V A-1", "hidden error transresistance R_e",
              lambda s: s.circuit.R_e_eff),
    ParamSpec("a_delta", "delta", GAIN, "1", "delta circuit gain A_delta", _one),
    ParamSpec("voff_delta", "delta", OFFSET_V, "V", "delta circuit offset V_off_delta", _zero),
)

SYN_INDEX = {p.name: k for k, p in enumerate(SYNAPSE_PARAMS)}
NEU_INDEX = {p.name: k for k, p in enumerate(NEURON_PARAMS)}
