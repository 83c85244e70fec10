"""One synapse learning in a VACASK transient against the block model with that sample's fitted parameters.

The transistor-level synapse of one Monte Carlo sample: a forward Gilbert multiplier (weight ``w`` on
its lower pair, input ``x`` on its upper quad), an update Gilbert multiplier (``delta`` on the lower
pair, the same ``x`` on the upper quad), the five-transistor OTA charge pump and the MIM weight
capacitor (PDK mismatch), all lv SG13G2 devices with the mismatch drawn as in the characterisation.
The weight is the capacitor voltage less ``V_w0`` (the lower pair's common mode, also the voltage at
which the pump was characterised). The rest is ideal, as the blocks the engine models separately:
the output is ``y = R_y M_fwd`` and ``delta = y - t`` (current-controlled voltage sources, the
linear output neuron of one row, derivative 1), the pump input is ``g = R_e M_upd``. The synapse
learns the row ``y(x) = t`` by gradient descent: ``w`` settles where ``M_fwd = t / R_y``.

The comparison integrates ``dw/dt`` with the engine's equations (``blocks.multiplier``,
``blocks.output_error``, ``blocks.local_gradient``, ``blocks.weight_rate``, derived parameters from
``blocks.derive``) and the parameters ``characterise_block`` fits to the *same* draws. The block
model of the engine has no output offset of a multiplier and no input or output offset of the pump;
the fits have them, and this comparison adds them explicitly (``I_off_out`` to each multiplier's
current, ``V_off`` as ``V_off / R_e`` to the update current, the pump's ``I_off_out`` to the
capacitor current), since without them the weight drifts by the pump offset alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from mcaann.circuit import blocks
from mcaann.pdk import sg13g2
from mcaann.pdk.cells import VDD, Design, _gilbert, _osdi, _ota, characterise_block
from mcaann.pdk.netlist import Draws, Netlist
from mcaann.pdk.tools import run_vacask

#: Seed offsets of the four blocks' draws (forward and update multipliers, pump, capacitor): the synapse of
#: ``seed`` draws from seeds ``4 seed + offset``, so that synapses of different seeds share no draws.
_SEEDS = {"fwd": 0, "upd": 1, "pump": 2, "capacitor": 3}


def _seed(r: SynapseRun, block: str) -> int:
    """Seed of one block's draws in the synapse of ``r.seed``."""
    return 4 * r.seed + _SEEDS[block]


@dataclass(frozen=True)
class SynapseRun:
    """Settings of the one-synapse transient (SI units)."""

    x: float = 0.02  # input voltage [V]
    target: float = 0.01  # row target t [V]
    w0: float = -0.03  # initial weight [V]
    r_y: float = 25e6  # output transresistance R_y [ohm]
    r_e: float = 20e6  # update-path transresistance R_e [ohm]
    c: float = 1e-12  # weight capacitance [F]
    stop: float = 6e-6  # transient length [s]
    points: int = 81  # output times compared
    seed: int = 1


@dataclass
class SynapseResult:
    """Weight trajectories of the transient and of the block model, and the sample's fitted parameters."""

    t: np.ndarray  # times [s]
    w_spice: np.ndarray  # transistor-level weight [V]
    w_block: np.ndarray  # block-model weight [V]
    params: dict[str, float]  # fitted parameters of the sample (SI)
    physical: bool  # every fitted block of the sample passed its operating-point checks

    @property
    def max_error(self) -> float:
        """Largest |w_spice - w_block| over the trajectory [V]."""
        return float(np.max(np.abs(self.w_spice - self.w_block)))

    @property
    def swing(self) -> float:
        """Weight swing of the transient, |w(end) - w(0)| [V]."""
        return float(abs(self.w_spice[-1] - self.w_spice[0]))


def _draws(seed: int, devices: int) -> np.ndarray:
    """The draws ``characterise_block`` uses for its one Monte Carlo sample with ``seed``."""
    return Draws.make(seed, 1, devices).z[0]


