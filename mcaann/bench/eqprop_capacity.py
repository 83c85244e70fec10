"""What an equilibrium-propagation chip can learn, apart from its learning rule.

On the same chips (the study's first ``chips`` instances, the float64 reference of ``engine/eqprop_reference``),
two trainings from the same initial weights:

- *eqprop*: the circuit's own rule (``Network.train``) for ``epochs`` epochs;
- *true gradient*: Adam on the finite-difference gradient of the chip's own equilibrium MSE (every weight
  perturbed by ``h`` [V], the circuit's equilibria as the chip computes them), weights clipped to the rails,
  for ``iterations`` steps: an estimate of the best the chip's circuit can represent within its rails.

A true-gradient MSE near the eqprop one says the circuit, not the rule, limits the chip; far below it, the rule.
``target_scale`` moves the task's targets towards ``V_mid`` (``V_mid + s (t - V_mid)``) to ask the same of targets
the circuit can reach.

    python -m mcaann.bench.eqprop_capacity xor_eqprop --chips 16 --set mismatch.enabled=false
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np


@dataclass
class Capacity:
    """Final MSE [V^2] per chip of each training, the output voltages [V] per (row, chip) after them, and per chip
    the largest amplified hidden swing ``|A_n (v - V_mid)|`` [V] over the rows (what the amplifiers must drive)."""

    mse_eqprop: np.ndarray
    mse_gradient: np.ndarray
    y_eqprop: np.ndarray
    y_gradient: np.ndarray
    swing_eqprop: np.ndarray
    swing_gradient: np.ndarray


def amplified_swing(net, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per chip, the largest ``|A_n (v - V_mid)|`` [V] of its hidden neurons at the free equilibrium of every row."""
    n, topo, v_mid = w.shape[0], net.topo, net.const.v_mid
    hidden = topo.n_offset[-2]
    worst = np.zeros(n)
    for row in x:
        v, _ = net.equilibrium(w, np.broadcast_to(row, (n, row.size)), None, 0.0, np.full((n, topo.n_neurons), v_mid))
        worst = np.maximum(worst, np.abs(net.d["a_n"][:, :hidden] * (v[:, :hidden] - v_mid)).max(axis=1, initial=0))
    return worst


def _network(study, chips: int, target_scale: float):
    from mcaann.circuit.network import Topology
    from mcaann.engine.driver import study_task
    from mcaann.engine.eqprop_reference import Network
    from mcaann.variability.mismatch import sample_instances

    topo = Topology(tuple(study.network.layers))
    params = sample_instances(study, topo, np.arange(chips))
    task = study_task(study)
    v_mid = study.eqprop.V_mid
    targets = v_mid + target_scale * (task.t - v_mid)
    return Network(study, topo, params), params["w_init"], task.x, targets


def gradient_fit(net, w0: np.ndarray, x: np.ndarray, t: np.ndarray, iterations: int, rails: tuple[float, float],
                 rate: float = 0.02, h: float = 1e-4) -> np.ndarray:
    """Adam (rate [V], moments 0.9 / 0.999) on the forward-difference gradient of every chip's MSE; weights (chips,
    weights) [V] clipped to ``rails``; returns the weights after ``iterations`` steps."""
    w = np.array(w0, dtype=float)
    m, s = np.zeros_like(w), np.zeros_like(w)

    def loss(weights):
        return net.evaluate(weights, x, t, None)[0]

    for it in range(1, iterations + 1):
        f0 = loss(w)
        g = np.empty_like(w)
        for k in range(w.shape[1]):
            wp = w.copy()
            wp[:, k] += h
            g[:, k] = (loss(wp) - f0) / h
        m = 0.9 * m + 0.1 * g
        s = 0.999 * s + 0.001 * g * g
        step = rate * (m / (1 - 0.9**it)) / (np.sqrt(s / (1 - 0.999**it)) + 1e-12)
        w = np.clip(w - step, *rails)
    return w


def capacity(study, chips: int = 16, iterations: int = 150, target_scale: float = 1.0) -> Capacity:
    """Both trainings of the study's first ``chips`` chips (an eqprop study)."""
    if study.network.learning != "eqprop":
        raise ValueError("network.learning: the capacity check is of an eqprop study")
    net, w0, x, t = _network(study, chips, target_scale)
    w_rule, mse, _, _ = net.train(w0, x, t, None, study.task.epochs)
    w_grad = gradient_fit(net, w0, x, t, iterations, (study.circuit.V_lo, study.circuit.V_hi))
    outputs = [np.stack([net.outputs(w, x[r])[0][:, 0] for r in range(x.shape[0])]) for w in (w_rule, w_grad)]
    return Capacity(mse[:, -1], net.evaluate(w_grad, x, t, None)[0], *outputs, amplified_swing(net, w_rule, x),
                    amplified_swing(net, w_grad, x))


def main(argv: list[str] | None = None) -> None:
    from mcaann.cli import parse_assignments
    from mcaann.study.load import load_study

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("study")
    ap.add_argument("--chips", type=int, default=16)
    ap.add_argument("--iterations", type=int, default=150, help="true-gradient (Adam) steps")
    ap.add_argument("--target-scale", type=float, default=1.0, help="targets moved to V_mid + s (t - V_mid)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="KEY=VALUE study override")
    a = ap.parse_args(argv)
    st = load_study(a.study, parse_assignments(a.sets, None)[0])
    c = capacity(st, a.chips, a.iterations, a.target_scale)
    q = [0.1, 0.5, 0.9]
    print(f"{st.name}: {a.chips} chips, targets x{a.target_scale:g} about V_mid (on the study's), "
          f"threshold {st.yield_.mse_threshold:g}")
    for name, mse, y, swing in ((f"eqprop, {st.task.epochs} epochs", c.mse_eqprop, c.y_eqprop, c.swing_eqprop),
                         (f"true gradient, {a.iterations} steps", c.mse_gradient, c.y_gradient, c.swing_gradient)):
        lo, med, hi = np.quantile(mse, q)
        print(f"  {name:26s} MSE median {med:.4f} (p10 {lo:.4f}, p90 {hi:.4f}) V^2; "
              f"outputs per row (median) {np.round(np.median(y, axis=1), 3).tolist()} V; amplified hidden swing "
              f"median {np.median(swing):.3f} V, largest {swing.max():.3f} V")


if __name__ == "__main__":
    main()
