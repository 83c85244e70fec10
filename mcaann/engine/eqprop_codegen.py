"""Kernel source of the eqprop circuit's row and evaluation, for ``codegen.generate`` (its skeleton hosts them).

The device equations and the network's Kirchhoff currents come from ``circuit.eqprop`` (rendered here as
loops over the lanes, one per synapse or neuron); the linear solves from ``engine.newton``. The generated
functions, every array with the lane (instance) index last:

- ``assemble``: currents into the free nodes ``R[n, b]`` [A] and their Jacobian ``J[n, m, b]`` [S];
- ``newton``: a masked Newton iteration per lane (``OK[b]`` 1 for a healthy lane; 0 after a failed solve);
- ``phase``: the equilibrium, or ``n`` backward-Euler steps of ``C_node dv/dt = i(v)`` (``eqprop.relax``);
- ``eqrow``: one training row (free phase, nudged phase, update with leakage), in place;
- ``evaluate``: the free equilibrium of every row from ``V_mid``: MSE and accuracy.

Work arrays (allocated once per block by the skeleton, ``work_arrays``): node voltages of training ``V`` and of
evaluation ``VE``, the previous step ``VP``, ``R``, ``J``, the step ``DV``, lane flags ``ACT``/``OK``/``OKE``,
``FAC``/``ACC`` scratch, ``QF`` the free phase's local quantities (then the new weights), ``TE`` zero targets.
"""

from __future__ import annotations

from mcaann.circuit import eqprop
from mcaann.circuit.algebra import Syntax, atom, render
from mcaann.circuit.network import Topology
from mcaann.engine.codegen import (
    COMPUTE,
    JIT,
    KernelSpec,
    Source,
    _Builder,
    _compute_number,
    score_mean,
    score_row,
    score_start,
)
from mcaann.engine.eqprop_reference import noise_counters
from mcaann.engine.newton import DV_MAX

#: the compute syntax with the eqprop devices' functions
EQ_COMPUTE = Syntax(COMPUTE.functions | {"relu": "max({0}, ZERO)", "step": "(ONE if {0} > ZERO else ZERO)",
                                          "exp": "math.exp({0})",
                                          "softplus": "(max({0}, ZERO) + math.log1p(math.exp(-abs({0}))))"},
                     _compute_number)

WORK = "V, VE, VP, R, J, DV, ACT, OK, OKE, FAC, ACC, QF, QN, TE, Z"
_NEWTON_ARGS = "w, DSA, DNA, NOM, act0, {tgt}, {v}, VP, R, J, DV, ACT, {ok}, FAC, ACC, {beta}, {g}, B"


def eq_variant(spec: KernelSpec) -> eqprop.Variant:
    return eqprop.Variant(device=spec.eq_device, sat_update=spec.eq_sat_update, leak=spec.leak,
                          amplifier=spec.eq_amplifier, noise=spec.noise, clip=spec.eq_clip)


def derived_names(spec: KernelSpec) -> tuple[list[str], list[str], list[str]]:
    """(per-synapse arrays, per-neuron arrays, scalars ``NOM``) of the eqprop kernels."""
    syn, neu = eqprop.derived_names(eq_variant(spec))
    return syn, neu, list(eqprop.SCALARS)


