"""Elementary functions for the kernels, one per compute dtype, written so that loops over them vectorise.

``exp_float64`` and friends are what the generated kernels call as ``EXP`` and ``TANH``. Numba on this install has
no SVML, so ``math.exp``/``math.tanh`` become one libm call per element and a loop over the instance axis stays
scalar. The functions here use only arithmetic, comparisons/selects, bit casts (``@intrinsic``), ``sqrt`` and a
raw ``fdiv`` (no ZeroDivisionError branch), all inlined into the caller, so LLVM can vectorise the caller's
``for b in range(B)`` loop (ymm with AVX2, zmm with AVX-512).

All arguments and results are dimensionless. Measured accuracy (tests/test_mathfn.py): float64 functions within
about 1-2 ulp of numpy, float32 ones within about 1-2 float32 ulp. NaN in gives NaN out for every function.
Subnormal results of ``exp`` are computed (gradual underflow, at most one extra rounding), not flushed to zero.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from mcaann.variability.rng import philox4x32

# --------------------------------------------------------------------------------------------------------------
# Bit casts and a check-free division (LLVM IR, nothing else: these vectorise)
# --------------------------------------------------------------------------------------------------------------


@intrinsic
def _f64_bits(typingctx, x):
    """The IEEE-754 bits of a float64 as an int64."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _bits_f64(typingctx, i):
    """The float64 whose IEEE-754 bits are the int64 ``i``."""
    if not isinstance(i, types.Integer) or i.bitwidth != 64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(i), codegen


@intrinsic
def _f32_bits(typingctx, x):
    """The IEEE-754 bits of a float32 as an int32."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


def _word32(builder, value):
    """The low 32 bits of an integer (LLVM IR)."""
    width = value.type.width
    if width > 32:
        return builder.trunc(value, ir.IntType(32))
    return builder.zext(value, ir.IntType(32)) if width < 32 else value


# Numba computes integer arithmetic in 64 bits; LLVM does not always narrow it back, and a float32 loop with a
# 64-bit integer in it runs at 8 lanes a zmm register instead of 16. The noise's transform takes its words' bits
# apart with these, in 32-bit integer operations.


@intrinsic
def _word_f32(typingctx, a):
    """The 32-bit word in the low bits of integer ``a`` (unsigned) as a float32, rounded to nearest."""
    if not isinstance(a, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.uitofp(_word32(builder, args[0]), ir.FloatType())

    return types.float32(a), codegen


@intrinsic
def _complement_f32(typingctx, a):
    """2**32 - 1 - w as a float32 (rounded to nearest) for the 32-bit word w in the low bits of integer ``a``."""
    if not isinstance(a, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.uitofp(builder.not_(_word32(builder, args[0])), ir.FloatType())

    return types.float32(a), codegen


@intrinsic
def _split_f32(typingctx, u):
    """``(k, m)`` as float32 for a positive normal float32 u = 2**k m with m in [sqrt(2)/2, sqrt(2)): the exponent
    and mantissa taken from u's bits."""
    if u != types.float32:
        return None

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        bits = builder.add(builder.bitcast(args[0], i32), ir.Constant(i32, 0x3F800000 - _F_SQRT_HALF_BITS))
        exponent = builder.sub(builder.and_(builder.lshr(bits, ir.Constant(i32, 23)), ir.Constant(i32, 0xFF)),
                               ir.Constant(i32, 127))
        mantissa = builder.add(builder.and_(bits, ir.Constant(i32, 0x007FFFFF)), ir.Constant(i32, _F_SQRT_HALF_BITS))
        k = builder.sitofp(exponent, ir.FloatType())
        m = builder.bitcast(mantissa, ir.FloatType())
        return context.make_tuple(builder, signature.return_type, (k, m))

    return types.UniTuple(types.float32, 2)(u), codegen


