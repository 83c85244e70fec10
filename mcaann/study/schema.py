"""The study schema: every setting with its default, unit and validator.

Field names are MODEL.md's symbols so that one vocabulary runs from the equations to the CLI.
All numbers are SI (V, A, F, S, s, K, m); strings with SPICE suffixes ("100n") are accepted.
The defaults are the default study (``xor``): a realistic sky130 chip with every non-ideality on.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from mcaann.errors import StudyError
from mcaann.units import parse_spice_number, warn_suffix

#: most integration steps per row (task.T_row / integrator.dt) a study may ask for
MAX_STEPS_PER_ROW = 10**7


def _si(v: object, info: ValidationInfo) -> object:
    if isinstance(v, bool):
        raise ValueError(f"must be a number, not a boolean ({str(v).lower()})")
    if isinstance(v, str):
        value = parse_spice_number(v)
        warn_suffix(info.field_name, v, value)
        return value
    return v


SI = Annotated[float, BeforeValidator(_si)]
PositiveSI = Annotated[float, BeforeValidator(_si), Field(gt=0)]
NonNegSI = Annotated[float, BeforeValidator(_si), Field(ge=0)]
FinitePositiveSI = Annotated[float, BeforeValidator(_si), Field(gt=0, allow_inf_nan=False)]
FiniteSI = Annotated[float, BeforeValidator(_si), Field(allow_inf_nan=False)]
FiniteNonNegSI = Annotated[float, BeforeValidator(_si), Field(ge=0, allow_inf_nan=False)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    def fill_unset(self, **derived: Any) -> None:
        """Give each named field that is None its derived value, written past validation and not marked as set:
        the study as given keeps it unset, so that each sweep point derives it again."""
        for name, value in derived.items():
            if getattr(self, name) is None:
                self.__dict__[name] = value


class Network(_Section):
    """Layer sizes ``[n0, n1, ..., nL]`` of the multilayer perceptron."""

    layers: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [2, 8, 1])
    learning: Literal["backprop", "eqprop"] = Field(
        "backprop", description="learning circuit: analogue backpropagation (seed 004) or equilibrium "
        "propagation (seed 002, section [eqprop])")

    @model_validator(mode="after")
    def _two_layers(self) -> Network:
        if len(self.layers) < 2:
            raise ValueError("layers: needs at least an input and an output layer")
        return self


class Circuit(_Section):
    """Nominal block parameters (MODEL.md section 2). ``inf`` marks an ideal block."""

    K_m: PositiveSI = Field(1e-6, description="multiplier gain [A/V^2]")
    K_I: PositiveSI = Field(1e-6, description="multiplier saturation current [A]; inf: ideal")
    V_amp: PositiveSI = Field(1.0, description="activation output swing [V]")
    I_ref: PositiveSI = Field(0.25e-6, description="activation reference current [A]")
    V_bias: SI = Field(1.0, description="bias input voltage [V]")
    R_e: PositiveSI | None = Field(None, description="error transresistance [V/A]; V_amp/I_ref")
    C: PositiveSI = Field(0.1e-12, description="weight capacitance [F]")
    K_g: PositiveSI = Field(0.1e-6, description="charge-pump transconductance [S]")
    I_max: PositiveSI = Field(100e-9, description="charge-pump saturation current [A]; inf: linear")
    pump_output: Literal["ideal", "simple", "cascoded"] = Field(
        "cascoded", description="charge-pump output stage: its output conductance g_out = I_max / V_A (simple), "
                              "that over (g_m/I) V_A (cascoded), or none (ideal)")
    V_A_pump: FinitePositiveSI = Field(10.0, description="Early voltage of the pump's output devices [V]")
    V_pump: FiniteSI = Field(0.0, description="voltage the pump's output conductance pulls the weight toward [V]")
    V_teach: NonNegSI = Field(1.0, description="teaching gate voltage [V]; 0: inference only")
    V_teach_ref: PositiveSI = Field(1.0, description="teaching reference voltage [V]")
    operating_point: Literal["seed004", "supply"] = Field(
        "seed004", description="seed004: the levels as given (rails -1.5/1.5 V unless set, seed 004's numbers); "
                               "supply: every voltage around the mid-rail reference and inside the preset's supply "
                               "(rails from the pump's output swing unless set; levels that do not fit are refused)")
    V_dsat_out: PositiveSI = Field(
        0.15, description="saturation voltage of one output device [V]: a block's output swing stops this far from "
                          "each supply rail per device it stacks (operating_point = supply)")
    V_lo: SI | None = Field(None, description="lower weight rail, from the mid-rail reference [V]; "
                                              "default -1.5 (seed004) or the pump's output swing (supply)")
    V_hi: SI | None = Field(None, description="upper weight rail, from the mid-rail reference [V]; "
                                              "default 1.5 (seed004) or the pump's output swing (supply)")

    @model_validator(mode="after")
    def _rails(self) -> Circuit:
        if self.V_lo is not None and self.V_hi is not None and not self.V_lo < self.V_hi:
            raise ValueError("V_lo: must be below V_hi")
        return self

    @property
    def R_e_eff(self) -> float:
        """R_e as used: the study's value, else ``V_amp / I_ref`` [V/A]."""
        return self.R_e if self.R_e is not None else self.V_amp / self.I_ref


