"""The divergence test of the backprop kernels, run once per row of training data (MODEL.md section 5).

A kernel keeps the weights it had at the start of a row, runs the row's steps storing the new weights as they
come (finite or not), then calls ``check_lanes``: lanes flagged before and lanes whose weights are no longer all
finite get their kept weights back. When a lane diverged in the row, the kernel runs the row again from its start
with the test after every step, which flags that lane at its step and keeps its last finite weights: every lane's
steps are a function of its own state and step count alone, so the repeat gives the same numbers. A test inside
every step costs a second pass over the weights and a select per weight (in the layered float64 XOR, 19 against
5 ns per instance-step for the weight update).
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def check_lanes(state, kept, tested, fin, div, div_step, step, flag):
    """The number of lanes not yet diverged whose first ``tested`` rows of ``state`` (rows, lanes) are no longer
    all finite; those and the lanes diverged before get their rows of ``kept`` back. With ``flag``, the new ones
    are marked diverged (``div`` 1) at ``step`` (``div_step``). ``fin``: a scratch row of ``state``'s dtype."""
    lanes = state.shape[1]
    for b in range(lanes):
        fin[b] = state[0, b] - state[0, b]  # 0 for a finite value, NaN otherwise
    for k in range(1, tested):
        for b in range(lanes):
            fin[b] += state[k, b] - state[k, b]
    newly = 0
    restore = 0
    for b in range(lanes):
        bad = (fin[b] != 0.0) & (div[b] == 0.0)
        keep = bad | (div[b] != 0.0)
        newly += 1 if bad else 0
        restore += 1 if keep else 0
        fin[b] = 1.0 if keep else 0.0
        if bad and flag:
            div[b] = 1.0
            div_step[b] = step
    if restore:
        for k in range(state.shape[0]):
            for b in range(lanes):  # both operands loaded before the select: it vectorises
                old, new = kept[k, b], state[k, b]
                state[k, b] = old if fin[b] != 0.0 else new
    return newly
