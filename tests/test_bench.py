"""The benchmarks compute what the engine computes; the circuit table counts what the result file holds."""

import numpy as np

from mcaann.bench.engine_bench import op_count
from mcaann.bench.numpy_baseline import train_euler
from mcaann.circuit.network import Topology
from mcaann.engine.driver import run_instances, study_task
from mcaann.study import load_study


def test_numpy_baseline_matches_engine():
    st = load_study("xor", {"task.epochs": 2, "noise.enabled": False, "leakage.G_leak": 1e-9,
                            "integrator.method": "euler", "integrator.dt": 1e-9})
    r = run_instances(st, 0, 8)
    task = study_task(st)
    w = train_euler(st, Topology((2, 8, 1)), r.params, r.w_init, task.x, task.t, 2)
    np.testing.assert_allclose(w, r.w_final, atol=1e-11)


def test_op_count():
    ops = op_count([2, 8, 1], saturating=False)
    assert ops["sigmoid"] == 9  # one logistic function per neuron
    # 33 weights x (forward, update, Euler, finiteness) + 9 neurons x 7 + 8 backward products
    assert ops["fma"] == 4 * 33 + 7 * 9 + 8
    assert op_count([2, 8, 1], saturating=True)["sigmoid"] == 9 + (2 * 33 + 8) + 33
    # mismatch: the derivative block's own logistic function per neuron
    assert op_count([2, 8, 1], saturating=True, mismatch=True)["sigmoid"] == 2 * 9 + (2 * 33 + 8) + 33


def test_hand_written_ideal_kernel_computes_what_the_engine_computes():
    # the bench's hand-written 2-8-1 kernel must do the engine's arithmetic for its comparison to mean anything
    from mcaann.bench.engine_bench import EULER_1NS, hand_written_run

    st = load_study("xor_ideal", {"task.epochs": 2, **EULER_1NS})
    r = run_instances(st, 0, 70)
    w = hand_written_run(st, r.w_init, 2)
    np.testing.assert_allclose(w, r.w_final, rtol=0, atol=1e-12)


def test_circuit_table_counts_yields_and_pairs():
    # two circuits, one mismatch point, five chips: yields with their Wilson intervals, and the paired counts
    import xarray as xr

    from mcaann.bench.circuit_table import circuit_table

    mse = np.array([[[0.1, 0.2, 0.3, 0.04, np.nan]], [[0.01, 0.2, 0.02, 0.5, 0.03]]])
    ds = xr.Dataset({"final_mse": (("network__learning", "mismatch__scale", "instance"), mse)},
                    coords={"network__learning": ["backprop", "eqprop"], "mismatch__scale": [1.0]})
    text = circuit_table(ds, [0.05])
    assert "| backprop | 1 | 25.0 % [4.6, 69.9] |" in text  # 1 of the 4 finite chips
    assert "| eqprop | 1 | 60.0 % [23.1, 88.2] |" in text
    assert "only eqprop / only backprop: 3 / 1 (1)" in text
