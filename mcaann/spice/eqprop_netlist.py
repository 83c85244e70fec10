"""ngspice netlists of the equilibrium-propagation circuit, from its one description (``circuit.eqprop``).

The free phase of one instance at one input row, as an operating point: the inputs and the bias are voltage
sources, every weight capacitor's node ``w_<layer>_<post>_<pre>`` is held at its voltage, and every current
``eqprop.kcl`` adds into a neuron node (synapses with their own mismatched parameters, loads, clamp diodes) is
a behavioural current source rendered from the same expressions as the kernels. Neuron nodes are
``n_<layer>_<index>`` (layer 1 = first hidden), inputs ``x_<i>``, the bias ``vbias``.

``devices = "mos"`` (the seed's square-law pair only) writes every synapse transistor as a level-1 NMOS instead,
its own ``.model`` (``VTO`` its threshold, ``KP`` its current factor ``beta_T``, ``W = L``, ``LAMBDA = GAMMA =
0``, bulk at -10 V so its junctions stay off): level 1 in triode and saturation is the same square law, source
and drain symmetric. The gates are behavioural sources at ``V_G0 +- w``, the inverted copies ``2 V_mid - v_a``
behavioural voltage sources (drawing nothing from ``a``), and each neuron amplifier a behavioural voltage source
``V_mid + A_n (v - V_mid)`` whose output current, sensed by a 0 V source, a current-controlled current source
draws from the neuron node times the amplifier's backward gain. Loads, clamp diodes and nudging stay behavioural.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from mcaann.circuit import eqprop
from mcaann.circuit.algebra import SPICE, Expr, Syntax, atom, render
from mcaann.circuit.network import Topology
from mcaann.engine.eqprop_reference import Network, constants
from mcaann.errors import StudyError
from mcaann.spice.ngspice import NgspiceError

#: the ways synapses are written: behavioural current sources, or level-1 MOSFETs (square-law pair only)
SPICE_DEVICES = ("behavioural", "mos")
#: the bulk of the synapse MOSFETs [V], below every node so that no junction conducts
V_SUBSTRATE = -10.0

#: SPICE syntax with the eqprop devices' functions
EQ_SPICE = Syntax(SPICE.functions | {"relu": "max({0},0)", "step": "u({0})", "exp": "exp({0})",
                                      "softplus": "(max({0},0)+ln(1+exp(-abs({0}))))"}, SPICE.number)


def _node(topo: Topology, n: int) -> str:
    for l in range(1, len(topo.layers)):
        if n < topo.n_offset[l]:
            return f"n_{l}_{n - topo.n_offset[l - 1]}"
    raise IndexError(n)


class _Spice:
    """The ``kcl`` builder writing one B-source per current into a node (the Jacobian is ngspice's)."""

    def __init__(self, net: Network, k_index: int, t, beta: float):
        self.topo, self.variant, self.d, self.k = net.topo, net.variant, net.d, k_index
        c = net.const
        self.const = eqprop.Constants(atom("v(vbias)"), c.v_mid, c.v_g0, c.i_s, c.v_d, c.out_lo, c.out_hi, c.knee)
        self.t, self.beta = t, beta
        self.lines: list[str] = []

    def lanes(self):
        return nullcontext()

    def let(self, name, value):
        return value

    def node(self, l: int, i: int):
        if i == 0:
            return atom("v(vbias)")
        if l == 0:
            return atom(f"v(x_{i - 1})")
        return atom(f"v({_node(self.topo, self.topo.n_offset[l - 1] + i - 1)})")

    def free(self, l: int, i: int):
        return None if i == 0 or l == 0 else self.topo.n_offset[l - 1] + i - 1

    def weight(self, k: int):
        w = self.topo.weight_coords()
        return atom(f"v(w_{w['layer'][k]}_{w['post'][k]}_{w['pre'][k]})")

    def synapse(self, k: int):
        return lambda name: float(self.d[name][self.k, k])

    neuron = synapse

    def target(self, j: int):
        return 0.0 if self.t is None else float(self.t[j])

    def inject(self, n: int, value) -> None:
        if isinstance(value, float) and value == 0.0:
            return
        self.lines.append(f"B{len(self.lines)} 0 {_node(self.topo, n)} I={{{render(value, EQ_SPICE)}}}")

    def jac(self, n, m, value) -> None:
        pass


def _uses(e, part: Expr) -> bool:
    """Whether expression ``e`` contains ``part`` (the same object)."""
    return e is part or (isinstance(e, Expr) and any(_uses(a, part) for a in e.args))


class _SpiceMos(_Spice):
    """``_Spice`` without the synapses' currents: those flow in the MOSFETs ``_mos_lines`` writes. ``kcl`` names
    every synapse output with ``let("syn", ...)``: here each is one marker, and an injection using it is dropped."""

    synapse_current = atom("synapse")

    def let(self, name, value):
        return self.synapse_current if name == "syn" else value

    def inject(self, n: int, value) -> None:
        if not _uses(value, self.synapse_current):
            super().inject(n, value)


def _mos_lines(net: Network, instance: int) -> list[str]:
    """The synapse transistor pairs as level-1 NMOS, their gates, the inverted copies and the amplifiers."""
    topo, d, c = net.topo, net.d, net.const
    wc = topo.weight_coords()
    out, amplified, inverted = [f"Vsub vsub 0 DC {V_SUBSTRATE!r}"], {}, set()
    for l in range(1, topo.n_layers + 1):
        for j in range(topo.layers[l]):
            post = _node(topo, topo.n_offset[l - 1] + j)
            for i in range(topo.layers[l - 1] + 1):
                k = topo.w_offset[l - 1] + j * (topo.layers[l - 1] + 1) + i
                if i == 0:
                    pre = "vbias"
                elif l == 1:
                    pre = f"x_{i - 1}"
                else:
                    n = topo.n_offset[l - 2] + i - 1
                    pre = amplified.setdefault(n, f"amp_{_node(topo, n)}")
                if pre not in inverted:
                    inverted.add(pre)
                    out.append(f"Binv_{pre} inv_{pre} 0 V={{{2.0 * c.v_mid!r}-v({pre})}}")
                w = f"v(w_{wc['layer'][k]}_{wc['post'][k]}_{wc['pre'][k]})"
                for tag, sign, drain in (("p", "+", pre), ("m", "-", f"inv_{pre}")):
                    out.append(f"Bg{tag}{k} g{tag}{k} 0 V={{{c.v_g0!r}{sign}{w}}}")
                    out.append(f"M{tag}{k} {drain} g{tag}{k} {post} vsub m{tag}{k} W=1u L=1u")
                    out.append(f".model m{tag}{k} nmos level=1 vto={c.v_g0 - float(d['u' + tag][instance, k])!r} "
                               f"kp={2.0 * float(d['b' + tag][instance, k])!r} lambda=0 gamma=0")
    for n, amp in amplified.items():
        node, a = _node(topo, n), float(d["a_n"][instance, n])
        back = float(eqprop.backward_gain(net.variant, a))
        forward = eqprop.amplifier(net.variant, c, atom(f"v({node})"), a)[0]
        out += [f"Bamp_{node} ampi_{node} 0 V={{{render(forward, EQ_SPICE)}}}",
                f"Vsense_{node} ampi_{node} {amp} DC 0",
                f"Fback_{node} {node} 0 Vsense_{node} {back!r}"]
    return out


def eqprop_netlist(study, params: dict[str, np.ndarray], instance: int, x: np.ndarray,
                   label: int | None = None, w: np.ndarray | None = None, t: np.ndarray | None = None,
                   devices: str = "behavioural") -> str:
    """Netlist of the free phase of ``instance`` (its row in ``params``, arrays over (instance, block)) with
    inputs ``x`` [V] and weights ``w`` (default ``params["w_init"]``) [V], or of the nudged phase towards targets
    ``t`` [V]; its first line is a comment naming instance ``label``. ``devices``: ``SPICE_DEVICES``."""
    if devices not in SPICE_DEVICES:
        raise StudyError(f"--devices: {devices!r} is not one of {', '.join(SPICE_DEVICES)}")
    if devices == "mos" and study.eqprop.device != "square_law":
        raise StudyError(f"--devices: mos writes the square-law transistor pair; eqprop.device is "
                         f"{study.eqprop.device!r}")
    topo = Topology(tuple(study.network.layers))
    net = Network(study, topo, params)
    builder = _SpiceMos if devices == "mos" else _Spice
    b = builder(net, instance, t, 0.0 if t is None else study.eqprop.beta)
    eqprop.kcl(b)
    if devices == "mos":
        b.lines += _mos_lines(net, instance)
    c = constants(study)
    name = instance if label is None else label
    phase = "free" if t is None else "nudged"
    w = params["w_init"][instance] if w is None else w
    out = [f"* mcaann eqprop {phase} phase: study {study.name}, instance {name}, device {study.eqprop.device}",
           f"Vbias vbias 0 DC {c.v_bias!r}"]
    out += [f"Vx{i} x_{i} 0 DC {float(v)!r}" for i, v in enumerate(x)]
    wc = topo.weight_coords()
    for k in range(topo.n_weights):
        name = f"w_{wc['layer'][k]}_{wc['post'][k]}_{wc['pre'][k]}"
        out.append(f"V{name} {name} 0 DC {float(w[k])!r}")
    out += [f"C{_node(topo, n)} {_node(topo, n)} 0 {float(params['c_node'][instance, n])!r}"
            for n in range(topo.n_neurons)]
    out += b.lines
    out.append(f".nodeset {' '.join(f'v({_node(topo, n)})={c.v_mid!r}' for n in range(topo.n_neurons))}")
    out.append(".end")
    return "\n".join(out) + "\n"


def ngspice_op(netlist_text: str, nodes: list[str], timeout: float | None = 60.0) -> dict[str, float]:
    """The operating point of a netlist in ``ngspice -b``: node voltages [V]."""
    exe = shutil.which("ngspice")
    if exe is None:
        raise NgspiceError("ngspice: not found on the PATH (Debian/Ubuntu: apt-get install ngspice)")
    wrapper = "\n".join(["* mcaann ngspice operating point", ".include net.cir", ".options reltol=1e-9 abstol=1e-18 "
                         "vntol=1e-12", ".control", "set numdgt=16", "op"]
                        + [f"print v({n})" for n in nodes] + [".endc", ".end", ""])
    with tempfile.TemporaryDirectory(prefix="mcaann-spice-") as tmp:
        d = Path(tmp)
        (d / "net.cir").write_text(netlist_text)
        (d / "run.cir").write_text(wrapper)
        proc = subprocess.run([exe, "-b", "run.cir"], cwd=d, capture_output=True, text=True, timeout=timeout,
                              check=False)
    found = dict(re.findall(r"^v\((\w+)\)\s*=\s*(\S+)", proc.stdout, flags=re.MULTILINE))
    if any(n not in found for n in nodes):  # (the exit status is 1: no analysis outside .control)
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise NgspiceError(f"ngspice: failed (exit {proc.returncode})\n{tail}")
    return {n: float(found[n]) for n in nodes}


def check_free_phase(study, instance: int, params: dict[str, np.ndarray] | None = None,
                     devices: str = "behavioural") -> float:
    """Largest |ngspice - engine| [V] of the free-phase equilibrium's node voltages over every row of the
    task, for ``instance`` with its initial weights (synapses written as ``devices``)."""
    from mcaann.engine.driver import study_task
    from mcaann.variability.mismatch import sample_instances

    topo = Topology(tuple(study.network.layers))
    if params is None:
        params = sample_instances(study, topo, np.array([instance]))
        instance_row = 0
    else:
        instance_row = instance
    net = Network(study, topo, {k: v[instance_row:instance_row + 1] for k, v in params.items()})
    task = study_task(study)
    nodes = [_node(topo, n) for n in range(topo.n_neurons)]
    worst = 0.0
    for x in task.x:
        v0 = np.full((1, topo.n_neurons), study.eqprop.V_mid)
        v, ok = net.equilibrium(params["w_init"][instance_row:instance_row + 1], x[None, :], None, 0.0, v0)
        if not ok.all():
            raise NgspiceError("engine: the free-phase solve did not converge")
        sp = ngspice_op(eqprop_netlist(study, params, instance_row, x, devices=devices), nodes)
        worst = max(worst, float(np.max(np.abs(np.array([sp[n] for n in nodes]) - v[0]))))
    return worst


def check_epoch(study, instance: int, devices: str = "behavioural") -> float:
    """Largest |w difference| [V] after one epoch between the engine and the same protocol whose free and
    nudged phases are ngspice operating points (the update from their node voltages, as the engine's); both
    without noise (an operating point has none)."""
    from mcaann.engine.driver import study_task
    from mcaann.engine.reference import row_order
    from mcaann.study.load import load_study
    from mcaann.variability.mismatch import sample_instances

    if study.noise.enabled:
        study = load_study(study, {"noise.enabled": False})

    topo = Topology(tuple(study.network.layers))
    params = sample_instances(study, topo, np.array([instance]))
    net = Network(study, topo, params)
    task = study_task(study)
    nodes = [_node(topo, n) for n in range(topo.n_neurons)]
    order = row_order(instance, 0, task.n_rows, study.monte_carlo.seed, study.task.order == "shuffled")
    w = params["w_init"].copy()
    ok = np.ones(1, bool)

    def op(x, t):
        sp = ngspice_op(eqprop_netlist(study, params, 0, x, instance, w[0], t, devices), nodes)
        return np.array([[sp[n] for n in nodes]])

    for r in order:
        x = task.x[r]
        w, ok = net.update(w, x[None, :], op(x, None), op(x, task.t[r]), ok)
    orders = [np.array([order])] if study.task.order == "shuffled" else None
    w_engine = net.train(params["w_init"], task.x, task.t, None, 1, orders)[0]
    return float(np.max(np.abs(w - w_engine)))
