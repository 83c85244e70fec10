"""``transfer_per_chip`` (seed 001): measure each chip's forward blocks, fit its parameters, train against the
fitted chip in software.

Every forward multiplier is measured on a ``P x P`` grid of operating points (``P = training.measure_points``;
``a`` in [0, 1] V, ``b`` in [-0.5, 0.5] V) and every activation block at ``P`` input currents in
``+-3 I_ref``; each reading carries a Gaussian noise of ``training.measure_noise`` times the block's output
scale (``K_m x 1 V^2`` [A], ``V_amp`` [V]). A measurement is the block's equation (``circuit.blocks``) with
the chip's own parameters. The fit:

- multiplier: ``K_I atanh(M / K_I)`` (``K_I`` taken at its nominal value) is bilinear,
  ``K_m (a + Voff_a)(b + Voff_b)``; its four coefficients by least squares give ``K_m``, ``Voff_a``,
  ``Voff_b``. Not fitted yet: the tail current's mismatch and the output mirror's offset current (``ki_fwd``,
  ``ioff_fwd``), which bias the fit on chips that have them;
- activation ``V_amp / (1 + exp(-(I - I_off) / I_ref))``: Gauss-Newton from the nominal values.

The software model is then the fitted forward path with the learning path at its nominal values and the
derivative block matched to the fitted activation, so that the software follows the fitted chip's gradient.
"""

from __future__ import annotations

import numpy as np

from mcaann.circuit import blocks
from mcaann.circuit.algebra import logistic_neg
from mcaann.variability.rng import standard_normals, stream_id

#: Gauss-Newton iterations of an activation fit (quadratic convergence from nominal: far more than needed)
GN_ITERATIONS = 30


def _noise(study, name: str, inst: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normals (n, blocks, points) of a measurement, from their own stream."""
    size = int(np.prod(shape))
    return standard_normals(study.monte_carlo.seed, stream_id(name), inst, np.arange(size)).reshape(
        (inst.size, *shape))


def _grid(p: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(np.linspace(0.0, 1.0, p), np.linspace(-0.5, 0.5, p), indexing="ij")
    return a.ravel(), b.ravel()


def fit_multipliers(study, variant, derived: dict, nominal: dict, inst: np.ndarray) -> dict:
    """Fitted ``km_fwd``, ``voffa_fwd``, ``voffb_fwd`` (n, weights) of the chips with derived parameters
    ``derived``."""
    a, b = _grid(study.training.measure_points)
    q = {k: v[..., None] for k, v in derived.items()}  # (n, weights, 1): broadcast over the points
    m = blocks.multiplier(variant, "fwd", a, b, lambda name: q[name])
    sigma = study.training.measure_noise * nominal["km_fwd"][..., None]
    if sigma.any():
        m = m + sigma * _noise(study, "measure_multiplier", inst, m.shape[1:])
    ki = nominal["ki_fwd"][..., None]
    u = ki * np.arctanh(np.clip(m / ki, -1 + 1e-12, 1 - 1e-12)) if variant.sat_mult else m
    design = np.stack([np.ones_like(a), a, b, a * b], axis=1)  # (points, 4)
    coef = np.linalg.lstsq(design, u.reshape(-1, a.size).T, rcond=None)[0].T.reshape(*u.shape[:2], 4)
    km = coef[..., 3]
    return {"km_fwd": km, "voffa_fwd": coef[..., 2] / km, "voffb_fwd": coef[..., 1] / km}


def fit_activations(study, derived: dict, nominal: dict, inst: np.ndarray) -> dict:
    """Fitted ``v_amp``, ``iref``, ``ioff`` (n, neurons) of the chips' activation blocks."""
    p = study.training.measure_points
    i_in = np.linspace(-3.0, 3.0, p) * nominal["iref"][..., None]  # (n, neurons, points) [A]
    q = {k: v[..., None] for k, v in derived.items()}
    y = blocks.activation(i_in, lambda name: q[name])
    sigma = study.training.measure_noise * nominal["v_amp"][..., None]
    if sigma.any():
        y = y + sigma * _noise(study, "measure_activation", inst, y.shape[1:])
    scale = nominal["iref"][..., None]  # currents in units of the nominal I_ref: a well-conditioned fit
    x = i_in / scale
    amp = nominal["v_amp"].copy()
    r, c = np.ones_like(amp), nominal["ioff"] / scale[..., 0]
    for _ in range(GN_ITERATIONS):
        u = (x - c[..., None]) / r[..., None]
        s = logistic_neg(-u)
        ds = s * (1.0 - s)
        jac = np.stack([s, -amp[..., None] * ds * u / r[..., None], -amp[..., None] * ds / r[..., None]], axis=-1)
        jtj = np.einsum("...pi,...pj->...ij", jac, jac)
        rhs = np.einsum("...pi,...p->...i", jac, y - amp[..., None] * s)
        step = np.linalg.solve(jtj, rhs[..., None])[..., 0]
        amp, r, c = amp + step[..., 0], r + step[..., 1], c + step[..., 2]
    r, c = r * scale[..., 0], c * scale[..., 0]
    return {"v_amp": amp, "iref": r, "ioff": c}


def fitted_parameters(chip) -> dict:
    """The software model's block parameters for each chip: fitted forward path, nominal learning path, the
    derivative block matched to the fitted activation."""
    from mcaann.strategies.transfer import nominal_parameters

    study = chip.study
    nominal = nominal_parameters(study, chip.topo, chip.inst)
    variant = blocks.Variant(sat_mult=chip.spec.sat_mult, sat_pump=chip.spec.sat_pump, leak=False, mismatch=True)
    derived = blocks.derive(variant, chip.params, 0.0)
    fitted = dict(nominal)
    fitted.update(fit_multipliers(study, variant, derived, nominal, chip.inst))
    fitted.update(fit_activations(study, derived, nominal, chip.inst))
    fitted["iref_d"], fitted["ioff_d"] = fitted["iref"], fitted["ioff"]
    return fitted


def per_chip_weights(chip) -> tuple[np.ndarray, dict]:
    """Software weights (n, weights) [V] trained against each fitted chip (from the initial weights and row order
    of ``transfer``'s training: at nominal chips the two agree), and the training's record."""
    from mcaann.strategies.transfer import software_study, train_software

    sws = software_study(chip.study)
    return train_software(sws, chip.task, fitted_parameters(chip))
