"""Hostile input and batch-cluster conditions: refused with one line before any work, or survived."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from mcaann.cli import app
from mcaann.errors import McaannWarning, StudyError
from mcaann.io.netcdf import open_result
from mcaann.merge import merge_parts
from mcaann.parts import PartStore, parts_dir
from mcaann.runner import plan_tasks, run_study, run_task
from mcaann.study.load import load_study, study_to_toml

runner = CliRunner()
SMALL = ["--instances", "64", "--set", "task.epochs=3", "--quiet"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _one_error_line(res, field: str) -> None:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}"), res.output
    assert "Traceback" not in res.output


def _same_numbers(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)


# defect 1: the atomic write target
def test_out_device_and_folder_are_refused(tmp_path):
    res = runner.invoke(app, ["run", "xor", *SMALL, "--out", os.devnull])
    _one_error_line(res, f"--out {os.devnull}")
    assert not Path(os.devnull).is_file()
    _one_error_line(runner.invoke(app, ["run", "xor", *SMALL, "--out", str(tmp_path)]), f"--out {tmp_path}")
    _one_error_line(runner.invoke(app, ["run", "xor", *SMALL, "--out", ""]), "--out")
    assert not list(tmp_path.iterdir())


def test_out_the_study_file_is_refused(tmp_path):
    study = tmp_path / "mine.toml"
    study.write_text('[task]\nepochs = 3\n')
    res = runner.invoke(app, ["run", str(study), "--instances", "64", "--quiet", "--out", str(study)])
    _one_error_line(res, f"--out {study}")
    assert study.read_text() == '[task]\nepochs = 3\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.toml"]


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        _one_error_line(runner.invoke(app, ["run", "xor", *SMALL, "--out", str(ro / "r.nc")]), "--out")
    finally:
        ro.chmod(0o755)


def test_overwriting_an_earlier_result_is_stated(tmp_path):
    out = tmp_path / "r.nc"
    out.write_bytes(b"old")
    res = runner.invoke(app, ["run", "xor_ideal", "--instances", "64", "--set", "task.epochs=3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"{out} exists and is replaced" in res.output
    assert open_result(out).sizes["instance"] == 64


# defect 3: a shard with no instances
def test_empty_shard_writes_a_part_that_merges(tmp_path):
    args = ["xor", "--instances", "2", "--set", "task.epochs=2", "--quiet"]
    single = tmp_path / "single.nc"
    assert runner.invoke(app, ["run", *args, "--out", str(single)]).exit_code == 0
    parts = []
    for k in range(3):  # shard 0/3 of 2 instances is empty
        parts.append(tmp_path / f"p{k}.nc")
        res = runner.invoke(app, ["run", *args, "--shard", f"{k}/3", "--out", str(parts[-1])])
        assert res.exit_code == 0, res.output
    assert open_result(parts[0]).sizes["instance"] == 0
    assert not list(tmp_path.glob("*.parts"))
    _same_numbers(open_result(single), merge_parts(parts))
    _same_numbers(open_result(single), merge_parts(parts[::-1]))  # in any order


# defect 4: size before work
def test_size_estimate_printed_and_a_run_too_big_for_the_disk_refused(tmp_path):
    res = runner.invoke(app, ["validate", "xor"])
    assert res.exit_code == 0 and "estimated result size" in res.output and "MB" in res.output
    out = tmp_path / "huge.nc"
    t0 = time.perf_counter()
    res = runner.invoke(app, ["run", "xor", "--instances", "1000000000", "--quiet", "--out", str(out)])
    _one_error_line(res, f"--out {out}")
    assert "free" in res.output and time.perf_counter() - t0 < 10
    assert not list(tmp_path.iterdir())


# defect 5: one-line errors
@pytest.mark.parametrize("args,field", [
    (["--set", "integrator.dt=1e-300"], "task.T_row"),
    (["--set", "task.T_row=1e300"], "task.T_row"),
    (["--set", "process.temperature=inf"], "process.temperature"),
    (["--set", "monte_carlo.w_init_range=inf"], "monte_carlo.w_init_range"),
    (["--set", "circuit.C=true"], "circuit.C"),
])
def test_bad_numbers_are_one_line_in_run_and_validate(tmp_path, args, field):
    _one_error_line(runner.invoke(app, ["validate", "xor", *args]), field)
    _one_error_line(runner.invoke(app, ["run", "xor", *SMALL, *args, "--out", str(tmp_path / "r.nc")]), field)
    assert not list(tmp_path.iterdir())


def test_a_study_file_that_is_not_utf8(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'name = "\xff\xfe"\n')
    _one_error_line(runner.invoke(app, ["validate", str(bad)]), "bad.toml")


def test_report_of_a_foreign_netcdf_and_plots_into_a_file(tmp_path):
    foreign = tmp_path / "other.nc"
    xr.Dataset({"t": ("x", np.arange(3.0))}).to_netcdf(foreign)
    _one_error_line(runner.invoke(app, ["report", str(foreign)]), str(foreign))
    out = tmp_path / "r.nc"
    assert runner.invoke(app, ["run", "xor_ideal", *SMALL, "--out", str(out)]).exit_code == 0
    afile = tmp_path / "afile"
    afile.write_text("x")
    res = runner.invoke(app, ["report", str(out), "--plots", str(afile)])
    assert res.exit_code == 2 and f"error: --plots {afile}" in res.output and "Traceback" not in res.output


def _silent_server(reply: bytes | None):
    """A TCP server on a free port that accepts and then says nothing (or ``reply``, another protocol)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve():
        conns = []
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            conns.append(c)
            if reply is not None:
                c.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return srv


