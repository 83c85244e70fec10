"""Code generation of Numba kernels specialised to one network shape and circuit variant.

As Brian2 does, the equations are turned into plain Python source for one network shape,
integrator, dtype and set of ideal blocks, so that layer sizes are constants, ideal blocks
cost nothing and the instance loop (innermost, over a block of ``B`` instances) vectorises.
The source is written to a file under the kernel cache and imported from there, so that
Numba's ``cache=True`` keeps the compiled code between launches.

Array layout (instance index last, one block of ``B`` instances per kernel call):
``w[k, b]`` weights (float64 always: a step's update can be below float32 resolution),
``P[p, k, b]`` synapse parameters in ``SYNAPSE_PARAMS`` order, ``Q[p, n, b]`` neuron
parameters in ``NEURON_PARAMS`` order, both in the compute dtype.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from mcaann.circuit.blocks import NEU_INDEX, SYN_INDEX

CODEGEN_VERSION = "8"


@dataclass(frozen=True)
class KernelSpec:
    """Everything that changes the generated code (and nothing that does not)."""

    layers: tuple[int, ...]
    method: str  # euler | heun | rk4
    dtype: str  # float64 | float32
    sat_mult: bool  # multipliers saturate (finite K_I)
    sat_pump: bool  # charge pump saturates (finite I_max)
    leak: bool
    noise: bool

    def key(self) -> str:
        text = repr(sorted(asdict(self).items())) + CODEGEN_VERSION
        return hashlib.sha1(text.encode()).hexdigest()[:16]


class _Src:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ind = 0

    def __call__(self, line: str = "") -> None:
        self.lines.append("    " * self.ind + line if line else "")

    def indent(self):
        src = self

        class _Ctx:
            def __enter__(self):
                src.ind += 1

            def __exit__(self, *a):
                src.ind -= 1

        return _Ctx()

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _mult(spec: KernelSpec, tag: str, a: str, b: str, k: str) -> str:
    km, va, vb, ki = (SYN_INDEX[f"{n}_{tag}"] for n in ("km", "voffa", "voffb", "ki"))
    prod = f"P[{km}, {k}, b] * ({a} + P[{va}, {k}, b]) * ({b} + P[{vb}, {k}, b])"
    if spec.sat_mult:
        return f"P[{ki}, {k}, b] * SAT(({prod}) / P[{ki}, {k}, b])"
    return prod


def _forward(src: _Src, spec: KernelSpec, wsrc: str, with_derivative: bool) -> None:
    """Forward pass into act{l} (bias first) and, optionally, the derivatives dd."""
    L = len(spec.layers) - 1
    woff, noff = 0, 0
    for l in range(1, L + 1):
        npre, npost = spec.layers[l - 1], spec.layers[l]
        src(f"# layer {l}: {npre} -> {npost}")
        src(f"for j in range({npost}):")
        with src.indent():
            src("for b in range(B):")
            with src.indent():
                src("acc[b] = ZERO")
            src(f"for i in range({npre + 1}):")
            with src.indent():
                src(f"k = {woff} + j * {npre + 1} + i")
                src("for b in range(B):")
                with src.indent():
                    src(f"acc[b] += {_mult(spec, 'fwd', f'act{l - 1}[i, b]', f'F({wsrc}[k, b])', 'k')}")
            src(f"n = {noff} + j")
            src("for b in range(B):")
            with src.indent():
                q = NEU_INDEX
                src(f"act{l}[j + 1, b] = Q[{q['v_amp']}, n, b] / (ONE + EXP(-(acc[b] - Q[{q['ioff']}, n, b]) / Q[{q['iref']}, n, b]))")
            if with_derivative:  # its own loop: one store per loop keeps LLVM's alias checks few
                src("for b in range(B):")
                with src.indent():
                    src(f"s = ONE / (ONE + EXP(-(acc[b] - Q[{q['ioff_d']}, n, b]) / Q[{q['iref_d']}, n, b]))")
                    src(f"dd[n, b] = Q[{q['a_d']}, n, b] * s * (ONE - s)")
        woff += npost * (npre + 1)
        noff += npost


def _offsets(layers):
    wo, no, w, n = [], [], 0, 0
    for l in range(1, len(layers)):
        wo.append(w)
        no.append(n)
        w += layers[l] * (layers[l - 1] + 1)
        n += layers[l]
    return wo, no


def _drift(src: _Src, spec: KernelSpec) -> None:
    """``def drift(...)``: kout = dw/dt [V/s] (compute dtype) for weights wsrc, gate vt."""
    L = len(spec.layers) - 1
    wo, no = _offsets(spec.layers)
    q, p = NEU_INDEX, SYN_INDEX
    acts = ", ".join(f"act{l}" for l in range(L + 1))
    src("@njit(cache=True, error_model='numpy')")
    src(f"def drift(wsrc, kout, vt, P, Q, tgt, {acts}, acc, dd, delta, v_rest, i_leak0, B):")
    with src.indent():
        src("if vt != ZERO:")
        with src.indent():
            _forward(src, spec, "wsrc", True)
            src(f"# output error and delta (layer {L})")
            src(f"for j in range({spec.layers[L]}):")
            with src.indent():
                src(f"n = {no[L - 1]} + j")
                src("for b in range(B):")
                with src.indent():
                    src(f"e = act{L}[j + 1, b] - tgt[j, b] + Q[{q['voff_e']}, n, b]")
                    src(f"delta[n, b] = Q[{q['a_delta']}, n, b] * e * dd[n, b] + Q[{q['voff_delta']}, n, b]")
            for l in range(L - 1, 0, -1):
                src(f"# hidden error and delta (layer {l})")
                src(f"for h in range({spec.layers[l]}):")
                with src.indent():
                    src("for b in range(B):")
                    with src.indent():
                        src("acc[b] = ZERO")
                    src(f"for m in range({spec.layers[l + 1]}):")
                    with src.indent():
                        src(f"k = {wo[l]} + m * {spec.layers[l] + 1} + h + 1")
                        src(f"nm = {no[l]} + m")
                        src("for b in range(B):")
                        with src.indent():
                            src(f"acc[b] += {_mult(spec, 'bwd', 'delta[nm, b]', 'F(wsrc[k, b])', 'k')}")
                    src(f"n = {no[l - 1]} + h")
                    src("for b in range(B):")
                    with src.indent():
                        src(f"e = Q[{q['re_err']}, n, b] * acc[b] + Q[{q['voff_e']}, n, b]")
                        src(f"delta[n, b] = Q[{q['a_delta']}, n, b] * e * dd[n, b] + Q[{q['voff_delta']}, n, b]")
            src("# gradient voltage, charge pump, leakage, capacitor")
            for l in range(1, L + 1):
                npre = spec.layers[l - 1]
                src(f"for j in range({spec.layers[l]}):")
                with src.indent():
                    src(f"n = {no[l - 1]} + j")
                    src(f"for i in range({npre + 1}):")
                    with src.indent():
                        src(f"k = {wo[l - 1]} + j * {npre + 1} + i")
                        # two loops, so that each reads few enough arrays for LLVM to vectorise it
                        # (its runtime alias checks stop at 8 pointers)
                        src("for b in range(B):")
                        with src.indent():
                            src(f"acc[b] = P[{p['re_upd']}, k, b] * ({_mult(spec, 'upd', 'delta[n, b]', f'act{l - 1}[i, b]', 'k')})")
                        src("for b in range(B):")
                        with src.indent():
                            src(f"x = P[{p['kg']}, k, b] * vt * acc[b]")
                            if spec.sat_pump:
                                src(f"ichg = -P[{p['imax']}, k, b] * SAT(x / P[{p['imax']}, k, b])")
                            else:
                                src("ichg = -x")
                            if spec.leak:
                                src(f"ichg -= P[{p['g_leak']}, k, b] * (F(wsrc[k, b]) - v_rest) + i_leak0")
                            src(f"kout[k, b] = ichg / P[{p['c']}, k, b]")
        src("else:")
        with src.indent():
            nw = sum(spec.layers[l] * (spec.layers[l - 1] + 1) for l in range(1, L + 1))
            src(f"for k in range({nw}):")
            with src.indent():
                src("for b in range(B):")
                with src.indent():
                    if spec.leak:
                        src(f"kout[k, b] = -(P[{p['g_leak']}, k, b] * (F(wsrc[k, b]) - v_rest) + i_leak0) / P[{p['c']}, k, b]")
                    else:
                        src("kout[k, b] = ZERO")


def _evaluate(src: _Src, spec: KernelSpec) -> None:
    """``def evaluate(...)``: static forward pass over all rows, no teaching, no noise."""
    L = len(spec.layers) - 1
    n_in, n_out = spec.layers[0], spec.layers[-1]
    acts = ", ".join(f"act{l}" for l in range(L + 1))
    src("@njit(cache=True, error_model='numpy')")
    src(f"def evaluate(w, P, Q, X, T, thr, is_class, {acts}, acc, se, correct, B):")
    with src.indent():
        src('"""Per-instance MSE [V^2] and accuracy of weights w over all rows."""')
        src("for b in range(B):")
        with src.indent():
            src("se[b] = 0.0")
            src("correct[b] = 0.0")
        src("for r in range(X.shape[0]):")
        with src.indent():
            src(f"for i in range({n_in}):")
            with src.indent():
                src("for b in range(B):")
                with src.indent():
                    src("act0[i + 1, b] = X[r, i]")
            _forward(src, spec, "w", False)
            src("for b in range(B):")
            with src.indent():
                src("ok = 1.0")
                for j in range(n_out):
                    src(f"y = act{L}[{j + 1}, b]")
                    src(f"se[b] += (y - T[r, {j}]) * (y - T[r, {j}])")
                    src(f"if (y > thr[{j}]) != (T[r, {j}] > thr[{j}]):")
                    with src.indent():
                        src("ok = 0.0")
                src("correct[b] += ok")
        src("for b in range(B):")
        with src.indent():
            src(f"se[b] = se[b] / (X.shape[0] * {n_out})")
            src("correct[b] = correct[b] / X.shape[0] if is_class else np.nan")


def _step(src: _Src, spec: KernelSpec) -> None:
    """The integrator step inside the time loop: wnew = w + increment (+ noise)."""
    L = len(spec.layers) - 1
    acts = ", ".join(f"act{l}" for l in range(L + 1))
    dargs = f"vt, P, Q, tgt, {acts}, acc, dd, delta, v_rest, i_leak0, B"
    nw = sum(spec.layers[l] * (spec.layers[l - 1] + 1) for l in range(1, L + 1))
    if spec.noise:
        src("lo = step & 0xFFFFFFFF")
        src("hi = step >> 32")
        src("sn = sn_on if vt != ZERO else sn_off")
        src(f"for kp in range({nw // 2}):")
        with src.indent():
            src("for b in range(B):")
            with src.indent():
                src("z0, z1 = normal_pair(inst[b], kp, lo, hi, seed, STREAM_NOISE)")
                src("dW[2 * kp, b] = z0 * sn[2 * kp, b]")
                src("dW[2 * kp + 1, b] = z1 * sn[2 * kp + 1, b]")
        if nw % 2:
            src("for b in range(B):")
            with src.indent():
                src(f"z0, z1 = normal_pair(inst[b], {nw // 2}, lo, hi, seed, STREAM_NOISE)")
                src(f"dW[{nw - 1}, b] = z0 * sn[{nw - 1}, b]")
    noise = " + dW[k, b]" if spec.noise else ""
    src(f"drift(w, k1, {dargs})")
    if spec.method == "euler":
        src(f"for k in range({nw}):")
        with src.indent():
            src("for b in range(B):")
            with src.indent():
                src(f"wn[k, b] = w[k, b] + dt * k1[k, b]{noise}")
    elif spec.method == "heun":
        src(f"for k in range({nw}):")
        with src.indent():
            src("for b in range(B):")
            with src.indent():
                src(f"ws[k, b] = w[k, b] + dt * k1[k, b]{noise}")
        src(f"drift(ws, k2, {dargs})")
        src(f"for k in range({nw}):")
        with src.indent():
            src("for b in range(B):")
            with src.indent():
                src(f"wn[k, b] = w[k, b] + (0.5 * dt) * (np.float64(k1[k, b]) + np.float64(k2[k, b])){noise}")
    elif spec.method == "rk4":
        for kin, kout, h in (("k1", "k2", "0.5 * dt"), ("k2", "k3", "0.5 * dt"), ("k3", "k4", "dt")):
            src(f"for k in range({nw}):")
            with src.indent():
                src("for b in range(B):")
                with src.indent():
                    src(f"ws[k, b] = w[k, b] + ({h}) * {kin}[k, b]")
            src(f"drift(ws, {kout}, {dargs})")
        src(f"for k in range({nw}):")
        with src.indent():
            src("for b in range(B):")
            with src.indent():
                src("wn[k, b] = w[k, b] + (dt / 6.0) * (np.float64(k1[k, b]) + 2.0 * np.float64(k2[k, b]) + 2.0 * np.float64(k3[k, b]) + np.float64(k4[k, b]))")
    src("# a non-finite weight marks its instance diverged and freezes it; then the rails")
    src("for b in range(B):")
    with src.indent():
        src("fin[b] = 1.0 - div[b]")
    src(f"for k in range({nw}):")
    with src.indent():
        src("for b in range(B):")
        with src.indent():
            src("if not (abs(wn[k, b]) <= 1.7976931348623157e308):")
            with src.indent():
                src("fin[b] = 0.0")
    src(f"for k in range({nw}):")
    with src.indent():
        src("for b in range(B):")
        with src.indent():
            src("if fin[b] != 0.0:")
            with src.indent():
                src("w[k, b] = min(max(wn[k, b], v_lo), v_hi)")
    src("for b in range(B):")
    with src.indent():
        src("if fin[b] == 0.0 and div[b] == 0.0:")
        with src.indent():
            src("div[b] = 1.0")
            src("div_step[b] = step")


def generate(spec: KernelSpec) -> str:
    """Python source of the kernels for ``spec``."""
    L = len(spec.layers) - 1
    n_in, n_out = spec.layers[0], spec.layers[-1]
    nw = sum(spec.layers[l] * (spec.layers[l - 1] + 1) for l in range(1, L + 1))
    nn = sum(spec.layers[1:])
    F = spec.dtype
    src = _Src()
    src(f'"""Generated by mcaann.engine.codegen {CODEGEN_VERSION} for {spec}. Do not edit."""')
    src("import math")
    src("import numpy as np")
    src("from numba import njit, prange")
    src("from mcaann.variability.rng import uniform, STREAM_NOISE, STREAM_SHUFFLE")
    src(f"from mcaann.engine.mathfn import exp_{F} as EXP, sat_{F} as SAT, normal_pair_fast as normal_pair")
    src(f"F = np.{F}")
    src("ZERO = F(0.0)")
    src("ONE = F(1.0)")
    src(f"NW = {nw}")
    src(f"NN = {nn}")
    src("")
    _drift(src, spec)
    src("")
    _evaluate(src, spec)
    src("")
    acts_alloc = [f"act{l} = np.empty(({spec.layers[l] + 1}, B), F)" for l in range(L + 1)]
    acts = ", ".join(f"act{l}" for l in range(L + 1))
    src("@njit(cache=True, error_model='numpy')")
    src("def train_block(w, P, Q, X, T, thr, is_class, order_shuffled, epochs, spr, settle, dt, vt_on,")
    src("                v_bias, v_lo, v_hi, v_rest, i_leak0, sn_on, sn_off, seed, inst, mse, accu,")
    src("                div, div_step):")
    with src.indent():
        src('"""Train one block of B instances in place; mse/accu (epochs + 1, B) per epoch."""')
        src("B = w.shape[1]")
        for a in acts_alloc:
            src(a)
        for l in range(L + 1):
            src(f"act{l}[0, :] = F(v_bias)")
        src("acc = np.empty(B, F)")
        src(f"dd = np.empty(({nn}, B), F)")
        src(f"delta = np.empty(({nn}, B), F)")
        src(f"tgt = np.empty(({n_out}, B), F)")
        for name in ("k1", "k2", "k3", "k4"):
            src(f"{name} = np.empty(({nw}, B), F)")
        src(f"ws = np.empty(({nw}, B))")
        src(f"wn = np.empty(({nw}, B))")
        src(f"dW = np.zeros(({nw}, B))")
        src("fin = np.empty(B)")
        src("se = np.empty(B)")
        src("correct = np.empty(B)")
        src("n_rows = X.shape[0]")
        src("perm = np.empty((n_rows, B), np.int64)")
        src("vt_f = F(vt_on)")
        src("v_rest_f = F(v_rest)")
        src("i_leak0_f = F(i_leak0)")
        src(f"evaluate(w, P, Q, X, T, thr, is_class, {acts}, acc, se, correct, B)")
        src("for b in range(B):")
        with src.indent():
            src("mse[0, b] = se[b]")
            src("accu[0, b] = correct[b]")
        src("step = 0")
        src("for ep in range(epochs):")
        with src.indent():
            src("for b in range(B):")
            with src.indent():
                src("for r in range(n_rows):")
                with src.indent():
                    src("perm[r, b] = r")
                src("if order_shuffled:")
                with src.indent():
                    src("for i in range(n_rows - 1, 0, -1):")
                    with src.indent():
                        src("u = uniform(inst[b], ep, i, 0, seed, STREAM_SHUFFLE)")
                        src("j = int(u * (i + 1))")
                        src("tmp = perm[i, b]")
                        src("perm[i, b] = perm[j, b]")
                        src("perm[j, b] = tmp")
            src("for rpos in range(n_rows):")
            with src.indent():
                src("for b in range(B):")
                with src.indent():
                    src("r = perm[rpos, b]")
                    for i in range(n_in):
                        src(f"act0[{i + 1}, b] = X[r, {i}]")
                    for j in range(n_out):
                        src(f"tgt[{j}, b] = T[r, {j}]")
                src("for s in range(spr):")
                with src.indent():
                    src("vt = vt_f if s >= settle else ZERO")
                    src("v_rest = v_rest_f")
                    src("i_leak0 = i_leak0_f")
                    _step(src, spec)
                    src("step += 1")
            src(f"evaluate(w, P, Q, X, T, thr, is_class, {acts}, acc, se, correct, B)")
            src("for b in range(B):")
            with src.indent():
                src("mse[ep + 1, b] = se[b]")
                src("accu[ep + 1, b] = correct[b]")
    src("")
    src("@njit(cache=True, parallel=True, nogil=True, error_model='numpy')")
    src("def train_blocks(w, P, Q, X, T, thr, is_class, order_shuffled, epochs, spr, settle, dt, vt_on,")
    src("                 v_bias, v_lo, v_hi, v_rest, i_leak0, sn_on, sn_off, seed, inst, mse, accu,")
    src("                 div, div_step):")
    with src.indent():
        src('"""Every block in parallel: arrays carry a leading block axis."""')
        src("for blk in prange(w.shape[0]):")
        with src.indent():
            src("train_block(w[blk], P[blk], Q[blk], X, T, thr, is_class, order_shuffled, epochs, spr,")
            src("            settle, dt, vt_on, v_bias, v_lo, v_hi, v_rest, i_leak0, sn_on[blk],")
            src("            sn_off[blk], seed, inst[blk], mse[blk], accu[blk], div[blk], div_step[blk])")
    src("")
    src("@njit(cache=True, parallel=True, nogil=True, error_model='numpy')")
    src("def evaluate_blocks(w, P, Q, X, T, thr, is_class, v_bias, mse, accu):")
    with src.indent():
        src('"""Static evaluation of every block (retention phase)."""')
        src("for blk in prange(w.shape[0]):")
        with src.indent():
            src("B = w.shape[2]")
            for a in acts_alloc:
                src(a)
            for l in range(L + 1):
                src(f"act{l}[0, :] = F(v_bias)")
            src("acc = np.empty(B, F)")
            src("evaluate(w[blk], P[blk], Q[blk], X, T, thr, is_class, " + acts + ", acc, mse[blk], accu[blk], B)")
    return src.text()
