"""A float64 NumPy reference of the equilibrium-propagation circuit (``circuit.eqprop``), batched over instances.

Written for clarity: the Kirchhoff currents and their Jacobian come from ``eqprop.kcl`` evaluated on arrays
(leading instance axis), the linear solves from ``np.linalg.solve``. Per row of the training set:

1. free phase: the nodes relax with the inputs applied and ``beta = 0``, from where the last row left them;
2. nudged phase: the output nodes are pulled towards the targets with ``beta``, from the free state;
3. update: each synapse's local quantity of both phases held, the update circuit drives its weight capacitor
   for ``T_update = T_row - T_free - T_nudge``; leakage acts on the weights for the whole row (exactly).

A phase is solved as its equilibrium (Newton, the fast path) or as a transient of ``C_node dv/dt = i(v)`` by
backward Euler at the study's ``dt`` (``eqprop.relax``). Newton: ``v <- v - J^-1 i``, each node's move limited
to ``DV_MAX``, until every node of the instance moves less than ``newton_tol``; an instance whose solve does
not converge in ``newton_iter`` iterations (or turns non-finite) is diverged and frozen.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import numpy as np

from mcaann.circuit import eqprop
from mcaann.circuit.network import Topology
from mcaann.engine.newton import DV_MAX
from mcaann.tasks.datasets import correct as decide
from mcaann.units import K_BOLTZMANN
from mcaann.variability.rng import STREAM_NOISE, normal_quad
from mcaann.variability.temperature import gm_over_i


def constants(study) -> eqprop.Constants:
    """The study-wide values of the eqprop circuit."""
    ep = study.eqprop
    lo, hi = eqprop.amplifier_limits(ep, study.circuit.V_dsat_out)
    return eqprop.Constants(v_bias=study.circuit.V_bias, v_mid=ep.V_mid, v_g0=ep.V_G0, i_s=ep.I_s, v_d=ep.V_d,
                            out_lo=lo, out_hi=hi, knee=ep.V_out_knee)


def variant(study) -> eqprop.Variant:
    return eqprop.Variant(device=study.eqprop.device, sat_update=math.isfinite(study.eqprop.I_u_max),
                          leak=study.leakage.enabled, amplifier=study.eqprop.amplifier, noise=study.noise.enabled,
                          clip=math.isfinite(constants(study).out_hi))


def row_noise(study) -> eqprop.RowNoise:
    """The noise sources of the study's eqprop circuit (``eqprop.RowNoise``)."""
    kT = K_BOLTZMANN * study.process.temperature
    g_m = gm_over_i(study) * study.eqprop.I_u_bias
    return eqprop.RowNoise(kT=kT, density_scale=study.noise.density_scale,
                           s_update=4.0 * kT * study.noise.gamma * g_m)