@pytest.mark.parametrize("reply", [None, b"HTTP/1.1 400 Bad Request\r\n\r\n"])
def test_dask_address_that_does_not_answer(tmp_path, reply):
    srv = _silent_server(reply)
    try:
        t0 = time.perf_counter()
        res = runner.invoke(app, ["run", "xor", *SMALL, "--dask", f"tcp://127.0.0.1:{srv.getsockname()[1]}",
                                  "--out", str(tmp_path / "r.nc")])
        assert time.perf_counter() - t0 < 30
    finally:
        srv.close()
    _one_error_line(res, "--dask")
    assert not list(tmp_path.iterdir())


# defect 6: part files
def test_truncated_part_is_named_and_recomputed(tmp_path):
    st = load_study("xor", {"monte_carlo.instances": 100, "task.epochs": 3})
    single = run_study(st, chunk=32)
    out = tmp_path / "r.nc"
    points, tasks = plan_tasks(st, chunk=32)
    store = PartStore(parts_dir(out), study_to_toml(st) + "\n# shard None\n")
    for key in tasks:
        store.save(key, run_task(st, points, key))
    victim = store._path(tasks[1])
    victim.write_bytes(victim.read_bytes()[:200])
    store.close()
    with pytest.warns(McaannWarning, match=victim.name):
        ds = run_study(st, chunk=32, out=out)
    _same_numbers(single, ds.load())
    assert not parts_dir(out).exists()


def test_second_run_on_the_same_out_is_refused(tmp_path):
    out = tmp_path / "r.nc"
    st = load_study("xor", {"monte_carlo.instances": 64, "task.epochs": 3})
    holder = PartStore(parts_dir(out), study_to_toml(st) + "\n# shard None\n")  # a run in progress
    try:
        res = runner.invoke(app, ["run", "xor", *SMALL, "--out", str(out)])
        _one_error_line(res, "--out")
        assert "another run" in res.output
    finally:
        holder.close()
    assert runner.invoke(app, ["run", "xor", *SMALL, "--out", str(out)]).exit_code == 0


# defect 7: sweeps
@pytest.mark.parametrize("args,field", [
    (["--sweep", "mismatch.scale=1,1,2"], "sweep.mismatch.scale"),
    (["--sweep", "circuit.C=100f,0.1p"], "sweep.circuit.C"),
    (["--sweep", "mismatch.scale=1,2", "--sweep", "mismatch.scale=3"], "--sweep mismatch.scale"),
    (["--sweep", "mismatch.scale=1,2", "--set", "mismatch.scale=3"], "--set mismatch.scale"),
    (["--sweep", "name=a,b"], "sweep.name"),
])
def test_bad_sweeps_are_refused(tmp_path, args, field):
    _one_error_line(runner.invoke(app, ["run", "xor", *SMALL, *args, "--out", str(tmp_path / "r.nc")]), field)
    assert not list(tmp_path.iterdir())


def test_sweep_without_values_in_a_study_file(tmp_path):
    study = tmp_path / "s.toml"
    study.write_text('[sweep]\n"mismatch.scale" = []\n')
    _one_error_line(runner.invoke(app, ["validate", str(study)]), "sweep.mismatch.scale")
    with pytest.raises(StudyError, match="no values"):
        load_study(str(study))


def test_swept_boolean_stays_boolean_and_a_swept_seed_is_recorded_per_point():
    ds = run_study("xor", monte_carlo__instances=2, task__epochs=2, sweeps={"noise.enabled": [False, True]})
    assert ds["noise__enabled"].dtype == bool
    seeds = [7, 4294967295]
    ds = run_study("xor", monte_carlo__instances=2, task__epochs=2, sweeps={"monte_carlo.seed": seeds})
    assert ds["monte_carlo__seed"].values.tolist() == seeds
    assert not np.array_equal(ds["w_init"][0].values, ds["w_init"][1].values)



