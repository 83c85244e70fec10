"""Runs the generated kernels over instances: sampling, packing into blocks, threads.

Orchestration only; the physics is in the kernels (and in ``reference.py``). A run over
instances ``[start, stop)`` gives, for each instance, exactly the numbers it would get in any
other run: instances are padded to whole blocks, blocks are independent, and every random
number is keyed by the instance index (MODEL.md section 5).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mcaann.circuit.blocks import derive, noise_sigma, pump_conductance
from mcaann.circuit.network import Topology
from mcaann.circuit.operating_point import check_task_levels
from mcaann.circuit.settling import lag_parameters
from mcaann.engine.codegen import FUSE_MAX_WEIGHTS, KernelSpec, derived_names, noise_rows
from mcaann.engine.kernels import kernel_function
from mcaann.study.load import StudyError
from mcaann.tasks.datasets import TaskData, TaskDataError, load_task
from mcaann.units import K_BOLTZMANN
from mcaann.variability.leakage import hold
from mcaann.variability.mismatch import sample_instances
from mcaann.variability.rng import standard_normals, stream_id

#: fuse steps with saturating multipliers or mismatch too (slow to compile: see ``_fused``)
FUSE_SATURATING = False
FUSE_MISMATCH = False

#: Bytes of one row of a kernel block (one value per instance): eight 512-bit vectors, so that every loop over the
#: instances runs eight vector iterations in either dtype (float32 blocks of 64 lanes, four iterations a loop, ran
#: the realistic step about 5 % slower: docs/performance.md).
BLOCK_BYTES = 512
#: Instances per float64 kernel block (the vectorised inner dimension); ``block_lanes`` gives any dtype's.
BLOCK = BLOCK_BYTES // 8


def block_lanes(dtype) -> int:
    """Instances per kernel block of the compute dtype ``dtype`` (``"float32"``, ``"float64"`` or a NumPy type)."""
    return BLOCK_BYTES // np.dtype(dtype).itemsize


def kernel_spec(study) -> KernelSpec:
    """The code-generation key of a study."""
    c = study.circuit
    return KernelSpec(
        layers=tuple(study.network.layers),
        method=study.integrator.method,
        dtype=study.integrator.dtype,
        sat_mult=math.isfinite(c.K_I),
        sat_pump=math.isfinite(c.I_max),
        pump_g=pump_conductance(study) and study.network.learning == "backprop",
        leak=study.leakage.enabled,
        noise=study.noise.enabled,
        mismatch=study.mismatch.enabled,
        fused=_fused(study) and study.network.learning != "eqprop",
        block=block_lanes(study.integrator.dtype),
        rails=math.isfinite(c.V_lo) or math.isfinite(c.V_hi),
        learning=study.network.learning,
        **_eqprop_spec(study),
        **_lag_spec(study),
    )


def _eqprop_spec(study) -> dict:
    """The eqprop fields of the kernel key (none for backprop: its keys stay as they were)."""
    if study.network.learning != "eqprop":
        return {}
    from mcaann.engine.eqprop_reference import variant

    ep = study.eqprop
    return {"eq_device": ep.device, "eq_relax": ep.relax, "eq_sat_update": math.isfinite(ep.I_u_max),
            "eq_amplifier": ep.amplifier, "eq_clip": variant(study).clip}


def _lag_spec(study) -> dict:
    """The node-lag field of the kernel key (none without lags: the keys stay as they were)."""
    return {"lags": True} if study.settling.enabled and study.network.learning == "backprop" else {}


def _fused(study) -> bool:
    """Straight-line steps for small networks with linear blocks at their nominal values (saturation and
    mismatch off; rails, leakage and noise allowed). With saturating blocks (a tanh per multiplier and pump)
    or mismatch (hundreds of per-instance parameter reads) the straight-line step compiles in minutes rather
    than seconds (2 to 9 min for the 2-8-1 XOR, Euler to RK4) and runs little faster than the layered
    kernels (1.5e6 vs 1.35e6 instance-steps/s for the realistic XOR); ``FUSE_SATURATING`` and
    ``FUSE_MISMATCH`` turn them on anyway."""
    c = study.circuit
    small = Topology(tuple(study.network.layers)).n_weights <= FUSE_MAX_WEIGHTS
    sat = (math.isfinite(c.K_I) or math.isfinite(c.I_max)) and not FUSE_SATURATING
    mism = study.mismatch.enabled and not FUSE_MISMATCH
    return small and not sat and not mism and not study.settling.enabled


def derived_arrays(spec: KernelSpec, params: dict, i_leak0: float, n_blocks: int, dtype, study=None):
    """The kernels' derived parameters: per-synapse and per-neuron blocks (flat, lanes last) and scalars."""
    syn, neu, scal = derived_names(spec)
    if spec.learning == "eqprop":
        return _eqprop_arrays(study, params, n_blocks, dtype, spec.block, syn, neu)
    lags = None
    if spec.lags:
        n = params["c"].shape[0]
        lags = {k: np.broadcast_to(v, (n, v.size)) for k, v in
                lag_parameters(study, Topology(spec.layers)).items()}
    d = derive(spec.variant, params, i_leak0, lags)

    def flat(names):
        if not names:
            return np.zeros((n_blocks, 0), dtype)
        return _pack_many([d[nm] for nm in names], n_blocks, dtype, spec.block).reshape(n_blocks, -1)

    nom = np.empty(len(scal), dtype)
    for q, nm in enumerate(scal):
        v = np.asarray(d[nm])
        if not np.all(v == v.flat[0]):  # a scalar of the kernel must be one value for all blocks
            raise ValueError(f"derived parameter {nm} differs between blocks; it cannot be a kernel scalar")
        nom[q] = v.flat[0]
    return flat(syn), flat(neu), nom


