"""The vectorisable elementary functions of mcaann.engine.mathfn against numpy, and that their loops vectorise."""

from __future__ import annotations

import math
import re

import llvmlite.binding as llvm
import numpy as np
import pytest
from numba import njit, types
from scipy import stats

from mcaann.engine.mathfn import (
    _exp_core32,
    exp_float32,
    exp_float64,
    log_float64,
    log_unit_float64,
    log_word_float32,
    normal_quad_float32,
    normal_quad_float64,
    sat_float32,
    sat_float64,
    sigmoid_float32,
    sigmoid_float64,
    sincos_word_float32,
    sincos_word_float64,
    tanh_float32,
    tanh_float64,
)
from mcaann.variability.rng import normal_quad

ULP_BOUND = 4.0
RNG = np.random.default_rng(20240611)


# ------------------------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------------------------


def _loop(f):
    @njit
    def loop(x, out):
        for b in range(x.shape[0]):
            out[b] = f(x[b])

    return loop


_LOOPS = {f: _loop(f) for f in (exp_float64, exp_float32, tanh_float64, tanh_float32, log_float64, sigmoid_float64,
                                 sigmoid_float32, sat_float64, sat_float32)}


def _apply(f, x):
    out = np.empty_like(x)
    _LOOPS[f](x, out)
    return out


@njit
def _sincos_loop(a, c, s):
    for b in range(a.shape[0]):
        c[b], s[b] = sincos_word_float64(a[b])


def _sincos(u):
    """cos and sin of u turns, u a multiple of 2**-32 in [0, 1)."""
    c, s = np.empty_like(u), np.empty_like(u)
    _sincos_loop((u * 2.0**32).astype(np.uint64), c, s)
    return c, s


def _ulp_error(got, ref):
    """Max |got - ref| in units of ref's ulp (ref's dtype); zeros and infinities of ref must match exactly."""
    assert got.dtype == ref.dtype
    exact = (ref == 0) | np.isinf(ref)
    np.testing.assert_array_equal(got[exact], ref[exact])
    g, r = got[~exact], ref[~exact]
    assert np.all(np.isfinite(g))
    err = np.abs(g.astype(np.float64) - r.astype(np.float64)) / np.spacing(np.abs(r)).astype(np.float64)
    return float(err.max()), float(r[np.argmax(err)]) if err.size else 0.0


def _grid64(lo, hi, n=200_001):
    return np.concatenate([np.linspace(lo, hi, n), RNG.uniform(lo, hi, n)])


# ------------------------------------------------------------------------------------------------------------------
# exp
# ------------------------------------------------------------------------------------------------------------------


def test_exp_float64_accuracy():
    x = np.concatenate(
        [
            _grid64(-745.2, 709.79),
            _grid64(-1.0, 1.0),
            np.geomspace(1e-300, 1.0, 20_001),
            -np.geomspace(1e-300, 1.0, 20_001),
            [0.0, -0.0, 1.0, -1.0, math.log(np.finfo(np.float64).max), -708.39, -745.13, 709.78],
        ]
    )
    with np.errstate(over="ignore"):
        ref = np.exp(x)
    err, at = _ulp_error(_apply(exp_float64, x), ref)
    print(f"exp_float64 max error {err:.3f} ulp (at {at:.6g})")
    assert err <= ULP_BOUND


def test_exp_float64_edges():
    big = np.array([709.79, 710.0, 800.0, 1e300, np.inf])
    assert np.all(_apply(exp_float64, big) == np.inf)
    small = np.array([-745.14, -746.0, -1000.0, -1e300, -np.inf])
    assert np.all(_apply(exp_float64, small) == 0.0)
    # subnormal results are computed, not flushed (gradual underflow)
    sub = np.array([-710.0, -720.0, -740.0, -745.0])
    np.testing.assert_array_equal(_apply(exp_float64, sub) > 0.0, True)
    assert exp_float64(0.0) == 1.0 and exp_float64(-0.0) == 1.0
    assert exp_float64(1) == pytest.approx(math.e, rel=1e-15)  # integer argument is promoted


