"""A float64 NumPy implementation vectorised over instances: what a user would write first.

Forward Euler over the one description of the circuit (``circuit.backprop`` evaluated by the
reference's builder), every value an array over instances, one NumPy call per block per step.
Used as the benchmark's baseline and checked against the engine in ``tests/test_bench.py``.
"""

from __future__ import annotations

import math

import numpy as np

from mcaann.circuit import backprop
from mcaann.circuit.blocks import Variant, derive, pump_conductance
from mcaann.circuit.network import Topology
from mcaann.engine.reference import Evaluation


def train_euler(study, topo: Topology, params: dict[str, np.ndarray], w0: np.ndarray, X, T, epochs: int):
    """Fixed-order training with forward Euler and no noise; returns the final weights (n, nw)."""
    c, lk = study.circuit, study.leakage
    variant = Variant(sat_mult=math.isfinite(c.K_I), sat_pump=math.isfinite(c.I_max), leak=lk.enabled,
                      mismatch=study.mismatch.enabled, pump_g=pump_conductance(study))
    # per-instance parameters as (block, instance) rows: one block's values for every instance
    derived = {k: np.ascontiguousarray(np.asarray(v).T) for k, v in
               derive(variant, params, lk.I_leak0 if lk.enabled else 0.0).items()}
    vt_rel = c.V_teach / c.V_teach_ref
    dt, spr, settle = study.integrator.dt, study.steps_per_row, study.settle_steps
    w = np.ascontiguousarray(w0.T)  # (weight, instance)
    n = w.shape[1]
    for _ in range(epochs):
        for r in range(X.shape[0]):
            x = [np.full(n, v) for v in X[r]]
            t = [np.full(n, v) for v in T[r]]
            for s in range(spr):
                vt = vt_rel if s >= settle else 0.0
                ev = Evaluation(topo, variant, derived, w, x, t, vt, lk.V_rest, np.full(n, c.V_bias))
                backprop.drift(ev, teach=vt != 0.0)
                w = np.clip(w + dt * ev.rates, c.V_lo, c.V_hi)
    return w.T