class Process(_Section):
    """Process data for mismatch and leakage; ``None`` takes the preset's value."""

    preset: str = Field("sky130", description="process preset name, or a characterised preset file (.toml)")
    temperature: FinitePositiveSI = Field(300.15, description="chip temperature [K]")
    T_nominal: FinitePositiveSI = Field(300.15, description="temperature of the circuit's nominal values [K]")
    mobility_exponent: FiniteSI = Field(-1.5, description="K_m and K_g scale as (T / T_nominal) ** this")
    A_VT: NonNegSI | None = Field(None, description="threshold mismatch, per device [V*m]")
    A_beta: NonNegSI | None = Field(None, description="current-factor mismatch [fraction*m]")
    A_C: NonNegSI | None = Field(None, description="capacitor mismatch [fraction*m]")
    C_density: PositiveSI | None = Field(None, description="capacitance per area [F/m^2]")
    C_gate: PositiveSI | None = Field(None, description="gate capacitance per area of the transistors [F/m^2]; preset")
    V_dd: FinitePositiveSI | None = Field(None, description="core supply [V]; preset")
    spread_gain: FiniteNonNegSI | None = Field(
        None, description="die-to-die (process) sigma of relative gains and tail currents, not scaled by area; "
                          "preset")
    spread_C: FiniteNonNegSI | None = Field(
        None, description="die-to-die (process) sigma of the relative capacitance density, not scaled by area; "
                          "preset")

    @model_validator(mode="after")
    def _known_preset(self) -> Process:
        from mcaann.variability.characterised import PresetFileError, is_file_preset, load_preset
        from mcaann.variability.process import PRESETS, RENAMED

        if self.preset in RENAMED:
            raise ValueError(f"preset: {self.preset!r} has no public source and was renamed "
                             f"{RENAMED[self.preset]!r} (same values)")
        if is_file_preset(self.preset):
            try:
                load_preset(self.preset)
            except PresetFileError as exc:
                raise ValueError(str(exc)) from None
        elif self.preset not in PRESETS:
            raise ValueError(f"preset: unknown process {self.preset!r} (known: {', '.join(PRESETS)})")
        return self


