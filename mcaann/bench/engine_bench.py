"""The benchmark table: engine vs NumPy vs ngspice vs this machine's ceiling, one run, one machine.

Figures are instance-steps per second (one instance advanced by one ``dt``). The ceiling counts the
exponentials and arithmetic per instance-step of the XOR network and times them with vectorised
Numba micro-kernels on this CPU.
"""

from __future__ import annotations

import math
import os
import platform
import time

import numba
import numpy as np
from numba import njit, prange

from mcaann.circuit.network import Topology
from mcaann.cpu import vector_width
from mcaann.engine.driver import block_lanes, run_instances, study_task
from mcaann.engine.mathfn import (
    box_muller_float32,
    box_muller_float64,
    exp_float32,
    exp_float64,
    sat_float32,
    sat_float64,
    sigmoid_float32,
    sigmoid_float64,
)
from mcaann.study import load_study
from mcaann.variability.rng import philox4x32

IDEAL = "xor_ideal"
#: the benchmark's common work: forward Euler at 1 ns (instance-steps of 1 ns)
EULER_1NS = {"integrator.method": "euler", "integrator.dt": 1e-9}
REALISTIC = "xor"


# The micro-kernels loop over whole arrays (views): a loop over range(lo, hi) of a larger array vectorises
# with gathers (Numba's negative-index wraparound), at under half the speed. The kernels that call mathfn's
# functions are not cached: Numba's cache would not notice a change in mathfn and time the old functions.
UNCACHED = dict(cache=False, error_model="numpy", fastmath={"contract"})
#: floating-point operations per element of ``_fma_chunk``: 16 multiply-adds and 3 additions
FMA_CHUNK_OPS = 19


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _fma_chunk(x, out, a, c):
    for i in range(x.shape[0]):  # four independent chains of four multiply-adds, vectorised over i
        v0 = x[i]
        v1 = v0 * a + c
        v2 = v0 * c + a
        v3 = v0 * a + a
        v0 = v0 * c + c
        for _ in range(3):
            v0 = v0 * a + c
            v1 = v1 * a + c
            v2 = v2 * a + c
            v3 = v3 * a + c
        out[i] = (v0 + v1) + (v2 + v3)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _div_chunk(x, out, one):
    for i in range(x.shape[0]):
        out[i] = one / (one + x[i] * x[i])


def _ceiling_kernel_of(sigmoid, exp, sat, box_muller):
    """The parallel micro-kernel of one compute dtype, from that dtype's functions of ``mcaann.engine.mathfn``:
    ``kernel(kind, x, out, reps, nchunks, a, c, one)`` runs ``reps`` passes of one kind of work over ``x`` (of that
    dtype) in ``nchunks`` chunks; ``a``, ``c`` are the multiply-adds' constants and ``one`` the division's, of the
    same dtype."""

    @njit(**UNCACHED)
    def sigmoid_chunk(x, out):
        for i in range(x.shape[0]):  # the kernels' logistic function: one exp and one division
            out[i] = sigmoid(x[i])

    @njit(**UNCACHED)
    def exp_chunk(x, out):
        for i in range(x.shape[0]):
            out[i] = exp(x[i])

    @njit(**UNCACHED)
    def sat_chunk(x, out):
        for i in range(x.shape[0]):  # the kernels' tanh of a saturating block
            out[i] = sat(x[i])

    @njit(**UNCACHED)
    def normal_chunk(x, out, words, rep):
        n = x.shape[0] // 4
        for b in range(n):  # the kernels' noise: the Philox blocks' words in one loop, keyed as in the kernels, ...
            r0, r1, r2, r3 = philox4x32(np.uint64(b), np.uint64(0), np.uint64(rep), np.uint64(0), np.uint64(7),
                                        np.uint64(3))
            words[b] = r0
            words[n + b] = r1
            words[2 * n + b] = r2
            words[3 * n + b] = r3
        for b in range(n):  # ... four normals from each block's words in another
            z0, z1, z2, z3 = box_muller(words[b], words[n + b], words[2 * n + b], words[3 * n + b])
            out[b] = z0
            out[n + b] = z1
            out[2 * n + b] = z2
            out[3 * n + b] = z3

    @njit(cache=False, parallel=True, error_model="numpy")
    def kernel(kind, x, out, reps, nchunks, a, c, one):
        n = x.shape[0] // nchunks
        for ch in prange(nchunks):
            xc, oc = x[ch * n:(ch + 1) * n], out[ch * n:(ch + 1) * n]
            words = np.empty(n, np.uint32)
            for r in range(reps):
                if kind == 0:
                    sigmoid_chunk(xc, oc)
                elif kind == 1:
                    _fma_chunk(xc, oc, a, c)
                elif kind == 2:
                    _div_chunk(xc, oc, one)
                elif kind == 3:
                    exp_chunk(xc, oc)
                elif kind == 4:
                    sat_chunk(xc, oc)
                else:
                    normal_chunk(xc, oc, words, r)

    return kernel


