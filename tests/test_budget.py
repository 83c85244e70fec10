"""The yield budget: per-kind sigma factors on the same deviates, paired statistics, the budget itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mcaann.circuit.blocks import FIXED, LEAK, NEURON_PARAMS, SYNAPSE_PARAMS, variation_kind, variation_kinds
from mcaann.circuit.network import Topology
from mcaann.errors import StudyError
from mcaann.scale.budget import budget_kinds, kind_overrides, merge_budgets, run_budget, run_points
from mcaann.stats.paired import mcnemar_exact, paired_difference
from mcaann.study.load import load_study
from mcaann.variability.mismatch import sample_instances

Z = 1.959963984540054


def _table(a, b, c, d):
    """Per-chip outcomes of two conditions with a 2x2 table (a: both converge, b: first only, c: second only)."""
    first = [True] * a + [True] * b + [False] * c + [False] * d
    second = [True] * a + [False] * b + [True] * c + [False] * d
    return np.array(first), np.array(second)


def test_paired_interval_by_hand():
    # a = 30 chips converge in both, b = 2 only in the study, c = 9 only with the kind removed, d = 9 in neither
    r = paired_difference(*_table(30, 2, 9, 9))
    n = 50
    # Wilson intervals of p1 = 32/50 and p2 = 39/50, written out
    def wilson(k):
        p = k / n
        centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
        half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n * n))
        return p, centre - half, centre + half

    p1, l1, u1 = wilson(32)
    p2, l2, u2 = wilson(39)
    # phi: a d - b c = 270 - 18 = 252 > n/2, corrected to 252 - 25 = 227
    phi = 227 / math.sqrt(32 * 18 * 39 * 11)
    lo = 0.14 - math.sqrt((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2)
    hi = 0.14 + math.sqrt((u2 - p2) ** 2 - 2 * phi * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2)
    assert (r.difference, r.rescued, r.harmed, r.n) == (pytest.approx(0.14), 9, 2, 50)
    assert r.lo == pytest.approx(lo, abs=1e-12) and r.hi == pytest.approx(hi, abs=1e-12)
    assert (round(r.lo, 4), round(r.hi, 4)) == (0.0086, 0.2667)  # pinned: a silent change is caught
    # exact McNemar: 2 of 11 discordant chips; P(X <= 2) for Binomial(11, 1/2) is (1 + 11 + 55) / 2048
    assert r.p_value == pytest.approx(2 * 67 / 2048, rel=1e-12)
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(5, 5) == 1.0


def test_paired_interval_edges():
    # no chip changes fate: the difference is 0 and its interval contains 0; the interval is in [-1, 1]
    r = paired_difference(*_table(40, 0, 0, 10))
    assert r.difference == 0 and r.lo < 0 < r.hi and r.p_value == 1.0
    r = paired_difference(*_table(0, 0, 20, 0))
    assert r.difference == 1.0 and r.hi == 1.0 and 0 < r.lo < 1
    with pytest.raises(ValueError):
        paired_difference([True, False], [True])


def test_kinds_from_the_parameter_specs():
    kinds = variation_kinds()
    sampled = [p for p in SYNAPSE_PARAMS + NEURON_PARAMS if p.kind not in (FIXED, LEAK)]
    assert set(kinds) == {variation_kind(p) for p in sampled}
    assert {"multiplier_fwd", "multiplier_bwd", "multiplier_upd", "pump", "capacitor", "activation",
            "derivative", "error", "delta"} <= set(kinds)
    assert budget_kinds()[-2:] == ("leakage", "noise")


def test_kind_scale_keeps_the_deviates():
    """A kind's factor scales its own deviations exactly and leaves every other parameter bit for bit."""
    topo = Topology((2, 3, 1))
    inst = np.arange(5, 12)
    base = load_study("xor", {"network.layers": [2, 3, 1]})
    a = sample_instances(base, topo, inst)
    b = sample_instances(base.at({"mismatch.kind_scale.multiplier_bwd": 2.0, "mismatch.kind_scale.delta": 0.0}),
                         topo, inst)
    for spec in SYNAPSE_PARAMS + NEURON_PARAMS:
        k, nom = variation_kind(spec), spec.nominal(base)
        if k == "multiplier_bwd" and spec.kind != FIXED:
            np.testing.assert_allclose(b[spec.name] - nom, 2 * (a[spec.name] - nom), rtol=1e-12, atol=1e-30)
            assert np.any(a[spec.name] != nom)
        elif k == "delta" and spec.kind != FIXED:
            assert np.all(b[spec.name] == nom)
        else:
            np.testing.assert_array_equal(a[spec.name], b[spec.name])
    np.testing.assert_array_equal(a["w_init"], b["w_init"])


