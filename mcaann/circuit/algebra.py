"""A small expression algebra in which the circuit's equations are written once.

A block equation (``blocks.py``) or the network's wiring (``backprop.py``) is a plain Python function of
its inputs and parameters. Called with floats it computes the answer (the float64 reference), with NumPy
arrays it computes over instances (the benchmark's baseline); called with ``Expr`` values it builds an
expression tree that a code writer renders as Numba source (the kernels) or as a SPICE behavioural
expression (the netlist). The functions the equations may call (``tanh``, ``logistic_neg``) take any of
the three.

Simplifications are only those exact in IEEE arithmetic for finite operands: ``x + 0``, ``x - 0``,
``x * 1``. An absent parameter (an offset without mismatch) is the float ``0.0`` and disappears.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "atom": 4, "call": 4}


class Expr:
    """A node of an expression tree: ``op`` in ``+ - * / neg call atom``, operands in ``args``."""

    __slots__ = ("op", "args", "name")

    def __init__(self, op: str, args: tuple = (), name: str = ""):
        self.op, self.args, self.name = op, args, name

    # -- construction, with the exact simplifications only ------------------------------------------
    def __add__(self, other):
        return self if _is(other, 0.0) else Expr("+", (self, other))

    def __radd__(self, other):
        return self if _is(other, 0.0) else Expr("+", (other, self))

    def __sub__(self, other):
        return self if _is(other, 0.0) else Expr("-", (self, other))

    def __rsub__(self, other):
        return -self if _is(other, 0.0) else Expr("-", (other, self))

    def __mul__(self, other):
        return self if _is(other, 1.0) else Expr("*", (self, other))

    def __rmul__(self, other):
        return self if _is(other, 1.0) else Expr("*", (other, self))

    def __truediv__(self, other):
        return self if _is(other, 1.0) else Expr("/", (self, other))

    def __rtruediv__(self, other):
        return Expr("/", (other, self))

    def __neg__(self):
        return Expr("neg", (self,))

    def __repr__(self) -> str:
        return f"Expr({render(self)!r})"


def atom(text: str) -> Expr:
    """A name or an array element, rendered as it is."""
    return Expr("atom", (), text)


def call(fn: str, *args) -> Expr:
    """A function call ``fn(args...)``."""
    return Expr("call", tuple(args), fn)


def _is(v, c: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == c


def leading_factor(e) -> Expr | None:
    """The leftmost factor of a product chain ``f * a * b ...`` (None for anything else)."""
    if not isinstance(e, Expr) or e.op != "*":
        return None
    while isinstance(e, Expr) and e.op == "*":
        e = e.args[0]
    return e if isinstance(e, Expr) and e.op == "atom" else None


def drop_leading_factor(e: Expr) -> Expr:
    """``a * b ...`` of a product chain ``f * a * b ...``."""
    a, b = e.args
    if isinstance(a, Expr) and a.op == "*":
        return drop_leading_factor(a) * b
    return b


def tree_sum(terms: list):
    """``terms`` summed pairwise (short dependency chains); a common atom factor is taken out of the sum."""
    if not terms:
        return 0.0
    f = leading_factor(terms[0])
    if f is not None and len(terms) > 1 and all(getattr(leading_factor(t), "name", None) == f.name for t in terms):
        return f * tree_sum([drop_leading_factor(t) for t in terms])
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


@dataclass(frozen=True)
class Syntax:
    """How a target language writes numbers and functions."""

    functions: dict  # op name -> format string with {0}, {1}
    number: object  # float -> text


def _py_number(v) -> str:
    if isinstance(v, bool):
        raise TypeError("a boolean in an expression")
    if isinstance(v, int):
        return repr(v)
    v = float(v)
    if math.isinf(v):
        return "math.inf" if v > 0 else "-math.inf"
    return repr(v)


def _spice_number(v) -> str:
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"non-finite value {v!r} in a SPICE expression")
    return repr(v)


#: Numba kernel source: the kernels import ``SAT`` (tanh) and ``SIGMOID`` (1 / (1 + e**z)) from mathfn.
NUMBA = Syntax({"tanh": "SAT({0})", "logistic_neg": "SIGMOID({0})"}, _py_number)
#: SPICE behavioural expressions (ngspice B-sources).
SPICE = Syntax({"tanh": "tanh({0})", "logistic_neg": "1/(1+exp({0}))"}, _spice_number)


def render(e, syntax: Syntax = NUMBA) -> str:
    """Source text of ``e`` in ``syntax``, with the parentheses precedence needs and no more."""
    return _render(e, syntax)[0]


def _render(e, syn: Syntax) -> tuple[str, int]:
    if not isinstance(e, Expr):
        text = syn.number(e)
        return (f"({text})", _PREC["neg"]) if text.startswith("-") else (text, _PREC["atom"])
    if e.op == "atom":
        return e.name, _PREC["atom"]
    if e.op == "call":
        return syn.functions[e.name].format(*(render(a, syn) for a in e.args)), _PREC["call"]
    if e.op == "neg":
        t, p = _render(e.args[0], syn)
        return (f"-{t}" if p > _PREC["*"] else f"-({t})"), _PREC["neg"]
    p = _PREC[e.op]
    (lt, lp), (rt, rp) = (_render(a, syn) for a in e.args)
    lt = lt if lp >= p else f"({lt})"
    # the right operand needs parentheses at equal precedence too (a - (b - c), a / (b * c))
    rt = rt if rp > p else f"({rt})"
    return f"{lt} {e.op} {rt}", p


def tanh(x):
    """Hyperbolic tangent of a float, an array or an expression."""
    if isinstance(x, Expr):
        return call("tanh", x)
    return np.tanh(x) if isinstance(x, np.ndarray) else math.tanh(x)


def logistic_neg(z):
    """``1 / (1 + e**z)``, the logistic function of ``-z``, of a float, an array or an expression."""
    if isinstance(z, Expr):
        return call("logistic_neg", z)
    if isinstance(z, np.ndarray):
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(z))
    return 1.0 / (1.0 + math.exp(z)) if z < 709.0 else 0.0
