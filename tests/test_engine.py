"""The generated kernels against the float64 reference and against the textbook gradient flow."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textbook_gradient
from scipy.integrate import solve_ivp

from mcaann.circuit.network import Topology
from mcaann.engine import driver
from mcaann.engine.driver import kernel_spec, run_instances, study_task
from mcaann.engine.reference import Reference
from mcaann.study import load_study

#: kernel vs float64 reference after 3 epochs: float64 kernels within 1e-12 V, float32 ones within 1e-5 V
TOL = {"float64": (1e-12, 1e-9), "float32": (1e-5, 1e-4)}


def _compare(study, n_inst=70):
    """Kernel vs reference for instances 0 and n_inst - 1 (different blocks): the largest weight difference [V]."""
    epochs = study.task.epochs
    r = run_instances(study, 0, n_inst)
    task = study_task(study)
    topo = Topology(tuple(study.network.layers))
    worst = 0.0
    for i in (0, n_inst - 1):
        p = {k: v[i] for k, v in r.params.items()}
        ref = Reference(study, topo, p, instance=i)
        w, mse, acc, div = ref.train(r.w_init[i], task.x, task.t, task.thresholds, epochs)
        assert div == bool(r.diverged[i])
        worst = max(worst, np.max(np.abs(w - r.w_final[i])))
        np.testing.assert_allclose(r.mse[i], mse, rtol=TOL[study.integrator.dtype][1], atol=1e-14)
        np.testing.assert_array_equal(np.isnan(acc), np.isnan(r.accuracy[i]))
    return worst


# Every integrator and both precisions, not every pair: the code writer expands each tableau the same way for
# either dtype, and each variant costs a cold compilation (the suite's time).
@pytest.mark.parametrize("method,dtype", [("euler", "float32"), ("heun", "float64"), ("heun", "float32"),
                                          ("rk4", "float64")])
def test_kernel_matches_reference_realistic(method, dtype):
    # Every block non-ideal: saturation, mismatch, rails, leakage; noise too except for RK4.
    ov = {"task.epochs": 3, "integrator.method": method, "integrator.dtype": dtype, "leakage.G_leak": 1e-9,
          "leakage.I_leak0": 1e-10,
          "leakage.V_rest": 0.1, "task.T_settle": 2e-8, "noise.enabled": method != "rk4",
          "mismatch.scale": 3.0, "task.order": "shuffled"}
    st = load_study("xor", ov)
    # Tolerance: the kernel and the reference evaluate the same expressions, but the kernel's exp/tanh are
    # polynomial approximations good to a few ulp (test_mathfn) and its sums are ordered differently, so a
    # float64 kernel differs by rounding only: ~1e-16 relative per step, over 1200 steps.
    assert _compare(st) < TOL[dtype][0]


@pytest.mark.parametrize("method,dtype", [("euler", "float32"), ("heun", "float64"), ("rk4", "float64")])
def test_fused_kernel_matches_reference(method, dtype):
    # Linear blocks at their nominal values give the fused straight-line kernels; with rails, leakage
    # (log-normal per capacitor), noise (not with RK4) and shuffled rows.
    ov = {"task.epochs": 3, "integrator.method": method, "integrator.dtype": dtype, "circuit.K_I": float("inf"),
          "circuit.I_max": float("inf"),
          "leakage.G_leak": 1e-9, "leakage.I_leak0": 1e-10, "leakage.V_rest": 0.1, "task.T_settle": 2e-8,
          "noise.enabled": method != "rk4", "mismatch.enabled": False, "task.order": "shuffled"}
    st = load_study("xor", ov)
    assert kernel_spec(st).fused and kernel_spec(st).rails
    assert _compare(st) < TOL[dtype][0]


def test_fused_kernel_with_every_block_non_ideal_matches_reference(monkeypatch):
    # not the default (slow to compile for big nets, see driver._fused), but it must compute the same
    # thing: a small 2-2-1 net with saturation, mismatch, leakage, noise and rails, Heun
    monkeypatch.setattr(driver, "FUSE_MISMATCH", True)
    monkeypatch.setattr(driver, "FUSE_SATURATING", True)
    ov = {"task.epochs": 3, "integrator.method": "heun", "network.layers": [2, 2, 1], "leakage.G_leak": 1e-9,
          "leakage.I_leak0": 1e-10, "task.T_settle": 2e-8, "mismatch.scale": 3.0, "task.order": "shuffled"}
    st = load_study("xor", ov)
    spec = kernel_spec(st)
    assert spec.fused and spec.mismatch and spec.sat_mult and spec.sat_pump and spec.noise
    assert _compare(st) < 1e-12


def test_fused_and_layered_kernels_agree(monkeypatch):
    """The two code generators, on the same non-saturating study with every other block non-ideal."""
    ov = {"task.epochs": 3, "integrator.method": "heun", "circuit.K_I": float("inf"), "circuit.I_max": float("inf"),
          "leakage.G_leak": 1e-9, "mismatch.enabled": False, "task.order": "shuffled", "network.layers": [2, 3, 2, 1]}
    st = load_study("xor", ov)
    fused = run_instances(st, 0, 70)
    monkeypatch.setattr(driver, "FUSE_MAX_WEIGHTS", 0)
    assert not kernel_spec(st).fused
    layered = run_instances(st, 0, 70)
    np.testing.assert_allclose(fused.w_final, layered.w_final, rtol=0, atol=1e-11)
    np.testing.assert_allclose(fused.mse, layered.mse, rtol=1e-9)
    np.testing.assert_array_equal(fused.diverged, layered.diverged)
    # float32 fused kernels against the float64 reference: test_fused_kernel_matches_reference


@pytest.mark.parametrize("fused", [True, False])
def test_kernel_flags_a_diverging_instance_and_freezes_it(fused):
    # an absurd pump gain on linear blocks without rails: the first teaching step gives inf/NaN weights
    # (mismatch on: the layered kernel)
    st = load_study("xor_ideal", {"circuit.K_g": 1e300, "task.epochs": 2, "mismatch.enabled": not fused})
    assert kernel_spec(st).fused == fused
    r = run_instances(st, 0, 70)
    assert r.diverged.all()
    assert np.isfinite(r.w_final).all()
    assert (r.diverged_step >= 0).all() and (r.diverged_step < 2 * 4 * st.steps_per_row).all()


@pytest.mark.parametrize("rails", [False, True])
def test_kernels_flag_divergence_mid_row_as_the_reference(monkeypatch, rails):
    # The kernels test finiteness once per row and repeat a row in which a lane diverged with its checked steps;
    # the reference tests every step. A negative leak conductance on one capacitor of some instances makes its
    # weight grow geometrically until it overflows, at steps that differ per instance and fall inside rows; with
    # rails, a conductance so large that the first step overflows: the infinite weight must be flagged, not
    # clipped to a rail.
    ov = {"task.epochs": 3, "task.order": "shuffled", "task.T_settle": 2e-8, "leakage.G_leak": 1e-9,
          "noise.enabled": False, "circuit.K_I": float("inf"), "circuit.I_max": float("inf"),
          "mismatch.enabled": False}
    if not rails:
        ov.update({"circuit.V_lo": -float("inf"), "circuit.V_hi": float("inf")})
    st = load_study("xor", ov)
    r = run_instances(st, 0, 70)
    params = {k: v.copy() for k, v in r.params.items()}
    g = -np.geomspace(1e-4, 1e-2, 70) * (1e300 if rails else 1.0)
    g[::3] = 1e-9  # a third of the lanes never diverge
    params["g_leak"][:, 1] = g
    out = {}
    for fused in (True, False):
        monkeypatch.setattr(driver, "FUSE_MAX_WEIGHTS", 400 if fused else 0)
        chip = driver.Chip(st, study_task(st), params, np.arange(70))
        assert chip.spec.fused == fused and chip.spec.rails == rails
        out[fused] = chip.train(r.w_init, 3)
    steps = out[True]["diverged_step"]
    assert out[True]["diverged"].sum() == 46
    if not rails:
        assert len(set(steps[steps >= 0])) > 30 and np.any(steps % st.steps_per_row > st.settle_steps)
    np.testing.assert_array_equal(steps, out[False]["diverged_step"])
    np.testing.assert_array_equal(out[True]["diverged"], out[False]["diverged"])
    assert np.isfinite(out[True]["w"]).all()
    np.testing.assert_allclose(out[True]["w"], out[False]["w"], rtol=1e-12, atol=1e-11)
    task, topo = study_task(st), Topology(tuple(st.network.layers))
    for i in (1, 35, 68, 69):  # diverging lanes of both blocks, one that does not
        ref = Reference(st, topo, {k: v[i] for k, v in params.items()}, instance=i)
        w, _, _, div = ref.train(r.w_init[i], task.x, task.t, task.thresholds, 3)
        assert div == bool(out[False]["diverged"][i]) and ref.diverged_step == steps[i]
        np.testing.assert_allclose(out[False]["w"][i], w, rtol=1e-12, atol=1e-12)


def test_kernel_matches_reference_random_shapes_and_params():
    rng = np.random.default_rng(1)
    for layers in ([3, 4, 2], [1, 3, 3, 1]):
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as d:
            rows = 5
            x = rng.uniform(-1, 1, (rows, layers[0]))
            t = rng.uniform(0.1, 0.9, (rows, layers[-1]))
            path = Path(d) / "data.csv"
            cols = [f"x{i}" for i in range(layers[0])] + [f"t{j}" for j in range(layers[-1])]
            np.savetxt(path, np.hstack([x, t]), delimiter=",", header=",".join(cols), comments="")
            st = load_study("xor_seed004", {"network.layers": layers, "task.dataset": str(path), "task.epochs": 2,
                                    "task.T_row": 2e-8, "integrator.method": "heun",
                                    "mismatch.scale": 4.0, "leakage.G_leak": 1e-9})
            r = run_instances(st, 0, 65)
            topo = Topology(tuple(layers))
            task = study_task(st)
            # mismatch x4: every instance has its own, clearly different block parameters, and the
            # kernel must use each instance's own (instances 0 and 64 sit in different blocks)
            for name in ("km_fwd", "voffa_upd", "iref", "c"):
                assert np.min(np.abs(r.params[name][0] - r.params[name][64])) > 0
            for i in (0, 64):
                p = {k: v[i] for k, v in r.params.items()}
                ref = Reference(st, topo, p, instance=i)
                w, mse, _, _ = ref.train(r.w_init[i], task.x, task.t, task.thresholds, 2)
                np.testing.assert_allclose(r.w_final[i], w, rtol=0, atol=1e-11)
                np.testing.assert_allclose(r.mse[i], mse, rtol=1e-9)


def _ideal_study(method, dt, ideal_overrides, epochs=1, k_g=1e-6):
    ov = dict(ideal_overrides)
    ov.update({"integrator.method": method, "integrator.dt": dt, "task.epochs": epochs, "circuit.K_g": k_g})
    return load_study("xor", ov)


def _gradient_flow(study, w0):
    """The textbook gradient flow over one epoch, row by row, with solve_ivp (rtol 1e-12)."""
    c = study.circuit
    task = study_task(study)
    eta = c.K_g / c.C * c.V_teach / c.V_teach_ref
    w = np.array(w0, float)
    for r in range(task.n_rows):
        def f(_t, y, r=r):
            return -eta * textbook_gradient(study.network.layers, y, task.x[r], task.t[r], c.V_amp, c.K_m,
                                            c.I_ref, c.V_bias)
        sol = solve_ivp(f, (0, study.task.T_row), w, method="DOP853", rtol=1e-12, atol=1e-14)
        w = sol.y[:, -1]
    return w


def test_textbook_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    layers = [2, 3, 2]
    nw = 3 * 3 + 2 * 4
    w = rng.uniform(-1, 1, nw)
    x, t = np.array([0.3, 0.9]), np.array([0.1, 0.9])
    args = (1.0, 1e-6, 0.25e-6, 1.0)

    def energy(wv):
        k, a = 0, np.concatenate([[1.0], x])
        for l in range(1, 3):
            n = layers[l] * (layers[l - 1] + 1)
            W = wv[k:k + n].reshape(layers[l], layers[l - 1] + 1)
            k += n
            a = np.concatenate([[1.0], 1.0 / (1 + np.exp(-1e-6 * W @ a / 0.25e-6))])
        return 0.5 * np.sum((a[1:] - t) ** 2)

    g = textbook_gradient(layers, w, x, t, *args)
    h = 1e-6
    fd = np.array([(energy(w + h * e) - energy(w - h * e)) / (2 * h) for e in np.eye(nw)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-10)


def test_ideal_reference_drift_is_the_gradient_flow(ideal_overrides):
    st = _ideal_study("euler", 1e-9, ideal_overrides)
    topo = Topology(tuple(st.network.layers))
    r = run_instances(st, 0, 1)
    ref = Reference(st, topo, {k: v[0] for k, v in r.params.items()})
    task = study_task(st)
    c = st.circuit
    eta = c.K_g / c.C
    for row in range(task.n_rows):
        rate = ref.drift(r.w_init[0], task.x[row], task.t[row], 1.0)
        expect = -eta * textbook_gradient(st.network.layers, r.w_init[0], task.x[row], task.t[row], c.V_amp,
                                          c.K_m, c.I_ref, c.V_bias)
        np.testing.assert_allclose(rate, expect, rtol=1e-12, atol=1e-15 * eta)


@pytest.mark.parametrize("method,order,dts,k_g", [
    ("euler", 1, [5e-9, 2.5e-9, 1.25e-9, 6.25e-10], 1e-6),
    ("heun", 2, [10e-9, 5e-9, 2.5e-9, 1.25e-9], 1e-6),
    ("rk4", 4, [50e-9, 25e-9, 20e-9, 12.5e-9, 10e-9], 1e-7),
])
def test_ideal_circuit_follows_gradient_flow_with_declared_order(method, order, dts, k_g, ideal_overrides):
    """Fitted slope of log(error) against log(dt) is the integrator's declared order."""
    errors = []
    for dt in dts:
        st = _ideal_study(method, dt, ideal_overrides, k_g=k_g)
        r = run_instances(st, 0, 3)
        exact = np.array([_gradient_flow(st, r.w_init[i]) for i in range(3)])
        errors.append(np.max(np.abs(r.w_final - exact)))
    errors = np.array(errors)
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.25, (method, slope, errors)
    # at the finest step the trajectory is the gradient flow to well below a millivolt
    assert errors[-1] < 1e-3


