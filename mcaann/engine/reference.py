"""A float64 NumPy reference of MODEL.md sections 1-3 and 6, for one instance.

Written for clarity, not speed: plain loops, one instance, every block a named function.
The fast kernels are tested against it. Parameters are a dict of 1-D arrays (one value per
weight or per neuron) as ``sample_instances`` returns them for one instance.
"""

from __future__ import annotations

import math

import numpy as np

from mcaann.circuit.network import Topology
from mcaann.solvers import SOLVERS
from mcaann.variability.rng import STREAM_NOISE, STREAM_SHUFFLE, normal_quad, uniform

K_BOLTZMANN = 1.380649e-23  # J/K


def multiplier(a, b, km, voff_a, voff_b, ki):
    """Four-quadrant multiplier [A]: ``K_I tanh(K_m (a + Voff_a)(b + Voff_b) / K_I)``."""
    p = km * (a + voff_a) * (b + voff_b)
    return p if math.isinf(ki) else ki * math.tanh(p / ki)


def activation(i_in, v_amp, iref, ioff):
    """Sigmoid activation [V] of the summed current ``i_in`` [A] (seed 004 eq. 6)."""
    return v_amp / (1.0 + math.exp(-(i_in - ioff) / iref))


def derivative(i_in, a_d, iref_d, ioff_d):
    """Derivative block (dimensionless): ``A_d s (1 - s)`` (seed 004 eq. 7)."""
    s = 1.0 / (1.0 + math.exp(-(i_in - ioff_d) / iref_d))
    return a_d * s * (1.0 - s)


def charge_pump(g, kg, imax, vt_rel):
    """Charging current [A] for gradient voltage ``g`` [V]: ``-I_max tanh(K_g vt g / I_max)``."""
    x = kg * vt_rel * g
    return -x if math.isinf(imax) else -imax * math.tanh(x / imax)


def leak_current(w, g_leak, v_rest, i_leak0):
    """Capacitor leakage [A]: ``G_leak (w - V_rest) + I_leak0``."""
    return g_leak * (w - v_rest) + i_leak0


