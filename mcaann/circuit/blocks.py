"""The circuit's blocks: their per-instance parameters and their equations, each written once (MODEL.md 2).

Each synapse (weight) has three multipliers (forward ``x*w``, backward ``delta*w``,
update ``delta*x``), the update path's transresistance ``R_e``, a charge pump and a
capacitor. Each neuron has an activation block, a derivative block, an error circuit
and a delta circuit. Every parameter below exists per instance and per block; the
variability module fills it (at its nominal value where mismatch is off).

The equations are written in *derived* parameters (``DERIVED``: divisions by ``K_I``, ``I_ref``,
``I_max`` and ``C`` folded into factors, so that a kernel's step divides by nothing) and in the
algebra of ``circuit.algebra``: the same function computes the float64 reference, builds the
kernels' source and writes the SPICE netlist's behavioural sources.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mcaann.circuit.algebra import logistic_neg, tanh
from mcaann.units import Q_ELECTRON
from mcaann.variability import temperature

# kinds: how mismatch perturbs a parameter
GAIN = "gain"  # relative: nominal * (1 + sigma_rel * z)
OFFSET_V = "offset_v"  # differential-pair offset voltage [V]
OFFSET_I = "offset_i"  # input-referred offset voltage times transconductance [A]
CURRENT = "current"  # a tail current copied by a mirror: nominal * (1 + sigma_rel * z)
OFFSET_MIRROR = "offset_mirror"  # output offset current of a mirror pair [A]: bias current * pair mismatch
FIXED = "fixed"  # per-block array at its nominal value
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
    #: ``OFFSET_MIRROR`` only: study -> the bias current [A] the mirror carries (``inf``: an ideal block, no offset)
    bias: Callable | None = None


def _c(attr: str) -> Callable:
    return lambda s: getattr(s.circuit, attr)


def _mobility(attr: str) -> Callable:
    """A gain set by carrier mobility, at the chip temperature (``variability.temperature``)."""
    return lambda s: getattr(s.circuit, attr) * temperature.mobility_factor(s)


def _zero(_s) -> float:
    return 0.0


def _one(_s) -> float:
    return 1.0


def _pump_lambda(s) -> float:
    """The pump's output conductance per tail current, ``g_out / I_max`` [1/V] (``circuit.pump_output``): a simple
    output stage (two current sources, each at ``I_max / 2`` at balance) has ``1 / V_A``; a cascoded one that over
    the cascode device's intrinsic gain ``(g_m/I) V_A`` (``mismatch.gm_over_I_mirror``); an ideal one 0."""
    c = s.circuit
    if c.pump_output == "simple":
        return 1.0 / c.V_A_pump
    if c.pump_output == "cascoded":
        return 1.0 / (c.V_A_pump * s.mismatch.gm_over_I_mirror * c.V_A_pump)
    return 0.0


def pump_conductance(s) -> bool:
    """Whether a study's charge pump has an output conductance: a saturating pump (finite ``I_max``) whose output
    stage is not ideal."""
    import math

    return math.isfinite(s.circuit.I_max) and _pump_lambda(s) > 0.0


def _g_leak(s) -> float:
    from mcaann.variability.leakage import nominal_g_leak

    return nominal_g_leak(s)


def _mult(tag: str, a: str, b: str) -> list[ParamSpec]:
    return [
        ParamSpec(f"km_{tag}", "multiplier", GAIN, "A V-2", f"{tag} multiplier gain K_m", _mobility("K_m")),
        ParamSpec(f"voffa_{tag}", "multiplier", OFFSET_V, "V", f"{tag} multiplier offset on {a}", _zero),
        ParamSpec(f"voffb_{tag}", "multiplier", OFFSET_V, "V", f"{tag} multiplier offset on {b}", _zero),
        ParamSpec(f"ki_{tag}", "multiplier", CURRENT, "A", f"{tag} multiplier saturation (tail) current K_I",
                  _c("K_I")),
        ParamSpec(f"ioff_{tag}", "multiplier", OFFSET_MIRROR, "A", f"{tag} multiplier output offset current",
                  _zero, bias=_c("K_I")),
    ]


