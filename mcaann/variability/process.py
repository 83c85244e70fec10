"""Process presets: Pelgrom coefficients, process spreads, capacitor data and leakage per technology.

Units: ``A_VT`` [V*m] per device (3.4 mV*um = 3.4e-9 V*m); ``A_beta`` [fraction*m] per device and
``A_C`` [fraction*m] per capacitor (1 %*um = 1e-8 m); ``C_density`` [F/m^2] (2 fF/um^2 = 2e-3 F/m^2);
``spread_gain``, ``spread_C`` relative sigmas per die (a process spread: not scaled by device area);
``G_leak`` [S] of one weight capacitor's switch at 300.15 K, from the off-state leakage
per width times a minimum switch width (0.42 um) over the supply. Every value cites its model file
and parameter (or says it has no public source) in the preset's ``sources``; the table is in
``docs/process.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mcaann.variability.characterised import base_preset

UM = 1e-6
MV_UM = 1e-3 * UM  # 1 mV*um in V*m
PCT_UM = 1e-2 * UM  # 1 %*um in fraction*m
FF_PER_UM2 = 1e-15 / UM**2  # 1 fF/um^2 in F/m^2


@dataclass(frozen=True)
class Preset:
    """One technology's mismatch, process-spread and leakage data (SI); ``sources`` cites each value."""

    name: str
    A_VT: float  # nmos, per device [V*m]; the blocks' input pairs are nmos
    A_VT_p: float  # pmos, per device [V*m] (kept for reference)
    A_beta: float  # per device [fraction*m]
    A_C: float  # per capacitor [fraction*m]
    C_density: float  # [F/m^2]
    I_off_per_um: float  # off-state drain current per um of width at V_dd [A/um]
    V_dd: float  # core supply [V]
    source: str
    #: activation energy of the leakage [eV]: typical of subthreshold and junction leakage (0.5-0.6 eV);
    #: none of these PDKs publishes one
    E_a: float = 0.55
    #: die-to-die (process) sigma of the relative current factor, per die, not scaled by device area
    spread_gain: float = 0.0
    #: die-to-die (process) sigma of the relative capacitance density, per die, not scaled by area
    spread_C: float = 0.0
    #: gate-oxide capacitance per area of the core transistors, ``eps_ox / t_ox`` [F/m^2] (finite settling,
    #: ``circuit.settling``; the inversion-layer and depletion corrections are left out)
    C_gate: float = 0.0
    #: field -> where its value comes from (document and table, or model file and parameter)
    sources: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def G_leak(self) -> float:
        """Leak conductance of a weight capacitor's minimum switch (W = 0.42 um) [S]."""
        return self.I_off_per_um * 0.42 / self.V_dd


#: the numeric fields of a preset that must cite a source
SOURCED_FIELDS = ("A_VT", "A_VT_p", "A_beta", "A_C", "C_density", "I_off_per_um", "V_dd", "E_a",
                  "spread_gain", "spread_C", "C_gate")

EPS_OX = 3.9 * 8.8541878128e-12  # SiO2 permittivity [F/m]

_SKY = "skywater-pdk-libs-sky130_fd_pr"
_GF = "globalfoundries-pdk-libs-gf180mcu_fd_pr, models/ngspice/sm141064.ngspice"
_IHP = "IHP-Open-PDK (ihp-gdsfactory 2.0.0), models/ngspice/models"
_TYPICAL_EA = "typical of subthreshold and junction leakage (0.5-0.6 eV); not published by the PDK"