_CEILING_KERNELS = {"float64": _ceiling_kernel_of(sigmoid_float64, exp_float64, sat_float64, box_muller_float64),
                    "float32": _ceiling_kernel_of(sigmoid_float32, exp_float32, sat_float32, box_muller_float32)}


@njit(**UNCACHED)
def _xor_ideal_block(W, X, T, epochs, steps, gm, nir, vamp, re, c_upd, dt, v_bias):
    """Euler steps of the ideal 2-8-1 XOR for 64 instances, W[k * 64 + b]: written by hand for this network."""
    for _ in range(epochs):
        for r in range(X.shape[0]):
            x0, x1, t0 = X[r, 0], X[r, 1], T[r, 0]
            for _s in range(steps):
                for b in range(64):
                    w0 = W[0 + b]
                    w1 = W[64 + b]
                    w2 = W[128 + b]
                    w3 = W[192 + b]
                    w4 = W[256 + b]
                    w5 = W[320 + b]
                    w6 = W[384 + b]
                    w7 = W[448 + b]
                    w8 = W[512 + b]
                    w9 = W[576 + b]
                    w10 = W[640 + b]
                    w11 = W[704 + b]
                    w12 = W[768 + b]
                    w13 = W[832 + b]
                    w14 = W[896 + b]
                    w15 = W[960 + b]
                    w16 = W[1024 + b]
                    w17 = W[1088 + b]
                    w18 = W[1152 + b]
                    w19 = W[1216 + b]
                    w20 = W[1280 + b]
                    w21 = W[1344 + b]
                    w22 = W[1408 + b]
                    w23 = W[1472 + b]
                    w24 = W[1536 + b]
                    w25 = W[1600 + b]
                    w26 = W[1664 + b]
                    w27 = W[1728 + b]
                    w28 = W[1792 + b]
                    w29 = W[1856 + b]
                    w30 = W[1920 + b]
                    w31 = W[1984 + b]
                    w32 = W[2048 + b]
                    s0 = sigmoid_float64(gm * (v_bias * w0 + x0 * w1 + x1 * w2) * nir)
                    d0 = s0 * (1.0 - s0)
                    s1 = sigmoid_float64(gm * (v_bias * w3 + x0 * w4 + x1 * w5) * nir)
                    d1 = s1 * (1.0 - s1)
                    s2 = sigmoid_float64(gm * (v_bias * w6 + x0 * w7 + x1 * w8) * nir)
                    d2 = s2 * (1.0 - s2)
                    s3 = sigmoid_float64(gm * (v_bias * w9 + x0 * w10 + x1 * w11) * nir)
                    d3 = s3 * (1.0 - s3)
                    s4 = sigmoid_float64(gm * (v_bias * w12 + x0 * w13 + x1 * w14) * nir)
                    d4 = s4 * (1.0 - s4)
                    s5 = sigmoid_float64(gm * (v_bias * w15 + x0 * w16 + x1 * w17) * nir)
                    d5 = s5 * (1.0 - s5)
                    s6 = sigmoid_float64(gm * (v_bias * w18 + x0 * w19 + x1 * w20) * nir)
                    d6 = s6 * (1.0 - s6)
                    s7 = sigmoid_float64(gm * (v_bias * w21 + x0 * w22 + x1 * w23) * nir)
                    d7 = s7 * (1.0 - s7)
                    ho = (vamp * s0 * w25 + vamp * s1 * w26 + vamp * s2 * w27 + vamp * s3 * w28
                          + vamp * s4 * w29 + vamp * s5 * w30 + vamp * s6 * w31 + vamp * s7 * w32)
                    so = sigmoid_float64(gm * (v_bias * w24 + ho) * nir)
                    do = (vamp * so - t0) * (so * (1.0 - so))
                    go = c_upd * do
                    gb = re * gm * do
                    gh0 = c_upd * (gb * w25 * d0)
                    gh1 = c_upd * (gb * w26 * d1)
                    gh2 = c_upd * (gb * w27 * d2)
                    gh3 = c_upd * (gb * w28 * d3)
                    gh4 = c_upd * (gb * w29 * d4)
                    gh5 = c_upd * (gb * w30 * d5)
                    gh6 = c_upd * (gb * w31 * d6)
                    gh7 = c_upd * (gb * w32 * d7)
                    W[0 + b] = w0 + dt * (gh0 * v_bias)
                    W[64 + b] = w1 + dt * (gh0 * x0)
                    W[128 + b] = w2 + dt * (gh0 * x1)
                    W[192 + b] = w3 + dt * (gh1 * v_bias)
                    W[256 + b] = w4 + dt * (gh1 * x0)
                    W[320 + b] = w5 + dt * (gh1 * x1)
                    W[384 + b] = w6 + dt * (gh2 * v_bias)
                    W[448 + b] = w7 + dt * (gh2 * x0)
                    W[512 + b] = w8 + dt * (gh2 * x1)
                    W[576 + b] = w9 + dt * (gh3 * v_bias)
                    W[640 + b] = w10 + dt * (gh3 * x0)
                    W[704 + b] = w11 + dt * (gh3 * x1)
                    W[768 + b] = w12 + dt * (gh4 * v_bias)
                    W[832 + b] = w13 + dt * (gh4 * x0)
                    W[896 + b] = w14 + dt * (gh4 * x1)
                    W[960 + b] = w15 + dt * (gh5 * v_bias)
                    W[1024 + b] = w16 + dt * (gh5 * x0)
                    W[1088 + b] = w17 + dt * (gh5 * x1)
                    W[1152 + b] = w18 + dt * (gh6 * v_bias)
                    W[1216 + b] = w19 + dt * (gh6 * x0)
                    W[1280 + b] = w20 + dt * (gh6 * x1)
                    W[1344 + b] = w21 + dt * (gh7 * v_bias)
                    W[1408 + b] = w22 + dt * (gh7 * x0)
                    W[1472 + b] = w23 + dt * (gh7 * x1)
                    W[1536 + b] = w24 + dt * (go * v_bias)
                    W[1600 + b] = w25 + dt * (go * vamp * s0)
                    W[1664 + b] = w26 + dt * (go * vamp * s1)
                    W[1728 + b] = w27 + dt * (go * vamp * s2)
                    W[1792 + b] = w28 + dt * (go * vamp * s3)
                    W[1856 + b] = w29 + dt * (go * vamp * s4)
                    W[1920 + b] = w30 + dt * (go * vamp * s5)
                    W[1984 + b] = w31 + dt * (go * vamp * s6)
                    W[2048 + b] = w32 + dt * (go * vamp * s7)


