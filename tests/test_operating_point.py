"""The operating point inside the supply: derived rails, refused levels, and the redesign's scaling law."""

from __future__ import annotations

import numpy as np
import pytest

from mcaann.circuit.network import Topology
from mcaann.engine.driver import study_task
from mcaann.engine.reference import Reference
from mcaann.errors import StudyError
from mcaann.study import load_study
from mcaann.variability.mismatch import sample_instances

SUPPLY = {"circuit.operating_point": "supply", "circuit.V_amp": 0.5, "circuit.V_bias": 0.5,
          "monte_carlo.w_init_range": 0.25}


@pytest.mark.parametrize("preset,output,swing", [
    ("sky130", "cascoded", 0.9 - 2 * 0.15), ("sky130", "simple", 0.9 - 0.15), ("gf180", "cascoded", 1.65 - 0.3),
    ("ihp_sg13g2", "simple", 0.6 - 0.15)])
def test_rails_are_the_pumps_output_swing(preset, output, swing):
    st = load_study("xor", {**SUPPLY, "process.preset": preset, "circuit.pump_output": output,
                            "circuit.V_amp": 0.4, "circuit.V_bias": 0.4})
    assert (st.circuit.V_lo, st.circuit.V_hi) == (pytest.approx(-swing, abs=1e-12), pytest.approx(swing, abs=1e-12))


def test_seed004_keeps_the_seed_rails_and_explicit_rails_win():
    st = load_study("xor", {"circuit.operating_point": "seed004"})
    assert (st.circuit.V_lo, st.circuit.V_hi) == (-1.5, 1.5)
    st = load_study("xor", {"circuit.V_lo": -0.5})
    assert (st.circuit.V_lo, st.circuit.V_hi) == (-0.5, 0.6)


def test_a_sweep_over_the_supply_rederives_the_rails():
    st = load_study("xor", {"sweep": {"process.preset": ["sky130", "gf180"]}})
    assert st.at({"process.preset": "gf180"}).circuit.V_hi == pytest.approx(1.35)
    assert st.at({"process.V_dd": 1.6}).circuit.V_hi == pytest.approx(0.5)
    assert "V_hi" not in st.at({"process.V_dd": 1.6}).raw().get("circuit", {})


@pytest.mark.parametrize("override,field", [
    ({"circuit.V_hi": 1.5}, "circuit.V_hi"), ({"circuit.V_lo": -0.7}, "circuit.V_lo"),
    ({"circuit.V_amp": 1.0}, "circuit.V_amp"), ({"circuit.V_bias": -0.8}, "circuit.V_bias"),
    ({"monte_carlo.w_init_range": 0.7}, "monte_carlo.w_init_range"),
    ({"circuit.V_dsat_out": 0.45}, "circuit.V_dsat_out"), ({"process.V_dd": 0.6}, "circuit.V_dsat_out")])
def test_levels_outside_the_supply_are_refused_by_name(override, field):
    with pytest.raises(StudyError, match=rf"^{field}: "):
        load_study("xor", override)


def test_builtin_task_levels_follow_v_amp_and_a_csv_must_fit(tmp_path):
    task = study_task(load_study("xor"))
    np.testing.assert_allclose(task.x, [[0, 0], [0, 0.5], [0.5, 0], [0.5, 0.5]])
    np.testing.assert_allclose(task.t[:, 0], [0.05, 0.45, 0.45, 0.05])
    assert task.thresholds[0] == pytest.approx(0.25)
    f = tmp_path / "wide.csv"
    f.write_text("x0,x1,t0\n0,1,0.1\n1,0,0.9\n")
    with pytest.raises(StudyError, match=r"^task.dataset: its inputs reach 1 V"):
        study_task(load_study("xor", {"task.dataset": str(f)}))
    assert study_task(load_study("xor", {"task.dataset": str(f), "circuit.operating_point": "seed004",
                                         "circuit.V_amp": 1.0, "circuit.V_bias": 1.0})).x.max() == 1.0


def test_supply_design_is_the_seed_design_scaled():
    # Every voltage halved, K_m four times and I_max halved (currents held): with nominal blocks and an ideal
    # pump output, each weight follows the seed design's at half the voltage and the MSE at a quarter.
    common = {"mismatch.enabled": False, "leakage.enabled": False, "noise.enabled": False,
              "circuit.pump_output": "ideal", "circuit.V_lo": None, "circuit.V_hi": None, "task.epochs": 4}
    seed = load_study("xor", {**common, "circuit.operating_point": "seed004", "circuit.V_amp": 1.0,
                              "circuit.V_bias": 1.0, "circuit.K_m": 1e-6, "circuit.I_max": 100e-9,
                              "monte_carlo.w_init_range": 0.5})
    half = load_study("xor", common)
    topo = Topology((2, 8, 1))
    runs = []
    for st in (seed, half):
        p = {k: v[0] for k, v in sample_instances(st, topo, np.array([5])).items()}
        task = study_task(st)
        runs.append((p["w_init"], *Reference(st, topo, p, 5).train(p["w_init"], task.x, task.t, task.thresholds, 4)))
    (w0_seed, w_seed, mse_seed, *_), (w0_half, w_half, mse_half, *_) = runs
    np.testing.assert_allclose(w0_half, 0.5 * w0_seed, rtol=1e-15)
    assert np.abs(w_seed - w0_seed).max() > 0.05  # the weights moved
    np.testing.assert_allclose(w_half, 0.5 * w_seed, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mse_half, 0.25 * np.asarray(mse_seed), rtol=1e-9)