def test_exp_float32_accuracy():
    x = np.concatenate(
        [
            np.linspace(-103.9, 88.72, 400_001, dtype=np.float32),
            RNG.uniform(-10.0, 10.0, 200_000).astype(np.float32),
            np.geomspace(1e-30, 1.0, 20_001).astype(np.float32),
            -np.geomspace(1e-30, 1.0, 20_001).astype(np.float32),
        ]
    )
    with np.errstate(over="ignore"):
        ref = np.exp(x)
        ref64 = np.exp(x.astype(np.float64)).astype(np.float32)  # correctly rounded up to double rounding
    got = _apply(exp_float32, x)
    assert got.dtype == np.float32
    err, at = _ulp_error(got, ref)
    err64, _ = _ulp_error(got, ref64)
    print(f"exp_float32 max error {err:.3f} f32 ulp vs numpy float32 (at {at:.6g}), {err64:.3f} vs rounded float64")
    assert err <= ULP_BOUND and err64 <= ULP_BOUND


def test_exp_core32_is_exp_float32_where_the_result_is_normal():
    # the logistic, tanh and saturating tanh of float32 use the one-scale-factor exponential on clamped
    # arguments: bit for bit the full one over [-87, 88]
    x = np.concatenate([np.linspace(-87, 88, 400_001), RNG.uniform(-87, 88, 200_000)]).astype(np.float32)
    core, full = np.empty_like(x), np.empty_like(x)
    _exp_core32_loop(x, core)
    _LOOPS[exp_float32](x, full)
    np.testing.assert_array_equal(core.view(np.uint32), full.view(np.uint32))


@njit
def _exp_core32_loop(x, out):
    for b in range(x.shape[0]):
        out[b] = _exp_core32(x[b])


def test_exp_float32_edges():
    big = np.array([88.73, 89.0, 100.0, 3e38, np.inf], dtype=np.float32)
    assert np.all(_apply(exp_float32, big) == np.inf)
    small = np.array([-103.98, -104.0, -200.0, -3e38, -np.inf], dtype=np.float32)
    assert np.all(_apply(exp_float32, small) == 0.0)
    assert np.all(_apply(exp_float32, np.array([-88.0, -95.0, -103.0], dtype=np.float32)) > 0.0)  # subnormal


# ------------------------------------------------------------------------------------------------------------------
# tanh
# ------------------------------------------------------------------------------------------------------------------


def test_tanh_float64_accuracy():
    edge = np.nextafter(0.625, [0.0, 1.0])
    x = np.concatenate(
        [
            _grid64(-25.0, 25.0),
            _grid64(-1.0, 1.0),
            np.geomspace(1e-308, 1.0, 20_001),
            -np.geomspace(1e-308, 1.0, 20_001),
            [5e-324, 1e-10, -1e-10, 0.625, -0.625, *edge, *-edge, 18.0, 19.06, 20.0, 1e300],
        ]
    )
    err, at = _ulp_error(_apply(tanh_float64, x), np.tanh(x))
    print(f"tanh_float64 max error {err:.3f} ulp (at {at:.6g})")
    assert err <= ULP_BOUND
    # relative precision near zero: tanh(x) = x - x**3/3 + ...
    assert tanh_float64(1e-10) == pytest.approx(1e-10 - 1e-30 / 3, rel=1e-16)
    assert tanh_float64(1e-300) == 1e-300


def test_tanh_float64_edges():
    x = np.array([20.0, 25.0, 100.0, 1e308, np.inf])
    np.testing.assert_array_equal(_apply(tanh_float64, x), 1.0)
    np.testing.assert_array_equal(_apply(tanh_float64, -x), -1.0)
    x = _grid64(-30.0, 30.0, 50_001)
    np.testing.assert_array_equal(_apply(tanh_float64, -x), -_apply(tanh_float64, x))  # odd, exactly
    assert math.copysign(1.0, tanh_float64(-0.0)) == -1.0 and tanh_float64(0.0) == 0.0


