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


#: fractions of all chips whose convergence epoch the summary prints
NEED_QUANTILES = (0.5, 0.9, 0.99)


def epochs_needed(epochs_to_converge: np.ndarray, q: float) -> float:
    """The epochs that a fraction ``q`` of all chips needs to converge: the empirical quantile with a chip that
    never converged counted as needing more than the budget (``inf``: the fraction is not reached)."""
    e = np.sort(np.where(np.isfinite(epochs_to_converge), epochs_to_converge, np.inf))
    return float(e[min(max(int(np.ceil(q * e.size)) - 1, 0), e.size - 1)]) if e.size else float("nan")


def _need(v: float, budget: int) -> str:
    """An epoch count, or ``>N`` where the fraction is not reached within the budget of N epochs."""
    return f">{budget}" if v == np.inf else _fmt(v, ".0f")


def summary_rows(ds: xr.Dataset) -> list[dict]:
    """Per sweep point: yield and interval, convergence epochs (p10/p50/p90 of the converged chips), the epochs that
    50, 90 and 99 % of all chips need (``need50``, ``need90``, ``need99``; ``inf``: not reached within the budget
    ``budget``), MSE, diverged."""
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
            budget=int(sub["epoch"].values.max()),
            **{f"need{round(100 * q)}": epochs_needed(ep, q) for q in NEED_QUANTILES},
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
    for col in ("converged", "yield [95% CI]", "epochs for\n50/90/99 %", "MSE [V²]\np50/p90", "div."):
        t.add_column(col, justify="right", no_wrap=True)
    for r in summary_rows(ds):
        cells = [f"{r[d]:.3g}" if isinstance(r[d], float) else str(r[d]) for d in dims]
        cells += [
            f"{r['converged']}/{r['instances']}",
            f"{100 * r['yield_']:.1f}% [{100 * r['yield_lo']:.1f},{100 * r['yield_hi']:.1f}]",
            "/".join(_need(r[f"need{round(100 * q)}"], r["budget"]) for q in NEED_QUANTILES),
            f"{_fmt(r['mse50'])}/{_fmt(r['mse90'])}",
            str(r["diverged"]),
        ]
        t.add_row(*cells)
    a = ds.attrs
    caption = [f"{a.get('integrator', '?')}, dt = {a.get('dt', float('nan')):.3g} s, {a.get('dtype', '')}",
               _yield_rule(ds) + f" within the budget of {int(ds['epoch'].values.max())} epochs (>N: that share "
               "of chips not converged within it)"]
    if "wall_time" in a:
        caption.append(f"wall {a['wall_time']:.1f} s, {a['instance_steps_per_second']:.3g} instance-steps/s")
        if "kernel_time" in a:
            total = a["wall_time"] + a.get("output_time", 0.0)
            caption.append(f"kernels {100 * a['kernel_time'] / total:.0f} % of wall and output")
    if "check_dt_max_dw" in a:
        verdict = "ok" if a["check_dt_ok"] else "WARNING: dt too coarse, results depend on the step"
        flips = (f", max |d epochs| = {a['check_dt_max_depochs']:.0f}, {a['check_dt_outcome_changes']} outcomes change"
                 if "check_dt_outcome_changes" in a else "")
        caption.append(f"dt/2 check on {a['check_dt_instances']} instances: max |dw| = "
                       f"{a['check_dt_max_dw']:.2g} V, max |dMSE| = {a['check_dt_max_dmse']:.2g} V²{flips} ({verdict})")
    t.caption = "; ".join(caption)
    return t


def _compact() -> dict:
    from rich import box

    return {"box": box.SIMPLE_HEAD, "pad_edge": False, "collapse_padding": True}


def _pp(v: float, sign: str = "+") -> str:
    return _fmt(100 * v, f"{sign}.1f")


def _pp_ci(r: xr.Dataset, var: str) -> str:
    return f"{_pp(float(r[var]))} [{_pp(float(r[var + '_lo']), '')},{_pp(float(r[var + '_hi']), '')}]"


def budget_table(ds: xr.Dataset) -> Table:
    """The yield budget (``mcaann budget``) as a table, kinds sorted by the yield recovered with them removed."""
    n = ds.sizes["instance"]
    t = Table(title=f"yield budget: {ds.attrs.get('study_name', '')}, {n} chips, yield "
                    f"{100 * float(ds['yield']):.1f}% [{100 * float(ds['yield_lo']):.1f},"
                    f"{100 * float(ds['yield_hi']):.1f}]", title_justify="left", **_compact())
    t.add_column("kind", no_wrap=True, width=max(len(str(k)) for k in ds["kind"].values))
    for col in ("w/o\n%", "recovered pp\n[95% CI]", "resc.\n/harm", "p", "doubled pp\n[95% CI]"):
        t.add_column(col, justify="right", no_wrap=True)
    for i in np.argsort(-ds["recovered"].values, kind="stable"):
        r = ds.isel(kind=int(i))
        if not bool(r["active"]):
            t.add_row(str(r["kind"].values), "-", "fixed", "-", "-", "-")
            continue
        p = float(r["p_value"])
        t.add_row(str(r["kind"].values), f"{100 * float(r['yield_without']):.1f}",
                  _pp_ci(r, "recovered"),
                  f"{int(r['rescued'])}/{int(r['harmed'])}", f"{p:.2g}" if p >= 1e-3 else "<0.001",
                  _pp_ci(r, "doubled_change"))
    t.caption = ("w/o: yield with the kind removed, its sigma (leakage, noise) off; doubled: sigma x2 (leakage "
                 "current x2, noise density x4); fixed: does not vary in the study; pp: percentage points of "
                 "yield against the study, paired (same chips), Newcombe intervals; p: exact McNemar; rescued: "
                 "fail -> converge")
    if "wall_time" in ds.attrs:
        t.caption += f"; {ds.attrs.get('runs', '?')} runs, wall {float(ds.attrs['wall_time']):.1f} s"
    return t


def allocation_table(a) -> Table:
    """An area allocation (``mcaann allocate``): per kind the area factor of the allocation and of uniform scaling
    against the study, then the chip areas, the tuning chips converged and the yields on fresh chips."""
    t = Table(title=f"area allocation for yield >= {a.target:g} (Wilson lower bound on {a.tune_instances} tuning "
                    f"chips, seed {a.tune_seed})", title_justify="left", **_compact())
    for col in ("", "study", "allocated", "uniform"):
        t.add_column(col, justify="left" if not col else "right", no_wrap=True)
    for k in a.allocated.factors:
        t.add_row(f"{k} area", "x1", f"x{a.allocated.factors[k]:.3g}", f"x{a.uniform.factors[k]:.3g}")
    t.add_section()
    designs = (a.base, a.allocated, a.uniform)
    t.add_row("chip area (um²)", *[f"{d.area * 1e12:.4g}" for d in designs])
    t.add_row("converged (tuning)", *[f"{d.converged}/{a.tune_instances}" for d in designs])
    fresh = [f"{100 * p:.1f}% [{100 * lo:.1f},{100 * hi:.1f}]"
             for p, lo, hi in (a.check_yield("allocated"), a.check_yield("uniform"))]
    t.add_row("yield, fresh chips", "-", *fresh)
    t.caption = (f"fresh chips: {a.check_instances}, seed {a.check_seed}, 95% Wilson interval; capacitor: C with "
                 f"the pump's K_g and I_max (eta kept); allocated area "
                 f"{a.allocated.area / a.uniform.area:.2f} x uniform scaling's; {a.runs} runs, "
                 f"wall {a.wall_time:.1f} s")
    return t
