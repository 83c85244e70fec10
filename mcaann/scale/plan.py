"""Planning a run: sweep points x instance ranges -> tasks; validation and size before any work.

A task is ``(sweep point, instances [start, stop))``; its result depends only on that key
(MODEL.md section 5), so that tasks can run in any order, on any thread count, in shards
or on a Dask cluster, and assemble into the same dataset.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from mcaann.engine.driver import BLOCK, block_lanes, study_task
from mcaann.errors import StudyError
from mcaann.io.netcdf import check_target, nearest_folder
from mcaann.study.load import sweep_points

#: Sweep keys that would change the shape of the result; refused.
SHAPE_KEYS = ("network.layers", "task.dataset", "task.epochs", "monte_carlo.instances", "retention.hold_times",
              "output.keep_every")


@dataclass(frozen=True)
class TaskKey:
    """One unit of work: a sweep point (index into the grid) and a range of instances."""

    point: int
    start: int
    stop: int


def default_chunk(n_instances: int, lanes: int = BLOCK) -> int:
    """Instances per task: whole kernel blocks of ``lanes`` instances (``block_lanes`` of the study's dtype), up to
    16 of them, enough to keep every thread busy."""
    return int(min(max(lanes, n_instances), 16 * lanes))


def shard_range(n: int, shard: tuple[int, int] | None) -> tuple[int, int]:
    """Instances ``[lo, hi)`` of shard ``(K, N)``: the K-th of N near-equal contiguous ranges."""
    if shard is None:
        return 0, n
    k, m = shard
    return k * n // m, (k + 1) * n // m


def plan_tasks(study, chunk: int | None = None, shard: tuple[int, int] | None = None):
    """The sweep points and the tasks of a study (or of one shard), in canonical order."""
    for key in study.sweep:
        if key in SHAPE_KEYS or (key.startswith("network.") and key != "network.learning"):
            raise StudyError(f"sweep.{key}: changes the shape of the result and cannot be swept; run separate studies")
    points = sweep_points(study)
    lo, hi = shard_range(study.monte_carlo.instances, shard)
    chunk = chunk or default_chunk(hi - lo, block_lanes(study.integrator.dtype))
    if hi == lo:  # an empty shard (more shards than instances): one empty task per point, an empty part
        return points, [TaskKey(p, lo, lo) for p in range(len(points))]
    tasks = [TaskKey(p, s, min(s + chunk, hi)) for p in range(len(points)) for s in range(lo, hi, chunk)]
    return points, tasks


def estimate_bytes(study, n_instances: int | None = None) -> int:
    """Upper estimate [bytes] of a result file (uncompressed) for ``n_instances`` (default all) at
    every sweep point: learning curves, weights and sampled parameters, 8 bytes a number."""
    from mcaann.circuit.network import Topology

    n = study.monte_carlo.instances if n_instances is None else n_instances
    n_points = len(sweep_points(study))
    topo = Topology(tuple(study.network.layers))
    n_w, n_neurons = topo.n_weights, sum(study.network.layers[1:])
    n_epochs = study.task.epochs // study.output.keep_every + 1
    per_instance = 8 * (3 * n_epochs + 10 * n_w + 10 * n_neurons + 8)  # mse, accuracy, held-out accuracy
    return int(n * n_points * per_instance)


@dataclass(frozen=True)
class Plan:
    """A validated run: its sweep points, tasks, estimated size [bytes] and whether it overwrites."""

    study: object
    points: list
    tasks: list
    est_bytes: int
    overwrites: bool = False


def validate(study, *, out: str | Path | None = None, shard: tuple[int, int] | None = None,
             chunk: int | None = None, protect: tuple[Path, ...] = ()) -> Plan:
    """Check everything a run needs before any work (``StudyError`` with one line if not): the
    study and its dataset, the sweep, the shard, the ``out`` target (a regular file, not the study
    file, a writable folder) and the free disk for the result and its resume folder."""
    if shard is not None and not (len(shard) == 2 and 0 <= shard[0] < shard[1]):
        raise StudyError(f"--shard: expected K/N with 0 <= K < N, got {shard[0]}/{shard[1]}")
    if chunk is not None and chunk < 1:
        raise StudyError("--chunk: must be at least 1")
    lo, hi = shard_range(study.monte_carlo.instances, shard)
    est = estimate_bytes(study, hi - lo)
    overwrites = False
    if out is not None:
        overwrites = check_target(out, protect=protect)
        free = shutil.disk_usage(nearest_folder(Path(out))).free
        if 2 * est > free:  # the resume folder and the result file exist together for a moment
            raise StudyError(f"--out {out}: the run needs about {format_bytes(2 * est)} (result and resume "
                             f"folder), the disk has {format_bytes(free)} free")
    points, tasks = plan_tasks(study, chunk=chunk, shard=shard)
    study_task(study)  # the dataset against the network
    return Plan(study, points, tasks, est, overwrites)


def format_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"


def instance_steps(study, n_instances: int, n_points: int) -> int:
    """Instance-steps: instances x points x epochs x training rows x steps per row."""
    n_rows = study_task(study).n_train
    return n_instances * n_points * study.task.epochs * n_rows * study.steps_per_row
