"""Process presets characterised at transistor level (``mcaann characterise ... --preset F.toml``).

A study selects one by ``process.preset = "PATH.toml"`` (relative to the study file). The file
names a ``base`` preset (``process.PRESETS``) for everything it does not cover (leakage, and the
Pelgrom coefficients of blocks it lacks), and has one table per characterised block::

    base = "ihp_sg13g2"
    [multiplier]
    area = 4e-12                    # device area W*L of the characterised cell [m^2]
    params = ["km", "voffa", "voffb"]
    units = ["relative", "V", "V"]  # relative to nominal; V; or "I_ref" (relative to the study's I_ref)
    sigma = [0.08, 0.0027, 0.0018]
    correlation = [[1.0, 0.1, 0.0], [0.1, 1.0, 0.0], [0.0, 0.0, 1.0]]

A parameter's sigma scales with the study's device area as Pelgrom's law does
(``sigma * sqrt(area / (area_block * area_scale))`` for the local part; capacitors with
``sqrt(C_char / C)``); ``scale`` and ``global_fraction`` apply as for the Pelgrom mapping. The
local parts of one block's parameters are drawn with the file's correlation matrix (Cholesky
factor times the parameters' own independent streams); the die-to-die parts are independent.
"""

from __future__ import annotations

import math
import tomllib
from functools import cache
from pathlib import Path

import numpy as np

#: Block tables of a characterised preset and the engine blocks they feed.
SECTIONS = ("multiplier", "activation", "derivative", "error", "delta", "pump", "capacitor")
UNITS = ("relative", "V", "I_ref")


class PresetFileError(ValueError):
    """A characterised preset file that cannot be used; ``str()`` is one line."""


def is_file_preset(name: str) -> bool:
    """True when a ``process.preset`` value names a TOML file rather than a built-in preset."""
    return name.endswith(".toml")


@cache
def _load(path: str, mtime: float) -> dict:
    del mtime  # part of the cache key: a rewritten file is read again
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise PresetFileError(f"preset: cannot read {Path(path).name} ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PresetFileError(f"preset: {Path(path).name} is not valid TOML ({exc})") from None
    return validate(data, Path(path).name)


def load_preset(path: str) -> dict:
    """The validated contents of a characterised preset file."""
    p = Path(path)
    if not p.is_file():
        raise PresetFileError(f"preset: file {path!r} not found")
    return _load(str(p.resolve()), p.stat().st_mtime)


def validate(data: dict, name: str = "preset") -> dict:
    """Check a characterised preset's structure; return it with numpy arrays and Cholesky factors."""
    from mcaann.variability.process import PRESETS

    base = data.get("base")
    if base not in PRESETS:
        raise PresetFileError(f"preset: {name} needs base = one of {', '.join(PRESETS)}")
    out: dict = {"base": base, "blocks": {}}
    for sec in SECTIONS:
        if sec not in data:
            continue
        t = data[sec]
        try:
            params = [str(p) for p in t["params"]]
            units = [str(u) for u in t["units"]]
            sigma = np.asarray(t["sigma"], dtype=float)
            corr = np.asarray(t.get("correlation", np.eye(len(params))), dtype=float)
            area = float(t["area"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PresetFileError(f"preset: {name} [{sec}] lacks or mistypes {exc}") from None
        n = len(params)
        if len(units) != n or sigma.shape != (n,) or corr.shape != (n, n):
            raise PresetFileError(f"preset: {name} [{sec}] params, units, sigma, correlation differ in size")
        if any(u not in UNITS for u in units) or np.any(~np.isfinite(sigma)) or np.any(sigma < 0) or area <= 0:
            raise PresetFileError(f"preset: {name} [{sec}] has a bad unit, sigma or area")
        try:
            chol = np.linalg.cholesky(corr + 1e-12 * np.eye(n))
        except np.linalg.LinAlgError:
            raise PresetFileError(f"preset: {name} [{sec}] correlation is not positive definite") from None
        out["blocks"][sec] = {"params": params, "units": units, "sigma": sigma, "chol": chol, "area": area,
                              "C": float(t.get("C", 0.0))}
    return out


def base_preset(name: str) -> str:
    """The built-in preset a ``process.preset`` value stands on (itself, or the file's ``base``)."""
    return load_preset(name)["base"] if is_file_preset(name) else name


def _lookup(study, spec) -> tuple[dict, int, str] | None:
    """The preset block, index and tag (``fwd``/``bwd``/``upd`` or "") of a parameter, if covered."""
    name = study.process.preset
    if not is_file_preset(name):
        return None
    block = load_preset(name)["blocks"].get(spec.block)
    if block is None:
        return None
    key, tag = spec.name, ""
    if spec.block == "multiplier":
        key, _, tag = spec.name.rpartition("_")
    if key not in block["params"]:
        return None
    return block, block["params"].index(key), tag


def characterised_sigma(study, spec):
    """The ``Sigma`` (local, die-to-die) of a parameter from a characterised preset, or ``None``."""
    from mcaann.variability.mismatch import Sigma

    hit = _lookup(study, spec)
    if hit is None:
        return None
    block, i, _ = hit
    mm = study.mismatch
    s = mm.scale * float(block["sigma"][i])
    if block["units"][i] == "I_ref":
        s *= study.circuit.I_ref
    gf = mm.global_fraction
    if spec.block == "capacitor":
        s *= math.sqrt(block["C"] / study.circuit.C) if block["C"] > 0 else 1.0
        return Sigma(math.sqrt(1 - gf) * s, math.sqrt(gf) * s)
    ratio = block["area"] / getattr(mm, f"area_{spec.block}")
    return Sigma(math.sqrt(1 - gf) * s * math.sqrt(ratio / mm.area_scale), math.sqrt(gf) * s * math.sqrt(ratio))


def local_normals(study, spec, instances: np.ndarray, n_blocks: int) -> np.ndarray | None:
    """Correlated standard normals of a parameter's local part, or ``None`` (independent draws)."""
    from mcaann.variability.rng import standard_normals, stream_id

    hit = _lookup(study, spec)
    if hit is None:
        return None
    block, i, tag = hit
    row = block["chol"][i]
    z = np.zeros((len(instances), n_blocks))
    for j in range(i + 1):
        if row[j] == 0.0:
            continue
        name = block["params"][j] + (f"_{tag}" if tag else "")
        z += row[j] * standard_normals(study.monte_carlo.seed, stream_id(name), instances, np.arange(n_blocks))
    return z