class EqBuilder(_Builder):
    """The ``kcl``/``locals_`` builder rendering statements over lanes ``b`` of a block."""

    SYNTAX = EQ_COMPUTE

    def __init__(self, spec: KernelSpec, src: Source):
        self.spec, self.src = spec, src
        self.topo = Topology(spec.layers)
        self.variant = eq_variant(spec)
        self.syn, self.neu, _ = derived_names(spec)
        self.const = eqprop.Constants(*(atom(n) for n in ("v_bias", "v_mid", "v_g0", "i_s", "v_d", "v_out_lo",
                                                           "v_out_hi", "v_knee")))
        self.beta = atom("beta")
        self.count = 0
        self.calls = {}

    def lanes(self):
        self.calls = {}
        return self.src.lanes()

    def node(self, l: int, i: int):
        if i == 0:
            return atom("v_bias")
        if l == 0:
            return atom(f"act0[{i}, b]")
        return atom(f"V[{self.topo.n_offset[l - 1] + i - 1}, b]")

    def free(self, l: int, i: int):
        return None if i == 0 or l == 0 else self.topo.n_offset[l - 1] + i - 1

    def weight(self, k: int):
        return atom(f"w[{k}, b]")

    def synapse(self, k: int):
        return lambda name: atom(f"DSA[{self.syn.index(name)}, {k}, b]")

    def neuron(self, n: int):
        return lambda name: atom(f"DNA[{self.neu.index(name)}, {n}, b]")

    def target(self, j: int):
        return atom(f"tgt[{j}, b]")

    def code(self, value) -> str:
        return render(self._share_calls(value), EQ_COMPUTE)

    def inject(self, n: int, value) -> None:
        self.src(f"R[{n}, b] += {self.code(value)}")

    def jac(self, n: int, m: int, value) -> None:
        self.src(f"J[{n}, {m}, b] += {self.code(value)}")

    def local(self, k: int, value) -> None:
        self.src(f"Q[{k}, b] = {self.code(value)}")


def _scalars(src: Source, skip: tuple[str, ...] = ()) -> None:
    """Locals of the study scalars from ``NOM`` (but those in ``skip``: arguments of the function)."""
    for q, nm in enumerate(eqprop.SCALARS):
        if nm not in skip:
            src(f"{nm} = NOM[{q}]")


