"""Equilibrium propagation with capacitor-stored transistor weights (seed 002; Scellier and Bengio 2017;
Kendall et al. 2020): the devices' equations and the network's Kirchhoff currents, each written once.

The network is the layered one of ``Topology``. Every neuron is a node with a capacitance ``C_node`` to
ground (its own, mismatched as every capacitor), a load conductance ``G_load`` to the mid-rail ``V_mid`` and
two clamp diodes (its nonlinearity), and drives the next layer through a bidirectional amplifier of voltage
gain ``A_n`` (forward ``V_mid + A_n (v - V_mid)``, saturating smoothly at its output limits, ``amplifier``;
backward it draws ``A_n`` (``amplifier = "transformer"``) or ``1 / A_n`` (``"kendall"``, Kendall et al. 2020) times
the current it supplies, ``backward_gain``, whether or not its output saturates); inputs and the bias are
voltage sources. Synapse ``k`` joins its
presynaptic node ``a`` (an input, the bias or a neuron of the layer before) to its postsynaptic neuron ``b``.
Output neurons are pulled towards their targets by a nudging conductance ``beta`` (0 in the free phase).

Synapse devices (``device``), current into ``b`` [A]:

- ``conductance`` (the reciprocal variant): a behavioural conductance ``G = K_s max(V_G0 - V_T + w, 0)``
  between ``a`` and ``b`` (a transistor deep in triode, linearised), ``I = G (v_a - v_b)``; its co-content
  ``G (v_a - v_b)^2 / 2`` makes the network an energy-based
  model whose equilibrium minimises the total co-content, so that equilibrium propagation gives the exact
  gradient as ``beta -> 0``.
- ``conductance_pair`` (signed and reciprocal): ``G+ = K_s max(V_G0 - V_T + w, 0)`` between ``a`` and ``b``, and
  ``G- = K_s max(V_G0 - V_T - w, 0)`` between the inverted copy ``2 V_mid - v_a`` and ``b``, the copy made by a
  bidirectional inverter (an ideal transformer of ratio -1: it draws from ``a`` minus the current it supplies),
  so that the network keeps its co-content ``G+ (v_a - v_b)^2 / 2 + G- (2 V_mid - v_a - v_b)^2 / 2`` and the
  update tends to the exact gradient as ``beta -> 0``, with weights of either sign.
- ``square_law``: the seed's transistor pair. The weight capacitor's voltage ``w`` sets the gate of ``M+``
  (``V_G0 + w``) and, through a common-source amplifier of gain -1, the gate of ``M-`` (``V_G0 - w``).
  ``M+`` joins ``a`` to ``b``, ``M-`` joins the inverted copy ``2 V_mid - v_a`` (an inverting buffer, a
  voltage source) to ``b``: the weight is signed (``M+`` minus ``M-``). Each transistor is square-law in
  triode and saturation, source and drain symmetric: ``I_ds = beta_T / 2 (F(V_g - V_T - v_s) - F(V_g - V_T -
  v_d))``, ``F(u) = max(u, 0)^2``. The pair is not reciprocal (the inverting buffer draws no current from
  ``a``): the update is then a biased estimate of the gradient.

Local quantity of a synapse, the gate-derivative of its co-content [A]: ``K_s (v_a - v_b)^2 / 2`` for the
conductance (0 where it is off), ``G+``'s less ``G-``'s for the conductance pair; for a transistor
``beta_T / 2 (v_1 - v_2) (max(u - v_2, 0) - max(u - v_1, 0))`` (``u = V_g - V_T``; in triode
``beta_T (v_1 - v_2)^2 / 2``), ``M+`` less ``M-`` for the pair.

Update circuit, per synapse: it holds the local quantity of the free phase ``Q_f`` and of the nudged phase
``Q_n`` and drives the weight capacitor for ``T_update`` with ``I_u = -I_u_max tanh((A_u (Q_n - Q_f) +
I_u_off) / I_u_max)`` (linear, ``-(A_u (Q_n - Q_f) + I_u_off)``, with ``I_u_max = inf``). With an ideal
update circuit ``dw = -(A_u T_update beta / C) (Q_n - Q_f) / beta``, and ``(Q_n - Q_f) / beta`` tends to
``dL/dw`` with ``L = (y - t)^2 / 2`` [V^2] as ``beta -> 0``.

The functions below take floats, NumPy arrays (over instances) or ``algebra.Expr`` values; ``q(name)``
reads one block's parameter, as in ``blocks``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mcaann.circuit.algebra import Expr, call, tanh
from mcaann.circuit.blocks import CAP, FIXED, GAIN, LEAK, ParamSpec, _g_leak
from mcaann.units import Q_ELECTRON

DEVICES = ("conductance", "conductance_pair", "square_law")
#: the neuron's bidirectional amplifier: backward current gain ``A_n`` (an ideal transformer) or ``1 / A_n``
AMPLIFIERS = ("transformer", "kendall")

# mismatch kinds of single transistors (variability.mismatch): threshold voltage and current factor
VT = "vt"  # single device threshold [V]: sigma A_VT / sqrt(W L)
BETA = "beta"  # relative current factor: sigma A_beta / sqrt(W L)
OFFSET_IU = "offset_iu"  # update-circuit offset current: sqrt(2) A_VT / sqrt(W L) * g_m/I * I_u_bias


def relu(x):
    """``max(x, 0)`` of a float, an array or an expression."""
    if isinstance(x, Expr):
        return call("relu", x)
    return np.maximum(x, 0.0) if isinstance(x, np.ndarray) else max(x, 0.0)


def exp(x):
    """``e**x`` of a float, an array or an expression."""
    if isinstance(x, Expr):
        return call("exp", x)
    return np.exp(x)


def softplus(x):
    """``ln(1 + e**x)`` of a float, an array or an expression (without overflow)."""
    if isinstance(x, Expr):
        return call("softplus", x)
    return np.logaddexp(0.0, x)


def sigmoid(x):
    """``1 / (1 + e**-x)`` of a float, an array or an expression (the derivative of ``softplus``)."""
    if isinstance(x, Expr):
        return 1.0 / (1.0 + exp(-x))
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def step(x):
    """``1`` where ``x > 0``, else ``0`` (the derivative of ``relu``)."""
    if isinstance(x, Expr):
        return call("step", x)
    return np.where(x > 0.0, 1.0, 0.0) if isinstance(x, np.ndarray) else float(x > 0.0)


def _e(attr: str) -> Callable:
    return lambda s: getattr(s.eqprop, attr)


def _pair(tag: str, sign: str) -> list[ParamSpec]:
    return [
        ParamSpec(f"beta_{tag}", "synapse", BETA, "A V-2", f"synapse transistor M{sign} current factor",
                  _e("K_s")),
        ParamSpec(f"vt_{tag}", "synapse", VT, "V", f"synapse transistor M{sign} threshold voltage", _e("V_T")),
    ]


#: Per-synapse parameters of the eqprop circuit over ``(instance, weight)``.
SYNAPSE_PARAMS: tuple[ParamSpec, ...] = tuple(
    _pair("p", "+") + _pair("m", "-") + [
        ParamSpec("a_u", "update", GAIN, "1", "update circuit current gain A_u", _e("A_u")),
        ParamSpec("i_uoff", "update", OFFSET_IU, "A", "update circuit offset current I_u_off", lambda s: 0.0),
        ParamSpec("i_umax", "update", FIXED, "A", "update circuit saturation current I_u_max", _e("I_u_max")),
        ParamSpec("c", "capacitor", CAP, "F", "weight capacitance C", lambda s: s.circuit.C),
        ParamSpec("g_leak", "capacitor", LEAK, "S", "leak conductance at chip temperature", _g_leak),
    ]
)

#: Per-neuron parameters over ``(instance, neuron)``.
NEURON_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("g_load", "neuron", GAIN, "S", "neuron load conductance to V_mid", _e("G_load")),
    ParamSpec("a_n", "neuron", GAIN, "1", "neuron amplifier voltage gain A_n", _e("A_n")),
    ParamSpec("v_ch", "diode", VT, "V", "upper clamp diode knee", lambda s: s.eqprop.V_mid + s.eqprop.V_clamp),
    ParamSpec("v_cl", "diode", VT, "V", "lower clamp diode knee", lambda s: s.eqprop.V_mid - s.eqprop.V_clamp),
    ParamSpec("c_node", "capacitor", CAP, "F", "node capacitance C_node to ground", _e("C_node")),
)


@dataclass(frozen=True)
class Variant:
    """The structural choices of the eqprop circuit (not the parameter values)."""

    device: str  # conductance | conductance_pair | square_law
    sat_update: bool  # the update circuit saturates (finite I_u_max)
    leak: bool
    amplifier: str = "transformer"  # transformer | kendall (``AMPLIFIERS``)
    noise: bool = False  # thermal noise on the weight capacitors and the sampled node voltages
    clip: bool = False  # the neuron amplifier's output saturates at finite limits


@dataclass(frozen=True)
class Constants:
    """Study-wide values of the eqprop circuit (SI)."""

    v_bias: float  # bias input [V]
    v_mid: float  # mid-rail [V]
    v_g0: float  # gate bias of the transistor pair [V]
    i_s: float  # clamp diode saturation current [A]
    v_d: float  # diode n U_T [V]
    out_lo: float  # the neuron amplifier's output limits [V] (used where ``Variant.clip``)
    out_hi: float
    knee: float  # width of its soft saturation [V]


@dataclass(frozen=True)
class RowNoise:
    """The noise sources of the eqprop circuit: ``kT`` [J], ``density_scale`` (``noise.density_scale``) and
    ``s_update`` [A^2/Hz], the two-sided density of the update circuit's output current noise while it drives
    (``4 k T gamma g_m``: the channel noise of its input pair's two devices at ``g_m = (g_m/I) I_u_bias``, the
    pair whose mismatch is ``I_u_off``, output-referred as the offset is)."""

    kT: float
    density_scale: float
    s_update: float


def amplifier_limits(ep, v_dsat_out: float) -> tuple[float, float]:
    """The neuron amplifier's output limits ``(lo, hi)`` [V] of the study section ``ep`` (``[eqprop]``): as given,
    else ``v_dsat_out`` from each rail of the supply ``2 V_mid`` (its output device leaving saturation)."""
    lo = v_dsat_out if ep.V_out_min is None else ep.V_out_min
    hi = 2.0 * ep.V_mid - v_dsat_out if ep.V_out_max is None else ep.V_out_max
    return float(lo), float(hi)


def decay_time(rate, t: float):
    """``(1 - exp(-rate t)) / rate`` [s], elementwise, ``t`` where ``rate`` is 0: the integral over ``t`` of a
    relaxation of ``rate`` [1/s]."""
    safe = np.where(rate > 0, rate, 1.0)
    return np.where(rate > 0, -np.expm1(-rate * t) / safe, t)


def noise_sigmas(p: dict, glc, leak: bool, i_leak0: float, t_hold: float, t_update: float,
                 noise: RowNoise) -> tuple:
    """``(sn_w, sn_v)`` [V]: the standard deviation of a weight's noise over one row, and of a node voltage
    sampled at the end of a phase.

    A weight capacitor takes a white current of two-sided density ``S_h = 2 k T G_leak + q |I_leak0|`` through the
    row (the leakage's, as in MODEL.md section 4) and ``S_h + s_update`` while the update circuit drives it; with
    the leak's relaxation ``glc = G_leak / C`` the row adds (Ornstein-Uhlenbeck, exact)
    ``[S_h psi(t_hold) exp(-2 glc t_update) + (S_h + s_update) psi(t_update)] / C^2``,
    ``psi(t) = (1 - exp(-2 glc t)) / (2 glc)`` (``t`` without leakage). A node voltage (its capacitance ``C_node``
    to ground at thermal equilibrium with the conductances around it) has the variance ``k T / C_node`` when the
    update circuit samples it, independently in the two phases (each far longer than the nodes' time constants)."""
    ds = noise.density_scale
    s_h = ds * (2.0 * noise.kT * p["g_leak"] + Q_ELECTRON * abs(i_leak0)) if leak else 0.0 * glc
    s_u = s_h + ds * noise.s_update
    var = (s_h * decay_time(2.0 * glc, t_hold) * np.exp(-2.0 * glc * t_update)
           + s_u * decay_time(2.0 * glc, t_update)) / p["c"] ** 2
    return np.sqrt(var), np.sqrt(ds * noise.kT / p["c_node"])


def derive(v: Variant, p: dict, c: Constants, i_leak0: float, t_hold: float, t_update: float,
           noise: RowNoise | None = None) -> dict:
    """Derived parameters the equations read, from the sampled ones ``p`` (SI): ``ks`` (``km``) = K_s of the
    conductance (of the pair's ``G-``) [A/V^2]; the pair's ``bp``/``bm`` = beta_T / 2 [A/V^2] and gate drives
    without the weight ``up``/``um`` = V_G0 - V_T [V]; ``glc`` = G_leak / C [1/s], ``il0c`` = I_leak0 / C
    [V/s]; ``phi_h`` and ``phi_u`` [s], the leaky capacitor's effective times ``(1 - exp(-glc t)) / glc`` of the
    holding (free and nudged phases, ``t_hold``) and update (``t_update``) parts of a row; with noise, ``sn_w``
    and ``sn_v`` [V] (``noise_sigmas``); the rest as sampled."""
    d = {"ks": p["beta_p"], "km": p["beta_m"], "bp": 0.5 * p["beta_p"], "bm": 0.5 * p["beta_m"],
         "up": c.v_g0 - p["vt_p"], "um": c.v_g0 - p["vt_m"]}
    for name in ("a_u", "i_uoff", "i_umax", "c", "g_load", "a_n", "v_ch", "v_cl", "c_node"):
        d[name] = p[name]
    glc = p["g_leak"] / p["c"] if v.leak else np.zeros_like(p["c"])
    d["glc"] = glc
    d["il0c"] = i_leak0 / p["c"]
    for name, t in (("phi_h", t_hold), ("phi_u", t_update)):
        d[name] = decay_time(glc, t)
    if v.noise:
        d["sn_w"], d["sn_v"] = noise_sigmas(p, glc, v.leak, i_leak0, t_hold, t_update, noise)
    return d


def derived_names(v: Variant) -> tuple[list[str], list[str]]:
    """The derived parameters the kernels read: (per synapse, per neuron), in the kernels' order."""
    syn = {"conductance": ["ks", "up"], "conductance_pair": ["ks", "km", "up", "um"]}.get(
        v.device, ["bp", "bm", "up", "um"])
    syn += ["a_u", "i_uoff"] + (["i_umax"] if v.sat_update else []) + ["c", "phi_h", "phi_u"]
    syn += ["glc", "il0c"] if v.leak else []
    syn += ["sn_w"] if v.noise else []
    return syn, ["g_load", "a_n", "v_ch", "v_cl", "c_node"] + (["sn_v"] if v.noise else [])


#: study scalars the kernels read (``NOM``), in order
SCALARS = ("v_bias", "v_mid", "v_g0", "i_s", "v_d", "beta", "inv_dt", "tol", "iters", "n_free", "n_nudge",
           "v_out_lo", "v_out_hi", "v_knee")


def synapse(v: Variant, c: Constants, w, va, vb, q: Callable):
    """Currents of synapse ``k`` with weight voltage ``w`` [V] between ``va`` and ``vb`` [V]:
    ``(i_b, i_a, di_b/dva, di_b/dvb, di_a/dva, di_a/dvb)``, ``i_b`` into ``b`` and ``i_a`` out of ``a`` [A, S]."""
    if v.device == "conductance":
        g = q("ks") * relu(q("up") + w)
        return g * (va - vb), g * (va - vb), g, -g, g, -g
    if v.device == "conductance_pair":
        # the inverter supplies G- (v_i - v_b) at v_i = 2 V_mid - v_a and draws minus that from a
        gp = q("ks") * relu(q("up") + w)
        gm = q("km") * relu(q("um") - w)
        ip, im = gp * (va - vb), gm * (2.0 * c.v_mid - va - vb)
        return ip + im, ip - im, gp - gm, -(gp + gm), gp + gm, gm - gp
    # M+ between a and b, gate V_G0 + w; M- between 2 V_mid - va and b, gate V_G0 - w
    up = q("up") + w
    um = q("um") - w
    vi = 2.0 * c.v_mid - va
    rpb, rpa, rmb, rmi = relu(up - vb), relu(up - va), relu(um - vb), relu(um - vi)
    ip = q("bp") * (rpb * rpb - rpa * rpa)
    im = q("bm") * (rmb * rmb - rmi * rmi)
    dpa, dpb = 2.0 * q("bp") * rpa, -2.0 * q("bp") * rpb
    dma, dmb = -2.0 * q("bm") * rmi, -2.0 * q("bm") * rmb
    return ip + im, ip, dpa + dma, dpb + dmb, dpa, dpb


def local_quantity(v: Variant, c: Constants, w, va, vb, q: Callable):
    """The gate-derivative of the synapse's co-content [A] (``d/dw``): ``K_s (va - vb)^2 / 2`` for the
    conductance (where it conducts); ``Q(M+) - Q(M-)`` with ``Q = beta_T / 2 (v1 - v2) (max(u - v2, 0) -
    max(u - v1, 0))`` for the pair."""
    if v.device == "conductance":
        d = va - vb
        return 0.5 * q("ks") * step(q("up") + w) * (d * d)
    if v.device == "conductance_pair":
        dp, dm = va - vb, 2.0 * c.v_mid - va - vb
        return 0.5 * (q("ks") * step(q("up") + w) * (dp * dp) - q("km") * step(q("um") - w) * (dm * dm))
    up = q("up") + w
    um = q("um") - w
    vi = 2.0 * c.v_mid - va
    qp = q("bp") * (va - vb) * (relu(up - vb) - relu(up - va))
    qm = q("bm") * (vi - vb) * (relu(um - vb) - relu(um - vi))
    return qp - qm


def neuron(c: Constants, vn, q: Callable):
    """Current into neuron node ``vn`` [V] from its load and clamp diodes, and its derivative: ``(i, di/dv)``
    [A, S]: ``-G_load (v - V_mid) - I_s (exp((v - V_ch) / V_d) - exp((V_cl - v) / V_d))``."""
    eh = c.i_s * exp((vn - q("v_ch")) / c.v_d)
    el = c.i_s * exp((q("v_cl") - vn) / c.v_d)
    g = q("g_load")
    return -g * (vn - c.v_mid) - (eh - el), -g - (eh + el) / c.v_d


def nudge(beta, y, t):
    """Nudging current into an output node [A]: ``beta (t - y)``, and its derivative ``-beta`` [S]."""
    return beta * (t - y), -beta


def update_rate(v: Variant, dq, q: Callable):
    """``dw/dt`` [V/s] the update circuit drives during ``T_update`` for ``dq = Q_n - Q_f`` [A]:
    ``-I_u_max tanh((A_u dq + I_u_off) / I_u_max) / C`` (linear with ``I_u_max = inf``)."""
    drive = q("a_u") * dq + q("i_uoff")
    return -q("i_umax") * tanh(drive / q("i_umax")) / q("c") if v.sat_update else -drive / q("c")


def hold(v: Variant, w, rate, phi, v_rest, q: Callable):
    """The weight [V] after a part of a row in which its capacitor is driven with ``rate`` [V/s] (constant: the
    update circuit holds both phases' quantities) and leaks: ``w + (rate - glc (w - V_rest) - il0c) phi``,
    exact for ``C dw/dt = C rate - G_leak (w - V_rest) - I_leak0`` with ``phi = (1 - exp(-glc t)) / glc``."""
    drift = rate - (q("glc") * (w - v_rest) + q("il0c")) if v.leak else rate
    return w + drift * phi


# --------------------------------------------------------------------------------------------------------
# The network: Kirchhoff currents of the free nodes, written once against a builder
# --------------------------------------------------------------------------------------------------------


def amplifier(v: Variant, c: Constants, vn, a):
    """The neuron amplifier's forward part, gain ``a``, at node voltage ``vn`` [V]: its output [V] and slope
    ``d out / d vn`` [1]. Linear, ``x = V_mid + a (vn - V_mid)``; with ``v.clip`` limited smoothly to
    ``[out_lo, out_hi]``: ``x - s ln(1 + e**((x - out_hi)/s)) + s ln(1 + e**((out_lo - x)/s))``, ``s = knee``, of
    slope ``a (1 - sigmoid((x - out_hi)/s) - sigmoid((out_lo - x)/s))``."""
    x = c.v_mid + a * (vn - c.v_mid)
    if not v.clip:
        return x, a
    s = c.knee
    zh, zl = (x - c.out_hi) / s, (c.out_lo - x) / s
    return x - s * softplus(zh) + s * softplus(zl), a * (1.0 - sigmoid(zh) - sigmoid(zl))


def presynaptic(b, l: int, i: int):
    """The voltage a synapse of layer ``l`` sees from its input ``i``, the gain ``A`` of the neuron amplifier in
    between and its slope ``d va / d v`` (``amplifier``); the source itself for an input or the bias (``A =
    1.0``). The amplifier is bidirectional (Kendall et al. 2020): its backward part, a current-controlled current
    source, draws ``backward_gain(A)`` times its output current from the neuron node whether or not the forward
    part saturates, so that the network keeps its co-content only while no amplifier works on its limits."""
    va = b.node(l - 1, i)
    if b.free(l - 1, i) is None:
        return va, 1.0, 1.0
    a = b.neuron(b.free(l - 1, i))("a_n")
    out, slope = (b.let("amp", e) for e in amplifier(b.variant, b.const, va, a))
    return out, a, slope


def backward_gain(v: Variant, a):
    """Current the neuron amplifier draws from its node per ampere it supplies to the synapses it drives [1]:
    ``A_n`` for the ``transformer`` (power-conserving: the hidden node sees the driven conductances times
    ``A_n^2``), ``1 / A_n`` for ``kendall`` (Kendall et al. 2020: it sees them unscaled, so that the forward
    voltage gain ``A_n`` is not lost to the load; the network is then reciprocal after rescaling each layer's
    voltages by the gains in front of it: ``(Q_n - Q_f) / beta`` tends to ``dL/dw`` divided by the square of
    the gains between the synapse and the output, a per-layer learning rate)."""
    if isinstance(a, float) and a == 1.0:
        return a
    return a if v.amplifier == "transformer" else 1.0 / a


def kcl(b) -> None:
    """Add every device's current into the free nodes (``b.inject(n, i)``) and its derivatives
    (``b.jac(n, m, g)``, d i_n / d v_m). ``b.node(l, i)`` is the voltage of input ``i`` of layer ``l`` (0: the
    bias), ``b.free(l, i)`` its free-node index or None (a source); ``b.beta`` the nudging conductance."""
    topo, v, c = b.topo, b.variant, b.const
    for l in range(1, topo.n_layers + 1):
        for j in range(topo.layers[l]):
            nb = topo.n_offset[l - 1] + j
            vb = b.node(l, j + 1)
            for i in range(topo.layers[l - 1] + 1):
                k = topo.w_offset[l - 1] + j * (topo.layers[l - 1] + 1) + i
                na = b.free(l - 1, i)
                with b.lanes():
                    va, a, slope = presynaptic(b, l, i)
                    out = synapse(v, c, b.weight(k), va, vb, b.synapse(k))
                    ib, ia, dba, dbb, daa, dab = (b.let("syn", e) for e in out)
                    b.inject(nb, ib)
                    b.jac(nb, nb, dbb)
                    if na is not None:
                        ab = backward_gain(v, a)
                        b.inject(na, -(ab * ia))
                        b.jac(na, na, -(ab * slope * daa))
                        b.jac(na, nb, -(ab * dab))
                        b.jac(nb, na, slope * dba)
            with b.lanes():
                i_n, g_n = neuron(c, vb, b.neuron(nb))
                b.inject(nb, i_n)
                b.jac(nb, nb, g_n)
    L = topo.n_layers
    for j in range(topo.layers[L]):
        nb = topo.n_offset[L - 1] + j
        with b.lanes():
            i_n, g_n = nudge(b.beta, b.node(L, j + 1), b.target(j))
            b.inject(nb, i_n)
            b.jac(nb, nb, g_n)


def locals_(b) -> None:
    """Every synapse's local quantity [A] at the present node voltages: ``b.local(k, value)``."""
    topo, v, c = b.topo, b.variant, b.const
    for l in range(1, topo.n_layers + 1):
        for j in range(topo.layers[l]):
            vb = b.node(l, j + 1)
            for i in range(topo.layers[l - 1] + 1):
                k = topo.w_offset[l - 1] + j * (topo.layers[l - 1] + 1) + i
                with b.lanes():
                    va = presynaptic(b, l, i)[0]
                    b.local(k, local_quantity(v, c, b.weight(k), va, vb, b.synapse(k)))