class Mismatch(_Section):
    """Pelgrom mismatch (MODEL.md section 4). Areas are per device, W*L in m^2."""

    enabled: bool = True
    scale: NonNegSI = Field(1.0, description="multiplies every mismatch sigma")
    area_scale: PositiveSI = Field(1.0, description="multiplies every transistor area")
    global_fraction: Annotated[float, BeforeValidator(_si), Field(ge=0, le=1)] = Field(
        0.0, description="older studies: die-to-die share of the Pelgrom variance of gains and capacitors "
                         "(the process spread, process.spread_gain and spread_C, adds to it)"
    )
    gm_over_I: PositiveSI = Field(
        15.0, description="g_m/I of the gain-setting devices [1/V] (weak inversion ~ 1/(n U_T))"
    )
    area_multiplier: PositiveSI = Field(4e-12, description="multiplier device area [m^2]")
    area_activation: PositiveSI = Field(4e-12, description="activation block device area [m^2]")
    area_derivative: PositiveSI = Field(4e-12, description="derivative block device area [m^2]")
    area_error: PositiveSI = Field(4e-12, description="error circuit device area [m^2]")
    area_delta: PositiveSI = Field(4e-12, description="delta circuit device area [m^2]")
    area_pump: PositiveSI = Field(4e-12, description="charge pump device area [m^2]")
    area_synapse: PositiveSI = Field(4e-12, description="eqprop synapse transistor area [m^2]")
    area_update: PositiveSI = Field(4e-12, description="eqprop update circuit device area [m^2]")
    area_neuron: PositiveSI = Field(4e-12, description="eqprop neuron load device area [m^2]")
    area_diode: PositiveSI = Field(4e-12, description="eqprop clamp diode area [m^2]")
    area_mirror: PositiveSI = Field(
        4e-12, description="current-mirror device area [m^2] (tail currents, output stages, pump sources)")
    gm_over_I_mirror: PositiveSI = Field(
        5.0, description="g_m/I of the current-mirror devices [1/V] (strong inversion, 2/(V_GS - V_T))")
    gradient: NonNegSI = Field(
        0.0, description="sigma of a die's linear gradient of relative gains and capacitance, per axis [1/m]"
    )
    gradient_offset: NonNegSI = Field(0.0, description="sigma of a die's linear offset-voltage gradient [V/m]")
    pitch: PositiveSI = Field(20e-6, description="block pitch of the array layout for gradients [m]")
    kind_scale: dict[str, FiniteNonNegSI] = Field(
        default_factory=dict,
        description="per-kind factor on the mismatch sigmas (e.g. multiplier_fwd = 0: that kind exact; 2: doubled), "
                    "on top of scale; same deviates")

    @model_validator(mode="after")
    def _known_kinds(self) -> Mismatch:
        from mcaann.circuit import eqprop
        from mcaann.circuit.blocks import variation_kinds

        known = variation_kinds() + variation_kinds(eqprop.SYNAPSE_PARAMS + eqprop.NEURON_PARAMS)
        for kind in self.kind_scale:
            if kind not in known:
                raise ValueError(f"kind_scale: unknown kind {kind!r} (known: {', '.join(known)})")
        return self


class Leakage(_Section):
    """Capacitor leakage ``I_leak = G_leak (w - V_rest) + I_leak0`` at ``T_0``."""

    enabled: bool = True
    G_leak: NonNegSI | None = Field(None, description="leak conductance at T_0 [S]; preset")
    V_rest: SI = Field(0.0, description="voltage the weights leak towards [V]")
    I_leak0: SI = Field(0.0, description="constant leak current [A]")
    sigma_ln: NonNegSI = Field(0.5, description="log-normal sigma of G_leak between capacitors")
    T_0: PositiveSI = Field(300.15, description="temperature at which G_leak is given [K]")
    E_a: PositiveSI | None = Field(
        None, description="activation energy of the leakage [eV] (Arrhenius factor); preset")
    dT_double: PositiveSI | None = Field(
        None, description="older studies: leakage doubles every dT_double [K] instead of Arrhenius; not with E_a")

    @model_validator(mode="after")
    def _one_temperature_law(self):
        if self.E_a is not None and self.dT_double is not None:
            raise ValueError("dT_double: give E_a (Arrhenius) or dT_double (doubling), not both")
        return self


