"""Baselines the paper compares SKT with (Table 3)."""
