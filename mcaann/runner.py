"""Orchestration of a study: sweep points x instance chunks -> tasks -> result dataset.

A task is ``(sweep point, instances [start, stop))``; its result depends only on that key
(MODEL.md section 5), so that tasks can run in any order, on any thread count, in shards
or on a Dask cluster, and assemble into the same dataset. Nothing here changes a number.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from mcaann.engine.driver import BLOCK, InstanceResults, run_instances, study_task
from mcaann.errors import StudyError
from mcaann.io.dataset import build_dataset, finish_instances, per_instance_variables
from mcaann.io.netcdf import check_target, nearest_folder, write_result
from mcaann.parts import PartStore, parts_dir
from mcaann.study.load import load_study, study_to_toml, sweep_points

#: Sweep keys that would change the shape of the result; refused.
SHAPE_KEYS = ("network.layers", "task.dataset", "task.epochs", "monte_carlo.instances", "retention.hold_times",
              "output.keep_every")


@dataclass(frozen=True)
class TaskKey:
    """One unit of work: a sweep point (index into the grid) and a range of instances."""

    point: int
    start: int
    stop: int


def default_chunk(n_instances: int) -> int:
    """Instances per task: whole kernel blocks, enough to keep every thread busy."""
    return int(min(max(BLOCK, n_instances), 16 * BLOCK))


def shard_range(n: int, shard: tuple[int, int] | None) -> tuple[int, int]:
    """Instances ``[lo, hi)`` of shard ``(K, N)``: the K-th of N near-equal contiguous ranges."""
    if shard is None:
        return 0, n
    k, m = shard
    return k * n // m, (k + 1) * n // m


def plan_tasks(study, chunk: int | None = None, shard: tuple[int, int] | None = None):
    """The sweep points and the tasks of a study (or of one shard), in canonical order."""
    for key in study.sweep:
        if key in SHAPE_KEYS or key.startswith("network."):
            raise StudyError(f"sweep.{key}: changes the shape of the result and cannot be swept; run separate studies")
    points = sweep_points(study)
    lo, hi = shard_range(study.monte_carlo.instances, shard)
    chunk = chunk or default_chunk(hi - lo)
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
    per_instance = 8 * (2 * n_epochs + 10 * n_w + 10 * n_neurons + 8)
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
            raise StudyError(f"--out {out}: the run needs about {_fmt_bytes(2 * est)} (result and resume "
                             f"folder), the disk has {_fmt_bytes(free)} free")
    points, tasks = plan_tasks(study, chunk=chunk, shard=shard)
    study_task(study)  # the dataset against the network
    return Plan(study, points, tasks, est, overwrites)


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"


def run_task(study, points: list[dict], key: TaskKey, threads: int | None = None) -> InstanceResults:
    """Run one task: the study at its sweep point, its instances; curves thinned as the study asks."""
    st = study.at(points[key.point]) if points[key.point] else study
    if key.stop == key.start:  # an empty task: one instance run for the shapes, then none kept
        return _take(run_task(study, points, TaskKey(key.point, key.start, key.start + 1), threads), 0)
    res = run_instances(st, key.start, key.stop, threads)
    finish_instances(st, study_task(st), res)
    return res


#: the per-instance array fields of a task result (one definition, read from ``InstanceResults``)
RESULT_FIELDS = tuple(f.name for f in dataclasses.fields(InstanceResults)
                      if f.name not in ("start", "stop", "params"))


def _take(res: InstanceResults, n: int) -> InstanceResults:
    """The first ``n`` instances of ``res``."""
    kw = {f: None if getattr(res, f) is None else getattr(res, f)[:n] for f in RESULT_FIELDS}
    return InstanceResults(start=res.start, stop=res.start + n, params={k: v[:n] for k, v in res.params.items()}, **kw)


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


def instance_steps(study, n_instances: int, n_points: int) -> int:
    """Instance-steps: instances x points x epochs x rows x steps per row."""
    n_rows = study_task(study).n_rows
    return n_instances * n_points * study.task.epochs * n_rows * study.steps_per_row


def _interruptible(fn, *args):
    """Run ``fn`` in a worker thread (the kernels release the GIL) so that Ctrl-C is seen at once."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    while t.is_alive():
        t.join(0.1)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _local(study, points, todo: Iterable[TaskKey], threads) -> Iterable[tuple[TaskKey, InstanceResults]]:
    for key in todo:
        yield key, _interruptible(run_task, study, points, key, threads)