def test_pump_imbalance_and_derivative_offset_enter_the_circuit_where_they_belong():
    # closed forms on the wired circuit (reference): a pump's up/down imbalance adds vt I_pump_off / C to its own
    # weight's rate and nothing elsewhere; a saturated derivative block outputs its offset, not 0
    from mcaann.circuit import blocks
    from mcaann.variability.mismatch import sample_instances

    st = load_study("xor", {"mismatch.enabled": False, "leakage.enabled": False, "circuit.V_teach": 0.7})
    topo = Topology((2, 8, 1))
    p = {k: v[0].copy() for k, v in sample_instances(st, topo, np.array([0])).items()}
    x, t, vt = np.array([1.0, 0.0]), np.array([0.9]), 0.7
    base = Reference(st, topo, p).drift(p["w_init"], x, t, vt)
    p["ioff_pump"][5] = 2e-9
    moved = Reference(st, topo, p).drift(p["w_init"], x, t, vt) - base
    assert moved[5] == pytest.approx(vt * 2e-9 / p["c"][5], rel=1e-12)
    assert np.all(np.delete(moved, 5) == 0.0)
    q = {"a_d": 1.0, "vdo": 1.5e-3}.__getitem__
    assert blocks.derivative(1.0, q) == 1.5e-3 and blocks.derivative(0.5, q) == 0.25 + 1.5e-3


