"""Convergence statistics and learning-curve bands of a result dataset, for notebooks and reports.

Everything here takes the result dataset of INTERFACE.md (``mcaann.open_result``) and returns
xarray objects over its sweep dimensions, so that ``.sel(mismatch__scale=1.0)`` and
``.to_dataframe()`` work on the answers as on the dataset itself.

Conventions
-----------
*Convergence time.* An instance that converged did so after ``epochs_to_converge`` epochs of
training (epoch 0 is the state before training). One epoch presents every dataset row once for
``T_row`` seconds, so the circuit time to converge is ``epochs * rows * T_row``.

*Never-converged instances are counted, not dropped.* Two families of quantiles are reported:

- ``*_converged``: quantiles over the instances that converged only (linear interpolation, the
  numbers of the ``mcaann report`` summary table). They describe *how fast the good chips learn*;
  they say nothing about how many chips are good.
- ``*_all``: quantiles over *all* instances with a never-converged instance counted as taking
  ``+inf`` epochs. The q-quantile is the smallest epoch ``e`` such that at least a fraction ``q``
  of all instances had converged (for good) by epoch ``e`` (the inverse of the empirical CDF, no
  interpolation). It is ``+inf`` when fewer than a fraction ``q`` of instances ever converge,
  i.e. when the yield is below ``q``. Read it as "by this time, q of the chips are trained".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

__all__ = [
    "convergence_stats",
    "epoch_duration",
    "instance_bands",
    "learning_curve_bands",
    "sweep_dims",
]


def sweep_dims(ds: xr.Dataset) -> list[str]:
    """The sweep dimensions of a result dataset (those of its ``yield`` variable).

    Parameters
    ----------
    ds
        A result dataset.

    Returns
    -------
    list of str
        Sweep dimension names in grid order (e.g. ``["mismatch__scale"]``); empty when not swept.
    """
    if "yield" in ds:
        return list(ds["yield"].dims)
    return [d for d in ds["final_mse"].dims if d != "instance"]


def epoch_duration(ds: xr.Dataset) -> xr.DataArray:
    """Circuit time of one training epoch, ``rows * T_row``, in seconds.

    Parameters
    ----------
    ds
        A result dataset (uses ``ds.sizes["row"]`` and the ``T_row`` attribute).

    Returns
    -------
    xarray.DataArray
        A scalar, or an array over the ``task__T_row`` sweep dimension when ``task.T_row`` was
        swept (the attribute then holds only the base study's value).
    """
    rows = int(ds.sizes["row"])
    if "task__T_row" in ds.dims:
        t_row = ds["task__T_row"].astype(float)
    else:
        t_row = xr.DataArray(float(ds.attrs["T_row"]))
    out = (rows * t_row).rename("epoch_duration")
    out.attrs.update(units="s", long_name="circuit time of one epoch (rows x T_row)")
    return out


def _quantile_all(epochs: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Inverse empirical CDF over the last axis, NaN (never converged) counted as +inf."""
    e = np.where(np.isfinite(epochs), epochs, np.inf)
    e = np.sort(e, axis=-1)
    n = e.shape[-1]
    if n == 0:
        return np.full(e.shape[:-1] + (q.size,), np.nan)
    idx = np.clip(np.ceil(q * n).astype(int) - 1, 0, n - 1)
    return np.take(e, idx, axis=-1)


def _quantile_converged(epochs: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles over the last axis of the finite entries only (NaN if none)."""
    flat = epochs.reshape(-1, epochs.shape[-1])
    out = np.full((flat.shape[0], q.size), np.nan)
    for i, row in enumerate(flat):
        v = row[np.isfinite(row)]
        if v.size:
            out[i] = np.quantile(v, q)
    return out.reshape(epochs.shape[:-1] + (q.size,))


def convergence_stats(ds: xr.Dataset, quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> xr.Dataset:
    """Counts and quantiles of the convergence epoch and circuit time, per sweep point.

    See the module docstring for the two quantile conventions (``*_converged`` over converged
    instances only; ``*_all`` over all instances, never-converged counted as ``+inf``).

    Parameters
    ----------
    ds
        A result dataset.
    quantiles
        Quantile levels in [0, 1]; the default gives p10, median and p90.

    Returns
    -------
    xarray.Dataset
        Over the sweep dimensions (none for a single study), with a ``quantile`` dimension where
        relevant:

        - ``n_instances``, ``n_converged``, ``n_never`` (instances that do not meet the yield
          criterion at the final epoch, diverged ones included), ``n_diverged``;
        - ``yield``, ``yield_lo``, ``yield_hi`` copied from the dataset;
        - ``epochs_converged`` and ``time_converged`` [s]: quantiles over converged instances;
        - ``epochs_all`` and ``time_all`` [s]: quantiles over all instances (``inf``: the yield is
          below that quantile level);
        - ``epoch_duration`` [s]: circuit time of one epoch.

    Examples
    --------
    >>> cs = convergence_stats(ds)                       # doctest: +SKIP
    >>> cs["time_converged"].sel(quantile=0.5)           # median time of the chips that learn
    """
    q = np.asarray(quantiles, dtype=float)
    if q.ndim != 1 or np.any((q < 0) | (q > 1)):
        raise ValueError("quantiles: expected a sequence of levels in [0, 1]")
    dims = sweep_dims(ds)
    ep = ds["epochs_to_converge"].transpose(*dims, "instance")
    values = ep.values.astype(float)
    qdims = (*dims, "quantile")
    coords = {d: ds[d] for d in dims}
    coords["quantile"] = ("quantile", q, {"units": "1", "long_name": "quantile level over instances"})
    conv = ds["converged"].transpose(*dims, "instance")
    n_inst = int(ds.sizes["instance"])
    out = xr.Dataset(coords=coords)
    out["n_instances"] = conv.count("instance").astype(int)
    out["n_instances"].attrs.update(units="1", long_name="Monte Carlo instances")
    out["n_converged"] = conv.sum("instance").astype(int)
    out["n_converged"].attrs.update(units="1", long_name="instances converged at the final epoch")
    out["n_never"] = n_inst - out["n_converged"]
    out["n_never"].attrs.update(units="1", long_name="instances that never converged (diverged included)")
    out["n_diverged"] = ds["diverged"].sum("instance").astype(int)
    out["n_diverged"].attrs.update(units="1", long_name="instances whose weights became non-finite")
    for name in ("yield", "yield_lo", "yield_hi"):
        if name in ds:
            out[name] = ds[name]
    dur = epoch_duration(ds)
    out["epoch_duration"] = dur
    out["epochs_converged"] = (qdims, _quantile_converged(values, q),
                               {"units": "1", "long_name": "epochs to converge, quantile over converged instances"})
    out["epochs_all"] = (qdims, _quantile_all(values, q),
                         {"units": "1", "long_name": "epochs to converge, quantile over all instances "
                                                     "(never converged = inf)"})
    out["time_converged"] = out["epochs_converged"] * dur
    out["time_converged"].attrs.update(units="s", long_name="circuit time to converge, quantile over converged "
                                                            "instances")
    out["time_all"] = out["epochs_all"] * dur
    out["time_all"].attrs.update(units="s", long_name="circuit time to converge, quantile over all instances "
                                                      "(never converged = inf)")
    out.attrs.update(mse_threshold=ds.attrs.get("mse_threshold", np.nan), study_name=ds.attrs.get("study_name", ""))
    return out


def instance_bands(da: xr.DataArray, quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> xr.DataArray:
    """Quantiles over the ``instance`` dimension of any per-instance variable.

    Non-finite values (a diverged instance) are counted as ``+inf``, i.e. as the worst, so that a
    band is never made narrower by dropping bad chips; a quantile that falls on such an instance
    is ``inf``. Quantiles are the inverse empirical CDF (no interpolation), so a band edge is
    always the value of an actual instance.

    Parameters
    ----------
    da
        A variable with an ``instance`` dimension, e.g. ``ds["mse"]`` or ``ds["retention_mse"]``.
    quantiles
        Quantile levels in [0, 1].

    Returns
    -------
    xarray.DataArray
        ``da``'s dimensions with ``instance`` replaced by ``quantile`` (in the same place), same
        units.
    """
    q = np.asarray(quantiles, dtype=float)
    if q.ndim != 1 or np.any((q < 0) | (q > 1)):
        raise ValueError("quantiles: expected a sequence of levels in [0, 1]")
    others = [d for d in da.dims if d != "instance"]
    arr = da.transpose(*others, "instance").values.astype(float)
    arr = np.where(np.isnan(arr), np.inf, arr)
    arr = np.sort(arr, axis=-1)
    n = arr.shape[-1]
    idx = np.clip(np.ceil(q * n).astype(int) - 1, 0, n - 1)
    res = np.moveaxis(np.take(arr, idx, axis=-1), -1, 0)  # (quantile, *others)
    coords = {k: v for k, v in da.coords.items() if "instance" not in v.dims}
    coords["quantile"] = ("quantile", q, {"units": "1", "long_name": "quantile level over instances"})
    out = xr.DataArray(res, dims=("quantile", *others), coords=coords, name=da.name, attrs=dict(da.attrs))
    return out.transpose(*[("quantile" if d == "instance" else d) for d in da.dims])


def learning_curve_bands(ds: xr.Dataset, quantiles: Sequence[float] = (0.1, 0.5, 0.9),
                         variable: str = "mse") -> xr.DataArray:
    """Quantiles over instances of the learning curve, per epoch and sweep point.

    Parameters
    ----------
    ds
        A result dataset.
    quantiles
        Quantile levels in [0, 1]; the default gives the 10-90 % band and the median.
    variable
        The per-epoch variable, ``"mse"`` [V²] by default (``"accuracy_curve"`` works too).

    Returns
    -------
    xarray.DataArray
        Over ``(*sweep_dims, quantile, epoch)``, see :func:`instance_bands` for the handling of
        diverged instances.

    Examples
    --------
    >>> bands = learning_curve_bands(ds)                 # doctest: +SKIP
    >>> bands.sel(quantile=0.5).plot.line(x="epoch", yscale="log")
    """
    return instance_bands(ds[variable], quantiles)
