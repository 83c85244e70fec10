"""Figures of a result dataset (PNG), made from the dataset alone: no study file, no simulation.

Every ``*_figure`` function returns a :class:`matplotlib.figure.Figure` built without pyplot
(no global state, no GUI backend), so that it can be shown in a notebook or saved;
:func:`write_figures` writes them all as PNG files. One panel per sweep point where a figure
compares instances (at most :data:`MAX_PANELS`; more points are subsampled evenly and the
title says so).
"""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import EngFormatter, MaxNLocator
from rich.markup import escape
from rich.table import Table

from mcaann.stats.attribution import separating_parameters, spearman_attribution
from mcaann.stats.curves import epoch_duration, instance_bands, sweep_dims

__all__ = [
    "MAX_PANELS",
    "attribution_figure",
    "attribution_table",
    "convergence_time_figure",
    "cost_figure",
    "learning_curve_figure",
    "retention_figure",
    "weight_figure",
    "write_figures",
    "yield_figure",
]

#: Most sweep points drawn as panels of one figure.
MAX_PANELS = 12

_FAIL = "tab:red"
_PASS = "tab:blue"
_BAND = "tab:blue"


# ----------------------------------------------------------------------------- helpers

def _fmt_value(v) -> str:
    if isinstance(v, float | np.floating | int | np.integer) and not isinstance(v, bool | np.bool_):
        return f"{float(v):g}"
    return str(v)


def _key(dim: str) -> str:
    return dim.replace("__", ".")


def _key_units(key: str) -> str:
    """Units of a study field from the schema's description (``"... [s]"``), or ``""``."""
    try:
        from mcaann.study.schema import Study

        model, field = Study, None
        for part in key.split("."):
            fields = model.model_fields
            name = part if part in fields else next((k for k, f in fields.items() if f.alias == part), None)
            if name is None:
                return ""
            field = fields[name]
            model = field.annotation
        m = re.search(r"\[([^\]]+)\]", (field.description or "") if field is not None else "")
        return m.group(1) if m else ""
    except Exception:  # noqa: BLE001 - units are a courtesy; never fail a figure on them
        return ""


def _key_label(dim: str) -> str:
    key = _key(dim)
    u = _key_units(key)
    return f"{key} [{u}]" if u and u != "1" else key


def _eng(value: float, unit: str) -> str:
    if not np.isfinite(value):
        return str(value)
    return EngFormatter(unit=unit, places=3 if value else None, sep=" ").format_data(value).replace(".000", "")


def _points(ds: xr.Dataset, max_points: int = MAX_PANELS, dims: list[str] | None = None) -> tuple[list[dict], int]:
    """Sweep points as ``{dim: index}`` (evenly subsampled to ``max_points``) and the total count."""
    dims = sweep_dims(ds) if dims is None else dims
    shape = [ds.sizes[d] for d in dims]
    total = int(np.prod(shape)) if dims else 1
    flat = range(total) if total <= max_points else np.unique(np.linspace(0, total - 1, max_points).round().astype(int))
    pts = [dict(zip(dims, (int(i) for i in np.unravel_index(k, shape)), strict=True)) if dims else {}
           for k in flat]
    return pts, total


def _fmt_key_value(dim: str, v) -> str:
    """A swept value with its units where the schema knows them (``100 ns``), else ``%g``."""
    u = _key_units(_key(dim))
    if u and u != "1" and re.fullmatch(r"[A-Za-z]+", u) and isinstance(v, float | int | np.floating | np.integer):
        return _eng(float(v), u)
    return _fmt_value(v)


def _point_label(ds: xr.Dataset, point: dict) -> str:
    return ", ".join(f"{_key(d)} = {_fmt_key_value(d, ds[d].values[i].item())}" for d, i in point.items())


def _combo_label(ds: xr.Dataset, combo: dict) -> str | None:
    """Legend label of a line: the value alone for one other key (its name is the legend title)."""
    if len(combo) == 1:
        (d, i), = combo.items()
        return _fmt_key_value(d, ds[d].values[i].item())
    return _point_label(ds, combo) or None