#: Per-synapse parameters, over ``(instance, weight)``; the order is the kernels' row order.
SYNAPSE_PARAMS: tuple[ParamSpec, ...] = tuple(
    _mult("fwd", "x", "w")
    + _mult("bwd", "delta", "w")
    + _mult("upd", "delta", "x")
    + [
        ParamSpec("re_upd", "pump", GAIN, "V A-1", "update-path transresistance R_e",
                  lambda s: s.circuit.R_e_eff),
        ParamSpec("kg", "pump", GAIN, "S", "charge-pump transconductance K_g", _mobility("K_g")),
        ParamSpec("imax", "pump", CURRENT, "A", "charge-pump saturation (tail) current I_max", _c("I_max")),
        ParamSpec("ioff_pump", "pump", OFFSET_MIRROR, "A", "charge-pump up/down imbalance current at V_teach_ref",
                  _zero, bias=_c("I_max")),
        ParamSpec("lam_pump", "pump", FIXED, "V-1", "charge-pump output conductance per tail current g_out / I_max",
                  _pump_lambda),
        ParamSpec("v_pump", "pump", FIXED, "V", "voltage the pump's output conductance pulls the weight toward",
                  _c("V_pump")),
        ParamSpec("c", "capacitor", CAP, "F", "weight capacitance C", _c("C")),
        ParamSpec("g_leak", "capacitor", LEAK, "S", "leak conductance at chip temperature", _g_leak),
    ]
)

#: Per-neuron parameters, over ``(instance, neuron)``.
NEURON_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("v_amp", "activation", GAIN, "V", "activation swing V_amp", _c("V_amp")),
    ParamSpec("iref", "activation", GAIN, "A", "activation reference current I_ref", temperature.i_ref),
    ParamSpec("ioff", "activation", OFFSET_I, "A", "activation offset current I_off", _zero),
    ParamSpec("a_d", "derivative", GAIN, "1", "derivative gain A_d", _one),
    ParamSpec("iref_d", "derivative", GAIN, "A", "derivative reference current I_ref_d", temperature.i_ref),
    ParamSpec("ioff_d", "derivative", OFFSET_I, "A", "derivative offset current I_off_d", _zero),
    ParamSpec("voff_d", "derivative", OFFSET_V, "V", "derivative block output offset", _zero),
    ParamSpec("voff_e", "error", OFFSET_V, "V", "error circuit offset V_off_e", _zero),
    ParamSpec("re_err", "error", GAIN, "V A-1", "hidden error transresistance R_e",
              lambda s: s.circuit.R_e_eff),
    ParamSpec("a_delta", "delta", GAIN, "1", "delta multiplier gain A_delta", _one),
    ParamSpec("voffe_delta", "delta", OFFSET_V, "V", "delta multiplier offset on e", _zero),
    ParamSpec("voffd_delta", "delta", OFFSET_V, "V", "delta multiplier offset on d", _zero),
    ParamSpec("voff_delta", "delta", OFFSET_V, "V", "delta circuit offset V_off_delta", _zero),
)

def variation_kind(spec: ParamSpec) -> str:
    """The kind a sampled parameter's variation belongs to (``mismatch.kind_scale``, the yield budget): its block,
    with a multiplier's path from its name's ``_fwd``, ``_bwd`` or ``_upd`` suffix (``multiplier_fwd``)."""
    tag = spec.name.rsplit("_", 1)[-1]
    return f"{spec.block}_{tag}" if spec.block == "multiplier" and tag in MULTIPLIERS else spec.block


def variation_kinds(params: Sequence[ParamSpec] | None = None) -> tuple[str, ...]:
    """Every kind with a mismatch-sampled parameter (not fixed, not leakage) of ``params`` (default: this circuit's),
    in declaration order: read from the parameter specs, so that a new sampled parameter's kind appears here by
    itself."""
    params = SYNAPSE_PARAMS + NEURON_PARAMS if params is None else params
    kinds = [variation_kind(p) for p in params if p.kind not in (FIXED, LEAK)]
    return tuple(dict.fromkeys(kinds))


SYN_INDEX = {p.name: k for k, p in enumerate(SYNAPSE_PARAMS)}
NEU_INDEX = {p.name: k for k, p in enumerate(NEURON_PARAMS)}