def functions(src: Source, spec: KernelSpec) -> None:
    """The eqprop functions of the generated module (``assemble`` .. ``evaluate``)."""
    nn = sum(spec.layers[1:])
    L, n_in, n_out = len(spec.layers) - 1, spec.layers[0], spec.layers[-1]
    out0 = nn - n_out
    src(JIT)
    with src.block("def assemble(w, DSA, DNA, NOM, act0, tgt, V, R, J, beta, B):"):
        src('"""Currents into the free nodes R [A] and their Jacobian J [S] at node voltages V."""')
        _scalars(src, skip=("beta",))
        src("R[:, :] = ZERO")
        src("J[:, :, :] = ZERO")
        eqprop.kcl(EqBuilder(spec, src))
    src("")
    src(JIT)
    with src.block(f"def newton({_NEWTON_ARGS.format(tgt='tgt', v='V', ok='OK', beta='beta', g='g')}):"):
        src('"""Masked Newton iterations of every lane with OK[b] = 1 (0 on return where the solve failed); g [1/s] '
            'is 1 / dt of a backward-Euler step, times each node\'s C_node (0: the equilibrium)."""')
        src("tol = NOM[7]")
        src("iters = int(NOM[8])")
        with src.lanes():
            src("ACT[b] = OK[b]")
        with src.block("for it in range(iters):"):
            src("n_act = 0.0")
            with src.lanes():
                src("n_act += ACT[b]")
            with src.block("if n_act == 0.0:"):
                src("break")
            src("assemble(w, DSA, DNA, NOM, act0, tgt, V, R, J, beta, B)")
            ci = derived_names(spec)[1].index("c_node")
            with src.block("if g != 0.0:"), src.block(f"for n in range({nn}):"), src.lanes():
                src(f"gc = g * DNA[{ci}, n, b]")
                src("R[n, b] -= gc * (V[n, b] - VP[n, b])")
                src("J[n, n, b] -= gc")
            src("solve_lanes(J, R, DV, FAC, ACC)")
            with src.lanes():
                src("FAC[b] = 0.0")
                src("ACC[b] = 0.0")
            with src.block(f"for n in range({nn}):"), src.lanes():
                src(f"d = min(max(DV[n, b], -{DV_MAX!r}), {DV_MAX!r})")
                src("d = d if ACT[b] != 0.0 else 0.0")
                src("V[n, b] += d")
                src("FAC[b] += 1.0 if abs(d) < tol else 0.0")
                src("ACC[b] += V[n, b] * 0.0")
            with src.lanes():
                src(f"small = FAC[b] == {float(nn)!r}")
                src("bad = ACC[b] != 0.0")
                src("OK[b] = 0.0 if ACT[b] != 0.0 and bad and not small else OK[b]")
                src("ACT[b] = 0.0 if small or bad else ACT[b]")
        with src.lanes():
            src("OK[b] = 0.0 if ACT[b] != 0.0 else OK[b]")
    src("")
    src(JIT)
    args = _NEWTON_ARGS.format(tgt="tgt", v="V", ok="OK", beta="beta", g="g")
    with src.block(f"def phase({args.replace(', g,', ', steps,')}):"):
        src('"""One phase: the equilibrium, or `steps` backward-Euler steps of C_node dv/dt = i(v)."""')
        if spec.eq_relax == "transient":
            src("g = NOM[6]")
            with src.block("for s in range(steps):"):
                with src.block(f"for n in range({nn}):"), src.lanes():
                    src("VP[n, b] = V[n, b]")
                src(f"newton({args})")
        else:
            src(f"newton({args.replace(', g,', ', 0.0,')})")
    src("")
    if spec.noise:
        _normals_function(src)
        src("")
    src(JIT)
    with src.block("def local_quantities(w, DSA, DNA, NOM, act0, V, Q, B):"):
        src('"""Every synapse\'s local quantity Q [A] at node voltages V (one function for both phases: each '
            'copy of this code costs compile time)."""')
        _scalars(src)
        eqprop.locals_(EqBuilder(spec, src))
    src("")
    src(JIT)
    with src.block(f"def eqrow(w, DSA, DNA, NOM, act0, tgt, {WORK}, v_rest, v_lo, v_hi, B, inst, step, seed):"):
        src('"""One training row in place: free phase, nudged phase, update (weights of lanes with OK[b] = 1); with '
            'noise, its normals keyed by the lanes\' instances and the row\'s first step."""')
        _scalars(src)
        at_w, at_f, at_n = noise_counters(Topology(spec.layers))
        if spec.noise:
            src("lo = step & 0xFFFFFFFF")
            src("hi = step >> 32")
        src(f"phase({args.replace(', g,', ', int(n_free),').replace('beta', 'ZERO')})")
        _sampled(src, spec, at_f, lambda: src("local_quantities(w, DSA, DNA, NOM, act0, V, QF, B)"))
        src(f"phase({args.replace(', g,', ', int(n_nudge),')})")
        _sampled(src, spec, at_n, lambda: src("local_quantities(w, DSA, DNA, NOM, act0, V, QN, B)"))
        b = EqBuilder(spec, src)
        for k in range(b.topo.n_weights):
            q = b.synapse(k)
            with b.lanes():
                w = atom(f"w[{k}, b]")
                rate = b.let("rate", eqprop.update_rate(b.variant, atom(f"QN[{k}, b]") - atom(f"QF[{k}, b]"), q))
                w1 = b.let("wh", eqprop.hold(b.variant, w, 0.0, q("phi_h"), atom("v_rest"), q))
                b.emit(f"QF[{k}, b]", eqprop.hold(b.variant, w1, rate, q("phi_u"), atom("v_rest"), q))
        if spec.noise:
            sn_w = derived_names(spec)[0].index("sn_w")
            _normals(src, at_w, b.topo.n_weights, lambda k: f"QF[{k}, b] += {{z}} * DSA[{sn_w}, {k}, b]")
        with src.lanes():
            src("ACC[b] = 0.0")
        with src.block(f"for k in range({b.topo.n_weights}):"), src.lanes():
            src("ACC[b] += QF[k, b] * 0.0")
        with src.lanes():
            src("OK[b] = 0.0 if ACC[b] != 0.0 else OK[b]")
        with src.block(f"for k in range({b.topo.n_weights}):"), src.lanes():
            src("new, old = min(max(QF[k, b], v_lo), v_hi), w[k, b]")  # both loaded: the select vectorises
            src("w[k, b] = new if OK[b] != 0.0 else old")
    src("")
    src(JIT)
    acts = ", ".join(f"act{l}" for l in range(L + 1))
    with src.block(f"def evaluate(w, DSA, DNA, NOM, X, T, thr, is_class, {acts}, {WORK}, acc, se, correct, B):"):
        src('"""Per-instance MSE [V^2] and accuracy at the free equilibrium (from V_mid) of every row."""')
        src("v_mid = NOM[1]")
        score_start(src)
        with src.block("for r in range(X.shape[0]):"):
            with src.block(f"for i in range({n_in}):"), src.lanes():
                src("act0[i + 1, b] = X[r, i]")
            with src.lanes():
                src("OKE[b] = 1.0")
            with src.block(f"for n in range({nn}):"), src.lanes():
                src("VE[n, b] = v_mid")
            src(f"newton({_NEWTON_ARGS.format(tgt='TE', v='VE', ok='OKE', beta='ZERO', g='0.0')})")
            score_row(src, n_out, lambda j: f"VE[{out0 + j}, b]")
        score_mean(src, n_out)