def _yield_text(sub: xr.Dataset) -> str:
    y, lo, hi = (float(sub[v]) for v in ("yield", "yield_lo", "yield_hi"))
    return f"yield {100 * y:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]"


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    """Rows and columns for ``n`` panels: one row up to ``max_cols``, then as square as allowed."""
    ncols = n if n <= max_cols else min(max_cols, math.ceil(math.sqrt(n)))
    return math.ceil(n / ncols), max(ncols, 1)


def _panels(fig: Figure, n: int, max_cols: int, **kw) -> list:
    """``n`` axes on a grid; unused cells hidden, x tick labels kept on every bottom-most panel."""
    nrows, ncols = _grid(n, max_cols)
    grid = fig.subplots(nrows, ncols, squeeze=False, **kw)
    axes = grid.ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for k in range(n):
        if k + ncols >= n:  # nothing visible below this panel
            axes[k].xaxis.set_tick_params(labelbottom=True)
    return list(axes[:n])


def _is_bottom(k: int, n: int, ncols: int) -> bool:
    return k + ncols >= n


def _label_panel(ax, ds: xr.Dataset, point: dict, sub: xr.Dataset, k: int, n: int, ncols: int, ylabel: str,
                 xlabel: str) -> None:
    """Panel k of n of a per-point grid: the point and its yield as title; y label on the left column, x label
    on the bottom row."""
    label = _point_label(ds, point)
    ax.set_title(f"{label}\n{_yield_text(sub)}" if label else _yield_text(sub), fontsize=10)
    if k % ncols == 0:
        ax.set_ylabel(ylabel)
    if _is_bottom(k, n, ncols):
        ax.set_xlabel(xlabel)


def _suptitle(fig: Figure, text: str, shown: int = 1, total: int = 1) -> None:
    """A figure title wrapped to the figure's width (so that it is never cut off)."""
    if total > shown:
        text += f" (showing {shown} of {total} sweep points)"
    width = max(30, int(fig.get_figwidth() * 9.5))
    fig.suptitle("\n".join(textwrap.wrap(text, width)))


def _study(ds: xr.Dataset) -> str:
    return str(ds.attrs.get("study_name", "result"))


def _epoch_note(ds: xr.Dataset, point: dict) -> str:
    return f"1 epoch = {_eng(_duration_at(ds, point), 's')} of circuit time"


def _duration_at(ds: xr.Dataset, point: dict) -> float:
    dur = epoch_duration(ds)
    if dur.ndim:
        return float(dur.isel({d: i for d, i in point.items() if d in dur.dims}))
    return float(dur)


def _finite(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return np.where(np.isfinite(a), a, np.nan)


def _example_instances(final_mse: np.ndarray, n: int) -> np.ndarray:
    """Instances at evenly spread quantiles of the final MSE (best to worst), so that they show the spread."""
    order = np.argsort(np.where(np.isnan(final_mse), np.inf, final_mse), kind="stable")
    if n <= 0 or order.size == 0:
        return order[:0]
    pick = np.unique(np.linspace(0, order.size - 1, min(n, order.size)).round().astype(int))
    return order[pick]


# ----------------------------------------------------------------------------- figures

def learning_curve_figure(ds: xr.Dataset, n_examples: int = 5) -> Figure:
    """Learning-curve fan: median MSE vs epoch, 10-90 % band, a few single instances, threshold.

    Parameters
    ----------
    ds
        A result dataset.
    n_examples
        Single instances drawn as thin lines, chosen at evenly spread quantiles of the final MSE.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per sweep point, log MSE axis, the yield threshold dashed.
    """
    points, total = _points(ds)
    bands = instance_bands(ds["mse"], (0.1, 0.5, 0.9))
    thr = float(ds.attrs.get("mse_threshold", np.nan))
    nrows, ncols = _grid(len(points), 3)
    fig = Figure(figsize=(max(6.4, 4.6 * ncols), 3.4 * nrows + 0.6), layout="constrained")
    axes = _panels(fig, len(points), 3, sharex=True, sharey=True)
    epoch = ds["epoch"].values
    for k, (ax, point) in enumerate(zip(axes, points, strict=True)):
        sub = ds.isel(point) if point else ds
        b = bands.isel(point) if point else bands
        lo, med, hi = (_finite(b.sel(quantile=q).values) for q in (0.1, 0.5, 0.9))
        ax.fill_between(epoch, lo, hi, color=_BAND, alpha=0.25, lw=0, label="10–90 % of instances")
        mse = sub["mse"].values
        for j, i in enumerate(_example_instances(sub["final_mse"].values, n_examples)):
            ax.plot(epoch, _finite(mse[i]), color="0.35", lw=0.7, alpha=0.8,
                    label="single instances" if j == 0 else None)
        ax.plot(epoch, med, color=_BAND, lw=2.0, label="median")
        if np.isfinite(thr):
            ax.axhline(thr, color=_FAIL, ls="--", lw=1.2, label=f"yield threshold {thr:g} V²")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="major", alpha=0.3)
        _label_panel(ax, ds, point, sub, k, len(points), ncols, "evaluation MSE [V²]",
                     f"epoch ({_epoch_note(ds, point)})")
        if k == 0:
            ax.legend(fontsize=8, loc="lower left")
    _suptitle(fig, f"Learning curves: {_study(ds)}, {ds.sizes['instance']} instances per point", len(points), total)
    return fig


