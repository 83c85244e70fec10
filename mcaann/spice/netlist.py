"""Export one Monte Carlo instance as a plain ngspice netlist (block level, behavioural).

The netlist is the engine's model (``engine/reference.py``, MODEL.md sections 1-3) written
with SPICE elements, using the instance's own sampled block parameters:

- every multiplier is a current-output B-source ``I = K_I tanh(K_m (a + Voff_a)(b + Voff_b) / K_I) +
  I_off_out`` (linear where ``K_I = inf``; ``I_off_out`` its output mirror's offset); the forward
  multipliers of a neuron inject into a virtual-ground node held at 0 V by a 0 V source, whose branch
  current is the summed input current ``I_j`` (Kirchhoff does the sum); the backward multipliers into a
  neuron of the previous layer do the same;
- activation, derivative (with its output offset), errors, deltas (the delta multiplier with its input and
  output offsets) and gradient voltages are voltage B-sources;
- finite settling (``settling.enabled``, ``circuit.settling``): a lagged node's block drives the node through a
  resistor ``R_node`` from a B-source at its static value (``<node>s``: ``ys_1_0`` for ``y_1_0``), and the node
  has its gate load ``C_node = tau / R_node`` to ground, 0 V at the start; the gradient node ``g_<l>_<j>_<i>``
  holds ``g = R_e M_upd`` and its pump reads ``M_upd = V(g) / R_e``;
- every weight is a capacitor from ``w_<layer>_<post>_<pre>`` to ground with ``.ic`` = ``w_init``,
  charged by a current B-source ``-I_max tanh(K_g (V_teach / V_teach_ref) g / I_max) + (V_teach /
  V_teach_ref) I_pump_off`` (linear where ``I_max = inf``; ``I_pump_off`` its up/down imbalance),
  discharged by a resistor ``1 / G_leak`` to a ``V_rest`` source
  and a constant current source ``I_leak0`` (each left out where zero);
- rails: the engine clips ``w`` to ``[V_lo, V_hi]`` after every step, i.e. it integrates the
  projected ODE (the weight stops at the rail while the drive pushes outward and leaves it as
  soon as the drive turns). The netlist models this with a stiff clamp current
  ``-G_clamp (uramp(w - V_hi) - uramp(V_lo - w))`` (``G_clamp = 1 S``): exactly zero between the
  rails, so that rails far away change nothing; at a rail the weight overshoots by
  ``I_net / G_clamp`` (0.1 uV at 100 nA) with a time constant ``C / G_clamp`` (0.1 ps);
- rows: PWL sources ``x_<i>``, ``t_<j>`` (one per input and target column) and ``vteach``
  (0 V during ``[0, T_settle)`` of every row, ``V_teach`` after), with 1 ps transitions centred
  on the engine's switching instants (the engine switches between steps; a centred ramp has the
  same area as the step, and its corners are ngspice breakpoints).

Left out: thermal noise (a transient SPICE run is deterministic) and the static evaluation
between epochs (it does not change the weights).
"""

from __future__ import annotations

import math

import numpy as np

from mcaann.circuit import blocks, settling
from mcaann.circuit.algebra import SPICE, Expr, atom, render
from mcaann.circuit.network import Topology
from mcaann.study.load import StudyError, sweep_points

#: Conductance of the rail clamp [S] (see the module docstring).
G_CLAMP = 1.0
#: Duration of a PWL transition [s] (capped at 1e-3 of the shortest interval it sits in).
T_EDGE = 1e-12


class SpiceExportError(StudyError):
    """A study that cannot be exported (bad input); ``str()`` names the field and the reason."""


def sweep_point(study, point: int | None = None):
    """The study at sweep point ``point`` (0-based, first sweep key slowest, as ``run`` orders them).

    A study without a sweep is returned as it is (``point`` must then be None or 0); a sweep of
    one point needs no ``point``.
    """
    pts = sweep_points(study)
    if not study.sweep:
        if point not in (None, 0):
            raise SpiceExportError(f"point: the study has no sweep, so only point 0 exists (got {point})")
        return study
    if point is None:
        if len(pts) > 1:
            raise SpiceExportError(f"point: the sweep has {len(pts)} points; choose one (0..{len(pts) - 1})")
        point = 0
    if not 0 <= point < len(pts):
        raise SpiceExportError(f"point: must be in 0..{len(pts) - 1} (got {point})")
    return study.at(pts[point])


def _n(v: float) -> str:
    """A float as an exact SPICE number (17 significant digits), parenthesised when negative."""
    s = repr(float(v))
    if not math.isfinite(v):
        raise SpiceExportError(f"non-finite value {s} in an expression")
    return f"({s})" if v < 0 else s