def test_tanh_float32_accuracy():
    x = np.concatenate(
        [
            np.linspace(-12.0, 12.0, 400_001, dtype=np.float32),
            RNG.uniform(-1.0, 1.0, 200_000).astype(np.float32),
            np.geomspace(1e-38, 1.0, 20_001).astype(np.float32),
            -np.geomspace(1e-38, 1.0, 20_001).astype(np.float32),
            np.nextafter(np.float32(0.625), np.array([0.0, 1.0], dtype=np.float32)),
        ]
    )
    got = _apply(tanh_float32, x)
    assert got.dtype == np.float32
    err, at = _ulp_error(got, np.tanh(x))
    err64, _ = _ulp_error(got, np.tanh(x.astype(np.float64)).astype(np.float32))
    print(f"tanh_float32 max error {err:.3f} f32 ulp vs numpy float32 (at {at:.6g}), {err64:.3f} vs rounded float64")
    assert err <= ULP_BOUND and err64 <= ULP_BOUND


def test_tanh_float32_edges():
    x = np.array([10.0, 20.0, 1e30, np.inf], dtype=np.float32)
    np.testing.assert_array_equal(_apply(tanh_float32, x), np.float32(1.0))
    np.testing.assert_array_equal(_apply(tanh_float32, -x), np.float32(-1.0))
    x = np.linspace(-15.0, 15.0, 100_001, dtype=np.float32)
    np.testing.assert_array_equal(_apply(tanh_float32, -x), -_apply(tanh_float32, x))
    assert math.copysign(1.0, tanh_float32(np.float32(-0.0))) == -1.0


# ------------------------------------------------------------------------------------------------------------------
# float32 stays float32
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("f", [exp_float32, tanh_float32])
def test_float32_type_preserved(f):
    @njit
    def call(x):
        return f(x)

    @njit
    def combined(x):
        return np.float32(1.0) + f(x) * x  # stays float32 only if f returns float32

    call(np.float32(0.5))
    combined(np.float32(0.5))
    assert call.nopython_signatures[0].return_type == types.float32
    assert combined.nopython_signatures[0].return_type == types.float32
    call(0.5)  # a float64 argument is converted, the result is still float32
    assert all(sig.return_type == types.float32 for sig in call.nopython_signatures)


# ------------------------------------------------------------------------------------------------------------------
# log and sincos (for Box-Muller)
# ------------------------------------------------------------------------------------------------------------------


def test_log_float64_accuracy():
    x = np.concatenate(
        [
            RNG.uniform(0.0, 1.0, 400_000),
            np.linspace(2.0**-53, 1.0, 200_001),
            np.geomspace(5e-324, 1.7e308, 200_001),
            1.0 - np.arange(1, 2001) * 2.0**-53,  # 1 - u near 1: log must keep relative precision
            1.0 + np.arange(1, 2001) * 2.0**-52,
            [5e-324, 1e-310, 2.2250738585072014e-308, 1.0, np.finfo(np.float64).max, math.sqrt(0.5), math.sqrt(2.0)],
        ]
    )
    err, at = _ulp_error(_apply(log_float64, x), np.log(x))
    print(f"log_float64 max error {err:.3f} ulp (at {at:.6g})")
    assert err <= ULP_BOUND
    assert log_float64(1.0) == 0.0


@njit(fastmath={"contract"})
def _log_unit_loop(u, out):
    for b in range(u.shape[0]):
        out[b] = log_unit_float64(u[b])