def test_noise_density_scale():
    from mcaann.circuit.blocks import noise_sigma

    args = (4.1e-21, np.array([1e-12, 2e-12]), np.array([1e-7, 1e-7]), 2 / 3, 1.0, 5e-9, np.array([1e-13, 1e-13]))
    np.testing.assert_allclose(noise_sigma(*args, 1e-15, 4.0), 2 * noise_sigma(*args, 1e-15), rtol=1e-15)
    assert load_study("xor", {"noise.density_scale": 4}).noise.density_scale == 4.0
    with pytest.raises(StudyError, match="noise.density_scale"):
        load_study("xor", {"noise.density_scale": -1})


def test_kind_scale_refuses_an_unknown_kind():
    with pytest.raises(StudyError, match=r"mismatch.kind_scale: unknown kind 'multiplier'"):
        load_study("xor", {"mismatch.kind_scale.multiplier": 0.0})
    with pytest.raises(StudyError, match=r"kind_scale"):
        load_study("xor", {"mismatch.kind_scale.delta": -1.0})


def test_kind_overrides():
    st = load_study("xor")
    assert kind_overrides(st, "pump", 0.0) == {"mismatch.kind_scale.pump": 0.0}
    assert kind_overrides(st.at({"mismatch.kind_scale.pump": 0.5}), "pump", 2.0) == {"mismatch.kind_scale.pump": 1.0}
    assert kind_overrides(st, "noise", 0.0) == {"noise.enabled": False}
    assert kind_overrides(st, "noise", 2.0) == {"noise.density_scale": 4.0}
    assert kind_overrides(st, "leakage", 0.0) == {"leakage.enabled": False}
    lk = kind_overrides(st, "leakage", 2.0)
    assert lk["leakage.G_leak"] > 0 and lk["leakage.I_leak0"] == 0.0


#: a study where only the delta circuits vary (1-2-1 on two rows; every run of this file shares its kernel)
ONLY_DELTA = {"monte_carlo.instances": 128, "leakage.enabled": False, "noise.enabled": False,
              "mismatch.scale": 4.0, **{f"mismatch.kind_scale.{k}": 0.0 for k in variation_kinds() if k != "delta"}}


@pytest.fixture(scope="module")
def delta_budget():
    st = load_study("two_rows", ONLY_DELTA)
    return st, run_budget(st, threads=1)


