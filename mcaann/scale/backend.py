"""Backends that run tasks: local threads (Ctrl-C and SIGTERM seen at once) or a Dask cluster."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from pathlib import Path

from mcaann.engine.driver import InstanceResults, run_instances, study_task
from mcaann.errors import StudyError
from mcaann.io.dataset import finish_instances
from mcaann.scale.plan import TaskKey
from mcaann.study.load import load_study, study_to_toml


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
                      if f.name not in ("start", "stop", "params", "kernel_seconds"))


def _take(res: InstanceResults, n: int) -> InstanceResults:
    """The first ``n`` instances of ``res``."""
    kw = {f: None if getattr(res, f) is None else getattr(res, f)[:n] for f in RESULT_FIELDS}
    return InstanceResults(start=res.start, stop=res.start + n, params={k: v[:n] for k, v in res.params.items()}, **kw)


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


def run_local(study, points, todo: Iterable[TaskKey], threads) -> Iterable[tuple[TaskKey, InstanceResults]]:
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


def run_dask(study, points, todo: list[TaskKey], connection, threads) -> Iterable[tuple[TaskKey, InstanceResults]]:
    from dask.distributed import as_completed

    client = connection[0]
    text = study_to_toml(study)
    futures = {}
    for key in todo:
        fut = client.submit(_remote_task, text, str(study.base_dir), points[key.point], key.start, key.stop,
                            threads, key=f"mcaann-{hash(text) & 0xFFFFFFFF:x}-{key.point}-{key.start}-{key.stop}",
                            retries=3, pure=False)
        futures[fut] = key
    for fut in as_completed(futures, loop=client.loop):  # the client is not the default one
        yield futures[fut], fut.result()