def fitted_parameters(r: SynapseRun) -> tuple[dict[str, float], bool]:
    """Block parameters fitted to this synapse's sample (``characterise_block``, one sample per block).

    Names: ``km_fwd``, ``voffa_fwd``, ``voffb_fwd``, ``ki_fwd``, ``ioff_fwd`` (likewise ``upd``), ``kg``,
    ``voff_pump``, ``imax``, ``ioff_pump``, ``c``; ``err_fwd``, ``err_upd``, ``err_pump`` the rms fit
    residuals in amperes (relative residual times the nominal cell's full-scale output at the sweep's
    corner); and whether every block passed its checks.
    """
    d = Design(c=r.c)
    p: dict[str, float] = {}
    ok = True
    for tag in ("fwd", "upd"):
        m = characterise_block("multiplier", d, 1, _seed(r, tag))
        ok &= bool(m.physical[0])
        for src, dst in (("K_m", "km"), ("Voff_a", "voffa"), ("Voff_b", "voffb"), ("K_I", "ki"),
                         ("I_off_out", "ioff")):
            p[f"{dst}_{tag}"] = float(m.params[src][0])
        n, span = m.nominal, d.sweep("multiplier")[0]
        p[f"err_{tag}"] = float(m.residual[0]) * n["K_I"] * math.tanh(n["K_m"] * span**2 / n["K_I"])
    pump = characterise_block("pump", d, 1, _seed(r, "pump"))
    ok &= bool(pump.physical[0])
    for src, dst in (("K_g", "kg"), ("V_off", "voff_pump"), ("I_max", "imax"), ("I_off_out", "ioff_pump")):
        p[dst] = float(pump.params[src][0])
    n, span = pump.nominal, d.sweep("pump")[0]
    p["err_pump"] = float(pump.residual[0]) * n["I_max"] * math.tanh(n["K_g"] * span / n["I_max"])
    cap = characterise_block("capacitor", d, 1, _seed(r, "capacitor"))
    ok &= bool(cap.physical[0])
    p["c"] = float(cap.params["C"][0])
    return p, ok


def synapse_netlist(r: SynapseRun) -> str:
    """VACASK netlist of the transistor-level synapse of sample ``r.seed``, with a transient ``tr``."""
    d = Design(c=r.c)
    i_m, v_w0 = d.bias("multiplier")
    i_p, v_cm_p = d.bias("pump")
    nl = Netlist(_osdi(), title="mcaann one synapse in transient")
    nl.add(f"vdd (vdd 0) vsource dc={VDD!r}")
    nl.add(f"vw0 (w0 0) vsource dc={v_w0!r}")
    nl.add(f"vxn (xn 0) vsource dc={d.v_cm_upper!r}")
    nl.add(f"vxp (xp xn) vsource dc={r.x!r}")
    _gilbert(nl, d, "_f", _draws(_seed(r, "fwd"), 8), i_m, a=("w", "w0"), b=("xp", "xn"))
    _gilbert(nl, d, "_u", _draws(_seed(r, "upd"), 8), i_m, a=("dp", "w0"), b=("xp", "xn"))
    # delta = y - t with y = R_y (I_o1 - I_o2) of the forward multiplier, on top of V_w0
    nl.add("model ccvs ccvs")
    nl.add(f"vt (tn w0) vsource dc={-r.target!r}")
    nl.add(f"hy1 (y1 tn) ccvs ctlinst=\"vo1_f\" gain={r.r_y!r}")
    nl.add(f"hy2 (dp y1) ccvs ctlinst=\"vo2_f\" gain={-r.r_y!r}")
    # pump input: inp - inn = -g, g = R_e (I_o1 - I_o2) of the update multiplier (inn held, as characterised)
    nl.add(f"vpn (pn 0) vsource dc={v_cm_p!r}")
    nl.add(f"hg1 (g1 pn) ccvs ctlinst=\"vo1_u\" gain={-r.r_e!r}")
    nl.add(f"hg2 (pp g1) ccvs ctlinst=\"vo2_u\" gain={r.r_e!r}")
    _ota(nl, d, "_p", _draws(_seed(r, "pump"), 6), i_p, inputs=("pp", "pn"), out="w")
    side = math.sqrt(r.c / sg13g2.mim_density())
    z_c = np.random.default_rng(_seed(r, "capacitor")).standard_normal(1)
    nl.add('load "capacitor.osdi"')
    nl.add("model cap capacitor")
    nl.add(f"cw (w 0) cap c={float(sg13g2.mim_capacitance(side, side, z_c)[0])!r}")
    step = r.stop / (r.points - 1)
    ic = f'ic={{"w", {v_w0 + r.w0!r}}}'
    return nl.text([f"analysis tr tran step={step!r} stop={r.stop!r} maxstep={step / 4!r} {ic}"])