def test_budget_gives_the_only_varying_kind_the_whole_loss(delta_budget):
    st, ds = delta_budget
    # the yield without any mismatch, by another path (the global scale, not the kind's factor)
    nominal = run_points(st, [{"mismatch.scale": 0.0}], threads=1)[0]
    y0, y = nominal.mean(), float(ds["yield"])
    assert y0 - y > 0.15  # the delta circuits' mismatch costs yield
    d = ds.sel(kind="delta")
    assert float(d["yield_without"]) == pytest.approx(y0)  # removing delta recovers the whole loss
    assert float(d["recovered"]) == pytest.approx(y0 - y)
    assert float(d["recovered_lo"]) > 0 and int(d["rescued"]) > 0
    assert int(d["rescued"]) - int(d["harmed"]) == round((y0 - y) * st.monte_carlo.instances)
    assert float(d["p_value"]) < 1e-3
    assert float(d["yield_doubled"]) < y  # twice the sigma: worse
    np.testing.assert_array_equal(ds["converged_without"].sel(kind="delta").values, nominal)
    others = ds.drop_sel(kind="delta")
    assert not others["active"].any() and bool(d["active"])
    assert (others["rescued"] == 0).all() and (others["harmed"] == 0).all()
    assert ((others["recovered_lo"] <= 0) & (others["recovered_hi"] >= 0)).all()
    assert set(ds["kind"].values) == set(budget_kinds())


def test_budget_reruns_the_same_chips(delta_budget):
    """The budget's chips are the study's: its doubled rerun is the study run with the doubled factor."""
    st, ds = delta_budget
    direct = run_points(st, [{}, {"mismatch.kind_scale.delta": 2.0}], instances=(40, 72), threads=1)
    np.testing.assert_array_equal(direct[0], ds["converged"].values[40:72])
    np.testing.assert_array_equal(direct[1], ds["converged_doubled"].sel(kind="delta").values[40:72])


def test_budget_shards_merge_to_the_whole(delta_budget):
    _, ds = delta_budget
    parts = [ds.isel(instance=slice(64, 128)), ds.isel(instance=slice(0, 64))]
    merged = merge_budgets(parts)
    for v in ("yield", "yield_without", "recovered_lo", "recovered_hi", "rescued", "harmed", "p_value_doubled"):
        np.testing.assert_array_equal(merged[v].values, ds[v].values)


def test_budget_file_round_trip(delta_budget, tmp_path):
    from mcaann.io.netcdf import open_result, write_result

    _, ds = delta_budget
    back = open_result(write_result(ds, tmp_path / "b.nc"))
    assert back.attrs["mcaann_dataset"] == "yield_budget"
    for v in ("yield_without", "yield_doubled", "rescued", "harmed", "recovered_lo", "converged_without"):
        np.testing.assert_array_equal(back[v].values, ds[v].values)
    assert list(back["kind"].values) == list(ds["kind"].values)


def test_budget_resumes_after_an_interrupt(delta_budget, tmp_path):
    """An interrupted budget keeps its finished tasks in OUT.parts/; the same call runs only the others and
    writes the budget an uninterrupted run writes."""
    from mcaann.scale.store import parts_dir

    st, ds = delta_budget
    out = tmp_path / "b.nc"
    seen = []

    def stop_after_two_tasks(done, total):
        seen.append(done)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_budget(st, out=out, threads=1, chunk=32, progress=stop_after_two_tasks)
    assert not out.exists()
    kept = sorted(p.name for p in parts_dir(out).glob("task_*.npz"))
    assert len(kept) == 2
    starts = []
    resumed = run_budget(st, out=out, threads=1, chunk=32, progress=lambda done, total: starts.append(done))
    assert starts[0] == 64  # two tasks of 32 chips were read, not run again
    assert not parts_dir(out).exists() and out.exists()
    for v in ("converged", "converged_without", "converged_doubled", "rescued", "harmed"):
        np.testing.assert_array_equal(resumed[v].values, ds[v].values)


def test_budget_refuses_a_sweep():
    st = load_study("two_rows", sweeps={"mismatch.scale": [1.0, 2.0]})
    with pytest.raises(StudyError, match="sweep"):
        run_budget(st)


def _cli_sets(overrides: dict) -> list[str]:
    out = []
    for k, v in overrides.items():
        out += ["--set", f"{k}={str(v).lower() if isinstance(v, bool) else v}"]
    return out


