"""Process presets: Pelgrom coefficients, capacitor data and leakage per technology.

Units: ``A_VT`` [V*m] per device (3.4 mV*um = 3.4e-9 V*m); ``A_beta`` and ``A_C``
[fraction*m] (1 %*um = 1e-8 m); ``C_density`` [F/m^2] (2 fF/um^2 = 2e-3 F/m^2);
``G_leak`` [S] of one weight capacitor's switch at 300.15 K, from the off-state leakage
per width times a minimum switch width (0.42 um) over the supply. Sources are in each
preset's ``source`` and in ``docs/process.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcaann.variability.characterised import base_preset

UM = 1e-6
MV_UM = 1e-3 * UM  # 1 mV*um in V*m
PCT_UM = 1e-2 * UM  # 1 %*um in fraction*m
FF_PER_UM2 = 1e-15 / UM**2  # 1 fF/um^2 in F/m^2


@dataclass(frozen=True)
class Preset:
    """One technology's mismatch and leakage data (SI)."""

    name: str
    A_VT: float  # nmos, per device [V*m]; the blocks' input pairs are nmos
    A_VT_p: float  # pmos, per device [V*m] (kept for reference)
    A_beta: float  # [fraction*m]
    A_C: float  # capacitor mismatch [fraction*m]
    C_density: float  # [F/m^2]
    I_off_per_um: float  # off-state leakage per um of width [A/um]
    V_dd: float  # core supply [V]
    source: str
    #: activation energy of the leakage [eV]: typical of subthreshold and junction leakage (0.5-0.6 eV);
    #: none of these PDKs publishes one
    E_a: float = 0.55

    @property
    def G_leak(self) -> float:
        """Leak conductance of a weight capacitor's minimum switch (W = 0.42 um) [S]."""
        return self.I_off_per_um * 0.42 / self.V_dd


PRESETS: dict[str, Preset] = {
    "sky130": Preset(
        "sky130", 3.4 * MV_UM, 5.9 * MV_UM, 1.0 * PCT_UM, 2.8 * PCT_UM, 2.0 * FF_PER_UM2,
        8e-12, 1.8,
        "SkyWater SKY130 PDK documentation: nfet_01v8 A_VT ~3.4 mV*um, pfet_01v8 ~5.9 mV*um; "
        "MIM capacitor (sky130_fd_pr__cap_mim_m3_1) 2 fF/um^2, matching ~2.8 %*um; off-state "
        "leakage ~8 pA/um. A_beta 1 %*um is a typical value, not from the PDK.",
    ),
    "gf180": Preset(
        "gf180", 5.0 * MV_UM, 4.7 * MV_UM, 1.0 * PCT_UM, 1.0 * PCT_UM, 2.0 * FF_PER_UM2,
        1e-12, 3.3,
        "GF180MCU PDK documentation, 3.3 V devices: nmos A_VT ~5.0 mV*um, pmos ~4.7 mV*um per "
        "device. MIM 2 fF/um^2 option; A_C, A_beta and leakage (1 pA/um) are typical values, "
        "not from the PDK.",
    ),
    "ihp_sg13g2": Preset(
        "ihp_sg13g2", 3.9 * MV_UM, 2.2 * MV_UM, 1.0 * PCT_UM, 1.0 * PCT_UM, 1.5 * FF_PER_UM2,
        5e-12, 1.2,
        "IHP SG13G2 open PDK documentation: nmos A_VT ~3.9 mV*um, pmos ~2.2 mV*um; MIM 1.5 "
        "fF/um^2 with ~1 %*um matching. A_beta and leakage (5 pA/um) are typical values.",
    ),
    "generic65": Preset(
        "generic65", 3.5 * MV_UM, 3.5 * MV_UM, 1.0 * PCT_UM, 1.0 * PCT_UM, 1.0 * FF_PER_UM2,
        20e-12, 1.2,
        "No public source: textbook-typical values for a 65 nm bulk node (A_VT ~3.5 mV*um, "
        "MOM capacitor 1 fF/um^2, 20 pA/um leakage). Use for trends only.",
    ),
    "fdsoi28": Preset(
        "fdsoi28", 1.5 * MV_UM, 1.5 * MV_UM, 0.8 * PCT_UM, 1.0 * PCT_UM, 1.0 * FF_PER_UM2,
        50e-12, 1.0,
        "No public source: typical values reported for 28 nm FDSOI (undoped channel, A_VT "
        "~1.5 mV*um; 50 pA/um leakage). Use for trends only.",
    ),
}


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
    )


EPS_OX = 3.9 * 8.8541878128e-12  # SiO2 permittivity [F/m]

#: Gate-oxide capacitance per area [F/m^2] of each preset's core transistors, ``eps_ox / t_ox``, with its source
#: (finite settling, ``circuit.settling``). The inversion-layer and depletion corrections are left out.
GATE_CAPACITANCE: dict[str, tuple[float, str]] = {
    "sky130": (EPS_OX / 4.148e-9, "sky130_fd_pr__nfet_01v8 BSIM4 model card: toxe = 4.148 nm (8.3 fF/um^2)"),
    "gf180": (EPS_OX / 7.9e-9, "typical 3.3 V gate oxide, t_ox ~7.9 nm (4.4 fF/um^2); not from the PDK"),
    "ihp_sg13g2": (EPS_OX / 2.2404e-9, "IHP SG13G2 sg13g2_moslv_parm.lib, sg13_lv_nmos PSP card: toxo = 2.2404 nm, "
                                       "epsroxo = 3.9 (15.4 fF/um^2)"),
    "generic65": (EPS_OX / 2.0e-9, "textbook-typical 65 nm core oxide, t_ox ~2 nm (17 fF/um^2); trends only"),
    "fdsoi28": (EPS_OX / 1.4e-9, "typical 28 nm high-k gate, EOT ~1.4 nm (25 fF/um^2); trends only"),
}


def gate_capacitance(study) -> float:
    """Gate capacitance per area [F/m^2]: the study's ``process.C_gate``, else its preset's."""
    given = study.process.C_gate
    return given if given is not None else GATE_CAPACITANCE[base_preset(study.process.preset)][0]
