"""Weights as RRAM conductance pairs programmed from software (seed 003; ``training.strategy = "rram"``).

A weight ``w`` [V] of the software solution becomes the pair ``G+ = G_max max(w, 0) / w_max``,
``G- = G_max max(-w, 0) / w_max`` (``w_max`` the largest ``|w|`` of the solution), each rounded to one of
``levels`` evenly spaced conductances from 0 (RESET, a true zero) to ``G_max``; a set level lands with a
Gaussian programming spread (``spread`` [S], never below 0); the conductance drifts as
``G(t) = G0 (max(t, t0) / t0)^-nu``; each read of a device adds a relative Gaussian noise ``read_noise``.
The chip reads the pair's current difference as the weight ``w_max (G+ - G-) / G_max`` [V] into the
same forward path (its multipliers, activations and their mismatch), so the chips stay paired with the
other strategies.
"""

from __future__ import annotations

import numpy as np

from mcaann.variability.rng import standard_normals, stream_id


def drift(g0: np.ndarray, t: float, t0: float, nu: float) -> np.ndarray:
    """Conductance [S] at time ``t`` [s] after programming: ``G0 (max(t, t0) / t0)^-nu``."""
    return g0 * (max(t, t0) / t0) ** -nu


def quantise(g: np.ndarray, g_max: float, levels: int) -> np.ndarray:
    """``g`` [S] rounded to the nearest of ``levels`` evenly spaced conductances in ``[0, G_max]`` (0: as is)."""
    if levels == 0:
        return g
    step = g_max / (levels - 1)
    return np.round(g / step) * step


def conductances(study, w_sw: np.ndarray, inst: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Programmed conductances ``G0`` [S] (n, weights) of the positive and negative device of every weight,
    and ``w_max`` [V]."""
    r = study.rram
    w_max = float(np.max(np.abs(w_sw))) or 1.0
    seed = study.monte_carlo.seed
    idx = np.arange(w_sw.shape[-1])
    out = []
    for sign, name in ((1.0, "rram_program_pos"), (-1.0, "rram_program_neg")):
        target = quantise(r.G_max * np.maximum(sign * w_sw, 0.0) / w_max, r.G_max, r.levels)
        g = np.broadcast_to(target, (inst.size, idx.size)).astype(np.float64)
        if r.spread > 0:
            z = standard_normals(seed, stream_id(name), inst, idx)
            g = np.where(g > 0, np.maximum(g + r.spread * z, 0.0), 0.0)  # RESET stays a true zero
        out.append(g)
    return out[0], out[1], w_max


def read_weights(study, g_pos, g_neg, w_max: float, t: float, inst: np.ndarray, read: str) -> np.ndarray:
    """The weights [V] the chip reads at time ``t`` [s] after programming (drift, then read noise from stream
    ``read``), clipped to the rails."""
    r, c = study.rram, study.circuit
    gp, gn = drift(g_pos, t, r.t0, r.nu), drift(g_neg, t, r.t0, r.nu)
    if r.read_noise > 0:
        seed, idx = study.monte_carlo.seed, np.arange(g_pos.shape[1])
        gp = gp * (1.0 + r.read_noise * standard_normals(seed, stream_id(read + "_pos"), inst, idx))
        gn = gn * (1.0 + r.read_noise * standard_normals(seed, stream_id(read + "_neg"), inst, idx))
    return np.clip(w_max * (gp - gn) / r.G_max, c.V_lo, c.V_hi)


def program(chip, w_sw: np.ndarray, rec: dict) -> dict:
    """Outcome of the ``rram`` strategy: the chips evaluated at ``rram.t_read`` after programming, and their
    retention at ``t_read + hold`` (drift, a fresh read) on the held-out rows where the task has them."""
    from mcaann.strategies.transfer import held

    study, inst = chip.study, chip.inst
    g_pos, g_neg, w_max = conductances(study, w_sw, inst)
    t_read = study.rram.t_read
    out = held(chip, read_weights(study, g_pos, g_neg, w_max, t_read, inst, "rram_read"), rec)

    def retention(res):
        holds = study.retention.hold_times
        rows = chip.task.held_out if chip.task.has_split else chip.task.train
        r_mse, r_acc = np.empty((chip.n, len(holds))), np.empty((chip.n, len(holds)))
        for h, t in enumerate(holds):
            w = read_weights(study, g_pos, g_neg, w_max, t_read + t, inst, f"rram_read{h}")
            r_mse[:, h], r_acc[:, h] = chip.evaluate(w, *rows)
        return r_mse, r_acc

    out["retention"] = retention
    return out