def _remote_task(study_text: str, base_dir: str, point: dict, start: int, stop: int, threads: int | None):
    """A task as a Dask worker runs it: the study travels as its resolved TOML text."""
    import tomllib

    st = load_study(tomllib.loads(study_text))
    st._base_dir = Path(base_dir)
    return run_task(st, [point], TaskKey(0, start, stop), threads)


#: seconds to wait for a Dask scheduler to answer before giving up
DASK_CONNECT_TIMEOUT_S = 5


def connect_dask(address: str):
    """A ``dask.distributed`` client of ``address`` (``"local"``: a new ``LocalCluster``) and the
    cluster to close after, or ``None``. ``StudyError`` within seconds when nothing answers there or
    something answers another protocol."""
    from dask.distributed import Client, LocalCluster

    if address == "local":
        cluster = LocalCluster(processes=True, threads_per_worker=1, dashboard_address=None)
        return Client(cluster, set_as_default=False), cluster
    box: dict = {}

    def connect():
        try:
            box["client"] = Client(address, timeout=DASK_CONNECT_TIMEOUT_S, set_as_default=False)
        except Exception as exc:  # noqa: BLE001 - reported below as bad input
            box["error"] = exc

    t = threading.Thread(target=connect, daemon=True)
    t.start()
    t.join(DASK_CONNECT_TIMEOUT_S + 2)
    if "client" in box:
        return box["client"], None
    exc = box.get("error")
    why = (str(exc).splitlines() or [exc.__class__.__name__])[0] if exc else "no answer to the Dask handshake"
    raise StudyError(f"--dask {address}: no Dask scheduler answers there ({why[:120]})")


def _dask(study, points, todo: list[TaskKey], connection, threads) -> Iterable[tuple[TaskKey, InstanceResults]]:
    from dask.distributed import as_completed

    client = connection[0]
    text = study_to_toml(study)
    futures = {}
    for key in todo:
        fut = client.submit(_remote_task, text, str(study.base_dir), points[key.point], key.start, key.stop,
                            threads, key=f"mcaann-{hash(text) & 0xFFFFFFFF:x}-{key.point}-{key.start}-{key.stop}",
                            retries=3, pure=False)
        futures[fut] = key
    for fut in as_completed(futures):
        yield futures[fut], fut.result()


#: --check-dt warns when a weight moves more than this between dt and dt/2 [V]
CHECK_DT_TOLERANCE_V = 1e-3


def check_dt(study, n_sample: int = 64, threads: int | None = None) -> dict:
    """Rerun a sample of instances at ``dt / 2`` (noise off in both runs, so that only the step
    size differs) at every sweep point; the largest final weight [V] and MSE [V^2] differences."""
    points = sweep_points(study)
    n = min(n_sample, study.monte_carlo.instances)
    dw = dmse = 0.0
    for point in points:
        st = study.at(point) if point else study
        base = {"noise.enabled": False}
        a = run_instances(st.at(base), 0, n, threads)
        b = run_instances(st.at({**base, "integrator.dt": st.integrator.dt / 2}), 0, n, threads)
        dw = max(dw, float(np.max(np.abs(a.w_final - b.w_final))))
        dmse = max(dmse, float(np.max(np.abs(a.mse[:, -1] - b.mse[:, -1]))))
    return {"check_dt_instances": n, "check_dt_max_dw": dw, "check_dt_max_dmse": dmse,
            "check_dt_ok": int(dw <= CHECK_DT_TOLERANCE_V)}


