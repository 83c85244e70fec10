"""Load a study: TOML file or built-in name, ``--set`` overrides, sweep grid, resolution."""

from __future__ import annotations

import copy
import itertools
import math
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from mcaann.errors import StudyError
from mcaann.study.schema import Study, _set_path, _validate
from mcaann.units import parse_spice_number

__all__ = ["StudyError", "builtin_studies", "load_study", "study_to_toml", "sweep_points"]

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "studies"


def builtin_studies() -> dict[str, Path]:
    """Built-in study names and their TOML files."""
    return {p.stem: p for p in sorted(BUILTIN_DIR.glob("*.toml"))}


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{path.name}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise StudyError(f"{path.name}: not UTF-8 text (byte {exc.start}); a study file is TOML") from None
    except OSError as exc:
        raise StudyError(f"{path}: {exc.strerror}") from None


def load_study(
    spec: str | Path | dict | Study | None = None,
    overrides: dict[str, Any] | None = None,
    sweeps: dict[str, list] | None = None,
) -> Study:
    """Load and validate a study.

    Parameters
    ----------
    spec
        A TOML path (if such a file exists), a built-in name, a dict of sections, a
        ``Study``, or ``None`` for the default ``xor`` study.
    overrides
        ``{"key.path": value}`` applied before validation (``--set``).
    sweeps
        ``{"key.path": [values]}`` added to the study's ``[sweep]`` table (``--sweep``).

    Raises ``StudyError`` with a one-line message naming the field and the reason.
    Every sweep point is validated too.
    """
    base_dir = Path.cwd()
    if isinstance(spec, Study):
        raw = spec.raw()
        base_dir = spec.base_dir
    elif isinstance(spec, dict):
        raw = copy.deepcopy(spec)
    else:
        name = "xor" if spec is None else str(spec)
        path = Path(name)
        if path.is_file():
            raw = _read_toml(path)
            raw.setdefault("name", path.stem)
            base_dir = path.resolve().parent
        elif name in builtin_studies():
            raw = _read_toml(builtin_studies()[name])
            raw.setdefault("name", name)
        else:
            known = ", ".join(builtin_studies())
            raise StudyError(f"study: {name!r} is neither a TOML file nor a built-in study ({known})")
    for key, value in (overrides or {}).items():
        _set_path(raw, key, value)
    for key, values in (sweeps or {}).items():
        if key in raw.get("sweep", {}):
            raise StudyError(f"sweep.{key}: given twice (in the study and as --sweep)")
        raw.setdefault("sweep", {})[key] = list(values)
    preset = raw.get("process", {}).get("preset") if isinstance(raw.get("process"), dict) else None
    if isinstance(preset, str) and preset.endswith(".toml") and not Path(preset).is_absolute():
        raw["process"]["preset"] = str(base_dir / preset)  # a characterised preset, relative to the study
    _check_sweep(raw.get("sweep"), overrides or {})
    study = _validate(raw)
    study._raw = raw
    study._base_dir = base_dir
    if study.sweep:
        for point in sweep_points(study):
            study.at(point)
    return study


#: keys that name or describe a study, never swept
_UNSWEPT = ("name", "description")


def _check_sweep(table: Any, overrides: dict[str, Any]) -> None:
    """Refuse a ``[sweep]`` table that would run a meaningless grid: a key with no values or a
    value twice (``100f`` and ``0.1p`` are one value), a key that names the study, or a key that
    is also set with ``--set``."""
    if table is None:
        return
    if not isinstance(table, dict):
        raise StudyError("sweep: must be a table of key.path = [values]")
    for key, values in table.items():
        if key in _UNSWEPT:
            raise StudyError(f"sweep.{key}: names the study and cannot be swept")
        if key in overrides:
            raise StudyError(f"--set {key}: the key is swept too (sweep.{key}); give one or the other")
        if not isinstance(values, list) or not values:
            raise StudyError(f"sweep.{key}: no values (a sweep lists at least one)")
        seen: dict[Any, Any] = {}
        for v in values:
            norm = _sweep_value_key(v)
            if norm in seen:
                also = f" (as {seen[norm]!r})" if seen[norm] != v else ""
                raise StudyError(f"sweep.{key}: value {v!r} is given twice{also}")
            seen[norm] = v


def _sweep_value_key(v: Any) -> Any:
    """A hashable identity of a sweep value: SPICE strings as their SI float, booleans apart from 0/1."""
    if isinstance(v, str):
        try:
            return ("number", parse_spice_number(v))
        except ValueError:
            return ("text", v)
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int | float):
        return ("number", v)  # int and float compare exactly: 1 == 1.0, 2**60 + 1 != 2.0**60
    return ("other", repr(v))


def sweep_points(study: Study) -> list[dict[str, Any]]:
    """The grid of the study's ``[sweep]`` table, first key slowest: a list of assignments."""
    keys = list(study.sweep)
    if not keys:
        return [{}]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*study.sweep.values())]


def _resolved_dict(study: Study) -> dict:
    """Every field with its resolved value (derived and preset values filled in)."""
    from mcaann.variability.process import gate_capacitance, resolve_process

    d = study.model_dump(by_alias=True)
    d["circuit"]["R_e"] = study.circuit.R_e_eff
    proc = resolve_process(study)
    for k in ("A_VT", "A_beta", "A_C", "C_density", "spread_gain", "spread_C"):
        d["process"][k] = getattr(proc, k)
    d["process"]["C_gate"] = gate_capacitance(study)
    d["leakage"]["G_leak"] = proc.G_leak
    if study.leakage.dT_double is None:
        d["leakage"]["E_a"] = proc.E_a
    if study.yield_.accuracy_threshold is None:
        from mcaann.engine.driver import study_task

        try:
            d["yield"]["accuracy_threshold"] = study.yield_.accuracy_for(study_task(study))
        except StudyError:  # a dataset that does not load: left to the run to report
            pass
    return d


def _floatify(node: Any, key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _floatify(v, k) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_floatify(v, key) for v in node]
    if isinstance(node, bool) or isinstance(node, str):
        return node
    if isinstance(node, int) and key in {"epochs", "instances", "seed", "layers", "newton_iter", "split_seed",
                                         "software_epochs", "measure_points", "levels"}:
        return node
    if isinstance(node, int | float):
        return float(node)
    return node


def study_to_toml(study: Study, resolved: bool = True) -> str:
    """The study as TOML text; ``resolved`` fills every derived and preset value (SI floats)."""
    d = _resolved_dict(study) if resolved else study.model_dump(by_alias=True)
    d = _floatify(d)
    for k in list(d):
        if isinstance(d[k], dict) and not d[k] and k != "sweep":
            del d[k]
    return tomli_w.dumps(d)


def is_finite_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
