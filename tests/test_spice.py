"""ngspice export: netlist structure, and agreement of ngspice with the engine (MODEL.md section 7)."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mcaann.circuit.network import Topology
from mcaann.spice.netlist import SpiceExportError, instance_parameters, netlist, row_order, sweep_point
from mcaann.spice.ngspice import check_instance, ngspice_available, run_ngspice, spice_final_weights, weight_nodes
from mcaann.study.load import load_study
from mcaann.variability.leakage import leak_solution

needs_ngspice = pytest.mark.skipif(not ngspice_available(), reason="ngspice is not installed")

#: The Done-when configuration: non-ideal, mismatched blocks, strong leakage, no noise, RK4 at 1 ns.
CHECK = {"noise.enabled": False, "leakage.G_leak": 1e-9, "integrator.method": "rk4", "task.epochs": 50}


@pytest.fixture(scope="module")
def xor2():
    return load_study("xor", {**CHECK, "task.epochs": 2})


def _cards(text: str, prefix: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(prefix)]


def test_netlist_structure(xor2):
    text = netlist(xor2, 1)
    lines = text.splitlines()
    assert lines[0].startswith("*")
    assert not any(ln.strip().lower().startswith((".control", ".endc")) for ln in lines)
    tran = _cards(text, ".tran")
    assert len(tran) == 1 and tran[0].split()[-1] == "uic"
    assert float(tran[0].split()[2]) == pytest.approx(2 * 4 * xor2.task.T_row)
    assert "noise" in text.lower()  # the comment saying it is left out


def test_netlist_capacitors_and_initial_conditions(xor2):
    topo = Topology(tuple(xor2.network.layers))
    p = instance_parameters(xor2, 1)
    text = netlist(xor2, 1)
    caps = {}
    for ln in _cards(text, "C_"):
        name, node, gnd, value = ln.split()
        assert gnd == "0" and name == "C_" + node.removeprefix("w_")
        caps[node] = float(value)
    assert list(caps) == weight_nodes(xor2.network.layers)
    coords = topo.weight_coords()
    for k, node in enumerate(caps):
        assert node == f"w_{coords['layer'][k]}_{coords['post'][k]}_{coords['pre'][k]}"
        assert caps[node] == p["c"][k]
    ics = dict(re.fullmatch(r"\.ic V\((\w+)\)=(\S+)", ln).groups() for ln in _cards(text, ".ic"))
    assert list(ics) == list(caps)
    np.testing.assert_array_equal([float(v) for v in ics.values()], p["w_init"])
    # leakage resistors 1/G_leak to V_rest, rail clamps, one pump per weight
    leaks = {ln.split()[1]: float(ln.split()[3]) for ln in _cards(text, "Rl_")}
    np.testing.assert_allclose([1.0 / leaks[n] for n in caps], p["g_leak"], rtol=1e-15)
    assert all(ln.split()[2] == "vrest" for ln in _cards(text, "Rl_"))
    assert len(_cards(text, "Bp_")) == len(_cards(text, "Br_")) == topo.n_weights


def test_netlist_ideal_blocks_are_linear(ideal_overrides):
    st = load_study("xor_seed004", {**ideal_overrides, "task.epochs": 1})
    text = "\n".join(ln for ln in netlist(st, 0).splitlines() if not ln.startswith("*"))
    assert "tanh" not in text and "uramp" not in text
    assert not _cards(text, "Rl_") and not _cards(text, "Il_") and not _cards(text, "Vrest")


def test_netlist_rows_follow_the_instance_order():
    st = load_study("xor", {**CHECK, "task.epochs": 3, "task.order": "shuffled"})
    p = instance_parameters(st, 2)
    order = row_order(st, p, 2, 3, 4)
    assert sorted(order[:4]) == [0, 1, 2, 3] and order != [0, 1, 2, 3] * 3
    assert "shuffled" in netlist(st, 2).splitlines()[0]


def test_export_refuses_bad_input():
    st = load_study("xor", {"monte_carlo.instances": 3}, {"circuit.C": [1e-13, 2e-13]})
    with pytest.raises(SpiceExportError, match="sweep"):
        netlist(st, 0)
    with pytest.raises(SpiceExportError, match="point"):
        sweep_point(st)
    assert sweep_point(st, 1).circuit.C == 2e-13
    with pytest.raises(SpiceExportError, match="instance"):
        netlist(sweep_point(st, 0), 3)


@needs_ngspice
def test_ngspice_leakage_alone():
    """Teaching off: every weight decays as ``V_rest + (w0 - V_rest) exp(-t G / C)`` (MODEL.md 7)."""
    st = load_study("xor", {**CHECK, "circuit.V_teach": 0.0, "leakage.V_rest": 0.3, "task.epochs": 5,
                            "leakage.I_leak0": 1e-12})
    p = instance_parameters(st, 0)
    t = np.array([0.0, 0.5e-6, 2e-6])
    out = run_ngspice(netlist(st, 0), weight_nodes(st.network.layers), t)
    for k, node in enumerate(weight_nodes(st.network.layers)):
        exact = leak_solution(t, p["w_init"][k], p["g_leak"][k], p["c"][k], 0.3, 1e-12)
        np.testing.assert_allclose(out[node], exact, atol=2e-6)


@needs_ngspice
def test_ngspice_matches_engine_50_epochs():
    """Done-when: 2 mismatched non-ideal leaky xor instances, RK4 at 1 ns, 50 epochs: within 1 mV."""
    from mcaann.engine.driver import run_instances

    st = load_study("xor", {**CHECK, "integrator.dt": 1e-9})
    eng = run_instances(st, 0, 2)
    assert not eng.diverged.any()
    # the leakage matters (tens of mV over the run) and the weights move a lot
    t_stop = 50 * 4 * st.task.T_row
    assert np.median(eng.params["g_leak"] / eng.params["c"]) * t_stop > 0.05
    assert np.abs(eng.w_final - eng.w_init).max() > 0.2
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        spi = list(pool.map(lambda i: spice_final_weights(st, i), [0, 1]))
    wall = time.perf_counter() - t0
    err = np.abs(np.array(spi) - eng.w_final)
    print(f"ngspice vs engine (rk4, 1 ns), 50 epochs: max |dw| = {err.max() * 1e6:.2f} uV, "
          f"ngspice {wall:.1f} s for 2 instances in parallel")
    assert err.max() < 1e-3


def test_netlist_lags_are_r_c_behind_each_node():
    """Finite settling: every y, e, delta and g node sits behind R_node with C_node = tau / R_node to ground."""
    from mcaann.circuit import settling

    st = load_study("xor", {**CHECK, "task.epochs": 1, "settling.enabled": True, "settling.tau_e": 0.0})
    topo = Topology(tuple(st.network.layers))
    taus = settling.node_taus(st, topo)
    r_node = settling.node_resistance(st)
    text = netlist(st, 0)
    res = {ln.split()[0]: ln.split()[1:] for ln in _cards(text, "R") if not ln.startswith("Rl_")}
    caps = {ln.split()[0]: ln.split()[1:] for ln in _cards(text, "C") if not ln.startswith("C_")}
    assert res["Ry_1_3"] == ["y_1_3s", "y_1_3", repr(r_node)]
    assert float(caps["Cy_1_3"][2]) * r_node == pytest.approx(taus["y"][3], rel=1e-15)
    assert float(caps["Cdelta_2_0"][2]) * r_node == pytest.approx(taus["delta"][8], rel=1e-15)
    k = topo.weight_index(2, 0, 4)
    assert float(caps["Cg_2_0_4"][2]) * r_node == pytest.approx(taus["g"][k], rel=1e-15)
    assert "V(g_2_0_4)" in _cards(text, "Bp_2_0_4")[0]
    n_lagged = 2 * topo.n_neurons + topo.n_weights  # y, delta, g; e has tau = 0: no lag
    assert len(res) == len(caps) == n_lagged and not any(name.startswith(("Re_", "Ce_")) for name in res)


@needs_ngspice
def test_ngspice_matches_engine_with_node_lags():
    """Finite settling on: 2 mismatched non-ideal leaky instances, RK4 at 5 ns, 50 epochs: within 1 mV."""
    from mcaann.engine.driver import run_instances

    st = load_study("xor_seed004", {**CHECK, "settling.enabled": True})
    eng = run_instances(st, 0, 2)
    assert np.abs(eng.w_final - eng.w_init).max() > 0.2
    with ThreadPoolExecutor(2) as pool:
        spi = list(pool.map(lambda i: spice_final_weights(st, i), [0, 1]))
    err = np.abs(np.array(spi) - eng.w_final)
    print(f"ngspice vs engine with node lags (rk4, 5 ns), 50 epochs: max |dw| = {err.max() * 1e6:.2f} uV")
    assert err.max() < 1e-3
    # the lags matter: without them the same chips end far from the lagged netlist's weights
    plain = run_instances(load_study("xor_seed004", CHECK), 0, 2)
    assert np.abs(np.array(spi) - plain.w_final).max() > 1e-2


@needs_ngspice
def test_check_instance_turns_noise_off():
    """``check_instance`` compares with the engine run without noise (the netlist has none)."""
    st = load_study("xor", {"leakage.G_leak": 1e-9, "integrator.method": "heun", "task.epochs": 3})
    assert st.noise.enabled
    assert check_instance(st, 4) < 1e-4
