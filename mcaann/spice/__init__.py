"""Export of one simulated chip as an ngspice netlist, and a check against ngspice."""
