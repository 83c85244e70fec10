"""Transistor-level characterisation of the blocks in an open PDK (IHP SG13G2) with VACASK.

``tools`` finds the simulator and compiles the PSP 103 model once; ``sg13g2`` reads the PDK's
model cards and mismatch data; ``netlist`` writes many Monte Carlo copies of a cell into one
VACASK netlist; ``cells`` sweeps the cells and fits the block model per sample; ``characterise``
writes the netCDF, the characterised preset and the Pelgrom comparison (``mcaann characterise``);
``synapse`` runs one transistor-level synapse learning in a transient against the block model.
"""