def test_log_unit_float64_accuracy():
    # the noise's uniforms (a + 1/2) / 2**32 of every kind of word, and the whole range of positive normal floats up
    # to 1: within 1 ulp of log_float64 (its division replaced by Newton steps) and its error bound against numpy
    a = np.concatenate([RNG.integers(0, 2**32, 300_000), np.arange(4096), 2**32 - 1 - np.arange(4096)])
    u = np.concatenate([(a + 0.5) / 2**32, 10.0 ** RNG.uniform(-307, 0, 300_000), [1.0, 2.0**-1022]])
    out = np.empty_like(u)
    _log_unit_loop(u, out)
    full = _apply(log_float64, u)
    ulps = np.abs(out - full) / np.spacing(np.abs(full).clip(1e-300))
    differ = np.count_nonzero(out != full)
    print(f"log_unit_float64: {differ} of {u.size} differ from log_float64, by <= {ulps.max()} ulp")
    assert ulps.max() <= 1.0
    err, at = _ulp_error(out, np.log(u))
    print(f"log_unit_float64 max error {err:.3f} ulp (at {at:.6g})")
    assert err <= ULP_BOUND
    assert out[-2] == 0.0


def test_log_float64_edges():
    assert log_float64(0.0) == -math.inf and log_float64(-0.0) == -math.inf
    assert math.isnan(log_float64(-1.0)) and math.isnan(log_float64(-math.inf))
    assert log_float64(math.inf) == math.inf


def test_sincos_word_float64_accuracy():
    # every angle is a 32-bit word a (a / 2**32 turns): random words, a fine grid, both sides of the quarter turns
    # (the reduction's boundaries) and of an eighth (where it switches quadrant)
    a = np.concatenate(
        [
            RNG.integers(0, 2**32, 400_000),
            np.arange(2**16) * 2**16,
            np.concatenate([q * 2**29 + np.arange(-500, 501) for q in range(9)]),
            [1, 2**32 - 1],
        ]
    )
    a = a[(a >= 0) & (a < 2**32)]
    u = a / 2.0**32  # exact
    c, s = _sincos(u)
    # absolute error against numpy's own cos(2 pi u), whose argument rounding alone is up to ~4.4e-16
    abs_err = max(np.abs(c - np.cos(2 * np.pi * u)).max(), np.abs(s - np.sin(2 * np.pi * u)).max())
    print(f"sincos_word_float64 max abs difference from numpy {abs_err:.3g}")
    assert abs_err < 1e-15
    # exact quarter turns
    for q, (cq, sq) in enumerate([(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)]):
        assert sincos_word_float64(np.uint64(q * 2**30)) == (cq, sq)
    # relative error against an extended-precision reference (x86 long double), away from the exact zeros; the
    # reference reduces exactly to t = u - q/4, |t| <= 1/8, as near the zeros 2 pi u in long double is not enough
    if np.finfo(np.longdouble).eps > 1e-18:
        pytest.skip("long double is no wider than double here")
    ld = np.longdouble
    two_pi = 2 * ld("3.14159265358979323846264338327950288")
    q = np.round(4.0 * u)
    t = (u - 0.25 * q).astype(ld)  # exact
    ct, st = np.cos(two_pi * t), np.sin(two_pi * t)
    quad = q.astype(np.int64) % 4
    ref_c = np.choose(quad, [ct, -st, -ct, st])
    ref_s = np.choose(quad, [st, ct, -st, -ct])
    keep = np.mod(u, 0.25) != 0.0
    for got, ref in ((c, ref_c), (s, ref_s)):
        got, ref = got[keep], ref[keep]
        err = np.abs(got.astype(ld) - ref) / np.spacing(np.abs(ref.astype(np.float64))).astype(ld)
        print(f"sincos_word_float64 max error {float(err.max()):.3f} ulp vs long double")
        assert float(err.max()) <= ULP_BOUND


# ------------------------------------------------------------------------------------------------------------------
# NaN propagation (divergence is detected by NaN)
# ------------------------------------------------------------------------------------------------------------------


