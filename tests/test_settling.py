"""Finite settling: the node lags against closed forms, their tau -> 0 limit, kernels against the reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mcaann.circuit import settling
from mcaann.circuit.network import Topology
from mcaann.engine.driver import kernel_spec, run_instances, study_task
from mcaann.engine.reference import Reference
from mcaann.study import load_study
from mcaann.variability.mismatch import sample_instances
from mcaann.variability.process import EPS_OX, PRESETS

#: kernel vs float64 reference after 3 epochs (as tests/test_engine.py)
TOL = {"float64": 1e-12, "float32": 1e-5}


def test_lag_factors_at_their_limits():
    a, abar = settling.lag_factors([0.0, 1e-9, 1e-3], 1e-9)
    assert a[0] == 0.0 and abar[0] == 0.0  # tau = 0: the node is its static value
    assert a[1] == pytest.approx(math.exp(-1.0), rel=1e-15)
    assert abar[1] == pytest.approx(1.0 - math.exp(-1.0), rel=1e-15)  # (tau / dt)(1 - a) at tau = dt
    assert abar[2] == pytest.approx(1.0 - 0.5e-6, rel=1e-12)  # tau >> dt: 1 - dt / (2 tau)


def test_node_time_constants_are_r_e_times_the_gate_load():
    st = load_study("xor", {"settling.enabled": True})
    topo = Topology((2, 8, 1))
    taus = settling.node_taus(st, topo)
    c_in = 2 * 4e-12 * EPS_OX / 4.148e-9  # two gates of 4 um^2 at sky130's t_ox
    r_e = st.circuit.V_amp / st.circuit.I_ref
    hidden, out = slice(0, 8), 8
    np.testing.assert_allclose(taus["y"][hidden], r_e * 2 * c_in, rtol=1e-12)  # forward + update multiplier
    assert taus["y"][out] == pytest.approx(r_e * c_in, rel=1e-12)  # the output error circuit
    np.testing.assert_allclose(taus["e"], r_e * c_in, rtol=1e-12)
    np.testing.assert_allclose(taus["delta"][hidden], r_e * 3 * c_in, rtol=1e-12)  # 3 update multipliers
    assert taus["delta"][out] == pytest.approx(r_e * (8 + 9) * c_in, rel=1e-12)  # 8 backward + 9 update
    np.testing.assert_allclose(taus["g"], r_e * c_in, rtol=1e-12)
    assert 200e-9 < taus["y"][0] < 1e-6  # a few hundred ns, longer than T_row = 100 ns
    over = load_study("xor", {"settling.enabled": True, "settling.tau_e": 1e-8, "settling.tau_scale": 0.5})
    np.testing.assert_array_equal(settling.node_taus(over, topo)["e"], 0.5e-8)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_has_a_gate_capacitance(preset):
    """Each preset gives its nodes time constants: an oxide of 1.4 to 8 nm, 4 to 25 fF/um^2."""
    st = load_study("xor", {"settling.enabled": True, "process.preset": preset, "circuit.operating_point": "seed004"})
    assert 4e-3 < PRESETS[preset].C_gate < 25e-3 and PRESETS[preset].sources["C_gate"]
    taus = settling.node_taus(st, Topology((2, 8, 1)))
    assert all(np.isfinite(t).all() and (t > 0).all() for t in taus.values())


@pytest.mark.parametrize("method", ["euler", "heun", "rk4"])
def test_output_node_follows_a_first_order_step_response(method):
    """Teaching off, fixed weights: each output node's voltage after n steps of a row is the closed form
    ``T + (v0 - T) exp(-n dt / tau)`` of a first-order lag whose static value ``T`` steps at the row's start."""
    st = load_study("xor", {"settling.enabled": True, "circuit.V_teach": 0.0, "leakage.enabled": False,
                            "noise.enabled": False, "integrator.method": method, "network.layers": [2, 1]})
    topo = Topology((2, 1))
    p = {k: v[0] for k, v in sample_instances(st, topo, np.array([3])).items()}
    ref = Reference(st, topo, p, instance=3)
    task = study_task(st)
    tau = settling.node_taus(st, topo)["y"][0]
    w, v0 = p["w_init"], 0.0
    for r in range(task.n_rows):
        static = ref.outputs(w, task.x[r])[0]
        got = []
        for s in range(st.steps_per_row):
            w = ref.step(w, task.x[r], task.t[r], 0.0, s)
            got.append(ref.nodes["y"][0])
        t = st.integrator.dt * np.arange(1, st.steps_per_row + 1)
        np.testing.assert_allclose(got, settling.step_response(v0, static, tau, t), rtol=0, atol=1e-14)
        v0 = got[-1]
    np.testing.assert_array_equal(w, p["w_init"])  # teaching off, no leakage: the weights held


def test_tau_zero_is_the_algebraic_model_bit_for_bit():
    """``a = 0``: the lagged kernels and the reference reproduce the model without lags exactly."""
    ov = {"task.epochs": 2, "task.T_settle": 2e-8, "leakage.G_leak": 1e-9}
    plain = load_study("xor", ov)
    zero = load_study("xor", {**ov, "settling.enabled": True, "settling.tau_scale": 0.0})
    assert kernel_spec(zero).lags and not kernel_spec(plain).lags
    a, b = run_instances(plain, 60, 70), run_instances(zero, 60, 70)
    np.testing.assert_array_equal(a.w_final, b.w_final)
    np.testing.assert_array_equal(a.mse, b.mse)
    topo = Topology(tuple(plain.network.layers))
    task = study_task(plain)
    p = {k: v[0] for k, v in a.params.items()}
    wa = Reference(plain, topo, p, 60).train(a.w_init[0], task.x, task.t, task.thresholds, 2)[0]
    wb = Reference(zero, topo, p, 60).train(a.w_init[0], task.x, task.t, task.thresholds, 2)[0]
    np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("method,dtype", [("euler", "float32"), ("heun", "float64"), ("rk4", "float64")])
def test_kernel_matches_reference_with_node_lags(method, dtype):
    # every block non-ideal, teaching off for the first 20 ns of a row (the nodes settle meanwhile), the gradient
    # nodes' tau at the step (5 ns), the others a few hundred ns
    ov = {"settling.enabled": True, "settling.tau_g": 5e-9, "task.epochs": 3, "integrator.method": method,
          "integrator.dtype": dtype, "leakage.G_leak": 1e-9, "task.T_settle": 2e-8, "noise.enabled": method != "rk4",
          "mismatch.scale": 3.0, "task.order": "shuffled"}
    st = load_study("xor", ov)
    assert kernel_spec(st).lags and not kernel_spec(st).fused
    r = run_instances(st, 0, 70)
    task = study_task(st)
    topo = Topology(tuple(st.network.layers))
    for i in (0, 69):
        p = {k: v[i] for k, v in r.params.items()}
        w, mse, _, div = Reference(st, topo, p, instance=i).train(r.w_init[i], task.x, task.t, task.thresholds, 3)
        assert div == bool(r.diverged[i])
        assert np.max(np.abs(w - r.w_final[i])) < TOL[dtype]
    # the lags matter: the same chip without them ends elsewhere
    plain = Reference(load_study("xor", {**ov, "settling.enabled": False}), topo, p, instance=69)
    assert np.max(np.abs(plain.train(r.w_init[69], task.x, task.t, task.thresholds, 3)[0] - w)) > 1e-3
