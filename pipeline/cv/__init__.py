"""Spatial cross-validation: folds of site clusters, reference maps that need no
training, held-out-site scores with cluster-bootstrap confidence intervals.

The paper's single north/south split stays for its tables; claims about how well
a method finds deposits it never saw come from here.
"""
