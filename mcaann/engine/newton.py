"""Batched dense linear solves for the Newton iterations of the eqprop kernels, the instance index innermost.

``solve_lanes`` is Gaussian elimination without pivoting, one small system per lane: every loop over the lanes
vectorises and no lane's arithmetic depends on another's. Without pivoting it needs nonzero leading minors:
``-J`` of the reciprocal conductance network is symmetric positive definite (its co-content is convex), and the
transistor pair's Jacobian is dominated by its diagonal (every node's own channel, load and diode conductances);
a zero pivot gives a non-finite step, which the Newton loop reports as a failed solve (the instance diverged).
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def solve_lanes(J, R, DV, FAC, ACC):  # pragma: no cover - compiled
    """``DV[:, b] = -J[:, :, b]^-1 R[:, b]`` for every lane ``b``; ``J`` and ``R`` are overwritten.

    ``J`` (N, N, B) [S], ``R`` (N, B) [A], ``DV`` (N, B) [V]; ``FAC`` and ``ACC`` (B,) work arrays.
    """
    N = R.shape[0]
    B = R.shape[1]
    for i in range(N):
        for r in range(i + 1, N):
            for b in range(B):
                FAC[b] = J[r, i, b] / J[i, i, b]
            for c in range(i + 1, N):
                for b in range(B):
                    J[r, c, b] -= FAC[b] * J[i, c, b]
            for b in range(B):
                R[r, b] -= FAC[b] * R[i, b]
    for i in range(N - 1, -1, -1):
        for b in range(B):
            ACC[b] = R[i, b]
        for c in range(i + 1, N):
            for b in range(B):
                ACC[b] += J[i, c, b] * DV[c, b]
        for b in range(B):
            DV[i, b] = -ACC[b] / J[i, i, b]

#: largest move of a node in one Newton iteration [V] (keeps the diodes' exponentials in range)
DV_MAX = 0.2