def test_budget_and_report_commands(delta_budget, tmp_path):
    from typer.testing import CliRunner

    from mcaann.cli import app

    runner = CliRunner()
    _, ds = delta_budget
    out = tmp_path / "b.nc"
    res = runner.invoke(app, ["budget", "two_rows", "--out", str(out), "--threads", "1", *_cli_sets(ONLY_DELTA)])
    assert res.exit_code == 0, res.output
    assert "yield budget" in res.output and "fixed" in res.output
    from mcaann.io.netcdf import open_result

    np.testing.assert_array_equal(open_result(out)["converged_without"].values, ds["converged_without"].values)
    plots = tmp_path / "plots"
    res = runner.invoke(app, ["report", str(out), "--plots", str(plots)])
    assert res.exit_code == 0, res.output
    rows = [ln.split()[0] for ln in res.output.splitlines() if ln.split() and ln.split()[0] in set(ds["kind"].values)]
    assert rows[0] == "delta" and len(rows) == ds.sizes["kind"]  # the one kind that varies first (sorted)
    assert [p.name for p in plots.iterdir()] == ["budget.png"]
    # shards through the command line join to the whole
    parts = [tmp_path / "p0.nc", tmp_path / "p1.nc"]
    for k, p in enumerate(parts):
        res = runner.invoke(app, ["budget", "two_rows", "--out", str(p), "--shard", f"{k}/2", "--quiet",
                                  "--threads", "1", *_cli_sets(ONLY_DELTA)])
        assert res.exit_code == 0, res.output
    merged = tmp_path / "m.nc"
    res = runner.invoke(app, ["merge-budget", str(parts[1]), str(parts[0]), "--out", str(merged)])
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(open_result(merged)["rescued"].values, ds["rescued"].values)


@pytest.mark.parametrize("args, field", [
    (["--set", "mismatch.kind_scale.nonsense=0"], "mismatch.kind_scale"),
    (["--shard", "2/2"], "--shard"),
    (["--sweep", "mismatch.scale=1,2"], "No such option"),
])
def test_budget_bad_input_writes_nothing(tmp_path, args, field):
    from typer.testing import CliRunner

    from mcaann.cli import app

    res = CliRunner().invoke(app, ["budget", "two_rows", "--out", str(tmp_path / "b.nc"), *args])
    assert res.exit_code == 2 and field in res.output
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- allocation

#: the delta circuits dominate (4x their Pelgrom sigma); every other kind varies as the preset says. No process
#: spread (area cannot remove it) and an ideal pump output (its
#: conductance, 0.2 nS cascoded, costs this weakly driven study 11 of its 58 chips that converge without mismatch);
#: and sky130's numbers before they were sourced (vth0-only A_VT 3.4 mV*um, A_beta 1 %*um, 20 % die to die): at the
#: sourced values the current mirrors' output offsets dominate instead of the delta circuits
DELTA_DOMINATES = {"monte_carlo.instances": 128, "leakage.enabled": False, "noise.enabled": False,
                   "mismatch.kind_scale.delta": 4.0, "process.spread_gain": 0.0, "process.spread_C": 0.0,
                   "circuit.pump_output": "ideal", "process.A_VT": 3.4e-9, "process.A_beta": 1e-8,
                   "mismatch.global_fraction": 0.2}


@pytest.fixture(scope="module")
def delta_allocation(delta_budget):  # after the budget: the same kernel
    import mcaann.scale.allocate as alloc_mod

    calls = []
    real = alloc_mod.run_points

    def spy(study, points, **kw):
        calls.append((study.monte_carlo.seed, study.monte_carlo.instances))
        return real(study, points, **kw)

    alloc_mod.run_points = spy
    try:
        st = load_study("two_rows", DELTA_DOMINATES)
        return st, alloc_mod.allocate(st, 0.3, threads=1, check_instances=96), calls
    finally:
        alloc_mod.run_points = real