def test_nan_propagates():
    nan64 = np.array([np.nan, -np.nan, np.float64("nan") * 0.0])
    nan32 = nan64.astype(np.float32)
    for f in (exp_float64, tanh_float64, log_float64):
        assert np.all(np.isnan(_apply(f, nan64))), f
    for f in (exp_float32, tanh_float32):
        assert np.all(np.isnan(_apply(f, nan32))), f
    # scalar calls too
    assert math.isnan(exp_float64(math.nan)) and math.isnan(tanh_float64(math.nan))
    assert math.isnan(exp_float32(np.float32("nan"))) and math.isnan(tanh_float32(np.float32("nan")))


# ------------------------------------------------------------------------------------------------------------------
# normal_quad_float64
# ------------------------------------------------------------------------------------------------------------------


@njit(fastmath={"contract"})  # as the kernels compile them: multiply-adds in FMAs
def _fast_quads(n, k, seed, stream, fast):
    for i in range(n):
        fast[i, 0], fast[i, 1], fast[i, 2], fast[i, 3] = normal_quad_float64(i, k, 0, 0, seed, stream)


@njit
def _quads(n, k, seed, stream, fast, ref):
    _fast_quads(n, k, seed, stream, fast)
    for i in range(n):
        ref[i, 0], ref[i, 1], ref[i, 2], ref[i, 3] = normal_quad(i, k, 0, 0, seed, stream)


@njit(fastmath={"contract"})
def _quads32(n, k, seed, stream, fast):
    for i in range(n):
        fast[i, 0], fast[i, 1], fast[i, 2], fast[i, 3] = normal_quad_float32(i, k, 0, 0, seed, stream)


@njit
def _log_word_loop(a, out):
    for b in range(a.shape[0]):
        out[b] = log_word_float32(a[b])


@njit
def _sincos_word_loop(a, c, s):
    for b in range(a.shape[0]):
        c[b], s[b] = sincos_word_float32(a[b])


def test_log_word_float32_accuracy():
    # every kind of word: random, the smallest, the largest (uniforms just below 1, where log u ~ u - 1), powers of
    # two, and both sides of the split at sqrt(2)/2; float32 ulps of the exact float64 logarithm of (a + 1/2) / 2**32
    split = 0xB504F334
    a = np.concatenate([RNG.integers(0, 2**32, 400_000), np.arange(0, 4096), 2**32 - 1 - np.arange(0, 4096),
                        2 ** np.arange(32) - 1, 2 ** np.arange(32), split - 2048 + np.arange(4096)]).astype(np.uint64)
    out = np.empty(a.size, np.float32)
    _log_word_loop(a, out)
    ref = np.log((a.astype(np.float64) + 0.5) / 2**32)
    err = np.abs(out - ref) / np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    print(f"log_word_float32 max error {err.max():.3f} float32 ulp (at a = {a[np.argmax(err)]:#x})")
    assert err.max() <= 3.0
    assert out.dtype == np.float32
    assert np.all(out < 0)  # every uniform is below 1, the largest by 2**-33


def test_sincos_word_float32_accuracy():
    a = np.concatenate([RNG.integers(0, 2**32, 400_000), np.arange(9) * 2**29, np.arange(9) * 2**29 - 1,
                        2**32 - 1 - np.arange(16), np.arange(16)])
    a = a[(a >= 0) & (a < 2**32)].astype(np.uint64)
    c, s = np.empty(a.size, np.float32), np.empty(a.size, np.float32)
    _sincos_word_loop(a, c, s)
    turns = 2 * np.pi * (a.astype(np.float64) / 2**32)
    ec, es = np.abs(c - np.cos(turns)).max(), np.abs(s - np.sin(turns)).max()
    print(f"sincos_word_float32 max absolute error cos {ec:.3g}, sin {es:.3g}")
    assert max(ec, es) < 2e-7


