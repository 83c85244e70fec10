"""Paired yields: the same chips under two conditions (common random numbers), compared chip by chip.

Each chip falls in one cell of a 2x2 table: converged in both (``a``), only in the first (``b``), only in the
second (``c``), in neither (``d``). The difference of the two yields is ``(c - b) / n`` (second minus first):
only the chips that change fate count, which is why a paired comparison resolves far smaller differences than
two independent yields would.

- :func:`mcnemar_exact`: the exact (binomial) McNemar test: under "no difference" a discordant chip is equally
  likely to be a ``b`` or a ``c``, so ``min(b, c)`` is binomial ``(b + c, 1/2)``; two-sided p-value.
- :func:`paired_difference`: the difference with Newcombe's score interval for paired data (Newcombe 1998,
  Statistics in Medicine 17, 2635, method 10; as worked in Altman et al., Statistics with Confidence, 2000,
  p. 52): the two Wilson intervals combined with the correlation ``phi`` of the pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcaann.stats.yield_ import wilson_interval


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value of ``b`` and ``c`` discordant pairs: ``min(1, 2 P(X <= min(b, c)))`` with
    ``X ~ Binomial(b + c, 1/2)``; 1 when there is no discordant pair."""
    m = b + c
    if m == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(m, i) for i in range(k + 1)) / 2.0**m
    return min(1.0, 2.0 * tail)


@dataclass(frozen=True)
class PairedDifference:
    """Yields of the two conditions, their difference (second minus first) with its 95 % interval, the chips
    that changed fate and the exact McNemar p-value."""

    yield_first: float
    yield_second: float
    difference: float
    lo: float
    hi: float
    rescued: int  # failed under the first condition, converged under the second
    harmed: int  # converged under the first, failed under the second
    n: int
    p_value: float


def paired_difference(first, second, z: float = 1.959963984540054) -> PairedDifference:
    """Compare per-chip outcomes (booleans, the same chips in the same order) of two conditions.

    The interval is Newcombe's method 10 for ``p2 - p1``, with ``p1``, ``p2`` the yields and ``(l_i, u_i)`` their
    Wilson intervals: ``p2 - p1 - sqrt((p2 - l2)^2 - 2 phi (p2 - l2)(u1 - p1) + (u1 - p1)^2)`` to
    ``p2 - p1 + sqrt((u2 - p2)^2 - 2 phi (u2 - p2)(p1 - l1) + (p1 - l1)^2)``, where ``phi`` is the correlation of
    the pairs, ``(a d - b c) / sqrt((a + b)(c + d)(a + c)(b + d))``, with ``a d - b c`` replaced by
    ``a d - b c - n/2`` when that exceeds ``n/2``, by 0 when between 0 and ``n/2`` (Newcombe's correction), and
    ``phi = 0`` when a margin is empty. Clipped to [-1, 1]; always contains the difference.
    """
    x = np.asarray(first, dtype=bool).ravel()
    y = np.asarray(second, dtype=bool).ravel()
    if x.shape != y.shape:
        raise ValueError("paired_difference: both conditions need the same chips")
    n = x.size
    a = int(np.sum(x & y))
    b = int(np.sum(x & ~y))
    c = int(np.sum(~x & y))
    d = n - a - b - c
    if n == 0:
        nan = float("nan")
        return PairedDifference(nan, nan, nan, nan, nan, 0, 0, 0, 1.0)
    p1, l1, u1 = (float(v) for v in wilson_interval(a + b, n, z))
    p2, l2, u2 = (float(v) for v in wilson_interval(a + c, n, z))
    denom = (a + b) * (c + d) * (a + c) * (b + d)
    num = a * d - b * c
    num = num - n / 2.0 if num > n / 2.0 else (num if num < 0 else 0.0)
    phi = num / math.sqrt(denom) if denom > 0 else 0.0
    diff = (c - b) / n
    lo = diff - math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    hi = diff + math.sqrt(max(0.0, (u2 - p2) ** 2 - 2 * phi * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2))
    return PairedDifference(p1, p2, diff, max(-1.0, min(lo, diff)), min(1.0, max(hi, diff)), c, b, n,
                            mcnemar_exact(b, c))
