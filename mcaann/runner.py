"""Orchestration of a study: sweep points x instance chunks -> tasks -> result dataset.

A task is ``(sweep point, instances [start, stop))``; its result depends only on that key
(MODEL.md section 5), so that tasks can run in any order, on any thread count, in shards
or on a cluster, and assemble into the same dataset.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr

from mcaann.engine.driver import BLOCK, InstanceResults, run_instances, study_task
from mcaann.io.dataset import build_dataset, per_instance_variables
from mcaann.study.load import StudyError, load_study, sweep_points

#: Sweep keys that would change the shape of the result; refused.
SHAPE_KEYS = ("network.layers", "task.dataset", "task.epochs", "monte_carlo.instances", "retention.hold_times")


@dataclass(frozen=True)
class TaskKey:
    """One unit of work: a sweep point (index into the grid) and a range of instances."""

    point: int
    start: int
    stop: int


def default_chunk(n_instances: int) -> int:
    """Instances per task: whole kernel blocks, small enough for progress and Ctrl-C."""
    return int(min(max(BLOCK, n_instances), 16 * BLOCK))


def plan_tasks(study, chunk: int | None = None) -> tuple[list[dict], list[TaskKey]]:
    """The sweep points and the tasks of a study, in canonical order."""
    for key in study.sweep:
        if key in SHAPE_KEYS or key.startswith("network."):
            raise StudyError(f"sweep.{key}: changes the shape of the result and cannot be swept; run separate studies")
    points = sweep_points(study)
    n = study.monte_carlo.instances
    chunk = chunk or default_chunk(n)
    tasks = [TaskKey(p, s, min(s + chunk, n)) for p in range(len(points)) for s in range(0, n, chunk)]
    return points, tasks


def run_task(study, points: list[dict], key: TaskKey, threads: int | None = None) -> InstanceResults:
    """Run one task: the study at its sweep point, its range of instances."""
    return run_instances(study.at(points[key.point]) if points[key.point] else study, key.start, key.stop, threads)


def _concat(parts: list[InstanceResults]) -> InstanceResults:
    parts = sorted(parts, key=lambda r: r.start)
    cat = np.concatenate

    def opt(name):
        vals = [getattr(p, name) for p in parts]
        return None if vals[0] is None else cat(vals)

    return InstanceResults(
        start=parts[0].start, stop=parts[-1].stop,
        mse=cat([p.mse for p in parts]), accuracy=cat([p.accuracy for p in parts]),
        w_init=cat([p.w_init for p in parts]), w_final=cat([p.w_final for p in parts]),
        diverged=cat([p.diverged for p in parts]), diverged_step=cat([p.diverged_step for p in parts]),
        params={k: cat([p.params[k] for p in parts]) for k in parts[0].params},
        retention_mse=opt("retention_mse"), retention_accuracy=opt("retention_accuracy"),
    )


def assemble(study, points: list[dict], results: dict[TaskKey, InstanceResults], extra_attrs: dict) -> xr.Dataset:
    """The result dataset from every task's results."""
    task = study_task(study)
    point_vars = []
    for p, point in enumerate(points):
        r = _concat([v for k, v in results.items() if k.point == p])
        st = study.at(point) if point else study
        point_vars.append(per_instance_variables(st, task, r.mse, r.accuracy, r.w_init, r.w_final, r.diverged,
                                                 r.diverged_step, r.params, r.retention_mse, r.retention_accuracy))
    return build_dataset(study, task, points, point_vars, extra_attrs)


def instance_steps(study, n_points: int) -> int:
    """Instance-steps of a study: instances x points x epochs x rows x steps per row."""
    n_rows = study_task(study).n_rows
    return study.monte_carlo.instances * n_points * study.task.epochs * n_rows * study.steps_per_row


def run_study(study=None, *, threads: int | None = None, progress: Callable[[int, int], None] | None = None,
              overrides: dict | None = None, sweeps: dict | None = None, **kw) -> xr.Dataset:
    """Run a study and return its result dataset.

    Parameters
    ----------
    study
        A ``Study``, a built-in name, a TOML path, or ``None`` for the default ``xor`` study.
    threads
        Numba threads (default: all cores). Results do not depend on it.
    progress
        Called as ``progress(done_instances, total_instances)`` after each task.
    overrides, sweeps
        ``{"key.path": value}`` and ``{"key.path": [values]}`` as ``--set`` and ``--sweep``.
    **kw
        Further overrides with ``__`` for dots, e.g. ``monte_carlo__instances=100``.

    Returns
    -------
    xarray.Dataset
        The dataset of INTERFACE.md.
    """
    ov = dict(overrides or {})
    ov.update({k.replace("__", "."): v for k, v in kw.items()})
    st = load_study(study, ov, sweeps)
    points, tasks = plan_tasks(st)
    study_task(st)  # validates the dataset against the network before any work
    total = st.monte_carlo.instances * len(points)
    results: dict[TaskKey, InstanceResults] = {}
    done = 0
    t0 = time.perf_counter()
    for key in tasks:
        results[key] = run_task(st, points, key, threads)
        done += key.stop - key.start
        if progress:
            progress(done, total)
    wall = time.perf_counter() - t0
    steps = instance_steps(st, len(points))
    return assemble(st, points, results, {"instance_steps_per_second": steps / wall, "wall_time": wall})
