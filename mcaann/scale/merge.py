"""Joining the part files of an array job into the file a single run writes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import xarray as xr

from mcaann.errors import StudyError
from mcaann.io.dataset import add_yield
from mcaann.io.netcdf import open_inputs

_SHARD_ATTRS = ("shard", "shard_start", "shard_stop", "wall_time", "kernel_time", "instance_steps_per_second")


def merge_parts(paths: list[str | Path]) -> xr.Dataset:
    """Concatenate shard results over ``instance`` and recompute the yield over all instances.

    Refuses (``StudyError`` naming the file) parts of another study or seed, overlapping or
    duplicated parts, and missing instance ranges.
    """
    parts = open_inputs(paths, "merge", "result")
    for p, ds in parts:
        if "shard" not in ds.attrs:
            raise StudyError(f"merge: {p}: not a shard (run with --shard K/N)")
    p0, d0 = parts[0]
    for p, ds in parts[1:]:
        if ds.attrs["study"] != d0.attrs["study"]:
            raise StudyError(f"merge: {p} is a part of another study than {p0}")
        if ds.attrs["seed"] != d0.attrs["seed"]:
            raise StudyError(f"merge: {p} has seed {ds.attrs['seed']}, {p0} has {d0.attrs['seed']}")
    parts.sort(key=lambda x: (int(x[1].attrs["shard_start"]), int(x[1].attrs["shard_stop"])))  # empty parts first
    n_shards = int(str(d0.attrs["shard"]).split("/")[1])
    total = int(tomllib.loads(d0.attrs["study"])["monte_carlo"]["instances"])
    pos, prev = 0, None
    for p, ds in parts:
        lo, hi = int(ds.attrs["shard_start"]), int(ds.attrs["shard_stop"])
        if lo < pos:
            what = "is given twice" if p.resolve() == prev.resolve() else f"overlaps {prev}"
            raise StudyError(f"merge: {p} {what} (shard {ds.attrs['shard']})")
        if lo > pos:
            raise StudyError(f"merge: instances {pos}..{lo - 1} are missing (a shard of {n_shards} not given)")
        pos, prev = hi, p
    if pos < total:
        raise StudyError(f"merge: instances {pos}..{total - 1} are missing (a shard of {n_shards} not given)")
    merged = xr.concat([ds for _, ds in parts], dim="instance", data_vars="minimal", coords="minimal",
                       compat="override", join="override", combine_attrs="override")
    instance_vars = [v for v in merged.data_vars if "instance" in merged[v].dims]
    for v in merged.data_vars:
        if v not in instance_vars and "instance" not in d0[v].dims:
            merged[v] = d0[v]
    merged = add_yield(merged.drop_vars(["yield", "yield_lo", "yield_hi"]))
    for a in _SHARD_ATTRS:
        merged.attrs.pop(a, None)
    merged.attrs["merged_from"] = len(parts)
    return merged
