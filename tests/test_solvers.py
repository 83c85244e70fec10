"""Solver orders on an Ornstein-Uhlenbeck problem with a known answer (diffrax-style slope fits)."""

import numpy as np
import pytest

from mcaann.solvers import SOLVERS

THETA, SIGMA, T, W0 = 2.0, 0.5, 1.0, 1.0


def _drift(w):
    return -THETA * w


def _solve(name, n_steps, dB_fine):
    """Integrate to T with n_steps, the noise of each step summed from the fine Brownian path."""
    solver = SOLVERS[name]
    dt = T / n_steps
    per = dB_fine.shape[1] // n_steps
    w = np.full(dB_fine.shape[0], W0)
    for k in range(n_steps):
        dW = SIGMA * dB_fine[:, k * per:(k + 1) * per].sum(axis=1)
        w = solver.step(_drift, w, dt, dW)
    return w


@pytest.mark.parametrize("name", ["euler", "heun"])
def test_strong_order_with_the_same_brownian_path(name):
    rng = np.random.default_rng(2024)
    paths, n_fine = 2000, 2**12
    dB = rng.standard_normal((paths, n_fine)) * np.sqrt(T / n_fine)
    # Exact solution on the fine grid: w(T) = e^{-theta T} w0 + sigma sum e^{-theta (T - s)} dB(s),
    # with the integral evaluated exactly for piecewise-constant dB (error far below the coarse ones).
    s = (np.arange(n_fine) + 0.5) * T / n_fine
    exact = np.exp(-THETA * T) * W0 + SIGMA * (dB * np.exp(-THETA * (T - s))).sum(axis=1)
    steps = [8, 16, 32, 64, 128]
    err = [np.mean(np.abs(_solve(name, n, dB) - exact)) for n in steps]
    slope = -np.polyfit(np.log(steps), np.log(err), 1)[0]
    assert abs(slope - SOLVERS[name].strong_order) < 0.2, (slope, err)


@pytest.mark.parametrize("name", ["euler", "heun", "rk4"])
def test_deterministic_order(name):
    steps = [8, 16, 32, 64]
    err = []
    for n in steps:
        w, dt = np.array([W0]), T / n
        for _ in range(n):
            w = SOLVERS[name].step(_drift, w, dt)
        err.append(abs(w[0] - W0 * np.exp(-THETA * T)))
    slope = -np.polyfit(np.log(steps), np.log(err), 1)[0]
    assert abs(slope - SOLVERS[name].order) < 0.15, (slope, err)


def test_rk4_refuses_noise():
    assert not SOLVERS["rk4"].supports_noise
    with pytest.raises(ValueError):
        SOLVERS["rk4"].step(_drift, np.zeros(1), 0.1, np.zeros(1))
