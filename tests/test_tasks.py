"""Real tasks (shipped data, held-out split, argmax decision) and the training strategies on the same chips."""

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from mcaann.circuit.network import Topology
from mcaann.cli import app
from mcaann.engine.driver import Chip, run_instances, study_task
from mcaann.engine.reference import Reference
from mcaann.errors import StudyError
from mcaann.io.netcdf import write_result
from mcaann.report.strategies import paired_rows, strategy_figure, strategy_rows
from mcaann.scale.run import run_study
from mcaann.stats.strategies import paired_mean_difference
from mcaann.strategies.fit import fitted_parameters, per_chip_weights
from mcaann.strategies.rram import drift
from mcaann.study import load_study
from mcaann.tasks.datasets import TaskDataError, correct, load_task, split_rows
from mcaann.variability.mismatch import sample_instances

#: a nominal chip (mismatch on at scale 0: every block at its nominal value, read from per-block arrays) with no
#: leakage or noise and Euler steps: its kernels are the software model's (one compile for every strategy test)
NOMINAL = {
    "name": "t", "network": {"layers": [4, 4, 3]},
    "task": {"dataset": "iris", "epochs": 2, "T_row": 100e-9, "order": "shuffled"},
    "integrator": {"method": "euler", "dt": 20e-9},
    "mismatch": {"scale": 0.0}, "leakage": {"enabled": False}, "noise": {"enabled": False},
    "monte_carlo": {"instances": 64}, "training": {"software_epochs": 30},
}
#: an ideal transfer to RRAM: continuous levels, no spread, read noise or drift
IDEAL_RRAM = {"rram.levels": 0, "rram.spread": 0.0, "rram.read_noise": 0.0, "rram.nu": 0.0}


def _study(**overrides):
    return load_study(NOMINAL, {k.replace("__", "."): v for k, v in overrides.items()})


# -- data ------------------------------------------------------------------------------------------------------


def test_shipped_data_scaled_one_hot_and_split_by_seed():
    iris = load_task("iris")
    assert iris.x.shape == (150, 4) and iris.t.shape == (150, 3) and iris.argmax
    assert iris.x.min() == 0.0 and iris.x.max() == 1.0
    assert set(np.unique(iris.t)) == {0.1, 0.9} and np.all((iris.t == 0.9).sum(1) == 1)
    assert np.bincount(np.argmax(iris.t, 1)).tolist() == [50, 50, 50]
    assert iris.test.sum() == 45 and iris.n_train == 105  # 30 % held out
    digits = load_task("digits", split_seed=1)
    assert digits.x.shape == (1797, 64) and digits.t.shape == (1797, 10) and digits.argmax
    assert 0.0 <= digits.x.min() and digits.x.max() == 1.0 and digits.test.sum() == 539
    # fixed by the seed: the same rows every time, other rows for another seed
    assert np.array_equal(split_rows(150, 7), load_task("iris", split_seed=7).test)
    assert not np.array_equal(split_rows(150, 7), split_rows(150, 8))
    assert load_task("iris", split="none").test is None
    assert load_task("xor").test is None and load_task("xor", split="seeded").test.sum() == 1