def noise_counters(topo: Topology) -> tuple[int, int, int]:
    """First Philox block index (``normal_quad``'s second counter word) of a row's weight noise, free-phase node
    samples and nudged-phase node samples: four normals per block, in that order."""
    blocks_w, blocks_n = -(-topo.n_weights // 4), -(-topo.n_neurons // 4)
    return 0, blocks_w, blocks_w + blocks_n


class _Eval:
    """The ``kcl`` builder on arrays: node voltages ``v`` (n, N), inputs ``x`` (n, n_in), targets ``t``."""

    def __init__(self, net: Network, w, x, v, t, beta):
        self.topo, self.variant, self.const = net.topo, net.variant, net.const
        self.d, self.w, self.x, self.v, self.t, self.beta = net.d, w, x, v, t, beta
        n, N = v.shape
        self.i = np.zeros((n, N))
        self.J = np.zeros((n, N, N))
        self.q = np.zeros_like(w)

    def lanes(self):
        return nullcontext()

    def let(self, name: str, value):
        return value

    def node(self, l: int, i: int):
        if i == 0:
            return self.const.v_bias
        if l == 0:
            return self.x[:, i - 1]
        return self.v[:, self.topo.n_offset[l - 1] + i - 1]

    def free(self, l: int, i: int):
        return None if i == 0 or l == 0 else self.topo.n_offset[l - 1] + i - 1

    def weight(self, k: int):
        return self.w[:, k]

    def synapse(self, k: int):
        return lambda name: self.d[name][:, k]

    neuron = synapse

    def target(self, j: int):
        return self.t[:, j]

    def inject(self, n: int, value) -> None:
        self.i[:, n] += value

    def jac(self, n: int, m: int, value) -> None:
        self.J[:, n, m] += value

    def local(self, k: int, value) -> None:
        self.q[:, k] = value


class Network:
    """The eqprop circuit of a batch of instances: topology, variant, constants and derived parameters
    (``eqprop.derive`` of the sampled ones, arrays over ``(instance, block)``)."""

    def __init__(self, study, topo: Topology, params: dict[str, np.ndarray]):
        self.topo, self.variant, self.const = topo, variant(study), constants(study)
        lk, ep = study.leakage, study.eqprop
        self.t_update = study.task.T_row - ep.T_free - ep.T_nudge
        self.d = eqprop.derive(self.variant, params, self.const, lk.I_leak0 if lk.enabled else 0.0,
                               ep.T_free + ep.T_nudge, self.t_update, row_noise(study))
        self.seed, self.steps_per_row = study.monte_carlo.seed, study.steps_per_row
        self.beta, self.tol, self.iters = ep.beta, ep.newton_tol, ep.newton_iter
        self.relax, self.dt = ep.relax, study.integrator.dt
        self.t_free, self.t_nudge = ep.T_free, ep.T_nudge
        self.v_rest = lk.V_rest
        self.v_lo, self.v_hi = study.circuit.V_lo, study.circuit.V_hi

    def currents(self, w, x, v, t, beta):
        """Current into every free node [A] and its Jacobian d i_n / d v_m [S]: ``(i (n, N), J (n, N, N))``."""
        ev = _Eval(self, w, x, v, t if t is not None else np.zeros((v.shape[0], self.topo.n_out)), beta)
        eqprop.kcl(ev)
        return ev.i, ev.J

    def local(self, w, x, v):
        """Every synapse's local quantity [A] at node voltages ``v``: (n, n_weights)."""
        ev = _Eval(self, w, x, v, None, 0.0)
        eqprop.locals_(ev)
        return ev.q

    def newton(self, residual, v0, ok):
        """Solve ``residual(v) = (r, J) = 0`` per instance from ``v0``; returns (v, converged)."""
        v = v0.copy()
        active = ok.copy()
        done = np.zeros_like(ok)
        for _ in range(self.iters):
            if not active.any():
                break
            r, J = residual(v)
            dv = np.zeros_like(v)
            with np.errstate(all="ignore"):
                try:
                    dv[active] = -np.linalg.solve(J[active], r[active][..., None])[..., 0]
                except np.linalg.LinAlgError:
                    dv[active] = np.nan
            dv = np.clip(dv, -DV_MAX, DV_MAX)
            v = np.where(active[:, None], v + dv, v)
            small = np.all(np.abs(dv) < self.tol, axis=1)
            bad = ~np.all(np.isfinite(v), axis=1)
            done |= active & small
            active &= ~small & ~bad
        return v, done & np.all(np.isfinite(v), axis=1)

    def equilibrium(self, w, x, t, beta, v0, ok=None):
        """The nodes' equilibrium (every node's current 0) from ``v0``: (v (n, N), converged (n,))."""
        ok = np.ones(v0.shape[0], bool) if ok is None else ok
        return self.newton(lambda v: self.currents(w, x, v, t, beta), v0, ok)

    def transient(self, w, x, t, beta, v0, duration: float, ok=None):
        """``C_node dv/dt = i(v)`` for ``duration`` [s] by backward Euler at ``dt`` from ``v0``."""
        ok = np.ones(v0.shape[0], bool) if ok is None else ok
        g = self.d["c_node"] / self.dt  # (n, N) [S]: each node's own C_node
        v = v0
        for _ in range(int(round(duration / self.dt))):
            vp = v

            def residual(vn, vp=vp):
                i, J = self.currents(w, x, vn, t, beta)
                return i - g * (vn - vp), J - g[:, :, None] * np.eye(vn.shape[1])

            v, ok = self.newton(residual, vp, ok)
        return v, ok

    def phase(self, w, x, t, beta, v0, duration, ok):
        if self.relax == "equilibrium":
            return self.equilibrium(w, x, t, beta, v0, ok)
        return self.transient(w, x, t, beta, v0, duration, ok)

    def normals(self, instances, step: int, first: int, count: int) -> np.ndarray:
        """(n, count) standard normals of ``instances`` at the row starting at ``step``, from Philox block
        ``first`` on (``noise_counters``)."""
        lo, hi = step & 0xFFFFFFFF, step >> 32
        blocks = -(-count // 4)
        z = np.array([[normal_quad(int(inst), first + q, lo, hi, self.seed, STREAM_NOISE) for q in range(blocks)]
                      for inst in instances])
        return z.reshape(len(instances), 4 * blocks)[:, :count]

    def row(self, w, x, t, v0, ok, instances=None, step: int = 0):
        """One training row: (new weights, node voltages at its end, still ok); with noise, ``instances`` and the
        row's first ``step`` key its normals."""
        vf, ok = self.phase(w, x, None, 0.0, v0, self.t_free, ok)
        vn, ok = self.phase(w, x, t, self.beta, vf, self.t_nudge, ok)
        wn, ok = self.update(w, x, vf, vn, ok, instances, step)
        return wn, vn, ok

    def update(self, w, x, vf, vn, ok, instances=None, step: int = 0):
        """The weights after a row's update from its free and nudged node voltages ``vf``, ``vn``, and ok; with
        noise, the update circuit samples node voltages with their thermal noise and the weights take theirs."""
        q = self.d.__getitem__
        if self.variant.noise:
            at_w, at_f, at_n = noise_counters(self.topo)
            nn = self.topo.n_neurons
            vf = vf + q("sn_v") * self.normals(instances, step, at_f, nn)
            vn = vn + q("sn_v") * self.normals(instances, step, at_n, nn)
        dq = self.local(w, x, vn) - self.local(w, x, vf)
        rate = eqprop.update_rate(self.variant, dq, q)
        wn = eqprop.hold(self.variant, w, 0.0, q("phi_h"), self.v_rest, q)
        wn = eqprop.hold(self.variant, wn, rate, q("phi_u"), self.v_rest, q)
        if self.variant.noise:
            wn = wn + q("sn_w") * self.normals(instances, step, at_w, self.topo.n_weights)
        wn = np.clip(wn, self.v_lo, self.v_hi)
        ok = ok & np.all(np.isfinite(wn), axis=1)
        return np.where(ok[:, None], wn, w), ok

    def outputs(self, w, x):
        """Output node voltages [V] at the free equilibrium from ``V_mid`` (the inference the chip does)."""
        n = w.shape[0]
        v0 = np.full((n, self.topo.n_neurons), self.const.v_mid)
        v, ok = self.equilibrium(w, np.broadcast_to(x, (n, x.shape[-1])), None, 0.0, v0)
        return v[:, self.topo.n_offset[-2]:], ok

    def evaluate(self, w, X, T, thresholds, argmax: bool = False):
        """MSE [V^2] and accuracy (NaN for regression) over all rows, per instance (``argmax``: the largest output
        decides, as ``tasks.datasets.correct``)."""
        n = w.shape[0]
        se = np.zeros(n)
        correct = np.zeros(n)
        for r in range(X.shape[0]):
            y, _ = self.outputs(w, X[r])
            se += np.sum((y - T[r]) ** 2, axis=1)
            if thresholds is not None:
                correct += [decide(y[i], T[r], thresholds, argmax) for i in range(n)]
        mse = se / (X.shape[0] * T.shape[1])
        return mse, (correct / X.shape[0] if thresholds is not None else np.full(n, np.nan))

    def train(self, w0, X, T, thresholds, epochs: int, orders=None, instances=None):
        """Train ``epochs`` over the rows (fixed order, or ``orders[ep]`` (n, rows) per instance, see
        ``row_orders``) of ``instances`` (default 0 .. n - 1: they key the noise); returns (w, mse (n, epochs + 1),
        accuracy, diverged)."""
        w = np.array(w0, dtype=float)
        n = w.shape[0]
        instances = np.arange(n) if instances is None else instances
        mse = np.empty((n, epochs + 1))
        acc = np.empty((n, epochs + 1))
        mse[:, 0], acc[:, 0] = self.evaluate(w, X, T, thresholds)
        v = np.full((n, self.topo.n_neurons), self.const.v_mid)
        ok = np.ones(n, bool)
        for ep in range(epochs):
            for rpos in range(X.shape[0]):
                r = orders[ep][:, rpos] if orders is not None else np.full(n, rpos)
                step = (ep * X.shape[0] + rpos) * self.steps_per_row
                w, v, ok = self.row(w, X[r], T[r], v, ok, instances, step)
                v = np.where(ok[:, None], v, self.const.v_mid)
            mse[:, ep + 1], acc[:, ep + 1] = self.evaluate(w, X, T, thresholds)
        return w, mse, acc, ~ok


def row_orders(study, instances, epochs: int, n_rows: int) -> list[np.ndarray] | None:
    """The row order of every epoch, (n, rows) per epoch, of ``instances`` (None: fixed order)."""
    from mcaann.engine.reference import row_order

    if study.task.order != "shuffled":
        return None
    seed = study.monte_carlo.seed
    return [np.array([row_order(int(i), ep, n_rows, seed, True) for i in instances]) for ep in range(epochs)]
