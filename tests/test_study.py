import math
import tomllib

import pytest

from mcaann.study import StudyError, builtin_studies, load_study, study_to_toml


def test_default_study_is_realistic_xor():
    st = load_study()
    assert st.name == "xor" and st.network.layers == [2, 8, 1]
    assert st.mismatch.enabled and st.leakage.enabled and st.noise.enabled
    assert math.isfinite(st.circuit.K_I) and math.isfinite(st.circuit.I_max)
    assert st.circuit.R_e_eff == pytest.approx(st.circuit.V_amp / st.circuit.I_ref)


def test_every_builtin_loads():
    assert {"xor", "xor_ideal", "two_rows", "xor_232", "sine"} <= set(builtin_studies())
    for name in builtin_studies():
        load_study(name)


def test_overrides_and_spice_strings():
    st = load_study("xor_seed004", {"circuit.C": "0.2p", "integrator.method": "heun", "circuit.V_amp": 2.0})
    assert st.circuit.C == pytest.approx(0.2e-12)
    assert st.integrator.method == "heun"
    assert st.circuit.R_e_eff == pytest.approx(2.0 / 0.25e-6)  # derived after overrides


def test_show_round_trips():
    st = load_study("xor", {"circuit.K_g": "50n"}, {"mismatch.scale": [0.0, 1.0]})
    text = study_to_toml(st)
    again = load_study(tomllib.loads(text))
    assert again.model_dump() == load_study(tomllib.loads(study_to_toml(again))).model_dump()
    assert again.circuit.K_g == pytest.approx(50e-9)
    assert again.circuit.R_e == pytest.approx(st.circuit.R_e_eff)
    assert again.sweep == {"mismatch.scale": [0.0, 1.0]}


@pytest.mark.parametrize("overrides,field", [
    ({"circuit.C": -1e-13}, "circuit.C"),
    ({"circuit.nope": 1}, "circuit.nope"),
    ({"task.T_row": 1.5e-9}, "task.T_row"),
    ({"task.T_settle": 2e-7}, "task.T_settle"),
    ({"integrator.method": "rk4"}, "integrator.method"),
    ({"integrator.method": "midpoint"}, "integrator.method"),
    ({"process.preset": "nowhere"}, "process.preset"),
    ({"mismatch.global_fraction": 1.5}, "mismatch.global_fraction"),
    ({"network.layers": [2]}, "network.layers"),
    ({"monte_carlo.instances": 0}, "monte_carlo.instances"),
])
def test_bad_fields_name_the_field(overrides, field):
    with pytest.raises(StudyError) as exc:
        load_study("xor", overrides)
    msg = str(exc.value)
    assert msg.startswith(field + ":"), msg
    assert "\n" not in msg


def test_bad_sweep_value_is_caught_at_load():
    with pytest.raises(StudyError, match=r"^circuit\.C:"):
        load_study("xor", sweeps={"circuit.C": [1e-13, -1.0]})
