"""Finite settling: first-order lags of the neuron output, error, delta and gradient nodes (MODEL.md 2a).

The circuit is clockless: a node driven by a block of output resistance ``R_node`` and loaded by the gates of
the blocks it drives (``C_node``) follows its block's static output ``v_static`` as ``tau dv/dt = v_static - v``,
``tau = R_node C_node``. Four kinds of node lag:

- ``y``: a neuron's output, loading the forward multipliers and the update multipliers it feeds (hidden
  neuron: two inputs per neuron of the next layer), or the output error circuit (output neuron);
- ``e``: a neuron's error, loading its delta circuit's ``e`` input;
- ``delta``: a neuron's local gradient, loading the backward multipliers to the previous layer (not the bias)
  and the update multipliers of its own synapses;
- ``g``: a synapse's gradient voltage ``g = R_e M_upd``, loading its charge pump's input.

Every node is driven through the block's output resistance ``R_node = R_e`` (``V_amp / I_ref`` unless the study
sets ``circuit.R_e``: the transresistance that turns the blocks' currents into voltages of the ``V_amp`` scale),
and a driven input loads it with ``GATES_PER_INPUT`` gates of its block's device area (``mismatch.area_*``) at the
process's gate capacitance per area (``process.C_gate``, else the preset's). The time constants are nominal (the
few-percent mismatch of ``R`` and ``C`` is left out) and the same on every chip.

Integration (exponential Euler, exact for a first-order lag with a held input; CLARIFICATIONS "Physical chip"):
at each stage ``s`` of the step the node shows the downstream blocks its mean over the step under the stage's
static value ``T_s``, ``T_s + abar (v_n - T_s)`` with ``abar = (tau / dt) (1 - a)``, ``a = exp(-dt / tau)``, and
the step ends at ``v_{n+1} = Tbar + a (v_n - Tbar)`` with ``Tbar = sum_s b_s T_s`` (the tableau's weights).
``tau = 0`` gives ``a = abar = 0``: every node equals its static value and the step is the algebraic model's,
bit for bit. Node voltages start at 0 V when training starts.
"""

from __future__ import annotations

import math

import numpy as np

from mcaann.circuit.network import Topology

#: the node kinds: per neuron (``y``, ``e``, ``delta``) or per synapse (``g``)
NEURON_NODES = ("y", "e", "delta")
SYNAPSE_NODES = ("g",)
NODES = NEURON_NODES + SYNAPSE_NODES

#: gates a driven block input puts on a node: a differential pair's two (a Gilbert cell's upper input drives two
#: pairs, one gate each; a single-ended pair input one gate with its reference on the other)
GATES_PER_INPUT = 2


def node_loads(study, topo: Topology) -> dict[str, np.ndarray]:
    """Gate capacitance [F] on every node: ``y``, ``e``, ``delta`` per neuron, ``g`` per synapse."""
    from mcaann.variability.process import gate_capacitance

    mm = study.mismatch
    c_in = {blk: GATES_PER_INPUT * getattr(mm, f"area_{blk}") * gate_capacitance(study)
            for blk in ("multiplier", "error", "delta", "pump")}
    L = topo.n_layers
    y, e, delta = (np.empty(topo.n_neurons) for _ in range(3))
    for l in range(1, L + 1):
        for j in range(topo.layers[l]):
            n = topo.neuron_index(l, j)
            # forward and update multipliers of the next layer, or the output error circuit
            y[n] = 2 * topo.layers[l + 1] * c_in["multiplier"] if l < L else c_in["error"]
            e[n] = c_in["delta"]
            # backward multipliers to the previous layer's neurons (none to the inputs) and own update multipliers
            n_bwd = topo.layers[l - 1] if l > 1 else 0
            delta[n] = (n_bwd + topo.layers[l - 1] + 1) * c_in["multiplier"]
    return {"y": y, "e": e, "delta": delta, "g": np.full(topo.n_weights, c_in["pump"])}


def node_resistance(study) -> float:
    """Output resistance [Ohm] of the blocks that drive the lagged nodes: ``R_e`` (``V_amp / I_ref``)."""
    return study.circuit.R_e_eff


def node_taus(study, topo: Topology) -> dict[str, np.ndarray]:
    """Time constant [s] of every node by kind (``y``, ``e``, ``delta`` per neuron, ``g`` per synapse): the study's
    ``settling.tau_<kind>`` where given, else ``R_node C_node``, times ``settling.tau_scale``."""
    st = study.settling
    loads = node_loads(study, topo)
    out = {}
    for kind, c in loads.items():
        given = getattr(st, f"tau_{kind}")
        tau = np.full(c.shape, given) if given is not None else node_resistance(study) * c
        out[kind] = st.tau_scale * tau
    return out


def lag_factors(tau, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``a = exp(-dt / tau)`` (decay over a step) and ``abar = (tau / dt) (1 - a)`` (a held input's weight in the
    step's mean), both exactly 0 at ``tau = 0``."""
    tau = np.asarray(tau, dtype=np.float64)
    with np.errstate(divide="ignore"):
        r = np.where(tau > 0.0, dt / np.where(tau > 0.0, tau, 1.0), math.inf)
    a = np.where(tau > 0.0, np.exp(-r), 0.0)
    abar = np.where(tau > 0.0, -np.expm1(-r) / r, 0.0)
    return a, abar


def lag_parameters(study, topo: Topology) -> dict[str, np.ndarray]:
    """The derived lag parameters ``lag_<kind>`` (``a``) and ``avg_<kind>`` (``abar``), 1-D per neuron or synapse."""
    out = {}
    for kind, tau in node_taus(study, topo).items():
        out[f"lag_{kind}"], out[f"avg_{kind}"] = lag_factors(tau, study.integrator.dt)
    return out


def step_response(v0: float, v_target: float, tau: float, t) -> np.ndarray:
    """Closed form of a first-order lag after a step of its static value: ``T + (v0 - T) exp(-t / tau)`` [V]."""
    t = np.asarray(t, dtype=np.float64)
    return v_target + (v0 - v_target) * np.exp(-t / tau)
