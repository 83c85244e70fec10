"""Variability: counter-based randomness, process presets, mismatch, leakage and noise."""