def test_allocation_gives_the_dominant_kind_the_most_area(delta_allocation):
    from mcaann.stats.yield_ import wilson_interval

    st, a, _ = delta_allocation
    f = a.allocated.factors
    assert set(f) == {"multiplier", "mirror", "pump", "capacitor", "activation", "derivative", "error", "delta"}
    assert max(f, key=f.get) == "delta" and f["delta"] > 1
    assert a.allocated.area < 0.5 * a.uniform.area  # beats uniform scaling to the same yield
    for d in (a.allocated, a.uniform):  # both meet the target on the tuning chips
        assert wilson_interval(d.converged, 128)[1] >= 0.3
    assert wilson_interval(a.base.converged, 128)[1] < 0.3  # and the study itself does not
    # the allocated study is what the allocation says
    assert a.study.mismatch.area_delta == pytest.approx(f["delta"] * st.mismatch.area_delta)
    assert a.study.circuit.C / a.study.circuit.K_g == pytest.approx(st.circuit.C / st.circuit.K_g)


def test_allocation_checks_on_fresh_chips(delta_allocation):
    st, a, calls = delta_allocation
    tuning, check = calls[:-1], calls[-1]
    assert {c[0] for c in tuning} == {st.monte_carlo.seed} and check == (st.monte_carlo.seed + 1, 96)
    assert a.check_seed != a.tune_seed and a.check_allocated.size == 96
    # the check's outcomes are the allocated study's on the fresh seed, not on the tuning chips
    fresh = run_points(a.study.at({"monte_carlo.seed": a.check_seed, "monte_carlo.instances": 96}), [{}], threads=1)
    np.testing.assert_array_equal(fresh[0], a.check_allocated)
    with pytest.raises(StudyError, match="--check-seed"):
        from mcaann.scale.allocate import allocate

        allocate(st, 0.3, check_seed=st.monte_carlo.seed)


def test_allocation_out_of_reach_stops_at_once(delta_allocation):
    from mcaann.scale.allocate import allocate

    # without any device mismatch 58 of these 128 chips converge: a lower bound of 0.42 is out of reach by area
    st = load_study("two_rows", DELTA_DOMINATES)
    with pytest.raises(StudyError, match=r"out of reach by area: .* 58/128"):
        allocate(st, 0.42, threads=1)


def test_allocated_study_loads_and_runs(delta_allocation, tmp_path):
    from mcaann.scale.allocate import allocation_toml

    _, a, _ = delta_allocation
    path = tmp_path / "a.toml"
    path.write_text(allocation_toml(a))
    st = load_study(path)
    assert st.mismatch.area_delta == pytest.approx(a.study.mismatch.area_delta)
    conv = run_points(st.at({"monte_carlo.instances": 32}), [{}], threads=1)
    np.testing.assert_array_equal(conv[0], run_points(a.study, [{}], instances=(0, 32), threads=1)[0])


def test_allocate_bad_input(tmp_path):
    from typer.testing import CliRunner

    from mcaann.cli import app

    for args, field in ((["--target-yield", "1.5"], "--target-yield"),
                        (["--target-yield", "0.999", "--instances", "100"], "--target-yield"),
                        (["--out", str(tmp_path / "a.nc")], "--out")):
        res = CliRunner().invoke(app, ["allocate", "two_rows", "--out", str(tmp_path / "a.toml"), *args])
        assert res.exit_code == 2 and field in res.output, res.output
    assert list(tmp_path.iterdir()) == []


def test_allocate_command_writes_a_runnable_study(delta_budget, tmp_path):
    """A target the study already meets: the areas only shrink, and the written study loads."""
    from typer.testing import CliRunner

    from mcaann.cli import app

    out = tmp_path / "a.toml"
    sets = _cli_sets({**DELTA_DOMINATES, "monte_carlo.instances": 64})
    res = CliRunner().invoke(app, ["allocate", "two_rows", "--target-yield", "0.02", "--out", str(out),
                                   "--threads", "1", *sets])
    assert res.exit_code == 0, res.output
    assert "uniform" in res.output and "written:" in res.output
    st = load_study(out)
    base = load_study("two_rows", DELTA_DOMINATES)
    assert st.name == "two_rows_allocated"
    assert st.mismatch.area_error <= base.mismatch.area_error  # nothing needed to grow
    assert out.read_text().startswith("# mcaann allocate")
    assert [p.name for p in tmp_path.iterdir()] == ["a.toml"]


