import math

import numpy as np

from mcaann.stats import convergence_epochs, wilson_interval


def test_wilson_by_hand():
    # k = 8, n = 10, z = 1.959964: centre = (0.8 + z^2/20) / (1 + z^2/10), worked by hand
    z = 1.959963984540054
    p = 0.8
    centre = (p + z * z / 20) / (1 + z * z / 10)
    half = z / (1 + z * z / 10) * math.sqrt(p * (1 - p) / 10 + z * z / 400)
    pp, lo, hi = wilson_interval(8, 10)
    assert pp == 0.8
    assert math.isclose(lo, centre - half, rel_tol=1e-12) and math.isclose(hi, centre + half, rel_tol=1e-12)
    assert math.isclose(lo, 0.4901624, rel_tol=1e-6) and math.isclose(hi, 0.9433178, rel_tol=1e-6)


def test_wilson_contains_fraction_at_extremes():
    for k, n in [(0, 10), (10, 10), (0, 1), (1, 1), (1000, 1000)]:
        p, lo, hi = wilson_interval(k, n)
        assert lo <= p <= hi and 0 <= lo and hi <= 1


def test_convergence_epochs():
    ok = np.array([
        [False, True, False, True, True],
        [True, True, True, True, True],
        [True, True, True, True, False],
        [False, False, False, False, False],
    ])
    e = convergence_epochs(ok)
    assert e[0] == 3 and e[1] == 0 and np.isnan(e[2]) and np.isnan(e[3])
