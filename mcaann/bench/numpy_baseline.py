"""A float64 NumPy implementation vectorised over instances: what a user would write first.

Forward Euler over the same equations as the kernels (MODEL.md section 2), arrays of shape
``(instances, ...)``, one NumPy call per block per step. Used as the benchmark's baseline and
checked against the engine in ``tests/test_bench.py``.
"""

from __future__ import annotations

import numpy as np

from mcaann.circuit.network import Topology


def _mult(a, b, km, va, vb, ki):
    p = km * (a + va) * (b + vb)
    with np.errstate(invalid="ignore"):  # inf * tanh(0) in the branch np.where discards
        return np.where(np.isinf(ki), p, ki * np.tanh(p / np.where(np.isinf(ki), 1.0, ki)))


def train_euler(study, topo: Topology, params: dict[str, np.ndarray], w0: np.ndarray, X, T, epochs: int):
    """Fixed-order training with forward Euler and no noise; returns the final weights (n, nw)."""
    c = study.circuit
    vt_rel = c.V_teach / c.V_teach_ref
    dt, spr, settle = study.integrator.dt, study.steps_per_row, study.settle_steps
    leak_on = study.leakage.enabled
    v_rest, i0 = study.leakage.V_rest, (study.leakage.I_leak0 if leak_on else 0.0)
    w = w0.copy()
    n = w.shape[0]
    L = topo.n_layers
    sl = [slice(topo.w_offset[l], topo.w_offset[l + 1]) for l in range(L)]
    nl = [slice(topo.n_offset[l], topo.n_offset[l + 1]) for l in range(L)]
    P = {k: v for k, v in params.items()}

    def shaped(name, l):
        return P[name][:, sl[l]].reshape(n, topo.layers[l + 1], topo.layers[l] + 1)

    S = {name: [shaped(name, l) for l in range(L)] for name in
         ("km_fwd", "voffa_fwd", "voffb_fwd", "ki_fwd", "km_bwd", "voffa_bwd", "voffb_bwd", "ki_bwd",
          "km_upd", "voffa_upd", "voffb_upd", "ki_upd", "re_upd", "kg", "imax", "c", "g_leak")}
    N = {name: [P[name][:, nl[l]] for l in range(L)] for name in
         ("v_amp", "iref", "ioff", "a_d", "iref_d", "ioff_d", "voff_e", "re_err", "a_delta", "voff_delta")}
    for _ in range(epochs):
        for r in range(X.shape[0]):
            for s in range(spr):
                vt = vt_rel if s >= settle else 0.0
                W = [w[:, sl[l]].reshape(n, topo.layers[l + 1], topo.layers[l] + 1) for l in range(L)]
                acts = [np.concatenate([np.full((n, 1), c.V_bias), np.broadcast_to(X[r], (n, X.shape[1]))], 1)]
                ds = []
                for l in range(L):
                    cur = _mult(acts[l][:, None, :], W[l], S["km_fwd"][l], S["voffa_fwd"][l], S["voffb_fwd"][l],
                                S["ki_fwd"][l]).sum(-1)
                    y = N["v_amp"][l] / (1 + np.exp(-(cur - N["ioff"][l]) / N["iref"][l]))
                    sd = 1 / (1 + np.exp(-(cur - N["ioff_d"][l]) / N["iref_d"][l]))
                    ds.append(N["a_d"][l] * sd * (1 - sd))
                    acts.append(np.concatenate([np.full((n, 1), c.V_bias), y], 1))
                deltas = [None] * L
                e = acts[L][:, 1:] - T[r] + N["voff_e"][L - 1]
                deltas[L - 1] = N["a_delta"][L - 1] * e * ds[L - 1] + N["voff_delta"][L - 1]
                for l in range(L - 2, -1, -1):
                    back = _mult(deltas[l + 1][:, :, None], W[l + 1], S["km_bwd"][l + 1], S["voffa_bwd"][l + 1],
                                 S["voffb_bwd"][l + 1], S["ki_bwd"][l + 1])[:, :, 1:].sum(1)
                    e = N["re_err"][l] * back + N["voff_e"][l]
                    deltas[l] = N["a_delta"][l] * e * ds[l] + N["voff_delta"][l]
                new = []
                for l in range(L):
                    g = S["re_upd"][l] * _mult(deltas[l][:, :, None], acts[l][:, None, :], S["km_upd"][l],
                                               S["voffa_upd"][l], S["voffb_upd"][l], S["ki_upd"][l])
                    x = S["kg"][l] * vt * g
                    imax = S["imax"][l]
                    with np.errstate(invalid="ignore"):
                        ichg = np.where(np.isinf(imax), -x, -imax * np.tanh(x / np.where(np.isinf(imax), 1.0, imax)))
                    if leak_on:
                        ichg = ichg - (S["g_leak"][l] * (W[l] - v_rest) + i0)
                    new.append((W[l] + dt * ichg / S["c"][l]).reshape(n, -1))
                w = np.clip(np.concatenate(new, 1), c.V_lo, c.V_hi)
    return w