def _r(v: float) -> str:
    """A float as an exact SPICE number, no parentheses (element values, PWL points)."""
    return repr(float(v))


def _spice(e) -> str:
    """A block equation's expression (``circuit.algebra``) as a SPICE behavioural expression."""
    return render(e, SPICE)


def _w(l: int, j: int, i: int) -> str:
    return f"w_{l}_{j}_{i}"


def _pre(l: int, i: int) -> Expr:
    """Voltage of pre-synaptic input ``i`` (0: bias) of weight layer ``l``."""
    if i == 0:
        return atom("V(bias)")
    return atom(f"V(x_{i - 1})" if l == 1 else f"V(y_{l - 1}_{i - 1})")


def _pwl(name: str, node: str, times: list[float], values: list[float]) -> list[str]:
    """A PWL voltage source, or a DC one when constant; 4 points per continuation line."""
    if all(v == values[0] for v in values):
        return [f"{name} {node} 0 DC {_r(values[0])}"]
    pts = [f"{_r(t)} {_r(v)}" for t, v in zip(times, values, strict=True)]
    lines = [f"{name} {node} 0 PWL("]
    for k in range(0, len(pts), 4):
        lines.append("+ " + " ".join(pts[k:k + 4]))
    lines[-1] += ")"
    return lines


def _step_wave(t_switch: list[float], levels: list[float], edge: float) -> tuple[list[float], list[float]]:
    """PWL points of a piecewise-constant wave: ``levels[k]`` from ``t_switch[k]`` to ``t_switch[k+1]``.

    Every change of level is a ramp of duration ``edge`` centred on the switching time; no
    points where the level does not change (``t_switch[0]`` is 0).
    """
    times, vals = [0.0], [float(levels[0])]
    for ts, old, new in zip(t_switch[1:], levels[:-1], levels[1:], strict=True):
        if new != old:
            times += [ts - 0.5 * edge, ts + 0.5 * edge]
            vals += [float(old), float(new)]
    return times, vals


def row_order(study, params: dict[str, np.ndarray], instance: int, epochs: int, n_rows: int) -> list[int]:
    """Rows in presentation order over ``epochs`` (fixed, or the instance's own shuffles)."""
    from mcaann.engine.reference import Reference

    ref = Reference(study, Topology(tuple(study.network.layers)), params, instance)
    out: list[int] = []
    for ep in range(epochs):
        out += ref.order(ep, n_rows)
    return out


def instance_parameters(study, instance: int) -> dict[str, np.ndarray]:
    """Sampled block parameters and ``w_init`` of one instance, 1-D per name (no training)."""
    from mcaann.variability.mismatch import sample_instances

    topo = Topology(tuple(study.network.layers))
    p = sample_instances(study, topo, np.array([instance], dtype=np.int64))
    return {k: np.asarray(v[0], dtype=np.float64) for k, v in p.items()}


