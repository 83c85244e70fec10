"""Failure attribution on hand-made datasets where the cause of failure is known."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats as sps

from mcaann.stats.attribution import (
    constant_parameters,
    element_matrix,
    sampled_parameters,
    separating_parameters,
    spearman_attribution,
)

N_W, N_N = 8, 3


def _param(values, dims, nominal, units="1", block="test"):
    return (dims, values, {"role": "sampled_parameter", "nominal": nominal, "units": units, "block": block})


def synthetic(n: int = 400, seed: int = 0, cause: tuple[str, int] = ("kg", 5), threshold_q: float = 0.5,
              sweep_value: float | None = None) -> xr.Dataset:
    """A result-like dataset (no simulation) in which one parameter element alone decides the final MSE.

    ``kg`` (weights), ``km_fwd`` (weights) and ``iref`` (neurons) are random; ``c`` is constant
    and ``ki_fwd`` is ``inf`` everywhere (ideal block): both must be skipped. The final MSE grows
    steeply with the deciding element, plus a little noise; instances above the ``threshold_q``
    quantile of the final MSE fail.
    """
    rng = np.random.default_rng(seed)
    kg = 1e-7 * (1 + 0.05 * rng.standard_normal((n, N_W)))
    km = 1e-6 * (1 + 0.05 * rng.standard_normal((n, N_W)))
    iref = 2.5e-7 * (1 + 0.05 * rng.standard_normal((n, N_N)))
    params = {"kg": kg, "km_fwd": km, "iref": iref}
    name, idx = cause
    x = params[name][:, idx]
    z = (x - x.mean()) / x.std()
    final_mse = 1e-3 * np.exp(2.0 * z) * (1 + 0.02 * rng.standard_normal(n))
    thr = float(np.quantile(final_mse, threshold_q))
    converged = final_mse <= thr
    data = {
        "final_mse": (("instance",), final_mse, {"units": "V2"}),
        "converged": (("instance",), converged),
        "kg": _param(kg, ("instance", "weight"), 1e-7, "S", "pump"),
        "km_fwd": _param(km, ("instance", "weight"), 1e-6, "A V-2", "multiplier"),
        "c": _param(np.full((n, N_W), 1e-13), ("instance", "weight"), 1e-13, "F", "capacitor"),
        "ki_fwd": _param(np.full((n, N_W), np.inf), ("instance", "weight"), np.inf, "A", "multiplier"),
        "iref": _param(iref, ("instance", "neuron"), 2.5e-7, "A", "activation"),
        "w_init": (("instance", "weight"), rng.uniform(-0.5, 0.5, (n, N_W)), {"units": "V"}),
    }
    coords = {
        "instance": np.arange(n), "weight": np.arange(N_W), "neuron": np.arange(N_N),
        "layer": ("weight", np.array([1] * 6 + [2] * 2)), "post": ("weight", np.array([0, 0, 0, 1, 1, 1, 0, 0])),
        "pre": ("weight", np.array([0, 1, 2, 0, 1, 2, 0, 1])),
        "neuron_layer": ("neuron", np.array([1, 1, 2])), "neuron_index": ("neuron", np.array([0, 1, 0])),
    }
    ds = xr.Dataset(data, coords=coords)
    ds["yield"] = ds["converged"].mean("instance")
    if sweep_value is not None:
        ds = ds.expand_dims(mismatch__scale=[sweep_value])
    return ds


def swept() -> xr.Dataset:
    """Three sweep points: kg[w=5] decides at the first, iref[n=2] at the second, nobody fails at the third.

    ``voff_e`` is constant (0) at the first point and random at the others.
    """
    a = synthetic(seed=1, cause=("kg", 5), sweep_value=1.0)
    b = synthetic(seed=2, cause=("iref", 2), sweep_value=2.0)
    c = synthetic(seed=3, cause=("km_fwd", 1), threshold_q=1.0, sweep_value=3.0)
    rng = np.random.default_rng(9)
    for ds, spread in ((a, 0.0), (b, 1e-3), (c, 1e-3)):
        ds["voff_e"] = (("mismatch__scale", "instance", "neuron"), spread * rng.standard_normal((1, 400, N_N)),
                        {"role": "sampled_parameter", "nominal": 0.0, "units": "V", "block": "error"})
    return xr.concat([a, b, c], dim="mismatch__scale")


def test_sampled_parameters_and_constants():
    ds = synthetic()
    assert sampled_parameters(ds) == ["kg", "km_fwd", "c", "ki_fwd", "iref"]
    assert constant_parameters(ds) == ["c", "ki_fwd"]
    values, meta = element_matrix(ds)
    assert values.shape == (400, 2 * N_W + N_N)
    assert set(meta["parameter"]) == {"kg", "km_fwd", "iref"}
    row = meta[meta["label"] == "kg[w=4]"].iloc[0]
    assert row["location"] == "layer 1, post 1, pre 1" and row["dim"] == "weight" and row["index"] == 4
    assert meta[meta["label"] == "iref[n=2]"].iloc[0]["location"] == "layer 2, neuron 0"


def test_spearman_finds_the_cause():
    ds = synthetic()
    el = spearman_attribution(ds)
    top = el.iloc[0]
    assert top["label"] == "kg[w=5]" and top["rank"] == 1
    assert top["rho"] > 0.95 and top["p_bonferroni"] < 1e-10
    assert el["abs_rho"].iloc[1] < 0.3  # the rest is noise
    assert not el["parameter"].isin(["c", "ki_fwd"]).any()
    assert len(el) == 2 * N_W + N_N
    assert (el["abs_rho"].diff().dropna() <= 0).all()
    # rho and p agree with scipy's own Spearman for every element
    values, meta = element_matrix(ds)
    for _, r in el.sample(5, random_state=0).iterrows():
        x = values[:, meta.index[meta["label"] == r["label"]][0]]
        ref = sps.spearmanr(x, ds["final_mse"].values)
        assert r["rho"] == pytest.approx(ref.statistic, abs=1e-12)
        assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)


def test_spearman_per_parameter():
    par = spearman_attribution(synthetic(), level="parameter")
    assert list(par["parameter"]) == list(par["label"])
    assert par.iloc[0]["parameter"] == "kg" and par.iloc[0]["element"] == "kg[w=5]"
    assert set(par["parameter"]) == {"kg", "km_fwd", "iref"}
    assert dict(zip(par["parameter"], par["n_elements"], strict=True)) == {"kg": N_W, "km_fwd": N_W, "iref": N_N}
    assert list(par["rank"]) == [1, 2, 3]


def test_separating_finds_the_cause():
    ds = synthetic(cause=("iref", 1))
    sep = separating_parameters(ds)
    top = sep.iloc[0]
    assert top["label"] == "iref[n=1]"
    assert top["auc"] > 0.9 and top["cliffs_delta"] == pytest.approx(2 * top["auc"] - 1)
    assert top["smd"] > 1.5 and top["median_fail"] > top["median_pass"]
    assert top["p_bonferroni"] < 1e-10
    assert top["n_fail"] + top["n_pass"] == 400
    assert sep["abs_delta"].iloc[1] < 0.3
    assert not sep["parameter"].isin(["c", "ki_fwd"]).any()
    # AUC is the Mann-Whitney U of the failing group over n_fail * n_pass
    ok = ds["converged"].values
    x = ds["iref"].values[:, 1]
    u = sps.mannwhitneyu(x[~ok], x[ok]).statistic
    assert top["auc"] == pytest.approx(u / ((~ok).sum() * ok.sum()))
    par = separating_parameters(ds, level="parameter")
    assert par.iloc[0]["label"] == "iref" and par.iloc[0]["element"] == "iref[n=1]"


def test_negative_association_ranks_by_magnitude():
    ds = synthetic(cause=("km_fwd", 2))
    ds["final_mse"] = 1.0 / ds["final_mse"]  # now a larger km_fwd[w=2] means a smaller MSE
    el = spearman_attribution(ds)
    assert el.iloc[0]["label"] == "km_fwd[w=2]" and el.iloc[0]["rho"] < -0.95


def test_extra_candidates():
    ds = synthetic()
    el = spearman_attribution(ds, candidates=["w_init", "kg"])
    assert set(el["parameter"]) == {"w_init", "kg"} and el.iloc[0]["label"] == "kg[w=5]"


def test_per_sweep_point():
    ds = swept()
    el = spearman_attribution(ds)
    assert list(el.columns[:2]) == ["mismatch__scale", "rank"]
    tops = el[el["rank"] == 1].set_index("mismatch__scale")["label"]
    assert tops[1.0] == "kg[w=5]" and tops[2.0] == "iref[n=2]" and tops[3.0] == "km_fwd[w=1]"
    # voff_e does not vary at the first point: skipped there only
    assert not ((el["mismatch__scale"] == 1.0) & (el["parameter"] == "voff_e")).any()
    assert ((el["mismatch__scale"] == 2.0) & (el["parameter"] == "voff_e")).sum() == N_N
    assert constant_parameters(ds) == ["c", "ki_fwd"]
    # each point ranks on its own instances: same answer as the point alone
    alone = spearman_attribution(ds.sel(mismatch__scale=2.0))
    both = el[el["mismatch__scale"] == 2.0].reset_index(drop=True)
    assert list(alone["label"]) == list(both["label"])
    np.testing.assert_allclose(alone["rho"], both["rho"])

    sep = separating_parameters(ds)
    sep_tops = sep[sep["rank"] == 1].set_index("mismatch__scale")["label"]
    assert sep_tops[1.0] == "kg[w=5]" and sep_tops[2.0] == "iref[n=2]"
    assert 3.0 not in set(sep["mismatch__scale"])  # every instance passes: nothing separates
    par = separating_parameters(ds, level="parameter")
    assert par.groupby("mismatch__scale")["rank"].min().eq(1).all()


def test_nothing_varies():
    ds = synthetic()
    for name in ("kg", "km_fwd", "iref"):
        ds[name] = xr.full_like(ds[name], ds[name].attrs["nominal"])
    assert spearman_attribution(ds).empty
    assert separating_parameters(ds, level="parameter").empty
    assert set(constant_parameters(ds)) == set(sampled_parameters(ds))


def test_bad_level():
    with pytest.raises(ValueError, match="level"):
        spearman_attribution(synthetic(n=20), level="block")
