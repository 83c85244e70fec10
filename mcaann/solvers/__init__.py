"""Fixed-step integrators as small objects that declare their order (as diffrax does).

The circuit gives the drift ``f(w)`` [V/s] and the noise increment ``dW`` [V] of a step
(additive noise: it does not depend on ``w``); a solver only combines them. The generated
kernels implement the same formulas (``engine/codegen.py``) and are tested against the
reference, which uses these objects.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Drift = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Solver(abc.ABC):
    """An explicit fixed-step method: its deterministic ``order`` and additive-noise ``strong_order``."""

    name: str
    order: int
    strong_order: float | None  # None: deterministic only
    evaluations: int  # drift evaluations per step

    @property
    def supports_noise(self) -> bool:
        return self.strong_order is not None

    @abc.abstractmethod
    def step(self, f: Drift, w: np.ndarray, dt: float, dW: np.ndarray | None = None) -> np.ndarray:
        """One step of size ``dt`` [s] from ``w`` with drift ``f`` and noise increment ``dW`` [V]."""


class EulerMaruyama(Solver):
    """``w + f(w) dt + dW``: order 1, strong order 1 for additive noise."""

    def step(self, f, w, dt, dW=None):
        out = w + dt * f(w)
        return out if dW is None else out + dW


class StochasticHeun(Solver):
    """Predictor ``w~ = w + f(w) dt + dW``, then ``w + (f(w) + f(w~)) dt / 2 + dW``.

    Order 2 in the drift; strong order 1 for additive noise (the same ``dW`` in both stages).
    """

    def step(self, f, w, dt, dW=None):
        noise = 0.0 if dW is None else dW
        k1 = f(w)
        k2 = f(w + dt * k1 + noise)
        return w + 0.5 * dt * (k1 + k2) + noise


class RK4(Solver):
    """The classical fourth-order Runge-Kutta method; deterministic runs only."""

    def step(self, f, w, dt, dW=None):
        if dW is not None:
            raise ValueError("rk4 does not integrate noise")
        k1 = f(w)
        k2 = f(w + 0.5 * dt * k1)
        k3 = f(w + 0.5 * dt * k2)
        k4 = f(w + dt * k3)
        return w + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


SOLVERS: dict[str, Solver] = {
    "euler": EulerMaruyama("euler", order=1, strong_order=1.0, evaluations=1),
    "heun": StochasticHeun("heun", order=2, strong_order=1.0, evaluations=2),
    "rk4": RK4("rk4", order=4, strong_order=None, evaluations=4),
}
