"""IHP SG13G2 lv MOSFETs and MIM capacitors, read from the PDK's ngspice model files.

The ``ihp-gdsfactory`` package ships the PDK's ngspice libraries and the PSP 103 Verilog-A
sources. mcaann reads the ``mos_tt`` corner's parameters (``cornerMOSlv.lib``), the PSP model
cards (``sg13g2_moslv_parm.lib``, evaluated for one device size) and the mismatch coefficients of
the ``mos_tt_mismatch`` section (``sg13g2_moslv_mismatch.lib``), and draws each device's mismatch
the way the PDK's ``sg13_lv_nmos``/``sg13_lv_pmos`` subcircuits do (``agauss`` on ``w``, ``l``,
``delvto`` and ``factuo``).

Units: lengths in m, ``delvto`` in V, ``factuo`` a factor; ``A_VT`` in V*m, ``A_beta`` in m.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from mcaann.pdk.tools import PdkMissing

UM = 1e-6
#: Source/drain extension of a one-finger device in the PDK's subcircuit (``z1``) [m].
Z1 = 0.34e-6
WMIN = 0.15e-6


@cache
def models_dir() -> Path:
    """The folder with the PDK's ngspice ``.lib`` files (from ``ihp-gdsfactory``)."""
    spec = importlib.util.find_spec("ihp")  # located, not imported: installed without its dependencies
    if spec is None or not spec.submodule_search_locations:
        raise PdkMissing("the IHP SG13G2 models are missing: pip install --no-deps ihp-gdsfactory==2.0.0")
    d = Path(list(spec.submodule_search_locations)[0]) / "models" / "ngspice" / "models"
    if not (d / "sg13g2_moslv_parm.lib").is_file():
        raise PdkMissing(f"the IHP SG13G2 model files are missing from the ihp package ({d.name})")
    return d


def psp103_source() -> Path:
    """The PDK's PSP 103 Verilog-A source file."""
    return models_dir().parent / "va" / "psp103" / "psp103.va"


_PARAM = re.compile(r"(\w+)\s*=\s*('[^']*'|\S+)")


def _logical_lines(text: str) -> list[str]:
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.split("$")[0].rstrip()
        if not line.strip() or line.lstrip().startswith("*"):
            out.append("")
            continue
        if line.lstrip().startswith("+") and out:
            out[-1] += " " + line.lstrip()[1:]
        else:
            out.append(line.strip())
    return out


def _params(text: str) -> dict[str, str]:
    return {k.lower(): v.strip("'").strip() for k, v in _PARAM.findall(text)}


@cache
def corner(section: str = "mos_tt_mismatch") -> dict[str, float]:
    """The ``.param`` values of one section of ``cornerMOSlv.lib`` (names lower case)."""
    lines = _logical_lines((models_dir() / "cornerMOSlv.lib").read_text())
    out: dict[str, float] = {}
    inside = False
    for line in lines:
        low = line.lower()
        if low.startswith(".lib"):
            inside = low.split()[1] == section.lower()
        elif low.startswith(".endl"):
            inside = False
        elif inside and low.startswith(".param"):
            out.update({k: float(v) for k, v in _params(line[6:]).items()})
    if not out:
        raise PdkMissing(f"section {section} not found in cornerMOSlv.lib")
    return out


@cache
def mismatch() -> dict[str, float]:
    """Mismatch coefficients of ``sg13g2_moslv_mismatch.lib`` (``*_delvto_mm`` [V*um] etc.)."""
    out: dict[str, float] = {}
    for line in _logical_lines((models_dir() / "sg13g2_moslv_mismatch.lib").read_text()):
        if line.lower().startswith(".param"):
            out.update({k: float(v) for k, v in _params(line[6:]).items()})
    return out


_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Add, ast.Sub,
            ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)


def _eval(expr: str, names: dict[str, float]) -> float:
    tree = ast.parse(expr.replace("^", "**"), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"unsupported expression {expr!r}")
    return float(eval(compile(tree, "<pdk>", "eval"), {"__builtins__": {}}, names))  # noqa: S307


@cache
def _cards() -> dict[str, dict[str, str]]:
    cards: dict[str, dict[str, str]] = {}
    for line in _logical_lines((models_dir() / "sg13g2_moslv_parm.lib").read_text()):
        if line.lower().startswith(".model"):
            parts = line.split(None, 3)
            cards[parts[1].lower()] = {"__module__": parts[2].lower(), **_params(parts[3])}
    return cards


