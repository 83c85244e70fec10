"""Failure attribution: which sampled block parameter (of which weight or neuron) makes a chip fail.

Every sampled block parameter of every instance is in the result dataset (variables with
``role = "sampled_parameter"``, over ``(..., instance, weight)`` or ``(..., instance, neuron)``).
Each *element* of such a variable (one parameter of one weight's or one neuron's block, e.g.
``kg[w=5]``, the charge-pump transconductance of weight 5) is a candidate cause. Two rankings:

- :func:`spearman_attribution`: Spearman rank correlation of each element with ``final_mse``
  (monotone association; robust to outliers and to the units of the parameter);
- :func:`separating_parameters`: how well each element separates failing (not converged)
  from passing instances: the Mann-Whitney U test, its AUC and Cliff's delta, and the
  standardized mean difference.

Both work per sweep point (a sweep usually changes the spread of the parameters, and mixing
points would attribute the sweep itself), skip elements that do not vary at that point (mismatch
off, an ideal block, an ``inf`` nominal), and return a :class:`pandas.DataFrame` sorted by sweep
point and then by strength, with a 1-based ``rank`` per point. With ``level="parameter"`` each
parameter appears once, represented by its strongest element.

So many elements are tested at once (hundreds for a small network) that a few reach p < 0.05 by
chance: use ``p_bonferroni`` (p-value times the number of elements tested at that point, at most
1) to judge whether the top of a ranking is real.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats as sps

from mcaann.stats.curves import sweep_dims

__all__ = [
    "constant_parameters",
    "element_matrix",
    "sampled_parameters",
    "separating_parameters",
    "spearman_attribution",
]

#: A column whose spread is at most this fraction of its largest magnitude is constant.
_REL_CONSTANT = 1e-9

_INSTANCE = "instance"


def sampled_parameters(ds: xr.Dataset) -> list[str]:
    """Names of the sampled block-parameter variables of a result dataset.

    Parameters
    ----------
    ds
        A result dataset.

    Returns
    -------
    list of str
        Variables whose ``role`` attribute is ``"sampled_parameter"``, in dataset order.
    """
    return [str(n) for n, v in ds.data_vars.items() if v.attrs.get("role") == "sampled_parameter"]


def _sweep_points(ds: xr.Dataset) -> list[dict]:
    """``{dim: index}`` of every sweep point, first dimension slowest (a single ``{}`` if none)."""
    dims = sweep_dims(ds)
    return [dict(zip(dims, idx, strict=True)) for idx in itertools.product(*(range(ds.sizes[d]) for d in dims))]


def _varies(col: np.ndarray) -> np.ndarray:
    """Per column of (instance, element): no NaN and a spread above rounding (``inf`` everywhere: constant)."""
    with np.errstate(invalid="ignore"):
        lo = np.min(col, axis=0)
        hi = np.max(col, axis=0)
        scale = np.maximum(np.abs(lo), np.abs(hi))
        spread = hi - lo
        ok = ~np.any(np.isnan(col), axis=0) & np.isfinite(spread) & (spread > _REL_CONSTANT * scale)
    return ok


def _element_meta(ds: xr.Dataset, name: str, da: xr.DataArray) -> pd.DataFrame:
    edims = [d for d in da.dims if d != _INSTANCE]
    base = {"parameter": name, "block": str(da.attrs.get("block", "")), "units": str(da.attrs.get("units", "")),
            "nominal": float(da.attrs.get("nominal", np.nan))}
    if not edims:
        return pd.DataFrame([{**base, "dim": "", "index": -1, "label": name, "location": ""}])
    if len(edims) > 1:
        raise ValueError(f"{name}: over {edims}; expected at most one dimension besides instance and sweeps")
    dim = edims[0]
    idx = np.arange(ds.sizes[dim])
    if dim == "weight" and {"layer", "post", "pre"} <= set(ds.coords):
        layer, post, pre = (ds[c].values for c in ("layer", "post", "pre"))
        labels = [f"{name}[w={i}]" for i in idx]
        locs = [f"layer {layer[i]}, post {post[i]}, pre {pre[i]}" for i in idx]
    elif dim == "neuron" and {"neuron_layer", "neuron_index"} <= set(ds.coords):
        nl, ni = ds["neuron_layer"].values, ds["neuron_index"].values
        labels = [f"{name}[n={i}]" for i in idx]
        locs = [f"layer {nl[i]}, neuron {ni[i]}" for i in idx]
    else:
        labels = [f"{name}[{dim}={i}]" for i in idx]
        locs = [""] * idx.size
    return pd.DataFrame({**{k: [v] * idx.size for k, v in base.items()}, "dim": dim, "index": idx,
                         "label": labels, "location": locs})


def element_matrix(ds: xr.Dataset, point: dict | None = None, *, names: Sequence[str] | None = None,
                   skip_constant: bool = True) -> tuple[np.ndarray, pd.DataFrame]:
    """Every sampled parameter element of one sweep point as columns of a matrix.

    Parameters
    ----------
    ds
        A result dataset.
    point
        ``{sweep_dim: index}`` selecting one sweep point (``None`` or ``{}``: not swept).
    names
        Variables to take, each over ``(instance,)`` or ``(instance, one element dimension)``
        besides the sweep dimensions; default :func:`sampled_parameters`. Other per-instance
        variables such as ``w_init`` can be added as candidate causes.
    skip_constant
        Leave out elements that do not vary over instances (or hold NaN).

    Returns
    -------
    values : numpy.ndarray
        (instance, element) parameter values.
    meta : pandas.DataFrame
        One row per column of ``values``: ``parameter``, ``block``, ``units``, ``nominal``,
        ``dim`` (``"weight"``/``"neuron"``), ``index``, ``label`` (e.g. ``"kg[w=5]"``) and
        ``location`` (e.g. ``"layer 1, post 1, pre 2"``; ``pre`` 0 is the bias input).
    """
    sub = ds.isel(point) if point else ds
    cols, metas = [], []
    for name in sampled_parameters(sub) if names is None else names:
        da = sub[name]
        edims = [d for d in da.dims if d != _INSTANCE]
        arr = da.transpose(_INSTANCE, *edims).values.astype(float).reshape(da.sizes[_INSTANCE], -1)
        cols.append(arr)
        metas.append(_element_meta(sub, name, da))
    if not cols:
        return np.empty((sub.sizes[_INSTANCE], 0)), pd.DataFrame(
            columns=["parameter", "block", "units", "nominal", "dim", "index", "label", "location"])
    values = np.concatenate(cols, axis=1)
    meta = pd.concat(metas, ignore_index=True)
    if skip_constant:
        keep = _varies(values)
        values, meta = values[:, keep], meta[keep].reset_index(drop=True)
    return values, meta


def constant_parameters(ds: xr.Dataset) -> list[str]:
    """Sampled parameters that do not vary over instances at any sweep point (skipped by rankings).

    Parameters
    ----------
    ds
        A result dataset.

    Returns
    -------
    list of str
        Parameter names none of whose elements varies at any sweep point.
    """
    varying: set[str] = set()
    for point in _sweep_points(ds):
        _, meta = element_matrix(ds, point)
        varying.update(meta["parameter"])
    return [n for n in sampled_parameters(ds) if n not in varying]


def _point_columns(ds: xr.Dataset, point: dict) -> dict:
    return {d: ds[d].values[i].item() for d, i in point.items()}


def _check_level(level: str) -> None:
    if level not in ("element", "parameter"):
        raise ValueError(f"level: expected 'element' or 'parameter', got {level!r}")


def _finish(frames: list[pd.DataFrame], dims: list[str], key: str, level: str, columns: list[str],
            top: int | None) -> pd.DataFrame:
    """Concatenate per-point frames, reduce to one row per parameter if asked, sort, rank, cut."""
    frames = [f for f in frames if len(f)]
    if not frames:
        extra = ["element", "n_elements"] if level == "parameter" else []
        return pd.DataFrame(columns=[*dims, "rank", *columns, *extra])
    df = pd.concat(frames, ignore_index=True)
    df["_point"] = df.groupby(dims, sort=False).ngroup() if dims else 0
    if level == "parameter":
        n_el = df.groupby(["_point", "parameter"])["label"].transform("size")
        df = df.assign(n_elements=n_el, element=df["label"])
        best = df.sort_values(["_point", key], ascending=[True, False]).groupby(["_point", "parameter"]).head(1)
        df = best.assign(label=best["parameter"])
        columns = [*columns, "element", "n_elements"]
    df = df.sort_values(["_point", key, "p_value"], ascending=[True, False, True], kind="stable")
    df["rank"] = df.groupby("_point").cumcount() + 1
    if top is not None:
        df = df[df["rank"] <= top]
    return df[[*dims, "rank", *columns]].reset_index(drop=True)


def _target(ds: xr.Dataset, point: dict, target: str) -> np.ndarray:
    sub = ds.isel(point) if point else ds
    y = sub[target].values.astype(float)
    return np.where(np.isnan(y), np.inf, y)  # a diverged instance is the worst


def _spearman(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman rho (average ranks for ties) of y with every column of x, and its two-sided p."""
    n = y.size
    ry = sps.rankdata(y)
    rx = sps.rankdata(x, axis=0)
    ry = ry - ry.mean()
    rx = rx - rx.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry[:, None]).sum(axis=0) / np.sqrt((rx * rx).sum(axis=0) * (ry * ry).sum())
        rho = np.clip(rho, -1.0, 1.0)
        if n > 2:
            t = rho * np.sqrt((n - 2) / np.maximum(1.0 - rho * rho, 1e-300))
            p = 2.0 * sps.t.sf(np.abs(t), n - 2)
        else:
            p = np.full_like(rho, np.nan)
    return rho, p


