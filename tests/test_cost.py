"""Chip area, static power and energy to converge against hand counts."""

import math

import numpy as np
import pytest

from mcaann.circuit.cost import chip_cost, energy_to_converge
from mcaann.study import load_study


def test_area_and_power_of_the_xor_chip_by_hand():
    st = load_study("xor", {"circuit.K_I": 1e-7, "circuit.I_max": 1e-7, "circuit.I_ref": 2.5e-7,
                            "circuit.C": 1e-13, "mismatch.area_multiplier": 4e-12, "mismatch.area_pump": 2e-12})
    cost = chip_cost(st)
    # 2-8-1: 33 weights (3 multipliers of 8 devices and a pump of 6 each), 9 neurons; of these, 2 of a
    # multiplier's and 4 of a pump's are current-mirror devices at area_mirror (4 um^2)
    assert cost.device_area["multiplier"] == pytest.approx(33 * 3 * 8 * 4e-12)
    assert cost.device_area["pump"] == pytest.approx(33 * (2 * 2e-12 + 4 * 4e-12))
    assert cost.device_area["delta"] == pytest.approx(9 * 8 * st.mismatch.area_delta)
    assert cost.capacitor_area == pytest.approx(33 * 1e-13 / 2e-3)  # sky130 MIM, 2 fF/um^2
    assert cost.area == pytest.approx(sum(cost.device_area.values()) + cost.capacitor_area)
    # 1.8 V x (33 (3 K_I + I_max) + 9 (3 I_ref + K_I))
    assert cost.static_power == pytest.approx(1.8 * (33 * 4e-7 + 9 * (7.5e-7 + 1e-7)))


def test_area_scale_moves_devices_only_and_ideal_blocks_have_no_power():
    a = chip_cost(load_study("xor"))
    b = chip_cost(load_study("xor", {"mismatch.area_scale": 4.0}))
    for k in a.device_area:
        assert b.device_area[k] == pytest.approx(4 * a.device_area[k])
    assert b.capacitor_area == a.capacitor_area
    assert math.isinf(chip_cost(load_study("xor_ideal")).static_power)


def test_mirror_devices_take_the_mirror_area():
    a = chip_cost(load_study("xor"))
    b = chip_cost(load_study("xor", {"mismatch.area_mirror": 16e-12}))
    # 33 synapses: 3 multipliers x 2 mirror devices and a pump's 4, each 12 um^2 larger
    assert b.device_area["multiplier"] - a.device_area["multiplier"] == pytest.approx(33 * 3 * 2 * 12e-12)
    assert b.device_area["pump"] - a.device_area["pump"] == pytest.approx(33 * 4 * 12e-12)
    assert b.device_area["activation"] == a.device_area["activation"]


def test_energy_to_converge():
    st = load_study("xor", {"task.T_row": 1e-7})
    p = chip_cost(st).static_power
    e = energy_to_converge(st, np.array([10.0, np.nan]))
    assert e[0] == pytest.approx(p * 10 * 4 * 1e-7)
    assert np.isnan(e[1])


def test_result_holds_area_power_and_energy_per_sweep_point():
    from mcaann import run_study

    ds = run_study("xor", monte_carlo__instances=64, task__epochs=30, sweeps={"mismatch.area_scale": [1.0, 4.0]})
    for scale in (1.0, 4.0):
        st = load_study("xor", {"mismatch.area_scale": scale, "monte_carlo.instances": 64, "task.epochs": 30})
        point = ds.sel(mismatch__area_scale=scale)
        cost = chip_cost(st)
        assert float(point["chip_area"]) == pytest.approx(cost.area)
        assert float(point["static_power"]) == pytest.approx(cost.static_power)
        e = point["energy_to_converge"].values
        np.testing.assert_allclose(e, cost.static_power * 4 * st.task.T_row * point["epochs_to_converge"].values)
        assert ds["chip_area"].attrs["units"] == "m2"
    assert float(ds["chip_area"].sel(mismatch__area_scale=4.0)) > float(ds["chip_area"].sel(mismatch__area_scale=1.0))