def block_trajectory(r: SynapseRun, p: dict[str, float], t: np.ndarray) -> np.ndarray:
    """Weight [V] at times ``t`` [s] from the engine's block equations with the fitted parameters ``p``.

    The pump's input offset, absent from the engine's blocks, is added here.
    """
    v = blocks.Variant(sat_mult=True, sat_pump=True, leak=False, mismatch=True)
    keys = ("km", "voffa", "voffb", "ki", "ioff")
    sp = {f"{k}_{tag}": p[f"{k}_{tag}"] for k in keys for tag in ("fwd", "upd")}
    sp.update(re_upd=r.r_e, kg=p["kg"], imax=p["imax"], ioff_pump=p["ioff_pump"], c=p["c"], g_leak=0.0)
    neuron = {"iref": 1.0, "ioff": 0.0, "v_amp": 1.0, "iref_d": 1.0, "ioff_d": 0.0, "a_d": 1.0, "voff_d": 0.0,
              "re_err": 1.0, "voff_e": 0.0, "a_delta": 1.0, "voffe_delta": 0.0, "voffd_delta": 0.0,
              "voff_delta": 0.0}
    sp.update({f"{k}_bwd": sp[f"{k}_fwd"] for k in keys})
    q = blocks.derive(v, {**sp, **neuron}, 0.0).__getitem__

    def rate(_t: float, y: np.ndarray) -> list[float]:
        w = y[0]
        m_fwd = blocks.multiplier(v, "fwd", w, r.x, q)
        delta = blocks.local_gradient(blocks.output_error(r.r_y * m_fwd, r.target, q), 1.0, q)
        m_upd = blocks.multiplier(v, "upd", delta, r.x, q)
        return [blocks.weight_rate(v, m_upd + p["voff_pump"] / r.r_e, w, 1.0, 0.0, q)]

    sol = solve_ivp(rate, (0.0, float(t[-1])), [r.w0], t_eval=t, method="LSODA", rtol=1e-9, atol=1e-12)
    return sol.y[0]


def end_tolerance(r: SynapseRun, p: dict[str, float]) -> float:
    """Bound on the learned weight's error [V] from the blocks' fit residuals ``err_*`` [A] of ``p``.

    Each residual is referred to the weight through the loop in the linear regime: the forward
    multiplier's through ``K_m,fwd x``; the update multiplier's through ``K_m,upd x`` (to ``delta``) and
    ``R_y K_m,fwd x`` (to ``w``); the pump's through ``K_g R_e`` (to ``M_upd``) and on as the update's.
    """
    to_w = r.r_y * p["km_fwd"] * r.x  # d delta / d w
    e_upd = p["err_upd"] + p["err_pump"] / (p["kg"] * r.r_e)  # as an update-multiplier current [A]
    return p["err_fwd"] / (p["km_fwd"] * r.x) + e_upd / (p["km_upd"] * r.x) / to_w


def run_synapse(r: SynapseRun | None = None) -> SynapseResult:
    """Transistor-level transient of one synapse and the block model of the same sample (``r.seed``)."""
    r = r or SynapseRun()
    p, ok = fitted_parameters(r)
    raw = run_vacask(synapse_netlist(r), ["tr"])["tr"]
    t_grid = np.linspace(0.0, r.stop, r.points)
    w_sp = np.interp(t_grid, raw["time"], raw["w"] - raw["w0"])
    return SynapseResult(t_grid, w_sp, block_trajectory(r, p, t_grid), p, ok)
