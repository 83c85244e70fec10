"""Shared fixtures: small studies and a textbook MLP written independently of the package."""

from __future__ import annotations

import numpy as np
import pytest


def textbook_gradient(layers, w_flat, x, t, v_amp, k_m, i_ref, v_bias):
    """dE/dw of E = 1/2 sum (y - t)^2 for y = V_amp sigmoid(K_m sum x w / I_ref), matrix form.

    Weights are flattened layer by layer, row (post) by row, bias first in each row.
    """
    Ws, k = [], 0
    for l in range(1, len(layers)):
        n = layers[l] * (layers[l - 1] + 1)
        Ws.append(w_flat[k:k + n].reshape(layers[l], layers[l - 1] + 1))
        k += n
    acts, pres = [np.concatenate([[v_bias], x])], []
    for W in Ws:
        z = k_m * W @ acts[-1] / i_ref
        pres.append(z)
        acts.append(np.concatenate([[v_bias], v_amp / (1 + np.exp(-z))]))
    grads = [None] * len(Ws)
    dE_dy = acts[-1][1:] - t
    for l in range(len(Ws) - 1, -1, -1):
        s = 1 / (1 + np.exp(-pres[l]))
        dE_dz = dE_dy * v_amp * s * (1 - s)
        grads[l] = np.outer(dE_dz * k_m / i_ref, acts[l])
        dE_dy = (Ws[l][:, 1:].T @ dE_dz) * k_m / i_ref
    return np.concatenate([g.ravel() for g in grads])


@pytest.fixture
def ideal_overrides():
    """Overrides that make any study ideal: no saturation, rails, mismatch, leakage or noise."""
    return {
        "circuit.K_I": float("inf"), "circuit.I_max": float("inf"),
        "circuit.V_lo": float("-inf"), "circuit.V_hi": float("inf"),
        "mismatch.enabled": False, "leakage.enabled": False, "noise.enabled": False,
    }


#: modules whose tests share no module fixture and are spread over the workers one by one; every other module
#: runs whole on one worker (``make test`` uses ``--dist loadgroup``), so its module fixtures are built once
SPREAD_MODULES = {"test_engine"}


def pytest_collection_modifyitems(items):
    for item in items:
        name = item.module.__name__.rpartition(".")[2]
        if name not in SPREAD_MODULES:
            item.add_marker(pytest.mark.xdist_group(name))