class Reference:
    """One instance of the circuit: its parameters, topology and study constants."""

    def __init__(self, study, topo: Topology, params: dict[str, np.ndarray], instance: int = 0):
        self.topo = topo
        self.p = params
        self.instance = instance
        c = study.circuit
        self.v_bias = c.V_bias
        self.vt_rel = c.V_teach / c.V_teach_ref
        self.v_lo, self.v_hi = c.V_lo, c.V_hi
        self.v_rest = study.leakage.V_rest
        self.i_leak0 = study.leakage.I_leak0 if study.leakage.enabled else 0.0
        self.noise = study.noise.enabled
        self.kT = K_BOLTZMANN * study.process.temperature
        self.gamma = study.noise.gamma
        self.seed = study.monte_carlo.seed
        self.method = study.integrator.method
        self.dt = study.integrator.dt
        self.spr = study.steps_per_row
        self.settle = study.settle_steps
        self.shuffled = study.task.order == "shuffled"

    # -- algebraic part: forward, backward, gradient ---------------------------------
    def forward(self, w: np.ndarray, x: np.ndarray):
        """Activations per layer (bias first), summed currents and derivatives per neuron."""
        topo, p = self.topo, self.p
        acts = [np.concatenate([[self.v_bias], x])]
        i_sum = np.zeros(topo.n_neurons)
        d = np.zeros(topo.n_neurons)
        for l in range(1, len(topo.layers)):
            y = [self.v_bias]
            for j in range(topo.layers[l]):
                n = topo.neuron_index(l, j)
                total = 0.0
                for i in range(topo.layers[l - 1] + 1):
                    k = topo.weight_index(l, j, i)
                    total += multiplier(acts[l - 1][i], w[k], p["km_fwd"][k], p["voffa_fwd"][k],
                                        p["voffb_fwd"][k], p["ki_fwd"][k])
                i_sum[n] = total
                y.append(activation(total, p["v_amp"][n], p["iref"][n], p["ioff"][n]))
                d[n] = derivative(total, p["a_d"][n], p["iref_d"][n], p["ioff_d"][n])
            acts.append(np.array(y))
        return acts, i_sum, d

    def deltas(self, w, acts, d, t):
        """Local gradients ``delta`` [V] of every neuron (output error, then hidden errors)."""
        topo, p = self.topo, self.p
        L = topo.n_layers
        delta = np.zeros(topo.n_neurons)
        for j in range(topo.layers[L]):
            n = topo.neuron_index(L, j)
            e = acts[L][j + 1] - t[j] + p["voff_e"][n]
            delta[n] = p["a_delta"][n] * e * d[n] + p["voff_delta"][n]
        for l in range(L - 1, 0, -1):
            for h in range(topo.layers[l]):
                total = 0.0
                for m in range(topo.layers[l + 1]):
                    k = topo.weight_index(l + 1, m, h + 1)
                    nm = topo.neuron_index(l + 1, m)
                    total += multiplier(delta[nm], w[k], p["km_bwd"][k], p["voffa_bwd"][k],
                                        p["voffb_bwd"][k], p["ki_bwd"][k])
                n = topo.neuron_index(l, h)
                e = p["re_err"][n] * total + p["voff_e"][n]
                delta[n] = p["a_delta"][n] * e * d[n] + p["voff_delta"][n]
        return delta

    def gradient_voltages(self, w, x, t):
        """``g_ji = R_e M_upd(delta_j, x_i)`` [V] for every weight."""
        topo, p = self.topo, self.p
        acts, _, d = self.forward(w, x)
        delta = self.deltas(w, acts, d, t)
        g = np.zeros(topo.n_weights)
        for l in range(1, len(topo.layers)):
            for j in range(topo.layers[l]):
                n = topo.neuron_index(l, j)
                for i in range(topo.layers[l - 1] + 1):
                    k = topo.weight_index(l, j, i)
                    g[k] = p["re_upd"][k] * multiplier(delta[n], acts[l - 1][i], p["km_upd"][k],
                                                       p["voffa_upd"][k], p["voffb_upd"][k],
                                                       p["ki_upd"][k])
        return g

    def drift(self, w, x, t, vt_rel):
        """``dw/dt`` [V/s] without noise: (pump current - leakage) / C."""
        p = self.p
        if vt_rel != 0.0:
            g = self.gradient_voltages(w, x, t)
        else:
            g = np.zeros_like(w)
        out = np.empty_like(w)
        for k in range(len(w)):
            i_chg = charge_pump(g[k], p["kg"][k], p["imax"][k], vt_rel)
            out[k] = (i_chg - leak_current(w[k], p["g_leak"][k], self.v_rest, self.i_leak0)) / p["c"][k]
        return out

    def noise_step(self, step: int, vt_rel: float):
        """The noise increment of every weight over one step [V] (MODEL.md section 4)."""
        p, n_w = self.p, self.topo.n_weights
        out = np.zeros(n_w)
        if not self.noise:
            return out
        lo, hi = step & 0xFFFFFFFF, step >> 32
        for k in range(n_w):
            z = normal_quad(self.instance, k >> 2, lo, hi, self.seed, STREAM_NOISE)[k & 3]
            g_n = p["g_leak"][k] + self.gamma * p["kg"][k] * vt_rel
            out[k] = math.sqrt(2.0 * self.kT * g_n * self.dt) / p["c"][k] * z
        return out

    def step(self, w, x, t, vt_rel, step: int):
        """One integrator step; returns the new weights before rail clipping."""
        dW = self.noise_step(step, vt_rel) if self.noise else None
        return SOLVERS[self.method].step(lambda v: self.drift(v, x, t, vt_rel), w, self.dt, dW)

    # -- protocol ------------------------------------------------------------------
    def evaluate(self, w, X, T, thresholds):
        """Static forward pass over all rows: (mse [V^2], accuracy or NaN)."""
        se, correct = 0.0, 0
        for r in range(X.shape[0]):
            acts, _, _ = self.forward(w, X[r])
            y = acts[-1][1:]
            se += float(np.sum((y - T[r]) ** 2))
            if thresholds is not None:
                correct += int(np.all((y > thresholds) == (T[r] > thresholds)))
        mse = se / (X.shape[0] * T.shape[1])
        acc = correct / X.shape[0] if thresholds is not None else math.nan
        return mse, acc

    def order(self, epoch: int, n_rows: int) -> list[int]:
        """Row order of a training epoch (0-based): fixed, or Fisher-Yates per instance."""
        perm = list(range(n_rows))
        if self.shuffled:
            for i in range(n_rows - 1, 0, -1):
                u = uniform(self.instance, epoch, i, 0, self.seed, STREAM_SHUFFLE)
                j = int(u * (i + 1))
                perm[i], perm[j] = perm[j], perm[i]
        return perm

    def train(self, w0, X, T, thresholds, epochs: int):
        """Train for ``epochs``; returns (final w, mse per epoch, accuracy per epoch, diverged)."""
        w = np.array(w0, dtype=float)
        mse = np.empty(epochs + 1)
        acc = np.empty(epochs + 1)
        mse[0], acc[0] = self.evaluate(w, X, T, thresholds)
        diverged = False
        step = 0
        for ep in range(epochs):
            for r in self.order(ep, X.shape[0]):
                for s in range(self.spr):
                    vt = self.vt_rel if s >= self.settle else 0.0
                    if not diverged:
                        wn = self.step(w, X[r], T[r], vt, step)
                        if np.all(np.isfinite(wn)):
                            w = np.clip(wn, self.v_lo, self.v_hi)
                        else:
                            diverged = True
                    step += 1
            mse[ep + 1], acc[ep + 1] = self.evaluate(w, X, T, thresholds)
        return w, mse, acc, diverged