def spearman_attribution(ds: xr.Dataset, *, target: str = "final_mse", level: str = "element",
                         candidates: Sequence[str] | None = None, top: int | None = None) -> pd.DataFrame:
    """Rank sampled parameters by Spearman rank correlation with the final MSE, per sweep point.

    Parameters
    ----------
    ds
        A result dataset.
    target
        Per-instance variable to correlate with (default ``final_mse``; a NaN counts as ``+inf``,
        the worst).
    level
        ``"element"``: one row per parameter element (``kg[w=5]``); ``"parameter"``: one row per
        parameter, that of its element with the largest ``|rho|`` (``element`` names it,
        ``n_elements`` counts the elements tested).
    candidates
        Variables to rank (default: every sampled parameter). Add ``"w_init"`` to see whether the
        random initial weights explain failures better than any block parameter.
    top
        Keep only the ``top`` strongest rows of each sweep point (default: all).

    Returns
    -------
    pandas.DataFrame
        One column per sweep dimension (its value), then ``rank`` (1 = strongest at that point),
        ``label``, ``parameter``, ``dim``, ``index``, ``location``, ``block``, ``units``,
        ``nominal``, ``rho`` (> 0: a larger parameter value goes with a larger MSE), ``abs_rho``,
        ``p_value`` (two-sided, t approximation), ``p_bonferroni`` and ``n`` (instances).
        Elements that do not vary at a point are absent; a point whose target does not vary has
        no rows.

    Examples
    --------
    >>> spearman_attribution(ds, level="parameter").head(10)   # doctest: +SKIP
    """
    _check_level(level)
    dims = sweep_dims(ds)
    columns = ["label", "parameter", "dim", "index", "location", "block", "units", "nominal", "rho", "abs_rho",
               "p_value", "p_bonferroni", "n"]
    frames = []
    for point in _sweep_points(ds):
        y = _target(ds, point, target)
        values, meta = element_matrix(ds, point, names=candidates)
        if values.shape[1] == 0 or np.unique(y).size < 2:
            continue
        rho, p = _spearman(y, values)
        m = int(np.isfinite(rho).sum())
        f = meta.assign(rho=rho, abs_rho=np.abs(rho), p_value=p, p_bonferroni=np.minimum(p * m, 1.0), n=y.size)
        f = f[np.isfinite(f["rho"])]
        frames.append(f.assign(**_point_columns(ds, point)))
    return _finish(frames, dims, "abs_rho", level, columns, top)


