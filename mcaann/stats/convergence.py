"""Convergence of learning curves: the yield criterion and the epoch it is first met for good."""

from __future__ import annotations

import numpy as np


def converged_mask(mse, accuracy, mse_threshold: float, accuracy_threshold: float | None):
    """Elementwise criterion: ``mse <= mse_threshold`` and (classification) accuracy high enough.

    ``accuracy_threshold = None`` (or NaN accuracies, a regression task) ignores accuracy.
    """
    ok = np.asarray(mse) <= mse_threshold
    if accuracy_threshold is not None:
        acc = np.asarray(accuracy)
        ok = ok & (np.isnan(acc) | (acc >= accuracy_threshold))
    return ok


def convergence_epochs(ok: np.ndarray) -> np.ndarray:
    """First epoch from which ``ok`` (..., epoch) holds to the end; NaN where the last is False."""
    ok = np.asarray(ok, dtype=bool)
    # suffix-all: from epoch e on, every epoch is ok
    suffix = np.flip(np.logical_and.accumulate(np.flip(ok, axis=-1), axis=-1), axis=-1)
    n_ok = suffix.sum(axis=-1)
    first = ok.shape[-1] - n_ok
    return np.where(n_ok > 0, first, np.nan).astype(float)