class Eqprop(_Section):
    """The equilibrium-propagation circuit (``network.learning = "eqprop"``, ``circuit.eqprop``): node and
    device values, phases and the relaxation solver. ``circuit.C`` is the weight capacitor, ``circuit.V_bias``
    the bias input; the other ``[circuit]`` fields are backprop's."""

    device: Literal["conductance", "conductance_pair", "square_law"] = Field(
        "square_law",
        description="synapse: behavioural conductance K_s (V_G0 - V_T + w); a signed pair of them with a "
                    "bidirectional inverter (reciprocal); or the seed's square-law transistor pair")
    K_s: PositiveSI = Field(2e-6, description="transistor current factor beta_T [A/V^2]")
    V_T: SI = Field(0.45, description="transistor threshold voltage [V]")
    V_G0: SI = Field(1.5, description="gate bias of the pair; the weight adds to M+, subtracts from M- [V]")
    V_mid: SI = Field(0.5, description="mid-rail: loads, inverting buffers and clamps centre on it [V]")
    G_load: NonNegSI = Field(1e-7, description="neuron load conductance to V_mid [S]")
    A_n: PositiveSI = Field(1.0, description="voltage gain of the neuron's bidirectional amplifier [1]")
    amplifier: Literal["transformer", "kendall"] = Field(
        "transformer", description="the amplifier's backward current gain: A_n (transformer) or 1/A_n (kendall)")
    V_out_min: SI | None = Field(
        None, description="lowest output of the neuron amplifier, where it saturates smoothly [V]; default "
                          "circuit.V_dsat_out (its output device at the ground rail); -inf with V_out_max = inf: "
                          "no limit")
    V_out_max: SI | None = Field(
        None, description="highest output of the neuron amplifier [V]; default 2 V_mid - circuit.V_dsat_out (the "
                          "supply 2 V_mid less its output device's saturation voltage)")
    V_out_knee: PositiveSI = Field(0.02, description="width of the amplifier's soft saturation at either limit [V]")
    I_s: PositiveSI = Field(1e-12, description="clamp diode saturation current [A]")
    V_d: PositiveSI = Field(0.0388, description="clamp diode n U_T [V]")
    V_clamp: SI = Field(0.0, description="clamp diode knees at V_mid +- V_clamp [V]")
    C_node: PositiveSI = Field(10e-15, description="node capacitance to ground [F]")
    beta: PositiveSI = Field(1e-7, description="nudging conductance towards the targets [S]")
    A_u: PositiveSI = Field(1.0, description="update circuit current gain [1]")
    I_u_max: PositiveSI = Field(math.inf, description="update circuit saturation current [A]; inf: linear")
    I_u_bias: PositiveSI = Field(1e-6, description="update circuit bias current (sets its offset) [A]")
    T_free: NonNegSI = Field(20e-9, description="free phase [s]")
    T_nudge: NonNegSI = Field(20e-9, description="nudged phase [s]; the update phase is the rest of T_row")
    relax: Literal["equilibrium", "transient"] = Field(
        "equilibrium", description="phases solved as equilibria (Newton) or as implicit transients")
    newton_tol: PositiveSI = Field(1e-12, description="Newton stops when every node moves less [V]")
    newton_iter: Annotated[int, Field(ge=1, le=1000)] = 60


class Settling(_Section):
    """First-order lags of the neuron output, error, delta and gradient nodes, ``tau = R_node C_node``
    (``circuit.settling``); a time constant not given is ``R_e`` times the gate load the node drives."""

    enabled: bool = Field(False, description="nodes settle with their lags (false: instantly, the algebraic model)")
    tau_scale: FiniteNonNegSI = Field(1.0, description="multiplies every node's time constant (0: instant)")
    tau_y: FiniteNonNegSI | None = Field(None, description="time constant of every neuron output node [s]")
    tau_e: FiniteNonNegSI | None = Field(None, description="time constant of every error node [s]")
    tau_delta: FiniteNonNegSI | None = Field(None, description="time constant of every delta node [s]")
    tau_g: FiniteNonNegSI | None = Field(None, description="time constant of every gradient-voltage node [s]")


class Noise(_Section):
    """Thermal noise current into each weight capacitor, PSD ``2 k T G_n``."""

    enabled: bool = True
    gamma: NonNegSI = Field(2.0 / 3.0, description="charge-pump noise factor (2/3: strong inv.)")
    density_scale: FiniteNonNegSI = Field(1.0, description="multiplies every noise density (4: twice the rms)")