def _eqprop_arrays(study, params: dict, n_blocks: int, dtype, lanes: int, syn: list[str], neu: list[str]):
    """``derived_arrays`` of the eqprop circuit: its derived parameters and the study scalars ``NOM``."""
    from mcaann.circuit import eqprop
    from mcaann.engine.eqprop_reference import Network

    net = Network(study, Topology(tuple(study.network.layers)), params)
    d, c, ep = net.d, net.const, study.eqprop
    dt = study.integrator.dt
    scalars = {"v_bias": c.v_bias, "v_mid": c.v_mid, "v_g0": c.v_g0, "i_s": c.i_s, "v_d": c.v_d, "beta": ep.beta,
               "inv_dt": 1.0 / dt, "tol": ep.newton_tol, "iters": ep.newton_iter,
               "n_free": round(ep.T_free / dt), "n_nudge": round(ep.T_nudge / dt),
               "v_out_lo": c.out_lo, "v_out_hi": c.out_hi, "v_knee": c.knee}
    nom = np.array([scalars[nm] for nm in eqprop.SCALARS], dtype)
    ds = _pack_many([d[nm] for nm in syn], n_blocks, dtype, lanes).reshape(n_blocks, -1)
    dn = _pack_many([d[nm] for nm in neu], n_blocks, dtype, lanes).reshape(n_blocks, -1)
    return ds, dn, nom


def study_task(study) -> TaskData:
    """The study's dataset, checked against the network's input and output sizes."""
    try:
        task = load_task(study.task.dataset, study.base_dir, study.task.split, study.task.split_seed,
                         full_scale=study.circuit.V_amp, target_scale=study.task.target_scale)
    except TaskDataError as exc:
        raise StudyError(f"task.{exc.field}: {exc}") from None
    try:
        check_task_levels(study, task.x, task.t)
    except ValueError as exc:
        raise StudyError(str(exc)) from None
    layers = study.network.layers
    if task.x.shape[1] != layers[0]:
        raise StudyError(
            f"network.layers: the first layer has {layers[0]} inputs, dataset "
            f"{task.name!r} has {task.x.shape[1]}"
        )
    if task.t.shape[1] != layers[-1]:
        raise StudyError(
            f"network.layers: the last layer has {layers[-1]} outputs, dataset "
            f"{task.name!r} has {task.t.shape[1]} targets"
        )
    return task


