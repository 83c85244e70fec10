"""The analogue backpropagation circuit (MODEL.md sections 1-2, seed 004): how the blocks are wired.

Written once, against a ``Builder``: the float64 reference evaluates it on floats
(``engine/reference.py``), the code writer renders it as straight-line or layered kernel source
(``engine/codegen.py``). A builder decides what an index, a sum and a stored value are:

- ``loop(n)``: the indices ``0 .. n-1``: ints (unrolled, or evaluated) or one index expression (a loop
  in the generated code);
- ``sum(n, term)``: the sum of ``term(i)`` over ``i < n``;
- ``lanes()``: a group of statements over the instances (a loop over the lanes in layered code);
- ``let(name, value)``: a value used more than once; ``get``/``put`` per-neuron tables (``deriv``,
  ``delta``); ``act``/``set_act`` the activations (bias first; layer 0 is the input row);
- ``weight(k)``, ``target(j)``, ``synapse(k)`` and ``neuron(n)`` (derived parameters of one block,
  as ``q(name)``), ``vt`` (``V_teach / V_teach_ref``), ``v_rest``; ``rate(k, value)`` receives
  ``dw_k/dt`` [V/s];
- ``lag(kind, i, value)``: what node ``i`` of ``kind`` (``circuit.settling``: ``y``, ``e``, ``delta`` per neuron,
  ``g`` per synapse) shows the blocks it drives when its block's static output is ``value``: ``value`` itself
  in the algebraic model (``variant.lags`` false, or a static evaluation), else the lag's mean over the step.
"""

from __future__ import annotations

from mcaann.circuit import blocks


def forward(b, with_derivative: bool) -> None:
    """Forward pass: the activations of every layer and, optionally, the derivative blocks' outputs."""
    topo, v = b.topo, b.variant
    for l in range(1, topo.n_layers + 1):
        npre = topo.layers[l - 1]
        for j in b.loop(topo.layers[l]):
            n = topo.n_offset[l - 1] + j

            def term(i, l=l, j=j, npre=npre):
                k = topo.w_offset[l - 1] + j * (npre + 1) + i
                return blocks.multiplier(v, "fwd", b.act(l - 1, i), b.weight(k), b.synapse(k))

            total = b.sum(npre + 1, term)
            q = b.neuron(n)
            with b.lanes():
                i_in = b.let("cur", total)
                b.set_act(l, j, b.lag("y", n, blocks.activation(i_in, q)))
                if with_derivative:
                    s = b.let("s", blocks.derivative_sigmoid(i_in, q))
                    b.put("deriv", n, blocks.derivative(s, q))


def backward(b) -> None:
    """Errors and local gradients ``delta`` [V] of every neuron, output layer first."""
    topo, v = b.topo, b.variant
    L = topo.n_layers
    for j in b.loop(topo.layers[L]):
        n = topo.n_offset[L - 1] + j
        q = b.neuron(n)
        with b.lanes():
            e = b.lag("e", n, b.let("e", blocks.output_error(b.act(L, j + 1), b.target(j), q)))
            b.put("delta", n, b.lag("delta", n, blocks.local_gradient(e, b.get("deriv", n), q)))
    for l in range(L - 1, 0, -1):
        for h in b.loop(topo.layers[l]):
            n = topo.n_offset[l - 1] + h

            def term(m, l=l, h=h):
                k = topo.w_offset[l] + m * (topo.layers[l] + 1) + h + 1
                delta_m = b.get("delta", topo.n_offset[l] + m)
                return blocks.multiplier(v, "bwd", delta_m, b.weight(k), b.synapse(k))

            total = b.sum(topo.layers[l + 1], term)
            q = b.neuron(n)
            with b.lanes():
                e = b.lag("e", n, b.let("e", blocks.hidden_error(total, q)))
                b.put("delta", n, b.lag("delta", n, blocks.local_gradient(e, b.get("deriv", n), q)))


def update(b, teach: bool = True) -> None:
    """``dw/dt`` of every weight with teaching on: update multiplier (its gradient voltage ``g = R_e M_upd``,
    lagged as the current ``M_upd``), charge pump, leakage, capacitor; with teaching off (node lags only) the
    gradient nodes settle and the weights leak."""
    topo, v = b.topo, b.variant
    for l in range(1, topo.n_layers + 1):
        npre = topo.layers[l - 1]
        for j in b.loop(topo.layers[l]):
            n = topo.n_offset[l - 1] + j
            for i in b.loop(npre + 1):
                k = topo.w_offset[l - 1] + j * (npre + 1) + i
                q = b.synapse(k)
                with b.lanes():
                    m = b.lag("g", k, blocks.multiplier(v, "upd", b.get("delta", n), b.act(l - 1, i), q))
                    if teach:
                        b.rate(k, blocks.weight_rate(v, m, b.weight(k), b.vt, b.v_rest, q))
                    else:
                        b.rate(k, -blocks.leak_rate(v, b.weight(k), b.v_rest, q) if v.leak else 0.0)


def hold(b) -> None:
    """``dw/dt`` of every weight with teaching off: leakage alone."""
    v = b.variant
    for k in b.loop(b.topo.n_weights):
        with b.lanes():
            b.rate(k, -blocks.leak_rate(v, b.weight(k), b.v_rest, b.synapse(k)) if v.leak else 0.0)


def drift(b, teach: bool) -> None:
    """``dw/dt`` [V/s] of every weight for the present row (teaching on) or while holding (off); with node lags
    the nodes settle while teaching is off too."""
    if teach or b.variant.lags:
        forward(b, with_derivative=True)
        backward(b)
        update(b, teach)
    else:
        hold(b)