def test_normal_quad_float32_matches_normal_quad():
    # the same uniforms as the float64 generator, the transform in float32: within a few float32 ulps of |z| (the
    # radius's relative error is that of the logarithm over 2 log u, the angle's absolute error under 2e-7)
    n = 50_000
    worst = 0.0
    for k, seed, stream in ((0, 0, 0), (7, 12345, 3), (2**31 + 5, 2**32 - 1, 0xDEADBEEF)):
        fast, ref = np.empty((n, 4), np.float32), np.empty((n, 4))
        _quads(n, np.uint64(k), np.uint64(seed), np.uint64(stream), np.empty((n, 4)), ref)
        _quads32(n, np.uint64(k), np.uint64(seed), np.uint64(stream), fast)
        worst = max(worst, float((np.abs(fast - ref) / (1.0 + np.abs(ref))).max()))
    print(f"normal_quad_float32 max |difference| / (1 + |z|) from normal_quad {worst:.3g}")
    assert worst < 1e-6


def test_normal_quad_float64_matches_normal_quad():
    n = 50_000
    worst = 0.0
    for k, seed, stream in ((0, 0, 0), (7, 12345, 3), (2**31 + 5, 2**32 - 1, 0xDEADBEEF)):
        fast, ref = np.empty((n, 4)), np.empty((n, 4))
        _quads(n, np.uint64(k), np.uint64(seed), np.uint64(stream), fast, ref)
        worst = max(worst, float(np.abs(fast - ref).max()))
    print(f"normal_quad_float64 max |difference| from normal_quad {worst:.3g}")
    assert worst < 1e-12


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_normal_quad_is_standard_normal(dtype):
    # 1e5 blocks -> n = 4e5 normals. Standard error of the mean 1/sqrt(n) = 1.58e-3, so 5 SE = 7.9e-3; standard
    # error of the sample variance of normals sqrt(2/(n-1)) = 2.24e-3, so 5 SE = 0.0112; the four columns are
    # pairwise uncorrelated (SE 1/sqrt(1e5)). Kolmogorov-Smirnov against N(0, 1): p > 1e-4. Fixed counters.
    blocks = 100_000
    fast, ref = np.empty((blocks, 4)), np.empty((blocks, 4))
    _quads(blocks, np.uint64(1), np.uint64(2024), np.uint64(3), fast, ref)
    if dtype == np.float32:
        fast = np.empty((blocks, 4), np.float32)
        _quads32(blocks, np.uint64(1), np.uint64(2024), np.uint64(3), fast)
    z = fast.ravel().astype(np.float64)
    n = z.size
    assert abs(z.mean()) < 5.0 / math.sqrt(n)
    assert abs(z.var(ddof=1) - 1.0) < 5.0 * math.sqrt(2.0 / (n - 1))
    corr = np.corrcoef(fast.T)
    assert np.all(np.abs(corr[np.triu_indices(4, 1)]) < 5.0 / math.sqrt(blocks))
    assert stats.kstest(z, "norm").pvalue > 1e-4
    assert np.abs(z).max() < 6.8  # the radius of (r + 1/2) / 2**32 is at most 6.8


# ------------------------------------------------------------------------------------------------------------------
# vectorisation
# ------------------------------------------------------------------------------------------------------------------

_PACKED = re.compile(r"\bv(?:mul|add|sub|div|sqrt)p[sd]\b[^\n]*\b[yz]mm\d", re.IGNORECASE)


def _has_avx():
    features = llvm.get_host_cpu_features()
    return features.get("avx2", False) or features.get("avx512f", False)


@njit
def _normal_loop(n, k, seed, stream, a, b):
    for i in range(n):
        a[i], b[i], _, _ = normal_quad_float64(i, k, 0, 0, seed, stream)


