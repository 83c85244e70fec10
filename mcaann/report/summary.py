"""The one-screen summary of a result: yield with its interval, convergence quantiles, speed."""

from __future__ import annotations

import numpy as np
import xarray as xr
from rich.table import Table

from mcaann.stats.curves import sweep_dims


def _q(values: np.ndarray, q: float) -> float:
    v = values[np.isfinite(values)]
    return float(np.quantile(v, q)) if v.size else float("nan")


def _fmt(v: float, spec: str = ".3g") -> str:
    return "-" if not np.isfinite(v) else format(v, spec)


def summary_rows(ds: xr.Dataset) -> list[dict]:
    """Per sweep point: yield and interval, convergence epochs (p10/p50/p90), MSE, diverged."""
    dims = sweep_dims(ds)
    stacked = ds.stack(point=dims) if dims else ds.expand_dims(point=[0])
    rows = []
    for p in range(stacked.sizes["point"]):
        sub = stacked.isel(point=p)
        ep = sub["epochs_to_converge"].values
        conv = ep[np.isfinite(ep)]
        row = {d: sub[d].values.item() for d in dims}
        row.update(
            instances=int(sub.sizes["instance"]),
            converged=int(sub["converged"].sum()),
            yield_=float(sub["yield"]), yield_lo=float(sub["yield_lo"]), yield_hi=float(sub["yield_hi"]),
            ep10=_q(conv, 0.1), ep50=_q(conv, 0.5), ep90=_q(conv, 0.9),
            mse50=_q(sub["final_mse"].values, 0.5), mse90=_q(sub["final_mse"].values, 0.9),
            diverged=int(sub["diverged"].sum()),
        )
        rows.append(row)
    return rows


def _yield_rule(ds: xr.Dataset) -> str:
    """The yield criterion in words: held-out accuracy where the task holds rows out, else final MSE."""
    if "accuracy_test" in ds and bool(np.isfinite(ds["accuracy_test"]).any()):
        import tomllib

        thr = tomllib.loads(ds.attrs.get("study", "")).get("yield", {}).get("accuracy_threshold", float("nan"))
        return f"yield: held-out accuracy >= {thr:.3g}"
    return f"yield: final MSE <= {ds.attrs.get('mse_threshold', float('nan')):.3g} V²"


def summary_table(ds: xr.Dataset, title: str | None = None) -> Table:
    """A rich table of :func:`summary_rows`."""
    dims = sweep_dims(ds)
    t = Table(title=title or f"mcaann: {ds.attrs.get('study_name', '')}", title_justify="left")
    for d in dims:  # a sweep key's name is never cut
        name = d.replace("__", ".")
        t.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    for col in ("converged", "yield [95% CI]", "epochs\np10/50/90", "MSE [V²]\np50/p90", "div."):
        t.add_column(col, justify="right", no_wrap=True)
    for r in summary_rows(ds):
        cells = [f"{r[d]:.3g}" if isinstance(r[d], float) else str(r[d]) for d in dims]
        cells += [
            f"{r['converged']}/{r['instances']}",
            f"{100 * r['yield_']:.1f}% [{100 * r['yield_lo']:.1f},{100 * r['yield_hi']:.1f}]",
            f"{_fmt(r['ep10'], '.0f')}/{_fmt(r['ep50'], '.0f')}/{_fmt(r['ep90'], '.0f')}",
            f"{_fmt(r['mse50'])}/{_fmt(r['mse90'])}",
            str(r["diverged"]),
        ]
        t.add_row(*cells)
    a = ds.attrs
    caption = [f"{a.get('integrator', '?')}, dt = {a.get('dt', float('nan')):.3g} s, {a.get('dtype', '')}",
               _yield_rule(ds)]
    if "wall_time" in a:
        caption.append(f"wall {a['wall_time']:.1f} s, {a['instance_steps_per_second']:.3g} instance-steps/s")
        if "kernel_time" in a:
            total = a["wall_time"] + a.get("output_time", 0.0)
            caption.append(f"kernels {100 * a['kernel_time'] / total:.0f} % of wall and output")
    if "check_dt_max_dw" in a:
        verdict = "ok" if a["check_dt_ok"] else "WARNING: dt too coarse, results depend on the step"
        caption.append(f"dt/2 check on {a['check_dt_instances']} instances: max |dw| = "
                       f"{a['check_dt_max_dw']:.2g} V, max |dMSE| = {a['check_dt_max_dmse']:.2g} V² ({verdict})")
    t.caption = "; ".join(caption)
    return t