@njit(cache=False, parallel=True, error_model="numpy")
def _xor_ideal_blocks(W, X, T, epochs, steps, gm, nir, vamp, re, c_upd, dt, v_bias):
    for blk in prange(W.shape[0]):
        _xor_ideal_block(W[blk], X, T, epochs, steps, gm, nir, vamp, re, c_upd, dt, v_bias)


def hand_written_run(study, w_init: np.ndarray, epochs: int) -> np.ndarray:
    """Final weights (n, 33) of the hand-written ideal 2-8-1 XOR kernel (fixed order, Euler, no evaluation)."""
    c = study.circuit
    task = study_task(study)
    n = w_init.shape[0]
    nb = -(-n // 64)
    rows = np.zeros((nb * 64, 33))
    rows[:n] = w_init
    W = np.ascontiguousarray(rows.reshape(nb, 64, 33).transpose(0, 2, 1)).reshape(nb, 33 * 64)
    c_upd = -(1.0 / c.C) * c.R_e_eff * c.K_g * (c.V_teach / c.V_teach_ref) * c.K_m
    _xor_ideal_blocks(W, task.x, task.t, epochs, study.steps_per_row, c.K_m, -1.0 / c.I_ref, c.V_amp, c.R_e_eff,
                      c_upd, study.integrator.dt, c.V_bias)
    return W.reshape(nb, 33, 64).transpose(0, 2, 1).reshape(nb * 64, 33)[:n]


def hand_written_rate(threads: int, instances: int = 4096, min_seconds: float = 1.0) -> float:
    """Instance-steps per second of ``_xor_ideal_block`` on the ideal XOR study (Euler 1 ns)."""
    numba.set_num_threads(threads)
    st = load_study(IDEAL, {"task.epochs": 1, **EULER_1NS})
    w0 = np.random.default_rng(0).uniform(-0.5, 0.5, (instances, 33))
    hand_written_run(st, w0[:64], 1)
    epochs, wall = 1, 0.0
    while wall < min_seconds:
        t = time.perf_counter()
        hand_written_run(st, w0, epochs)
        wall = time.perf_counter() - t
        epochs *= 2 if wall < min_seconds else 1
    return instances * epochs * study_task(st).n_rows * st.steps_per_row / wall


def machine_ceiling(threads: int, dtype: str = "float64") -> dict:
    """Throughput of this CPU [per second], in-cache and vectorised, in the compute dtype ``dtype``: the kernels'
    logistic function, multiply-add, division, exponential, saturating tanh and normal deviate."""
    numba.set_num_threads(threads)
    kernel = _CEILING_KERNELS[dtype]
    F = np.dtype(dtype).type
    # runs of 30 to 70 ms, best of five: with 10-ms runs, best of three, a burst of load on the machine once timed
    # the saturating tanh at 1.56 exponentials (1.12 to 1.14 in four runs after)
    n, reps = 4096, 12000
    x = np.random.default_rng(0).uniform(-5, 5, n).astype(F)
    out = np.zeros(n, F)
    kinds = ((0, "sigmoid_per_s", 1), (1, "fma_per_s", FMA_CHUNK_OPS), (2, "div_per_s", 1), (3, "exp_per_s", 1),
             (4, "tanh_per_s", 1), (5, "normal_per_s", 1))
    rates = {}
    for kind, name, per in kinds:
        kernel(kind, x, out, 1, threads, F(0.999), F(1e-3), F(1.0))
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            kernel(kind, x, out, reps, threads, F(0.999), F(1e-3), F(1.0))
            best = min(best, time.perf_counter() - t)
        rates[name] = n * reps * per / best
    return rates


def op_count(layers, saturating: bool, mismatch: bool = False) -> dict:
    """Logistic functions, multiply-adds and divisions per instance-step (one Euler step, teaching on).

    What the equations need with nominal blocks: per neuron one logistic function (an exp and a division,
    ``sigmoid``; the derivative is s (1 - s) of the same one) and about 7 multiply-adds (gain, swing,
    derivative, error, delta, pump factor); per synapse the forward and update products, the Euler update
    and the finiteness test (4 multiply-adds), plus a backward product for synapses out of hidden neurons.
    Saturating blocks add a tanh (an exp and a division, counted as a ``sigmoid``, plus 3 multiply-adds)
    for every multiplier and pump. With mismatch the derivative block has its own logistic function.
    Noise (a Philox block and two Box-Muller transforms per four weights) is not counted.
    """
    topo = Topology(tuple(layers))
    nw, nn = topo.n_weights, topo.n_neurons
    n_bwd = sum(topo.layers[l] * topo.layers[l - 1] for l in range(2, len(layers)))
    sig = 2 * nn if mismatch else nn
    fmas = 4 * nw + 7 * nn + n_bwd
    if saturating:
        n_tanh = 2 * nw + n_bwd + nw
        sig += n_tanh
        fmas += 3 * n_tanh
    return {"sigmoid": sig, "fma": fmas, "div": 0}


#: the realistic study with one kind of non-ideality taken off at a time: where its time goes
ABLATIONS = (
    ("noise off", {"noise.enabled": False}),
    ("saturation off", {"circuit.K_I": float("inf"), "circuit.I_max": float("inf")}),
    ("mismatch off", {"mismatch.enabled": False}),
    ("noise and saturation off", {"noise.enabled": False, "circuit.K_I": float("inf"), "circuit.I_max": float("inf")}),
)


def engine_rate(name: str, dtype: str, threads: int, instances: int = 4096, epochs: int = 10,
                overrides: dict | None = None, min_seconds: float = 1.0) -> float:
    """Instance-steps per second of whole ``run_instances`` calls (sampling and packing included), best of two.

    Runs of ``epochs`` epochs, lengthened to whole multiples of it until one lasts ``min_seconds``, so that the
    per-run sampling and packing (about 0.05 s for 4096 instances) weigh little, as in a study of hundreds of
    epochs (the default is 300).
    """
    def study(ep):
        return load_study(name, {"integrator.dtype": dtype, "task.epochs": ep, **EULER_1NS, **(overrides or {})})

    st = study(epochs)
    run_instances(st, 0, 64, threads)  # compile / load
    t = time.perf_counter()
    run_instances(st, 0, instances, threads)
    t = time.perf_counter() - t
    if t < min_seconds:
        epochs *= math.ceil(min_seconds / t)
        st = study(epochs)
    wall = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        run_instances(st, 0, instances, threads)
        wall = min(wall, time.perf_counter() - t)
    return instances * epochs * study_task(st).n_rows * st.steps_per_row / wall


#: networks of real size for the per-synapse rows (realistic blocks)
SIZES = ((2, 8, 1), (4, 16, 3), (16, 32, 10), (64, 32, 10))


def _size_study(layers: tuple[int, ...], dtype: str, epochs: int, folder: str):
    """The realistic study on a network of ``layers`` with 4 random rows (the rate does not depend on the data), at
    the study's signal swing (``circuit.V_amp``)."""
    path = os.path.join(folder, f"rows_{'_'.join(map(str, layers))}.csv")
    if not os.path.exists(path):
        rng = np.random.default_rng(0)
        cols = [f"x{i}" for i in range(layers[0])] + [f"t{j}" for j in range(layers[-1])]
        swing = load_study(REALISTIC).circuit.V_amp
        data = swing * np.hstack([rng.uniform(0, 1, (4, layers[0])), rng.uniform(0.1, 0.9, (4, layers[-1]))])
        np.savetxt(path, data, delimiter=",", header=",".join(cols), comments="")
    return load_study(REALISTIC, {"network.layers": list(layers), "task.dataset": path, "task.epochs": epochs,
                                  "integrator.dtype": dtype, **EULER_1NS})


def size_rows(threads: int, instances: int, quick: bool) -> list[tuple[str, str]]:
    """Synapse-steps per second (instance-steps/s times weights) of realistic networks of real size, the time of
    the first call (compilation, or loading from the kernel cache) and the memory per instance."""
    import tempfile

    from mcaann.engine.codegen import derived_names
    from mcaann.engine.driver import kernel_spec

    rows, per_synapse = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for layers in SIZES:
            nw = Topology(layers).n_weights
            for dtype in ("float64", "float32"):
                st = _size_study(layers, dtype, 2, folder)
                t = time.perf_counter()
                run_instances(st, 0, 64, threads)
                first = time.perf_counter() - t
                # about the same work per run for every size, in whole blocks for every thread (a thread without
                # a block would idle: the rate is then one thread's)
                lanes = block_lanes(dtype)
                n = max(1, round(instances * 33 / nw / (lanes * threads))) * lanes * threads
                wall = float("inf")
                for _ in range(3):  # runs of a few tenths of a second: best of three, as a burst of load can halve one
                    t = time.perf_counter()
                    run_instances(st, 0, n, threads)
                    wall = min(wall, time.perf_counter() - t)
                rate = n * 2 * 4 * st.steps_per_row * nw / wall
                per_synapse[(layers, dtype)] = rate
                spec = kernel_spec(st)
                syn, neu, _ = derived_names(spec)
                width = 4 if dtype == "float32" else 8
                topo = Topology(layers)
                # weights (and their update), derived block parameters, noise scales on and off (compute dtype)
                mem = nw * 8 * 2 + len(syn) * nw * width + len(neu) * topo.n_neurons * width + 2 * nw * width
                rows.append((f"realistic {'-'.join(map(str, layers))}, {dtype}, {threads} thread(s), synapse-steps/s; "
                             f"first call {first:.0f} s, {mem} B/instance", f"{rate:.3g}"))
            if quick:
                break
    for dtype in ("float64", "float32"):
        big = per_synapse.get((SIZES[-1], dtype))
        if big is not None:
            rows.append((f"per-synapse rate 64-32-10 / 2-8-1 ({dtype})", f"{big / per_synapse[(SIZES[0], dtype)]:.2f}"))
    return rows


def numpy_rate(name: str, instances: int = 4096, epochs: int = 1) -> float:
    from mcaann.bench.numpy_baseline import train_euler
    from mcaann.variability.mismatch import sample_instances

    st = load_study(name, {"task.epochs": epochs, "noise.enabled": False, **EULER_1NS})
    topo = Topology(tuple(st.network.layers))
    params = sample_instances(st, topo, np.arange(instances))
    task = study_task(st)
    t = time.perf_counter()
    train_euler(st, topo, params, params["w_init"], task.x, task.t, epochs)
    wall = time.perf_counter() - t
    return instances * epochs * task.n_rows * st.steps_per_row / wall


def ngspice_rate(name: str, epochs: int = 5) -> float | None:
    from mcaann.spice.ngspice import ngspice_available, spice_final_weights

    if not ngspice_available():
        return None
    st = load_study(name, {"task.epochs": epochs, "noise.enabled": False, "integrator.method": "rk4"})
    t = time.perf_counter()
    spice_final_weights(st, 0, epochs)
    wall = time.perf_counter() - t
    return epochs * study_task(st).n_rows * st.steps_per_row / wall


def compile_seconds() -> tuple[float, float]:
    """Whole-process seconds of a small run of the default study with an empty kernel cache, and again warm."""
    import subprocess
    import sys
    import tempfile

    cmd = [sys.executable, "-c", "from mcaann.engine.driver import run_instances; from mcaann.study import "
           "load_study; run_instances(load_study('xor', {'task.epochs': 2}), 0, 64)"]
    out = []
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "MCAANN_KERNEL_CACHE": cache}
        for _ in range(2):
            t = time.perf_counter()
            subprocess.run(cmd, env=env, check=True)
            out.append(time.perf_counter() - t)
    return out[0], out[1]


