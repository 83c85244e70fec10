"""Sampling of every block parameter of every instance (MODEL.md section 4).

Pelgrom: a parameter's sigma is ``A / sqrt(W L)``. Offsets of a differential pair use
``sqrt(2) A_VT / sqrt(W L)``; an offset current is that voltage times the block's
transconductance ``g_m = (g_m/I) * I_ref``; relative gains use
``sqrt(A_beta^2 + (g_m/I * A_VT)^2) / sqrt(W L)``; capacitors ``A_C / sqrt(C / C_density)``.
Current mirrors (the tail currents ``K_I`` and ``I_max``, a multiplier's output stage, the charge
pump's up and down sources) use the mirror devices' own area ``area_mirror`` and bias point
``gm_over_I_mirror``: a mirrored current's relative error, and an output offset current over its bias
current, have the pair's ``sqrt(2) sqrt(A_beta^2 + (g_m/I * A_VT)^2) / sqrt(W L)``.

Gains, tail currents and capacitors also vary from die to die: a process spread (the preset's
``spread_gain`` for relative gains and currents, ``spread_C`` for the capacitance density, or the
study's ``process.spread_gain``, ``spread_C``) that does not shrink with device area. It is drawn once
per die and parameter (block index ``GLOBAL_INDEX`` of the parameter's stream) and is common to every
block of that parameter on the die. Older studies may also move a share ``global_fraction`` of the
Pelgrom variance into that die-to-die part. Offsets are purely local (a die-level threshold shift is
common-mode to a differential pair and cancels). ``area_scale`` scales the local transistor areas only;
``scale`` multiplies both parts.
Leakage conductances are log-normal with median ``G_leak`` (not scaled by ``scale``).

An optional linear spatial gradient (Pelgrom's distance term ``S * D``): each die draws, per
parameter, a gradient ``(g_x, g_y)`` with sigma ``gradient`` [1/m] (relative, gains and
capacitors) or ``gradient_offset`` [V/m] (offset voltages; offset currents take it times their
transconductance), and a block at layout position ``(x, y)`` [m] deviates by ``g_x x + g_y y``.

Every draw is a pure function of (seed, parameter name, instance, block index).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcaann.circuit.blocks import (
    CAP,
    CURRENT,
    FIXED,
    GAIN,
    LEAK,
    NEURON_PARAMS,
    OFFSET_I,
    OFFSET_MIRROR,
    OFFSET_V,
    SYNAPSE_PARAMS,
    ParamSpec,
    variation_kind,
)
from mcaann.circuit.eqprop import BETA, OFFSET_IU, VT
from mcaann.circuit.network import Topology
from mcaann.variability.characterised import characterised_sigma, local_normals
from mcaann.variability.process import resolve_process
from mcaann.variability.rng import STREAM_W_INIT, standard_normals, stream_id, uniforms
from mcaann.variability.temperature import gm_over_i, i_ref

GLOBAL_INDEX = 0xFFFFFFFF  # block index of the die-to-die draw within a parameter's stream
GRADIENT_INDEX = (0xFFFFFFFE, 0xFFFFFFFD)  # block indices of a die's gradient (x, y) draws


@dataclass(frozen=True)
class Sigma:
    """Standard deviations of one parameter's local and die-to-die parts (SI or relative)."""

    local: float
    glob: float


def _area(study, spec: ParamSpec) -> float:
    """Device area [m^2] of the transistors that set a parameter: its block's, or its current mirror's."""
    if spec.kind in MIRROR_KINDS:
        return study.mismatch.area_mirror
    return getattr(study.mismatch, f"area_{spec.block}")


#: kinds set by a current mirror's pair (``area_mirror``, ``gm_over_I_mirror``)
MIRROR_KINDS = (CURRENT, OFFSET_MIRROR)


def mirror_mismatch(study) -> float:
    """Pelgrom coefficient [fraction*m] of a mirror pair's current ratio: ``sqrt(2) sqrt(A_beta^2 + (g_m/I
    A_VT)^2)`` at the mirror's ``g_m/I`` (strong inversion: not scaled with temperature)."""
    proc = resolve_process(study)
    return math.sqrt(2.0) * math.hypot(proc.A_beta, study.mismatch.gm_over_I_mirror * proc.A_VT)