def netlist(study, instance: int, epochs: int | None = None) -> str:
    """The ngspice netlist of ``instance`` (0-based) training for ``epochs`` (default: the study's).

    ``study`` is one point (no ``[sweep]`` table: see ``sweep_point``). Raises ``SpiceExportError``
    (a ``StudyError``) for a study that cannot be exported (a sweep table, an instance out of range).
    """
    from mcaann import __version__
    from mcaann.engine.driver import study_task

    if study.sweep:
        raise SpiceExportError("sweep: export one sweep point (Study.at(point)), not a whole sweep")
    n_inst = study.monte_carlo.instances
    if not 0 <= instance < n_inst:
        raise SpiceExportError(
            f"instance: must be in 0..{n_inst - 1} (monte_carlo.instances = {n_inst}; got {instance})")
    epochs = study.task.epochs if epochs is None else int(epochs)
    if epochs < 1:
        raise SpiceExportError(f"epochs: must be >= 1 (got {epochs})")
    task = study_task(study)
    topo = Topology(tuple(study.network.layers))
    p = instance_parameters(study, instance)
    c, lk, tk = study.circuit, study.leakage, study.task
    L = topo.n_layers
    i_leak0 = lk.I_leak0 if lk.enabled else 0.0
    t_row, t_settle, dt = tk.T_row, tk.T_settle, study.integrator.dt
    n_rows = task.n_rows
    order = row_order(study, p, instance, epochs, n_rows)
    t_stop = len(order) * t_row
    edge = min(T_EDGE, 1e-3 * t_row, 1e-3 * t_settle if t_settle > 0 else math.inf,
               1e-3 * (t_row - t_settle))
    coords = ", ".join(str(v) for v in topo.layers)

    out: list[str] = [
        f"* mcaann {__version__} ngspice netlist: study '{study.name}', instance {instance}, "
        f"seed {study.monte_carlo.seed}, layers [{coords}], {epochs} epochs ({tk.order} order)",
        "* Block-level, behavioural model of one simulated chip (docs/model.md), with this",
        "* instance's sampled block parameters. Units SI; node 0 is the chip's mid-rail reference",
        f"* (V_dd / 2, operating point {c.operating_point!r}): every voltage is counted from it.",
        "* Thermal noise is NOT modelled (deterministic",
        "* transient); the engine's static evaluation between epochs is not part of the netlist.",
        "* Nodes: w_<layer>_<post>_<pre> weight (layer 1-based, post 0-based, pre 0 = bias),",
        "*   x_<i> input column i, t_<j> target column j, bias, vteach, vrest,",
        "*   y_<l>_<j> activation, d_<l>_<j> derivative, e_<l>_<j> error, delta_<l>_<j> local gradient,",
        "*   sf_<l>_<j> / sb_<l>_<j> virtual grounds whose",
        "*   0 V sources Vsf_<l>_<j> / Vsb_<l>_<j> carry the summed forward / backward multiplier currents.",
        f"* Rails [{c.V_lo!r}, {c.V_hi!r}] V: clamp current -G_clamp*(ramp(w-V_hi)-ramp(V_lo-w)), "
        f"G_clamp = {G_CLAMP!r} S (finite rails only),",
        "*   zero between the rails (the engine clips w to the rails after every step).",
        f"* Rows: T_row = {t_row!r} s, T_settle = {t_settle!r} s, PWL edges {edge!r} s centred on the switching times.",
        "* Settling: " + ("lagged nodes <node> behind R_node from <node>s, with C_node = tau / R_node, 0 V at the "
                          "start" if study.settling.enabled else "off (every node at its static value)"),
        "",
        "* --- sources: bias, rest voltage, teaching gate, inputs, targets",
        f"Vbias bias 0 DC {c.V_bias!r}",
    ]
    leaky = bool(np.any(p["g_leak"] > 0))
    if leaky:
        out.append(f"Vrest vrest 0 DC {lk.V_rest!r}")

    starts = [k * t_row for k in range(len(order))]
    if t_settle > 0 and c.V_teach != 0:
        times, vals = [], []
        for k, ts in enumerate(starts):
            on = ts + t_settle
            if k == 0:
                times += [0.0]
                vals += [0.0]
            else:
                times += [ts - 0.5 * edge, ts + 0.5 * edge]
                vals += [c.V_teach, 0.0]
            times += [on - 0.5 * edge, on + 0.5 * edge]
            vals += [0.0, c.V_teach]
        out += _pwl("Vteach", "vteach", times, vals)
    else:
        out.append(f"Vteach vteach 0 DC {c.V_teach!r}")
    for i in range(topo.n_in):
        out += _pwl(f"Vx_{i}", f"x_{i}", *_step_wave(starts, [task.x[r, i] for r in order], edge))
    for j in range(topo.n_out):
        out += _pwl(f"Vt_{j}", f"t_{j}", *_step_wave(starts, [task.t[r, j] for r in order], edge))

    variant = blocks.Variant(sat_mult=math.isfinite(c.K_I), sat_pump=math.isfinite(c.I_max), leak=False,
                             mismatch=True, pump_g=blocks.pump_conductance(study))
    d = blocks.derive(variant, p, i_leak0)

    def q(k: int):
        return lambda name: float(d[name][k])

    taus = settling.node_taus(study, topo) if study.settling.enabled else None
    r_node = settling.node_resistance(study)

    def node(kind: str, i: int, name: str, static, prefix: str) -> list[str]:
        """The B-source of node ``name`` at its static value ``static``, behind its R-C lag where it has one."""
        if taus is None or taus[kind][i] == 0.0:
            return [f"{prefix} {name} 0 V={_spice(static)}"]
        return [f"{prefix} {name}s 0 V={_spice(static)}", f"R{prefix[1:]} {name}s {name} {_r(r_node)}",
                f"C{prefix[1:]} {name} 0 {_r(taus[kind][i] / r_node)}"]

    # forward path
    for l in range(1, L + 1):
        out += ["", f"* --- layer {l}: forward multipliers, activation, derivative"]
        for j in range(topo.layers[l]):
            n = topo.neuron_index(l, j)
            out.append(f"Vsf_{l}_{j} sf_{l}_{j} 0 DC 0")
            for i in range(topo.layers[l - 1] + 1):
                k = topo.weight_index(l, j, i)
                m = blocks.multiplier(variant, "fwd", _pre(l, i), atom(f"V({_w(l, j, i)})"), q(k))
                out.append(f"Bf_{l}_{j}_{i} 0 sf_{l}_{j} I={_spice(m)}")
            isum = atom(f"i(Vsf_{l}_{j})")
            out += node("y", n, f"y_{l}_{j}", blocks.activation(isum, q(n)), f"By_{l}_{j}")
            s = blocks.derivative_sigmoid(isum, q(n))
            out.append(f"Bd_{l}_{j} d_{l}_{j} 0 V={_spice(blocks.derivative(s, q(n)))}")

    # backward path: errors and deltas, output layer first
    for l in range(L, 0, -1):
        out += ["", f"* --- layer {l}: {'output' if l == L else 'hidden'} error, delta"]
        for j in range(topo.layers[l]):
            n = topo.neuron_index(l, j)
            if l == L:
                e = blocks.output_error(atom(f"V(y_{l}_{j})"), atom(f"V(t_{j})"), q(n))
            else:
                out.append(f"Vsb_{l}_{j} sb_{l}_{j} 0 DC 0")
                for m in range(topo.layers[l + 1]):
                    k = topo.weight_index(l + 1, m, j + 1)
                    mb = blocks.multiplier(variant, "bwd", atom(f"V(delta_{l + 1}_{m})"),
                                           atom(f"V({_w(l + 1, m, j + 1)})"), q(k))
                    out.append(f"Bb_{l + 1}_{m}_{j + 1} 0 sb_{l}_{j} I={_spice(mb)}")
                e = blocks.hidden_error(atom(f"i(Vsb_{l}_{j})"), q(n))
            out += node("e", n, f"e_{l}_{j}", e, f"Be_{l}_{j}")
            dl = blocks.local_gradient(atom(f"V(e_{l}_{j})"), atom(f"V(d_{l}_{j})"), q(n))
            out += node("delta", n, f"delta_{l}_{j}", dl, f"Bdelta_{l}_{j}")

    # synapses: update multiplier and charge pump (one current source: C dw/dt without leakage), capacitor,
    # leakage, rails
    vt = atom(f"(V(vteach)/{_n(c.V_teach_ref)})")
    for l in range(1, L + 1):
        out += ["", f"* --- layer {l}: update multipliers and charge pumps, weight capacitors, leakage, rails"]
        for j in range(topo.layers[l]):
            for i in range(topo.layers[l - 1] + 1):
                k = topo.weight_index(l, j, i)
                w, tag = _w(l, j, i), f"{l}_{j}_{i}"
                mu = blocks.multiplier(variant, "upd", atom(f"V(delta_{l}_{j})"), _pre(l, i), q(k))
                if taus is not None and taus["g"][k] > 0.0:  # the gradient voltage's node, behind its lag
                    out += node("g", k, f"g_{tag}", p["re_upd"][k] * mu, f"Bg_{tag}")
                    mu = atom(f"V(g_{tag})") / float(p["re_upd"][k])
                pump = p["c"][k] * blocks.weight_rate(variant, mu, atom(f"V({w})"), vt, 0.0, q(k))
                out.append(f"Bp_{tag} 0 {w} I={_spice(pump)}")
                out.append(f"C_{tag} {w} 0 {_r(p['c'][k])}")
                if p["g_leak"][k] > 0:
                    out.append(f"Rl_{tag} {w} vrest {_r(1.0 / p['g_leak'][k])}")
                if i_leak0 != 0:
                    out.append(f"Il_{tag} {w} 0 DC {_r(i_leak0)}")
                clamp = []
                if math.isfinite(c.V_hi):
                    clamp.append(f"uramp(V({w})-{_n(c.V_hi)})")
                if math.isfinite(c.V_lo):
                    clamp.append(f"-uramp({_n(c.V_lo)}-V({w}))")
                if clamp:
                    out.append(f"Br_{tag} 0 {w} I=-{G_CLAMP!r}*({''.join(clamp)})")

    out += ["", "* --- initial weights (instance's w_init) [V]"]
    for l in range(1, L + 1):
        for j in range(topo.layers[l]):
            for i in range(topo.layers[l - 1] + 1):
                out.append(f".ic V({_w(l, j, i)})={_r(p['w_init'][topo.weight_index(l, j, i)])}")

    t_max = min(dt, t_row / 10.0)
    out += [
        "",
        "* --- analysis: tight tolerances (~uV on the weights: chgtol = C * 1e-7 V)",
        ".options reltol=1e-6 abstol=1e-15 vntol=1e-9 chgtol=1e-20 trtol=1 method=gear maxord=2",
        f".tran {dt!r} {t_stop!r} 0 {t_max!r} uic",
        ".end",
    ]
    return "\n".join(out) + "\n"
