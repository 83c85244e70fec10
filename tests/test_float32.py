"""float32 arithmetic with weights that keep increments below a float32 ulp: float64 states (fused kernels) or
compensated float32 pairs (layered kernels), MODEL.md section 6."""

import numpy as np

from mcaann.engine.driver import run_instances
from mcaann.study import load_study


def test_float32_keeps_a_slow_leak_that_float32_states_would_lose():
    # tau = C / G = 100 ms at dt = 1 ns: each step moves w by 1e-8 of itself, below float32's resolution
    ov = {"circuit.V_teach": 0.0, "noise.enabled": False, "mismatch.enabled": False, "leakage.sigma_ln": 0.0,
          "leakage.G_leak": 1e-12, "task.epochs": 5, "monte_carlo.w_init_range": 1.0}
    r64 = run_instances(load_study("xor_seed004", ov), 0, 64)
    r32 = run_instances(load_study("xor_seed004", {**ov, "integrator.dtype": "float32"}), 0, 64)
    decay = np.abs(r64.w_init - r64.w_final)
    assert decay.max() > 1e-6  # the leak did move the weights (2 us / 100 ms of |w|)
    # float32 drift, compensated accumulation: the decay is resolved to float32 precision of the increments
    np.testing.assert_allclose(r32.w_final - r32.w_init, r64.w_final - r64.w_init, rtol=1e-5, atol=1e-12)
    # what float32 states would give: no decay at all
    w32 = r64.w_init.astype(np.float32)
    assert np.all(w32 + np.float32(-1e-8) * w32 == w32)


def test_float32_training_tracks_float64():
    ov = {"task.epochs": 20}
    r64 = run_instances(load_study("xor_ideal", ov), 0, 64)
    r32 = run_instances(load_study("xor_ideal", {**ov, "integrator.dtype": "float32"}), 0, 64)
    np.testing.assert_allclose(r32.w_final, r64.w_final, atol=2e-4)
    np.testing.assert_allclose(r32.mse, r64.mse, rtol=2e-3, atol=1e-6)
