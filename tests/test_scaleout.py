"""Scale-out: shards + merge, Dask (with a killed worker), resume after SIGKILL, merge refusals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import mcaann
from mcaann.cli import app
from mcaann.io.netcdf import open_result
from mcaann.merge import merge_parts
from mcaann.study import StudyError

runner = CliRunner()
ARGS = ["xor", "--instances", "150", "--set", "task.epochs=3", "--sweep", "mismatch.scale=0,2", "--quiet",
        "--chunk", "64"]


#: the same study at 300 epochs (about a second a task on 2 cores), for the tests that interrupt a run between
#: tasks: at 3 epochs a task takes tens of milliseconds and a run can end before the interruption lands
LONG_ARGS = [a if a != "task.epochs=3" else "task.epochs=300" for a in ARGS]


def _same_numbers(a: xr.Dataset, b: xr.Dataset):
    assert set(a.data_vars) == set(b.data_vars)
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    for c in a.coords:
        np.testing.assert_array_equal(a[c].values, b[c].values, err_msg=c)
    assert a.attrs["study"] == b.attrs["study"]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "single.nc"
    res = runner.invoke(app, ["run", *ARGS, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert not Path(str(out) + ".parts").exists()
    return open_result(out)


@pytest.fixture(scope="module")
def long_single(tmp_path_factory):
    out = tmp_path_factory.mktemp("long") / "long.nc"
    res = runner.invoke(app, ["run", *LONG_ARGS, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return open_result(out)


@pytest.mark.parametrize("n", [2, 3])
def test_shards_merge_to_the_single_run(tmp_path, single, n):
    parts = []
    for k in range(n):
        p = tmp_path / f"part{k}.nc"
        res = runner.invoke(app, ["run", *ARGS, "--shard", f"{k}/{n}", "--out", str(p)])
        assert res.exit_code == 0, res.output
        parts.append(str(p))
    out = tmp_path / "merged.nc"
    res = runner.invoke(app, ["merge", *reversed(parts), "--out", str(out)])
    assert res.exit_code == 0, res.output
    _same_numbers(single, open_result(out))


def test_merge_refuses_bad_sets(tmp_path):
    def part(k, n, *extra):
        p = tmp_path / f"p{k}_{n}_{len(extra)}.nc"
        assert runner.invoke(app, ["run", *ARGS, "--shard", f"{k}/{n}", "--out", str(p), *extra]).exit_code == 0
        return p

    a, b = part(0, 2), part(1, 2)
    other = part(1, 2, "--set", "circuit.K_g=2e-7")
    with pytest.raises(StudyError, match=f"{other.name} is a part of another study"):
        merge_parts([a, other])
    with pytest.raises(StudyError, match=f"{b.name} is given twice"):
        merge_parts([a, b, b])
    third = part(1, 3)  # instances 50..99 overlap shard 0/2 (0..74)
    with pytest.raises(StudyError, match=f"{third.name} overlaps"):
        merge_parts([a, b, third])
    with pytest.raises(StudyError, match=r"instances 75\.\.149 are missing"):
        merge_parts([a])
    res = runner.invoke(app, ["merge", str(a), "--out", str(tmp_path / "m.nc")])
    assert res.exit_code == 2 and "missing" in res.output and not (tmp_path / "m.nc").exists()


def test_bad_shard_spec(tmp_path):
    res = runner.invoke(app, ["run", *ARGS, "--shard", "3/3", "--out", str(tmp_path / "x.nc")])
    assert res.exit_code == 2 and res.output.startswith("error: --shard")


def test_resume_after_sigkill_equals_uninterrupted(tmp_path, long_single):
    out = tmp_path / "killed.nc"
    parts = Path(str(out) + ".parts")
    cmd = [sys.executable, "-m", "mcaann.cli", "run", *LONG_ARGS, "--out", str(out), "--threads", "1"]
    env = dict(os.environ)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if parts.exists() and len(list(parts.glob("task_*.npz"))) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    done_before = len(list(parts.glob("task_*.npz")))
    assert 2 <= done_before < 6
    res = runner.invoke(app, ["run", *LONG_ARGS, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert not parts.exists()
    _same_numbers(long_single, open_result(out))


def test_dask_local_cluster_with_a_killed_worker_equals_single_run(long_single):
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        result = {}

        def work():
            result["ds"] = mcaann.run_study("xor", monte_carlo__instances=150, task__epochs=300, chunk=64,
                                            sweeps={"mismatch.scale": [0, 2]}, dask=cluster.scheduler_address)

        t = threading.Thread(target=work)
        t.start()
        # kill one worker as soon as tasks are running on it; the nanny restarts it and Dask retries
        deadline = time.time() + 120
        victim = None
        while time.time() < deadline and victim is None and t.is_alive():
            processing = client.processing()
            busy = [w for w, tasks in processing.items() if tasks]
            if busy:
                victim = busy[0]
            time.sleep(0.05)
        if victim is not None:
            pid = client.run(os.getpid, workers=[victim])[victim]
            os.kill(pid, signal.SIGKILL)
        t.join(600)
        assert not t.is_alive()
    assert victim is not None
    _same_numbers(long_single, result["ds"])


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_stops_quickly_and_resumes(tmp_path, long_single, sig, code):
    """Ctrl-C (exit 130) and a batch scheduler's SIGTERM (exit 143) alike keep the finished parts,
    leave no temporary file and resume to the uninterrupted result."""
    out = tmp_path / "int.nc"
    parts = Path(str(out) + ".parts")
    # a run long enough to be interrupted mid-task
    cmd = [sys.executable, "-m", "mcaann.cli", "run", *LONG_ARGS, "--out", str(out), "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if parts.exists() and list(parts.glob("task_*.npz")):
            break
        time.sleep(0.02)
    assert proc.poll() is None
    t0 = time.time()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    # well inside a scheduler's grace before SIGKILL (Slurm's KillWait: 30 s), on a loaded machine too
    assert time.time() - t0 < 10.0
    assert proc.returncode == code, err
    assert "run the same command again to resume" in err
    assert not out.exists() and parts.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["int.nc.parts"]
    assert not list(parts.glob("*.tmp"))
    res = runner.invoke(app, ["run", *LONG_ARGS, "--out", str(out)])
    assert res.exit_code == 0
    _same_numbers(long_single, open_result(out))


@pytest.mark.parametrize("dtype, lanes", [("float64", 64), ("float32", 128)])
def test_default_tasks_are_whole_kernel_blocks_of_the_dtype(dtype, lanes):
    from mcaann.runner import plan_tasks
    from mcaann.study import load_study

    st = load_study("xor", {"monte_carlo.instances": 5000, "integrator.dtype": dtype})
    _, tasks = plan_tasks(st)
    sizes = [t.stop - t.start for t in tasks]
    assert sizes[:-1] == [16 * lanes] * (len(sizes) - 1) and sum(sizes) == 5000
