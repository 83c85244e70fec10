"""The vector width Numba compiles for: 512-bit (zmm) where the CPU has AVX-512.

LLVM's tuning for AVX-512 cores prefers 256-bit vectors (the feature ``prefer-256-bit``), so the
kernels' loops over instances run in ymm registers even where zmm ones would hold twice the lanes.
On such a CPU, before Numba compiles anything, mcaann asks for the host's features less that
preference (``NUMBA_CPU_FEATURES``); the kernels then run in zmm (docs/performance.md has the
figures). A ``NUMBA_CPU_FEATURES`` or ``NUMBA_CPU_NAME`` already set is left as it is, which is
also how to opt out. The results do not change: every lane does the same floating-point
operations whatever the width. Numba's on-disk cache keys compiled code by these features, so
kernels compiled for one width are not loaded for the other.
"""

from __future__ import annotations

import os
import sys

PREFER_512_BIT = "-prefer-256-bit"


def prefer_512_bit_vectors() -> str | None:
    """Set Numba's CPU features to the host's with 512-bit vectors preferred, on an AVX-512 CPU where the user
    chose none; the feature string set, or None where nothing was changed."""
    if "NUMBA_CPU_FEATURES" in os.environ or "NUMBA_CPU_NAME" in os.environ:
        return None
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    if not features.get("avx512f", False):
        return None
    flat = f"{features.flatten()},{PREFER_512_BIT}"
    os.environ["NUMBA_CPU_FEATURES"] = flat  # also for worker processes started from here
    numba = sys.modules.get("numba")
    if numba is not None:  # imported already: takes effect if nothing has been compiled yet
        numba.config.CPU_FEATURES = flat
    return flat


def vector_width() -> str:
    """The widest vectors Numba compiles for here, in words: ``"512-bit (AVX-512)"``, ``"256-bit (AVX2)"``, ..."""
    import llvmlite.binding as llvm
    import numba

    features = numba.config.CPU_FEATURES or llvm.get_host_cpu_features().flatten()
    on = {f[1:] for f in features.split(",") if f.startswith("+")}
    if "avx512f" in on:
        return "512-bit (AVX-512)" if PREFER_512_BIT in features else "256-bit (AVX-512, 256-bit preferred)"
    if "avx2" in on:
        return "256-bit (AVX2)"
    return "128-bit (SSE)" if "sse2" in on else "scalar"