def _fake_allocation(monkeypatch, converges, **kw):
    """``allocate`` on a yield model in place of the simulation (the search's logic alone): ``converges(factors)``
    says whether every tuning chip converges at those area factors per kind (``None``: every device exact)."""
    import mcaann.scale.allocate as alloc_mod

    st = load_study("two_rows", {"monte_carlo.instances": 64})
    keys = alloc_mod.area_keys(st)
    base = {key: alloc_mod._value(st, key) for fields in keys.values() for key in fields}

    def fake_run_points(study, points, **_):
        n = study.monte_carlo.instances
        out = []
        for p in points:
            exact = not any(key in base for key in p)  # the reach check's exact devices
            factors = None if exact else {k: p.get(f[0], base[f[0]]) / base[f[0]] for k, f in keys.items()}
            out.append(np.full(n, converges(factors)))
        return out

    monkeypatch.setattr(alloc_mod, "run_points", fake_run_points)
    return keys, alloc_mod.allocate(st, 0.9, check_instances=64, **kw)


def test_allocation_shrinks_from_uniform_when_no_single_kind_gains(monkeypatch):
    # a chip converges only when every kind's area is at least 4 x the study's: growing any one kind gains nothing
    keys, a = _fake_allocation(monkeypatch, lambda f: f is None or min(f.values()) >= 4 - 1e-9)
    assert ("from uniform", a.uniform) in a.trace
    assert a.uniform.factors == {k: pytest.approx(4.0) for k in keys}
    assert a.allocated.factors == a.uniform.factors  # every kind is needed at 4 x: nothing shrinks
    assert a.allocated.area <= a.uniform.area
    # reach (2), study, uniform (32, 4, 2 x; 3 bisections), one failing grow step, one shrink try per kind, the
    # fresh-chip checks (2)
    assert a.runs == 2 + 1 + 6 + len(keys) + len(keys) + 2


def test_allocation_shrink_finds_each_kinds_least_area_by_bisection(monkeypatch):
    # each kind needs its own area: 8 x for the multipliers, 2 x for the capacitor, nothing for the others; the
    # shrink lands every kind on the smallest grid area at or above its need, in a few runs per kind
    need = {"multiplier": 8.0, "capacitor": 2.0}
    keys, a = _fake_allocation(
        monkeypatch, lambda f: f is None or all(f[k] >= need.get(k, 0) - 1e-9 for k in f))
    f, u = a.allocated.factors, max(a.uniform.factors.values())
    assert u == pytest.approx(8.0)
    for k in keys:
        grid = [u / math.sqrt(2) ** j for j in range(30) if u / math.sqrt(2) ** j >= 0.25 - 1e-12]
        assert f[k] == pytest.approx(min(g for g in grid if g >= need.get(k, 0) - 1e-9))
    assert a.runs <= 2 + 1 + 6 + len(keys) + 5 * len(keys) + 2


def test_allocation_out_of_reach_within_the_largest_area(monkeypatch):
    # every device exact converges, but no area up to the limit does: stop after the reach check, naming both
    def converges(f):
        return f is None or min(f.values()) >= 2048

    with pytest.raises(StudyError, match=r"out of reach within 1024 x .* 0/64 .* 64/64 with every device exact"):
        _fake_allocation(monkeypatch, converges)
    _, a = _fake_allocation(monkeypatch, converges, max_factor=4096)  # a higher limit reaches it
    assert max(a.uniform.factors.values()) == pytest.approx(2048 * 2 ** (1 / 8), rel=0.1)