def yield_figure(ds: xr.Dataset, max_lines: int = 8) -> Figure | None:
    """Yield vs each sweep key with its 95 % Wilson interval as error bars.

    Parameters
    ----------
    ds
        A result dataset.
    max_lines
        For multi-key sweeps, at most this many lines (one per combination of the other keys).

    Returns
    -------
    matplotlib.figure.Figure or None
        One panel per sweep key; ``None`` when nothing was swept.
    """
    dims = sweep_dims(ds)
    if not dims:
        return None
    fig = Figure(figsize=(max(6.4, 5.2 * len(dims)), 4.2), layout="constrained")
    axes = _panels(fig, len(dims), len(dims))
    y, lo, hi = (ds[v] * 100 for v in ("yield", "yield_lo", "yield_hi"))
    for ax, dim in zip(axes, dims, strict=True):
        others = [d for d in dims if d != dim]
        x = ds[dim].values
        numeric = x.dtype.kind in "fiu"
        xpos = x.astype(float) if numeric else np.arange(x.size)
        combos, total = _points(ds, max_lines, others)
        for j, combo in enumerate(combos):
            yy, ll, hh = (a.isel(combo).transpose(dim).values for a in (y, lo, hi))
            ax.errorbar(xpos, yy, yerr=[yy - ll, hh - yy], marker="o", ms=4, capsize=3, lw=1.4,
                        color=f"C{j % 10}", label=_combo_label(ds, combo))
        if numeric and np.all(xpos > 0) and xpos.max() / xpos.min() >= 100:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(xpos, [str(v) for v in x])
        else:
            u = _key_units(_key(dim))
            if u and u != "1" and re.fullmatch(r"[A-Za-z]+", u):
                ax.xaxis.set_major_formatter(EngFormatter(unit=u))
        ax.set_ylim(-3, 103)
        ax.set_xlabel(_key_label(dim))
        ax.set_ylabel("yield [%]")
        ax.grid(True, alpha=0.3)
        ttl = f"Yield vs {_key(dim)}"
        if others and total > len(combos):
            ttl += f"\n({len(combos)} of {total} lines shown)"
        ax.set_title(ttl, fontsize=10)
        if others:
            ax.legend(fontsize=8, title=", ".join(_key(d) for d in others), title_fontsize=8)
    n = ds.sizes["instance"]
    _suptitle(fig, f"Yield of {_study(ds)} (final MSE ≤ {ds.attrs.get('mse_threshold', float('nan')):g} V²), "
                   f"{n} instances per point, 95 % Wilson interval")
    return fig