@dataclass
class InstanceResults:
    """Per-instance results of one point of a study, instances ``[start, stop)``."""

    start: int
    stop: int
    mse: np.ndarray  # (n, epochs + 1) [V^2]
    accuracy: np.ndarray  # (n, epochs + 1), NaN for regression
    w_init: np.ndarray  # (n, n_weights) [V]
    w_final: np.ndarray  # (n, n_weights) [V]
    diverged: np.ndarray  # (n,) bool
    diverged_step: np.ndarray  # (n,) int, -1 when not diverged
    params: dict[str, np.ndarray] = field(default_factory=dict)
    retention_mse: np.ndarray | None = None  # (n, hold_times)
    retention_accuracy: np.ndarray | None = None
    # per-instance outcome, from the full learning curves (see ``runner.finish_task``)
    final_mse: np.ndarray | None = None
    final_accuracy: np.ndarray | None = None
    converged: np.ndarray | None = None
    epochs_to_converge: np.ndarray | None = None
    accuracy_test: np.ndarray | None = None  # (n,) held-out accuracy of the final weights (NaN: no split)
    accuracy_test_curve: np.ndarray | None = None  # (n, epochs + 1) held-out accuracy, NaN where not evaluated
    kernel_seconds: float = 0.0  # wall time inside the compiled kernels (training and retention evaluation)
    software_seconds: np.ndarray | None = None  # (n,) software training wall time [s], shared out over the chips


def _pack(a: np.ndarray, n_blocks: int, dtype, lanes: int) -> np.ndarray:
    """(n, m) per-instance rows -> (n_blocks, m, lanes), padding with the last instance."""
    return _pack_many([a], n_blocks, dtype, lanes)[:, 0]


def _pack_many(arrays: list[np.ndarray], n_blocks: int, dtype, lanes: int) -> np.ndarray:
    """p arrays of (n, m) per-instance rows -> (n_blocks, p, m, lanes), written in place (no stacked copies),
    padding with the last instance."""
    n = arrays[0].shape[0]
    m = arrays[0].size // n
    out = np.empty((n_blocks, len(arrays), m, lanes), dtype)
    full = n // lanes
    for q, a in enumerate(arrays):
        a = a.reshape(n, m)
        out[:full, q] = a[: full * lanes].reshape(full, lanes, m).transpose(0, 2, 1)
        if full < n_blocks:
            tail = np.concatenate([a[full * lanes:], np.repeat(a[-1:], n_blocks * lanes - n, axis=0)])
            out[full, q] = tail.T
    return out


def _unpack(a: np.ndarray, n: int) -> np.ndarray:
    """(n_blocks, m, lanes) -> (n, m)."""
    return a.transpose(0, 2, 1).reshape(-1, a.shape[1])[:n]


def default_threads() -> int:
    """Threads that run blocks of instances when a caller names none: Numba's count (``NUMBA_NUM_THREADS``, by
    default the machine's cores)."""
    import numba

    return numba.config.NUMBA_NUM_THREADS


def each_block(call: Callable[[int], object], n_blocks: int, threads: int) -> None:
    """``call(b)`` for every block ``b < n_blocks`` on up to ``threads`` threads, blocks taken in turn.

    The kernels release the GIL, so the threads run them side by side; a block's results do not depend on which
    thread ran it or when. The threads are daemons: Ctrl-C or SIGTERM in the caller is not held up by them and
    stops them taking further blocks (a block that is running finishes in the background, unless the process
    exits). The first error is raised once the running blocks are done; blocks not yet started are skipped.
    """
    if threads <= 1 or n_blocks <= 1:
        for b in range(n_blocks):
            call(b)
        return
    lock = threading.Lock()
    todo = iter(range(n_blocks))
    errors: list[BaseException] = []

    def worker() -> None:
        while not errors:
            with lock:
                b = next(todo, None)
            if b is None:
                return
            try:
                call(b)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller
                errors.append(exc)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(min(threads, n_blocks))]
    try:
        for thread in pool:
            thread.start()
        for thread in pool:
            while thread.is_alive():
                thread.join(0.1)  # a wait with a timeout lets the caller's thread see Ctrl-C at once
    except BaseException as exc:  # KeyboardInterrupt, Terminated: no block starts after it
        errors.append(exc)
        raise
    if errors:
        raise errors[0]


