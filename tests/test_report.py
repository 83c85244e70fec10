"""Reports from a result file alone: statistics, PNG figures, the ``report`` command, the notebook."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import nbformat
import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import mcaann
from mcaann.cli import app
from mcaann.report.figures import attribution_table, write_figures
from mcaann.stats.curves import convergence_stats, epoch_duration, learning_curve_bands

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "studies" / "analysis.ipynb"
SWEPT = {"learning_curves.png", "yield.png", "cost.png", "convergence_time.png", "attribution.png", "weights.png"}


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> tuple[xr.Dataset, Path]:
    """A small real result (2 sweep points, mismatch off at the first) and its file."""
    ds = mcaann.run_study("xor_ideal", monte_carlo__instances=64, task__epochs=20,
                          sweeps={"mismatch.scale": [0.0, 2.0]}, overrides={"mismatch.enabled": True})
    path = mcaann.write_result(ds, tmp_path_factory.mktemp("result") / "small.nc")
    return mcaann.open_result(path), path


def _check_pngs(paths: list[Path], expected: set[str]) -> None:
    assert {p.name for p in paths} == expected
    for p in paths:
        assert p.is_file() and p.stat().st_size > 1000
        img = matplotlib.image.imread(p)
        assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300


# ----------------------------------------------------------------------------- curves

def _conv_dataset(epochs: list[float], t_row=100e-9, rows: int = 4) -> xr.Dataset:
    e = np.asarray(epochs, float)
    ds = xr.Dataset({
        "epochs_to_converge": (("instance",), e),
        "converged": (("instance",), np.isfinite(e)),
        "diverged": (("instance",), np.zeros(e.size, bool)),
    }, coords={"instance": np.arange(e.size), "row": np.arange(rows)}, attrs={"T_row": t_row})
    ds["yield"] = ds["converged"].mean("instance")
    return ds


def test_convergence_stats_conventions():
    cs = convergence_stats(_conv_dataset([4, 1, 3, 2] + [np.nan] * 6), quantiles=(0.1, 0.4, 0.5, 1.0))
    assert int(cs["n_instances"]) == 10 and int(cs["n_converged"]) == 4 and int(cs["n_never"]) == 6
    # over converged instances: linear interpolation of 1, 2, 3, 4
    np.testing.assert_allclose(cs["epochs_converged"], [1.3, 2.2, 2.5, 4.0])
    # over all instances, never = inf: smallest e with at least q of all converged by e
    np.testing.assert_array_equal(cs["epochs_all"], [1.0, 4.0, np.inf, np.inf])
    assert float(cs["epoch_duration"]) == pytest.approx(400e-9)
    np.testing.assert_allclose(cs["time_converged"], cs["epochs_converged"] * 400e-9)
    assert cs["time_all"].attrs["units"] == "s"


def test_convergence_stats_nothing_converged():
    cs = convergence_stats(_conv_dataset([np.nan] * 5))
    assert int(cs["n_never"]) == 5
    assert np.isnan(cs["epochs_converged"]).all() and np.isinf(cs["epochs_all"]).all()


def test_swept_t_row_sets_the_epoch_duration():
    a = _conv_dataset([10, 20], t_row=1e-7).expand_dims(task__T_row=[1e-7])
    b = _conv_dataset([10, 20], t_row=1e-7).expand_dims(task__T_row=[2e-7])
    ds = xr.concat([a, b], "task__T_row")
    np.testing.assert_allclose(epoch_duration(ds), [4e-7, 8e-7])
    cs = convergence_stats(ds, quantiles=(0.5,))
    np.testing.assert_allclose(cs["time_converged"].sel(quantile=0.5), [15 * 4e-7, 15 * 8e-7])


def test_convergence_stats_on_a_result(result):
    ds, _ = result
    cs = convergence_stats(ds)
    assert cs["epochs_all"].dims == ("mismatch__scale", "quantile")
    np.testing.assert_array_equal(cs["n_converged"] + cs["n_never"], 64)
    np.testing.assert_array_equal(cs["n_converged"], ds["converged"].sum("instance"))
    np.testing.assert_allclose(cs["yield"], ds["yield"])


def test_learning_curve_bands(result):
    ds, _ = result
    bands = learning_curve_bands(ds, (0.0, 0.1, 0.5, 0.9, 1.0))
    assert bands.dims == ("mismatch__scale", "quantile", "epoch")
    ref = np.quantile(ds["mse"].values, [0.0, 0.1, 0.5, 0.9, 1.0], axis=1, method="inverted_cdf")
    np.testing.assert_allclose(bands.transpose("quantile", ...).values, ref)
    assert bands.attrs["units"] == "V2"
    # a diverged (NaN) instance counts as the worst, not as missing
    mse = ds["mse"].copy()
    mse[0, :, -1] = np.nan
    assert np.isinf(learning_curve_bands(ds.assign(mse=mse), (1.0,)).isel(mismatch__scale=0, epoch=-1))


# ----------------------------------------------------------------------------- figures

def test_write_figures_sweep(result, tmp_path):
    ds, _ = result
    _check_pngs(write_figures(ds, tmp_path / "plots"), SWEPT)


def test_write_figures_single_point_with_retention(result, tmp_path):
    ds, _ = result
    single = ds.isel(mismatch__scale=0)  # not swept, and mismatch scale 0: nothing to attribute
    rng = np.random.default_rng(0)
    hold = np.array([0.0, 1e-6, 1e-4, 1e-2])  # hold time 0 cannot sit on a log axis: left out there
    ret = single["final_mse"].values[:, None] * np.exp(rng.uniform(0, 1, (64, 4)) * np.log1p(hold / 1e-4))
    single = single.assign_coords(hold_time=("hold_time", hold, {"units": "s"}))
    single["retention_mse"] = (("instance", "hold_time"), ret, {"units": "V2"})
    _check_pngs(write_figures(single, tmp_path),
                {"learning_curves.png", "convergence_time.png", "weights.png", "retention.png"})


def test_attribution_table(result):
    ds, _ = result
    t = attribution_table(ds, top=4)
    assert t.row_count == 4  # only the mismatched point has varying parameters
    assert attribution_table(ds.isel(mismatch__scale=0)).row_count == 0


def test_report_command_on_the_file_alone(result, tmp_path):
    _, path = result
    plots = tmp_path / "plots"
    out = CliRunner().invoke(app, ["report", str(path), "--plots", str(plots)])
    assert out.exit_code == 0, out.output
    assert {p.name for p in plots.glob("*.png")} == SWEPT
    assert "figure:" in out.output


# ----------------------------------------------------------------------------- notebook

def test_notebook_runs(result, tmp_path, monkeypatch):
    from ipykernel.kernelspec import write_kernel_spec
    from nbclient import NotebookClient

    _, path = result
    # a kernel named python3 that runs this very interpreter, found before any other of that name
    write_kernel_spec(tmp_path / "jupyter" / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MCAANN_RESULT", str(path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.cells[0].cell_type == "code" and 'RESULT = "results/xor.nc"' in nb.cells[0].source
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert str(path) in text  # the notebook opened the file MCAANN_RESULT names, not its default


def test_epochs_needed_counts_a_chip_that_never_converged_as_beyond_the_budget():
    from mcaann.report.summary import _need, epochs_needed

    e = np.array([30.0, 10.0, np.nan, 20.0] * 25)  # 100 chips: 25 at each of 10, 20, 30 epochs, 25 never
    assert epochs_needed(e, 0.5) == 20.0
    assert epochs_needed(e, 0.75) == 30.0
    assert epochs_needed(e, 0.76) == np.inf
    assert _need(epochs_needed(e, 0.99), 300) == ">300"
    assert _need(epochs_needed(e, 0.25), 300) == "10"


def test_cost_figure_draws_yield_against_area_and_energy_of_an_area_sweep(tmp_path):
    # a small real result: chips without mismatch (most converge), device area swept
    from mcaann.report.figures import cost_figure

    ds = mcaann.run_study("xor", monte_carlo__instances=24, task__epochs=150, overrides={"mismatch.scale": 0.0},
                          sweeps={"mismatch.area_scale": [1.0, 4.0]})
    ds = mcaann.open_result(mcaann.write_result(ds, tmp_path / "area.nc"))
    fig = cost_figure(ds)
    ax_a, ax_e = fig.axes[:2]
    area = [float(ds["chip_area"].isel(mismatch__area_scale=k)) * 1e6 for k in range(2)]
    assert area[1] > area[0]  # 4x the device area costs silicon
    drawn = [line.get_xdata()[0] for line in ax_a.lines if len(line.get_xdata()) == 1]
    np.testing.assert_allclose(sorted(set(drawn)), sorted(area), rtol=1e-12)
    e = ds["energy_to_converge"].isel(mismatch__area_scale=0).values
    assert any(np.isclose(line.get_xdata()[0], np.median(e[np.isfinite(e)]), rtol=1e-12) for line in ax_e.lines
               if len(line.get_xdata()) == 1)
    _check_pngs(write_figures(ds, tmp_path / "plots"), SWEPT)
    assert cost_figure(ds.isel(mismatch__area_scale=0)) is None  # one point: nothing to compare
