"""Transistor-level cells of the blocks in IHP SG13G2, their DC sweeps and the block-model fits.

Every cell is written once per Monte Carlo sample (plus one copy without mismatch, the nominal
sample) into one VACASK netlist and swept together. Inputs are differential voltages applied as
``V_cm + v`` against ``V_cm``; output currents are read through 0 V sources. Each sample is
checked for a physical operating point: every MOSFET in saturation (``|vds| > |vdss|``, PSP's
own saturation voltage) at every point that enters the fit, and the fit converged. A sample that
fails is flagged (``physical = 0``) and left out of the statistics, never silently used.

Cells (all lv devices, 1.2 V supply, tail currents from an NMOS mirror fed by an ideal reference):

- ``pair``: NMOS differential pair; ``offset`` [V] is the input voltage that balances the drain
  currents, with the sign of the block model (the pair behaves as if ``v + offset`` were applied).
- ``multiplier``: Gilbert cell (lower pair on ``a``, cross-coupled upper quad on ``b``) biased in
  weak inversion; fit ``I = K_I tanh(K_m (a + Voff_a)(b + Voff_b) / K_I) + I_off``.
- ``neuron``: differential pair whose input voltage is ``R_in I`` (ideal transresistance) and whose
  output is ``R_L`` times one drain current (ideal load, ``R_L = V_amp / I_t`` with the nominal tail
  current); fit
  ``y = V_amp / (1 + exp(-(I - I_off) / I_ref))``.
- ``derivative``: the same pair, output ``I_1 I_2 / I_t^2`` (the product stage ideal, ``I_t`` the
  nominal tail current);
  fit ``d = A_d s (1 - s)``, ``s = sigmoid((I - I_off_d) / I_ref_d)``.
- ``pump``: five-transistor OTA (NMOS pair, PMOS mirror) driving a held output node; fit
  ``I = -I_max tanh(K_g (g + V_off) / I_max) + I_off``.
- ``capacitor``: MIM capacitor (``cap_cmim``) with the PDK's area mismatch, measured by an AC
  analysis at 1 MHz: ``C = |I| / (2 pi f V)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from mcaann.pdk import sg13g2
from mcaann.pdk.netlist import Draws, Mos, Netlist
from mcaann.pdk.tools import SimulationError, compiled_osdi, run_vacask

VDD = 1.2  # lv core supply [V]
BLOCKS = ("pair", "multiplier", "neuron", "derivative", "pump", "capacitor")


@dataclass(frozen=True)
class Design:
    """Sizing and bias of a cell (SI): device size, tail current, input levels, ideal resistors."""

    w: float = 2e-6  # device width [m]
    l: float = 2e-6  # device length [m]
    i_tail: float | None = None  # tail reference current [A]; None: the block's default
    v_cm: float | None = None  # input common mode [V] (the lower pair's, for the Gilbert cell); None: default
    v_cm_upper: float = 1.0  # Gilbert cell upper-quad common mode [V]
    v_out: float = 0.6  # held output node of the pump [V]
    span: float | None = None  # half-range of each swept input voltage [V]; None: the block's default
    points: int | None = None  # sweep points per input; None: the block's default
    r_in: float = 140e3  # neuron/derivative input transresistance [ohm]
    v_amp: float = 1.0  # neuron swing: output load R_L = v_amp / (nominal tail current) [V]
    c: float = 0.1e-12  # weight capacitance [F]

    def bias(self, block: str) -> tuple[float, float]:
        """Tail reference current [A] and input common mode [V] of the block's cell.

        Defaults: the multiplier in weak inversion at 5 nA (``K_m`` near the study's 1 uA/V^2), the
        pump at the study's ``I_max`` of 100 nA, the pair, neuron and derivative at 1 uA.
        """
        i_t = {"multiplier": 5e-9, "pump": 100e-9}.get(block, 1e-6)
        v_cm = {"multiplier": 0.6, "pump": 0.55}.get(block, 0.7)
        return (self.i_tail or i_t, self.v_cm or v_cm)

    def sweep(self, block: str) -> tuple[float, int]:
        """Half-range [V] and number of points of the block's input sweep."""
        span = {"pair": 6 * pelgrom_pair_offset(self.w, self.l), "multiplier": 0.06}.get(block, 0.15)
        points = 17 if block == "multiplier" else 31
        return (self.span or span, self.points or points)


@dataclass
class CellResult:
    """Per-sample fitted block parameters and checks of one characterisation run."""

    block: str
    params: dict[str, np.ndarray]  # name -> (samples,)
    nominal: dict[str, float]
    units: dict[str, str]
    residual: np.ndarray  # (samples,) rms fit residual relative to the output's full scale
    nominal_residual: float
    physical: np.ndarray  # (samples,) bool
    reason: list[str]  # per sample, empty when physical
    extra: dict[str, float] = field(default_factory=dict)  # hand formulas, Pelgrom references
    seconds: float = 0.0  # simulator wall time


def _osdi() -> str:
    return str(compiled_osdi(sg13g2.psp103_source()))


def _sweep(var: str, inst: str, lo: float, hi: float, n: int) -> str:
    step = (hi - lo) / (n - 1)
    return f'sweep {var} instance="{inst}" parameter="dc" from={lo!r} to={hi + step / 2!r} step={step!r}'


def _tail(nl: Netlist, d: Design, sfx: str, node: str, z: np.ndarray | None, j0: int, i_t: float) -> None:
    """An NMOS mirror sinking about ``i_t`` from ``node``; its reference current is ideal."""
    nl.add(f"iref{sfx} (vdd r{sfx}) isource dc={i_t!r}")
    nl.mos(Mos("mr", "nmos", "r", "r", "!0", "!0", d.w, d.l), sfx, None if z is None else z[j0])
    nl.mos(Mos("mt", "nmos", "t", "r", "!0", "!0", d.w, d.l), sfx, None if z is None else z[j0 + 1])
    nl.add(f"vt{sfx} ({node}{sfx} t{sfx}) vsource dc=0")


def _pair(nl: Netlist, d: Design, sfx: str, z: np.ndarray | None, i_t: float) -> list[str]:
    """Differential pair with drains held at VDD through 0 V sources ``vd1``, ``vd2``."""
    nl.mos(Mos("m1", "nmos", "d1", "!inp", "s", "!0", d.w, d.l), sfx, None if z is None else z[0])
    nl.mos(Mos("m2", "nmos", "d2", "!inn", "s", "!0", d.w, d.l), sfx, None if z is None else z[1])
    nl.add(f"vd1{sfx} (vdd d1{sfx}) vsource dc=0")
    nl.add(f"vd2{sfx} (vdd d2{sfx}) vsource dc=0")
    _tail(nl, d, sfx, "s", z, 2, i_t)
    return ["m1", "m2", "mt"]


def _gilbert(nl: Netlist, d: Design, sfx: str, z: np.ndarray | None, i_t: float,
             a: tuple[str, str] = ("ap", "an"), b: tuple[str, str] = ("bp", "bn")) -> list[str]:
    """Gilbert cell: lower pair on ``a`` (global nodes +, -), upper quad on ``b``; outputs through ``vo1``,
    ``vo2``."""
    ap, an, bp, bn = (f"!{n}" for n in (*a, *b))
    devs = [
        Mos("m1", "nmos", "da", ap, "s", "!0", d.w, d.l), Mos("m2", "nmos", "db", an, "s", "!0", d.w, d.l),
        Mos("m3", "nmos", "o1", bp, "da", "!0", d.w, d.l), Mos("m4", "nmos", "o2", bn, "da", "!0", d.w, d.l),
        Mos("m5", "nmos", "o2", bp, "db", "!0", d.w, d.l), Mos("m6", "nmos", "o1", bn, "db", "!0", d.w, d.l),
    ]
    for j, dev in enumerate(devs):
        nl.mos(dev, sfx, None if z is None else z[j])
    nl.add(f"vo1{sfx} (vdd o1{sfx}) vsource dc=0")
    nl.add(f"vo2{sfx} (vdd o2{sfx}) vsource dc=0")
    _tail(nl, d, sfx, "s", z, 6, i_t)
    return [dv.name for dv in devs] + ["mt"]


def _ota(nl: Netlist, d: Design, sfx: str, z: np.ndarray | None, i_t: float,
         inputs: tuple[str, str] = ("inp", "inn"), out: str = "vw") -> list[str]:
    """Five-transistor OTA: NMOS pair on global ``inputs`` (+, -), PMOS mirror, output into the global node
    ``out`` (held at ``v_out`` in the characterisation) through ``vo``."""
    inp, inn = (f"!{n}" for n in inputs)
    devs = [
        Mos("m1", "nmos", "x", inp, "s", "!0", d.w, d.l), Mos("m2", "nmos", "o", inn, "s", "!0", d.w, d.l),
        Mos("mp1", "pmos", "x", "x", "!vdd", "!vdd", d.w, d.l), Mos("mp2", "pmos", "o", "x", "!vdd", "!vdd", d.w, d.l),
    ]
    for j, dev in enumerate(devs):
        nl.mos(dev, sfx, None if z is None else z[j])
    nl.add(f"vo{sfx} (o{sfx} {out}) vsource dc=0")
    _tail(nl, d, sfx, "s", z, 4, i_t)
    return [dv.name for dv in devs] + ["mt"]


_CELLS: dict[str, tuple[Callable, int]] = {"pair": (_pair, 4), "multiplier": (_gilbert, 8), "neuron": (_pair, 4),
                                           "derivative": (_pair, 4), "pump": (_ota, 6)}


#: Monte Carlo copies per VACASK run: bounds the raw file's size; a failing run is bisected.
BATCH = 250
NO_OP = "no DC operating point (VACASK did not converge)"


def _netlist(block: str, d: Design, draws: Draws, copies: list[int]) -> str:
    """Netlist of the given copies (0 the nominal one, ``k`` the Monte Carlo sample ``k - 1``)."""
    build, _ = _CELLS[block]
    nl = Netlist(_osdi(), title=f"mcaann {block} characterisation")
    nl.add(f"vdd (vdd 0) vsource dc={VDD!r}")
    i_t, v_cm = d.bias(block)
    for k in copies:
        names = build(nl, d, f"_{k}", None if k == 0 else draws.z[k - 1], i_t)
        for m in names:
            nl.save_op(f"{m}_{k}", "vds")
            nl.save_op(f"{m}_{k}", "vdss")
            if k == 0:
                nl.save_op(f"{m}_{k}", "gm")
    span, points = d.sweep(block)
    if block == "multiplier":
        nl.add(f"van (an 0) vsource dc={v_cm!r}")
        nl.add("vap (ap an) vsource dc=0")
        nl.add(f"vbn (bn 0) vsource dc={d.v_cm_upper!r}")
        nl.add("vbp (bp bn) vsource dc=0")
        control = [_sweep("va", "vap", -span, span, points),
                   "  " + _sweep("vb", "vbp", -span, span, points), "    analysis dc1 op"]
    else:
        nl.add(f"vinn (inn 0) vsource dc={v_cm!r}")
        nl.add("vinp (inp inn) vsource dc=0")
        if block == "pump":
            nl.add(f"vwo (vw 0) vsource dc={d.v_out!r}")
        control = [_sweep("vin", "vinp", -span, span, points), "  analysis dc1 op"]
    return nl.text(control)


def _simulate(block: str, d: Design, samples: int, seed: int) -> tuple[dict, list[str], set[int]]:
    """Sweep the nominal copy (index 0) and ``samples`` Monte Carlo copies, ``BATCH`` per VACASK run.

    A run that fails is split in halves until the copies without a DC solution are isolated; those
    are returned in the third element (and have no vectors). The nominal copy must solve.
    """
    build, n_dev = _CELLS[block]
    names = build(Netlist(""), d, "", None, 1.0)
    draws = Draws.make(seed, samples, n_dev)
    raw: dict[str, np.ndarray] = {}
    failed: set[int] = set()

    def run(copies: list[int]) -> None:
        try:
            raw.update(run_vacask(_netlist(block, d, draws, copies), ["dc1"])["dc1"])
        except SimulationError as exc:
            if copies == [0]:
                raise SimulationError(f"{block}: the nominal cell has no DC operating point ({exc})") from None
            if len(copies) == 1:
                failed.add(copies[0])
                return
            run(copies[:len(copies) // 2])
            run(copies[len(copies) // 2:])

    for start in range(0, samples + 1, BATCH):
        run(list(range(start, min(start + BATCH, samples + 1))))
    return raw, names, failed


def _saturated(raw: dict, names: list[str], k: int, mask: np.ndarray) -> str:
    for m in names:
        vds, vdss = np.abs(raw[f"{m}_{k}.vds"][mask]), np.abs(raw[f"{m}_{k}.vdss"][mask])
        if np.any(vds <= vdss):
            i = int(np.argmax(vds <= vdss))
            return f"{m} not in saturation (|vds| {vds[i]:.3f} V <= vdss {vdss[i]:.3f} V)"
    return ""


def pelgrom_pair_offset(w: float, l: float) -> float:
    """Pelgrom input offset sigma of an NMOS pair with the PDK's own ``A_VT`` [V]."""
    return math.sqrt(2.0) * sg13g2.a_vt("nmos") / math.sqrt(w * l)


def characterise_pair(d: Design, samples: int, seed: int) -> CellResult:
    """Input offset of an NMOS differential pair per sample, found by bracketing the balance point."""
    t0 = time.perf_counter()
    raw, names, failed = _simulate("pair", d, samples, seed)
    secs = time.perf_counter() - t0
    v = raw["vin"]
    n = samples + 1
    offset = np.full(n, np.nan)
    reasons: list[str] = []
    for k in range(n):
        if k in failed:
            reasons.append(NO_OP)
            continue
        di = raw[f"vd1_{k}:flow(br)"] - raw[f"vd2_{k}:flow(br)"]
        if not np.all(np.diff(di) > 0):
            reasons.append("drain-current difference not monotonic in the input")
            continue
        if not (di[0] < 0 < di[-1]):
            reasons.append(f"balance point outside the swept +-{d.sweep('pair')[0]:g} V")
            continue
        i = int(np.searchsorted(di, 0.0))
        lo, hi = max(i - 2, 0), min(i + 2, len(v))
        coef = np.polyfit(di[lo:hi], v[lo:hi], min(2, hi - lo - 1))
        v0 = float(np.polyval(coef, 0.0))
        near = np.zeros(len(v), bool)
        near[max(i - 1, 0):i + 1] = True
        why = _saturated(raw, names, k, near)
        if why:
            reasons.append(why)
            continue
        offset[k] = -v0
        reasons.append("")
    ok = np.array([r == "" for r in reasons])
    mm = sg13g2.mos_mismatch("nmos", d.w, d.l)
    c = int(np.argmin(np.abs(v)))
    gm_over_i = _gm(raw, "m1", c) / (raw["vt_0:flow(br)"][c] / 2)
    beta = math.hypot(mm.factuo, math.hypot(mm.dw / d.w, mm.dl / d.l))
    return CellResult(
        "pair", {"offset": offset[1:]}, {"offset": float(offset[0])}, {"offset": "V"},
        np.zeros(samples), 0.0, ok[1:], reasons[1:],
        extra={"pelgrom_offset_sigma": pelgrom_pair_offset(d.w, d.l),
               "pelgrom_offset_sigma_with_beta": math.sqrt(2.0) * math.hypot(mm.delvto, beta / gm_over_i),
               "A_VT": sg13g2.a_vt("nmos"), "gm_over_I": gm_over_i},
        seconds=secs,
    )


# ---------------------------------------------------------------------------------------------
# block-model fits

def _fit_all(model: Callable, x: tuple[np.ndarray, ...], ys: np.ndarray, p0: np.ndarray, scale: np.ndarray,
             bounds: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares fits of ``model(p, *x)`` to every row of ``ys``: params, rms residual, success."""
    n = ys.shape[0]
    out = np.full((n, len(p0)), np.nan)
    res = np.full(n, np.nan)
    ok = np.zeros(n, bool)
    full = np.max(np.abs(ys[0])) or 1.0
    for k in range(n):
        if not np.all(np.isfinite(ys[k])):
            continue
        fit = least_squares(lambda p, y=ys[k]: (model(p * scale, *x) - y) / full, p0 / scale,
                            bounds=(bounds[0] / scale, bounds[1] / scale), x_scale="jac")
        out[k] = fit.x * scale
        res[k] = math.sqrt(float(np.mean(fit.fun**2)))
        ok[k] = fit.success
    return out, res, ok


def _mult_model(p, a, b):
    km, va, vb, ki, i0 = p
    return ki * np.tanh(km * (a + va) * (b + vb) / ki) + i0


def _sigmoid_model(p, i):
    vamp, iref, ioff = p
    return vamp / (1.0 + np.exp(-(i - ioff) / iref))


def _deriv_model(p, i):
    ad, iref, ioff = p
    s = 1.0 / (1.0 + np.exp(-(i - ioff) / iref))
    return ad * s * (1.0 - s)


def _pump_model(p, g):
    kg, voff, imax, i0 = p
    return -imax * np.tanh(kg * (g + voff) / imax) + i0


def _fit_multiplier(a: np.ndarray, b: np.ndarray, ys: np.ndarray, i_t: float,
                    span: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-stage fit: gain and offsets from the small-signal centre, then ``K_I`` on the whole grid.

    ``K_m``, ``Voff_a``, ``Voff_b`` and the output offset are the bilinear fit where both inputs are
    within a quarter of the swept range (where ``M ~ K_m (a + Voff_a)(b + Voff_b)``); ``K_I`` is then
    fitted with them held over the full grid. The residual is that of the full model on the full grid.
    """
    centre = (np.abs(a) <= span / 4 + 1e-12) & (np.abs(b) <= span / 4 + 1e-12)
    n = ys.shape[0]
    out = np.full((n, 5), np.nan)
    res = np.full(n, np.nan)
    ok = np.zeros(n, bool)
    full = np.max(np.abs(ys[0])) or 1.0
    # bilinear: y = K ab + K vb a + K va b + (K va vb + i0): linear least squares in (ab, a, b, 1)
    basis = np.column_stack([a * b, a, b, np.ones_like(a)])[centre]
    for k in range(n):
        if not np.all(np.isfinite(ys[k])):
            continue
        c, *_ = np.linalg.lstsq(basis, ys[k][centre], rcond=None)
        km = c[0]
        if km <= 0:
            continue
        vb, va = c[1] / km, c[2] / km
        i0 = c[3] - km * va * vb
        fixed = (km, va, vb, i0)
        fit = least_squares(lambda q, y=ys[k], f=fixed: (_mult_model((*f[:3], q[0] * i_t, f[3]), a, b) - y) / full,
                            [1.0], bounds=([1e-3], [1e3]))
        out[k] = (km, va, vb, fit.x[0] * i_t, i0)
        res[k] = math.sqrt(float(np.mean(fit.fun**2)))
        ok[k] = fit.success
    return out, res, ok


def characterise_block(block: str, d: Design, samples: int, seed: int) -> CellResult:
    """DC transfer of every sample of a block's cell and the block model fitted to each."""
    if block == "pair":
        return characterise_pair(d, samples, seed)
    if block == "capacitor":
        return characterise_capacitor(d, samples, seed)
    if block not in _CELLS:
        raise ValueError(f"block: unknown {block!r} (known: {', '.join(BLOCKS)})")
    t0 = time.perf_counter()
    raw, names, failed = _simulate(block, d, samples, seed)
    npts = len(raw["va" if block == "multiplier" else "vin"])

    def vec(key: str, k: int) -> np.ndarray:
        return raw[key.format(k=k)] if k not in failed else np.full(npts, np.nan)

    secs = time.perf_counter() - t0
    span, _ = d.sweep(block)
    i_t = _tail_current(raw, block)
    n = samples + 1
    extra: dict[str, float] = {}
    if block == "multiplier":
        a, b = raw["va"], raw["vb"]
        x: tuple[np.ndarray, ...] = (a, b)
        ys = np.array([vec("vo1_{k}:flow(br)", k) - vec("vo2_{k}:flow(br)", k) for k in range(n)])
        c = int(np.argmin(np.abs(a) + np.abs(b)))
        gm_l, gm_u = _gm(raw, "m1", c), _gm(raw, "m3", c)
        # weak inversion: dI_low = gm_l a; each upper pair gives (gm/I)_u * I_branch / 2 * b, with
        # (gm/I)_u = gm_u / (I_t / 4)  =>  K_m = gm_l (gm/I)_u / 2 = 2 gm_l gm_u / I_t
        km_hand = 2.0 * gm_l * gm_u / i_t
        extra = {"K_m_hand": km_hand, "gm_lower": gm_l, "gm_upper": gm_u, "I_tail": i_t}
        params, resid, conv = _fit_multiplier(a, b, ys, i_t, span)
        pnames: tuple[tuple[str, str], ...] = (("K_m", "A V-2"), ("Voff_a", "V"), ("Voff_b", "V"), ("K_I", "A"),
                                               ("I_off_out", "A"))
    else:
        if block in ("neuron", "derivative"):
            i_in = raw["vin"] / d.r_in
            x = (i_in,)
            i1 = np.array([vec("vd1_{k}:flow(br)", k) for k in range(n)])
            i2 = np.array([vec("vd2_{k}:flow(br)", k) for k in range(n)])
            gm = _gm(raw, "m1", len(i_in) // 2)
            # one drain current moves by gm v / 2; the sigmoid's centre slope is V_amp / (4 I_ref)
            iref0 = i_t / (2.0 * gm * d.r_in)
            if block == "neuron":
                ys = d.v_amp * i1 / i_t
                p0 = np.array([d.v_amp, iref0, 0.0])
                model, pnames = _sigmoid_model, (("V_amp", "V"), ("I_ref", "A"), ("I_off", "A"))
            else:
                ys = i1 * i2 / i_t**2
                p0 = np.array([1.0, iref0, 0.0])
                model, pnames = _deriv_model, (("A_d", "1"), ("I_ref_d", "A"), ("I_off_d", "A"))
            scale = np.abs(p0) + np.array([0.0, 0.0, iref0])
            lo = np.array([0.0, 1e-3 * iref0, -np.max(i_in)])
            hi = np.array([np.inf, 1e3 * iref0, np.max(i_in)])
            extra = {"I_ref_hand": iref0, "I_tail": i_t}
        else:  # pump
            g = -raw["vin"]  # the input on the inverting side: I = -I_max tanh(K_g g / I_max)
            x = (g,)
            ys = np.array([vec("vo_{k}:flow(br)", k) for k in range(n)])
            gm = _gm(raw, "m1", len(g) // 2)
            p0 = np.array([gm, 0.0, i_t, 0.0])
            scale = np.array([gm, 1e-3, i_t, 1e-3 * i_t])
            lo = np.array([0.0, -span, 1e-3 * i_t, -i_t])
            hi = np.array([np.inf, span, 100 * i_t, i_t])
            model, pnames = _pump_model, (("K_g", "S"), ("V_off", "V"), ("I_max", "A"), ("I_off_out", "A"))
            extra = {"K_g_hand": gm, "I_max_hand": i_t}
        params, resid, conv = _fit_all(model, x, ys, p0, scale, (lo, hi))
    reasons = []
    for k in range(n):
        why = NO_OP if k in failed else _saturated(raw, names, k, np.ones(len(x[0]), bool))
        if not why and not conv[k]:
            why = "block-model fit did not converge"
        reasons.append(why)
    ok = np.array([r == "" for r in reasons])
    for k in np.flatnonzero(~ok):
        params[k] = np.nan
    return CellResult(
        block, {nm: params[1:, j] for j, (nm, _) in enumerate(pnames)},
        {nm: float(params[0, j]) for j, (nm, _) in enumerate(pnames)}, dict(pnames),
        resid[1:], float(resid[0]), ok[1:], reasons[1:], extra=extra, seconds=secs,
    )


def _tail_current(raw: dict, block: str) -> float:
    """Nominal copy's tail current at the centre of the sweep [A]."""
    key = "va" if block == "multiplier" else "vin"
    c = int(np.argmin(np.abs(raw[key]) + (np.abs(raw["vb"]) if block == "multiplier" else 0.0)))
    return float(raw["vt_0:flow(br)"][c])


def _gm(raw: dict, m: str, i: int) -> float:
    """Small-signal transconductance of device ``m`` of the nominal copy at sweep point ``i`` [S]."""
    return float(raw[f"{m}_0.gm"][i]) if f"{m}_0.gm" in raw else float("nan")


def characterise_capacitor(d: Design, samples: int, seed: int) -> CellResult:
    """MIM capacitors of value ``d.c`` with the PDK's mismatch, measured by AC analysis at 1 MHz."""
    side = math.sqrt(d.c / sg13g2.mim_density())  # square plate [m]
    rng = np.random.default_rng(seed)
    z = np.concatenate([[0.0], rng.standard_normal(samples)])
    values = sg13g2.mim_capacitance(side, side, z)
    lines = ["mcaann capacitor characterisation", 'load "capacitor.osdi"', "model vsource vsource",
             "model cap capacitor", "vac (a 0) vsource dc=0 mag=1"]
    for k, c in enumerate(values):
        lines += [f"vs_{k} (a p_{k}) vsource dc=0", f"c_{k} (p_{k} 0) cap c={c:.12g}"]
    lines += ["control", "  analysis ac1 ac from=1e6 to=1e6 mode=\"lin\" points=1", "endc"]
    t0 = time.perf_counter()
    raw = run_vacask("\n".join(lines) + "\n", ["ac1"])["ac1"]
    secs = time.perf_counter() - t0
    f = float(np.real(raw["frequency"][0]))
    meas = np.array([abs(raw[f"vs_{k}:flow(br)"][0]) / (2 * math.pi * f) for k in range(samples + 1)])
    ok = np.isfinite(meas) & (meas > 0)
    return CellResult(
        "capacitor", {"C": meas[1:]}, {"C": float(meas[0])}, {"C": "F"},
        np.abs(meas[1:] / values[1:] - 1.0), float(abs(meas[0] / values[0] - 1.0)), ok[1:],
        ["" if o else "no AC solution" for o in ok[1:]],
        extra={"side": side, "A_C": sg13g2.mim_a_c(), "C_density": sg13g2.mim_density()}, seconds=secs,
    )
