"""Network topology: weight and neuron indexing shared by kernels, reference and datasets."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Topology:
    """A multilayer perceptron ``[n0, n1, ..., nL]``.

    Weights are numbered layer by layer, post-synaptic neuron by neuron, pre-synaptic input
    by input with ``pre = 0`` the bias: weight ``(l, j, i)`` (``l`` = 1 for the first layer of
    weights) has flat index ``w_offset[l-1] + j * (n_{l-1} + 1) + i``. Neurons (layers 1..L)
    are numbered layer by layer: neuron ``(l, j)`` has index ``n_offset[l-1] + j``.
    """

    layers: tuple[int, ...]
    w_offset: tuple[int, ...] = field(init=False)
    n_offset: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        w, n, wo, no = 0, 0, [], []
        for l in range(1, len(self.layers)):
            wo.append(w)
            no.append(n)
            w += self.layers[l] * (self.layers[l - 1] + 1)
            n += self.layers[l]
        object.__setattr__(self, "layers", tuple(int(v) for v in self.layers))
        object.__setattr__(self, "w_offset", tuple(wo + [w]))
        object.__setattr__(self, "n_offset", tuple(no + [n]))

    @property
    def n_layers(self) -> int:
        """Number of weight layers L."""
        return len(self.layers) - 1

    @property
    def n_weights(self) -> int:
        return self.w_offset[-1]

    @property
    def n_neurons(self) -> int:
        return self.n_offset[-1]

    @property
    def n_in(self) -> int:
        return self.layers[0]

    @property
    def n_out(self) -> int:
        return self.layers[-1]

    def weight_index(self, l: int, j: int, i: int) -> int:
        return self.w_offset[l - 1] + j * (self.layers[l - 1] + 1) + i

    def neuron_index(self, l: int, j: int) -> int:
        return self.n_offset[l - 1] + j

    def weight_coords(self) -> dict[str, np.ndarray]:
        """Integer coordinates ``layer``, ``post``, ``pre`` of every weight (INTERFACE.md)."""
        lay, post, pre = [], [], []
        for l in range(1, len(self.layers)):
            for j in range(self.layers[l]):
                for i in range(self.layers[l - 1] + 1):
                    lay.append(l)
                    post.append(j)
                    pre.append(i)
        return {"layer": np.array(lay), "post": np.array(post), "pre": np.array(pre)}

    def neuron_coords(self) -> dict[str, np.ndarray]:
        """Coordinates ``neuron_layer`` and ``neuron_index`` of every neuron."""
        lay, idx = [], []
        for l in range(1, len(self.layers)):
            for j in range(self.layers[l]):
                lay.append(l)
                idx.append(j)
        return {"neuron_layer": np.array(lay), "neuron_index": np.array(idx)}

    def positions(self, pitch: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Layout positions [m] of weights and neurons, centred on the array: ``(xw, yw, xn, yn)``.

        Each layer is a block of columns: one column per pre-synaptic input (bias first), then
        the column of its neurons; row ``j`` holds post-synaptic neuron ``j``.
        """
        xw, yw, xn, yn = [], [], [], []
        col = 0
        for l in range(1, len(self.layers)):
            for j in range(self.layers[l]):
                for i in range(self.layers[l - 1] + 1):
                    xw.append(col + i)
                    yw.append(j)
            col += self.layers[l - 1] + 1
            for j in range(self.layers[l]):
                xn.append(col)
                yn.append(j)
            col += 1
        x0 = np.mean(xw + xn)
        y0 = np.mean(yw + yn)
        f = float(pitch)
        return ((np.array(xw) - x0) * f, (np.array(yw) - y0) * f, (np.array(xn) - x0) * f, (np.array(yn) - y0) * f)

