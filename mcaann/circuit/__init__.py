"""The circuit of MODEL.md: block parameters and equations, their wiring per learning circuit, network topology."""

from mcaann.circuit import backprop
from mcaann.circuit.blocks import NEURON_PARAMS, SYNAPSE_PARAMS, ParamSpec
from mcaann.circuit.network import Topology

#: the learning circuits by the study's ``network.learning``: each module wires the blocks (``forward`` and
#: ``drift`` against a builder, see ``backprop``)
LEARNING_CIRCUITS = {"backprop": backprop}

__all__ = ["LEARNING_CIRCUITS", "NEURON_PARAMS", "SYNAPSE_PARAMS", "ParamSpec", "Topology"]
