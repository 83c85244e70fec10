"""Variability models against independent answers: Pelgrom's law, leakage, kT/C, retention."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mcaann.circuit.blocks import NEURON_PARAMS, SYNAPSE_PARAMS
from mcaann.circuit.network import Topology
from mcaann.engine.driver import run_instances
from mcaann.study import load_study
from mcaann.study.load import StudyError
from mcaann.units import K_BOLTZMANN
from mcaann.variability.leakage import hold, leak_solution, temperature_factor
from mcaann.variability.mismatch import pelgrom_sigma, sample_instances, sample_parameter
from mcaann.variability.process import PRESETS

SPEC = {s.name: s for s in SYNAPSE_PARAMS + NEURON_PARAMS}
N_INST = 3000
#: Pelgrom's local mismatch alone: no die-to-die share, no process spread
PELGROM_ONLY = {"mismatch.global_fraction": 0.0, "process.spread_gain": 0.0, "process.spread_C": 0.0}


def _rel_sd(study, name):
    topo = Topology(tuple(study.network.layers))
    spec = SPEC[name]
    nb = topo.n_weights if spec in SYNAPSE_PARAMS else topo.n_neurons
    v = sample_parameter(study, spec, np.arange(N_INST), nb)
    nom = spec.nominal(study)
    return (v / nom - 1 if nom != 0 else v).ravel()


def _sd_tol(n):
    """5 standard errors of a sample standard deviation, relative: 5 / sqrt(2 (n - 1))."""
    return 5 / math.sqrt(2 * (n - 1))


@pytest.mark.parametrize("name", ["km_fwd", "voffa_upd", "kg", "iref", "ioff", "voff_delta", "c"])
def test_pelgrom_sigma(name):
    st = load_study("xor", {**PELGROM_ONLY})
    x = _rel_sd(st, name)
    p = PRESETS["sky130"]
    mm = st.mismatch
    if name == "c":
        expect = p.A_C / math.sqrt(st.circuit.C / p.C_density)
    elif name.startswith("voff"):
        area = getattr(mm, f"area_{SPEC[name].block}")
        expect = math.sqrt(2) * p.A_VT / math.sqrt(area)
    elif name == "ioff":
        expect = math.sqrt(2) * p.A_VT / math.sqrt(mm.area_activation) * mm.gm_over_I * st.circuit.I_ref
    else:
        area = getattr(mm, f"area_{SPEC[name].block}")
        expect = math.hypot(p.A_beta, mm.gm_over_I * p.A_VT) / math.sqrt(area)
    assert abs(x.mean()) < 5 * expect / math.sqrt(x.size)
    assert abs(x.std() / expect - 1) < _sd_tol(x.size)


def test_area_scale_four_halves_local_sigma_and_four_c_halves_cap_sigma():
    base = load_study("xor", {**PELGROM_ONLY})
    big = load_study("xor", {**PELGROM_ONLY, "mismatch.area_scale": 4.0})
    for name in ["km_fwd", "voffb_bwd", "a_d", "re_err"]:
        a, b = _rel_sd(base, name), _rel_sd(big, name)
        assert abs(b.std() / a.std() - 0.5) < 0.5 * 2 * _sd_tol(a.size)
    # capacitor mismatch follows C, not area_scale
    assert _rel_sd(big, "c").std() == pytest.approx(_rel_sd(base, "c").std())
    big_c = load_study("xor", {**PELGROM_ONLY, "circuit.C": 0.4e-12})
    a, b = _rel_sd(base, "c"), _rel_sd(big_c, "c")
    assert abs(b.std() / a.std() - 0.5) < 0.5 * 2 * _sd_tol(a.size)


def test_die_to_die_part_is_shared_within_and_independent_between_instances():
    gf = 0.5
    st = load_study("xor", {**PELGROM_ONLY, "mismatch.global_fraction": gf})
    topo = Topology((2, 8, 1))
    v = sample_parameter(st, SPEC["km_fwd"], np.arange(N_INST), topo.n_weights)
    # correlation of two blocks of the same instance is the global share; SE ~ (1 - rho^2)/sqrt(n)
    rho_within = np.corrcoef(v[:, 0], v[:, 1])[0, 1]
    assert abs(rho_within - gf) < 5 * (1 - gf**2) / math.sqrt(N_INST)
    rho_between = np.corrcoef(v[:-1, 0], v[1:, 1])[0, 1]
    assert abs(rho_between) < 5 / math.sqrt(N_INST)
    # total sigma is still the Pelgrom sigma
    sig = pelgrom_sigma(st, SPEC["km_fwd"])
    total = math.hypot(sig.local, sig.glob)
    assert abs((v / st.circuit.K_m - 1).std() / total - 1) < 5 / math.sqrt(2 * N_INST)


@pytest.mark.parametrize("name", ["ki_fwd", "ioff_upd", "imax", "ioff_pump", "voff_d", "voffe_delta", "voffd_delta"])
def test_pelgrom_sigma_of_mirrors_and_block_output_offsets(name):
    # closed forms (MODEL.md 2a): a mirrored tail current's relative error and an output offset current over its
    # bias current are the mirror pair's sqrt(2) sqrt(A_beta^2 + (g_m/I A_VT)^2) / sqrt(W L); the derivative's
    # output offset and the delta multiplier's input offsets are differential-pair offsets sqrt(2) A_VT / sqrt(W L)
    st = load_study("xor", {**PELGROM_ONLY})
    x = _rel_sd(st, name)
    p, mm, c = PRESETS["sky130"], st.mismatch, st.circuit
    if name.startswith("voff"):
        expect = math.sqrt(2) * p.A_VT / math.sqrt(getattr(mm, f"area_{SPEC[name].block}"))
    else:
        rel = math.sqrt(2) * math.hypot(p.A_beta, mm.gm_over_I_mirror * p.A_VT) / math.sqrt(mm.area_mirror)
        expect = rel * {"ioff_upd": c.K_I, "ioff_pump": c.I_max}.get(name, 1.0)
    assert abs(x.mean()) < 5 * expect / math.sqrt(x.size)
    assert abs(x.std() / expect - 1) < _sd_tol(x.size)


@pytest.mark.parametrize("name", ["ki_bwd", "ioff_fwd", "imax", "ioff_pump", "voff_d", "voffd_delta"])
def test_new_parameters_follow_pelgrom_area_scaling(name):
    # 4x the device area halves the sigma: area_scale for every transistor, area_mirror for the mirrors' own
    base = load_study("xor", {**PELGROM_ONLY})
    a = _rel_sd(base, name).std()
    key = "mismatch.area_mirror" if name[:2] in ("ki", "im", "io") else f"mismatch.area_{SPEC[name].block}"
    for over in ({"mismatch.area_scale": 4.0}, {key: 4.0 * getattr(base.mismatch, key.split(".")[1])}):
        b = _rel_sd(load_study("xor", {**PELGROM_ONLY, **over}), name).std()
        assert abs(b / a - 0.5) < 0.5 * 2 * _sd_tol(N_INST)


def test_an_ideal_block_has_no_mirror_offset():
    st = load_study("xor", {"circuit.K_I": float("inf"), "circuit.I_max": float("inf")})
    for name in ("ioff_fwd", "ioff_pump", "ki_upd", "imax"):
        v = sample_parameter(st, SPEC[name], np.arange(5), 3)
        assert np.all(v == SPEC[name].nominal(st))


@pytest.mark.parametrize("name", ["voffa_fwd", "ioff", "voff_e", "voff_delta", "ioff_upd", "ioff_pump", "voff_d",
                                  "voffe_delta", "voffd_delta"])
def test_offsets_have_no_die_to_die_share(name):
    # however large the die-to-die share of gains, two offsets of one die are uncorrelated (within the sample's
    # confidence: the correlation of independent samples has SE 1/sqrt(n)) and keep their whole Pelgrom sigma
    st = load_study("xor", {"mismatch.global_fraction": 0.5})
    spec = SPEC[name]
    n_blocks = 33 if spec in SYNAPSE_PARAMS else 9
    v = sample_parameter(st, spec, np.arange(N_INST), n_blocks)
    assert abs(np.corrcoef(v[:, 0], v[:, 1])[0, 1]) < 5 / math.sqrt(N_INST)
    sig = pelgrom_sigma(st, spec)
    assert sig.glob == 0.0
    assert sig.local == pytest.approx(pelgrom_sigma(load_study("xor", {**PELGROM_ONLY}), spec).local)


def test_mismatch_off_is_nominal():
    st = load_study("xor", {"mismatch.enabled": False})
    for name in ["km_fwd", "voffa_fwd", "c", "iref", "ki_upd", "ioff_upd", "ioff_pump", "voff_d", "voffd_delta"]:
        x = _rel_sd(st, name)
        assert np.all(x == 0)


def _leak_only(method, extra=None):
    ov = {"circuit.V_teach": 0.0, "noise.enabled": False, "leakage.G_leak": 1e-6, "leakage.V_rest": 0.2,
          "integrator.method": method, "task.epochs": 2, "monte_carlo.w_init_range": 1.0,
          "circuit.V_lo": -5.0, "circuit.V_hi": 5.0}
    ov.update(extra or {})
    return load_study("xor_seed004", ov)


@pytest.mark.parametrize("method,tol", [("rk4", 1e-9), ("heun", 2e-5)])
def test_leakage_alone_follows_the_exponential(method, tol):
    st = _leak_only(method)
    r = run_instances(st, 0, 64)
    t_total = st.task.epochs * 4 * st.task.T_row
    g, c = r.params["g_leak"], r.params["c"]
    expect = leak_solution(t_total, r.w_init, g, c, v_rest=0.2)
    assert np.max(np.abs(r.w_final - expect)) < tol
    assert np.std(g) > 0  # log-normal spread between capacitors is in play


def test_temperature_factor():
    assert temperature_factor(310.15, 300.15, 10.0) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        temperature_factor(310.15, 300.15, 10.0, 0.55)
    # by default, Arrhenius with the preset's activation energy (0.55 eV)
    cold = load_study("xor", {"process.temperature": 300.15})
    hot = load_study("xor", {"process.temperature": 358.15})
    g0 = sample_parameter(cold, SPEC["g_leak"], np.arange(5), 3)
    g1 = sample_parameter(hot, SPEC["g_leak"], np.arange(5), 3)
    np.testing.assert_allclose(g1 / g0, np.exp(-0.55 * 1.602176634e-19 / 1.380649e-23 * (1 / 358.15 - 1 / 300.15)),
                               rtol=1e-12)


@pytest.mark.parametrize("temperature", [233.15, 358.15, 398.15])
def test_arrhenius_leakage_at_three_temperatures(temperature):
    # the sampled median leak conductance follows exp(-E_a / k (1/T - 1/T_0)); k in eV/K from CODATA (q = e)
    k_ev = 1.380649e-23 / 1.602176634e-19
    st = load_study("xor", {"process.temperature": temperature, "leakage.E_a": 0.6, "leakage.sigma_ln": 0.0})
    base = load_study("xor", {"leakage.E_a": 0.6, "leakage.sigma_ln": 0.0})
    g = sample_instances(st, Topology((2, 8, 1)), np.arange(3))["g_leak"]
    g0 = sample_instances(base, Topology((2, 8, 1)), np.arange(3))["g_leak"]
    np.testing.assert_allclose(g / g0, np.exp(-0.6 / k_ev * (1 / temperature - 1 / 300.15)), rtol=1e-9)


def test_old_doubling_law_is_kept_and_refused_with_an_activation_energy():
    st = load_study("xor", {"process.temperature": 320.15, "leakage.dT_double": 10.0, "leakage.sigma_ln": 0.0})
    base = load_study("xor", {"leakage.sigma_ln": 0.0})
    g = sample_instances(st, Topology((2, 8, 1)), np.arange(2))["g_leak"]
    g0 = sample_instances(base, Topology((2, 8, 1)), np.arange(2))["g_leak"]
    np.testing.assert_allclose(g / g0, 4.0, rtol=1e-12)
    with pytest.raises(StudyError, match="dT_double"):
        load_study("xor", {"leakage.dT_double": 10.0, "leakage.E_a": 0.5})


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_kT_over_C_stationary_variance(method):
    # Teaching off, leakage plus noise, every capacitor alike: an OU process per weight.
    G, C, dt, T = 1e-6, 0.1e-12, 20e-9, 300.15
    st = load_study("xor_seed004", {
        "circuit.V_teach": 0.0, "leakage.G_leak": G, "leakage.sigma_ln": 0.0, "mismatch.enabled": False,
        "monte_carlo.w_init_range": 0.0, "integrator.method": method, "integrator.dt": dt, "task.epochs": 1,
        "process.temperature": T, "leakage.T_0": T, "circuit.V_lo": -1.0, "circuit.V_hi": 1.0,
    })
    n = 4096
    r = run_instances(st, 0, n)
    w = r.w_final.ravel()
    theta_dt = G / C * dt
    kTC = K_BOLTZMANN * T / C
    if method == "euler":  # Euler-Maruyama's exact discrete stationary variance
        expect = kTC / (1 - theta_dt / 2)
    else:  # stochastic Heun: w+ = a w + (1 - theta dt/2) s xi, a = 1 - theta dt + (theta dt)^2 / 2
        a = 1 - theta_dt + theta_dt**2 / 2
        expect = (1 - theta_dt / 2) ** 2 * 2 * theta_dt * kTC / (1 - a * a)
    # 400 ns = 40 / theta: the start (w = 0) is forgotten to 1e-17
    assert abs(w.var() / expect - 1) < 5 * math.sqrt(2 / (w.size - 1))
    if method == "euler":  # the test can tell the discrete bias (10 % at theta dt = 0.2) from kT/C
        assert abs(expect / kTC - 1) > 3 * 5 * math.sqrt(2 / (w.size - 1))


def test_retention_matches_closed_form():
    G = 1e-12
    holds = [0.0, 0.01, 0.1, 1.0]
    st = load_study("xor_ideal", {"leakage.enabled": True, "leakage.G_leak": G, "leakage.V_rest": 0.0,
                                  "leakage.sigma_ln": 0.3, "task.epochs": 20, "retention.hold_times": holds})
    r = run_instances(st, 0, 64)
    # the closed form per capacitor, then the static evaluation of those weights
    from mcaann.engine.driver import study_task
    from mcaann.engine.reference import Reference

    task = study_task(st)
    topo = Topology((2, 8, 1))
    for i in (0, 63):
        p = {k: v[i] for k, v in r.params.items()}
        ref = Reference(st, topo, p, i)
        for h, t in enumerate(holds):
            w = leak_solution(t, r.w_final[i], p["g_leak"], p["c"])
            mse, _ = ref.evaluate(w, task.x, task.t, task.thresholds)
            assert r.retention_mse[i, h] == pytest.approx(mse, rel=1e-9)
    # after 1 s = 10 C/G every weight has leaked to 0 V: the output sits at V_amp / 2 for every row
    np.testing.assert_allclose(r.retention_mse[:, -1], np.mean((0.5 - st_task_t(st)) ** 2), atol=1e-4)


def st_task_t(st):
    from mcaann.engine.driver import study_task

    return study_task(st).t


def test_hold_noise_variance():
    # exact OU transition: variance kT/C (1 - exp(-2 theta t)) around the decayed mean
    n, G, C, kT = 200_000, 1e-12, 1e-13, K_BOLTZMANN * 300.0
    t = 0.05
    rng = np.random.default_rng(0)
    z = rng.standard_normal(n)
    w = hold(np.full(n, 0.5), t, np.full(n, G), np.full(n, C), 0.0, 0.0, kT, z)
    theta = G / C
    assert w.mean() == pytest.approx(0.5 * math.exp(-theta * t), abs=5 * math.sqrt(kT / C / n))
    assert abs(w.var() / (kT / C * (1 - math.exp(-2 * theta * t))) - 1) < 5 * math.sqrt(2 / n)


def test_spatial_gradient_is_a_plane_per_die_with_the_declared_sigma():
    from mcaann.variability.mismatch import sample_instances

    s = 1e3  # 0.1 % per um: no gain reaches zero (that would be clipped, see clip_physical)
    st = load_study("xor", {"process.A_VT": 0.0, "process.A_beta": 0.0, "process.A_C": 0.0, **PELGROM_ONLY,
                            "mismatch.gradient": s, "mismatch.gradient_offset": 50.0})
    topo = Topology((2, 8, 1))
    p = sample_instances(st, topo, np.arange(N_INST))
    xw, yw, _, _ = topo.positions(st.mismatch.pitch)
    A = np.column_stack([xw, yw])
    rel = p["km_fwd"] / st.circuit.K_m - 1
    coef, res, *_ = np.linalg.lstsq(A, rel.T, rcond=None)
    np.testing.assert_allclose(A @ coef, rel.T, atol=1e-15)  # exactly linear in position
    for slope in coef:  # per-axis slopes over dies: N(0, s^2)
        assert abs(slope.std() / s - 1) < _sd_tol(N_INST)
    off = np.linalg.lstsq(A, p["voffa_upd"].T, rcond=None)[0]
    assert abs(off[0].std() / 50.0 - 1) < _sd_tol(N_INST)
    # off by default
    flat = load_study("xor", {"process.A_VT": 0.0, "process.A_beta": 0.0, **PELGROM_ONLY})
    assert np.all(sample_instances(flat, topo, np.arange(3))["km_fwd"] == st.circuit.K_m)


def test_blocks_follow_the_chip_temperature():
    # U_T scales the sigmoids' current scale and g_m/I; mobility (T^-1.5) the multiplier and pump gains
    r = 360.15 / 300.15
    hot = load_study("xor", {"process.temperature": 360.15, "mismatch.enabled": False})
    cold = load_study("xor", {"mismatch.enabled": False})
    p_hot = sample_instances(hot, Topology((2, 8, 1)), np.arange(2))
    p_cold = sample_instances(cold, Topology((2, 8, 1)), np.arange(2))
    expect = {"km_fwd": r ** -1.5, "km_upd": r ** -1.5, "kg": r ** -1.5, "iref": r, "iref_d": r, "v_amp": 1.0,
              "re_upd": 1.0, "re_err": 1.0, "c": 1.0}
    for name, ratio in expect.items():
        np.testing.assert_allclose(p_hot[name] / p_cold[name], ratio, rtol=1e-12, err_msg=name)
    # Pelgrom: a gain's sigma uses g_m/I at the chip temperature; an offset current (g_m/I x I_ref) does not move
    hot_m, cold_m = (load_study("xor", {**PELGROM_ONLY, "process.temperature": t}) for t in (360.15, 300.15))
    proc = PRESETS["sky130"]
    area = cold_m.mismatch.area_multiplier
    for st, gm_i in ((hot_m, 15.0 / r), (cold_m, 15.0)):
        s = pelgrom_sigma(st, SPEC["km_fwd"])
        total = math.hypot(s.local, s.glob)
        assert total == pytest.approx(math.hypot(proc.A_beta, gm_i * proc.A_VT) / math.sqrt(area), rel=1e-12)
    assert pelgrom_sigma(hot_m, SPEC["ioff"]).local == pytest.approx(pelgrom_sigma(cold_m, SPEC["ioff"]).local,
                                                                      rel=1e-12)


def test_stationary_variance_with_the_shot_noise_of_the_leakage():
    # Teaching off, leakage G (w - V_rest) + I_leak0 with noise density S = 2 k T G + q |I_leak0|: an OU process
    # whose stationary variance is S / (2 G C) = kT/C + q |I_leak0| / (2 G C) (Euler-Maruyama: over 1 - theta dt/2)
    G, C, dt, T, i0 = 1e-6, 0.1e-12, 20e-9, 300.15, 3e-7
    st = load_study("xor_seed004", {
        "circuit.V_teach": 0.0, "leakage.G_leak": G, "leakage.sigma_ln": 0.0, "leakage.I_leak0": i0,
        "mismatch.enabled": False, "monte_carlo.w_init_range": 0.0, "integrator.method": "euler",
        "integrator.dt": dt, "task.epochs": 4, "process.temperature": T, "leakage.T_0": T,
        "circuit.V_lo": -1.0, "circuit.V_hi": 1.0,
    })
    # 1.6 us = 16 C/G: the start (w = 0, 0.3 V from the mean) is forgotten to 3e-8 V
    w = run_instances(st, 0, 4096).w_final.ravel()
    q = 1.602176634e-19
    stationary = K_BOLTZMANN * T / C + q * i0 / (2 * G * C)
    expect = stationary / (1 - G / C * dt / 2)
    assert abs(w.mean() + i0 / G) < 5 * math.sqrt(expect / w.size)
    assert abs(w.var() / expect - 1) < 5 * math.sqrt(2 / (w.size - 1))
    # the shot noise is what the test sees: six times kT/C here
    assert q * i0 / (2 * G * C) > 5 * K_BOLTZMANN * T / C
    # the exact hold has the same stationary variance
    n = 200_000
    z = np.random.default_rng(1).standard_normal(n)
    h = hold(np.full(n, -i0 / G), 1.0, np.full(n, G), np.full(n, C), 0.0, i0, K_BOLTZMANN * T, z)
    assert abs(h.var() / stationary - 1) < 5 * math.sqrt(2 / n)


# ---------------------------------------------------------------------------------------------------------------
# Sourced presets and the die-to-die process spread (issue 13, items 3 and 7)
# ---------------------------------------------------------------------------------------------------------------


def test_every_preset_value_cites_a_source_or_is_named_generic():
    from mcaann.variability.process import SOURCED_FIELDS

    for name, p in PRESETS.items():
        assert set(p.sources) >= set(SOURCED_FIELDS), name
        unsourced = [f for f in SOURCED_FIELDS if "no public source" in p.sources[f]]
        if len(unsourced) == len(SOURCED_FIELDS):  # nothing sourced: the name says so
            assert name.startswith("generic"), name
    # Pelgrom coefficients say per device or per capacitor
    for name in ("sky130", "gf180", "ihp_sg13g2"):
        for f in ("A_VT", "A_VT_p", "A_beta"):
            assert "per device" in PRESETS[name].sources[f], (name, f)
        assert "per die" in PRESETS[name].sources["spread_C"]


def test_sky130_effective_a_vt_includes_the_voff_variation():
    # sky130_fd_pr__nfet_01v8__mismatch.corner.spice: vth0_slope 3.356e-3 and voff_slope 7e-3 V*um, independent draws
    assert PRESETS["sky130"].A_VT == pytest.approx(math.hypot(3.356, 7.0) * 1e-9, rel=1e-3)


def test_renamed_preset_is_refused_with_its_new_name():
    with pytest.raises(StudyError, match="process.preset: 'fdsoi28' has no public source and was renamed "
                                         "'generic28fdsoi'"):
        load_study("xor_seed004", {"process.preset": "fdsoi28"})
    assert load_study("xor_seed004", {"process.preset": "generic28fdsoi"}).process.preset == "generic28fdsoi"


@pytest.mark.parametrize("name,field", [("km_fwd", "spread_gain"), ("imax", "spread_gain"), ("c", "spread_C")])
def test_process_spread_is_per_die_common_to_its_blocks_and_independent_of_area(name, field):
    # local Pelgrom off: every block of a die carries the same deviate, whose variance over dies is the field's
    # (chi-square: the sample SD of n normals lies within 5 / sqrt(2 (n - 1)) of sigma, relative)
    s = 0.05
    over = {"process.A_VT": 0.0, "process.A_beta": 0.0, "process.A_C": 0.0, "process.spread_gain": 0.0,
            "process.spread_C": 0.0, f"process.{field}": s}
    x = _rel_sd(load_study("xor", over), name).reshape(N_INST, -1)
    np.testing.assert_allclose(x, x[:, :1] * np.ones_like(x), rtol=0, atol=1e-15)  # common to the die's blocks
    assert abs(x[:, 0].mean()) < 5 * s / math.sqrt(N_INST)
    assert abs(x[:, 0].std() / s - 1) < _sd_tol(N_INST)
    # not scaled by device area, capacitance or area_scale: the same dies, bit for bit
    for big in ({"mismatch.area_scale": 16.0}, {"mismatch.area_multiplier": 64e-12, "mismatch.area_mirror": 64e-12},
                {"circuit.C": 1e-12}):
        y = _rel_sd(load_study("xor", {**over, **big}), name).reshape(N_INST, -1)
        np.testing.assert_allclose(y, x, rtol=0, atol=1e-14)
    # it adds in quadrature to Pelgrom's local part and is scaled by mismatch.scale
    st = load_study("xor", {f"process.{field}": s, "mismatch.scale": 2.0})
    sig, loc = pelgrom_sigma(st, SPEC[name]), pelgrom_sigma(load_study("xor", {**PELGROM_ONLY, "mismatch.scale": 2.0}),
                                                            SPEC[name])
    assert sig.local == pytest.approx(loc.local) and sig.glob == pytest.approx(2 * s)


def test_process_spread_leaves_offsets_alone():
    st = load_study("xor", {"process.spread_gain": 0.3, "process.spread_C": 0.3})
    for name in ("voffa_fwd", "ioff_fwd", "ioff_pump", "ioff", "voff_delta"):
        assert pelgrom_sigma(st, SPEC[name]).glob == 0.0