def convergence_time_figure(ds: xr.Dataset) -> Figure:
    """Histogram of the convergence epoch (and circuit time on the top axis), never-converged counted.

    Parameters
    ----------
    ds
        A result dataset.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per sweep point; the legend gives the converged and never-converged counts
        and the median.
    """
    points, total = _points(ds)
    n_ep = int(ds.sizes["epoch"]) - 1
    width = max(1, math.ceil(n_ep / 40))  # whole epochs per bin, so that no bin is favoured
    edges = np.arange(0, n_ep + width + 1, width) - 0.5
    nrows, ncols = _grid(len(points), 3)
    fig = Figure(figsize=(max(6.4, 4.6 * ncols), 3.5 * nrows + 0.6), layout="constrained")
    axes = _panels(fig, len(points), 3, sharex=True)
    for k, (ax, point) in enumerate(zip(axes, points, strict=True)):
        sub = ds.isel(point) if point else ds
        ep = sub["epochs_to_converge"].values.astype(float)
        conv = ep[np.isfinite(ep)]
        n = ep.size
        n_never = n - conv.size
        handles = []
        if conv.size:
            counts, _ = np.histogram(conv, bins=edges)
            handles.append(ax.stairs(counts, edges, fill=True, color=_PASS, alpha=0.75,
                                     label=f"converged: {conv.size} of {n}"))
            med = float(np.median(conv))
            handles.append(ax.axvline(med, color="k", ls="--", lw=1.2, label=f"median {med:.0f} epochs"))
        else:
            ax.text(0.5, 0.55, "no instance converged", transform=ax.transAxes, ha="center", va="center",
                    fontsize=11, color="0.3")
        handles.append(Patch(facecolor="none", edgecolor=_FAIL, hatch="//",
                             label=f"never converged: {n_never} of {n} (not shown)"))
        ax.legend(handles=handles, fontsize=8, loc="upper left")
        ax.set_xlim(-0.5, n_ep + 0.5)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.45)  # room for the legend above the bars
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        dur = _duration_at(ds, point)
        scale, prefix = _si_scale(dur * max(n_ep, 1))
        top = ax.secondary_xaxis("top", functions=(lambda e, d=dur, s=scale: e * d / s,
                                                   lambda t, d=dur, s=scale: t * s / d))
        top.set_xlabel(f"circuit time [{prefix}s]", fontsize=9)
        _label_panel(ax, ds, point, sub, k, len(points), ncols, "instances", "epochs to converge")
        ax.grid(True, axis="y", alpha=0.3)
    _suptitle(fig, f"Convergence time: {_study(ds)}, {ds.sizes['instance']} instances per point", len(points), total)
    return fig