class Chip:
    """The instances ``inst`` of one study point with their block parameters, packed for the kernels.

    The same class runs the chips (in situ training, evaluation) and the software model of a transfer
    strategy (``strategies.software_study``: the same kernels, with nominal or fitted parameters).
    """

    def __init__(self, study, task: TaskData, params: dict, inst: np.ndarray, threads: int | None = None):
        self.study, self.task, self.params, self.inst = study, task, params, inst
        self.threads = threads or default_threads()
        self.topo = Topology(tuple(study.network.layers))
        self.n = inst.size
        self.F = np.float32 if study.integrator.dtype == "float32" else np.float64
        self.spec = kernel_spec(study)
        self.lanes = self.spec.block
        self.n_blocks = -(-self.n // self.lanes)
        lk = study.leakage
        self.DS, self.DN, self.NOM = derived_arrays(self.spec, params, lk.I_leak0 if lk.enabled else 0.0,
                                                    self.n_blocks, self.F, study)
        self.thr = task.thresholds if task.is_classification else np.zeros(task.t.shape[1])
        self.kernel_seconds = 0.0

    def train(self, w0: np.ndarray, epochs: int) -> dict:
        """Train from weights ``w0`` (n, weights) [V] on the training rows: final weights, per-epoch evaluation
        MSE and accuracy (n, epochs + 1), the held-out accuracy ``accuracy_test`` (n, epochs + 1) at epoch 0,
        every ``output.keep_every``-th and the last (NaN at the others and without held-out rows), divergence
        flags and steps."""
        st, n, n_blocks, F = self.study, self.n, self.n_blocks, self.F
        c = st.circuit
        vt_rel = c.V_teach / c.V_teach_ref
        kT = K_BOLTZMANN * st.process.temperature
        dt = st.integrator.dt
        if st.noise.enabled and st.network.learning == "backprop":  # eqprop's noise: its derived arrays
            g_leak, kg, cap = self.params["g_leak"], self.params["kg"], self.params["c"]
            i0 = st.leakage.I_leak0 if st.leakage.enabled else 0.0
            ds_n = st.noise.density_scale
            sn_on = noise_sigma(kT, g_leak, kg, st.noise.gamma, vt_rel, dt, cap, i0, ds_n)
            sn_off = noise_sigma(kT, g_leak, kg, st.noise.gamma, 0.0, dt, cap, i0, ds_n)
        else:
            sn_on = sn_off = np.zeros_like(self.params["c"])
        pad = ((0, 0), (0, noise_rows(self.topo.n_weights) - self.topo.n_weights))  # whole Philox blocks
        lanes = self.lanes
        sn_on = _pack(np.pad(sn_on, pad), n_blocks, F, lanes)  # [V per unit normal], in the compute dtype
        sn_off = _pack(np.pad(sn_off, pad), n_blocks, F, lanes)
        inst_b = _pack(self.inst[:, None].astype(np.float64), n_blocks, np.float64, lanes)[:, 0, :].astype(np.uint64)
        w = _pack(w0, n_blocks, np.float64, lanes)
        mse = np.empty((n_blocks, epochs + 1, lanes))
        acc = np.empty((n_blocks, epochs + 1, lanes))
        div = np.zeros((n_blocks, lanes))
        div_step = np.full((n_blocks, lanes), -1, dtype=np.int64)
        acc_h = np.full((n_blocks, epochs + 1, lanes), np.nan)
        x, t = self.task.train
        xh, th = self.task.held_out
        x, t, thr, xh, th = x.astype(F), t.astype(F), self.thr.astype(F), xh.astype(F), th.astype(F)

        def args(b: int) -> tuple:
            return (w[b], self.DS[b], self.DN[b], self.NOM, x, t, thr, np.int64(self.task.decision),
                    st.task.order == "shuffled", epochs, st.steps_per_row, st.settle_steps, dt, vt_rel, c.V_bias,
                    c.V_lo, c.V_hi, st.leakage.V_rest, sn_on[b], sn_off[b], np.uint64(st.monte_carlo.seed),
                    inst_b[b], mse[b], acc[b], div[b], div_step[b], xh, th, np.int64(st.output.keep_every), acc_h[b])

        train_block = kernel_function(self.spec, "train_block", args(0))
        t_kernel = time.perf_counter()
        each_block(lambda b: train_block(*args(b)), n_blocks, self.threads)
        self.kernel_seconds += time.perf_counter() - t_kernel
        return {"w": _unpack(w, n), "mse": _unpack(mse, n), "accuracy": _unpack(acc, n),
                "accuracy_test": _unpack(acc_h, n),
                "diverged": _unpack(div[:, None, :], n)[:, 0] != 0,
                "diverged_step": _unpack(div_step[:, None, :], n)[:, 0]}

    def evaluate(self, w: np.ndarray, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Static evaluation of weights ``w`` (n, weights) [V] on rows ``x``, ``t``: MSE [V^2] and accuracy (n,)
        (NaN accuracy for regression or no rows)."""
        if x.shape[0] == 0:
            return np.full(self.n, np.nan), np.full(self.n, np.nan)
        F = self.F
        wb = _pack(w, self.n_blocks, np.float64, self.lanes)
        m = np.empty((self.n_blocks, self.lanes))
        a = np.empty((self.n_blocks, self.lanes))
        x, t, thr = x.astype(F), t.astype(F), self.thr.astype(F)

        def args(b: int) -> tuple:
            return (wb[b], self.DS[b], self.DN[b], self.NOM, x, t, thr, np.int64(self.task.decision),
                    self.study.circuit.V_bias, m[b], a[b])

        evaluate_block = kernel_function(self.spec, "evaluate_block", args(0))
        t_kernel = time.perf_counter()
        each_block(lambda b: evaluate_block(*args(b)), self.n_blocks, self.threads)
        self.kernel_seconds += time.perf_counter() - t_kernel
        return _unpack(m[:, None, :], self.n)[:, 0], _unpack(a[:, None, :], self.n)[:, 0]

    def evaluate_held_out(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """MSE and accuracy on the held-out rows (NaN without a split)."""
        return self.evaluate(w, *self.task.held_out)


def run_instances(study, start: int, stop: int, threads: int | None = None) -> InstanceResults:
    """Sample instances ``[start, stop)`` of one sweep point of ``study`` and give them their weights by the
    study's ``training.strategy`` (in situ training, or a transfer from software: ``mcaann.strategies``), the
    blocks of instances on ``threads`` threads (None: ``default_threads``); the results do not depend on it."""
    from mcaann.strategies import give_weights

    task = study_task(study)
    topo = Topology(tuple(study.network.layers))
    inst = np.arange(start, stop, dtype=np.int64)
    params = sample_instances(study, topo, inst)
    chip = Chip(study, task, params, inst, threads)
    out = give_weights(chip)
    res = InstanceResults(
        start=start,
        stop=stop,
        mse=out["mse"],
        accuracy=out["accuracy"],
        w_init=out["w_init"],
        w_final=out["w"],
        diverged=out["diverged"],
        diverged_step=out["diverged_step"],
        params={k: v for k, v in params.items() if k != "w_init"},
        accuracy_test=chip.evaluate_held_out(out["w"])[1],
        accuracy_test_curve=out["accuracy_test"],
        software_seconds=np.full(stop - start, out.get("software_seconds", 0.0) / max(stop - start, 1)),
    )
    if study.retention.hold_times:
        res.retention_mse, res.retention_accuracy = out["retention"](res) if "retention" in out else \
            _retention(study, chip, res)
    res.kernel_seconds = chip.kernel_seconds + out.get("software_kernel_seconds", 0.0)
    return res


def _retention(study, chip: Chip, res: InstanceResults):
    """Evaluation MSE and accuracy after each hold time (exact OU transition from w_final), on the held-out
    rows where the task holds rows out, else on the training rows."""
    lk = study.leakage
    kT = K_BOLTZMANN * study.process.temperature
    n = res.w_final.shape[0]
    inst = np.arange(res.start, res.stop)
    holds = study.retention.hold_times
    r_mse = np.empty((n, len(holds)))
    r_acc = np.empty((n, len(holds)))
    rows = chip.task.held_out if chip.task.has_split else chip.task.train
    for h, t in enumerate(holds):
        z = None
        if study.noise.enabled:
            z = math.sqrt(study.noise.density_scale) * standard_normals(
                study.monte_carlo.seed, stream_id(f"retention{h}"), inst, np.arange(res.w_final.shape[1]))
        w = hold(res.w_final, t, res.params["g_leak"], res.params["c"], lk.V_rest,
                 lk.I_leak0 if lk.enabled else 0.0, kT, z)
        w = np.clip(w, study.circuit.V_lo, study.circuit.V_hi)
        r_mse[:, h], r_acc[:, h] = chip.evaluate(w, *rows)
    return r_mse, r_acc
