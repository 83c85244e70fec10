"""The vector width the kernels are compiled for (mcaann.cpu)."""

import os
import subprocess
import sys

import llvmlite.binding as llvm
import numpy as np
import pytest
from numba import njit

from mcaann.cpu import PREFER_512_BIT, vector_width
from mcaann.engine.mathfn import sat_float64

AVX512 = llvm.get_host_cpu_features().get("avx512f", False)


def _features_in_a_new_process(**env) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME")}
    code = "import mcaann, numba; print(numba.config.CPU_FEATURES or '')"
    return subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_512_bit_vectors_exactly_where_the_cpu_has_avx512():
    got = _features_in_a_new_process()
    if AVX512:
        assert got.endswith("," + PREFER_512_BIT) and "+avx512f" in got.split(",")
    else:
        assert got == ""


def test_a_users_choice_is_kept():
    assert _features_in_a_new_process(NUMBA_CPU_FEATURES="+avx2,+fma") == "+avx2,+fma"
    assert _features_in_a_new_process(NUMBA_CPU_NAME="generic") == ""


@pytest.mark.skipif(not AVX512 or "NUMBA_CPU_FEATURES" in os.environ and PREFER_512_BIT not in
                    os.environ["NUMBA_CPU_FEATURES"], reason="needs AVX-512 and mcaann's choice of features")
def test_loops_run_in_zmm_registers_on_avx512():
    @njit
    def loop(x, out):
        for b in range(x.shape[0]):
            out[b] = sat_float64(x[b])

    x = np.linspace(-1, 1, 64)
    loop(x, np.empty_like(x))
    assert "zmm" in loop.inspect_asm(loop.signatures[0])
    assert vector_width() == "512-bit (AVX-512)"
