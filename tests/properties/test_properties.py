"""Property tests (hypothesis): few examples on tiny studies, so that they run in seconds."""

from __future__ import annotations

import math
import tomllib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcaann.merge import merge_parts
from mcaann.runner import run_study
from mcaann.study.load import load_study, study_to_toml, sweep_points
from mcaann.units import _SUFFIXES, parse_spice_number

FAST = settings(max_examples=25, deadline=None)
SLOW = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(mantissa=st.floats(1e-3, 1e3), suffix=st.sampled_from(sorted(_SUFFIXES)), unit=st.sampled_from(["", "V"]))
def test_spice_number_is_mantissa_times_scale(mantissa, suffix, unit):
    text = f"{mantissa!r}{suffix}{unit if suffix != 'a' else ''}"
    assert math.isclose(parse_spice_number(text), mantissa * _SUFFIXES[suffix], rel_tol=1e-12)


@FAST
@given(c=st.floats(1e-15, 1e-11), scale=st.floats(0, 5), epochs=st.integers(1, 500),
       method=st.sampled_from(["euler", "heun"]))
def test_show_then_load_gives_the_same_study(c, scale, epochs, method):
    study = load_study("xor", {"circuit.C": c, "mismatch.scale": scale, "task.epochs": epochs,
                               "integrator.method": method})
    text = study_to_toml(study)
    again = load_study(tomllib.loads(text))
    assert study_to_toml(again) == text


@FAST
@given(a=st.lists(st.floats(0, 3), min_size=1, max_size=4, unique=True),
       b=st.lists(st.sampled_from(["euler", "heun"]), min_size=1, max_size=2, unique=True))
def test_sweep_grid_is_the_product_first_key_slowest(a, b):
    study = load_study("xor", sweeps={"mismatch.scale": a, "integrator.method": b})
    points = sweep_points(study)
    assert len(points) == len(a) * len(b)
    assert [p["mismatch.scale"] for p in points[:: len(b)]] == a
    assert [p["integrator.method"] for p in points[: len(b)]] == b


@SLOW
@given(n_shards=st.integers(1, 7))
def test_any_split_into_shards_merges_to_the_single_run(tmp_path_factory, n_shards):
    kw = {"monte_carlo__instances": 5, "task__epochs": 2}
    single = run_study("xor", **kw)
    folder = tmp_path_factory.mktemp("shards")
    parts = [folder / f"p{k}.nc" for k in range(n_shards)]
    for k, p in enumerate(parts):
        run_study("xor", out=p, shard=(k, n_shards), **kw).close()
    merged = merge_parts(parts)
    for v in single.data_vars:
        np.testing.assert_array_equal(single[v].values, merged[v].values, err_msg=v)
