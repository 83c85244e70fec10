"""The strategy comparison of a result whose ``training.strategy`` is swept: a table strategy x (yield,
held-out accuracy p10/p50/p90, software and chip training time) per sweep point, the paired per-chip
differences, and accuracy against ``mismatch.scale`` per strategy."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from rich.table import Table

from mcaann.stats.curves import sweep_dims
from mcaann.stats.strategies import STRATEGY_DIM, heldout_accuracy, paired_mean_difference, strategies

SCALE_DIM = "mismatch__scale"


def _other_points(ds: xr.Dataset) -> list[dict]:
    """Assignments of the sweep dimensions other than the strategy, in grid order."""
    dims = [d for d in sweep_dims(ds) if d != STRATEGY_DIM]
    if not dims:
        return [{}]
    grids = np.meshgrid(*[ds[d].values for d in dims], indexing="ij")
    return [{d: g.ravel()[k].item() for d, g in zip(dims, grids, strict=True)} for k in range(grids[0].size)]


def _at(ds: xr.Dataset, point: dict, strategy: str | None) -> xr.Dataset:
    sub = ds.sel(point) if point else ds
    return sub.sel({STRATEGY_DIM: strategy}) if strategy is not None and STRATEGY_DIM in sub.dims else sub


def shows_strategies(ds: xr.Dataset) -> bool:
    """Whether a result has something for the strategy table: a strategy sweep, a strategy other than in situ,
    or held-out rows."""
    held = "accuracy_test" in ds and bool(np.isfinite(ds["accuracy_test"]).any())
    return STRATEGY_DIM in ds.dims or strategies(ds) != ["in_situ"] or held


def strategy_rows(ds: xr.Dataset) -> list[dict]:
    """Per sweep point (other than the strategy) and strategy: yield and its interval, held-out accuracy
    p10/p50/p90, the software training time [s] of the point (its chips together) and a chip's training
    time [s] (circuit time)."""
    rows = []
    for point in _other_points(ds):
        for s in strategies(ds):
            sub = _at(ds, point, s if STRATEGY_DIM in ds.dims else None)
            acc = heldout_accuracy(sub).values
            acc = acc[np.isfinite(acc)]
            q = np.quantile(acc, [0.1, 0.5, 0.9]) if acc.size else [np.nan] * 3
            soft = float(sub["software_time"].sum()) if "software_time" in sub else 0.0
            chip = float(sub["chip_training_time"]) if "chip_training_time" in sub else np.nan
            rows.append({"point": point, "strategy": s, "instances": int(sub.sizes["instance"]),
                         "yield_": float(sub["yield"]), "yield_lo": float(sub["yield_lo"]),
                         "yield_hi": float(sub["yield_hi"]), "acc10": q[0], "acc50": q[1], "acc90": q[2],
                         "software_time": soft, "chip_time": chip})
    return rows


def _point_columns(t: Table, ds: xr.Dataset) -> list[str]:
    dims = [d for d in sweep_dims(ds) if d != STRATEGY_DIM]
    for d in dims:  # a sweep key's name is never cut
        name = d.replace("__", ".")
        t.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    t.add_column("strategy", no_wrap=True)
    return dims


def _point_cells(dims: list[str], row: dict) -> list[str]:
    return [f"{row['point'][d]:.3g}" if isinstance(row["point"][d], float) else str(row["point"][d]) for d in dims]


def strategy_table(ds: xr.Dataset, title: str | None = None) -> Table:
    """A rich table of :func:`strategy_rows`."""
    t = Table(title=title or f"strategies: {ds.attrs.get('study_name', '')}", title_justify="left")
    dims = _point_columns(t, ds)
    for col in ("yield [95% CI]", "held-out acc.\np10/p50/p90", "software\n[s]", "chip\n[s]"):
        t.add_column(col, justify="right", no_wrap=True)
    for r in strategy_rows(ds):
        t.add_row(*_point_cells(dims, r), r["strategy"],
                  f"{100 * r['yield_']:.1f}% [{100 * r['yield_lo']:.1f},{100 * r['yield_hi']:.1f}]",
                  "/".join(f"{v:.3f}" for v in (r["acc10"], r["acc50"], r["acc90"])),
                  f"{r['software_time']:.3g}", f"{r['chip_time']:.3g}")
    t.caption = ("held-out accuracy: argmax on the held-out rows (training rows where the task holds none out); "
                 "software: wall time of the software training of the point's chips; chip: circuit time one "
                 "chip trains")
    return t


def paired_rows(ds: xr.Dataset, reference: str | None = None) -> list[dict]:
    """Per sweep point, every strategy against ``reference`` (default the first swept): the per-chip difference of
    held-out accuracy with its 95 % interval (:func:`mcaann.stats.strategies.paired_mean_difference`)."""
    if STRATEGY_DIM not in ds.dims:
        return []
    names = strategies(ds)
    reference = reference or names[0]
    rows = []
    for point in _other_points(ds):
        base = heldout_accuracy(_at(ds, point, reference)).values
        for s in names:
            if s != reference:
                other = heldout_accuracy(_at(ds, point, s)).values
                rows.append({"point": point, "strategy": s, "reference": reference,
                             **paired_mean_difference(other, base)})
    return rows


def paired_table(ds: xr.Dataset, reference: str | None = None) -> Table | None:
    """A rich table of :func:`paired_rows`; None without a strategy sweep."""
    rows = paired_rows(ds, reference)
    if not rows:
        return None
    t = Table(title=f"paired on the same chips: held-out accuracy minus {rows[0]['reference']}'s",
              title_justify="left")
    dims = _point_columns(t, ds)
    for col in ("mean difference\n[95% CI]", "chips better/\nworse/equal"):
        t.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        t.add_row(*_point_cells(dims, r), r["strategy"], f"{r['mean']:+.4f} [{r['lo']:+.4f},{r['hi']:+.4f}]",
                  f"{r['better']}/{r['worse']}/{r['equal']}")
    return t


def strategy_figure(ds: xr.Dataset) -> Figure | None:
    """Held-out accuracy against ``mismatch.scale`` per strategy (median, p10-p90 band) and the paired
    per-chip difference to the first strategy with its 95 % interval; None unless both are swept."""
    if STRATEGY_DIM not in ds.dims or SCALE_DIM not in ds.dims:
        return None
    others = [d for d in sweep_dims(ds) if d not in (STRATEGY_DIM, SCALE_DIM)]
    sub = ds.isel({d: 0 for d in others}) if others else ds
    scales = sub[SCALE_DIM].values.astype(float)
    names = strategies(sub)
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax, bx = fig.subplots(1, 2)
    for s in names:
        acc = heldout_accuracy(sub.sel({STRATEGY_DIM: s}))
        q = acc.quantile([0.1, 0.5, 0.9], dim="instance").values  # (3, scales)
        line = ax.plot(scales, q[1], marker="o", label=s)[0]
        ax.fill_between(scales, q[0], q[2], color=line.get_color(), alpha=0.15)
    ax.set_xlabel("mismatch.scale")
    ax.set_ylabel("held-out accuracy (median, p10-p90)")
    ax.legend(fontsize="small")
    ref = names[0]
    for s in names[1:]:
        d = [paired_mean_difference(heldout_accuracy(sub.sel({STRATEGY_DIM: s, SCALE_DIM: v})).values,
                               heldout_accuracy(sub.sel({STRATEGY_DIM: ref, SCALE_DIM: v})).values) for v in scales]
        mean = np.array([x["mean"] for x in d])
        err = np.array([[x["mean"] - x["lo"] for x in d], [x["hi"] - x["mean"] for x in d]])
        bx.errorbar(scales, mean, yerr=err, marker="o", capsize=3, label=f"{s} - {ref}")
    bx.axhline(0.0, color="grey", lw=0.8)
    bx.set_xlabel("mismatch.scale")
    bx.set_ylabel("paired per-chip difference (mean, 95% CI)")
    bx.legend(fontsize="small")
    title = f"{ds.attrs.get('study_name', '')}: strategies on the same chips"
    if others:
        title += " (" + ", ".join(f"{d.replace('__', '.')} = {sub[d].values.item()}" for d in others) + ")"
    fig.suptitle(title)
    return fig
