"""``transfer_per_chip`` (seed 001): measure each chip's forward blocks, fit its parameters, train against the
fitted chip in software.

Every forward multiplier is measured on a ``P x P`` grid of operating points (``P = training.measure_points``;
``a`` in [0, 1] V, ``b`` in [-0.5, 0.5] V) and every activation block at ``P`` input currents in
``+-3 I_ref``; each reading carries a Gaussian noise of ``training.measure_noise`` times the block's output
scale (``K_m x 1 V^2`` [A], ``V_amp`` [V]). A measurement is the block's equation (``circuit.blocks``) with
the chip's own parameters. The fit:

- multiplier ``K_I tanh(K_m (a + Voff_a)(b + Voff_b) / K_I) + I_off`` (every parameter of the forward
  multiplier: gain, input offsets, tail current, output mirror offset): a start from ``K_I atanh(M / K_I)`` at
  the nominal ``K_I`` fitted as bilinear, ``K_m (a + Voff_a)(b + Voff_b) + I_off``, by linear least squares,
  then Levenberg-Marquardt over all five (in ``1 / K_I^2``, ``K_m``, ...), batched over blocks. ``K_I`` is
  identified only by the tanh's curvature over the grid (about 8 % at the corners of the nominal block,
  ``|K_m a b| = K_I / 2``): noiseless readings recover it to rounding, noisy ones poorly (its error grows as
  the noise over that curvature), while the small-signal gain ``K_m`` and the output offset stay well
  determined and the input offsets to about the relative noise times 1 V. Linear multipliers
  (``K_I = inf``): the bilinear fit is exact and ``K_I`` does not exist;
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
#: Levenberg-Marquardt iterations of a saturating multiplier's fit (from the bilinear start: far more than needed)
LM_ITERATIONS = 30
#: a multiplier's fit has converged when its step is below this in every parameter (scaled: currents in units of
#: the output scale, offsets in V)
LM_STEP_TOL = 1e-13


def _noise(study, name: str, inst: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normals (n, blocks, points) of a measurement, from their own stream."""
    size = int(np.prod(shape))
    return standard_normals(study.monte_carlo.seed, stream_id(name), inst, np.arange(size)).reshape(
        (inst.size, *shape))


