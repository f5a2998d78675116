"""Fits of an empirical spectral density: power law on the tail, Marchenko-Pastur bulk."""