def realistic_ops() -> dict:
    """Operation counts of one step of the realistic XOR (Euler, teaching on), noise included: one normal deviate
    per weight, rounded up to whole Philox blocks."""
    ops = op_count([2, 8, 1], saturating=True, mismatch=True)
    ops["normal"] = 4 * -(-Topology((2, 8, 1)).n_weights // 4)
    return ops


def realistic_seconds(ceiling: dict) -> float:
    """Seconds per instance-step of the realistic XOR at the rates ``ceiling`` (``machine_ceiling``'s)."""
    ops = realistic_ops()
    return (ops["sigmoid"] / ceiling["sigmoid_per_s"] + ops["fma"] / ceiling["fma_per_s"]
            + ops["normal"] / ceiling["normal_per_s"])


def run_benchmark(quick: bool = False) -> list[tuple[str, str]]:
    """Every figure of the table, measured now in one run; rows of (what, figure)."""
    cores = numba.config.NUMBA_NUM_THREADS
    inst = 1024 if quick else 4096
    rows: list[tuple[str, str]] = [("machine", f"{platform.processor() or platform.machine()}, {os.cpu_count()} "
                                               f"cores, {vector_width()} vectors, numba {numba.__version__}")]
    threads = sorted({1, cores})
    rates = {}
    for name, label in ((IDEAL, "ideal"), (REALISTIC, "realistic")):
        for dtype in ("float64", "float32"):
            for th in threads:
                r = engine_rate(name, dtype, th, inst)
                rates[(label, dtype, th)] = r
                rows.append((f"engine {label} XOR, {dtype}, {th} thread(s)", f"{r:.3g}"))
            if cores > 1:
                rows.append((f"  {cores} threads / 1 thread ({label}, {dtype})",
                             f"{rates[(label, dtype, cores)] / rates[(label, dtype, 1)]:.2f}x"))
        rows.append((f"  float32 / float64 ({label}, 1 thread)",
                     f"{rates[(label, 'float32', 1)] / rates[(label, 'float64', 1)]:.2f}x"))
    for label, over in ABLATIONS:
        r = engine_rate(REALISTIC, "float64", 1, inst, overrides=over)
        rows.append((f"engine realistic XOR, {label}, float64, 1 thread", f"{r:.3g}"))
    rows.append(("realistic / ideal (float64, all threads)",
                 f"{rates[('realistic', 'float64', cores)] / rates[('ideal', 'float64', cores)]:.2f}"))
    for th in threads:
        hand = hand_written_rate(th, inst)
        rows.append((f"hand-written ideal 2-8-1 kernel, float64, {th} thread(s)", f"{hand:.3g}"))
        rows.append((f"  engine / hand-written (ideal, float64, {th} thread(s))",
                     f"{rates[('ideal', 'float64', th)] / hand:.2f}"))
    ceil = {}
    for th in threads:
        ceil[th] = machine_ceiling(th)
    c1 = ceil[1]
    t_exp = 1.0 / c1["exp_per_s"]
    rows.append(("exponential, 1 thread (ns)", f"{1e9 * t_exp:.3g}"))
    rows.append(("  logistic function / exponential", f"{c1['exp_per_s'] / c1['sigmoid_per_s']:.2f}"))
    rows.append(("  saturating tanh / exponential", f"{c1['exp_per_s'] / c1['tanh_per_s']:.2f}"))
    rows.append(("  normal deviate / exponential", f"{c1['exp_per_s'] / c1['normal_per_s']:.2f}"))
    for th in threads:
        c = ceil[th]
        ops = op_count([2, 8, 1], saturating=False)
        t_step = ops["sigmoid"] / c["sigmoid_per_s"] + ops["fma"] / c["fma_per_s"]
        rows.append((f"ceiling, ideal XOR, {th} thread(s): {ops['sigmoid']} logistic + {ops['fma']} FMA per step",
                     f"{1 / t_step:.3g} (logistic {c['sigmoid_per_s']:.3g}/s, FMA {c['fma_per_s']:.3g}/s)"))
        rows.append((f"  engine / ceiling (ideal, float64, {th} thread(s))",
                     f"{rates[('ideal', 'float64', th)] * t_step:.0%}"))
        ops = realistic_ops()
        t_real = realistic_seconds(c)
        rows.append((f"ceiling, realistic XOR, {th} thread(s): {ops['sigmoid']} logistic/tanh + {ops['fma']} FMA + "
                     f"{ops['normal']} normals per step", f"{1 / t_real:.3g}"))
        rows.append((f"  engine / ceiling (realistic, float64, {th} thread(s))",
                     f"{rates[('realistic', 'float64', th)] * t_real:.0%}"))
    c32 = machine_ceiling(1, "float32")
    t_real32 = realistic_seconds(c32)
    rows.append(("ceiling, realistic XOR, float32, 1 thread (the same counts; logistic "
                 f"{c32['sigmoid_per_s']:.3g}/s, normal {c32['normal_per_s']:.3g}/s)", f"{1 / t_real32:.3g}"))
    rows.append(("  engine / ceiling (realistic, float32, 1 thread)",
                 f"{rates[('realistic', 'float32', 1)] * t_real32:.0%}"))
    rows.append(("  ceiling float32 / float64 (realistic, 1 thread)", f"{realistic_seconds(c1) / t_real32:.2f}x"))
    np_ideal = numpy_rate(IDEAL, 256 if quick else 1024)
    rows.append(("NumPy float64 vectorised, ideal XOR, 1 process", f"{np_ideal:.3g}"))
    rows.append(("  engine / NumPy (ideal, float64, all threads)",
                 f"{rates[('ideal', 'float64', cores)] / np_ideal:.0f}x"))
    sp = ngspice_rate(REALISTIC, 2 if quick else 5)
    if sp is None:
        rows.append(("ngspice, one instance", "ngspice not installed"))
    else:
        rows.append(("ngspice, one instance of the realistic XOR (noise off)", f"{sp:.3g}"))
        rows.append(("  engine / ngspice per instance (realistic, float64, all threads)",
                     f"{rates[('realistic', 'float64', cores)] / sp:.0f}x"))
    rows += size_rows(cores, inst, quick)
    if not quick:
        cold, warm = compile_seconds()
        rows.append(("default study, 64 instances x 2 epochs, empty kernel cache (s, whole process)", f"{cold:.1f}"))
        rows.append(("  the same again, warm kernel cache (s, whole process)", f"{warm:.1f}"))
    numba.set_num_threads(cores)
    return rows
