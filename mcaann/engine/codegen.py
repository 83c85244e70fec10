"""Code generation of Numba kernels specialised to one network shape and circuit variant.

As Brian2 does, the equations are turned into plain Python source for one network shape, integrator,
dtype and set of ideal blocks, so that layer sizes are constants, ideal blocks cost nothing and the
instance loop (innermost, over a block of ``B`` instances) vectorises. Nothing physical is written here:
the blocks' equations come from ``circuit.blocks``, their wiring from the learning circuit's module
(``circuit.backprop``, chosen by ``KernelSpec.learning``) and the
integrator's stages from its tableau in ``solvers``; this module only decides how values are stored
and looped over. Two builders render the same wiring:

- ``FusedBuilder``: the whole step of one instance as straight-line code inside one loop over the
  lanes (small networks; every value in a register);
- ``LayeredBuilder``: a loop per layer and neuron, each statement a loop over the lanes, with
  per-neuron work arrays (any size); the parts of an expression that read only one block's parameters are
  computed once per block into ``DFS``/``DFN`` (``Folds``).

Both kinds store a step's new weights as they come and test them once per row (``engine.divergence``).

The source is written to a file under the kernel cache and imported from there, so that Numba's
``cache=True`` keeps the compiled code between launches.

Array layout (instance index last, one block of ``B`` instances per kernel call): ``w[k, b]``
weights (float64 always: a step's update can be below float32 resolution); the derived block
parameters (``circuit.blocks.derive``) as ``DSA[p, k, b]`` per synapse and ``DNA[p, n, b]`` per
neuron where they differ between instances, scalars ``NOM[p]`` where they do not, in the compute
dtype (``derived_names`` gives the order).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mcaann.circuit import LEARNING_CIRCUITS, blocks, settling
from mcaann.circuit.algebra import NUMBA, Expr, Syntax, atom, render, tree_sum
from mcaann.circuit.blocks import Variant, derived_parameters
from mcaann.circuit.network import Topology
from mcaann.solvers import SOLVERS

CODEGEN_VERSION = "31"

#: the modules whose functions the generated kernels call: Numba's cache of a kernel does not notice when they
#: change, so their sources are part of the kernel's key
KERNEL_LIBRARIES = ("mcaann.engine.mathfn", "mcaann.engine.newton", "mcaann.variability.rng",
                    "mcaann.engine.divergence")


def _library_digest() -> str:
    digest = hashlib.sha1()
    for name in KERNEL_LIBRARIES:
        digest.update(Path(importlib.util.find_spec(name).origin).read_bytes())
    return digest.hexdigest()


_LIBRARY_DIGEST = _library_digest()

#: networks with more weights get the layered kernels (straight-line code grows with the weight count)
FUSE_MAX_WEIGHTS = 400


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
    learning: str = "backprop"  # the learning circuit (``circuit.LEARNING_CIRCUITS``)
    eq_device: str = ""  # eqprop: synapse device (``circuit.eqprop.DEVICES``)
    eq_relax: str = ""  # eqprop: phases as "equilibrium" or "transient"
    eq_sat_update: bool = False  # eqprop: the update circuit saturates
    lags: bool = False  # the y, e, delta and g nodes settle with first-order lags (layered kernels only)
    eq_amplifier: str = ""  # eqprop: the neuron amplifier (``circuit.eqprop.AMPLIFIERS``)
    eq_clip: bool = False  # eqprop: the amplifier's output saturates at finite limits
    pump_g: bool = False  # the charge pump's output conductance (``blocks.pump_conductance``)

    def key(self) -> str:
        text = repr(sorted(asdict(self).items())) + CODEGEN_VERSION + _LIBRARY_DIGEST
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    @property
    def circuit(self):
        """The module that wires this learning circuit's blocks."""
        return LEARNING_CIRCUITS[self.learning]

    @property
    def variant(self) -> Variant:
        return Variant(sat_mult=self.sat_mult, sat_pump=self.sat_pump, leak=self.leak, mismatch=self.mismatch,
                       lags=self.lags, pump_g=self.pump_g)


def derived_names(spec: KernelSpec) -> tuple[list[str], list[str], list[str]]:
    """Names of the derived parameters the kernels read: (per-synapse arrays, per-neuron arrays, study scalars).

    Without mismatch, a parameter with an exact nominal value (offsets, unit gains) is left out and one equal
    to another at nominal (``same_as``) reads that one.
    """
    if spec.learning == "eqprop":
        from mcaann.engine import eqprop_codegen

        return eqprop_codegen.derived_names(spec)
    syn, neu, scal = [], [], []
    for d in derived_parameters(spec.variant):
        if not spec.mismatch and (d.at_nominal is not None or d.same_as):
            continue
        array = d.spread == "always" or (d.spread == "mismatch" and spec.mismatch)
        if not array:
            scal.append(d.name)
        else:
            (syn if d.per == "synapse" else neu).append(d.name)
    return syn, neu, scal


