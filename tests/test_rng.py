"""Counter-based generator: known-answer vectors, purity, and the normal law."""

import numpy as np

from mcaann.variability.rng import philox4x32, standard_normals, uniforms


def test_philox_known_answers():
    # Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
    cases = [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ]
    for ctr, key, expect in cases:
        assert tuple(int(v) for v in philox4x32(*ctr, *key)) == expect


def test_draws_are_pure_functions_of_their_key():
    a = standard_normals(7, 11, np.arange(100), np.arange(5))
    b = standard_normals(7, 11, np.arange(40, 60), np.arange(5))
    np.testing.assert_array_equal(a[40:60], b)
    c = standard_normals(7, 12, np.arange(100), np.arange(5))
    assert not np.any(a == c)


def test_normal_law():
    n = 200_000
    z = standard_normals(3, 5, np.arange(n // 4), np.arange(4)).ravel()
    # mean ~ N(0, 1/n); var estimate has sd sqrt(2/n): 5 standard errors
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    # fourth moment of a normal is 3 (sd of the estimate sqrt(96/n))
    assert abs(np.mean(z**4) - 3) < 5 * np.sqrt(96 / n)


def test_uniform_law():
    n = 100_000
    u = uniforms(1, 2, np.arange(n), [0]).ravel()
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