# Heun's global error on w' = -lam w is about t dt^2 lam^3 / 6 |w|: 3e-7 V (simple, lam = 1e6 /s), 2e-9 V (cascoded)
@pytest.mark.parametrize("output,method,tol", [("simple", "rk4", 1e-9), ("simple", "heun", 1e-6),
                                               ("cascoded", "heun", 1e-8)])
def test_pump_output_conductance_relaxes_a_held_weight_exponentially(output, method, tol):
    # teaching on, pump drive ~0 (K_g tiny), no leakage, mismatch or noise: C dw/dt = -g_out (w - V_pump), so
    # w(t) = V_pump + (w0 - V_pump) exp(-g_out t / C), g_out = I_max / V_A (simple) or that over (g_m/I) V_A
    v_a, v_pump = 1.0, 0.2
    st = load_study("xor_seed004", {"circuit.K_g": 1e-30, "circuit.pump_output": output, "circuit.V_A_pump": v_a,
                            "circuit.V_pump": v_pump, "leakage.enabled": False, "noise.enabled": False,
                            "mismatch.enabled": False, "integrator.method": method, "integrator.dt": 1e-9,
                            "task.epochs": 4, "monte_carlo.w_init_range": 1.0})
    c = st.circuit
    g_out = c.I_max / v_a / (1.0 if output == "simple" else st.mismatch.gm_over_I_mirror * v_a)
    r = run_instances(st, 0, 16)
    t = st.task.epochs * 4 * st.task.T_row
    expect = v_pump + (r.w_init - v_pump) * np.exp(-g_out * t / c.C)
    assert np.max(np.abs(r.w_final - expect)) < tol
    assert np.max(np.abs(r.w_final - r.w_init)) > 1e-3  # the weights did move