def run_study(study=None, *, threads: int | None = None, progress: Callable[[int, int], None] | None = None,
              overrides: dict | None = None, sweeps: dict | None = None, out: str | Path | None = None,
              shard: tuple[int, int] | None = None, dask: str | None = None, chunk: int | None = None,
              check_dt_sample: int | None = None, **kw) -> xr.Dataset:
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
    out
        Result file. When given, finished tasks are kept in ``OUT.parts/`` as they complete (a
        rerun after a crash resumes from there), the file is written atomically from there with
        bounded memory, the folder removed, and the file returned opened lazily.
    shard
        ``(K, N)``: run only the K-th of N instance ranges (an array job's part; see ``merge``).
    dask
        Address of a ``dask.distributed`` scheduler, or ``"local"`` for a ``LocalCluster``.
    chunk
        Instances per task (default: up to 16 kernel blocks). Results do not depend on it.
    check_dt_sample
        If given, rerun that many instances at ``dt / 2`` and record the differences
        (attributes ``check_dt_*``; see :func:`check_dt`).
    **kw
        Further overrides with ``__`` for dots, e.g. ``monte_carlo__instances=100``.

    Returns
    -------
    xarray.Dataset
        The dataset of INTERFACE.md (over the shard's instances for a shard).
    """
    ov = dict(overrides or {})
    ov.update({k.replace("__", "."): v for k, v in kw.items()})
    st = load_study(study, ov, sweeps)
    protect = (Path(study),) if isinstance(study, str | Path) and Path(study).is_file() else ()
    plan = validate(st, out=out, shard=shard, chunk=chunk, protect=protect)
    points, tasks = plan.points, plan.tasks
    connection = connect_dask(dask) if dask else None  # before any file: a dead address leaves none
    store = None
    try:
        store = PartStore(parts_dir(Path(out)), study_to_toml(st) + f"\n# shard {shard}\n") if out else None
        return _run_plan(st, points, tasks, store, out, shard, threads, progress, connection, check_dt_sample)
    finally:
        if store:
            store.close()
        if connection:
            connection[0].close()
            if connection[1] is not None:
                connection[1].close()


def _run_plan(st, points, tasks, store, out, shard, threads, progress, connection, check_dt_sample) -> xr.Dataset:
    finished = store.finished(tasks) if store else set()
    results: dict[TaskKey, InstanceResults] = {}
    todo = [k for k in tasks if k not in finished]
    total = sum(k.stop - k.start for k in tasks)
    done = sum(k.stop - k.start for k in finished)
    if progress:
        progress(done, total)
    t0 = time.perf_counter()
    runner = _dask(st, points, todo, connection, threads) if connection else _local(st, points, todo, threads)
    for key, res in runner:
        if store:  # kept on disk only: the result is written from there with bounded memory
            store.save(key, res)
        else:
            results[key] = res
        done += key.stop - key.start
        if progress:
            progress(done, total)
    wall = time.perf_counter() - t0
    n_run = sum(k.stop - k.start for k in todo)
    attrs = {"instance_steps_per_second": instance_steps(st, n_run, 1) / wall if n_run else float("nan"),
             "wall_time": wall}
    if shard is not None:
        lo, hi = shard_range(st.monte_carlo.instances, shard)
        attrs.update(shard=f"{shard[0]}/{shard[1]}", shard_start=lo, shard_stop=hi)
    if check_dt_sample:
        attrs.update(check_dt(st, check_dt_sample, threads))
    if not out:
        return assemble(st, points, results, attrs)
    lazy = {TaskKey(p, *_span(tasks, p)): store.lazy([k for k in tasks if k.point == p]) for p in range(len(points))}
    write_result(assemble(st, points, lazy, attrs), out)
    store.remove()
    return xr.open_dataset(out, engine="netcdf4")


def _span(tasks: list[TaskKey], point: int) -> tuple[int, int]:
    mine = [k for k in tasks if k.point == point]
    return min(k.start for k in mine), max(k.stop for k in mine)