class Task(_Section):
    """What the network learns and how rows are presented (MODEL.md section 3)."""

    dataset: str = Field("xor", description="built-in task name or CSV path")
    T_row: PositiveSI = Field(100e-9, description="time each row is held [s]")
    T_settle: NonNegSI = Field(0.0, description="teaching off at the start of each row [s]")
    epochs: Annotated[int, Field(ge=1)] = 300
    target_scale: FinitePositiveSI = Field(
        1.0, description="a built-in task's targets moved towards mid-scale: V_amp (1/2 + s (t/V_amp - 1/2)) [1]")
    order: Literal["fixed", "shuffled"] = "fixed"
    split: Literal["auto", "seeded", "column", "none"] = Field(
        "auto", description="held-out rows: auto (iris, digits: seeded; a CSV: its split column), seeded, "
                            "column, none")
    split_seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = Field(
        0, description="seed of the held-out rows (30 % of the rows) of a seeded split")

    @model_validator(mode="after")
    def _settle(self) -> Task:
        if self.T_settle >= self.T_row:
            raise ValueError("T_settle: must be shorter than T_row")
        return self


class Integrator(_Section):
    """Fixed-step integrator, shared by all instances."""

    method: Literal["euler", "heun", "rk4"] = "heun"
    dt: PositiveSI = Field(5e-9, description="time step [s]")
    dtype: Literal["float64", "float32"] = "float64"


class MonteCarlo(_Section):
    """Instances (simulated chips) and their randomness."""

    instances: Annotated[int, Field(ge=1, le=2**31 - 1)] = 1000
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    w_init_range: FiniteNonNegSI = Field(0.5, description="initial weights uniform in +-range [V]")


class Yield(_Section):
    """When an instance counts as converged."""

    mse_threshold: PositiveSI = Field(0.01, description="final MSE at most this [V^2] (not with held-out rows)")
    accuracy_threshold: Annotated[float, BeforeValidator(_si), Field(ge=0, le=1)] | None = Field(
        None, description="final accuracy (held-out, where the task holds rows out) at least this; "
                          "default 0.9 for multi-class (argmax) tasks, else 1")

    def accuracy_for(self, task) -> float:
        """The accuracy threshold for ``task``: the study's, else 0.9 (argmax) or 1."""
        if self.accuracy_threshold is not None:
            return self.accuracy_threshold
        return 0.9 if task.argmax else 1.0


class Retention(_Section):
    """Hold the trained weights with teaching off and evaluate after each hold time."""

    hold_times: list[NonNegSI] = Field(default_factory=list, description="hold times [s]")


#: training strategies (``training.strategy``); every one runs on the same sampled chips
STRATEGIES = ("in_situ", "transfer", "transfer_per_chip", "transfer_then_tune", "rram")


class Training(_Section):
    """How the chips get their weights: trained on chip, or trained in software and written (MODEL.md 3a)."""

    strategy: Literal["in_situ", "transfer", "transfer_per_chip", "transfer_then_tune", "rram"] = Field(
        "in_situ", description="in_situ (the chip trains itself), transfer, transfer_per_chip, transfer_then_tune, "
                               "rram")
    software_epochs: Annotated[int, Field(ge=1)] | None = Field(
        None, description="epochs of the software training; default task.epochs")
    write_sigma: FiniteNonNegSI = Field(0.0, description="write error of a transferred weight, Gaussian sigma [V]")
    write_resolution: FiniteNonNegSI = Field(
        0.0, description="step of the weight writer [V]; 0: continuous")
    measure_points: Annotated[int, Field(ge=3, le=64)] = Field(
        5, description="operating points per block measured for transfer_per_chip")
    measure_noise: FiniteNonNegSI = Field(
        0.0, description="measurement noise, relative to each block's output scale, Gaussian sigma")


