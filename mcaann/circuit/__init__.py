"""The circuit of MODEL.md: block parameters and network topology."""

from mcaann.circuit.blocks import NEURON_PARAMS, SYNAPSE_PARAMS, ParamSpec
from mcaann.circuit.network import Topology

__all__ = ["NEURON_PARAMS", "SYNAPSE_PARAMS", "ParamSpec", "Topology"]
