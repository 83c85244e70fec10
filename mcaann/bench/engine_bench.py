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
from mcaann.engine.driver import run_instances, study_task
from mcaann.engine.mathfn import sigmoid_float64
from mcaann.study import load_study

IDEAL = "xor_ideal"
#: the benchmark's common work: forward Euler at 1 ns (instance-steps of 1 ns)
EULER_1NS = {"integrator.method": "euler", "integrator.dt": 1e-9}
REALISTIC = "xor"


# The micro-kernels loop over whole arrays (views): a loop over range(lo, hi) of a larger array vectorises
# with gathers (Numba's negative-index wraparound), at under half the speed.
@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _exp_chunk(x, out):
    for i in range(x.shape[0]):  # the kernels' logistic function: one exp and one division
        out[i] = sigmoid_float64(x[i])


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
def _div_chunk(x, out):
    for i in range(x.shape[0]):
        out[i] = 1.0 / (1.0 + x[i] * x[i])


@njit(cache=True, parallel=True, error_model="numpy")
def _ceiling_kernel(kind, x, out, reps, nchunks):
    n = x.shape[0] // nchunks
    for c in prange(nchunks):
        xc, oc = x[c * n:(c + 1) * n], out[c * n:(c + 1) * n]
        for _ in range(reps):
            if kind == 0:
                _exp_chunk(xc, oc)
            elif kind == 1:
                _fma_chunk(xc, oc, 0.999, 1e-3)
            else:
                _div_chunk(xc, oc)


def machine_ceiling(threads: int) -> dict:
    """Vectorised logistic function, multiply-add and division throughput of this CPU [per second], in-cache."""
    numba.set_num_threads(threads)
    n, reps = 4096, 4000
    x = np.random.default_rng(0).uniform(-5, 5, n)
    out = np.zeros(n)
    rates = {}
    for kind, name, per in ((0, "sigmoid_per_s", 1), (1, "fma_per_s", FMA_CHUNK_OPS), (2, "div_per_s", 1)):
        _ceiling_kernel(kind, x, out, 1, threads)
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            _ceiling_kernel(kind, x, out, reps, threads)
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
    """The realistic study on a network of ``layers`` with 4 random rows (the rate does not depend on the data)."""
    path = os.path.join(folder, f"rows_{'_'.join(map(str, layers))}.csv")
    if not os.path.exists(path):
        rng = np.random.default_rng(0)
        cols = [f"x{i}" for i in range(layers[0])] + [f"t{j}" for j in range(layers[-1])]
        data = np.hstack([rng.uniform(0, 1, (4, layers[0])), rng.uniform(0.1, 0.9, (4, layers[-1]))])
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
                n = max(64, instances * 33 // nw)  # about the same work per run for every size
                t = time.perf_counter()
                run_instances(st, 0, n, threads)
                wall = time.perf_counter() - t
                rate = n * 2 * 4 * st.steps_per_row * nw / wall
                per_synapse[(layers, dtype)] = rate
                spec = kernel_spec(st)
                syn, neu, _ = derived_names(spec)
                width = 4 if dtype == "float32" else 8
                topo = Topology(layers)
                mem = nw * 8 * 2 + len(syn) * nw * width + len(neu) * topo.n_neurons * width + 2 * nw * 8
                rows.append((f"engine realistic {'-'.join(map(str, layers))}, {dtype}, {threads} thread(s): "
                             f"synapse-steps/s (first call {first:.1f} s, {mem} B/instance in the kernels)",
                             f"{rate:.3g}"))
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


def run_benchmark(quick: bool = False) -> list[tuple[str, str]]:
    """Every figure of the table, measured now; rows of (what, figure)."""
    cores = numba.config.NUMBA_NUM_THREADS
    inst = 1024 if quick else 4096
    rows: list[tuple[str, str]] = [("machine", f"{platform.processor() or platform.machine()}, {os.cpu_count()} "
                                               f"cores, numba {numba.__version__}")]
    rates = {}
    for name, label in ((IDEAL, "ideal"), (REALISTIC, "realistic")):
        for dtype in ("float64", "float32"):
            for th in sorted({1, cores}):
                r = engine_rate(name, dtype, th, inst)
                rates[(label, dtype, th)] = r
                rows.append((f"engine {label} XOR, {dtype}, {th} thread(s)", f"{r:.3g}"))
    for label, over in ABLATIONS:
        r = engine_rate(REALISTIC, "float64", 1, inst, overrides=over)
        rows.append((f"engine realistic XOR, {label}, float64, 1 thread", f"{r:.3g}"))
    rows.append(("engine 2 threads / 1 thread (ideal, float64)",
                 f"{rates[('ideal', 'float64', cores)] / rates[('ideal', 'float64', 1)]:.2f}x"))
    rows.append(("realistic / ideal (float64, all threads)",
                 f"{rates[('realistic', 'float64', cores)] / rates[('ideal', 'float64', cores)]:.2f}"))
    np_ideal = numpy_rate(IDEAL, 256 if quick else 1024)
    rows.append(("NumPy float64 vectorised, ideal XOR, 1 process", f"{np_ideal:.3g}"))
    ratio = rates[("ideal", "float64", cores)] / np_ideal
    rows.append(("engine / NumPy (ideal, float64, all threads)", f"{ratio:.0f}x"))
    sp = ngspice_rate(REALISTIC, 2 if quick else 5)
    if sp is None:
        rows.append(("ngspice, one instance", "ngspice not installed"))
    else:
        rows.append(("ngspice, one instance of the realistic XOR (noise off)", f"{sp:.3g}"))
        rows.append(("engine / ngspice per instance (realistic, float64, all threads)",
                     f"{rates[('realistic', 'float64', cores)] / sp:.0f}x"))
    for th in sorted({1, cores}):
        ceil = machine_ceiling(th)
        ops = op_count([2, 8, 1], saturating=False)
        t_step = ops["sigmoid"] / ceil["sigmoid_per_s"] + ops["fma"] / ceil["fma_per_s"]
        rows.append((f"ceiling, ideal XOR, {th} thread(s): {ops['sigmoid']} logistic + {ops['fma']} FMA per step",
                     f"{1 / t_step:.3g} (logistic {ceil['sigmoid_per_s']:.3g}/s, FMA {ceil['fma_per_s']:.3g}/s)"))
        rows.append((f"engine / ceiling (ideal, float64, {th} thread(s))",
                     f"{rates[('ideal', 'float64', th)] * t_step:.0%}"))
        if th == 1:  # what the realistic study's exponentials allow, noise aside
            ops = op_count([2, 8, 1], saturating=True, mismatch=True)
            t_real = ops["sigmoid"] / ceil["sigmoid_per_s"] + ops["fma"] / ceil["fma_per_s"]
            rows.append((f"ceiling, realistic XOR without noise, 1 thread: {ops['sigmoid']} logistic/tanh + "
                         f"{ops['fma']} FMA per step", f"{1 / t_real:.3g}"))
    rows += size_rows(cores, inst, quick)
    numba.set_num_threads(cores)
    return rows