@pytest.mark.skipif(not _has_avx(), reason="needs AVX2 or AVX-512 for ymm/zmm")
@pytest.mark.parametrize(
    "f, dtype",
    [
        (exp_float64, np.float64),
        (tanh_float64, np.float64),
        (sigmoid_float64, np.float64),
        (sat_float64, np.float64),
        (log_float64, np.float64),
        (exp_float32, np.float32),
        (tanh_float32, np.float32),
    ],
)
def test_loop_vectorises(f, dtype):
    loop = _loop(f)  # fresh dispatcher, compiled for this host
    x = np.linspace(0.1, 1.0, 64).astype(dtype)
    loop(x, np.empty_like(x))
    asm = loop.inspect_asm(loop.signatures[0])
    assert "ymm" in asm or "zmm" in asm
    assert _PACKED.search(asm), "no packed ymm/zmm arithmetic: the loop did not vectorise"


@pytest.mark.skipif(not _has_avx(), reason="needs AVX2 or AVX-512 for ymm/zmm")
def test_sincos_and_normal_loops_vectorise():
    u = np.linspace(0.0, 0.9, 64)
    _sincos(u)
    a, b = np.empty(64), np.empty(64)
    _normal_loop(64, np.uint64(0), np.uint64(1), np.uint64(3), a, b)
    for f in (_sincos_loop, _normal_loop):
        assert _PACKED.search(f.inspect_asm(f.signatures[0]))


@pytest.mark.skipif(not _has_avx(), reason="needs AVX2 or AVX-512 for ymm/zmm")
def test_float32_normal_loop_vectorises():
    @njit
    def normal32_loop(n, k, seed, stream, a, b):
        for i in range(n):
            a[i], b[i], _, _ = normal_quad_float32(i, k, 0, 0, seed, stream)

    a, b = np.empty(64, np.float32), np.empty(64, np.float32)
    normal32_loop(64, np.uint64(0), np.uint64(1), np.uint64(3), a, b)
    asm = normal32_loop.inspect_asm(normal32_loop.signatures[0])
    assert re.search(r"\bv(?:mul|add|sub|sqrt|fmadd\w*)ps\b[^\n]*\b[yz]mm\d", asm), "no packed float32 arithmetic"



def test_sigmoid_float64_accuracy():
    # the kernels' logistic function 1 / (1 + e**z), against an 80-bit long-double reference
    z = np.concatenate([RNG.uniform(-40, 40, 20000), RNG.uniform(-700, 700, 2000), [0.0, -0.0, 1e-300]])
    ref = (1 / (1 + np.exp(z.astype(np.longdouble)))).astype(np.float64)
    err, at = _ulp_error(_apply(sigmoid_float64, z), ref)
    print(f"sigmoid_float64 max error {err:.3f} ulp (at {at:.6g})")
    assert err <= ULP_BOUND


def test_sigmoid_edges():
    big = np.array([709.0, 710.0, 1e6, np.inf])
    got = _apply(sigmoid_float64, big)
    assert np.all((got >= 0) & (got < 2e-308))  # clamped at 709: at most e**-709, an absolute error < 1e-307
    np.testing.assert_array_equal(_apply(sigmoid_float64, np.array([-40.0, -800.0, -np.inf])), 1.0)
    assert np.isnan(_apply(sigmoid_float64, np.array([np.nan])))[0]
    z32 = RNG.uniform(-30, 30, 5000).astype(np.float32)
    ref32 = 1 / (1 + np.exp(z32.astype(np.float64)))
    np.testing.assert_allclose(_apply(sigmoid_float32, z32), ref32, rtol=5e-7, atol=1e-30)


def test_sat_is_tanh_to_an_absolute_error():
    # sat(x) = 1 - 2 / (e**2x + 1): absolute (not relative) accuracy is what a multiplier K_I sat(p / K_I) needs
    x = np.concatenate([RNG.uniform(-25, 25, 20000), [0.0, 1e-20, -1e-20, 30.0, -30.0, np.inf, -np.inf]])
    np.testing.assert_allclose(_apply(sat_float64, x), np.tanh(x), rtol=0, atol=4e-16)
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(_apply(sat_float32, x32), np.tanh(x32.astype(np.float64)), rtol=0, atol=3e-7)
    assert np.isnan(_apply(sat_float64, np.array([np.nan])))[0]
