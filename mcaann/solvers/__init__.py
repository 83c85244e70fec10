"""Fixed-step integrators declared once, as Butcher tableaux that state their order (as diffrax does).

The circuit gives the drift ``f(w)`` [V/s] and the noise increment ``dW`` [V] of a step (additive
noise: it does not depend on ``w``); a solver only combines them. A ``Tableau`` is data: the
reference evaluates it on NumPy arrays (``step``) and the code writer expands the same stages into
kernel source (``engine/codegen.py``), so that no step is written twice.

Stage ``s`` evaluates ``k_s = f(w + dt sum_j a[s][j] k_j + noise[s] dW)``; the step returns
``w + dt sum_s b[s] k_s + dW``. Stochastic Heun puts the whole increment ``dW`` into its predictor
(``noise = (0, 1)``): strong order 1 for additive noise, order 2 in the drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Drift = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Tableau:
    """An explicit fixed-step Runge-Kutta method with its deterministic ``order`` and additive-noise
    ``strong_order`` (None: deterministic runs only)."""

    name: str
    order: int
    strong_order: float | None
    a: tuple[tuple[float, ...], ...]  # a[s] has s entries (explicit)
    b: tuple[float, ...]
    noise: tuple[float, ...] | None  # coefficient of dW in each stage's input; None: no noise

    def __post_init__(self) -> None:
        if len(self.a) != len(self.b) or any(len(row) != s for s, row in enumerate(self.a)):
            raise ValueError(f"{self.name}: a must be strictly lower triangular with one row per stage")
        if abs(sum(self.b) - 1.0) > 1e-15:
            raise ValueError(f"{self.name}: the weights b must sum to 1 (consistency)")

    @property
    def stages(self) -> int:
        return len(self.b)

    @property
    def evaluations(self) -> int:
        """Drift evaluations per step."""
        return self.stages

    @property
    def supports_noise(self) -> bool:
        return self.strong_order is not None

    def stage_input(self, s: int, w, ks: list, dt, dW=None):
        """The point at which stage ``s`` evaluates the drift (a float, array or expression)."""
        out = w
        for j, a in enumerate(self.a[s]):
            if a != 0.0:
                out = out + (a * dt) * ks[j]
        if dW is not None and self.noise[s] != 0.0:
            out = out + self.noise[s] * dW
        return out

    def combine(self, w, ks: list, dt, dW=None):
        """The new state from the stage slopes ``ks``."""
        out = w
        for bj, k in zip(self.b, ks, strict=True):
            if bj != 0.0:
                out = out + (bj * dt) * k
        return out if dW is None else out + dW

    def step(self, f: Drift, w: np.ndarray, dt: float, dW: np.ndarray | None = None) -> np.ndarray:
        """One step of size ``dt`` [s] from ``w`` with drift ``f`` and noise increment ``dW`` [V]."""
        if dW is not None and not self.supports_noise:
            raise ValueError(f"{self.name} does not integrate noise")
        ks: list = []
        for s in range(self.stages):
            ks.append(f(self.stage_input(s, w, ks, dt, dW)))
        return self.combine(w, ks, dt, dW)


SOLVERS: dict[str, Tableau] = {
    "euler": Tableau("euler", order=1, strong_order=1.0, a=((),), b=(1.0,), noise=(0.0,)),
    "heun": Tableau("heun", order=2, strong_order=1.0, a=((), (1.0,)), b=(0.5, 0.5), noise=(0.0, 1.0)),
    "rk4": Tableau("rk4", order=4, strong_order=None, a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
                   b=(1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0), noise=None),
}