def _mirror_bias(study, spec: ParamSpec) -> float:
    """The bias current [A] of an output offset's mirror; 0 for an ideal (``inf``) block, which has none."""
    i = float(spec.bias(study))
    return i if math.isfinite(i) else 0.0


def kind_factor(study, spec: ParamSpec) -> float:
    """The study's ``mismatch.kind_scale`` factor of this parameter's kind (1 where not given)."""
    return study.mismatch.kind_scale.get(variation_kind(spec), 1.0)


def pelgrom_sigma(study, spec: ParamSpec) -> Sigma:
    """The local and global sigma of a parameter (relative for gains and capacitors), times its kind's
    ``kind_scale`` factor."""
    mm = study.mismatch
    if not mm.enabled or spec.kind in (FIXED, LEAK):
        return Sigma(0.0, 0.0)
    f = kind_factor(study, spec)
    sig = _unscaled_sigma(study, spec)
    spread = mm.scale * process_spread(study, spec)
    if spread:
        sig = Sigma(sig.local, math.hypot(sig.glob, spread))
    return sig if f == 1.0 else Sigma(f * sig.local, f * sig.glob)


def process_spread(study, spec: ParamSpec) -> float:
    """The die-to-die process spread of a parameter, a relative sigma per die (not scaled by area): the resolved
    ``spread_C`` for capacitors, ``spread_gain`` for gains, tail currents and current factors, 0 for offsets."""
    if spec.kind == CAP:
        return resolve_process(study).spread_C
    if spec.kind in (GAIN, CURRENT, BETA):
        return resolve_process(study).spread_gain
    return 0.0


def _unscaled_sigma(study, spec: ParamSpec) -> Sigma:
    mm = study.mismatch
    if (char := characterised_sigma(study, spec)) is not None:
        return char
    proc = resolve_process(study)
    gf = mm.global_fraction
    if spec.kind == CAP:
        area_c = float(spec.nominal(study)) / proc.C_density  # the capacitor's own area
        s = mm.scale * proc.A_C / math.sqrt(area_c)
        return Sigma(math.sqrt(1 - gf) * s, math.sqrt(gf) * s)
    area = _area(study, spec)
    if spec.kind in (OFFSET_V, OFFSET_I, OFFSET_MIRROR, VT, OFFSET_IU):
        # a die-level threshold shift is common-mode to a pair and cancels: offsets are purely local
        gf = 0.0
    if spec.kind == GAIN:
        a = math.hypot(proc.A_beta, gm_over_i(study) * proc.A_VT)
    elif spec.kind == CURRENT:
        a = mirror_mismatch(study)
    elif spec.kind == OFFSET_MIRROR:
        a = mirror_mismatch(study) * _mirror_bias(study, spec)
    elif spec.kind == OFFSET_V:
        a = math.sqrt(2.0) * proc.A_VT
    elif spec.kind == OFFSET_I:
        a = math.sqrt(2.0) * proc.A_VT * gm_over_i(study) * i_ref(study)
    elif spec.kind == VT:  # one device's threshold
        a = proc.A_VT
    elif spec.kind == BETA:  # one device's current factor
        a = proc.A_beta
    elif spec.kind == OFFSET_IU:  # the update circuit's input pair, at its own bias current
        a = math.sqrt(2.0) * proc.A_VT * gm_over_i(study) * study.eqprop.I_u_bias
    else:
        raise ValueError(spec.kind)
    local = mm.scale * math.sqrt(1 - gf) * a / math.sqrt(area * mm.area_scale)
    glob = mm.scale * math.sqrt(gf) * a / math.sqrt(area)
    return Sigma(local, glob)


def gradient_sigma(study, spec: ParamSpec) -> float:
    """Sigma of a die's gradient of this parameter per axis [1/m relative, V/m or A/m]."""
    mm = study.mismatch
    if not mm.enabled or spec.kind in (FIXED, LEAK):
        return 0.0
    f = mm.scale * kind_factor(study, spec)
    if spec.kind in (GAIN, CAP, CURRENT, BETA):
        return f * mm.gradient
    if spec.kind in (OFFSET_V, VT):
        return f * mm.gradient_offset
    if spec.kind == OFFSET_IU:
        return f * mm.gradient_offset * gm_over_i(study) * study.eqprop.I_u_bias
    if spec.kind == OFFSET_MIRROR:
        return f * mm.gradient_offset * mm.gm_over_I_mirror * _mirror_bias(study, spec)
    return f * mm.gradient_offset * gm_over_i(study) * i_ref(study)