def test_csv_split_column(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("x0,split,t0\n0,train,0.1\n1,test,0.9\n0.5,TEST,0.9\n0.2,train,0.1\n")
    task = load_task(str(f))
    assert task.test.tolist() == [False, True, True, False]
    assert task.train[0].ravel().tolist() == [0.0, 0.2] and task.held_out[1].ravel().tolist() == [0.9, 0.9]
    assert load_task(str(f), split="none").test is None
    assert load_task(str(f), split="seeded", split_seed=3).test.sum() == 1
    f.write_text("x0,split,t0\n0,train,0.1\n1,validate,0.9\n")
    with pytest.raises(TaskDataError, match="'validate' is neither train nor test"):
        load_task(str(f))
    g = tmp_path / "g.csv"
    g.write_text("x0,t0\n0,0.1\n1,0.9\n")
    with pytest.raises(TaskDataError, match="no split column"):
        load_task(str(g), split="column")


def test_target_scale_moves_builtin_targets_to_mid_scale(tmp_path):
    # xor's targets 0.1 / 0.9 of a 0.5 V swing, halfway to mid-scale: 0.15 / 0.35 V; inputs and thresholds stay
    st = load_study("xor", {"task.target_scale": 0.5})
    task, plain = study_task(st), study_task(load_study("xor"))
    np.testing.assert_allclose(np.unique(task.t), [0.15, 0.35])
    np.testing.assert_array_equal(task.x, plain.x)
    np.testing.assert_array_equal(task.thresholds, plain.thresholds)
    f = tmp_path / "d.csv"
    f.write_text("x0,x1,t0\n0,0,0.1\n1,1,0.9\n")
    res = CliRunner().invoke(app, ["run", "xor", "--set", f"task.dataset={f}", "--set", "task.target_scale=0.5",
                                   "--instances", "2", "--out", str(tmp_path / "r.nc")])
    assert res.exit_code == 2 and "task.target_scale" in res.output
    assert not (tmp_path / "r.nc").exists()


def test_argmax_accuracy_against_a_hand_count(tmp_path):
    """One layer of ideal blocks: output j follows x . w_j, so the largest output is known by hand."""
    rows = [((1.0, 0.0), 0), ((0.0, 1.0), 1), ((0.0, 0.0), 2), ((0.2, 0.1), 0), ((0.5, 0.6), 2)]
    # predictions: 0, 1, 2 (bias 0.3 wins), 2 (0.3 > 0.2), 1 (0.6 > 0.5 > 0.3): right, right, right, wrong, wrong
    lines = ["x0,x1,t0,t1,t2"] + [f"{x[0]},{x[1]}," + ",".join("0.9" if j == c else "0.1" for j in range(3))
                                  for x, c in rows]
    (tmp_path / "h.csv").write_text("\n".join(lines) + "\n")
    st = load_study({"network": {"layers": [2, 3]}, "task": {"dataset": str(tmp_path / "h.csv")},
                     "circuit": {"K_I": math.inf, "I_max": math.inf}, "mismatch": {"enabled": False},
                     "leakage": {"enabled": False}, "noise": {"enabled": False}, "integrator": {"method": "euler"}})
    task = study_task(st)
    assert task.argmax and task.decision == 2
    w = np.array([0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.3, 0.0, 0.0])  # per output: bias, x0, x1
    inst = np.arange(3)
    params = sample_instances(st, Topology((2, 3)), inst)
    _, acc = Chip(st, task, params, inst).evaluate(np.tile(w, (3, 1)), task.x, task.t)
    assert acc.tolist() == [0.6, 0.6, 0.6]
    ref = Reference(st, Topology((2, 3)), {k: v[0] for k, v in params.items()})
    assert ref.evaluate(w, task.x, task.t, task.thresholds, argmax=True)[1] == 0.6
    assert [correct(ref.outputs(w, task.x[r]), task.t[r], task.thresholds, True) for r in range(5)] == \
        [True, True, True, False, False]


# -- strategies ------------------------------------------------------------------------------------------------


def test_ideal_transfer_and_rram_equal_the_software_model_on_a_nominal_chip():
    st = _study()
    sweep = {"training.strategy": ["transfer", "rram", "transfer_then_tune", "in_situ"]}
    ds = run_study(load_study(st, IDEAL_RRAM, sweep))
    by = {s: ds.sel(training__strategy=s) for s in sweep["training.strategy"]}
    # the software model's own accuracy on the training rows, from the same kernels
    from mcaann.strategies.transfer import nominal_weights

    w_sw, rec = nominal_weights(st, study_task(st))
    sw_acc = rec["accuracy"][0, -1]
    assert sw_acc > 0.8  # the software training learns iris
    for s in ("transfer", "rram"):
        assert np.all(by[s].accuracy_train == sw_acc), s
        assert np.all(by[s].accuracy == sw_acc), s
    assert np.array_equal(by["transfer"].w_final, np.broadcast_to(w_sw, by["transfer"].w_final.shape))
    np.testing.assert_allclose(by["rram"].w_final, by["transfer"].w_final, rtol=0, atol=1e-14)
    assert np.array_equal(by["transfer_then_tune"].w_init, by["transfer"].w_final)  # tuned from the transfer
    # yield on held-out accuracy
    for s, d in by.items():
        assert np.array_equal(d.converged, (d.accuracy_test >= 0.9) & ~d.diverged), s
        assert np.all(np.isfinite(d.accuracy_test))
    assert float(by["transfer"].chip_training_time) == 0.0
    assert float(by["in_situ"].chip_training_time) == pytest.approx(2 * 105 * 100e-9)
    # the software training does not depend on the instance range (every shard trains the same)
    a = run_instances(load_study(st, {"training.strategy": "transfer", "training.write_sigma": 0.01}), 0, 64)
    b = run_instances(load_study(st, {"training.strategy": "transfer", "training.write_sigma": 0.01}), 40, 50)
    assert np.array_equal(a.w_final[40:50], b.w_final)


def test_held_out_accuracy_per_kept_epoch():
    """``accuracy_test_curve`` at a kept epoch is the held-out accuracy of the chip's weights at that epoch (those of
    a training stopped there: the first k epochs do not depend on later ones); the held-out evaluation does not
    change the training (bit for bit); chips that only write hold one value."""
    import dataclasses

    n = 8
    st = load_study(_study(), {"task.epochs": 4, "output.keep_every": 3, "mismatch.scale": 1.0,
                               "monte_carlo.instances": n})
    task = study_task(st)
    inst = np.arange(n)
    params = sample_instances(st, Topology((4, 4, 3)), inst)
    chip = Chip(st, task, params, inst)
    out = chip.train(params["w_init"], 4)
    assert np.all(np.isnan(out["accuracy_test"][:, [1, 2]]))  # not kept: not evaluated
    for k in (0, 3, 4):
        w_k = chip.train(params["w_init"], k)["w"]
        assert np.array_equal(out["accuracy_test"][:, k], chip.evaluate_held_out(w_k)[1]), k
    x, t = task.train
    plain = Chip(st, dataclasses.replace(task, x=x, t=t, test=None), params, inst).train(params["w_init"], 4)
    assert np.array_equal(plain["w"], out["w"]) and np.array_equal(plain["accuracy"], out["accuracy"])
    assert np.all(np.isnan(plain["accuracy_test"]))
    ds = run_study(load_study(st, {}, {"training.strategy": ["in_situ", "transfer"]}))
    assert ds.epoch.values.tolist() == [0, 3, 4]
    curve = ds.accuracy_test_curve
    assert np.array_equal(curve.isel(epoch=-1), ds.accuracy_test)
    assert np.array_equal(curve.sel(training__strategy="in_situ").values, out["accuracy_test"][:, [0, 3, 4]])
    held = curve.sel(training__strategy="transfer")
    assert np.all(held == held.isel(epoch=0))


def test_rram_drift_law_closed_form():
    """Continuous levels, no spread or read noise: both devices drift by the same factor, so the weights the
    chip reads are the software weights times ``(max(t, t0) / t0)^-nu``."""
    st = load_study(_study(), {**IDEAL_RRAM, "rram.nu": 0.1, "rram.t0": 2.0, "training.strategy": "rram",
                               "monte_carlo.instances": 4})
    w_sw = run_instances(load_study(st, {"training.strategy": "transfer"}), 0, 4).w_final
    for t, factor in ((0.5, 1.0), (2.0, 1.0), (20.0, 10.0 ** -0.1), (2e4, 1e4 ** -0.1)):
        w = run_instances(load_study(st, {"rram.t_read": t}), 0, 4).w_final
        np.testing.assert_allclose(w, w_sw * factor, rtol=1e-13, atol=1e-15)
    assert drift(np.array([3.0]), 8.0, 2.0, 0.5)[0] == pytest.approx(1.5)


@pytest.fixture(scope="module")
def scale_sweep():
    """128 chips at mismatch.scale 1 and 8, by transfer and by rram (default levels, spread, noise, drift)."""
    st = load_study(_study(), {"monte_carlo.instances": 128},
                    {"mismatch.scale": [1.0, 8.0], "training.strategy": ["transfer", "rram"]})
    return run_study(st)


def test_transfer_accuracy_falls_with_mismatch_scale(scale_sweep):
    """Paired: the same chips at mismatch.scale 1 and 8 (about 0.045 apart, per-chip sd 0.1, so 5 standard errors
    at 128 chips); the mean per-chip loss of training accuracy with its 95 % interval above zero. A sweep over
    the strategy keeps every chip's sampled blocks."""
    ds = scale_sweep
    n = ds.sizes["instance"]
    acc = ds.accuracy_train.sel(training__strategy="transfer")
    loss = (acc.sel(mismatch__scale=1.0) - acc.sel(mismatch__scale=8.0)).values
    half = 1.96 * loss.std(ddof=1) / math.sqrt(n)
    assert loss.mean() - half > 0, (loss.mean(), half)
    for name in ("km_fwd", "voffa_fwd", "iref", "g_leak"):
        v = ds[name]
        assert np.array_equal(v.sel(training__strategy="transfer"), v.sel(training__strategy="rram")), name
    assert not np.array_equal(ds.km_fwd.isel(instance=0, training__strategy=0, mismatch__scale=0),
                              ds.km_fwd.isel(instance=1, training__strategy=0, mismatch__scale=0))


def test_strategy_report_pairs_the_chips(scale_sweep, tmp_path):
    ds = scale_sweep
    rows = strategy_rows(ds)
    assert [(r["point"]["mismatch__scale"], r["strategy"]) for r in rows] == \
        [(1.0, "transfer"), (1.0, "rram"), (8.0, "transfer"), (8.0, "rram")]
    acc = ds.accuracy_test.sel(mismatch__scale=8.0)
    assert rows[2]["acc50"] == np.quantile(acc.sel(training__strategy="transfer"), 0.5)
    assert rows[2]["chip_time"] == 0.0 and rows[2]["software_time"] > 0
    pair = paired_rows(ds)[1]
    d = (acc.sel(training__strategy="rram") - acc.sel(training__strategy="transfer")).values
    assert pair["mean"] == pytest.approx(d.mean()) and pair["lo"] < d.mean() < pair["hi"]
    assert pair["better"] == (d > 0).sum() and pair["worse"] == (d < 0).sum()
    assert paired_mean_difference(np.array([1.0, 0.5, 0.5]), np.array([0.5, 0.5, 1.0]))["mean"] == 0.0
    assert strategy_figure(ds) is not None
    write_result(ds, tmp_path / "r.nc")
    res = CliRunner().invoke(app, ["report", str(tmp_path / "r.nc"), "--plots", str(tmp_path / "p")],
                             env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    assert "strategies: t" in res.output and "paired on the same chips" in res.output
    assert "yield: held-out accuracy >= 0.9" in res.output
    assert (tmp_path / "p" / "strategies.png").is_file()


def test_per_chip_transfer_on_exactly_known_chips_reaches_their_software_accuracy():
    """No measurement noise: the fit recovers every forward block, so each chip classifies its training rows
    exactly as the software model of that chip does; with noise the fit is off."""
    n = 64
    # mismatch.scale 2 with sky130's sourced A_VT (7.76 mV um) is about the 4 of the earlier 3.4 mV um; at 4 some
    # activations' transitions leave the measured grid and cannot be fitted
    st = load_study(_study(), {"mismatch.scale": 2.0, "training.strategy": "transfer_per_chip",
                               "monte_carlo.instances": n})
    inst = np.arange(n)
    chip = Chip(st, study_task(st), sample_instances(st, Topology((4, 4, 3)), inst), inst)
    fitted = fitted_parameters(chip)
    for k in ("km_fwd", "voffa_fwd", "voffb_fwd", "ki_fwd", "ioff_fwd", "v_amp", "iref", "ioff"):
        scale = np.abs(chip.params[k]).max()
        np.testing.assert_allclose(fitted[k], chip.params[k], rtol=0, atol=1e-9 * scale, err_msg=k)
    _, rec = per_chip_weights(chip)
    res = run_instances(st, 0, n)
    assert np.array_equal(res.accuracy[:, -1], rec["accuracy"][:, -1])
    assert np.all(res.accuracy[:, -1] == res.accuracy[:, 0])  # the chip holds its written weights
    # the same chips by the nominal transfer do worse on average
    nominal = run_instances(load_study(st, {"training.strategy": "transfer"}), 0, n)
    assert res.accuracy[:, -1].mean() > nominal.accuracy[:, -1].mean()
    noisy = fitted_parameters(Chip(load_study(st, {"training.measure_noise": 0.01}), chip.task, chip.params, inst))
    assert np.abs(noisy["voffa_fwd"] - chip.params["voffa_fwd"]).max() > 1e-4


@pytest.mark.parametrize("sat", [True, False])
@pytest.mark.parametrize("points", [3, 5])
def test_multiplier_fit_recovers_known_blocks(sat, points):
    """Hand-set forward multipliers (gain, both input offsets, tail current and output offset far from nominal):
    noiseless readings give back every parameter to rounding, on the smallest grid too (9 readings, 5 unknowns);
    noisy ones (0.1 % of the output scale) keep the gain within 3 %. Without saturation ``K_I`` does not exist."""
    from mcaann.circuit.blocks import Variant
    from mcaann.strategies.fit import fit_multipliers

    st = load_study(_study(), {"training.measure_points": points})
    variant = Variant(sat_mult=sat, sat_pump=False, leak=False, mismatch=True)
    p = {"km_fwd": np.array([[0.7e-6, 1.3e-6], [1.0e-6, 0.9e-6]]), "ki_fwd": np.array([[0.6e-6, 1.5e-6], [1e-6, 2e-6]]),
         "voffa_fwd": np.array([[0.05, -0.03], [0.0, 0.1]]), "voffb_fwd": np.array([[-0.04, 0.02], [0.07, 0.0]]),
         "ioff_fwd": np.array([[5e-8, -3e-8], [0.0, 1e-7]])}
    nominal = {"km_fwd": np.full((2, 2), 1e-6), "ki_fwd": np.full((2, 2), 1e-6)}
    derived = {"gm_fwd": p["km_fwd"] / p["ki_fwd"] if sat else p["km_fwd"], "va_fwd": p["voffa_fwd"],
               "vb_fwd": p["voffb_fwd"], "ki_fwd": p["ki_fwd"], "io_fwd": p["ioff_fwd"]}  # blocks.derive's rule
    inst = np.arange(2)
    fitted = fit_multipliers(st, variant, derived, nominal, inst)
    assert ("ki_fwd" in fitted) == sat
    for k, v in fitted.items():
        tol = 1e-12 if k.startswith("voff") else 1e-12 * 1e-6  # [V], or [A] of a 1 uA output scale
        np.testing.assert_allclose(v, p[k], rtol=0, atol=tol, err_msg=k)
    noisy = fit_multipliers(load_study(st, {"training.measure_noise": 1e-3}), variant, derived, nominal, inst)
    np.testing.assert_allclose(noisy["km_fwd"], p["km_fwd"], rtol=0.03)


def test_strategy_fields_validated():
    with pytest.raises(StudyError, match="training.strategy"):
        load_study("iris", {"training.strategy": "magic"})
    with pytest.raises(StudyError, match="rram.levels"):
        load_study("iris", {"rram.levels": 1})
    assert load_study("iris").training.strategy == "in_situ"