# ------------------------------------------------------------------------------------------------------------
# Derived parameters: what the equations below read
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """The structural choices that change the equations (not the parameter values)."""

    sat_mult: bool  # multipliers saturate (finite K_I)
    sat_pump: bool  # charge pump saturates (finite I_max)
    leak: bool
    mismatch: bool  # False: every block at its nominal value (offsets exactly 0, unit gains exactly 1)
    lags: bool = False  # the y, e, delta and g nodes settle with first-order lags (``circuit.settling``)
    pump_g: bool = False  # the charge pump's finite output conductance (a saturating pump, pump_output not ideal)


@dataclass(frozen=True)
class Derived:
    """A derived parameter: per synapse or per neuron, its units, and its exact value at nominal if it has one.

    ``at_nominal``: ``0.0`` or ``1.0`` where MODEL.md fixes the nominal value (offsets, unit gains), so that
    without mismatch the kernels leave it out; ``same_as``: another derived parameter it equals at nominal
    (the derivative block replicates the activation's input stage), so that its computation can be shared.
    """

    name: str
    per: str  # "synapse" | "neuron"
    units: str
    at_nominal: float | None = None
    same_as: str | None = None
    spread: str = "mismatch"  # differs between blocks: with "mismatch", "always" (leakage) or "never"


def derived_parameters(v: Variant) -> tuple[Derived, ...]:
    """The derived parameters the equations of variant ``v`` read, in the kernels' order."""
    out: list[Derived] = []
    for t in MULTIPLIERS:
        out += [Derived(f"gm_{t}", "synapse", "V-2" if v.sat_mult else "A V-2"),
                Derived(f"va_{t}", "synapse", "V", 0.0), Derived(f"vb_{t}", "synapse", "V", 0.0)]
        if v.sat_mult:
            out.append(Derived(f"ki_{t}", "synapse", "A"))
        out.append(Derived(f"io_{t}", "synapse", "A", 0.0))
    out += [Derived("pg", "synapse", "A-1" if v.sat_pump else "1"),
            Derived("ampc", "synapse", "A F-1" if v.sat_pump else "F-1"),
            Derived("ipc", "synapse", "V s-1", 0.0)]
    if v.pump_g:
        out += [Derived("gpc", "synapse", "s-1"), Derived("gpv", "synapse", "V s-1")]
    if v.leak:
        out += [Derived("glc", "synapse", "s-1", spread="always"), Derived("il0c", "synapse", "V s-1")]
    out += [Derived("nir", "neuron", "A-1"), Derived("c0", "neuron", "1", 0.0), Derived("vamp", "neuron", "V"),
            Derived("nird", "neuron", "A-1", same_as="nir"), Derived("c0d", "neuron", "1", 0.0),
            Derived("a_d", "neuron", "1", 1.0), Derived("vdo", "neuron", "V", 0.0),
            Derived("re_err", "neuron", "V A-1"), Derived("voe", "neuron", "V", 0.0),
            Derived("a_delta", "neuron", "1", 1.0), Derived("vde", "neuron", "V", 0.0),
            Derived("vdd", "neuron", "V", 0.0), Derived("vod", "neuron", "V", 0.0)]
    if v.lags:
        from mcaann.circuit.settling import NEURON_NODES, SYNAPSE_NODES

        for per, kinds in (("neuron", NEURON_NODES), ("synapse", SYNAPSE_NODES)):
            out += [Derived(f"{f}_{kind}", per, "1", spread="always") for kind in kinds for f in ("lag", "avg")]
    return tuple(out)


MULTIPLIERS = ("fwd", "bwd", "upd")