def _normals(src: Source, first: int, count: int, statement) -> None:
    """``count`` normals per lane into ``Z``, four per Philox block from block ``first``
    (``eqprop_reference.noise_counters``), by the one ``normals`` function (each inlined copy of the generator
    costs compile time); ``statement(i)`` uses the i-th as ``{z}``."""
    src(f"normals(Z, inst, {first}, {-(-count // 4)}, lo, hi, seed, B)")
    with src.lanes():
        for i in range(count):
            src(statement(i).format(z=f"Z[{i}, b]"))


def _normals_function(src: Source) -> None:
    """``def normals``: Philox blocks ``first .. first + blocks - 1`` of every lane's instance, four normals each,
    into rows ``4 (block - first) ..`` of ``Z``."""
    src(JIT)
    with src.block("def normals(Z, inst, first, blocks, lo, hi, seed, B):"):
        with src.block("for kq in range(blocks):"), src.lanes():
            src("z0, z1, z2, z3 = normal_quad(inst[b], first + kq, lo, hi, seed, STREAM_NOISE)")
            for m in range(4):
                src(f"Z[4 * kq + {m}, b] = z{m}")


def _sampled(src: Source, spec: KernelSpec, first: int, locals_) -> None:
    """The local quantities (``locals_()`` writes them) at the node voltages the update circuit samples: with
    noise, each node plus its thermal noise (normals from block ``first``), the relaxed state kept in ``VP`` and
    put back after."""
    if not spec.noise:
        locals_()
        return
    nn = Topology(spec.layers).n_neurons
    sn_v = derived_names(spec)[1].index("sn_v")
    src("VP[:, :] = V")
    _normals(src, first, nn, lambda n: f"V[{n}, b] += {{z}} * DNA[{sn_v}, {n}, b]")
    locals_()
    src("V[:, :] = VP")


def work_arrays(src: Source, spec: KernelSpec) -> None:
    """Allocation of the eqprop work arrays (once per block, before the time loop)."""
    nn = sum(spec.layers[1:])
    nw = sum(spec.layers[l] * (spec.layers[l - 1] + 1) for l in range(1, len(spec.layers)))
    for name in ("V", "VE", "VP", "R", "DV"):
        src(f"{name} = np.zeros(({nn}, B))")
    src(f"J = np.zeros(({nn}, {nn}, B))")
    for name in ("ACT", "OK", "OKE", "FAC", "ACC"):
        src(f"{name} = np.zeros(B)")
    src(f"QF = np.zeros(({nw}, B))")
    src(f"QN = np.zeros(({nw}, B))")
    src(f"Z = np.zeros(({4 * max(-(-nw // 4), -(-nn // 4))}, B))")
    src(f"TE = np.zeros(({spec.layers[-1]}, B))")