def _si_scale(value: float) -> tuple[float, str]:
    """A power of 1000 and its SI prefix so that ``value / scale`` is in [1, 1000)."""
    prefixes = {-15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G"}
    if not np.isfinite(value) or value <= 0:
        return 1.0, ""
    e = int(np.clip(3 * math.floor(math.log10(value) / 3), -15, 9))
    return 10.0 ** e, prefixes[e]


def attribution_figure(ds: xr.Dataset, top: int = 12) -> Figure | None:
    """Failure attribution: the ``top`` parameters by ``|Spearman rho|`` with the final MSE.

    Each bar is one parameter, represented by its most correlated element (named on the axis,
    e.g. ``kg[w=5]``); red: a larger value goes with a larger MSE, blue: with a smaller one;
    pale bars are not significant after the Bonferroni correction over all elements tested.

    Parameters
    ----------
    ds
        A result dataset.
    top
        Bars per panel.

    Returns
    -------
    matplotlib.figure.Figure or None
        One panel per sweep point; ``None`` when no sampled parameter varies at any point
        (mismatch off, ideal blocks): there is nothing to attribute.
    """
    table = spearman_attribution(ds, level="parameter")
    if table.empty:
        return None
    dims = sweep_dims(ds)
    points, total = _points(ds)
    nrows, ncols = _grid(len(points), 2)
    fig = Figure(figsize=(max(7.5, 6.2 * ncols), (0.26 * top + 1.6) * nrows + 0.9), layout="constrained")
    axes = _panels(fig, len(points), 2)
    lim = min(1.0, max(0.1, float(table["abs_rho"].max()) * 1.15))
    for ax, point in zip(axes, points, strict=True):
        sub = ds.isel(point) if point else ds
        sel = table
        for d, i in point.items():
            sel = sel[sel[d] == ds[d].values[i].item()]
        sel = sel.head(top)
        label = _point_label(ds, point)
        n_fail = int((~sub["converged"].values.astype(bool)).sum())
        head = f"{n_fail} of {sub.sizes['instance']} instances failing"
        ax.set_title(f"{label}\n{head}" if label else head, fontsize=10)
        ax.set_xlim(-lim, lim)
        ax.set_xlabel("Spearman ρ with final MSE [1]")
        if sel.empty:
            ax.set_yticks([])
            ax.text(0.5, 0.5, "no sampled parameter varies\n(or the final MSE does not)", transform=ax.transAxes,
                    ha="center", va="center", fontsize=10, color="0.3")
            continue
        ax.axvline(0, color="k", lw=0.8)
        ypos = top - 1 - np.arange(len(sel))
        colours = [_FAIL if r > 0 else _PASS for r in sel["rho"]]
        alphas = [0.9 if p < 0.05 else 0.3 for p in sel["p_bonferroni"]]
        for yp, r, c, a in zip(ypos, sel["rho"], colours, alphas, strict=True):
            ax.barh(yp, r, color=c, alpha=a, height=0.7)
        ax.set_yticks(ypos, [f"{e}  ({b})" if b else e for e, b in zip(sel["element"], sel["block"], strict=True)],
                      fontsize=8)
        ax.set_ylim(-0.7, top - 0.3)
        ax.grid(True, axis="x", alpha=0.3)
    legend = [Patch(color=_FAIL, alpha=0.9, label="ρ > 0: larger value, larger MSE"),
              Patch(color=_PASS, alpha=0.9, label="ρ < 0: larger value, smaller MSE"),
              Patch(color="0.5", alpha=0.3, label="not significant (Bonferroni p ≥ 0.05)")]
    fig.legend(handles=legend, loc="outside lower center", ncols=3, fontsize=8)
    what = f"per {', '.join(_key(d) for d in dims)} point" if dims else ""
    _suptitle(fig, f"Failure attribution: {_study(ds)}, top {top} parameters by |Spearman ρ| {what}".rstrip(),
              len(points), total)
    return fig


def _layer_names(ds: xr.Dataset) -> list[tuple[int, str]]:
    if "layer" not in ds.coords:
        return [(0, "all weights")]
    out = []
    for layer in np.unique(ds["layer"].values):
        m = ds["layer"].values == layer
        n_pre = int(ds["pre"].values[m].max()) if "pre" in ds.coords else 0
        n_post = int(ds["post"].values[m].max()) + 1 if "post" in ds.coords else 0
        out.append((int(layer), f"layer {layer} ({n_pre}→{n_post}, {int(m.sum())} weights incl. bias)"))
    return out


def _robust_edges(values: np.ndarray, bins: int = 50) -> tuple[np.ndarray, bool]:
    """Histogram edges over the finite values; with long tails, over the central 99 % (``True``)."""
    v = values[np.isfinite(values)]
    if not v.size:
        return np.linspace(-1.0, 1.0, bins + 1), False
    lo, hi = float(v.min()), float(v.max())
    qlo, qhi = (float(x) for x in np.quantile(v, [0.005, 0.995]))
    cut = hi - lo > 3 * (qhi - qlo)
    if cut:
        lo, hi = qlo, qhi
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1), cut