def model_card(kind: str, w: float, l: float, ng: int = 1) -> dict[str, float]:
    """PSP 103 model parameters of an lv ``nmos``/``pmos`` of width ``w``, length ``l`` [m]."""
    card = _cards()[f"sg13g2_lv_{kind}_psp"]
    names = {**corner(), "pre_layout": 1.0, "rfmode": 0.0, "w": w, "l": l, "ng": float(ng), "swsoa": 0.0}
    out: dict[str, float] = {}
    for k, v in card.items():
        if k == "__module__":
            continue
        out[k] = _eval(v.lower(), names)
    return out


@dataclass(frozen=True)
class MosMismatch:
    """Per-device sigmas of the PDK's mismatch model for one size (``m = 1``, one finger)."""

    delvto: float  # [V]
    factuo: float  # relative
    dw: float  # [m]
    dl: float  # [m]


def mos_mismatch(kind: str, w: float, l: float) -> MosMismatch:
    """Sigmas of one device's ``delvto``, ``factuo``, ``w`` and ``l`` (PDK formulas)."""
    mm = mismatch()
    area_um2 = w * l * 1e12
    return MosMismatch(
        delvto=mm[f"sg13g2_lv_{kind}_delvto_mm"] / math.sqrt(area_um2),
        factuo=mm[f"sg13g2_lv_{kind}_factuo_mm"] / math.sqrt(area_um2),
        dw=mm[f"sg13g2_lv_{kind}_dw_mm"],
        dl=mm[f"sg13g2_lv_{kind}_dl_mm"],
    )


def a_vt(kind: str = "nmos") -> float:
    """The PDK's Pelgrom threshold coefficient per device [V*m]."""
    return mismatch()[f"sg13g2_lv_{kind}_delvto_mm"] * UM


def a_beta(kind: str = "nmos") -> float:
    """The PDK's Pelgrom mobility (current-factor) coefficient per device [fraction*m]."""
    return mismatch()[f"sg13g2_lv_{kind}_factuo_mm"] * UM


def geometry(w: float) -> dict[str, float]:
    """Source/drain areas and perimeters of a one-finger device, as the PDK's subcircuit [m, m^2]."""
    we = max(w, WMIN)
    return {"as": we * Z1, "ad": we * Z1, "ps": 2 * (we + Z1), "pd": 2 * (we + Z1)}


@cache
def _mim() -> tuple[float, float, float]:
    """MIM data: area density [F/um^2], perimeter density [F/um], mismatch ``agauss`` sigma."""
    text = (models_dir() / "cornerCAP.lib").read_text()
    sec = re.search(r"\.LIB\s+cap_typ_mismatch(.*?)\.ENDL", text, re.S | re.I)
    carea = re.search(r"cap_carea\s*=\s*([\w.+-]+)", sec.group(1) if sec else "", re.I)
    mod = (models_dir() / "capacitors_mod_mismatch.lib").read_text()
    cjsw = re.search(r"model\s+cmim_core\s+C\s*\(.*?CJSW\s*=\s*([\w.+-]+)", mod, re.I | re.S)
    mm = re.search(r"cap_carea_mm\s*=\s*'agauss\(\s*1\s*,\s*([\w.+-]+)", mod, re.I)
    if not (carea and cjsw and mm):
        raise PdkMissing("MIM capacitor data not found in cornerCAP.lib / capacitors_mod_mismatch.lib")
    return float(carea.group(1)), float(cjsw.group(1)), float(mm.group(1))


def mim_density() -> float:
    """MIM capacitance per area of the ``cap_typ_mismatch`` corner [F/m^2]."""
    return _mim()[0] * 1e12


def mim_a_c() -> float:
    """The PDK's MIM matching coefficient: ``sigma(C)/C = A_C / sqrt(area)`` [fraction*m]."""
    return _mim()[2] * UM


def mim_capacitance(l: float, w: float, z: np.ndarray) -> np.ndarray:
    """Capacitance of a ``cap_cmim`` of ``l`` x ``w`` [m] for standard normal draws ``z`` [F].

    As the PDK's subcircuit: ``(C_area A + C_perim P) (1 + s (z) / sqrt(A / um^2))``.
    """
    carea, cjsw, s = _mim()
    a_um2, p_um = l * w * 1e12, 2 * (l + w) * 1e6
    return (carea * a_um2 + cjsw * p_um) * (1.0 + s * np.asarray(z) / math.sqrt(a_um2))
