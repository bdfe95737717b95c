"""Prospectivity mapping with selective knowledge transfer (Huang et al. 2022).

Every stage of the Snakemake workflow is a function in this package that takes
arrays and paths and returns results; nothing here imports Snakemake.
"""

__version__ = "0.1.0"
