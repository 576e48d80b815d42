"""Helpers that the course notebooks import.

Everything here is safe to hand to students: data loaders, plotting helpers,
visible checks and :func:`record`, which stores an answer for the autograder.
Nothing in this package knows the expected answers.
"""

from exercises.answers import record

__all__ = ["record"]