def weight_figure(ds: xr.Dataset, max_points: int = 6) -> Figure:
    """Weight voltages before and after training, per weight layer (and sweep point).

    Initial weights are a grey area; final weights are outlined separately for instances that
    converged (blue) and failed (red), so that a failure mode such as weights stuck at a rail
    shows up; diverged instances are left out (their weights are not physical) and counted in
    the legend. Histograms are densities (each group has area 1) so that groups of different size
    compare; each panel has its own range, and with long tails the outermost 0.5 % on each side
    is counted in the end bins.

    Parameters
    ----------
    ds
        A result dataset.
    max_points
        At most this many sweep points (rows of panels).

    Returns
    -------
    matplotlib.figure.Figure
        Rows: sweep points; columns: weight layers.
    """
    points, total = _points(ds, max_points)
    layers = _layer_names(ds)
    nrows, ncols = len(points), len(layers)
    fig = Figure(figsize=(max(6.4, 4.8 * ncols), 3.0 * nrows + 0.8), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    layer_of = ds["layer"].values if "layer" in ds.coords else np.zeros(ds.sizes["weight"], int)
    clipped = False
    for c, (layer, lname) in enumerate(layers):
        m = layer_of == layer
        for r, point in enumerate(points):
            sub = (ds.isel(point) if point else ds).isel(weight=m)
            div = sub["diverged"].values.astype(bool)  # frozen at non-physical values: left out, counted
            edges, cut = _robust_edges(np.concatenate([sub["w_init"].values.ravel(),
                                                       sub["w_final"].values[~div].ravel()]))
            lo, hi = edges[0], edges[-1]
            clipped |= cut
            ax = axes[r, c]
            ok = sub["converged"].values.astype(bool)
            wi = sub["w_init"].values.ravel()
            wf = sub["w_final"].values
            dens, _ = np.histogram(np.clip(wi[np.isfinite(wi)], lo, hi), bins=edges, density=True)
            ax.stairs(dens, edges, fill=True, color="0.6", alpha=0.5, label="initial (all)")
            for sel, colour, name in ((ok & ~div, _PASS, "converged"), (~ok & ~div, _FAIL, "failed")):
                v = wf[sel].ravel()
                v = v[np.isfinite(v)]
                if v.size:
                    dens, _ = np.histogram(np.clip(v, lo, hi), bins=edges, density=True)
                    ax.stairs(dens, edges, lw=1.5, color=colour, label=f"final, {name} ({int(sel.sum())} inst.)")
            if div.any():
                ax.plot([], [], " ", label=f"diverged, left out ({int(div.sum())} inst.)")
            label = _point_label(ds, point)
            ax.set_title(f"{lname}\n{label}" if label else lname, fontsize=9)
            if c == 0:
                ax.set_ylabel("density [1/V]")
            if r == nrows - 1:
                ax.set_xlabel("weight voltage [V]")
            ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # room for the legend
            ax.legend(fontsize=7, loc="upper right")
            ax.grid(True, alpha=0.3)
    note = "; long tails: outermost 0.5 % on each side counted in the end bins" if clipped else ""
    _suptitle(fig, f"Weight voltages before and after training: {_study(ds)}{note}", len(points), total)
    return fig


def retention_figure(ds: xr.Dataset) -> Figure | None:
    """Retention: MSE after holding the trained weights (teaching off) vs hold time.

    Parameters
    ----------
    ds
        A result dataset with ``retention_mse`` over ``hold_time``.

    Returns
    -------
    matplotlib.figure.Figure or None
        Median and 10-90 % band per sweep point (log axes); the median final MSE right after
        training is dotted. ``None`` without a retention phase.
    """
    if "retention_mse" not in ds or "hold_time" not in ds.dims:
        return None
    points, total = _points(ds)
    bands = instance_bands(ds["retention_mse"], (0.1, 0.5, 0.9))
    t = ds["hold_time"].values.astype(float)
    pos = t > 0
    thr = float(ds.attrs.get("mse_threshold", np.nan))
    nrows, ncols = _grid(len(points), 3)
    fig = Figure(figsize=(max(6.4, 4.6 * ncols), 3.4 * nrows + 0.6), layout="constrained")
    axes = _panels(fig, len(points), 3, sharex=True, sharey=True)
    for k, (ax, point) in enumerate(zip(axes, points, strict=True)):
        sub = ds.isel(point) if point else ds
        b = bands.isel(point) if point else bands
        lo, med, hi = (_finite(b.sel(quantile=q).values)[pos] for q in (0.1, 0.5, 0.9))
        ax.fill_between(t[pos], lo, hi, color=_BAND, alpha=0.25, lw=0, label="10–90 % of instances")
        ax.plot(t[pos], med, "o-", color=_BAND, lw=2, ms=4, label="median")
        final = _finite(sub["final_mse"].values)
        if np.isfinite(final).any():
            ax.axhline(np.nanmedian(final), color="k", ls=":", lw=1.2, label="median right after training")
        if np.isfinite(thr):
            ax.axhline(thr, color=_FAIL, ls="--", lw=1.2, label=f"yield threshold {thr:g} V²")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(EngFormatter(unit="s"))
        ax.grid(True, which="major", alpha=0.3)
        _label_panel(ax, ds, point, sub, k, len(points), ncols, "evaluation MSE [V²]", "hold time, teaching off [s]")
        if k == 0:
            ax.legend(fontsize=8)
    _suptitle(fig, f"Retention: {_study(ds)}, MSE after holding the trained weights", len(points), total)
    return fig


# ----------------------------------------------------------------------------- outputs

def is_budget(ds: xr.Dataset) -> bool:
    """Whether ``ds`` is a yield budget (``mcaann budget``) rather than a result."""
    return ds.attrs.get("mcaann_dataset") == "yield_budget"


def budget_figure(ds: xr.Dataset) -> Figure:
    """Horizontal bars per kind of variation, sorted by the yield recovered with that kind removed (with its
    paired 95 % interval), beside the yield change with the kind doubled."""
    order = np.argsort(ds["recovered"].values, kind="stable")  # largest at the top
    sub = ds.isel(kind=order)
    kinds = [str(k) for k in sub["kind"].values]
    y = np.arange(len(kinds))
    fig = Figure(figsize=(8.0, 1.2 + 0.38 * len(kinds)), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (var, title, colour) in zip(axes, (("recovered", "kind removed", "tab:green"),
                                              ("doubled_change", "kind doubled", "tab:red")), strict=True):
        v = 100 * sub[var].values
        err = np.vstack([v - 100 * sub[f"{var}_lo"].values, 100 * sub[f"{var}_hi"].values - v])
        active = sub["active"].values.astype(bool)
        ax.barh(y, v, xerr=err, color=[colour if a else "lightgrey" for a in active], capsize=3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(f"yield change, {title} [percentage points]")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, [k if a else f"{k} (fixed)" for k, a in zip(kinds, sub["active"].values, strict=True)])
    fig.suptitle(f"Yield budget of {ds.attrs.get('study_name', '')}: {ds.sizes['instance']} chips, yield "
                 f"{100 * float(ds['yield']):.1f} % [{100 * float(ds['yield_lo']):.1f}, "
                 f"{100 * float(ds['yield_hi']):.1f}]; paired 95 % intervals")
    return fig


def strategy_figure(ds: xr.Dataset) -> Figure | None:
    """Accuracy against ``mismatch.scale`` per strategy (``report.strategies``)."""
    from mcaann.report.strategies import strategy_figure as make

    return make(ds)


def cost_figure(ds: xr.Dataset) -> Figure | None:
    """Yield against chip area and against energy to converge, one marker per sweep point (e.g. a
    ``mismatch.area_scale`` sweep), with the yield's 95 % Wilson interval and, for the energy, the 25-75 %
    range over the converged chips around their median.

    Returns
    -------
    matplotlib.figure.Figure or None
        Two panels; ``None`` when nothing was swept or the result has no ``chip_area``.
    """
    dims = sweep_dims(ds)
    if not dims or "chip_area" not in ds or "energy_to_converge" not in ds:
        return None
    points, total = _points(ds, MAX_PANELS * 4, dims)
    fig = Figure(figsize=(11.0, 4.4), layout="constrained")
    ax_a, ax_e = _panels(fig, 2, 2)
    for k, pt in enumerate(points):
        sub = ds.isel(pt)
        y = 100 * float(sub["yield"])
        yerr = [[y - 100 * float(sub["yield_lo"])], [100 * float(sub["yield_hi"]) - y]]
        lab = _point_label(ds, pt)
        col = f"C{k % 10}"
        ax_a.errorbar([float(sub["chip_area"]) * 1e6], [y], yerr=yerr, marker="o", ms=5, capsize=3, color=col,
                      label=lab)
        e = sub["energy_to_converge"].values
        e = e[np.isfinite(e)]  # not converged (NaN), or ideal blocks with no defined power (inf)
        if e.size:
            q25, q50, q75 = np.percentile(e, [25, 50, 75])
            ax_e.errorbar([q50], [y], xerr=[[q50 - q25], [q75 - q50]], yerr=yerr, marker="o", ms=5, capsize=3,
                          color=col, label=lab)
    ax_a.set_xlabel("chip area [mm²] (devices and capacitors, no wiring)")
    ax_e.set_xlabel("energy to converge [J], median and 25-75 % of converged chips")
    ax_e.xaxis.set_major_formatter(EngFormatter(unit="J"))
    for ax in (ax_a, ax_e):
        ax.set_ylim(-3, 103)
        ax.set_ylabel("yield [%]")
        ax.grid(True, alpha=0.3)
    ax_a.set_title("Yield vs chip area", fontsize=10)
    ax_e.set_title("Yield vs energy to converge", fontsize=10)
    ax_a.legend(fontsize=8)
    shown = f" ({len(points)} of {total} points)" if total > len(points) else ""
    _suptitle(fig, f"Cost of yield, {_study(ds)}: {ds.sizes['instance']} instances per point, 95 % Wilson "
                   f"interval{shown}")
    return fig


def write_figures(ds: xr.Dataset, folder: str | Path, *, dpi: int = 120) -> list[Path]:
    """Write every figure that applies to ``ds`` as a PNG file into ``folder``.

    Parameters
    ----------
    ds
        A result dataset (``mcaann.open_result``).
    folder
        Output folder, created if missing; existing files of the same names are replaced.
    dpi
        Resolution of the PNG files.

    Returns
    -------
    list of pathlib.Path
        The files written, in this order: ``learning_curves.png``, ``yield.png`` and ``cost.png`` (yield against
        chip area and energy to converge; sweeps only), ``convergence_time.png``, ``attribution.png`` (when some
        sampled parameter varies), ``weights.png``, ``retention.png`` (when the result has a retention phase),
        ``strategies.png`` (when ``training.strategy`` and ``mismatch.scale`` are swept); for a yield budget
        (``mcaann budget``)
        ``budget.png`` only.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    makers = ((("budget", budget_figure),) if is_budget(ds) else ()) or (
        ("learning_curves", learning_curve_figure),
        ("yield", yield_figure),
        ("cost", cost_figure),
        ("convergence_time", convergence_time_figure),
        ("attribution", attribution_figure),
        ("weights", weight_figure),
        ("retention", retention_figure),
        ("strategies", strategy_figure),
    )
    written = []
    for name, make in makers:
        fig = make(ds)
        if fig is None:
            continue
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=dpi)
        written.append(path)
    return written


def attribution_table(ds: xr.Dataset, top: int = 10, title: str | None = None) -> Table:
    """A rich table of the parameter elements most associated with failure, per sweep point.

    Parameters
    ----------
    ds
        A result dataset.
    top
        Rows per sweep point.
    title
        Table title (default names the study).

    Returns
    -------
    rich.table.Table
        Per sweep point, the ``top`` elements by ``|Spearman rho|`` with the final MSE: element,
        location, block, rho, Bonferroni p, and the AUC of failing vs passing instances (the
        probability that a failing instance has the larger value; blank when every instance
        passes or fails). Empty (with a caption saying why) when no sampled parameter varies.
    """
    dims = sweep_dims(ds)
    rho = spearman_attribution(ds, level="element")
    sep = separating_parameters(ds, level="element")
    key = [*dims, "label"]
    if not rho.empty and not sep.empty:
        rho = rho.merge(sep[[*key, "auc"]], on=key, how="left")
    else:
        rho = rho.assign(auc=np.nan)
    t = Table(title=title or f"failure attribution: {_study(ds)}", title_justify="left")
    for d in dims:
        t.add_column(_key(d), justify="right")
    for col, just in (("#", "right"), ("element", "left"), ("location", "left"), ("block", "left"),
                      ("Spearman ρ", "right"), ("p (Bonferroni)", "right"), ("AUC fail>pass", "right")):
        t.add_column(col, justify=just)
    if rho.empty:
        t.caption = "no sampled parameter varies over instances (mismatch off?): nothing to attribute"
        return t
    rho = rho[rho["rank"] <= top]
    for _, r in rho.iterrows():
        auc = r["auc"]
        t.add_row(*[_fmt_value(r[d]) for d in dims], str(r["rank"]), escape(r["label"]), r["location"], r["block"],
                  f"{r['rho']:+.3f}", f"{r['p_bonferroni']:.2g}", "" if not np.isfinite(auc) else f"{auc:.2f}")
    t.caption = ("ρ > 0: a larger parameter value goes with a larger final MSE; p is Bonferroni-corrected over "
                 "every element tested at that point")
    return t

