"""Train in software, write into the chip: ``transfer``, ``transfer_then_tune`` and ``transfer_per_chip``."""

from __future__ import annotations

import time

import numpy as np

from mcaann.variability.mismatch import sample_instances
from mcaann.variability.rng import standard_normals, stream_id, uniforms

#: the instance key of the one software training of ``transfer`` (not a chip: its own stream)
SOFTWARE_INSTANCE = 0


def software_study(study):
    """The software model of ``study``'s chip: the same block equations and wiring, float64, no leakage or
    noise, one Euler step of ``T_row`` per row (teaching on throughout), ``training.software_epochs``
    epochs. Its block parameters are per-block arrays that the caller gives (nominal for ``transfer``, fitted
    per chip for ``transfer_per_chip``): one set of kernels serves both."""
    tr = study.training
    return study.at({
        "integrator.method": "euler", "integrator.dt": study.task.T_row, "integrator.dtype": "float64",
        "task.T_settle": 0.0, "noise.enabled": False, "leakage.enabled": False, "mismatch.enabled": True,
        "task.epochs": tr.software_epochs or study.task.epochs, "retention.hold_times": [],
    })


def nominal_parameters(study, topo, inst: np.ndarray) -> dict:
    """Every block of instances ``inst`` at its nominal value (at the chip temperature), no leakage."""
    return sample_instances(study.at({"mismatch.enabled": False, "leakage.enabled": False}), topo, inst)


def software_init(study, inst: np.ndarray, n_weights: int) -> np.ndarray:
    """Initial weights [V] of the software training: uniform in +-``w_init_range`` from their own stream."""
    u = uniforms(study.monte_carlo.seed, stream_id("software_w_init"), inst, np.arange(n_weights))
    return (2.0 * u - 1.0) * study.monte_carlo.w_init_range


def train_software(study, task, params: dict, threads: int | None = None) -> tuple[np.ndarray, dict]:
    """Train the software model with block parameters ``params`` (n blocks sets: one per chip, or one), every
    one from the same initial weights and row order (those of key ``SOFTWARE_INSTANCE``), so that only the
    parameters differ between them; the weights [V] and the training's record (curves, software accuracy on
    the training rows, wall and kernel time [s]). On ``threads`` threads (None: ``driver.default_threads``)."""
    from mcaann.engine.driver import Chip

    t0 = time.perf_counter()
    n = next(iter(params.values())).shape[0]
    keys = np.full(n, SOFTWARE_INSTANCE, np.int64)
    sw = Chip(study, task, params, keys, threads)
    out = sw.train(software_init(study, keys, sw.topo.n_weights), study.task.epochs)
    out["software_seconds"] = time.perf_counter() - t0
    out["software_kernel_seconds"] = sw.kernel_seconds
    out["model"] = sw
    return out["w"], out


def nominal_weights(study, task) -> tuple[np.ndarray, dict]:
    """The one software training of ``transfer``: nominal blocks, instance key ``SOFTWARE_INSTANCE``; weights
    (weights,) [V] and the record. Depends on no chip, so that every shard trains the same, bit for bit."""
    from mcaann.circuit.network import Topology

    sws = software_study(study)
    inst = np.array([SOFTWARE_INSTANCE], np.int64)
    w, rec = train_software(sws, task, nominal_parameters(study, Topology(tuple(study.network.layers)), inst))
    return w[0], rec


def write_weights(study, w_sw: np.ndarray, inst: np.ndarray) -> np.ndarray:
    """Software weights [V] (weights,) or (n, weights) as the chips hold them after writing: rounded to
    ``training.write_resolution``, plus a Gaussian write error ``training.write_sigma`` per weight (its own
    stream), clipped to the rails."""
    tr, c = study.training, study.circuit
    w = np.broadcast_to(w_sw, (inst.size, w_sw.shape[-1])).astype(np.float64)
    if tr.write_resolution > 0:
        w = np.round(w / tr.write_resolution) * tr.write_resolution
    if tr.write_sigma > 0:
        w = w + tr.write_sigma * standard_normals(study.monte_carlo.seed, stream_id("write"), inst,
                                                  np.arange(w.shape[1]))
    return np.clip(w, c.V_lo, c.V_hi)


def held(chip, w: np.ndarray, rec: dict | None = None) -> dict:
    """The outcome of a chip that does not train: weights ``w`` throughout, evaluated on the training and the
    held-out rows (the same value at every epoch)."""
    mse, acc = chip.evaluate(w, *chip.task.train)
    acc_h = chip.evaluate_held_out(w)[1]
    e = chip.study.task.epochs + 1
    out = {"w_init": w, "w": w, "mse": np.repeat(mse[:, None], e, 1), "accuracy": np.repeat(acc[:, None], e, 1),
           "accuracy_test": np.repeat(acc_h[:, None], e, 1),
           "diverged": ~np.all(np.isfinite(w), axis=1), "diverged_step": np.full(chip.n, -1, np.int64)}
    if rec is not None:
        out["software_seconds"] = rec["software_seconds"]
        out["software_kernel_seconds"] = rec["software_kernel_seconds"]
    return out


def give_weights(chip) -> dict:
    """Weights and learning curves of the chips ``chip`` by ``training.strategy`` (see ``mcaann.strategies``)."""
    study = chip.study
    strategy = study.training.strategy
    if strategy == "in_situ":
        out = chip.train(chip.params["w_init"], study.task.epochs)
        out["w_init"] = chip.params["w_init"]
        return out
    if strategy == "transfer_per_chip":
        from mcaann.strategies.fit import per_chip_weights

        w_sw, rec = per_chip_weights(chip)
        return held(chip, write_weights(study, w_sw, chip.inst), rec)
    w_sw, rec = nominal_weights(study, chip.task)  # one instance: one block, one thread
    if strategy == "rram":
        from mcaann.strategies.rram import program

        return program(chip, w_sw, rec)
    w = write_weights(study, w_sw, chip.inst)
    if strategy == "transfer":
        return held(chip, w, rec)
    if strategy == "transfer_then_tune":
        out = chip.train(w, study.task.epochs)
        out["w_init"] = w
        out["software_seconds"] = rec["software_seconds"]
        out["software_kernel_seconds"] = rec["software_kernel_seconds"]
        return out
    raise ValueError(f"training.strategy: unknown {strategy!r}")