@intrinsic
def _quarter_word32(typingctx, a):
    """``_quarter_word`` of the 32-bit word in the low bits of integer ``a`` in 32-bit integer operations: ``(q, t)``
    with q (int32) the nearest quarter turn and t the signed remainder in words as a float32 (rounded to nearest)."""
    if not isinstance(a, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        shifted = builder.add(_word32(builder, args[0]), ir.Constant(i32, 0x20000000))  # mod 2**32
        q = builder.lshr(shifted, ir.Constant(i32, 30))
        t = builder.sub(builder.and_(shifted, ir.Constant(i32, 0x3FFFFFFF)), ir.Constant(i32, 0x20000000))
        return context.make_tuple(builder, signature.return_type, (q, builder.sitofp(t, ir.FloatType())))

    return types.Tuple((types.int32, types.float32))(a), codegen


@intrinsic
def _bits_f32(typingctx, i):
    """The float32 whose IEEE-754 bits are the low 32 bits of the integer ``i``."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        v = args[0]
        if v.type.width > 32:
            v = builder.trunc(v, ir.IntType(32))
        elif v.type.width < 32:
            v = builder.sext(v, ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())

    return types.float32(i), codegen


@intrinsic
def _fdiv(typingctx, a, b):
    """``a / b`` as a bare IEEE division (no ZeroDivisionError check, so it vectorises); both of one float type."""
    if not (isinstance(a, types.Float) and a == b):
        return None

    def codegen(context, builder, signature, args):
        return builder.fdiv(args[0], args[1])

    return a(a, b), codegen


# --------------------------------------------------------------------------------------------------------------
# float64
# --------------------------------------------------------------------------------------------------------------

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # 0x3fe62e42fee00000: n * _LN2_HI is exact for |n| < 2**11
_LN2_LO = 1.90821492927058770002e-10
_SHIFT64 = 6755399441055744.0  # 1.5 * 2**52: (y + _SHIFT64) rounds y to an integer held in the low mantissa bits
_SHIFT64_BITS = 0x4338000000000000
_EXP_HI = 710.0  # exp(710) > DBL_MAX: clamping here still overflows to +inf
_EXP_LO = -746.0  # exp(-746) < smallest subnormal / 2: clamping here still underflows to +0

# 1/k! for k = 2..13 (Taylor series of exp on |r| <= ln2/2; truncation error < 5e-18 relative)
_E2 = 1.0 / 2.0
_E3 = 1.0 / 6.0
_E4 = 1.0 / 24.0
_E5 = 1.0 / 120.0
_E6 = 1.0 / 720.0
_E7 = 1.0 / 5040.0
_E8 = 1.0 / 40320.0
_E9 = 1.0 / 362880.0
_E10 = 1.0 / 3628800.0
_E11 = 1.0 / 39916800.0
_E12 = 1.0 / 479001600.0
_E13 = 1.0 / 6227020800.0


@njit(cache=True, inline="always")
def _exp_reduced64(x):
    """(p, n) with e**x = p * 2**n, 1/sqrt(2) <~ p <~ sqrt(2), for a finite |x| <= 746."""
    kd = x * _LOG2E + _SHIFT64
    n = _f64_bits(kd) - _SHIFT64_BITS  # round(x / ln2) as an int64, no float->int conversion
    nf = kd - _SHIFT64
    r = (x - nf * _LN2_HI) - nf * _LN2_LO  # |r| <= ln2/2 (+ tiny)
    # Estrin's scheme (short dependency chains) for q = sum_k r**k / (k + 2)!
    r2 = r * r
    r4 = r2 * r2
    b0 = (_E2 + _E3 * r) + (_E4 + _E5 * r) * r2
    b1 = (_E6 + _E7 * r) + (_E8 + _E9 * r) * r2
    b2 = (_E10 + _E11 * r) + (_E12 + _E13 * r) * r2
    q = b0 + r4 * (b1 + r4 * b2)
    return 1.0 + (r + r2 * q), n


@njit(cache=True, inline="always")
def _exp_core64(x):
    """e**x for -708 <= x <= 709 (normal results only: one scale factor, no clamping); within ~1 ulp."""
    p, n = _exp_reduced64(x)
    return p * _bits_f64((n + 1023) << 52)


_SIG_LO = -708.0  # e**-708 is still normal; below it 1 + e**z is 1 anyway
_SIG_HI = 709.0  # e**709 is finite: the sigmoid is then 1.2e-308 instead of smaller, an absolute error < 1e-307


@njit(cache=True, inline="always")
def sigmoid_float64(z):
    """1 / (1 + e**z) for a float64 (dimensionless, the logistic function of -z); within ~2 ulp.

    One exponential and one division; z is clamped to [-708, 709] (NaN passes), see ``_SIG_HI``.
    """
    z = float(z)
    z = _SIG_HI if z > _SIG_HI else z
    z = _SIG_LO if z < _SIG_LO else z
    return _fdiv(1.0, 1.0 + _exp_core64(z))


@njit(cache=True, inline="always")
def exp_float64(x):
    """e**x for a float64 (dimensionless); within ~1 ulp of numpy.

    x > 709.78 gives +inf, x < -745.13 gives +0, subnormal results are gradual (not flushed); NaN gives NaN.
    """
    x = float(x)
    # clamp with NaN passing through (a NaN fails both comparisons)
    x = _EXP_HI if x > _EXP_HI else x
    x = _EXP_LO if x < _EXP_LO else x
    p, n = _exp_reduced64(x)
    # 2**n as two normal factors, so n in [-1077, 1025] neither wraps nor needs a branch
    n1 = n >> 1
    n2 = n - n1
    return p * _bits_f64((n1 + 1023) << 52) * _bits_f64((n2 + 1023) << 52)


# Cephes tanh: tanh(x) = x + x**3 P(x**2) / Q(x**2) on |x| < 0.625 (relative error ~1e-16)
_TP0 = -9.64399179425052238628e-1
_TP1 = -9.92877231001918586564e1
_TP2 = -1.61468768441708447952e3
_TQ0 = 1.12811678491632931402e2
_TQ1 = 2.23548839060100448583e3
_TQ2 = 4.84406305325125486048e3
_TANH_SMALL = 0.625
_TANH_CLAMP64 = 20.0  # tanh(20) rounds to 1.0 in float64


@njit(cache=True, inline="always")
def tanh_float64(x):
    """Hyperbolic tangent of a float64 (dimensionless); within ~2 ulp of numpy, relative near 0.

    Odd, tanh(+-inf) = +-1 and |x| >= 20 gives exactly +-1; NaN gives NaN. Both branches are computed and one
    selected (no jumps).
    """
    x = float(x)
    a = abs(x)
    # |x| < 0.625: rational in x**2, computed with x so that the sign (and -0.0) comes for free
    s = x * x
    num = (_TP0 * s + _TP1) * s + _TP2
    den = ((s + _TQ0) * s + _TQ1) * s + _TQ2
    small = x + x * s * _fdiv(num, den)
    small = x if a == 0.0 else small  # keeps tanh(-0.0) = -0.0
    # |x| >= 0.625: 1 - 2 / (e**(2|x|) + 1), clamped (NaN passes) so that e**(2|x|) stays finite
    ac = _TANH_CLAMP64 if a > _TANH_CLAMP64 else a
    big = 1.0 - _fdiv(2.0, exp_float64(ac + ac) + 1.0)
    big = -big if x < 0.0 else big
    return small if a < _TANH_SMALL else big


# fdlibm log: log(1 + f) = f - hfsq + s * (hfsq + R(s*s)), s = f / (2 + f)
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_DBL_MIN = 2.2250738585072014e-308
_DBL_MAX = 1.7976931348623157e308
_TWO54 = 18014398509481984.0
_SQRT_HALF_OFFSET = (0x3FF00000 - 0x3FE6A09E) << 32  # moves the mantissa split point from 1 to sqrt(2)/2
_EXP_MASK = 0x7FF0000000000000
_MANT_MASK = 0x000FFFFFFFFFFFFF
_SQRT_HALF_HI = 0x3FE6A09E << 32
_TWO52_BITS = 0x4330000000000000
_TWO52_PLUS_BIAS = 4503599627370496.0 + 1023.0


@njit(cache=True, inline="always")
def _log_reduce(x):
    """``(k, f)`` as float64 with x = 2**k (1 + f), 1 + f in [sqrt(2)/2, sqrt(2)), both exact, for a positive
    normal float64 x."""
    ix = _f64_bits(x) + _SQRT_HALF_OFFSET
    e = (ix & _EXP_MASK) >> 52  # biased exponent, taken so that the mantissa 1 + f is in [sqrt(2)/2, sqrt(2))
    k = _bits_f64(e | _TWO52_BITS) - _TWO52_PLUS_BIAS  # float(e - 1023) without an int->float conversion
    return k, _bits_f64((ix & _MANT_MASK) + _SQRT_HALF_HI) - 1.0


@njit(cache=True, inline="always")
def _log_reduced(k, f, s):
    """k ln 2 + log(1 + f) for ``_log_reduce``'s (k, f) and s = f / (2 + f): fdlibm's polynomial in s."""
    hfsq = 0.5 * f * f
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    return k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)


# 1 / (2 + f) on f in [sqrt(1/2) - 1, sqrt(2) - 1] to 2**-8.8 (relative), the seed of _log_quotient's Newton steps
_Q0 = 0.500283029299734
_Q1 = -0.253708918709723
_Q2 = 0.11544265940315596


@njit(cache=True, inline="always")
def _log_quotient(f):
    """f / (2 + f) for f in [sqrt(1/2) - 1, sqrt(2) - 1] without a division: a quadratic seed of 1 / (2 + f), two Newton
    steps (2**-35) and a corrected quotient; within 1 ulp of the division. The noise's transform is bound by the
    divider, which its square root uses too: 1.00 ns per normal with this quotient, 1.06 with the division."""
    d = 2.0 + f
    y = _Q0 + f * (_Q1 + f * _Q2)
    y = y + y * (1.0 - d * y)
    y = y + y * (1.0 - d * y)
    s = f * y
    return s + y * (f - s * d)


@njit(cache=True, inline="always")
def log_unit_float64(u):
    """Natural logarithm of a float64 u in [2**-1022, 1] (dimensionless), within 1 ulp of ``log_float64`` (the same
    arithmetic with ``_log_quotient`` for its division), without its cases for zero, negative, subnormal,
    infinite or NaN arguments. Meant for the uniforms of the noise, (r + 1/2) / 2**32."""
    k, f = _log_reduce(u)
    return _log_reduced(k, f, _log_quotient(f))


@njit(cache=True, inline="always")
def log_float64(x):
    """Natural logarithm of a float64 (dimensionless); within ~1 ulp of numpy for every positive x.

    Subnormal x is handled; log(0) = -inf, log(x < 0) = NaN, log(+inf) = +inf, NaN gives NaN.
    """
    x = float(x)
    tiny = x < _DBL_MIN
    y = x * _TWO54 if tiny else x
    k, f = _log_reduce(y)
    res = _log_reduced(k - 54.0 if tiny else k, f, _fdiv(f, 2.0 + f))
    res = x if not (x <= _DBL_MAX) else res  # +inf and NaN
    res = -math.inf if x == 0.0 else res
    return math.nan if x < 0.0 else res


# fdlibm __kernel_sin / __kernel_cos on |t| <= pi/4
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11
_TWO_PI = 2.0 * math.pi


_EIGHTH_TURN = np.uint64(0x20000000)
_QUARTER_MASK = np.uint64(0x3FFFFFFF)
_TWO_PI_WORD = _TWO_PI / 2.0**32  # radians per unit of a 32-bit word of angle


@njit(cache=True, inline="always")
def _quarter_word(a):
    """``(q, t)`` for a 32-bit word a of angle (a / 2**32 turns): q the nearest quarter turn (mod 4) and t the signed
    remainder in words, a = q 2**30 + t (mod 2**32), |t| <= 2**29; integer operations, exact. (The float64
    transform runs 4 % slower in a micro-kernel with ``_quarter_word32``'s 32-bit operations, whose t is rounded
    to a float32.)"""
    shifted = np.uint64(a) + _EIGHTH_TURN
    return (shifted >> np.uint64(30)) & np.uint64(3), np.int64(shifted & _QUARTER_MASK) - np.int64(_EIGHTH_TURN)


@njit(cache=True, inline="always")
def _turn(q, cs, sn):
    """``(cos, sin)`` of q quarter turns plus the angle whose cosine and sine are ``cs``, ``sn``."""
    odd = (q & 1) != 0
    c = sn if odd else cs
    s = cs if odd else sn
    c = -c if (q == 1) | (q == 2) else c
    s = -s if q >= 2 else s
    return c, s


@njit(cache=True, inline="always")
def sincos_word_float64(a):
    """``(cos(2 pi a / 2**32), sin(2 pi a / 2**32))`` for a 32-bit word a (dimensionless): the angles of the noise;
    absolute error < 3e-16. Exact reduction to the nearest quarter turn (``_quarter_word``), then fdlibm's
    polynomials on [-pi/4, pi/4]."""
    q, t = _quarter_word(a)
    x = np.float64(t) * _TWO_PI_WORD
    z = x * x
    w = z * z
    rs = _S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))
    sn = x + z * x * (_S1 + z * rs)
    rc = z * (_C1 + z * (_C2 + z * _C3)) + w * w * (_C4 + z * (_C5 + z * _C6))
    hz = 0.5 * z
    w1 = 1.0 - hz
    cs = w1 + (((1.0 - w1) - hz) + z * rc)
    return _turn(q, cs, sn)


# --------------------------------------------------------------------------------------------------------------
# float32 (all arithmetic in float32: every constant below is a float32)
# --------------------------------------------------------------------------------------------------------------

_F_LOG2E = np.float32(1.44269504088896341)
_F_LN2_HI = np.float32(0.693359375)  # 0x3f318000: n * _F_LN2_HI is exact for |n| < 2**14
_F_LN2_LO = np.float32(-2.12194440e-4)
_F_SHIFT = np.float32(12582912.0)  # 1.5 * 2**23
_F_SHIFT_BITS = 0x4B400000
_F_EXP_HI = np.float32(89.0)  # exp(89) > FLT_MAX
_F_EXP_LO = np.float32(-104.0)  # exp(-104) < smallest float32 subnormal / 2
_F_ONE = np.float32(1.0)
_F_TWO = np.float32(2.0)
_F_ZERO = np.float32(0.0)
_F_E2 = np.float32(1.0 / 2.0)
_F_E3 = np.float32(1.0 / 6.0)
_F_E4 = np.float32(1.0 / 24.0)
_F_E5 = np.float32(1.0 / 120.0)
_F_E6 = np.float32(1.0 / 720.0)
_F_E7 = np.float32(1.0 / 5040.0)


@njit(cache=True, inline="always")
def _exp_reduced32(x):
    """(p, n) with e**x = p * 2**n, 1/sqrt(2) <~ p <~ sqrt(2), for a float32 |x| <= 104."""
    kd = x * _F_LOG2E + _F_SHIFT
    n = _f32_bits(kd) - _F_SHIFT_BITS
    nf = kd - _F_SHIFT
    r = (x - nf * _F_LN2_HI) - nf * _F_LN2_LO
    r2 = r * r
    q = (_F_E2 + _F_E3 * r) + r2 * ((_F_E4 + _F_E5 * r) + r2 * (_F_E6 + _F_E7 * r))
    return _F_ONE + (r + r2 * q), n


@njit(cache=True, inline="always")
def _exp_core32(x):
    """e**x for a float32 -87 <= x <= 88 (normal results only: one scale factor, no clamping); the same value as
    ``exp_float32`` there."""
    p, n = _exp_reduced32(x)
    return p * _bits_f32((n + 127) << 23)


@njit(cache=True, inline="always")
def exp_float32(x):
    """e**x in float32 arithmetic (dimensionless), returns a float32; within ~1 float32 ulp of numpy.

    x > 88.72 gives +inf, x < -103.97 gives +0, subnormal results are gradual (not flushed); NaN gives NaN.
    """
    x = np.float32(x)
    x = _F_EXP_HI if x > _F_EXP_HI else x
    x = _F_EXP_LO if x < _F_EXP_LO else x
    p, n = _exp_reduced32(x)
    n1 = n >> 1
    n2 = n - n1
    return p * _bits_f32((n1 + 127) << 23) * _bits_f32((n2 + 127) << 23)


# Cephes tanhf: tanh(x) = x + x**3 P(x**2) on |x| < 0.625
_F_TP0 = np.float32(-5.70498872745e-3)
_F_TP1 = np.float32(2.06390887954e-2)
_F_TP2 = np.float32(-5.37397155531e-2)
_F_TP3 = np.float32(1.33314422036e-1)
_F_TP4 = np.float32(-3.33332819422e-1)
_F_TANH_SMALL = np.float32(0.625)
_F_TANH_CLAMP = np.float32(10.0)  # tanh(10) rounds to 1.0 in float32


@njit(cache=True, inline="always")
def tanh_float32(x):
    """Hyperbolic tangent in float32 arithmetic (dimensionless), returns a float32; within ~2 float32 ulp.

    Odd, relative near 0, tanh(+-inf) = +-1 and |x| >= 10 gives exactly +-1; NaN gives NaN.
    """
    x = np.float32(x)
    a = abs(x)
    s = x * x
    small = x + x * s * ((((_F_TP0 * s + _F_TP1) * s + _F_TP2) * s + _F_TP3) * s + _F_TP4)
    small = x if a == _F_ZERO else small  # keeps tanh(-0.0) = -0.0
    ac = _F_TANH_CLAMP if a > _F_TANH_CLAMP else a
    big = _F_ONE - _fdiv(_F_TWO, _exp_core32(ac + ac) + _F_ONE)
    big = -big if x < _F_ZERO else big
    return small if a < _F_TANH_SMALL else big


# --------------------------------------------------------------------------------------------------------------
# Normal deviates
# --------------------------------------------------------------------------------------------------------------


_ONE_BITS = 0x3FF0000000000000
_ONE_MINUS_HALF_WORD = 1.0 - 0.5 / 2.0**32


@njit(cache=True, inline="always")
def _word_unit(a):
    """The uniform (a + 1/2) / 2**32 in (0, 1) of a 32-bit word a, exactly: the mantissa of a float64 in [1, 2) less
    1 - 2**-33 (an exact difference; AVX2 has no vector int64 -> float64 conversion)."""
    return _bits_f64(_ONE_BITS | (np.uint64(a) << np.uint64(20))) - _ONE_MINUS_HALF_WORD


@njit(cache=True, inline="always")
def box_muller_float64(r0, r1, r2, r3):
    """Four standard normals from the four 32-bit words of a Philox block: ``rng.normal_quad``'s transform (the
    same uniforms, bit for bit) with the logarithm, cosine and sine above; agrees with it to a few 1e-15.

    The kernels draw a row's Philox words in one loop and transform them in another: a loop doing both has a
    chain of dependent operations too long for the processor to overlap its iterations (in a micro-kernel, 1.8
    against 1.5 ns per normal)."""
    ra = math.sqrt(-2.0 * log_unit_float64(_word_unit(r0)))
    rb = math.sqrt(-2.0 * log_unit_float64(_word_unit(r2)))
    ca, sa = sincos_word_float64(r1)
    cb, sb = sincos_word_float64(r3)
    return ra * ca, ra * sa, rb * cb, rb * sb


@njit(cache=True, inline="always")
def normal_quad_float64(c0, c1, c2, c3, k0, k1):
    """Four standard normals from one Philox block, vectorisable: ``box_muller_float64`` of its words."""
    r0, r1, r2, r3 = philox4x32(c0, c1, c2, c3, k0, k1)
    return box_muller_float64(r0, r1, r2, r3)


# float32 Box-Muller: the reductions exact on the 32-bit words (integer operations), the polynomials in float32.
# Cephes logf on [sqrt(2)/2 - 1, sqrt(2) - 1]: log(1 + f) = f - f**2/2 + f**3 P(f)
_F_LP = tuple(np.float32(c) for c in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                                      1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                                      3.3333331174e-1))
_F_HALF = np.float32(0.5)
_F_MINUS_TWO = np.float32(-2.0)
# Cephes sinf / cosf on [-pi/4, pi/4]
_F_S1 = np.float32(-1.6666654611e-1)
_F_S2 = np.float32(8.3321608736e-3)
_F_S3 = np.float32(-1.9515295891e-4)
_F_C1 = np.float32(4.166664568298827e-2)
_F_C2 = np.float32(-1.388731625493765e-3)
_F_C3 = np.float32(2.443315711809948e-5)


_WORD_NEAR_ONE = np.uint64(0xB504F334)  # from this word on, (a + 1/2) / 2**32 >= sqrt(2)/2
_F_WORD = np.float32(2.0**-32)
_F_WORD_TURN = np.float32(2.0 * math.pi / 2.0**32)
_F_SQRT_HALF_BITS = 0x3F3504F3


@njit(cache=True, inline="always")
def log_word_float32(a):
    """log((a + 1/2) / 2**32) as a float32, for a 32-bit word a (dimensionless): the logarithm of the noise's
    uniforms, in 32-bit lanes; within 3 float32 ulp (``tests/test_mathfn.py``).

    For (a + 1/2) / 2**32 >= sqrt(2)/2 the distance from 1 is taken from the word's complement 2**32 - 1 - a, which
    a float32 holds to its own precision, so a uniform just below 1 keeps its small logarithm; below, the uniform
    rounded to a float32 is split into exponent and mantissa as usual. Cephes' logf polynomial on the mantissa.
    """
    near = a >= _WORD_NEAR_ONE
    f_near = -(_complement_f32(a) + _F_HALF) * _F_WORD
    k, m = _split_f32((_word_f32(a) + _F_HALF) * _F_WORD)
    f = m - _F_ONE  # exact: m is in [sqrt(2)/2, sqrt(2))
    f = f_near if near else f
    k = _F_ZERO if near else k
    z = f * f
    p = _F_LP[0]
    for c in _F_LP[1:]:
        p = p * f + c
    y = f * z * p + k * _F_LN2_LO - _F_HALF * z
    return (f + y) + k * _F_LN2_HI


@njit(cache=True, inline="always")
def sincos_word_float32(a):
    """``(cos(2 pi a / 2**32), sin(2 pi a / 2**32))`` as float32 for a 32-bit word a (dimensionless); absolute error
    < 2e-7. The nearest quarter turn and the remainder (a signed integer below an eighth of a turn) are taken
    exactly from the word's bits, the polynomials run in float32."""
    q, t = _quarter_word32(a)
    x = t * _F_WORD_TURN  # |x| <= pi/4
    z = x * x
    sn = x + x * z * (_F_S1 + z * (_F_S2 + z * _F_S3))
    cs = _F_ONE - _F_HALF * z + z * z * (_F_C1 + z * (_F_C2 + z * _F_C3))
    return _turn(q, cs, sn)