class Rram(_Section):
    """Weights as RRAM conductance pairs ``G+ - G-`` programmed from software (seed 003; strategy rram)."""

    levels: Annotated[int, Field(ge=0)] = Field(
        16, description="programmable conductance levels, 0 (RESET) to G_max evenly spaced; 0: continuous")
    G_max: FinitePositiveSI = Field(100e-6, description="largest programmed conductance [S]")
    spread: FiniteNonNegSI = Field(2e-6, description="programming spread of a set level, Gaussian sigma [S]")
    read_noise: FiniteNonNegSI = Field(0.005, description="relative read-current noise per read, Gaussian sigma")
    nu: FiniteNonNegSI = Field(0.02, description="drift exponent: G(t) = G0 (max(t, t0) / t0)^-nu")
    t0: FinitePositiveSI = Field(1.0, description="drift reference time after programming [s]")
    t_read: FiniteNonNegSI = Field(1.0, description="time from programming to the evaluation [s]")

    @model_validator(mode="after")
    def _levels(self) -> Rram:
        if self.levels == 1:
            raise ValueError("levels: needs at least 2 (RESET and one set level), or 0 for continuous")
        return self


class Output(_Section):
    """What is kept of the learning curves (bounded memory and files for large runs)."""

    keep_every: Annotated[int, Field(ge=1)] = Field(1, description="keep every k-th epoch of the curves")
    curves_dtype: Literal["float64", "float32"] = "float64"


class Study(_Section):
    """A whole study: every section of INTERFACE.md with defaults filled in."""

    name: str = "xor"
    description: str = ""
    network: Network = Field(default_factory=Network)
    circuit: Circuit = Field(default_factory=Circuit)
    process: Process = Field(default_factory=Process)
    mismatch: Mismatch = Field(default_factory=Mismatch)
    leakage: Leakage = Field(default_factory=Leakage)
    noise: Noise = Field(default_factory=Noise)
    settling: Settling = Field(default_factory=Settling)
    eqprop: Eqprop = Field(default_factory=Eqprop)
    task: Task = Field(default_factory=Task)
    integrator: Integrator = Field(default_factory=Integrator)
    monte_carlo: MonteCarlo = Field(default_factory=MonteCarlo)
    retention: Retention = Field(default_factory=Retention)
    training: Training = Field(default_factory=Training)
    rram: Rram = Field(default_factory=Rram)
    output: Output = Field(default_factory=Output)
    yield_: Yield = Field(default_factory=Yield, alias="yield")
    sweep: dict[str, list] = Field(default_factory=dict)

    _raw: dict | None = PrivateAttr(default=None)
    _base_dir: Path | None = PrivateAttr(default=None)

    def raw(self) -> dict:
        """The study as given (before defaults), so that sweeps re-derive dependent values."""
        if self._raw is not None:
            return copy.deepcopy(self._raw)
        return self.model_dump(by_alias=True, exclude_unset=True)

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the study (CSV datasets) are read against."""
        return self._base_dir or Path.cwd()

    def at(self, point: dict[str, Any]) -> Study:
        """The study at one sweep point: the point's values set, the sweep table removed."""
        raw = self.raw()
        raw.pop("sweep", None)
        for key, value in point.items():
            _set_path(raw, key, value)
        st = _validate(raw)
        st._raw = raw
        st._base_dir = self._base_dir
        return st

    @model_validator(mode="after")
    def _consistent(self) -> Study:
        dt = self.integrator.dt
        for key, value in (("task.T_row", self.task.T_row), ("task.T_settle", self.task.T_settle)):
            if not value / dt <= MAX_STEPS_PER_ROW:
                raise ValueError(f"{key}: {value:g} s is {value / dt:.3g} steps of integrator.dt = {dt:g} s "
                                 f"(at most {MAX_STEPS_PER_ROW:.0e}); use a larger dt or a shorter time")
        for key, value in (("task.T_row", self.task.T_row), ("task.T_settle", self.task.T_settle)):
            n = value / dt
            if abs(n - round(n)) > 1e-6 * max(1.0, n):
                raise ValueError(f"{key}: must be a whole multiple of integrator.dt ({value:g} / {dt:g} = {n:g})")
        from mcaann.solvers import SOLVERS

        if self.noise.enabled and not SOLVERS[self.integrator.method].supports_noise:
            raise ValueError(
                f"integrator.method: {self.integrator.method} is for deterministic runs; noise is on "
                "(use euler or heun, or set noise.enabled = false)"
            )
        if not math.isfinite(self.circuit.C):
            raise ValueError("circuit.C: must be finite")
        from mcaann.circuit.operating_point import resolve_levels

        resolve_levels(self)
        if self.network.learning == "eqprop":
            self._check_eqprop()
        return self

    def _check_eqprop(self) -> None:
        ep, dt = self.eqprop, self.integrator.dt
        if self.integrator.dtype != "float64":
            raise ValueError("integrator.dtype: the eqprop kernels are float64 only")
        if ep.T_free + ep.T_nudge >= self.task.T_row:
            raise ValueError("eqprop.T_nudge: T_free + T_nudge must be shorter than task.T_row (the update "
                             "phase is the rest of the row)")
        from mcaann.circuit.eqprop import amplifier_limits

        lo, hi = amplifier_limits(ep, self.circuit.V_dsat_out)
        if math.isfinite(lo) != math.isfinite(hi):
            raise ValueError("eqprop.V_out_max: give both amplifier output limits finite, or -inf and inf (none)")
        if not lo < ep.V_mid < hi:
            raise ValueError(f"eqprop.V_out_max: the amplifier's output limits [{lo:g}, {hi:g}] V must bracket "
                             f"V_mid = {ep.V_mid:g} V")
        ep.fill_unset(V_out_min=lo, V_out_max=hi)
        if self.task.T_settle != 0.0:
            raise ValueError("task.T_settle: must be 0 with eqprop (its phases are eqprop.T_free, T_nudge)")
        if ep.relax == "transient":
            for key, value in (("eqprop.T_free", ep.T_free), ("eqprop.T_nudge", ep.T_nudge)):
                n = value / dt
                if abs(n - round(n)) > 1e-6 * max(1.0, n):
                    raise ValueError(f"{key}: must be a whole multiple of integrator.dt ({value:g} / {dt:g})")

    @property
    def steps_per_row(self) -> int:
        return int(round(self.task.T_row / self.integrator.dt))

    @property
    def settle_steps(self) -> int:
        return int(round(self.task.T_settle / self.integrator.dt))


