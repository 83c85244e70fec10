"""Code generation of Numba kernels specialised to one network shape and circuit variant.

As Brian2 does, the equations are turned into plain Python source for one network shape,
integrator, dtype and set of ideal blocks, so that layer sizes are constants, ideal blocks
cost nothing and the instance loop (innermost, over a block of ``B`` instances) vectorises.
The source is written to a file under the kernel cache and imported from there, so that
Numba's ``cache=True`` keeps the compiled code between launches.

Array layout (instance index last, one block of ``B`` instances per kernel call):
``w[k, b]`` weights (float64 always: a step's update can be below float32 resolution);
the block parameters enter as derived ones (``derive``): ``DSA[p, k, b]`` per synapse and
``DNA[p, n, b]`` per neuron where they differ between instances, scalars ``NOM[p]`` where they
do not, in the compute dtype (``derived_names`` gives the order).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from mcaann.circuit.network import Topology

CODEGEN_VERSION = "13"


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
    mismatch: bool = True  # False: every block at its study value (offsets zero, parameters scalars)
    fused: bool = False  # straight-line step per instance (small networks), else layered loops
    block: int = 64  # instances per kernel block (lanes)
    rails: bool = True  # finite weight rails (clip); False: both at +-inf

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


def _lp(spec: KernelSpec, name: str, idx: str) -> str | None:
    """Derived parameter ``name`` of synapse or neuron ``idx`` in lane b for the layered kernels: an element of
    ``DSA``/``DNA`` (per instance), a study scalar ``{name}_s``, or None (exactly zero: an offset without
    mismatch)."""
    syn, neu, scal = derived_names(spec)
    if name in syn:
        return f"DSA[{syn.index(name)}, {idx}, b]"
    if name in neu:
        return f"DNA[{neu.index(name)}, {idx}, b]"
    if name in scal:
        return f"{name}_s"
    return None


def _plus(v: str, off: str | None) -> str:
    return f"({v} + {off})" if off else v


def _mult_term(spec: KernelSpec, tag: str, a: str, b: str, k: str) -> str:
    """One multiplier ``tag`` of weight ``k`` in derived parameters: the current over K_I (saturating) or the
    current [A] (linear); ``_mult_scale`` turns a sum of these into amperes."""
    prod = f"{_lp(spec, f'gm_{tag}', k)} * {_plus(a, _lp(spec, f'va_{tag}', k))} * {_plus(b, _lp(spec, f'vb_{tag}', k))}"
    return f"SAT({prod})" if spec.sat_mult else prod


def _mult_scale(spec: KernelSpec, tag: str, s: str) -> str:
    return f"ki_{tag}_s * {s}" if spec.sat_mult else s


def _scalars(src: _Src, spec: KernelSpec) -> None:
    """Local names ``{name}_s`` of the derived parameters that are study scalars, from ``NOM``."""
    for q, nm in enumerate(derived_names(spec)[2]):
        src(f"{nm}_s = NOM[{q}]")


def _sum_loop(src: _Src, n_terms: int, var: str, index_lines: list[str], term: str) -> None:
    """acc[b] = the sum over ``var`` in range(n_terms) of ``term`` (after ``index_lines``), lane by lane."""
    src("for b in range(B):")
    with src.indent():
        src("acc[b] = ZERO")
    src(f"for {var} in range({n_terms}):")
    with src.indent():
        for line in index_lines:
            src(line)
        src("for b in range(B):")
        with src.indent():
            src(f"acc[b] += {term}")


def _derived_views(src: _Src, spec: KernelSpec, ds: str, dn: str) -> None:
    """``DSA``/``DNA``: the flat per-block derived parameters ``ds``/``dn`` as (parameter, synapse or neuron,
    lane) arrays."""
    nsyn, nneu = (len(x) for x in derived_names(spec)[:2])
    topo = Topology(spec.layers)
    src(f"DSA = {ds}.reshape(({nsyn}, {topo.n_weights}, B))")
    src(f"DNA = {dn}.reshape(({nneu}, {topo.n_neurons}, B))")


def _forward(src: _Src, spec: KernelSpec, weight: str, with_derivative: bool) -> None:
    """Forward pass in derived parameters into act{l} (bias row first) and, optionally, dd[n, b] = s (1 - s) of
    the derivative blocks; ``weight`` is the expression of weight k in lane b."""
    topo = Topology(spec.layers)
    wo, no = topo.w_offset, topo.n_offset
    lp = lambda name, idx: _lp(spec, name, idx)  # noqa: E731
    for l in range(1, len(spec.layers)):
        npre, npost = spec.layers[l - 1], spec.layers[l]
        src(f"# layer {l}: {npre} -> {npost}")
        src(f"for j in range({npost}):")
        with src.indent():
            _sum_loop(src, npre + 1, "i", [f"k = {wo[l - 1]} + j * {npre + 1} + i"],
                      _mult_term(spec, "fwd", f"act{l - 1}[i, b]", weight, "k"))
            src(f"n = {no[l - 1]} + j")
            src("for b in range(B):")
            with src.indent():
                src(f"cur = {_mult_scale(spec, 'fwd', 'acc[b]')}")
                nir = lp("nir", "n")
                src(f"s = SIGMOID({_plus(f'cur * {nir}', lp('c0', 'n'))})")
                src(f"act{l}[j + 1, b] = {lp('vamp', 'n')} * s")
                if with_derivative:
                    if spec.mismatch:  # the derivative block has its own parameters (else: the same s)
                        src(f"s = SIGMOID(cur * {lp('nird', 'n')} + {lp('c0d', 'n')})")
                    src("dd[n, b] = s * (ONE - s)")


def _drift(src: _Src, spec: KernelSpec) -> None:
    """``def drift(...)``: kout = dw/dt [V/s] for weights wsrc, gate vt, both in the compute dtype (float32 weights
    keep every loop in one width: 8 lanes in a ymm register rather than 4).

    The block parameters enter through the derived ones (``derive``): no divisions in the step.
    """
    L = len(spec.layers) - 1
    topo = Topology(spec.layers)
    wo, no = topo.w_offset, topo.n_offset
    lp = lambda name, idx: _lp(spec, name, idx)  # noqa: E731
    acts = ", ".join(f"act{l}" for l in range(L + 1))
    src("@njit(cache=True, error_model='numpy', fastmath={'contract'})")
    src(f"def drift(wsrc, kout, vt, DSA, DNA, NOM, tgt, {acts}, acc, dd, delta, v_rest, B):")
    with src.indent():
        _scalars(src, spec)
        leak = ""
        if spec.leak:
            il0 = lp("il0c", "k")
            leak = f" - {lp('glc', 'k')} * (wsrc[k, b] - v_rest) - {il0}"
        src("if vt != ZERO:")
        with src.indent():
            _forward(src, spec, "wsrc[k, b]", True)
            src(f"# output error and delta (layer {L})")
            src(f"for j in range({spec.layers[L]}):")
            with src.indent():
                src(f"n = {no[L - 1]} + j")
                src("for b in range(B):")
                with src.indent():
                    src(f"e = {_plus(f'act{L}[j + 1, b] - tgt[j, b]', lp('voe', 'n'))}")
                    src(f"delta[n, b] = {_delta_expr(spec, 'e')}")
            for l in range(L - 1, 0, -1):
                src(f"# hidden error and delta (layer {l})")
                src(f"for h in range({spec.layers[l]}):")
                with src.indent():
                    _sum_loop(src, spec.layers[l + 1], "m", [f"k = {wo[l]} + m * {spec.layers[l] + 1} + h + 1",
                                                             f"nm = {no[l]} + m"],
                              _mult_term(spec, "bwd", "delta[nm, b]", "wsrc[k, b]", "k"))
                    src(f"n = {no[l - 1]} + h")
                    src("for b in range(B):")
                    with src.indent():
                        err = f"{lp('re_err', 'n')} * {_mult_scale(spec, 'bwd', 'acc[b]')}"
                        src(f"e = {_plus(err, lp('voe', 'n'))}")
                        src(f"delta[n, b] = {_delta_expr(spec, 'e')}")
            src("# gradient voltage, charge pump, leakage, capacitor")
            for l in range(1, L + 1):
                npre = spec.layers[l - 1]
                src(f"for j in range({spec.layers[l]}):")
                with src.indent():
                    src(f"n = {no[l - 1]} + j")
                    src(f"for i in range({npre + 1}):")
                    with src.indent():
                        src(f"k = {wo[l - 1]} + j * {npre + 1} + i")
                        src("for b in range(B):")
                        with src.indent():
                            m = _mult_scale(spec, "upd", _mult_term(spec, "upd", "delta[n, b]", f"act{l - 1}[i, b]", "k"))
                            x = f"vt * {lp('pg', 'k')} * {m}"
                            pump = f"SAT({x})" if spec.sat_pump else f"({x})"
                            src(f"kout[k, b] = -{lp('ampc', 'k')} * {pump}{leak}")
        src("else:")
        with src.indent():
            nw = Topology(spec.layers).n_weights
            src(f"for k in range({nw}):")
            with src.indent():
                src("for b in range(B):")
                with src.indent():
                    src(f"kout[k, b] = ZERO{leak}")


def _delta_expr(spec: KernelSpec, e: str) -> str:
    """Local gradient delta_n [V] from the error ``e`` and dd[n, b] = s (1 - s) of the derivative block."""
    add = _lp(spec, "add", "n")
    return _plus(f"{add + ' * ' if add else ''}{e} * dd[n, b]", _lp(spec, "vod", "n"))


def _evaluate(src: _Src, spec: KernelSpec) -> None:
    """``def evaluate(...)``: static forward pass over all rows, no teaching, no noise."""
    L = len(spec.layers) - 1
    n_in, n_out = spec.layers[0], spec.layers[-1]
    acts = ", ".join(f"act{l}" for l in range(L + 1))
    src("@njit(cache=True, error_model='numpy', fastmath={'contract'})")
    src(f"def evaluate(w, DSA, DNA, NOM, X, T, thr, is_class, {acts}, acc, se, correct, B):")
    with src.indent():
        src('"""Per-instance MSE [V^2] and accuracy of weights w over all rows."""')
        _scalars(src, spec)
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
            _forward(src, spec, "F(w[k, b])", False)
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


def noise_rows(nw: int) -> int:
    """Rows of the noise scales ``sn`` and increments: the weight count rounded up to whole Philox blocks (the
    driver pads ``sn`` with zeros), so that one loop, compiled once, makes them all."""
    return 4 * -(-nw // 4)


def _noise_loops(src: _Src, nw: int, lanes: str, target) -> None:
    """Noise increments [V] of the weights, ``target(k)`` = z_k * sn[k, b], rows k < ``noise_rows(nw)``: four
    per Philox block (counter: instance, k // 4, step), each loop over the lanes vectorised."""
    src(f"for kq in range({noise_rows(nw) // 4}):")
    with src.indent():
        src(f"for b in range({lanes}):")
        with src.indent():
            src("z0, z1, z2, z3 = normal_quad(inst[b], kq, lo, hi, seed, STREAM_NOISE)")
            for m in range(4):
                src(f"{target(f'4 * kq + {m}')} = z{m} * sn[4 * kq + {m}, b]")


def _step(src: _Src, spec: KernelSpec) -> None:
    """The integrator step inside the time loop: wnew = w + increment (+ noise)."""
    L = len(spec.layers) - 1
    acts = ", ".join(f"act{l}" for l in range(L + 1))
    dargs = f"vt, DSA, DNA, NOM, tgt, {acts}, acc, dd, delta, v_rest, B"
    nw = Topology(spec.layers).n_weights
    if spec.noise:
        src("lo = step & 0xFFFFFFFF")
        src("hi = step >> 32")
        src("sn = sn_on if vt != ZERO else sn_off")
        # dW is flat with rows of a constant length: LLVM then proves the four stores of a loop disjoint (rows of a
        # 2-d array, with a run-time stride, leave it a slow path)
        _noise_loops(src, nw, "B", lambda k: f"dW[({k}) * {spec.block} + b]")
    noise = f" + dW[k * {spec.block} + b]" if spec.noise else ""
    def drift_call(wsrc: str, kout: str) -> None:
        if spec.dtype == "float64":
            src(f"drift({wsrc}, {kout}, {dargs})")
            return
        src(f"for k in range({nw}):")
        with src.indent():
            src("for b in range(B):")
            with src.indent():
                src(f"wc[k, b] = F({wsrc}[k, b])")
        src(f"drift(wc, {kout}, {dargs})")

    drift_call("w", "k1")
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
        drift_call("ws", "k2")
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
            drift_call("ws", kout)
        src(f"for k in range({nw}):")
        with src.indent():
            src("for b in range(B):")
            with src.indent():
                src("wn[k, b] = w[k, b] + (dt / 6.0) * (np.float64(k1[k, b]) + 2.0 * np.float64(k2[k, b]) + 2.0 * np.float64(k3[k, b]) + np.float64(k4[k, b]))")
    src("# a non-finite weight marks its instance diverged and freezes it; then the rails. No conditional stores")
    src("# (they become slow masked ones): fin[b] sums v * 0, which is 0 while every v is finite and NaN otherwise")
    src("for b in range(B):")
    with src.indent():
        src("fin[b] = 0.0")
    src(f"for k in range({nw}):")
    with src.indent():
        src("for b in range(B):")
        with src.indent():
            src("fin[b] += wn[k, b] * 0.0")
    src(f"for k in range({nw}):")
    with src.indent():
        src("for b in range(B):")
        with src.indent():
            src("ok = (fin[b] == 0.0) & (div[b] == 0.0)")
            src("w[k, b] = min(max(wn[k, b] if ok else w[k, b], v_lo), v_hi)")
    src("for b in range(B):")
    with src.indent():
        src("newly = (fin[b] != 0.0) & (div[b] == 0.0)")
        src("div_step[b] = step if newly else div_step[b]")
        src("div[b] = 1.0 if newly else div[b]")


# ----------------------------------------------------------------------------------------------------------------
# Fused steps: the whole integrator step of one instance as straight-line code in one loop over the block
# ----------------------------------------------------------------------------------------------------------------
#
# For small networks the step is written out weight by weight and neuron by neuron (the layer sizes are
# constants), inside a single ``for b in range(BLK)`` loop with a constant trip count: every value of an instance
# stays in a register or on the stack, each array element is read once per step, and LLVM vectorises the loop
# body as a whole (one lane per instance). The block parameters enter through *derived* parameters (``derive``)
# that fold the divisions by I_ref, K_I, I_max and C into multiplications; with mismatch off they are scalars of
# the study, and the offsets, which are then exactly zero, are left out.

#: networks with more weights get the layered kernels (straight-line code grows with the weight count)
FUSE_MAX_WEIGHTS = 400


def derived_names(spec: KernelSpec) -> tuple[list[str], list[str], list[str]]:
    """Names of the derived parameters: (per-synapse arrays, per-neuron arrays, study scalars)."""
    syn, neu, scal = [], [], []
    for t in ("fwd", "bwd", "upd"):
        (syn if spec.mismatch else scal).append(f"gm_{t}")
        if spec.mismatch:
            syn += [f"va_{t}", f"vb_{t}"]
        if spec.sat_mult:
            scal.append(f"ki_{t}")
    (syn if spec.mismatch else scal).extend(["pg", "ampc"])
    if spec.leak:
        syn.append("glc")
        (syn if spec.mismatch else scal).append("il0c")
    (neu if spec.mismatch else scal).extend(["nir", "vamp", "re_err"])
    if spec.mismatch:
        neu += ["c0", "nird", "c0d", "add", "voe", "vod"]
    return syn, neu, scal


def derive(spec: KernelSpec, p: dict, i_leak0: float) -> dict:
    """Derived parameters from the sampled block parameters ``p`` (name -> (n, m) arrays, SI units).

    ``gm`` [A/V^2, or 1/V^2 when saturating: K_m / K_I], ``pg`` = R_e K_g (/ I_max) [1 or 1/A],
    ``ampc`` = 1 / C (or I_max / C) [1/F or A/F], ``glc`` = G_leak / C [1/s], ``il0c`` = I_leak0 / C [V/s],
    ``nir`` = -1 / I_ref [1/A], ``c0`` = I_off / I_ref, ``add`` = A_d A_delta (the derivative and delta gains
    multiply), the rest as in ``blocks``. The kernels compute with these exactly the expressions of MODEL.md
    section 2, up to rounding.
    """
    d = {}
    for t in ("fwd", "bwd", "upd"):
        d[f"gm_{t}"] = p[f"km_{t}"] / p[f"ki_{t}"] if spec.sat_mult else p[f"km_{t}"]
        d[f"va_{t}"], d[f"vb_{t}"], d[f"ki_{t}"] = p[f"voffa_{t}"], p[f"voffb_{t}"], p[f"ki_{t}"]
    d["pg"] = p["re_upd"] * p["kg"] / p["imax"] if spec.sat_pump else p["re_upd"] * p["kg"]
    d["ampc"] = p["imax"] / p["c"] if spec.sat_pump else 1.0 / p["c"]
    d["glc"] = p["g_leak"] / p["c"]
    d["il0c"] = i_leak0 / p["c"]
    d["nir"] = -1.0 / p["iref"]
    d["vamp"] = p["v_amp"]
    d["re_err"] = p["re_err"]
    d["c0"] = p["ioff"] / p["iref"]
    d["nird"] = -1.0 / p["iref_d"]
    d["c0d"] = p["ioff_d"] / p["iref_d"]
    d["add"] = p["a_d"] * p["a_delta"]
    d["voe"] = p["voff_e"]
    d["vod"] = p["voff_delta"]
    return d


def _tree_sum(terms: list[str]) -> str:
    """``terms`` summed pairwise (short dependency chains)."""
    while len(terms) > 1:
        terms = [f"({terms[i]} + {terms[i + 1]})" if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


class _Fused:
    """Writes the straight-line step of one instance (lane ``b``) for ``spec``."""

    def __init__(self, spec: KernelSpec):
        self.spec = spec
        self.syn, self.neu, self.scal = derived_names(spec)
        self.layers = spec.layers
        self.L = len(spec.layers) - 1
        topo = Topology(spec.layers)
        self.wo, self.no = topo.w_offset, topo.n_offset
        self.nw, self.nn = topo.n_weights, topo.n_neurons
        self.blk = blk = spec.block
        nw = self.nw
        # Everything the step touches lies in one array per dtype, at constant offsets, so that LLVM proves the
        # lanes independent without runtime alias checks (with hundreds of parameter reads it gives up on them):
        # W64 = [weights | noise increments | divergence flag | divergence step], float64;
        # WF = [row inputs | row targets | synapse parameters | neuron parameters], compute dtype
        # (for float64 both are the one array W64, WF after the float64 part).
        nr = noise_rows(nw)
        self.o_w, self.o_dw, self.o_div, self.o_dstep = 0, nw * blk, (nw + nr) * blk, (nw + nr + 1) * blk
        self.n64 = (nw + nr + 2) * blk
        base = self.n64 if spec.dtype == "float64" else 0
        self.o_row = base
        self.o_ds = base + (self.layers[0] + self.layers[-1]) * blk
        self.o_dn = self.o_ds + len(self.syn) * nw * blk
        self.nF = self.o_dn + len(self.neu) * self.nn * blk - base
        self.WF = "W64" if spec.dtype == "float64" else "WF"
        # ideal pump and update multiplier at their nominal values: one scalar per step
        self.cupd = not (spec.mismatch or spec.sat_pump or spec.sat_mult)

    def _param(self, name: str, idx: int, names: list[str], offset: int, count: int) -> str | None:
        if name in names:
            return f"{self.WF}[{offset + (names.index(name) * count + idx) * self.blk} + b]"
        if name in self.scal:
            return f"{name}_s"
        return None

    def sp(self, name: str, k: int) -> str | None:
        """Synapse parameter ``name`` of weight ``k`` in lane b: an array element, a scalar or None (zero)."""
        return self._param(name, k, self.syn, self.o_ds, self.nw)

    def np_(self, name: str, n: int) -> str | None:
        """Neuron parameter ``name`` of neuron ``n`` in lane b (as ``sp``)."""
        return self._param(name, n, self.neu, self.o_dn, self.nn)

    def mult_terms(self, tag: str, pairs: list[tuple[str, str, int]]) -> str:
        """Sum over (a, b, k) of the multipliers ``tag`` of weights k: the current [A]."""
        spec = self.spec
        terms = []
        for a, bb, k in pairs:
            va, vb = self.sp(f"va_{tag}", k), self.sp(f"vb_{tag}", k)
            a2 = f"({a} + {va})" if va else a
            b2 = f"({bb} + {vb})" if vb else bb
            gm = self.sp(f"gm_{tag}", k)
            if spec.sat_mult:
                terms.append(f"SAT({gm} * {a2} * {b2})")
            elif gm.endswith("_s"):
                terms.append(f"{a2} * {b2}")
            else:
                terms.append(f"{gm} * {a2} * {b2}")
        s = _tree_sum(terms)
        if spec.sat_mult:
            return f"ki_{tag}_s * ({s})"
        if not spec.mismatch:
            return f"gm_{tag}_s * ({s})"
        return s

    def drift(self, src: _Src, wv: list[str], out: str, teach: bool) -> None:
        """Lines computing ``{out}{k}`` = dw_k/dt [V/s] from the weight values ``wv`` (compute dtype)."""
        spec = self.spec
        L, layers, wo, no = self.L, self.layers, self.wo, self.no
        leak = []
        for k in range(self.nw):
            if spec.leak:
                leak.append(f" - {self.sp('glc', k)} * ({wv[k]} - v_rest) - {self.sp('il0c', k)}")
            else:
                leak.append("")
        if not teach:
            for k in range(self.nw):
                src(f"{out}{k} = ZERO{leak[k]}")
            return
        act = {0: ["v_bias"] + [f"x{i}" for i in range(layers[0])]}
        d = {}
        for l in range(1, L + 1):
            npre = layers[l - 1]
            act[l] = ["v_bias"]
            for j in range(layers[l]):
                n = no[l - 1] + j
                ks = [wo[l - 1] + j * (npre + 1) + i for i in range(npre + 1)]
                cur = self.mult_terms("fwd", [(act[l - 1][i], wv[k], k) for i, k in enumerate(ks)])
                c0 = self.np_("c0", n)
                src(f"i_{n} = {cur}")
                src(f"s_{n} = SIGMOID(i_{n} * {self.np_('nir', n)}{' + ' + c0 if c0 else ''})")
                src(f"y_{n} = {self.np_('vamp', n)} * s_{n}")
                if spec.mismatch:
                    src(f"sd_{n} = SIGMOID(i_{n} * {self.np_('nird', n)} + {self.np_('c0d', n)})")
                    d[n] = f"sd_{n} * (ONE - sd_{n})"
                else:
                    d[n] = f"s_{n} * (ONE - s_{n})"
                act[l].append(f"y_{n}")
        for j in range(layers[L]):
            n = no[L - 1] + j
            self._delta(src, n, f"y_{n} - t{j}", d[n])
        for l in range(L - 1, 0, -1):
            for h in range(layers[l]):
                n = no[l - 1] + h
                ks = [wo[l] + m * (layers[l] + 1) + h + 1 for m in range(layers[l + 1])]
                pairs = [(f"dl_{no[l] + m}", wv[k], k) for m, k in enumerate(ks)]
                e = f"{self.np_('re_err', n)} * ({self.mult_terms('bwd', pairs)})"
                self._delta(src, n, e, d[n])
        for l in range(1, L + 1):
            npre = layers[l - 1]
            for j in range(layers[l]):
                n = no[l - 1] + j
                for i in range(npre + 1):
                    k = wo[l - 1] + j * (npre + 1) + i
                    m = self.mult_terms("upd", [(f"dl_{n}", act[l - 1][i], k)])
                    pg, ampc = self.sp("pg", k), self.sp("ampc", k)
                    if spec.sat_pump:
                        src(f"{out}{k} = -{ampc} * SAT(vt * {pg} * {m}){leak[k]}")
                    elif self.cupd:  # cupd = -vt * pg * gm_upd / C, a scalar of the step
                        if i == 0:
                            src(f"cd_{n} = cupd * dl_{n}")
                        src(f"{out}{k} = cd_{n} * {act[l - 1][i]}{leak[k]}")
                    else:
                        src(f"{out}{k} = -{ampc} * (vt * {pg} * {m}){leak[k]}")

    def _delta(self, src: _Src, n: int, e: str, dn: str) -> None:
        voe, vod, add = self.np_("voe", n), self.np_("vod", n), self.np_("add", n)
        src(f"e_{n} = {e}{' + ' + voe if voe else ''}")
        src(f"dl_{n} = {add + ' * ' if add else ''}e_{n} * {dn}{' + ' + vod if vod else ''}")

    def step_function(self, src: _Src, teach: bool) -> None:
        """``def step_on`` / ``step_off``: one integrator step of every instance of a block, in place."""
        spec, nw, blk = self.spec, self.nw, self.blk
        name = "step_on" if teach else "step_off"
        # contract: multiply-adds become FMA instructions (one rounding instead of two)
        src("@njit(cache=True, error_model='numpy', fastmath={'contract'})")
        src(f"def {name}(W64, WF, NOM, sn, inst, dt, vt, v_bias, v_lo, v_hi, v_rest, step, seed):")
        with src.indent():
            src(f'"""One {spec.method} step of {blk} instances (lanes b), teaching {"on" if teach else "off"}."""')
            for q, nm in enumerate(self.scal):
                src(f"{nm}_s = NOM[{q}]")
            if self.cupd and teach:
                src("cupd = -(ampc_s * vt * pg_s * gm_upd_s)")
            if spec.noise:  # the noise increments first, in a loop of their own (it vectorises; inlined into the
                # step, it is slow to compile)
                src("lo = step & 0xFFFFFFFF")
                src("hi = step >> 32")
                _noise_loops(src, nw, str(blk), lambda k: f"W64[{self.o_dw} + ({k}) * {blk} + b]")
            src(f"for b in range({blk}):")
            with src.indent():
                self._body(src, teach)

    def _body(self, src: _Src, teach: bool) -> None:
        spec, nw, blk = self.spec, self.nw, self.blk
        cv = (lambda v: f"F({v})") if spec.dtype == "float32" else (lambda v: v)
        for k in range(nw):
            src(f"w{k} = W64[{self.o_w + k * blk} + b]")
        for i in range(self.layers[0]):
            src(f"x{i} = {self.WF}[{self.o_row + i * blk} + b]")
        for j in range(self.layers[-1]):
            src(f"t{j} = {self.WF}[{self.o_row + (self.layers[0] + j) * blk} + b]")
        if spec.noise:
            for k in range(nw):
                src(f"n{k} = W64[{self.o_dw + k * blk} + b]")
        nz = (lambda k: f" + n{k}") if spec.noise else (lambda k: "")
        self.drift(src, [cv(f"w{k}") for k in range(nw)], "ka", teach)
        if spec.method == "euler":
            for k in range(nw):
                src(f"v{k} = w{k} + dt * ka{k}{nz(k)}")
        elif spec.method == "heun":
            for k in range(nw):
                src(f"u{k} = w{k} + dt * ka{k}{nz(k)}")
            self.drift(src, [cv(f"u{k}") for k in range(nw)], "kb", teach)
            for k in range(nw):
                src(f"v{k} = w{k} + (0.5 * dt) * (np.float64(ka{k}) + np.float64(kb{k})){nz(k)}")
        else:  # rk4
            for kin, kout, h in (("ka", "kb", "0.5 * dt"), ("kb", "kc", "0.5 * dt"), ("kc", "kd", "dt")):
                for k in range(nw):
                    src(f"u{k} = w{k} + ({h}) * {kin}{k}")
                self.drift(src, [cv(f"u{k}") for k in range(nw)], kout, teach)
            for k in range(nw):
                src(f"v{k} = w{k} + (dt / 6.0) * (np.float64(ka{k}) + 2.0 * np.float64(kb{k}) + 2.0 * np.float64(kc{k})"
                    f" + np.float64(kd{k}))")
        src("# one test for every weight of the instance: chk is 0 when all are finite, NaN otherwise")
        src("# (v * 0 is 0 for a finite v and NaN otherwise; the products are summed as a tree, in FMAs)")
        src("chk = " + _tree_sum([f"v{k} * 0.0" for k in range(nw)]))
        src(f"d0 = W64[{self.o_div} + b]")
        src("ok = (chk == 0.0) & (d0 == 0.0)")
        src("# the stores are unconditional (a conditional one becomes a slow masked store); a kept old weight")
        src("# is clipped again, which leaves it as it is")
        for k in range(nw):
            if spec.rails:
                src(f"W64[{self.o_w + k * blk} + b] = min(max(v{k} if ok else w{k}, v_lo), v_hi)")
            else:  # + 0.0: not the loaded value itself, or LLVM makes the store a (slow) masked one
                src(f"W64[{self.o_w + k * blk} + b] = v{k} if ok else w{k} + 0.0")
        src("newly = (chk != 0.0) & (d0 == 0.0)")
        src(f"ds0 = W64[{self.o_dstep} + b]")
        src(f"W64[{self.o_dstep} + b] = ds0 + (step - ds0) * newly")
        src(f"W64[{self.o_div} + b] = d0 + (1.0 if newly else 0.0)")


def generate(spec: KernelSpec) -> str:
    """Python source of the kernels for ``spec``."""
    L = len(spec.layers) - 1
    n_in, n_out = spec.layers[0], spec.layers[-1]
    topo = Topology(spec.layers)
    nw, nn = topo.n_weights, topo.n_neurons
    F = spec.dtype
    src = _Src()
    src(f'"""Generated by mcaann.engine.codegen {CODEGEN_VERSION} for {spec}. Do not edit."""')
    src("import math")
    src("import numpy as np")
    src("from numba import njit, prange")
    src("from mcaann.variability.rng import uniform, STREAM_NOISE, STREAM_SHUFFLE")
    src(f"from mcaann.engine.mathfn import sat_{F} as SAT, sigmoid_{F} as SIGMOID")
    src("from mcaann.engine.mathfn import normal_quad_fast as normal_quad")
    src(f"F = np.{F}")
    src("ZERO = F(0.0)")
    src("ONE = F(1.0)")
    src(f"NW = {nw}")
    src(f"NN = {nn}")
    src("")
    if spec.fused:
        fz = _Fused(spec)
        fz.step_function(src, True)
        src("")
        fz.step_function(src, False)
    else:
        _drift(src, spec)
    src("")
    _evaluate(src, spec)
    src("")
    acts_alloc = [f"act{l} = np.empty(({spec.layers[l] + 1}, B), F)" for l in range(L + 1)]
    acts = ", ".join(f"act{l}" for l in range(L + 1))
    src("@njit(cache=True, error_model='numpy')")
    src("def train_block(w, DS, DN, NOM, X, T, thr, is_class, order_shuffled, epochs, spr, settle, dt,")
    src("                vt_on, v_bias, v_lo, v_hi, v_rest, i_leak0, sn_on, sn_off, seed, inst, mse, accu,")
    src("                div, div_step):")
    with src.indent():
        src('"""Train one block of B instances in place; mse/accu (epochs + 1, B) per epoch."""')
        src("B = w.shape[1]")
        src(f"assert B == {spec.block}")
        for a in acts_alloc:
            src(a)
        for l in range(L + 1):
            src(f"act{l}[0, :] = F(v_bias)")
        src("acc = np.empty(B, F)")
        src(f"tgt = np.empty(({n_out}, B), F)")
        _derived_views(src, spec, "DS", "DN")
        if not spec.fused:  # the layered steps' work arrays
            src(f"dd = np.empty(({nn}, B), F)")
            src(f"delta = np.empty(({nn}, B), F)")
            for name in ("k1", "k2", "k3", "k4"):
                src(f"{name} = np.empty(({nw}, B), F)")
            src(f"ws = np.empty(({nw}, B))")
            src(f"wc = np.empty(({nw}, B), F)")
            src(f"wn = np.empty(({nw}, B))")
            src(f"dW = np.zeros({noise_rows(nw) * spec.block})")
            src("fin = np.empty(B)")
        src("se = np.empty(B)")
        src("correct = np.empty(B)")
        src("n_rows = X.shape[0]")
        src("perm = np.empty((n_rows, B), np.int64)")
        src("vt_f = F(vt_on)")
        if spec.fused:
            src(f"W64 = np.empty({fz.n64 + (fz.nF if F == 'float64' else 0)})")
            src("WF = W64" if F == "float64" else f"WF = np.empty({fz.nF}, F)")
            src(f"WF[{fz.o_ds}:{fz.o_dn}] = DS")
            src(f"WF[{fz.o_dn}:{fz.o_dn} + DN.size] = DN")
            src("for b in range(B):")
            with src.indent():
                src(f"W64[{fz.o_div} + b] = div[b]")
                src(f"W64[{fz.o_dstep} + b] = div_step[b]")
            src(f"wflat = w.reshape({nw * spec.block})")
            src(f"W64[{fz.o_w}:{fz.o_w + nw * spec.block}] = wflat")
            src("v_bias_f = F(v_bias)")
        src("v_rest_f = F(v_rest)")
        src(f"evaluate(w, DSA, DNA, NOM, X, T, thr, is_class, {acts}, acc, se, correct, B)")
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
                if spec.fused:
                    src("for b in range(B):")
                    with src.indent():
                        for i in range(n_in):
                            src(f"WF[{fz.o_row + i * spec.block} + b] = act0[{i + 1}, b]")
                        for j in range(n_out):
                            src(f"WF[{fz.o_row + (n_in + j) * spec.block} + b] = tgt[{j}, b]")
                src("for s in range(spr):")
                with src.indent():
                    src("vt = vt_f if s >= settle else ZERO")
                    if spec.fused:
                        args = "W64, WF, NOM, {sn}, inst, dt, vt, v_bias_f, v_lo, v_hi, v_rest_f, step, seed"
                        src("if vt != ZERO:")
                        with src.indent():
                            src(f"step_on({args.format(sn='sn_on')})")
                        src("else:")
                        with src.indent():
                            src(f"step_off({args.format(sn='sn_off')})")
                    else:
                        src("v_rest = v_rest_f")
                        _step(src, spec)
                    src("step += 1")
            if spec.fused:
                src(f"wflat[:] = W64[{fz.o_w}:{fz.o_w + nw * spec.block}]")
            src(f"evaluate(w, DSA, DNA, NOM, X, T, thr, is_class, {acts}, acc, se, correct, B)")
            src("for b in range(B):")
            with src.indent():
                src("mse[ep + 1, b] = se[b]")
                src("accu[ep + 1, b] = correct[b]")
        if spec.fused:
            src("for b in range(B):")
            with src.indent():
                src(f"div[b] = W64[{fz.o_div} + b]")
                src(f"div_step[b] = np.int64(W64[{fz.o_dstep} + b])")
    src("")
    src("@njit(cache=True, parallel=True, nogil=True, error_model='numpy')")
    src("def train_blocks(w, DS, DN, NOM, X, T, thr, is_class, order_shuffled, epochs, spr, settle, dt,")
    src("                 vt_on, v_bias, v_lo, v_hi, v_rest, i_leak0, sn_on, sn_off, seed, inst, mse, accu,")
    src("                 div, div_step):")
    with src.indent():
        src('"""Every block in parallel: arrays carry a leading block axis."""')
        src("for blk in prange(w.shape[0]):")
        with src.indent():
            src("train_block(w[blk], DS[blk], DN[blk], NOM, X, T, thr, is_class, order_shuffled,")
            src("            epochs, spr, settle, dt, vt_on, v_bias, v_lo, v_hi, v_rest, i_leak0, sn_on[blk],")
            src("            sn_off[blk], seed, inst[blk], mse[blk], accu[blk], div[blk], div_step[blk])")
    src("")
    src("@njit(cache=True, parallel=True, nogil=True, error_model='numpy')")
    src("def evaluate_blocks(w, DS, DN, NOM, X, T, thr, is_class, v_bias, mse, accu):")
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
            _derived_views(src, spec, "DS[blk]", "DN[blk]")
            src("evaluate(w[blk], DSA, DNA, NOM, X, T, thr, is_class, " + acts + ", acc, mse[blk], accu[blk], B)")
    return src.text()