PRESETS: dict[str, Preset] = {
    "sky130": Preset(
        "sky130", A_VT=7.76 * MV_UM, A_VT_p=5.86 * MV_UM, A_beta=0.344 * PCT_UM, A_C=2.8 * PCT_UM,
        C_density=2.0 * FF_PER_UM2, I_off_per_um=2.05e-12, V_dd=1.8, spread_gain=0.020, spread_C=0.038,
        C_gate=EPS_OX / 4.148e-9,
        source="SkyWater SKY130 model files (sky130_fd_pr): nfet_01v8/pfet_01v8 mismatch corners, "
               "cap_mim_m3_1, models/parameters and r+c corners; see docs/process.md",
        sources={
            "A_VT": f"{_SKY}, cells/nfet_01v8/sky130_fd_pr__nfet_01v8__mismatch.corner.spice: vth0_slope "
                    "3.356e-3 V*um and voff_slope 7e-3 V*um, each drawn per device over sqrt(l w mult) "
                    "(nfet_01v8 .pm3.spice vth0, voff); voff shifts the subthreshold current as a threshold "
                    "does, so the weak-inversion coefficient is sqrt(3.356^2 + 7^2) = 7.76 mV*um, per device",
            "A_VT_p": f"{_SKY}, cells/pfet_01v8/sky130_fd_pr__pfet_01v8__mismatch.corner.spice: vth0_slope "
                      "5.856e-3 V*um, voff_slope 0 (bins of slope2: 7e-3), per device",
            "A_beta": f"{_SKY}, nfet_01v8 mismatch corner: toxe_slope 3.443e-3 (relative toxe per device "
                      "over sqrt(l w mult)); the current factor follows 1/toxe: 0.344 %*um, per device",
            "A_C": f"{_SKY}, cells/cap_mim_m3/sky130_fd_pr__cap_mim_m3_1.model.spice: dev/gauss "
                   "0.01*2.8*C/sqrt(wc lc mf): 2.8 %*um, per capacitor",
            "C_density": f"{_SKY}, models/parameters/montecarlo.spice: camimc 2.0e-15 F/um^2 at mim = 0 "
                         "(plus cpmimc 0.19 fF/um of perimeter, not modelled)",
            "I_off_per_um": f"{_SKY}, nfet_01v8 tt corner (sky130_fd_pr__nfet_01v8__tt.corner.spice) in "
                            "ngspice: I_D = 2.05 pA at W = 1 um, L = 0.15 um, V_GS = 0, V_DS = 1.8 V, 27 C",
            "V_dd": "SKY130 core devices (_01v8): 1.8 V",
            "E_a": _TYPICAL_EA,
            "spread_gain": f"{_SKY}, models/parameters/montecarlo.spice: nfet_01v8 u0_diff_0 = "
                           "6.34e-4 * lvn_mobility (u0 0.0319): 2.0 % per unit of the process variable, "
                           "taken as one sigma; per die",
            "spread_C": f"{_SKY}, models/r+c/res_*__cap_high/low__lin.spice: camimc 2.231 and 1.778 fF/um^2 "
                        "(+11.6 / -11.1 % of 2.0), taken as 3 sigma: 3.8 %; per die",
            "C_gate": f"{_SKY}, cells/nfet_01v8/sky130_fd_pr__nfet_01v8__tt.pm3.spice: toxe = 4.148e-09 m, "
                      "epsrox = 3.9 (every bin): 8.3 fF/um^2",
        },
    ),
    "gf180": Preset(
        "gf180", A_VT=5.05 * MV_UM, A_VT_p=4.71 * MV_UM, A_beta=0.496 * PCT_UM, A_C=1.0 * PCT_UM,
        C_density=1.99 * FF_PER_UM2, I_off_per_um=4.0e-12, V_dd=3.3, spread_gain=0.0068, spread_C=0.0083,
        C_gate=EPS_OX / 8e-9,
        source="GF180MCU model file sm141064.ngspice (gf180mcu_fd_pr): nmos_3p3/pmos_3p3 mismatch, "
               "mim_2p0fF, statistical section; A_C is typical (no MIM mismatch model); see docs/process.md",
        sources={
            "A_VT": f"{_GF}: subckt nmos_3p3 par_vth = 7.148e-3 (a pair's V*um); mis_vth = agauss(0, "
                    "0.7071 par_vth / sqrt(Leff Weff)) per device: 5.05 mV*um, per device",
            "A_VT_p": f"{_GF}: subckt pmos_3p3 par_vth = 6.66e-3; 0.7071 x: 4.71 mV*um, per device",
            "A_beta": f"{_GF}: subckt nmos_3p3 par_k = 7.008e-3; mis_k = agauss(0, 0.7071 par_k / sqrt(Leff "
                      "Weff)) per device: 0.50 %*um (drawn, though the model applies only delvto)",
            "A_C": "no public source: the PDK has no MIM mismatch model (only a global mc_c_cox_2p0fF); "
                   "typical 1 %*um, per capacitor",
            "C_density": f"{_GF}: subckt mim_2p0fF c_cox = 1.99e-3 F/m^2 (plus c_capsw 0.238 fF/um, not "
                         "modelled)",
            "I_off_per_um": f"{_GF}, .lib typical in ngspice: nmos_3p3 I_D = 4.0 pA at W = 1 um, L = 0.28 um, "
                            "V_GS = 0, V_DS = 3.3 V, 27 C",
            "V_dd": "GF180MCU 3.3 V devices (nmos_3p3, pmos_3p3)",
            "E_a": _TYPICAL_EA,
            "spread_gain": f"{_GF}, .LIB statistical: nmos_3p3_tox = 8 nm + (0.16 mc_toxe + 0.03 mc_toxeN) nm, "
                           "mc_* = agauss(0, 1, 3): sigma 0.68 % of C_ox; per die",
            "spread_C": f"{_GF}, mim_cap statistics: mc_c_cox_2p0fF2 = agauss(0, 0.025, 3): sigma 0.83 %; "
                        "per die (corners mim_corner_2p0fF 0.9/1.1)",
            "C_gate": f"{_GF}: .model nmos_3p3.0 toxe = 8e-009 m, epsrox = 3.9: 4.3 fF/um^2",
        },
    ),
    "ihp_sg13g2": Preset(
        "ihp_sg13g2", A_VT=3.9 * MV_UM, A_VT_p=2.2 * MV_UM, A_beta=0.5 * PCT_UM, A_C=10.0 * PCT_UM,
        C_density=1.5 * FF_PER_UM2, I_off_per_um=26e-12, V_dd=1.2, spread_gain=0.0133, spread_C=0.033,
        C_gate=EPS_OX / 2.2404e-9,
        source="IHP SG13G2 open PDK model files (sg13g2_moslv_mismatch.lib, sg13g2_moslv_stat.lib, "
               "cornerCAP.lib, capacitors_mod_mismatch.lib, capacitors_stat.lib); see docs/process.md",
        sources={
            "A_VT": f"{_IHP}/sg13g2_moslv_mismatch.lib: sg13g2_lv_nmos_delvto_mm = 3.9e-3 V*um, agauss per "
                    "device (delvto) over sqrt(w l): per device",
            "A_VT_p": f"{_IHP}/sg13g2_moslv_mismatch.lib: sg13g2_lv_pmos_delvto_mm = 2.2e-3 V*um, per device",
            "A_beta": f"{_IHP}/sg13g2_moslv_mismatch.lib: sg13g2_lv_nmos_factuo_mm = 0.005 (factuo, the "
                      "mobility factor) over sqrt(w l um^-2): 0.5 %*um, per device",
            "A_C": f"{_IHP}/capacitors_mod_mismatch.lib: cap_carea_mm = agauss(1, 0.1) / sqrt(area/um^2): "
                   "10 %*um, per capacitor",
            "C_density": f"{_IHP}/cornerCAP.lib: .LIB cap_typ cap_carea = 1.5e-15 F/um^2",
            "I_off_per_um": f"{_IHP}: sg13g2_lv_nmos PSP 103 card (sg13g2_moslv_parm.lib, mos_tt of "
                            "cornerMOSlv.lib) in VACASK: I_D = 26 pA at W = 1 um, L = 0.13 um, V_GS = 0, "
                            "V_DS = 1.2 V",
            "V_dd": "SG13G2 lv core devices: 1.2 V",
            "E_a": _TYPICAL_EA,
            "spread_gain": f"{_IHP}/sg13g2_moslv_stat.lib: mc_sg13g2_lv_nmos_toxo = gauss(norm, 0.0133, "
                           "num_sigmas = 1): sigma 1.33 % of C_ox; per die",
            "spread_C": f"{_IHP}/capacitors_stat.lib: mc_cap_carea = gauss(cap_carea_norm, 0.033, num_sigmas "
                        "= 1): sigma 3.3 %; per die (cornerCAP.lib cap_bcs/cap_wcs 0.9/1.1)",
            "C_gate": f"{_IHP}/sg13g2_moslv_parm.lib: sg13_lv_nmos PSP card toxo = 2.2404e-9 m, epsroxo = 3.9: "
                      "15.4 fF/um^2",
        },
    ),
    "generic65": Preset(
        "generic65", A_VT=3.5 * MV_UM, A_VT_p=3.5 * MV_UM, A_beta=1.0 * PCT_UM, A_C=1.0 * PCT_UM,
        C_density=1.0 * FF_PER_UM2, I_off_per_um=20e-12, V_dd=1.2, spread_gain=0.02, spread_C=0.03,
        C_gate=EPS_OX / 2.0e-9,
        source="No public source: textbook-typical values for a 65 nm bulk node (A_VT ~3.5 mV*um, "
               "MOM capacitor 1 fF/um^2, 20 pA/um leakage). Use for trends only.",
        sources={f: "no public source: typical of a 65 nm bulk node" for f in SOURCED_FIELDS},
    ),
    "generic28fdsoi": Preset(
        "generic28fdsoi", A_VT=1.5 * MV_UM, A_VT_p=1.5 * MV_UM, A_beta=0.8 * PCT_UM, A_C=1.0 * PCT_UM,
        C_density=1.0 * FF_PER_UM2, I_off_per_um=50e-12, V_dd=1.0, spread_gain=0.02, spread_C=0.03,
        C_gate=EPS_OX / 1.4e-9,
        source="No public source: typical values reported for 28 nm FDSOI (undoped channel, A_VT "
               "~1.5 mV*um; 50 pA/um leakage). Use for trends only.",
        sources={f: "no public source: typical of a 28 nm FDSOI node" for f in SOURCED_FIELDS},
    ),
}