# defect 9: physical values
def test_nonphysical_samples_are_clipped_with_a_counted_warning():
    with pytest.warns(McaannWarning, match=r"c: \d+ of \d+ sampled values <= 0 clipped"):
        ds = run_study("xor", monte_carlo__instances=64, task__epochs=2, mismatch__scale=100, noise__enabled=False)
    for name in ("c", "km_fwd", "iref"):
        assert float(ds[name].min()) > 0, name


def test_spice_suffix_after_an_exponent_warns_and_show_makes_it_visible():
    res = runner.invoke(app, ["show", "xor", "--set", "circuit.C=1e-13F"])
    assert res.exit_code == 0
    assert "warning: circuit.C: '1e-13F' reads as 1e-28" in res.output and "C = 1.0000000000000001e-28" in res.output
    with pytest.warns(McaannWarning, match="reads as 1e-28"):
        load_study({"circuit": {"C": "1e-13F"}})


# metadata
def test_cf_acdd_attributes_flags_units_and_temperature(tmp_path):
    out = tmp_path / "r.nc"
    res = runner.invoke(app, ["run", "xor", *SMALL, "--sweep", "circuit.C=100f,200f", "--out", str(out)])
    assert res.exit_code == 0, res.output
    ds = open_result(out)
    for a in ("Conventions", "title", "history", "source", "references", "date_created"):
        assert ds.attrs[a], a
    assert "ACDD" in ds.attrs["Conventions"] and ds.attrs["source"].startswith("mcaann ")
    assert ds["circuit__C"].attrs["units"] == "F" and ds.attrs["dt_units"] == "s"
    for v in ("converged", "diverged"):
        assert list(ds[v].attrs["flag_values"]) == [0, 1] and len(ds[v].attrs["flag_meanings"].split()) == 2
    assert ds["temperature"].attrs["units"] == "K" and float(ds["temperature"][0]) == 300.15


# defect 8: many processes, one kernel cache, one compilation
_RUN_AND_COUNT = """import sys
from mcaann.cli import app
from mcaann.engine.kernels import compiled_here
try:
    app(sys.argv[1:])
except SystemExit as e:
    status = e.code
print("compiled", compiled_here())
sys.exit(status)
"""


@pytest.mark.slow
def test_eight_processes_on_one_empty_kernel_cache(tmp_path):
    env = {**os.environ, "MCAANN_KERNEL_CACHE": str(tmp_path / "cache"), "NUMBA_NUM_THREADS": "1"}
    outs = [tmp_path / f"r{i}.nc" for i in range(8)]
    # a small network: what is tested is the shared cache, not the compiler's time
    procs = [subprocess.Popen([sys.executable, "-c", _RUN_AND_COUNT, "run", "xor_ideal", "--instances", "64", "--set",
                               "task.epochs=2", "--set", "network.layers=[2,2,1]", "--quiet", "--threads", "1",
                               "--out", str(o)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for o in outs]
    compiled = 0
    for p in procs:
        out, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
        compiled += int(out.split("compiled ")[-1])
    assert compiled == 1  # the first process compiles the training kernel; the others wait and load it
    first = open_result(outs[0])
    for o in outs[1:]:
        ds = open_result(o)
        _same_numbers(first, ds)
        skip = ("created", "date_created", "history", "wall_time", "kernel_time", "instance_steps_per_second")
        assert {k: str(v) for k, v in ds.attrs.items() if k not in skip} == {
            k: str(v) for k, v in first.attrs.items() if k not in skip}


def test_run_summary_fits_80_columns_without_cutting_a_sweep_key():
    from rich.console import Console

    from mcaann.report.summary import summary_table

    ds = run_study("xor", monte_carlo__instances=2, task__epochs=2, sweeps={"mismatch.global_fraction": [0.1, 0.2]})
    console = Console(width=80, record=True, file=open(os.devnull, "w"))  # noqa: SIM115 - closed with the console
    console.print(summary_table(ds))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "mismatch.global_fraction" in text
    assert sum("% [" in line for line in text.splitlines()) == 2  # one line per sweep point: no cell wraps


def test_weights_figure_leaves_out_diverged_instances_and_counts_them():
    from mcaann.report.figures import weight_figure

    ds = run_study("xor", monte_carlo__instances=8, task__epochs=2).load()
    ds["diverged"][:3] = True
    ds["w_final"][:3] = 1e30
    fig = weight_figure(ds)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "diverged, left out (3 inst.)" in labels
    assert ax.get_xlim()[1] < 10  # the frozen 1e30 V weights do not set the range
