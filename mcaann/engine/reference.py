"""A float64 reference of MODEL.md sections 1-3 and 6, for one instance.

Written for clarity, not speed: one instance, plain Python floats. The circuit is the one description
the kernels are generated from (``circuit.blocks`` and ``circuit.backprop``), evaluated here directly;
the integrator is the solver's tableau (``solvers``). Parameters are a dict of 1-D arrays (one value
per weight or per neuron) as ``sample_instances`` returns them for one instance.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import numpy as np

from mcaann.circuit import LEARNING_CIRCUITS, settling
from mcaann.circuit.blocks import Variant, derive, node_mean, node_next, noise_sigma, pump_conductance
from mcaann.circuit.network import Topology
from mcaann.solvers import SOLVERS
from mcaann.tasks.datasets import correct as decide
from mcaann.units import K_BOLTZMANN
from mcaann.variability.rng import STREAM_NOISE, STREAM_SHUFFLE, normal_quad, uniform


class Evaluation:
    """The ``backprop`` builder on values: loops are ranges, sums are sums, tables are dicts. Values are floats
    (one instance), or arrays over instances (``derived`` then holds (block, instance) arrays)."""

    def __init__(self, topo: Topology, variant: Variant, derived: dict, w, x, t, vt_rel: float, v_rest: float,
                 v_bias: float):
        self.topo, self.variant, self.d = topo, variant, derived
        self.w, self.x, self.t = w, x, t
        self.vt, self.v_rest, self.v_bias = vt_rel, v_rest, v_bias
        self.tables: dict = {"deriv": {}, "delta": {}}
        self.acts = [[v_bias] + list(x)] + [[v_bias] + [0.0] * n for n in topo.layers[1:]]
        self.rates = np.zeros((topo.n_weights,) + np.shape(v_bias))
        #: node lags of a training step: node voltages at the step's start (kind -> array), the stage's weight
        #: ``b_s`` and the running ``sum_s b_s T_s`` of the static values (None: the algebraic model)
        self.nodes: dict | None = None
        self.static_mean: dict = {}
        self.b_s = 1.0

    def lag(self, kind: str, i: int, value):
        if self.nodes is None:
            return value
        mean = self.static_mean.setdefault(kind, np.zeros_like(self.nodes[kind]))
        mean[i] = mean[i] + self.b_s * value
        return node_mean(value, self.nodes[kind][i], kind, self.synapse(i))

    def loop(self, n: int):
        return range(n)

    def sum(self, n: int, term):
        total = term(0)
        for i in range(1, n):
            total = total + term(i)
        return total

    def lanes(self):
        return nullcontext()

    def let(self, name: str, value):
        return value

    def synapse(self, k: int):
        return lambda name: self.d[name][k]

    neuron = synapse

    def weight(self, k: int):
        return self.w[k]

    def act(self, l: int, i: int):
        return self.acts[l][i]

    def set_act(self, l: int, j: int, value) -> None:
        self.acts[l][j + 1] = value

    def get(self, table: str, n: int):
        return self.tables[table][n]

    def put(self, table: str, n: int, value) -> None:
        self.tables[table][n] = value

    def target(self, j: int):
        return self.t[j]

    def rate(self, k: int, value) -> None:
        self.rates[k] = value


def row_order(instance: int, epoch: int, n_rows: int, seed: int, shuffled: bool) -> list[int]:
    """Row order of a training epoch (0-based) of one instance: fixed, or Fisher-Yates from its own stream."""
    perm = list(range(n_rows))
    if shuffled:
        for i in range(n_rows - 1, 0, -1):
            u = uniform(instance, epoch, i, 0, seed, STREAM_SHUFFLE)
            j = int(u * (i + 1))
            perm[i], perm[j] = perm[j], perm[i]
    return perm


class Reference:
    """One instance of the circuit: its parameters, topology and study constants."""

    def __init__(self, study, topo: Topology, params: dict[str, np.ndarray], instance: int = 0):
        self.topo = topo
        self.p = params
        self.instance = instance
        c = study.circuit
        self.variant = Variant(sat_mult=math.isfinite(c.K_I), sat_pump=math.isfinite(c.I_max),
                               leak=study.leakage.enabled, mismatch=study.mismatch.enabled,
                               lags=study.settling.enabled, pump_g=pump_conductance(study))
        self.i_leak0 = study.leakage.I_leak0 if study.leakage.enabled else 0.0
        lags = settling.lag_parameters(study, topo) if self.variant.lags else None
        self.derived = derive(self.variant, params, self.i_leak0, lags)
        #: node voltages [V] (``g``: the update multiplier's current [A]) of the lagged nodes, 0 at the start
        self.nodes = {kind: np.zeros(topo.n_weights if kind in settling.SYNAPSE_NODES else topo.n_neurons)
                      for kind in settling.NODES} if self.variant.lags else None
        self.circuit = LEARNING_CIRCUITS[study.network.learning]
        self.v_bias = c.V_bias
        self.vt_rel = c.V_teach / c.V_teach_ref
        self.v_lo, self.v_hi = c.V_lo, c.V_hi
        self.v_rest = study.leakage.V_rest
        self.noise = study.noise.enabled
        self.kT = K_BOLTZMANN * study.process.temperature
        self.gamma = study.noise.gamma
        self.density_scale = study.noise.density_scale
        self.seed = study.monte_carlo.seed
        self.method = study.integrator.method
        self.dt = study.integrator.dt
        self.spr = study.steps_per_row
        self.settle = study.settle_steps
        self.shuffled = study.task.order == "shuffled"

    def _circuit(self, w, x, t, vt_rel: float = 0.0) -> Evaluation:
        return Evaluation(self.topo, self.variant, self.derived, w, x, t, vt_rel, self.v_rest, self.v_bias)

    # -- algebraic part: forward, backward, gradient ---------------------------------
    def outputs(self, w: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Output activations [V] for input row ``x``."""
        ev = self._circuit(w, x, None)
        self.circuit.forward(ev, with_derivative=False)
        return np.array(ev.acts[-1][1:])

    def deltas(self, w: np.ndarray, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Local gradients ``delta`` [V] of every neuron."""
        ev = self._circuit(w, x, t)
        self.circuit.forward(ev, with_derivative=True)
        self.circuit.backward(ev)
        return np.array([ev.tables["delta"][n] for n in range(self.topo.n_neurons)])

    def drift(self, w, x, t, vt_rel):
        """``dw/dt`` [V/s] without noise: (pump current - leakage) / C."""
        ev = self._circuit(w, x, t, vt_rel)
        self.circuit.drift(ev, teach=vt_rel != 0.0)
        return ev.rates

    def noise_step(self, step: int, vt_rel: float):
        """The noise increment of every weight over one step [V] (MODEL.md section 4)."""
        p, n_w = self.p, self.topo.n_weights
        out = np.zeros(n_w)
        if not self.noise:
            return out
        lo, hi = step & 0xFFFFFFFF, step >> 32
        sigma = noise_sigma(self.kT, p["g_leak"], p["kg"], self.gamma, vt_rel, self.dt, p["c"], self.i_leak0,
                            self.density_scale)
        for k in range(n_w):
            z = normal_quad(self.instance, k >> 2, lo, hi, self.seed, STREAM_NOISE)[k & 3]
            out[k] = sigma[k] * z
        return out

    def step(self, w, x, t, vt_rel, step: int):
        """One integrator step; returns the new weights before rail clipping (and moves the lagged nodes on)."""
        dW = self.noise_step(step, vt_rel) if self.noise else None
        tab = SOLVERS[self.method]
        if self.nodes is None:
            return tab.step(lambda v: self.drift(v, x, t, vt_rel), w, self.dt, dW)
        weights = iter(tab.b)
        static_mean: dict = {}

        def stage(v):
            ev = self._circuit(v, x, t, vt_rel)
            ev.nodes, ev.static_mean, ev.b_s = self.nodes, static_mean, next(weights)
            self.circuit.drift(ev, teach=vt_rel != 0.0)
            return ev.rates

        wn = tab.step(stage, w, self.dt, dW)
        self.nodes = {kind: node_next(static_mean[kind], v, kind, self.derived.__getitem__)
                      for kind, v in self.nodes.items()}
        return wn

    # -- protocol ------------------------------------------------------------------
    def evaluate(self, w, X, T, thresholds, argmax: bool = False):
        """Static forward pass over all rows: (mse [V^2], accuracy or NaN); ``argmax``: the class is the largest
        output (``tasks.datasets.correct``)."""
        se, correct = 0.0, 0
        for r in range(X.shape[0]):
            y = self.outputs(w, X[r])
            se += float(np.sum((y - T[r]) ** 2))
            if thresholds is not None:
                correct += int(decide(y, T[r], thresholds, argmax))
        mse = se / (X.shape[0] * T.shape[1])
        acc = correct / X.shape[0] if thresholds is not None else math.nan
        return mse, acc

    def order(self, epoch: int, n_rows: int) -> list[int]:
        """Row order of a training epoch (0-based): fixed, or Fisher-Yates per instance."""
        return row_order(self.instance, epoch, n_rows, self.seed, self.shuffled)

    def train(self, w0, X, T, thresholds, epochs: int):
        """Train for ``epochs``; returns (final w, mse per epoch, accuracy per epoch, diverged). The step at which
        the weights stopped being finite is ``self.diverged_step`` (-1 when they did not)."""
        w = np.array(w0, dtype=float)
        if self.nodes is not None:
            self.nodes = {kind: np.zeros_like(v) for kind, v in self.nodes.items()}
        mse = np.empty(epochs + 1)
        acc = np.empty(epochs + 1)
        mse[0], acc[0] = self.evaluate(w, X, T, thresholds)
        diverged = False
        self.diverged_step = -1
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
                            self.diverged_step = step
                    step += 1
            mse[ep + 1], acc[ep + 1] = self.evaluate(w, X, T, thresholds)
        return w, mse, acc, diverged
