"""Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).

Every random number of an instance is a pure function of
``(study seed, stream, instance, counter)`` (MODEL.md section 5): the key is
``(seed, stream)`` and the 128-bit counter holds the instance index and the draw's
position. Nothing depends on how instances are grouped into blocks, threads or shards.
The same jitted functions serve the parameter sampler and the kernels' noise.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
from numba import njit

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)

#: Streams (the third part of every key), fixed so that results never change silently.
STREAM_W_INIT = 1
STREAM_SHUFFLE = 2
STREAM_NOISE = 3


def stream_id(name: str) -> int:
    """A stable 32-bit stream number for a named random source (CRC-32 of the name)."""
    return zlib.crc32(name.encode()) & 0xFFFFFFFF


@njit(cache=True, inline="always")
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter (c0..c3) under key (k0, k1); all uint64 holding 32-bit words."""
    c0 = np.uint64(c0)
    c1 = np.uint64(c1)
    c2 = np.uint64(c2)
    c3 = np.uint64(c3)
    k0 = np.uint64(k0)
    k1 = np.uint64(k1)
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        n0 = ((p1 >> _S32) ^ c1 ^ k0) & _MASK
        n1 = p1 & _MASK
        n2 = ((p0 >> _S32) ^ c3 ^ k1) & _MASK
        n3 = p0 & _MASK
        c0, c1, c2, c3 = n0, n1, n2, n3
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


@njit(cache=True, inline="always")
def _unit53(a, b):
    """A uniform double in [0, 1) from two 32-bit words (53 random bits)."""
    return ((a >> np.uint64(5)) * 67108864.0 + (b >> np.uint64(6))) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def normal_pair(c0, c1, c2, c3, k0, k1):
    """Two independent standard normals (Box-Muller) from one Philox block."""
    r0, r1, r2, r3 = philox4x32(c0, c1, c2, c3, k0, k1)
    u1 = 1.0 - _unit53(r0, r1)  # (0, 1]: log is finite
    u2 = _unit53(r2, r3)
    rad = math.sqrt(-2.0 * math.log(u1))
    ang = 2.0 * math.pi * u2
    return rad * math.cos(ang), rad * math.sin(ang)


_U32 = 1.0 / 4294967296.0


@njit(cache=True, inline="always")
def _open32(a):
    """A uniform double in (0, 1) from one 32-bit word: (a + 1/2) / 2**32."""
    return (a + 0.5) * _U32


@njit(cache=True, inline="always")
def normal_quad(c0, c1, c2, c3, k0, k1):
    """Four independent standard normals (Box-Muller on two pairs of 32-bit uniforms) from one Philox block.

    The noise generator: a radius from ``(r + 1/2) / 2**32`` is finite and at most 6.8 (tails beyond 6.8 sigma,
    probability 1e-11, are cut), the angle has 2**32 steps.
    """
    r0, r1, r2, r3 = philox4x32(c0, c1, c2, c3, k0, k1)
    ra = math.sqrt(-2.0 * math.log(_open32(r0)))
    rb = math.sqrt(-2.0 * math.log(_open32(r2)))
    aa = 2.0 * math.pi * (r1 * _U32)
    ab = 2.0 * math.pi * (r3 * _U32)
    return ra * math.cos(aa), ra * math.sin(aa), rb * math.cos(ab), rb * math.sin(ab)


@njit(cache=True, inline="always")
def uniform(c0, c1, c2, c3, k0, k1):
    """A uniform double in [0, 1) from one Philox block."""
    r0, r1, _, _ = philox4x32(c0, c1, c2, c3, k0, k1)
    return _unit53(r0, r1)


@njit(cache=True)
def _normals(seed, stream, instances, index, out):
    for n in range(instances.shape[0]):
        for k in range(index.shape[0]):
            z, _ = normal_pair(instances[n], index[k], 0, 0, seed, stream)
            out[n, k] = z


@njit(cache=True)
def _uniforms(seed, stream, instances, index, out):
    for n in range(instances.shape[0]):
        for k in range(index.shape[0]):
            out[n, k] = uniform(instances[n], index[k], 0, 0, seed, stream)


def _as_u64(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.int64).astype(np.uint64))


def standard_normals(seed: int, stream: int, instances, index) -> np.ndarray:
    """Standard normals of shape ``(len(instances), len(index))``.

    Draw ``(n, k)`` is a pure function of (seed, stream, instance n, index k).
    """
    inst, idx = _as_u64(instances), _as_u64(index)
    out = np.empty((inst.size, idx.size))
    _normals(np.uint64(seed), np.uint64(stream), inst, idx, out)
    return out


def uniforms(seed: int, stream: int, instances, index) -> np.ndarray:
    """Uniforms in [0, 1) of shape ``(len(instances), len(index))``; pure in their key."""
    inst, idx = _as_u64(instances), _as_u64(index)
    out = np.empty((inst.size, idx.size))
    _uniforms(np.uint64(seed), np.uint64(stream), inst, idx, out)
    return out
