"""Elementary functions for the kernels, one per compute dtype.

``exp_float64`` and friends are what the generated kernels call as ``EXP`` and ``TANH``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def exp_float64(x):
    return math.exp(x)


@njit(cache=True, inline="always")
def exp_float32(x):
    return math.exp(np.float32(x))


@njit(cache=True, inline="always")
def tanh_float64(x):
    return math.tanh(x)


@njit(cache=True, inline="always")
def tanh_float32(x):
    return math.tanh(np.float32(x))
