"""Paired comparisons of training strategies on the same chips (``training.strategy`` swept).

Every instance is the same die at every point of a sweep (MODEL.md section 5), so two strategies are compared
chip by chip: the per-chip difference of their held-out accuracy, its mean and a 95 % t interval, and how many
chips each strategy wins. The interval is far narrower than the two marginal spreads suggest when the chips'
own variation dominates.
"""

from __future__ import annotations

import math
import tomllib

import numpy as np
import xarray as xr
from scipy import stats as _stats

STRATEGY_DIM = "training__strategy"


def heldout_accuracy(ds: xr.Dataset) -> xr.DataArray:
    """Per-chip accuracy on the held-out rows (``accuracy_test``), or on the training rows where the task holds
    none out (and for files older than held-out splits)."""
    if "accuracy_test" in ds and bool(np.isfinite(ds["accuracy_test"]).any()):
        return ds["accuracy_test"]
    return ds["accuracy"]


def strategies(ds: xr.Dataset) -> list[str]:
    """The strategies of a result: the swept values, else the study's one (``in_situ`` for older files)."""
    if STRATEGY_DIM in ds.dims:
        return [str(s) for s in ds[STRATEGY_DIM].values]
    study = tomllib.loads(ds.attrs.get("study", ""))
    return [study.get("training", {}).get("strategy", "in_situ")]


def paired_mean_difference(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> dict:
    """Mean of the per-chip difference ``a - b`` with its ``confidence`` t interval, and the chips where
    ``a`` is above, below or equal to ``b`` (pairs with a NaN are left out)."""
    ok = np.isfinite(a) & np.isfinite(b)
    d = np.asarray(a, float)[ok] - np.asarray(b, float)[ok]
    n = d.size
    mean = float(d.mean()) if n else math.nan
    half = math.nan
    if n > 1:
        half = float(_stats.t.ppf(0.5 + confidence / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
    return {"n": n, "mean": mean, "lo": mean - half, "hi": mean + half,
            "better": int((d > 0).sum()), "worse": int((d < 0).sum()), "equal": int((d == 0).sum())}
