"""Assembling task results into the result dataset."""

from __future__ import annotations

import numpy as np
import xarray as xr

from mcaann.engine.driver import InstanceResults, study_task
from mcaann.io.dataset import build_dataset, per_instance_variables
from mcaann.scale.backend import RESULT_FIELDS
from mcaann.scale.plan import TaskKey


def _concat(parts: list[InstanceResults]) -> InstanceResults:
    parts = sorted(parts, key=lambda r: r.start)
    cat = np.concatenate
    fields = {}
    for name in RESULT_FIELDS:
        vals = [getattr(p, name) for p in parts]
        fields[name] = None if vals[0] is None else cat(vals)
    return InstanceResults(start=parts[0].start, stop=parts[-1].stop,
                           params={k: cat([p.params[k] for p in parts]) for k in parts[0].params}, **fields)


def assemble(study, points: list[dict], results: dict[TaskKey, InstanceResults], extra_attrs: dict) -> xr.Dataset:
    """The result dataset from every task's results."""
    task = study_task(study)
    point_vars = []
    for p, point in enumerate(points):
        keys = [k for k in results if k.point == p]
        r = _concat([results.pop(k) for k in keys])  # frees each task's arrays once joined
        st = study.at(point) if point else study
        point_vars.append(per_instance_variables(st, r))
    return build_dataset(study, task, points, point_vars, extra_attrs, instances=np.arange(r.start, r.stop))



def task_span(tasks: list[TaskKey], point: int) -> tuple[int, int]:
    mine = [k for k in tasks if k.point == point]
    return min(k.start for k in mine), max(k.stop for k in mine)