def derive(v: Variant, p: dict, i_leak0: float, lags: dict | None = None) -> dict:
    """Derived parameters from the sampled block parameters ``p`` (name -> arrays or floats, SI units) and, with
    node lags, their factors ``lags`` (``settling.lag_parameters``: ``lag_<node>``, ``avg_<node>``).

    ``gm`` = K_m / K_I [1/V^2] when saturating (else K_m [A/V^2]), ``pg`` = R_e K_g / I_max [1/A] (else
    R_e K_g [1]), ``ampc`` = I_max / C [A/F] (else 1 / C [1/F]), ``glc`` = G_leak / C [1/s], ``il0c`` =
    I_leak0 / C [V/s], ``ipc`` = I_pump_off / C [V/s], ``nir`` = -1 / I_ref [1/A], ``c0`` = I_off / I_ref; the
    rest as sampled (``io`` = a multiplier's output offset [A]).
    """
    d = {}
    for t in MULTIPLIERS:
        d[f"gm_{t}"] = p[f"km_{t}"] / p[f"ki_{t}"] if v.sat_mult else p[f"km_{t}"]
        d[f"va_{t}"], d[f"vb_{t}"], d[f"ki_{t}"] = p[f"voffa_{t}"], p[f"voffb_{t}"], p[f"ki_{t}"]
        d[f"io_{t}"] = p[f"ioff_{t}"]
    d["pg"] = p["re_upd"] * p["kg"] / p["imax"] if v.sat_pump else p["re_upd"] * p["kg"]
    d["ampc"] = p["imax"] / p["c"] if v.sat_pump else 1.0 / p["c"]
    d["ipc"] = p["ioff_pump"] / p["c"]
    if v.pump_g:
        d["gpc"] = p["imax"] * p["lam_pump"] / p["c"]
        d["gpv"] = d["gpc"] * p["v_pump"]
    d["glc"] = p["g_leak"] / p["c"]
    d["il0c"] = i_leak0 / p["c"]
    d["nir"] = -1.0 / p["iref"]
    d["c0"] = p["ioff"] / p["iref"]
    d["vamp"] = p["v_amp"]
    d["nird"] = -1.0 / p["iref_d"]
    d["c0d"] = p["ioff_d"] / p["iref_d"]
    d["a_d"] = p["a_d"]
    d["vdo"] = p["voff_d"]
    d["re_err"] = p["re_err"]
    d["voe"] = p["voff_e"]
    d["a_delta"] = p["a_delta"]
    d["vde"] = p["voffe_delta"]
    d["vdd"] = p["voffd_delta"]
    d["vod"] = p["voff_delta"]
    if v.lags:
        d.update(lags)
    return d


# ------------------------------------------------------------------------------------------------------------
# Block equations (MODEL.md section 2), in derived parameters; ``q`` reads one block's derived parameter
# ------------------------------------------------------------------------------------------------------------


def multiplier(v: Variant, tag: str, a, b, q: Callable):
    """Four-quadrant multiplier ``tag`` [A]: ``K_I tanh(K_m (a + Voff_a)(b + Voff_b) / K_I) + I_off_out`` (linear
    when ``K_I = inf``); ``I_off_out`` is its output mirror's offset current."""
    prod = q(f"gm_{tag}") * (a + q(f"va_{tag}")) * (b + q(f"vb_{tag}"))
    return (q(f"ki_{tag}") * tanh(prod) if v.sat_mult else prod) + q(f"io_{tag}")


def activation(i_in, q: Callable):
    """Sigmoid activation [V] of the summed current ``i_in`` [A]: ``V_amp / (1 + exp(-(I - I_off) / I_ref))``."""
    return q("vamp") * logistic_neg(i_in * q("nir") + q("c0"))


def derivative_sigmoid(i_in, q: Callable):
    """The derivative block's own sigmoid ``s = 1 / (1 + exp(-(I - I_off_d) / I_ref_d))`` (dimensionless)."""
    return logistic_neg(i_in * q("nird") + q("c0d"))


def derivative(s, q: Callable):
    """Derivative block output ``A_d s (1 - s) + V_off_d`` from its sigmoid ``s``: a voltage on a 1 V scale (``A_d``
    nominal 1, seed 004's ``K_d`` = 1 V), so that a saturated neuron's ``d`` is its output offset, not 0."""
    return q("a_d") * (s * (1.0 - s)) + q("vdo")


def output_error(y, t, q: Callable):
    """Output-layer error [V]: ``y - t + V_off_e``."""
    return y - t + q("voe")


def hidden_error(i_back, q: Callable):
    """Hidden-layer error [V] from the summed backward multiplier current ``i_back`` [A]:
    ``R_e I_back + V_off_e``."""
    return q("re_err") * i_back + q("voe")