@njit(cache=True, inline="always")
def normal_quad_float32(c0, c1, c2, c3, k0, k1):
    """Four standard normals as float32 from one Philox block: ``box_muller_float32`` of its words."""
    r0, r1, r2, r3 = philox4x32(c0, c1, c2, c3, k0, k1)
    return box_muller_float32(r0, r1, r2, r3)


@njit(cache=True, inline="always")
def box_muller_float32(r0, r1, r2, r3):
    """Four standard normals as float32 from the four 32-bit words of a Philox block: ``rng.normal_quad``'s
    transform (the same uniforms) with the logarithm, cosine and sine in float32 from the words' bits
    (``log_word_float32``, ``sincos_word_float32``): 32-bit lanes, 16 to a 512-bit register."""
    ra = math.sqrt(_F_MINUS_TWO * log_word_float32(np.uint64(r0)))
    rb = math.sqrt(_F_MINUS_TWO * log_word_float32(np.uint64(r2)))
    ca, sa = sincos_word_float32(np.uint64(r1))
    cb, sb = sincos_word_float32(np.uint64(r3))
    return ra * ca, ra * sa, rb * cb, rb * sb


@njit(cache=True, inline="always")
def sat_float64(x):
    """tanh(x) to an absolute error of ~2e-16 (not relative near 0), for saturating blocks.

    ``1 - 2 / (exp(2x) + 1)``: one exp and one division, no branches. A multiplier's
    ``K_I * sat(p / K_I)`` is then exact to ~1e-16 K_I amperes, far below any current that
    matters, at about half the cost of a relatively accurate tanh. NaN gives NaN.
    """
    x = float(x)
    xc = _TANH_CLAMP64 if x > _TANH_CLAMP64 else x
    xc = -_TANH_CLAMP64 if xc < -_TANH_CLAMP64 else xc
    return 1.0 - _fdiv(2.0, _exp_core64(xc + xc) + 1.0)


@njit(cache=True, inline="always")
def sigmoid_float32(z):
    """float32 version of :func:`sigmoid_float64` (z clamped to [-87, 88], within ~2 float32 ulp)."""
    z = np.float32(z)
    z = _F_SIG_HI if z > _F_SIG_HI else z
    z = _F_SIG_LO if z < _F_SIG_LO else z
    return _fdiv(_F_ONE, _F_ONE + _exp_core32(z))


_F_SIG_HI = np.float32(88.0)
_F_SIG_LO = np.float32(-87.0)


@njit(cache=True, inline="always")
def sat_float32(x):
    """float32 version of :func:`sat_float64` (absolute error ~1e-7)."""
    x = np.float32(x)
    xc = _F_TANH_CLAMP if x > _F_TANH_CLAMP else x
    xc = -_F_TANH_CLAMP if xc < -_F_TANH_CLAMP else xc
    return np.float32(1.0) - _fdiv(np.float32(2.0), _exp_core32(xc + xc) + np.float32(1.0))
