"""Reference numerics for answer keys and benchmarks (never shipped to students).

- :mod:`autograder.reference.network`: the three-layer sigmoid network of
  assignment 05, per sample (as the exercise teaches it) and vectorized over
  mini-batches.
- :mod:`autograder.reference.exam`: the held-back digits whose predictions
  assignment 05 records: the read-only split the grader hands to the sandbox
  (no held-back labels, images in an order of this process's own), and the
  true labels in that order.
"""
