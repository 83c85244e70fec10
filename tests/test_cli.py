"""The command line through Typer's runner: runs, bad input (exit 2, one line, no file)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from mcaann.cli import app
from mcaann.io.netcdf import open_result

runner = CliRunner()
SMALL = ["--instances", "64", "--set", "task.epochs=3", "--quiet"]


def test_run_writes_result_and_summary(tmp_path):
    out = tmp_path / "r.nc"
    res = runner.invoke(app, ["run", "xor_ideal", "--out", str(out), "--instances", "64", "--set", "task.epochs=3"])
    assert res.exit_code == 0, res.output
    assert "yield" in res.output and "instance-steps/s" in res.output
    ds = open_result(out)
    assert ds.sizes["instance"] == 64 and ds.sizes["epoch"] == 4
    for name, var in ds.data_vars.items():
        assert "units" in var.attrs and "long_name" in var.attrs, name
    assert ds.attrs["seed"] == 0 and "[circuit]" in ds.attrs["study"]


def test_set_and_seed_options(tmp_path):
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    assert runner.invoke(app, ["run", "xor", "--out", str(a), *SMALL, "--seed", "5"]).exit_code == 0
    assert runner.invoke(app, ["run", "xor", "--out", str(b), *SMALL, "--set", "monte_carlo.seed=5"]).exit_code == 0
    np.testing.assert_array_equal(open_result(a)["w_final"], open_result(b)["w_final"])


def test_studies_show_validate():
    res = runner.invoke(app, ["studies"])
    assert res.exit_code == 0 and "xor_232" in res.output
    res = runner.invoke(app, ["show", "xor", "--set", "circuit.C=0.2p"])
    assert res.exit_code == 0 and "C = 2e-13" in res.output
    assert runner.invoke(app, ["validate", "sine"]).exit_code == 0


@pytest.mark.parametrize("args,field", [
    (["--set", "circuit.nonsense=1"], "circuit.nonsense"),
    (["--set", "circuit.C=-0.1p"], "circuit.C"),
    (["--set", "task.T_row=1.5n"], "task.T_row"),
    (["--set", "integrator.dt=oops"], "integrator.dt"),
    (["--set", "noequals"], "--set"),
    (["--sweep", "network.layers=[2,4,1],[2,8,1]"], "sweep.network.layers"),
])
def test_bad_input_exits_2_with_one_line_and_no_file(tmp_path, args, field):
    out = tmp_path / "bad.nc"
    res = runner.invoke(app, ["run", "xor", "--out", str(out), *SMALL, *args])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}"), res.output
    assert "Traceback" not in res.output
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("content,why", [
    ("x0,x1,t0\n0,0,0.1\n0,1\n", "fields"),
    ("x0,x1,t0\n0,zero,0.1\n", "not a number"),
    ("a,b\n1,2\n", "neither"),
    ("x0,x1\n1,2\n", "t* column"),
])
def test_malformed_csv_exits_2(tmp_path, content, why):
    csv = tmp_path / "data.csv"
    csv.write_text(content)
    out = tmp_path / "r.nc"
    res = runner.invoke(app, ["run", "xor", "--out", str(out), *SMALL, "--set", f"task.dataset={csv}"])
    assert res.exit_code == 2
    assert res.output.startswith("error: task.dataset:") and why in res.output
    assert not out.exists()


def test_csv_dataset_relative_to_study_file(tmp_path):
    (tmp_path / "d.csv").write_text("x0,t0\n0.2,0.8\n0.8,0.2\n")
    study = tmp_path / "mine.toml"
    study.write_text('[network]\nlayers = [1, 2, 1]\n[task]\ndataset = "d.csv"\nepochs = 2\n')
    out = tmp_path / "mine.nc"
    res = runner.invoke(app, ["run", str(study), "--out", str(out), "--instances", "64", "--quiet"])
    assert res.exit_code == 0, res.output
    ds = open_result(out)
    np.testing.assert_array_equal(ds["task_t"].values[:, 0], [0.8, 0.2])
    assert ds.attrs["study_name"] == "mine"


def test_unknown_study_and_report_of_missing_file(tmp_path):
    res = runner.invoke(app, ["run", "no_such_study"])
    assert res.exit_code == 2 and res.output.startswith("error: study:")
    res = runner.invoke(app, ["report", str(tmp_path / "none.nc")])
    assert res.exit_code == 2


def test_check_dt_reports_and_warns_for_a_coarse_step(tmp_path):
    out = tmp_path / "c.nc"
    res = runner.invoke(app, ["run", "xor_ideal", "--out", str(out), "--instances", "64", "--set", "task.epochs=5",
                              "--set", "integrator.dt=25n", "--set", "integrator.method=euler", "--check-dt"])
    assert res.exit_code == 0, res.output
    ds = open_result(out)
    assert ds.attrs["check_dt_max_dw"] > 1e-3 and ds.attrs["check_dt_ok"] == 0
    # the verdict is on what the result reports: final MSE against the yield threshold, outcomes, epochs
    assert ds.attrs["check_dt_max_dmse"] > 0.05 * ds.attrs["mse_threshold"] or ds.attrs["check_dt_outcome_changes"]
    assert "WARNING" in res.output