def separating_parameters(ds: xr.Dataset, *, passed: str = "converged", level: str = "element",
                          candidates: Sequence[str] | None = None, top: int | None = None) -> pd.DataFrame:
    """Rank sampled parameters by how well they separate failing from passing instances, per sweep point.

    An instance fails when it has not converged (``~converged``; diverged ones included). For each
    varying parameter element, the failing and passing values are compared with the two-sided
    Mann-Whitney U test (normal approximation with tie correction).

    Parameters
    ----------
    ds
        A result dataset.
    passed
        Boolean per-instance variable, true for passing instances (default ``converged``); its
        negation defines failure.
    level
        ``"element"`` or ``"parameter"`` (strongest element per parameter), as in
        :func:`spearman_attribution`.
    candidates
        Variables to rank, as in :func:`spearman_attribution`.
    top
        Keep only the ``top`` strongest rows of each sweep point (default: all).

    Returns
    -------
    pandas.DataFrame
        Sweep-dimension columns, ``rank``, ``label``, ``parameter``, ``dim``, ``index``,
        ``location``, ``block``, ``units``, ``nominal``, then

        - ``auc``: probability that a failing instance has a larger value than a passing one
          (0.5: no separation; 1 or 0: perfect);
        - ``cliffs_delta`` = 2 auc - 1 and ``abs_delta`` (the ranking key);
        - ``smd``: standardized mean difference (mean_fail - mean_pass) / pooled sd;
        - ``median_fail``, ``median_pass`` (in the parameter's units);
        - ``p_value``, ``p_bonferroni``; ``n_fail``, ``n_pass``.

        Points where every instance passes or every instance fails have no rows.
    """
    _check_level(level)
    dims = sweep_dims(ds)
    columns = ["label", "parameter", "dim", "index", "location", "block", "units", "nominal", "auc", "cliffs_delta",
               "abs_delta", "smd", "median_fail", "median_pass", "p_value", "p_bonferroni", "n_fail", "n_pass"]
    frames = []
    for point in _sweep_points(ds):
        sub = ds.isel(point) if point else ds
        ok = sub[passed].values.astype(bool)
        n_fail, n_pass = int((~ok).sum()), int(ok.sum())
        values, meta = element_matrix(ds, point, names=candidates)
        if values.shape[1] == 0 or n_fail == 0 or n_pass == 0:
            continue
        xf, xp = values[~ok], values[ok]
        res = sps.mannwhitneyu(xf, xp, alternative="two-sided", method="asymptotic", axis=0)
        auc = np.asarray(res.statistic, float) / (n_fail * n_pass)
        p = np.asarray(res.pvalue, float)
        with np.errstate(invalid="ignore", divide="ignore"):
            vf = xf.var(axis=0, ddof=1) if n_fail > 1 else np.zeros(values.shape[1])
            vp = xp.var(axis=0, ddof=1) if n_pass > 1 else np.zeros(values.shape[1])
            smd = (xf.mean(axis=0) - xp.mean(axis=0)) / np.sqrt((vf + vp) / 2)
        m = values.shape[1]
        f = meta.assign(auc=auc, cliffs_delta=2 * auc - 1, abs_delta=np.abs(2 * auc - 1), smd=smd,
                        median_fail=np.median(xf, axis=0), median_pass=np.median(xp, axis=0), p_value=p,
                        p_bonferroni=np.minimum(p * m, 1.0), n_fail=n_fail, n_pass=n_pass)
        frames.append(f.assign(**_point_columns(ds, point)))
    return _finish(frames, dims, "abs_delta", level, columns, top)
