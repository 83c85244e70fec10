"""Yield (fraction of instances that converged) and its Wilson score interval."""

from __future__ import annotations

import numpy as np


def wilson_interval(k, n, z: float = 1.959963984540054):
    """95 % (by default) Wilson score interval of a binomial fraction ``k / n``.

    Returns ``(p, lo, hi)``; ``lo <= p <= hi`` always holds (the interval is clipped to
    contain the fraction, which floating point can otherwise miss at ``k = 0`` or ``k = n``).
    Works elementwise on arrays; ``n = 0`` gives NaN.
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        z2 = z * z
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = z / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
        lo = np.minimum(np.clip(centre - half, 0.0, 1.0), p)
        hi = np.maximum(np.clip(centre + half, 0.0, 1.0), p)
    return p, lo, hi