def sample_parameter(study, spec: ParamSpec, instances: np.ndarray, n_blocks: int,
                     positions: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Values of one parameter, shape ``(len(instances), n_blocks)`` [SI].

    ``positions`` are the blocks' layout coordinates ``(x, y)`` [m], for the spatial gradient.
    """
    nominal = float(spec.nominal(study))
    n = len(instances)
    if spec.kind == FIXED:
        return np.full((n, n_blocks), nominal)
    seed = study.monte_carlo.seed
    stream = stream_id(spec.name)
    if spec.kind == LEAK:
        if nominal == 0.0:
            return np.zeros((n, n_blocks))
        z = standard_normals(seed, stream, instances, np.arange(n_blocks))
        return nominal * np.exp(study.leakage.sigma_ln * z)
    sig = pelgrom_sigma(study, spec)
    s_grad = gradient_sigma(study, spec) if positions is not None else 0.0
    if sig.local == 0.0 and sig.glob == 0.0 and s_grad == 0.0:
        return np.full((n, n_blocks), nominal)
    z_loc = local_normals(study, spec, instances, n_blocks)
    if z_loc is None:
        z_loc = standard_normals(seed, stream, instances, np.arange(n_blocks))
    z_glob = standard_normals(seed, stream, instances, [GLOBAL_INDEX])
    dev = sig.local * z_loc + sig.glob * z_glob
    if s_grad:
        g = s_grad * standard_normals(seed, stream, instances, list(GRADIENT_INDEX))
        dev = dev + g[:, :1] * positions[0] + g[:, 1:] * positions[1]
    if spec.kind in (GAIN, CAP, CURRENT, BETA):
        if not math.isfinite(nominal):  # an ideal block's infinite current has no spread
            return np.full((n, n_blocks), nominal)
        return clip_physical(spec.name, nominal * (1.0 + dev), nominal)
    return nominal + dev


#: a sampled gain, current or capacitance at or below zero is clipped to this fraction of its nominal
PHYSICAL_FLOOR = 1e-3


def clip_physical(name: str, values: np.ndarray, nominal: float) -> np.ndarray:
    """``values`` with those at or below zero (no physical gain, current or capacitance; from a
    huge ``mismatch.scale``) clipped to ``PHYSICAL_FLOOR * nominal``, with a warning that counts them."""
    bad = values <= 0.0
    if not bad.any():
        return values
    import warnings

    from mcaann.errors import McaannWarning

    warnings.warn(f"{name}: {int(bad.sum())} of {values.size} sampled values <= 0 clipped to "
                  f"{PHYSICAL_FLOOR:g} x nominal (is mismatch.scale too large?)", McaannWarning, stacklevel=2)
    return np.where(bad, PHYSICAL_FLOOR * nominal, values)


def block_params(study) -> tuple[tuple[ParamSpec, ...], tuple[ParamSpec, ...]]:
    """The per-synapse and per-neuron parameters of the study's learning circuit."""
    if study.network.learning == "eqprop":
        from mcaann.circuit import eqprop

        return eqprop.SYNAPSE_PARAMS, eqprop.NEURON_PARAMS
    return SYNAPSE_PARAMS, NEURON_PARAMS


def sample_instances(study, topo: Topology, instances: np.ndarray) -> dict[str, np.ndarray]:
    """Every sampled parameter and the initial weights of the given instances.

    Returns ``{name: array}`` with synapse parameters and ``w_init`` over
    ``(instance, weight)`` and neuron parameters over ``(instance, neuron)``.
    """
    instances = np.asarray(instances, dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    xw, yw, xn, yn = topo.positions(study.mismatch.pitch)
    syn, neu = block_params(study)
    for spec in syn:
        out[spec.name] = sample_parameter(study, spec, instances, topo.n_weights, (xw, yw))
    for spec in neu:
        out[spec.name] = sample_parameter(study, spec, instances, topo.n_neurons, (xn, yn))
    r = study.monte_carlo.w_init_range
    u = uniforms(study.monte_carlo.seed, STREAM_W_INIT, instances, np.arange(topo.n_weights))
    out["w_init"] = (2.0 * u - 1.0) * r
    return out