def local_gradient(e, d, q: Callable):
    """Delta circuit, a multiplier [V]: ``A_delta (e + Voff_e) (d + Voff_d) / V_scale + V_off_delta`` with offsets
    on both inputs, an output offset and the normalisation ``V_scale`` = 1 V of the derivative's scale."""
    return q("a_delta") * ((e + q("vde")) * (d + q("vdd"))) + q("vod")


def weight_rate(v: Variant, m_upd, w, vt_rel, v_rest, q: Callable):
    """``dw/dt`` [V/s] of a weight: the charge pump driven by the gradient voltage ``g = R_e M_upd`` (``m_upd``
    [A]), with its up/down imbalance and output conductance, less the leakage, over the capacitor:
    ``(-I_max tanh(K_g vt g / I_max) + vt I_pump_off - vt g_out (w - V_pump) - G_leak (w - V_rest) - I_leak0) / C``,
    ``vt = V_teach / V_teach_ref`` (the pump's bias, and with it its imbalance and output conductance, follows
    ``V_teach`` as ``K_g`` does).

    Written as ``-ampc tanh((pg vt) M_upd) + rest - slope w``, the terms without ``w`` or ``M_upd`` gathered in
    ``rest`` [V/s] and ``slope`` [1/s]: expressions of the block's parameters alone, which the kernels compute
    once per block of instances rather than at every step."""
    drive = (q("pg") * vt_rel) * m_upd
    rate = -q("ampc") * (tanh(drive) if v.sat_pump else drive)
    rest, slope = 0.0, 0.0
    ipc = q("ipc")
    if not (isinstance(ipc, float) and ipc == 0.0):  # an ideal pump's term is left out of the generated code
        rest = vt_rel * ipc
    if v.pump_g:  # the output conductance pulls the weight towards V_pump; its bias follows V_teach as K_g does
        rest = rest + vt_rel * q("gpv")
        slope = vt_rel * q("gpc")
    if v.leak:
        rest = rest + (q("glc") * v_rest - q("il0c"))
        slope = slope + q("glc")
    rate = rate + rest
    return rate if isinstance(slope, float) and slope == 0.0 else rate - slope * w


def leak_rate(v: Variant, w, v_rest, q: Callable):
    """Leakage over the capacitor [V/s]: ``(G_leak (w - V_rest) + I_leak0) / C``."""
    return q("glc") * (w - v_rest) + q("il0c")


def node_mean(static, v, kind: str, q: Callable):
    """What a lagged node of ``kind`` shows over a step [its units]: its mean under a held static value ``static``,
    ``static + abar (v - static)`` from its voltage ``v`` at the step's start (``circuit.settling``)."""
    return static + q(f"avg_{kind}") * (v - static)


def node_next(static_mean, v, kind: str, q: Callable):
    """A lagged node's value after a step from ``v`` under the held static value ``static_mean`` (the stages'
    ``b``-weighted mean): ``static_mean + a (v - static_mean)``, exact for a first-order lag."""
    return static_mean + q(f"lag_{kind}") * (v - static_mean)


def noise_sigma(kT: float, g_leak, kg, gamma: float, vt_rel: float, dt: float, c, i_leak0: float = 0.0,
                density_scale: float = 1.0):
    """Standard deviation [V] of a weight's noise increment over ``dt`` [s]: ``sqrt(S dt) / C`` for a white
    current of two-sided density ``S = 2 k T G_n + q |I_leak0|`` [A^2/Hz], ``G_n = G_leak + gamma K_g V_teach /
    V_teach_ref`` (MODEL.md section 4). The leakage is a subthreshold or junction current: its shot noise
    ``q (I_f + I_r)``, with ``I_f + I_r = 2 U_T G_leak + |I_leak0|``, holds the resistor's ``2 k T G_leak`` and
    adds ``q |I_leak0|`` for its constant part. ``density_scale`` (``noise.density_scale``) multiplies ``S``."""
    return np.sqrt(density_scale * (2.0 * kT * (g_leak + gamma * kg * vt_rel) + Q_ELECTRON * abs(i_leak0)) * dt) / c
