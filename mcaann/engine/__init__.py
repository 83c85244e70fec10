"""Engine: the float64 reference, the generated Numba kernels and the driver that runs them."""
