"""Learners that score each cell of the stack from its own values (and, for the
context forest, its neighbourhood), fitted on a fold's training sites:
weights of evidence, a reference-anchored penalised logistic model and a
forest on multi-scale neighbourhood features. Each takes arrays and returns
arrays; ``pipeline.cv.cell_models`` reads and writes the fold's files."""
