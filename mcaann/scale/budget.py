"""The yield budget: rerun the study's chips with one kind of variation removed, and doubled, kind by kind.

The chips are reproducible (MODEL.md section 5): instance ``i`` has the same standard deviates in every rerun, and
``mismatch.kind_scale`` scales one kind's sigmas without touching the deviates of any other. So the yield with a
kind removed, against the study's own, is a paired comparison over the same chips: the chips that change fate
(``rescued``: failed in the study, converge without the kind; ``harmed``: the reverse) measure the kind's causal
share of the yield loss, with Newcombe's paired interval (``mcaann.stats.paired``).

Kinds: every kind of a mismatch-sampled parameter (``circuit.blocks.variation_kinds``, read from the parameter
specs), then ``leakage`` and ``noise``. Removed: that kind's sigma (or the leakage, or the noise) off. Doubled:
its sigma x2; leakage: its current x2 (``G_leak`` and ``I_leak0``); noise: its density x4 (the rms x2). A kind
that does not vary in the study (sigma 0, leakage or noise off) changes nothing: its reruns are not run, its
outcomes are the study's own (``active`` false).

Every rerun is a point of one task list run by the existing backends (local threads or Dask); the budget costs
at most ``2 x kinds + 1`` runs of the study.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from mcaann.circuit.blocks import variation_kind, variation_kinds
from mcaann.engine.driver import block_lanes
from mcaann.errors import StudyError
from mcaann.io.dataset import common_attrs
from mcaann.io.netcdf import check_target, write_result
from mcaann.scale.backend import connect_dask, run_dask, run_local
from mcaann.scale.plan import TaskKey, default_chunk, shard_range
from mcaann.stats.paired import paired_difference
from mcaann.stats.yield_ import wilson_interval

#: kinds of variation beyond the sampled block parameters
EXTRA_KINDS = ("leakage", "noise")
#: the two reruns per kind and the factor each puts on the kind's sigma
CONDITIONS = {"without": 0.0, "doubled": 2.0}


def sampled_kinds(study=None) -> tuple[str, ...]:
    """The kinds of the sampled block parameters of ``study``'s learning circuit (default: backprop's)."""
    if study is None:
        return variation_kinds()
    from mcaann.variability.mismatch import block_params

    synapse, neuron = block_params(study)
    return variation_kinds(synapse + neuron)


def budget_kinds(study=None) -> tuple[str, ...]:
    """Every kind of the budget: the sampled block kinds (of ``study``'s learning circuit), then leakage and
    noise."""
    return sampled_kinds(study) + EXTRA_KINDS


def kind_active(study, kind: str) -> bool:
    """Whether ``kind`` varies in ``study`` (removing it could change a chip)."""
    from mcaann.variability.leakage import nominal_g_leak
    from mcaann.variability.mismatch import gradient_sigma, pelgrom_sigma

    if kind == "leakage":
        return study.leakage.enabled and (nominal_g_leak(study) > 0 or study.leakage.I_leak0 != 0)
    if kind == "noise":
        return study.noise.enabled and study.noise.density_scale > 0
    from mcaann.variability.mismatch import block_params

    synapse, neuron = block_params(study)
    specs = [p for p in synapse + neuron if variation_kind(p) == kind]
    return any(pelgrom_sigma(study, p).local or pelgrom_sigma(study, p).glob or gradient_sigma(study, p)
               for p in specs)


def kind_overrides(study, kind: str, factor: float) -> dict:
    """The study overrides that multiply ``kind``'s variation by ``factor`` (0: removed): its sigmas, the
    leakage current (0: leakage off) or the noise rms (density x factor^2; 0: noise off)."""
    from mcaann.variability.process import resolve_process

    if kind == "leakage":
        if factor == 0:
            return {"leakage.enabled": False}
        return {"leakage.G_leak": factor * resolve_process(study).G_leak,
                "leakage.I_leak0": factor * study.leakage.I_leak0}
    if kind == "noise":
        if factor == 0:
            return {"noise.enabled": False}
        return {"noise.density_scale": factor**2 * study.noise.density_scale}
    if kind not in sampled_kinds(study):
        raise StudyError(f"kind: unknown {kind!r} (known: {', '.join(budget_kinds(study))})")
    return {f"mismatch.kind_scale.{kind}": factor * study.mismatch.kind_scale.get(kind, 1.0)}


def run_points(study, points: Sequence[dict], *, instances: tuple[int, int] | None = None,
               threads: int | None = None, dask: str | None = None, chunk: int | None = None,
               progress: Callable[[int, int], None] | None = None, store=None) -> np.ndarray:
    """Run the study's chips ``[lo, hi)`` (default all) at each set of overrides in ``points``; whether each chip
    converged, ``(len(points), hi - lo)`` bool. Tasks go to the local threads or to Dask (``dask``: an address
    or ``"local"``), as ``run_study``'s do. ``store``: a resume folder (``PartStore``) that keeps each finished
    task's outcomes as it completes; tasks already there are read, not run."""
    lo, hi = instances or (0, study.monte_carlo.instances)
    points = [dict(p) for p in points]
    for p in points:  # every point is a valid study before any work
        study.at(p)
    step = chunk or default_chunk(hi - lo, block_lanes(study.integrator.dtype))
    tasks = [TaskKey(k, s, min(s + step, hi)) for k in range(len(points)) for s in range(lo, hi, step)]
    out = np.zeros((len(points), hi - lo), dtype=bool)
    finished = store.finished(tasks) if store else set()
    for key in finished:
        out[key.point, key.start - lo:key.stop - lo] = store.load(key, "converged")
    todo = [k for k in tasks if k not in finished]
    total, done = len(points) * (hi - lo), sum(k.stop - k.start for k in finished)
    if progress:
        progress(done, total)
    connection = connect_dask(dask) if dask and todo else None
    try:
        runner = run_dask(study, points, todo, connection, threads) if connection else run_local(
            study, points, todo, threads)
        for key, res in runner:
            out[key.point, key.start - lo:key.stop - lo] = res.converged
            if store:
                store.save_arrays(key, {"converged": np.asarray(res.converged)})
            done += key.stop - key.start
            if progress:
                progress(done, total)
    finally:
        if connection:
            connection[0].close()
            if connection[1] is not None:
                connection[1].close()
    return out


def run_budget(study, *, out=None, threads: int | None = None, dask: str | None = None, chunk: int | None = None,
               shard: tuple[int, int] | None = None,
               progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
    """The yield budget of ``study`` (a ``Study`` without a sweep) as a dataset over ``kind``; written
    atomically to ``out`` when given, with finished tasks kept in ``OUT.parts/`` until then (the same call
    after a crash or an interrupt resumes from there). ``shard``: only the K-th of N instance ranges (join
    with :func:`merge_budgets`)."""
    if study.sweep:
        raise StudyError("sweep: a budget is of one study point; set the swept field with --set")
    if out is not None:
        check_target(out)
    kinds = budget_kinds(study)
    active = [kind_active(study, k) for k in kinds]
    points: list[dict] = [{}]
    index = {}
    for k, on in zip(kinds, active, strict=True):
        for cond, factor in CONDITIONS.items():
            if on:
                index[k, cond] = len(points)
                points.append(kind_overrides(study, k, factor))
    lo, hi = shard_range(study.monte_carlo.instances, shard)
    t0 = time.perf_counter()
    store = None
    if out is not None:
        from mcaann.scale.store import PartStore, parts_dir
        from mcaann.study.load import study_to_toml

        store = PartStore(parts_dir(Path(out)), study_to_toml(study) + f"\n# yield budget, shard {shard}\n")
    try:
        conv = run_points(study, points, instances=(lo, hi), threads=threads, dask=dask, chunk=chunk,
                          progress=progress, store=store)
    finally:
        if store:
            store.close()
    wall = time.perf_counter() - t0
    base = conv[0]
    fate = {cond: np.stack([conv[index[k, cond]] if (k, cond) in index else base for k in kinds])
            for cond in CONDITIONS}
    ds = xr.Dataset(
        {"converged": (("instance",), base, {"units": "1", "long_name": "converged, the study as it is"}),
         "converged_without": (("kind", "instance"), fate["without"],
                               {"units": "1", "long_name": "converged with that kind's variation removed"}),
         "converged_doubled": (("kind", "instance"), fate["doubled"],
                               {"units": "1", "long_name": "converged with that kind's variation doubled"}),
         "active": (("kind",), np.asarray(active),
                    {"units": "1", "long_name": "the kind varies in the study (else its reruns equal the study)"})},
        coords={"kind": ("kind", np.asarray(kinds), {"long_name": "kind of variation"}),
                "instance": ("instance", np.arange(lo, hi), {"units": "1", "long_name": "Monte Carlo instance"})})
    add_budget_stats(ds)
    ds.attrs.update(common_attrs(study, f"mcaann yield budget of study {study.name}"))
    ds.attrs.update(mcaann_dataset="yield_budget", runs=len(points), wall_time=wall)
    if shard is not None:
        ds.attrs.update(shard=f"{shard[0]}/{shard[1]}", shard_start=lo, shard_stop=hi)
    if out is not None:
        write_result(ds, out)
        store.remove()
    return ds


def add_budget_stats(ds: xr.Dataset) -> xr.Dataset:
    """(Re)compute the budget's yields, paired differences and counts from its per-chip outcomes."""
    n = ds.sizes["instance"]
    base = ds["converged"].values
    p, lo, hi = wilson_interval(int(base.sum()), n)
    ds["yield"] = ((), float(p), {"units": "1", "long_name": "yield of the study as it is"})
    ds["yield_lo"] = ((), float(lo), {"units": "1", "long_name": "yield, lower end of the 95% Wilson interval"})
    ds["yield_hi"] = ((), float(hi), {"units": "1", "long_name": "yield, upper end of the 95% Wilson interval"})
    names = {"without": ("recovered", "rescued", "harmed", "p_value"),
             "doubled": ("doubled_change", "rescued_doubled", "harmed_doubled", "p_value_doubled")}
    for cond, (change, rescued, harmed, pval) in names.items():
        fates = ds[f"converged_{cond}"].values
        r = [paired_difference(base, f) for f in fates]
        what = "removed" if cond == "without" else "doubled"
        y, ylo, yhi = wilson_interval(fates.sum(axis=1), n)
        ds[f"yield_{cond}"] = (("kind",), np.asarray(y, float),
                               {"units": "1", "long_name": f"yield with the kind's variation {what}"})
        ds[f"yield_{cond}_lo"] = (("kind",), np.asarray(ylo, float),
                                  {"units": "1", "long_name": f"yield_{cond}, lower end of the 95% Wilson interval"})
        ds[f"yield_{cond}_hi"] = (("kind",), np.asarray(yhi, float),
                                  {"units": "1", "long_name": f"yield_{cond}, upper end of the 95% Wilson interval"})
        ds[change] = (("kind",), np.array([x.difference for x in r]),
                      {"units": "1", "long_name": f"yield with the kind {what} minus the study's (paired)"})
        ds[f"{change}_lo"] = (("kind",), np.array([x.lo for x in r]),
                              {"units": "1", "long_name": f"{change}, lower end of the 95% Newcombe paired interval"})
        ds[f"{change}_hi"] = (("kind",), np.array([x.hi for x in r]),
                              {"units": "1", "long_name": f"{change}, upper end of the 95% Newcombe paired interval"})
        ds[rescued] = (("kind",), np.array([x.rescued for x in r], np.int64),
                       {"units": "1", "long_name": f"chips that fail in the study and converge with the kind {what}"})
        ds[harmed] = (("kind",), np.array([x.harmed for x in r], np.int64),
                      {"units": "1", "long_name": f"chips that converge in the study and fail with the kind {what}"})
        ds[pval] = (("kind",), np.array([x.p_value for x in r]),
                    {"units": "1", "long_name": f"exact McNemar p-value of the kind {what} against the study"})
    return ds


def merge_budgets(parts: Sequence[xr.Dataset]) -> xr.Dataset:
    """Join the budgets of shards (``run_budget(..., shard=...)``) into the budget of all their chips."""
    parts = sorted(parts, key=lambda d: int(d["instance"].values[0]) if d.sizes["instance"] else -1)
    per_chip = ["converged", "converged_without", "converged_doubled"]
    merged = xr.concat([d[per_chip] for d in parts], dim="instance")
    merged["active"] = parts[0]["active"]
    merged.attrs.update(parts[0].attrs)
    for a in ("shard", "shard_start", "shard_stop"):
        merged.attrs.pop(a, None)
    merged.attrs["wall_time"] = float(sum(d.attrs.get("wall_time", 0.0) for d in parts))
    return add_budget_stats(merged)


def merge_budget_files(paths: Sequence) -> xr.Dataset:
    """:func:`merge_budgets` of budget files; ``StudyError`` naming a file that is missing, not a budget, of
    another study, or overlapping another."""
    from mcaann.io.netcdf import open_inputs

    parts = open_inputs(paths, "merge-budget", "budget")
    for p, ds in parts:
        if ds.attrs.get("mcaann_dataset") != "yield_budget":
            raise StudyError(f"merge-budget: {p}: not a yield budget file (mcaann budget)")
        if ds.attrs["study"] != parts[0][1].attrs["study"]:
            raise StudyError(f"merge-budget: {p} is a budget of another study than {parts[0][0]}")
    seen = np.concatenate([d["instance"].values for _, d in parts])
    if np.unique(seen).size != seen.size:
        raise StudyError("merge-budget: parts overlap (an instance is in two files)")
    return merge_budgets([d for _, d in parts])