def test_pump_output_conductance_is_off_for_an_ideal_or_linear_pump():
    from mcaann.circuit.blocks import pump_conductance

    assert pump_conductance(load_study("xor"))
    assert not pump_conductance(load_study("xor", {"circuit.pump_output": "ideal"}))
    assert not pump_conductance(load_study("xor", {"circuit.I_max": float("inf")}))


def test_kernel_key_follows_the_functions_the_kernels_call(monkeypatch):
    # Numba's cache does not see a change in mathfn or rng; the kernel's key does, so a changed library compiles anew
    from mcaann.engine import codegen

    spec = kernel_spec(load_study("xor", {}))
    before = spec.key()
    monkeypatch.setattr(codegen, "_LIBRARY_DIGEST", codegen._LIBRARY_DIGEST + "x")
    assert spec.key() != before


def test_layered_kernel_computes_a_nested_call_in_a_loop_of_its_own():
    # the update multiplier's tanh inside the charge pump's: computed into hx by a loop of its own, the line before
    # the loop that reads it, so that no loop chains two saturating calls per lane
    from mcaann.engine.codegen import generate

    source = generate(kernel_spec(load_study("xor", {"integrator.method": "euler"})))
    drift = source[source.index("def drift("):source.index("def evaluate(")]
    lines = [line for line in drift.splitlines() if "SAT(" in line]
    assert max(line.count("SAT(") for line in lines) == 1
    hoisted = [line for line in lines if line.strip().startswith("hx[")]
    assert hoisted and all("hx[0 + b]" in line for line in hoisted)
    assert sum("hx[0 + b]" in line for line in lines) == 2 * len(hoisted)  # each read once, by the pump's tanh
    body = drift.splitlines()
    for i, line in enumerate(body):
        if line.strip().startswith("hx["):
            assert body[i + 1].strip() == "for b in range(B):" and "hx[0 + b]" in body[i + 2]


def test_layered_kernel_folds_parameter_only_terms_once_per_block():
    # the charge pump's terms without w or M_upd (vt times its imbalance and output conductance, the leakage's
    # G V_rest - I_leak0) are one row of DFS, computed in train_block for the block, and read by the drift's
    # teaching branch only: its holding branch (vt = 0) reads the derived parameters themselves
    from mcaann.engine.codegen import generate

    source = generate(kernel_spec(load_study("xor", {"integrator.method": "euler"})))
    drift = source[source.index("def drift("):source.index("def evaluate(")]
    teach, hold = drift.split("    else:")
    rows = [line.strip() for line in source[source.index("def train_block("):].splitlines()
            if line.strip().startswith("DFS[") and ", k, b] = " in line]
    assert rows and all("vt_f" in r or "v_rest" in r or r.count("DSA[") > 1 or "-DSA" in r for r in rows)
    assert any("vt_f * DSA" in r and "v_rest" in r for r in rows)
    assert "DFS[" in teach and "DFS[" not in hold and "vt *" not in teach.split("kout[")[1]