def field_units(key: str) -> str:
    """The units of study field ``key`` ("circuit.C" -> "F") from its description's ``[...]``;
    "" for a field without (counts, names, flags)."""
    import re

    model: type[BaseModel] = Study
    info = None
    for part in key.split("."):
        fields = {(f.alias or n): f for n, f in model.model_fields.items()} | dict(model.model_fields)
        info = fields.get(part)
        if info is None:
            return ""
        ann = info.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else BaseModel
    m = re.search(r"\[([^\]]+)\]", (info.description or "") if info else "")
    return m.group(1) if m else ""


def _format_validation(err: ValidationError) -> str:
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"] if not isinstance(p, int) or True)
    loc = loc.replace("yield_", "yield")
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown key"
    # A validator's message may start with the field it concerns ("T_settle: ...").
    head, sep, rest = msg.partition(": ")
    if sep and " " not in head:
        loc = f"{loc}.{head}" if loc and not head.startswith(loc) and "." not in head else head
        msg = rest
    inp = e.get("input")
    if e["type"] not in ("extra_forbidden", "value_error", "missing") and not isinstance(inp, dict):
        msg = f"{msg} (got {inp!r})"
    return f"{loc}: {msg}" if loc else msg


def _set_path(raw: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node = raw
    for p in parts[:-1]:
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise StudyError(f"{key}: {p!r} is not a section")
        node = nxt
    node[parts[-1]] = value


def _validate(raw: dict) -> Study:
    try:
        return Study.model_validate(raw)
    except ValidationError as err:
        raise StudyError(_format_validation(err)) from None