def noise_rows(nw: int) -> int:
    """Rows of the noise scales ``sn`` and increments: the weight count rounded up to whole Philox blocks (the
    driver pads ``sn`` with zeros), so that one loop, compiled once, makes them all."""
    return 4 * -(-nw // 4)


class Source:
    """Lines of Python source with an indentation level."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ind = 0

    def __call__(self, line: str = "") -> None:
        self.lines.append("    " * self.ind + line if line else "")

    @contextmanager
    def block(self, header: str):
        """``header`` (ending in ':') and an indented body."""
        self(header)
        self.ind += 1
        try:
            yield
        finally:
            self.ind -= 1

    def lanes(self, count: str = "B", var: str = "b"):
        return self.block(f"for {var} in range({count}):")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _compute_number(v) -> str:
    """A constant of the block equations in the compute dtype (a bare float literal is float64 in Numba and
    would widen float32 arithmetic)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return repr(v)
    return {0.0: "ZERO", 1.0: "ONE"}.get(float(v), f"F({float(v)!r})")


#: the compute dtype's syntax (block equations); the integrator's combinations stay in float64 (``render``)
COMPUTE = Syntax(NUMBA.functions, _compute_number)


# ----------------------------------------------------------------------------------------------------------------
# Builders: what an index, a sum, a stored value and a parameter are in the generated code
# ----------------------------------------------------------------------------------------------------------------


class _Builder:
    """What both code builders share: the derived-parameter lookup and statements with shared calls."""

    SYNTAX = COMPUTE  # how the block equations are written

    def __init__(self, spec: KernelSpec, src: Source):
        self.spec, self.src = spec, src
        self.topo = Topology(spec.layers)
        self.variant = spec.variant
        self.syn, self.neu, self.scal = derived_names(spec)
        self.params = {d.name: d for d in derived_parameters(spec.variant)}
        self.vt, self.v_rest = atom("vt"), atom("v_rest")
        self.count = 0
        self.calls: dict[str, Expr] = {}

    def _param(self, name: str, idx) -> object:
        d = self.params[name]
        if not self.spec.mismatch and d.same_as:
            return self._param(d.same_as, idx)
        if not self.spec.mismatch and d.at_nominal is not None:
            return d.at_nominal
        if name in self.scal:
            return atom(f"{name}_s")
        return self._array_param(name, idx, self.syn if d.per == "synapse" else self.neu, d.per)

    def synapse(self, k):
        return lambda name: self._param(name, k)

    def neuron(self, n):
        return lambda name: self._param(name, n)

    def _fresh(self, name: str) -> str:
        self.count += 1
        return f"{name}_{self.count}"

    def _share_calls(self, e):
        """``e`` with every function call bound to a local, one per distinct call (computed once)."""
        if not isinstance(e, Expr) or e.op == "atom":
            return e
        args = tuple(self._share_calls(a) for a in e.args)
        e = Expr(e.op, args, e.name)
        if e.op != "call":
            return e
        text = render(e, self.SYNTAX)
        if text not in self.calls:
            name = self._fresh("c")
            self.src(f"{name} = {text}")
            self.calls[text] = atom(name)
        return self.calls[text]

    def emit(self, target: str, value) -> None:
        self.src(f"{target} = {render(self._share_calls(value), self.SYNTAX)}")

    def let(self, name: str, value):
        if not isinstance(value, Expr) or value.op == "atom":
            return value
        local = self._fresh(name)
        self.emit(local, value)
        return atom(local)

    def lag(self, kind: str, i, value):
        """The algebraic model: a node shows its block's static output."""
        return value


@dataclass
class _Group:
    """A group of statements over the lanes being written: the line of its loop header, the locals it defines, the
    arrays it writes, and the rows of ``hx`` its hoisted calls use."""

    header: int
    locals: set = field(default_factory=set)
    written: set = field(default_factory=set)
    rows: int = 0


#: a derived parameter of the layered kernels: ``DSA[row, index, b]`` (per synapse) or ``DNA[...]`` (per neuron)
_PARAMETER = re.compile(r"^(DSA|DNA)\[(\d+), (.+), b\]$")


@dataclass
class Folds:
    """The parameter-only subexpressions of the layered drift (``LayeredBuilder._fold``): per synapse and per
    neuron, the definitions of the rows of ``DFS`` and ``DFN`` (source over block ``k`` of the kind and lane
    ``b``, with the teaching value ``vt_f`` for ``vt``)."""

    synapse: list = field(default_factory=list)
    neuron: list = field(default_factory=list)

    def row(self, e: Expr, per: str, index: str) -> Expr:
        """The row of ``DFS``/``DFN`` holding ``e`` (of block ``index``), added if new."""
        text = render(_reindexed(e), COMPUTE)
        rows = getattr(self, per)
        if text not in rows:
            rows.append(text)
        return atom(f"{'DFS' if per == 'synapse' else 'DFN'}[{rows.index(text)}, {index}, b]")

    def write(self, src: Source, spec: KernelSpec) -> None:
        """``DFS``/``DFN`` allocated (at least one row) and computed for the block, in ``train_block``."""
        topo = Topology(spec.layers)
        for per, name, count in (("synapse", "DFS", topo.n_weights), ("neuron", "DFN", topo.n_neurons)):
            rows = getattr(self, per)
            src(f"{name} = np.empty(({max(len(rows), 1)}, {count}, B), F)")
            if rows:
                with src.block(f"for k in range({count}):"), src.lanes():
                    for r, text in enumerate(rows):
                        src(f"{name}[{r}, k, b] = {text}")


def _reindexed(e):
    """``e`` (one block's parameters) for block ``k`` of its kind, with ``vt_f`` for ``vt``."""
    if not isinstance(e, Expr):
        return e
    if e.op == "atom":
        if e.name == "vt":
            return atom("vt_f")
        m = _PARAMETER.match(e.name)
        return atom(f"{m.group(1)}[{m.group(2)}, k, b]") if m else e
    return Expr(e.op, tuple(_reindexed(a) for a in e.args), e.name)


class LayeredBuilder(_Builder):
    """Loops over layers and neurons, a loop over the lanes per statement group; per-neuron work arrays
    ``dd`` (derivative outputs) and ``delta``, activations ``act{l}[i, b]`` (bias row 0)."""

    TABLES = {"deriv": "dd", "delta": "delta"}

    def __init__(self, spec: KernelSpec, src: Source, weights: str, rates: str | None = None, lagged: bool = False,
                 hoist: bool = False, folds: Folds | None = None, fold_vt: bool = False):
        super().__init__(spec, src)
        self.weights, self.rates = weights, rates
        self.loops = 0
        self.lagged = lagged and spec.lags
        self.hoist = hoist
        self.folds = folds  # parameter-only subexpressions, computed once per block (``_fold``)
        self.fold_vt = fold_vt  # whether ``vt`` is the teaching value here (the drift's teaching branch)
        self.hoisted = 0  # rows of ``hx`` used (the most in one group of statements)
        self._group: _Group | None = None  # the group of statements being written (``lanes``)

    def lag(self, kind: str, i, value):
        """Node lags of a training step: ``sm_<kind>[i] = b_s T + keep sm_<kind>[i]`` gathers the stages' static
        values ``T`` (``keep`` = 0 at the first stage), and the node shows its mean over the step from its voltage
        ``nd_<kind>[i]`` at the step's start (``blocks.node_mean``)."""
        if not self.lagged:
            return value
        static = self.let(f"T{kind}", value)
        idx = render(i)
        self.src(f"sm_{kind}[{idx}, b] = bs * {render(static, self.SYNTAX)} + keep * sm_{kind}[{idx}, b]")
        return self.let(kind, blocks.node_mean(static, atom(f"nd_{kind}[{idx}, b]"), kind, self.neuron(i)))

    def _array_param(self, name, idx, names, per):
        arr = "DSA" if per == "synapse" else "DNA"
        return atom(f"{arr}[{names.index(name)}, {render(idx)}, b]")

    def loop(self, n: int):
        var = f"j{self.loops}"
        self.loops += 1
        with self.src.block(f"for {var} in range({n}):"):
            yield atom(var)

    def sum(self, n: int, term):
        """The sum over the lanes' accumulator ``acc[b]``."""
        with self.src.lanes():
            self.src("acc[b] = ZERO")
        var = self._fresh("i")
        with self.src.block(f"for {var} in range({n}):"), self.src.lanes():
            self.calls = {}
            self.src(f"acc[b] += {render(self._share_calls(self._fold(term(atom(var)))), COMPUTE)}")
        return atom("acc[b]")

    def emit(self, target: str, value) -> None:
        super().emit(target, self._fold(value))
        if self._group is not None:
            self._group.written.add(target.split("[")[0])

    def _fold(self, e):
        """``e`` with every subexpression of more than one term that reads only one block's derived parameters, the
        teaching gate ``vt`` (in the teaching branch) and ``v_rest`` replaced by a row of ``DFS`` (per synapse) or
        ``DFN`` (per neuron): computed once per block of instances (``Folds``) instead of at every step."""
        if self.folds is None or not isinstance(e, Expr) or e.op == "atom":
            return e
        block = self._parameters_only(e)
        if isinstance(block, tuple):
            return self.folds.row(e, *block)
        return Expr(e.op, tuple(self._fold(a) for a in e.args), e.name)

    def _parameters_only(self, e):
        """``(per, index)`` when ``e`` reads the derived parameters of block ``index`` (per synapse or neuron) and
        nothing else but constants, ``v_rest`` and (``fold_vt``) ``vt``; None when it reads anything else; True when
        it reads only constants and those scalars."""
        if not isinstance(e, Expr):
            return True
        if e.op == "atom":
            if e.name == "v_rest" or (e.name == "vt" and self.fold_vt):
                return True
            m = _PARAMETER.match(e.name)
            return ("synapse" if m.group(1) == "DSA" else "neuron", m.group(3)) if m else None
        found = True
        for a in e.args:
            part = self._parameters_only(a)
            if part is None or (part is not True and found is not True and part != found):
                return None
            found = part if part is not True else found
        return found

    @contextmanager
    def lanes(self):
        self.calls = {}
        with self.src.lanes():
            self._group = _Group(header=len(self.src.lines) - 1)
            try:
                yield
            finally:
                self._group = None

    def _fresh(self, name: str) -> str:
        local = super()._fresh(name)
        if self._group is not None:
            self._group.locals.add(local)
        return local

    def _share_calls(self, e):
        """As ``_Builder._share_calls``; with ``hoist``, a call inside another call's arguments is computed in a loop
        of its own before the group, into a row of ``hx``, when it reads nothing the group computes: two dependent
        calls (a multiplier's tanh feeding the charge pump's) in one loop make a chain of dependent operations too
        long for the processor to overlap the loop's iterations (in a micro-kernel, 1.2 against 0.7 ns per tanh)."""
        if self.hoist and self._group is not None and isinstance(e, Expr) and e.op == "call":
            e = Expr(e.op, tuple(self._hoisted_calls(a) for a in e.args), e.name)
        return super()._share_calls(e)

    def _hoisted_calls(self, e):
        if not isinstance(e, Expr) or e.op == "atom":
            return e
        if e.op != "call" or not self._reads_before_group(e):
            return Expr(e.op, tuple(self._hoisted_calls(a) for a in e.args), e.name)
        text = render(e, self.SYNTAX)
        if text not in self.calls:
            group = self._group
            line = self.src.lines[group.header]
            indent = line[: len(line) - len(line.lstrip())]
            cell = f"hx[{group.rows * self.spec.block} + b]"  # flat: rows of a constant length (see ``_noise_loops``)
            self.src.lines[group.header:group.header] = [f"{indent}for b in range(B):", f"{indent}    {cell} = {text}"]
            group.header += 2
            group.rows += 1
            self.hoisted = max(self.hoisted, group.rows)
            self.calls[text] = atom(cell)
        return self.calls[text]

    def _reads_before_group(self, e) -> bool:
        """Whether ``e`` reads only values that exist before the current group (no local or array it writes)."""
        if not isinstance(e, Expr):
            return True
        if e.op == "atom":
            name = e.name.split("[")[0]
            return name not in self._group.locals and name not in self._group.written
        return all(self._reads_before_group(a) for a in e.args)

    def weight(self, k):
        return atom(self.weights.format(k=render(k)))

    def act(self, l: int, i):
        return atom(f"act{l}[{render(i)}, b]")

    def set_act(self, l: int, j, value) -> None:
        self.emit(f"act{l}[{render(j + 1)}, b]", value)

    def get(self, table: str, n):
        return atom(f"{self.TABLES[table]}[{render(n)}, b]")

    def put(self, table: str, n, value) -> None:
        self.emit(f"{self.TABLES[table]}[{render(n)}, b]", value)

    def target(self, j):
        return atom(f"tgt[{render(j)}, b]")

    def rate(self, k, value) -> None:
        self.emit(f"{self.rates}[{render(k)}, b]", value)


class FusedBuilder(_Builder):
    """Straight-line code for one instance (lane ``b``) inside one loop over the lanes.

    Everything the step touches lies in one array per dtype, at constant offsets, so that LLVM proves the
    lanes independent without runtime alias checks (with hundreds of parameter reads it gives up on them):
    ``W64`` = [weights | noise increments | divergence flag | divergence step | weights at the row's start],
    float64; ``WF`` = [row inputs |
    row targets | synapse parameters | neuron parameters], compute dtype (for float64 both are the one array
    W64, WF after the float64 part).
    """

    def __init__(self, spec: KernelSpec, src: Source):
        super().__init__(spec, src)
        topo, blk = self.topo, spec.block
        nw, nn = topo.n_weights, topo.n_neurons
        self.blk = blk
        nr = noise_rows(nw)
        self.o_w, self.o_dw, self.o_div, self.o_dstep = 0, nw * blk, (nw + nr) * blk, (nw + nr + 1) * blk
        self.o_keep = (nw + nr + 2) * blk
        self.n64 = (2 * nw + nr + 2) * blk
        base = self.n64 if spec.dtype == "float64" else 0
        self.o_row = base
        self.o_ds = base + (spec.layers[0] + spec.layers[-1]) * blk
        self.o_dn = self.o_ds + len(self.syn) * nw * blk
        self.nF = self.o_dn + len(self.neu) * nn * blk - base
        self.WF = "W64" if spec.dtype == "float64" else "WF"
        self.values: dict = {}
        self.weights: list = []
        self.rates = ""

    def emit(self, target: str, value) -> None:
        super().emit(target, self._reorder(value))

    def _rank(self, e) -> int:
        """How many weights share a factor: 0 step scalars, 1 per-neuron values, 2 row inputs, 3 per weight."""
        if not isinstance(e, Expr):
            return 0
        if e.op == "atom":
            if e.name.endswith("_s") or e.name in ("vt", "dt", "v_rest"):
                return 0
            if e.name == "v_bias" or e.name.startswith("x"):
                return 2
            return 1 if e.name.split("_")[0] in self.LOCALS else 3
        return max((self._rank(a) for a in e.args), default=0)

    LOCALS = ("cur", "y", "s", "c", "e", "deriv", "delta")

    def _reorder(self, e):
        """Products as left chains, the factors shared by the most weights first, so that LLVM computes each
        partial product once (a reassociation: results change by rounding only)."""
        if not isinstance(e, Expr) or e.op == "atom":
            return e
        if e.op != "*":
            return Expr(e.op, tuple(self._reorder(a) for a in e.args), e.name)
        factors: list = []

        def collect(x):
            if isinstance(x, Expr) and x.op == "*":
                collect(x.args[0])
                collect(x.args[1])
            else:
                factors.append(self._reorder(x))

        collect(e)
        factors.sort(key=self._rank)
        out = factors[0]
        for f in factors[1:]:
            out = Expr("*", (out, f))
        return out

    def _array_param(self, name, idx, names, per):
        count, offset = (self.topo.n_weights, self.o_ds) if per == "synapse" else (self.topo.n_neurons, self.o_dn)
        return atom(f"{self.WF}[{offset + (names.index(name) * count + idx) * self.blk} + b]")

    def loop(self, n: int):
        return range(n)

    def sum(self, n: int, term):
        return tree_sum([term(i) for i in range(n)])

    def lanes(self):
        return nullcontext()

    def weight(self, k: int):
        return self.weights[k]

    def act(self, l: int, i: int):
        if i == 0:
            return atom("v_bias")
        if l == 0:
            return atom(f"x{i - 1}")
        return self.values[("y", self.topo.n_offset[l - 1] + i - 1)]

    def set_act(self, l: int, j: int, value) -> None:
        self.values[("y", self.topo.n_offset[l - 1] + j)] = self.let("y", value)

    def get(self, table: str, n: int):
        return self.values[(table, n)]

    def put(self, table: str, n: int, value) -> None:
        self.values[(table, n)] = self.let(table, value)

    def target(self, j: int):
        return atom(f"t{j}")

    def rate(self, k: int, value) -> None:
        self.emit(f"{self.rates}{k}", value)

    def drift(self, weights: list, rates: str, teach: bool) -> None:
        """Lines computing ``{rates}{k}`` = dw_k/dt [V/s] from the weight values ``weights``."""
        self.weights, self.rates = weights, rates
        self.spec.circuit.drift(self, teach)


# ----------------------------------------------------------------------------------------------------------------
# Functions of the generated module
# ----------------------------------------------------------------------------------------------------------------

JIT = "@njit(cache=True, error_model='numpy', fastmath={'contract'})"  # contract: multiply-adds become FMAs




def _scalars(src: Source, spec: KernelSpec) -> None:
    """Local names ``{name}_s`` of the derived parameters that are study scalars, from ``NOM``."""
    for q, nm in enumerate(derived_names(spec)[2]):
        src(f"{nm}_s = NOM[{q}]")


def _acts(spec: KernelSpec) -> str:
    """The per-block work arrays the evaluation takes: activations (and eqprop's node arrays)."""
    acts = ", ".join(f"act{l}" for l in range(len(spec.layers)))
    if spec.learning == "eqprop":
        from mcaann.engine.eqprop_codegen import WORK

        acts += ", " + WORK
    return acts


def _lag_args(spec: KernelSpec) -> str:
    """The node-lag arrays a layered drift takes (``nd_*`` node values, ``sm_*`` stages' static means), or ""."""
    if not spec.lags:
        return ""
    return ", " + ", ".join([f"nd_{k}" for k in settling.NODES] + [f"sm_{k}" for k in settling.NODES])


def _layered_drift(src: Source, spec: KernelSpec) -> tuple[int, Folds]:
    """``def drift(...)``: kout = dw/dt [V/s] for weights wsrc, gate vt, both in the compute dtype (float32 weights
    keep every loop in one width: 8 lanes in a ymm register rather than 4); with node lags, ``bs`` is the stage's
    weight ``b_s`` and ``keep`` 0 at the first stage, else 1; ``hx`` holds hoisted calls, ``DFS``/``DFN``
    parameter-only subexpressions (``LayeredBuilder``). Returns the rows of ``hx`` it needs and the folds."""
    src(JIT)
    with src.block(f"def drift(wsrc, kout, vt, DSA, DNA, NOM, DFS, DFN, tgt, {_acts(spec)}, acc, hx, dd, delta, v_rest, B"
                   f"{_lag_args(spec)}{', bs, keep' if spec.lags else ''}):"):
        _scalars(src, spec)
        rows, folds = 0, Folds()
        for teach in (True, False):
            with src.block("if vt != ZERO:" if teach else "else:"):
                builder = LayeredBuilder(spec, src, "wsrc[{k}, b]", "kout", lagged=True, hoist=True, folds=folds,
                                         fold_vt=teach)
                spec.circuit.drift(builder, teach=teach)
                rows = max(rows, builder.hoisted)
    return rows, folds


def _evaluate(src: Source, spec: KernelSpec) -> None:
    """``def evaluate(...)``: static forward pass over all rows, no teaching, no noise."""
    L = len(spec.layers) - 1
    n_in, n_out = spec.layers[0], spec.layers[-1]
    src(JIT)
    with src.block(f"def evaluate(w, DSA, DNA, NOM, X, T, thr, is_class, {_acts(spec)}, acc, se, correct, B):"):
        src('"""Per-instance MSE [V^2] and accuracy of weights w over all rows; is_class: 0 regression, 1 threshold,')
        src('2 argmax (``TaskData.decision``)."""')
        _scalars(src, spec)
        score_start(src)
        with src.block("for r in range(X.shape[0]):"):
            with src.block(f"for i in range({n_in}):"), src.lanes():
                src("act0[i + 1, b] = X[r, i]")
            spec.circuit.forward(LayeredBuilder(spec, src, "F(w[{k}, b])"), with_derivative=False)
            score_row(src, n_out, lambda j: f"act{L}[{j + 1}, b]")
        score_mean(src, n_out)


def score_start(src: Source) -> None:
    """Zero the per-lane squared error ``se`` and decision count ``correct`` of an evaluation."""
    with src.lanes():
        src("se[b] = 0.0")
        src("correct[b] = 0.0")


def score_row(src: Source, n_out: int, output) -> None:
    """Add one row's squared error [V^2] to ``se`` and its decision (1 right, 0 wrong) to ``correct`` per lane;
    ``output(j)`` is the source of output ``j``. ``is_class``: 0 regression, 1 each output against its threshold,
    2 argmax (the largest output, the first of equals, must be a high target)."""
    with src.lanes():
        src("ok = 1.0")
        for j in range(n_out):
            src(f"y = {output(j)}")
            src(f"se[b] += (y - T[r, {j}]) * (y - T[r, {j}])")
            with src.block(f"if (y > thr[{j}]) != (T[r, {j}] > thr[{j}]):"):
                src("ok = 0.0")
        with src.block("if is_class == 2:"):
            src(f"ym = {output(0)}")
            src("jm = 0")
            for j in range(1, n_out):
                with src.block(f"if {output(j)} > ym:"):
                    src(f"ym = {output(j)}")
                    src(f"jm = {j}")
            src("ok = 1.0 if T[r, jm] > thr[jm] else 0.0")
        src("correct[b] += ok")


def score_mean(src: Source, n_out: int) -> None:
    """Per-lane mean squared error [V^2] over rows and outputs, and the fraction of rows decided right (NaN for
    regression)."""
    with src.lanes():
        src(f"se[b] = se[b] / (X.shape[0] * {n_out})")
        src("correct[b] = correct[b] / X.shape[0] if is_class else np.nan")


def _noise_loops(src: Source, nw: int, lanes: str, target, blk: int) -> None:
    """Noise increments [V] of the weights, ``target(k)`` = z_k * sn[k, b], rows k < ``noise_rows(nw)``: four
    per Philox block (counter: instance, k // 4, step). The Philox words go to ``U`` (flat, rows of ``blk``) in
    one loop and are transformed in another (``mathfn.box_muller_float64``: one loop doing both overlaps its
    iterations less), each loop over the lanes vectorised."""
    src("lo = step & 0xFFFFFFFF")
    src("hi = step >> 32")
    with src.block(f"for kq in range({noise_rows(nw) // 4}):"), src.lanes(lanes):
        src("r0, r1, r2, r3 = philox4x32(inst[b], kq, lo, hi, seed, STREAM_NOISE)")
        for m in range(4):
            src(f"U[(4 * kq + {m}) * {blk} + b] = r{m}")
    with src.block(f"for kq in range({noise_rows(nw) // 4}):"), src.lanes(lanes):
        words = ", ".join(f"U[(4 * kq + {m}) * {blk} + b]" for m in range(4))
        src(f"z0, z1, z2, z3 = box_muller({words})")
        for m in range(4):
            src(f"{target(f'4 * kq + {m}')} = z{m} * sn[4 * kq + {m}, b]")


def _slope(spec: KernelSpec, name: str) -> Expr:
    """A stage slope in the float64 combination of the step (float32 slopes are widened first)."""
    return atom(f"np.float64({name})" if spec.dtype == "float32" else name)


def _layered_step(src: Source, spec: KernelSpec) -> None:
    """The integrator step inside the time loop, from the solver's tableau: w <- w + increment (+ noise).

    In float32 a weight is a pair of float32, ``wh + wl``: the increment and ``wl`` are added to ``wh`` by an exact
    TwoSum whose rounding error becomes the new ``wl``, so that increments far below a float32 ulp of the weight
    (a leak's ``dt / tau`` of 1e-7) still add up (MODEL.md section 6) while every loop runs in float32 lanes; the
    rails clip the pair to the rails' own pairs. The float64 weights ``w`` are written back before each evaluation.
    """
    tab = SOLVERS[spec.method]
    nw = Topology(spec.layers).n_weights
    pair = spec.dtype == "float32"
    syntax = COMPUTE if pair else NUMBA
    dargs = f"vt, DSA, DNA, NOM, DFS, DFN, tgt, {_acts(spec)}, acc, hx, dd, delta, v_rest, B{_lag_args(spec)}"
    dW = None
    if spec.noise:
        src("sn = sn_on if vt != ZERO else sn_off")
        # dW is flat with rows of a constant length: LLVM then proves the four stores of a loop disjoint (rows of a
        # 2-d array, with a run-time stride, leave it a slow path)
        _noise_loops(src, nw, "B", lambda k: f"dW[({k}) * {spec.block} + b]", spec.block)
        dW = atom(f"dW[k * {spec.block} + b]")
    wname = "wh" if pair else "w"
    w, dt = atom(f"{wname}[k, b]"), atom("dtf" if pair else "dt")
    slopes = [atom(f"k{s}[k, b]") for s in range(tab.stages)]
    for s in range(tab.stages):
        stage_in = tab.stage_input(s, w, slopes[:s], dt, dW)
        wsrc = wname
        if stage_in is not w:
            with src.block(f"for k in range({nw}):"), src.lanes():
                src(f"ws[k, b] = {render(stage_in, syntax)}")
            wsrc = "ws"
        stage = f", F({tab.b[s]!r}), {'ZERO' if s == 0 else 'ONE'}" if spec.lags else ""
        src(f"drift({wsrc}, k{s}, {dargs}{stage})")
    # the new weights are stored as they come, clipped to the rails when finite (an infinite one is kept for
    # check_lanes to see, once per row: mcaann.engine.divergence)
    with src.block(f"for k in range({nw}):"), src.lanes():
        if pair:
            src(f"y = {render(tab.combine(atom('wl[k, b]'), slopes, dt, dW), syntax)}")
            src("oh = wh[k, b]")
            src("t = oh + y")
            src("bp = t - oh")
            src("tl = (oh - (t - bp)) + (y - bp)")
            if spec.rails:
                src("fine = t - t == ZERO")
                src("over = fine & ((t > vhi_h) | ((t == vhi_h) & (tl > vhi_l)))")
                src("under = fine & ((t < vlo_h) | ((t == vlo_h) & (tl < vlo_l)))")
                src("wh[k, b] = vhi_h if over else (vlo_h if under else t)")
                src("wl[k, b] = vhi_l if over else (vlo_l if under else tl)")
            else:
                src("wh[k, b] = t")
                src("wl[k, b] = tl")
        else:
            src(f"v = {render(tab.combine(w, slopes, dt, dW))}")
            src("w[k, b] = min(max(v, v_lo), v_hi) if v - v == ZERO else v" if spec.rails else "w[k, b] = v")
    if spec.lags:
        _lag_step(src, spec)


def _flag_diverged(src: Source, bad: str) -> None:
    """Lanes where ``bad`` holds and that were not yet flagged: diverged (``div``) at this ``step``."""
    with src.lanes():
        src(f"newly = ({bad}) & (div[b] == 0.0)")
        src("ds, d = div_step[b], div[b]")
        src("div_step[b] = step if newly else ds")
        src("div[b] = 1.0 if newly else d")


def _weight_pairs(src: Source, spec: KernelSpec, to_pairs: bool) -> None:
    """float32 layered kernels: the block's float64 weights ``w`` into float32 pairs ``wh + wl`` (and the rails'
    pairs, the float32 ``dtf``), or the pairs back into ``w``."""
    nw = Topology(spec.layers).n_weights
    with src.block(f"for k in range({nw}):"), src.lanes():
        if to_pairs:
            src("wh[k, b] = F(w[k, b])")
            src("wl[k, b] = F(w[k, b] - np.float64(wh[k, b]))")
        else:
            src("w[k, b] = np.float64(wh[k, b]) + np.float64(wl[k, b])")
    if to_pairs:
        src("dtf = F(dt)")
        for rail in ("lo", "hi"):  # an infinite rail has no rounding error to keep
            src(f"v{rail}_h = F(v_{rail})")
            src(f"v{rail}_l = F(v_{rail} - np.float64(v{rail}_h)) if v{rail}_h - v{rail}_h == ZERO else ZERO")


def _lag_step(src: Source, spec: KernelSpec) -> None:
    """The lagged nodes' values after the step (``blocks.node_next``), from the stages' static means ``sm_*``."""
    lb = LayeredBuilder(spec, src, "")
    topo = Topology(spec.layers)
    for kind in settling.NODES:
        count = topo.n_weights if kind in settling.SYNAPSE_NODES else topo.n_neurons
        idx = atom("i")
        nxt = blocks.node_next(atom(f"sm_{kind}[i, b]"), atom(f"nd_{kind}[i, b]"), kind, lb.neuron(idx))
        with src.block(f"for i in range({count}):"), src.lanes():
            src(f"nd_{kind}[i, b] = {render(nxt, COMPUTE)}")


def _fused_step(src: Source, spec: KernelSpec, fz: FusedBuilder, teach: bool) -> None:
    """``def step_on`` / ``step_off``: one integrator step (the solver's tableau) of every instance of a block,
    in place, as straight-line code per lane.

    The new weights are stored as they come, finite or not (an infinite one is not clipped to a rail), and
    tested once per row (``_row_steps``, ``mcaann.engine.divergence``). Keeping the old weights for a select
    inside the step holds all of them in registers through it, which spills: the step without runs at twice the
    rate on the ideal XOR."""
    tab = SOLVERS[spec.method]
    nw, blk = fz.topo.n_weights, fz.blk
    name = "step_on" if teach else "step_off"
    src(JIT)
    with src.block(f"def {name}(W64, WF, U, NOM, sn, inst, dt, vt, v_bias, v_lo, v_hi, v_rest, step, seed):"):
        src(f'"""One {spec.method} step of {blk} instances (lanes b), teaching {"on" if teach else "off"}."""')
        _scalars(src, spec)
        fz.calls, fz.values = {}, {}
        if spec.noise:  # the noise increments first, in a loop of their own (it vectorises; inlined into the
            # step, it is slow to compile)
            _noise_loops(src, nw, str(blk), lambda k: f"W64[{fz.o_dw} + ({k}) * {blk} + b]", blk)
        with src.lanes(str(blk)):
            for k in range(nw):
                src(f"w{k} = W64[{fz.o_w + k * blk} + b]")
            for i in range(spec.layers[0]):
                src(f"x{i} = {fz.WF}[{fz.o_row + i * blk} + b]")
            for j in range(spec.layers[-1]):
                src(f"t{j} = {fz.WF}[{fz.o_row + (spec.layers[0] + j) * blk} + b]")
            if spec.noise:
                for k in range(nw):
                    src(f"n{k} = W64[{fz.o_dw + k * blk} + b]")
            cv = (lambda v: atom(f"F({v})")) if spec.dtype == "float32" else atom
            dt = atom("dt")
            for s in range(tab.stages):
                inputs = []
                for k in range(nw):
                    slopes = [_slope(spec, f"k{j}_{k}") for j in range(s)]
                    stage_in = tab.stage_input(s, atom(f"w{k}"), slopes, dt, atom(f"n{k}") if spec.noise else None)
                    if isinstance(stage_in, Expr) and stage_in.op != "atom":
                        src(f"u{s}_{k} = {render(stage_in)}")
                        stage_in = atom(f"u{s}_{k}")
                    inputs.append(cv(stage_in.name))
                fz.drift(inputs, f"k{s}_", teach)
            for k in range(nw):
                slopes = [_slope(spec, f"k{s}_{k}") for s in range(tab.stages)]
                src(f"v{k} = {render(tab.combine(atom(f'w{k}'), slopes, dt, atom(f'n{k}') if spec.noise else None))}")
            for k in range(nw):
                if spec.rails:  # an infinite weight is stored as it is, for check_lanes to see
                    src(f"W64[{fz.o_w + k * blk} + b] = min(max(v{k}, v_lo), v_hi) if v{k} - v{k} == 0.0 else v{k}")
                else:
                    src(f"W64[{fz.o_w + k * blk} + b] = v{k}")


def _train_block(src: Source, spec: KernelSpec, fz: FusedBuilder | None, hoisted: int = 0,
                 folds: Folds | None = None) -> None:
    """``def train_block``: the fixed skeleton (epochs, rows, steps, evaluations) for one block of instances;
    ``hoisted``: the rows of the layered drift's ``hx``, ``folds`` its parameter-only subexpressions."""
    n_in, n_out = spec.layers[0], spec.layers[-1]
    topo = Topology(spec.layers)
    nw, nn, blk, F = topo.n_weights, topo.n_neurons, spec.block, spec.dtype
    acts = _acts(spec)
    src("@njit(cache=True, nogil=True, error_model='numpy', fastmath={'contract'})")  # the noise's polynomials in FMAs
    with src.block("def train_block(w, DS, DN, NOM, X, T, thr, is_class, order_shuffled, epochs, spr, settle, dt,\n"
                   "                vt_on, v_bias, v_lo, v_hi, v_rest, sn_on, sn_off, seed, inst, mse, accu, div,\n"
                   "                div_step, XH, TH, keep, accu_h):"):
        src('"""Train one block of B instances in place; mse/accu (epochs + 1, B) per epoch on the training rows X, T;')
        src('accu_h (epochs + 1, B) on the held-out rows XH, TH at epoch 0, every keep-th and the last (if any)."""')
        src("B = w.shape[1]")
        src(f"assert B == {blk}")
        _work_arrays(src, spec, "DS", "DN")
        if spec.learning == "eqprop":
            src("V[:, :] = NOM[1]")  # the nodes start at V_mid
            with src.lanes():
                src("OK[b] = 1.0 - div[b]")
        elif fz is None:  # the layered steps' work arrays
            src(f"dd = np.empty(({nn}, B), F)")
            src(f"delta = np.empty(({nn}, B), F)")
            src(f"hx = np.empty({max(hoisted, 1) * blk}, F)")
            for s in range(SOLVERS[spec.method].stages):
                src(f"k{s} = np.empty(({nw}, B), F)")
            W = "F" if F == "float32" else "np.float64"  # float32: weight pairs (_layered_step)
            src(f"ws = np.empty(({nw}, B), {W})")
            if F == "float32":  # the pairs' rows wh then wl, one array for check_lanes
                src(f"WS = np.empty(({2 * nw}, B), F)")
                src(f"wh = WS[:{nw}]")
                src(f"wl = WS[{nw}:]")
            else:
                src("WS = w")
            src("WK = np.empty_like(WS)")  # the weights at the start of the row
            src(f"dW = np.zeros({noise_rows(nw) * blk}, F)")
            src(f"fin = np.empty(B, {W})")
            if F == "float32":
                _weight_pairs(src, spec, True)
            if spec.lags:  # the lagged nodes start at 0 V
                for kind in settling.NODES:
                    count = nw if kind in settling.SYNAPSE_NODES else nn
                    src(f"nd_{kind} = np.zeros(({count}, B), F)")
                    src(f"ndk_{kind} = np.zeros(({count}, B), F)")
                    src(f"sm_{kind} = np.zeros(({count}, B), F)")
        if spec.learning != "eqprop":
            # the noise's Philox words, as 32-bit integers: the transform's loop then runs in 32-bit lanes (float32)
            # or converts them with fewer instructions (float64)
            src(f"U = np.zeros({noise_rows(nw) * blk}, np.uint32)")
        src(f"tgt = np.empty(({n_out}, B), F)")
        src("se = np.empty(B)")
        src("correct = np.empty(B)")
        src("n_rows = X.shape[0]")
        src("perm = np.empty((n_rows, B), np.int64)")
        src("vt_f = F(vt_on)")
        src("v_rest = F(v_rest)")
        if folds is not None:
            folds.write(src, spec)
        if fz is not None:
            src(f"W64 = np.empty({fz.n64 + (fz.nF if F == 'float64' else 0)})")
            src("WF = W64" if F == "float64" else f"WF = np.empty({fz.nF}, F)")
            src(f"WF[{fz.o_ds}:{fz.o_dn}] = DS")
            src(f"WF[{fz.o_dn}:{fz.o_dn} + DN.size] = DN")
            with src.lanes():
                src(f"W64[{fz.o_div} + b] = div[b]")
                src(f"W64[{fz.o_dstep} + b] = div_step[b]")
            src(f"wflat = w.reshape({nw * blk})")
            src(f"W64[{fz.o_w}:{fz.o_w + nw * blk}] = wflat")
            src("v_bias_f = F(v_bias)")
            # check_lanes' views: the weights, those at the start of the row, the divergence flags and steps
            src(f"WS = W64[{fz.o_w}:{fz.o_w + nw * blk}].reshape(({nw}, B))")
            src(f"WK = W64[{fz.o_keep}:{fz.o_keep + nw * blk}].reshape(({nw}, B))")
            src(f"DIV = W64[{fz.o_div}:{fz.o_div} + B]")
            src(f"DSTEP = W64[{fz.o_dstep}:{fz.o_dstep} + B]")
            src("fin = np.empty(B)")
        evaluation = f"evaluate(w, DSA, DNA, NOM, X, T, thr, is_class, {acts}, acc, se, correct, B)"
        held_out = f"evaluate(w, DSA, DNA, NOM, XH, TH, thr, is_class, {acts}, acc, se, correct, B)"
        src(evaluation)
        with src.lanes():
            src("mse[0, b] = se[b]")
            src("accu[0, b] = correct[b]")
        with src.block("if XH.shape[0] > 0:"):
            src(held_out)
            with src.lanes():
                src("accu_h[0, b] = correct[b]")
        # spr * 0, not 0: a literal 0 types the first call of each row function as its own signature, which
        # Numba then compiles twice
        src("step = spr * 0")
        with src.block("for ep in range(epochs):"):
            with src.lanes():
                with src.block("for r in range(n_rows):"):
                    src("perm[r, b] = r")
                with src.block("if order_shuffled:"), src.block("for i in range(n_rows - 1, 0, -1):"):
                    src("u = uniform(inst[b], ep, i, 0, seed, STREAM_SHUFFLE)")
                    src("j = int(u * (i + 1))")
                    src("tmp = perm[i, b]")
                    src("perm[i, b] = perm[j, b]")
                    src("perm[j, b] = tmp")
            with src.block("for rpos in range(n_rows):"):
                with src.lanes():
                    src("r = perm[rpos, b]")
                    for i in range(n_in):
                        src(f"act0[{i + 1}, b] = X[r, {i}]")
                    for j in range(n_out):
                        src(f"tgt[{j}, b] = T[r, {j}]")
                if fz is not None:
                    with src.lanes():
                        for i in range(n_in):
                            src(f"WF[{fz.o_row + i * blk} + b] = act0[{i + 1}, b]")
                        for j in range(n_out):
                            src(f"WF[{fz.o_row + (n_in + j) * blk} + b] = tgt[{j}, b]")
                if spec.learning == "eqprop":
                    _eqprop_row(src, spec)
                else:
                    _row_steps(src, spec, fz)
            if fz is not None:
                src(f"wflat[:] = W64[{fz.o_w}:{fz.o_w + nw * blk}]")
            elif F == "float32" and spec.learning != "eqprop":
                _weight_pairs(src, spec, False)
            src(evaluation)
            with src.lanes():
                src("mse[ep + 1, b] = se[b]")
                src("accu[ep + 1, b] = correct[b]")
            with src.block("if XH.shape[0] > 0 and ((ep + 1) % keep == 0 or ep + 1 == epochs):"):
                src(held_out)
                with src.lanes():
                    src("accu_h[ep + 1, b] = correct[b]")
        if fz is not None:
            with src.lanes():
                src(f"div[b] = W64[{fz.o_div} + b]")
                src(f"div_step[b] = np.int64(W64[{fz.o_dstep} + b])")


def _row_steps(src: Source, spec: KernelSpec, fz: FusedBuilder | None) -> None:
    """The body of a row for the backprop circuit: its integrator steps, the new weights stored as they come, and
    the divergence test once per row (``mcaann.engine.divergence``): a row in which a lane diverged runs again from
    its start with the test after every step. The steps are written once (a second copy of the layered step, for
    the repeat, took half as long again to compile)."""
    nw = Topology(spec.layers).n_weights
    div = ("div", "div_step") if fz is None else ("DIV", "DSTEP")
    check = f"check_lanes(WS, WK, {nw}, fin, {div[0]}, {div[1]}, step, {{flag}})"
    lagged = [f"nd_{kind}" for kind in settling.NODES] if spec.lags and fz is None else []
    args = "W64, WF, U, NOM, {sn}, inst, dt, vt, v_bias_f, v_lo, v_hi, v_rest, step, seed"
    _copy(src, "WK", "WS")
    for nd in lagged:  # the lagged nodes too, for a repeat of the row
        _copy(src, nd.replace("nd_", "ndk_"), nd)
    src("step0 = step")
    with src.block("for checked in range(2):"):
        with src.block("if checked:"):
            src("# a lane diverged in this row: the row again from its start, testing every step")
            _copy(src, "WS", "WK")
            for nd in lagged:
                _copy(src, nd, nd.replace("nd_", "ndk_"))
            src("step = step0")
        with src.block("for s in range(spr):"):
            with src.block("if checked:"):
                _copy(src, "WK", "WS")
            src("vt = vt_f if s >= settle else ZERO")
            if fz is None:
                _layered_step(src, spec)
            else:
                with src.block("if vt != ZERO:"):
                    src(f"step_on({args.format(sn='sn_on')})")
                with src.block("else:"):
                    src(f"step_off({args.format(sn='sn_off')})")
            with src.block("if checked:"):
                src(check.format(flag="True"))
            src("step += 1")
        with src.block(f"if checked or {check.format(flag='False')} == 0:"):
            src("break")


def _copy(src: Source, dst: str, source: str) -> None:
    """``dst`` = ``source``, two arrays of (rows, lanes), as loops (a slice assignment takes Numba longer to
    compile)."""
    with src.block(f"for k in range({source}.shape[0]):"), src.lanes():
        src(f"{dst}[k, b] = {source}[k, b]")


def _eqprop_row(src: Source, spec: KernelSpec) -> None:
    """The body of a row for the eqprop circuit: its phases and update (``eqrow``), then the divergence flags of
    lanes whose Newton solve failed; the row counts ``spr`` steps."""
    from mcaann.engine.eqprop_codegen import WORK

    src(f"eqrow(w, DSA, DNA, NOM, act0, tgt, {WORK}, v_rest, v_lo, v_hi, B, inst, step, seed)")
    _flag_diverged(src, "OK[b] == 0.0")
    src("step += spr")


def _work_arrays(src: Source, spec: KernelSpec, ds: str, dn: str) -> None:
    """Activations (bias row set), the accumulator and the (parameter, synapse or neuron, lane) views ``DSA``/``DNA``
    of the flat per-block derived parameters ``ds``/``dn``."""
    topo = Topology(spec.layers)
    nsyn, nneu = (len(x) for x in derived_names(spec)[:2])
    for l in range(len(spec.layers)):
        src(f"act{l} = np.empty(({spec.layers[l] + 1}, B), F)")
        src(f"act{l}[0, :] = F(v_bias)")
    src("acc = np.empty(B, F)")
    if spec.learning == "eqprop":
        from mcaann.engine import eqprop_codegen

        eqprop_codegen.work_arrays(src, spec)
    src(f"DSA = {ds}.reshape(({nsyn}, {topo.n_weights}, B))")
    src(f"DNA = {dn}.reshape(({nneu}, {topo.n_neurons}, B))")


def generate(spec: KernelSpec) -> str:
    """Python source of the kernels for ``spec``."""
    topo = Topology(spec.layers)
    F = spec.dtype
    src = Source()
    src(f'"""Generated by mcaann.engine.codegen {CODEGEN_VERSION} for {spec}. Do not edit."""')
    src("import math")
    src("import numpy as np")
    src("from numba import njit")
    src("from mcaann.variability.rng import philox4x32, uniform, STREAM_NOISE, STREAM_SHUFFLE")
    if spec.learning != "eqprop":
        src("from mcaann.engine.divergence import check_lanes")
    src(f"from mcaann.engine.mathfn import sat_{F} as SAT, sigmoid_{F} as SIGMOID")
    noise = "normal_quad_{0} as normal_quad" if spec.learning == "eqprop" else "box_muller_{0} as box_muller"
    src(f"from mcaann.engine.mathfn import {noise.format(F)}")
    src(f"F = np.{F}")
    src("ZERO = F(0.0)")
    src("ONE = F(1.0)")
    src(f"NW = {topo.n_weights}")
    src(f"NN = {topo.n_neurons}")
    src("")
    fz, hoisted, folds = None, 0, None
    if spec.learning == "eqprop":
        from mcaann.engine import eqprop_codegen

        src("from mcaann.engine.newton import solve_lanes")
        eqprop_codegen.functions(src, spec)
    elif spec.fused:
        if spec.lags:
            raise ValueError("node lags run in the layered kernels only (fused = False)")
        fz = FusedBuilder(spec, src)
        for teach in (True, False):
            _fused_step(src, spec, fz, teach)
            src("")
    else:
        hoisted, folds = _layered_drift(src, spec)
    if spec.learning != "eqprop":
        src("")
        _evaluate(src, spec)
    src("")
    _train_block(src, spec, fz, hoisted, folds)
    src("")
    src("@njit(cache=True, nogil=True, error_model='numpy')")
    with src.block("def evaluate_block(w, DS, DN, NOM, X, T, thr, is_class, v_bias, mse, accu):"):
        src('"""Static evaluation of one block (retention phase): MSE and accuracy per lane into mse, accu (B,)."""')
        src("B = w.shape[1]")
        _work_arrays(src, spec, "DS", "DN")
        src(f"evaluate(w, DSA, DNA, NOM, X, T, thr, is_class, {_acts(spec)}, acc, mse, accu, B)")
    return src.text()