def _grid(p: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(np.linspace(0.0, 1.0, p), np.linspace(-0.5, 0.5, p), indexing="ij")
    return a.ravel(), b.ravel()


def _bilinear(design: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, ...]:
    """``K_m``, ``Voff_a``, ``Voff_b``, ``I_off`` (n, weights) of ``K_m (a + Voff_a)(b + Voff_b) + I_off`` fitted by
    least squares to ``u`` (n, weights, points) [A] at the grid's ``design`` rows ``(1, a, b, a b)``."""
    coef = np.linalg.lstsq(design, u.reshape(-1, design.shape[0]).T, rcond=None)[0].T.reshape(*u.shape[:2], 4)
    km = coef[..., 3]
    va, vb = coef[..., 2] / km, coef[..., 1] / km
    return km, va, vb, coef[..., 0] - km * va * vb


def _saturating(variant, a: np.ndarray, b: np.ndarray, m: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Levenberg-Marquardt fit of the multiplier ``K_I tanh(K_m (a + Voff_a)(b + Voff_b) / K_I) + I_off``
    (``blocks.multiplier``) to readings ``m`` (blocks, points) (currents in units of the output scale), batched over
    blocks, from ``theta = (1 / K_I^2, K_m, Voff_a, Voff_b, I_off)`` (blocks, 5) (voltages in V): in ``1 / K_I^2``
    the saturation enters at first order (``K_m p - K_m^3 p^3 / (3 K_I^2) + ...``), so that the valley along which
    ``K_I`` and ``K_m / K_I`` trade off in the tail current's own coordinates is gone. A step is kept only where it
    lowers the block's squared residual, and a block stops once its step is below ``LM_STEP_TOL`` in every
    parameter (at the optimum, rounding refuses such steps) or its damping has grown past any use."""

    def parts(th, mm):
        with np.errstate(invalid="ignore"):
            ki = 1.0 / np.sqrt(th[:, 0:1])  # NaN for a step to 1 / K_I^2 < 0: refused below
        col = {"ki_fwd": ki, "gm_fwd": th[:, 1:2] / ki, "va_fwd": th[:, 2:3], "vb_fwd": th[:, 3:4],
               "io_fwd": th[:, 4:5]}
        f = blocks.multiplier(variant, "fwd", a, b, lambda name: col[name])
        t = (f - col["io_fwd"]) / ki  # tanh(x), x = K_m (a + Voff_a)(b + Voff_b) / K_I
        r = mm - f
        return a + col["va_fwd"], b + col["vb_fwd"], t, r, np.einsum("bp,bp->b", r, r)

    theta = theta.copy()
    lam = np.full(theta.shape[0], 1e-3)
    active = np.arange(theta.shape[0])
    xa, xb, t, r, cost = parts(theta, m)
    for _ in range(LM_ITERATIONS):
        if active.size == 0:
            break
        th = theta[active]
        ki = 1.0 / np.sqrt(th[:, 0:1])
        sech2 = 1.0 - t * t
        x = th[:, 1:2] * xa * xb / ki
        hs = th[:, 1:2] * sech2
        cols = (-0.5 * ki**3 * (t - x * sech2), sech2 * xa * xb, hs * xb, hs * xa, np.ones_like(t))
        jtj = np.empty((active.size, 5, 5))
        for i in range(5):
            for j in range(i, 5):
                jtj[:, i, j] = jtj[:, j, i] = np.einsum("bp,bp->b", cols[i], cols[j])
        rhs = np.stack([np.einsum("bp,bp->b", c, r) for c in cols], axis=-1)
        # a parameter that does not move the readings (a block with a column of zeros, e.g. a gain clipped to
        # ~0) gets a floor on its damping, so that its step is 0 rather than the solve singular
        diag = np.einsum("bii->bi", jtj)
        diag = np.maximum(diag, 1e-12 * diag.max(axis=1, keepdims=True))
        damped = jtj + lam[active, None, None] * diag[:, :, None] * np.eye(5)
        step = np.linalg.solve(damped, rhs[..., None])[..., 0]
        txa, txb, tt, tr, tcost = parts(th + step, m[active])
        ok = np.isfinite(tcost) & (tcost <= cost)
        theta[active[ok]] = th[ok] + step[ok]
        lam[active] = np.where(ok, np.maximum(lam[active] / 10.0, 1e-12), lam[active] * 10.0)
        xa, xb, t, r = (np.where(ok[:, None], new, old) for new, old in ((txa, xa), (txb, xb), (tt, t), (tr, r)))
        cost = np.where(ok, tcost, cost)
        keep = (np.abs(step).max(axis=1) >= LM_STEP_TOL) & (lam[active] < 1e12)
        active, xa, xb, t, r, cost = active[keep], xa[keep], xb[keep], t[keep], r[keep], cost[keep]
    return theta


def fit_multipliers(study, variant, derived: dict, nominal: dict, inst: np.ndarray) -> dict:
    """Fitted ``km_fwd``, ``voffa_fwd``, ``voffb_fwd``, ``ioff_fwd`` [A] and (saturating multipliers) ``ki_fwd`` [A]
    (n, weights) of the chips with derived parameters ``derived``."""
    a, b = _grid(study.training.measure_points)
    q = {k: v[..., None] for k, v in derived.items()}  # (n, weights, 1): broadcast over the points
    m = blocks.multiplier(variant, "fwd", a, b, lambda name: q[name])
    scale = nominal["km_fwd"][..., None]  # the output scale K_m x 1 V^2 [A]
    if study.training.measure_noise > 0:
        m = m + study.training.measure_noise * scale * _noise(study, "measure_multiplier", inst, m.shape[1:])
    design = np.stack([np.ones_like(a), a, b, a * b], axis=1)  # (points, 4)
    if not variant.sat_mult:  # bilinear: exact by linear least squares
        km, va, vb, io = _bilinear(design, m)
        return {"km_fwd": km, "voffa_fwd": va, "voffb_fwd": vb, "ioff_fwd": io}
    ki0 = nominal["ki_fwd"][..., None]
    u = ki0 * np.arctanh(np.clip(m / ki0, -1 + 1e-12, 1 - 1e-12))  # the start: bilinear at the nominal K_I
    km, va, vb, io = _bilinear(design, u)
    s = scale[..., 0]
    theta = np.stack([(s / ki0[..., 0]) ** 2, km / s, va, vb, io / s], axis=-1).reshape(-1, 5)
    theta = _saturating(variant, a, b, (m / scale).reshape(-1, a.size), theta).reshape(*m.shape[:2], 5)
    return {"km_fwd": theta[..., 1] * s, "voffa_fwd": theta[..., 2], "voffb_fwd": theta[..., 3],
            "ki_fwd": s / np.sqrt(theta[..., 0]), "ioff_fwd": theta[..., 4] * s}


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
        # a block whose transition lies outside the grid leaves its parameters unidentified: a small ridge keeps
        # the solve regular (that block's fit stays near its start) instead of stopping every chip
        ridge = 1e-12 * (np.einsum("...ii->...", jtj)[..., None, None] + 1e-300) * np.eye(3)
        step = np.linalg.solve(jtj + ridge, rhs[..., None])[..., 0]
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
    return train_software(sws, chip.task, fitted_parameters(chip), chip.threads)