#: presets renamed: old name -> new name (a study with the old name is refused with a message naming the new)
RENAMED = {"fdsoi28": "generic28fdsoi"}


@dataclass(frozen=True)
class ResolvedProcess:
    """The values a study uses: the study's overrides, else the preset's."""

    A_VT: float
    A_beta: float
    A_C: float
    C_density: float
    G_leak: float
    temperature: float
    E_a: float  # activation energy of the leakage [eV]
    spread_gain: float  # die-to-die sigma of relative gains and currents (process spread)
    spread_C: float  # die-to-die sigma of the relative capacitance density (process spread)


def resolve_process(study) -> ResolvedProcess:
    """Merge a study's ``[process]`` and ``[leakage]`` overrides with its preset."""
    p = study.process
    pre = PRESETS[base_preset(p.preset)]

    def pick(v, default):
        return default if v is None else v

    return ResolvedProcess(
        A_VT=pick(p.A_VT, pre.A_VT),
        A_beta=pick(p.A_beta, pre.A_beta),
        A_C=pick(p.A_C, pre.A_C),
        C_density=pick(p.C_density, pre.C_density),
        G_leak=pick(study.leakage.G_leak, pre.G_leak),
        temperature=p.temperature,
        E_a=pick(study.leakage.E_a, pre.E_a),
        spread_gain=pick(p.spread_gain, pre.spread_gain),
        spread_C=pick(p.spread_C, pre.spread_C),
    )



def gate_capacitance(study) -> float:
    """Gate capacitance per area [F/m^2]: the study's ``process.C_gate``, else its preset's."""
    given = study.process.C_gate
    return given if given is not None else PRESETS[base_preset(study.process.preset)].C_gate


def supply_voltage(study) -> float:
    """Core supply [V]: the study's ``process.V_dd``, else its preset's."""
    given = study.process.V_dd
    return given if given is not None else PRESETS[base_preset(study.process.preset)].V_dd
