"""Dask worker preload: import what grading needs while the worker waits for its first submission.

``course grade --cluster local[:N]`` starts fresh worker processes; importing
nbgrader, nbconvert and the course's grader takes them a few seconds. Done in
a background thread at start-up (``dask worker --preload autograder.cluster.preload``
does the same on any worker), it overlaps the main process's own preparation
(intake, the release, fingerprints) instead of delaying the first grade.
"""

from __future__ import annotations

import importlib
import threading

MODULES = ("autograder.pipeline", "autograder.preprocessors.sandbox", "autograder.preprocessors.judge", "autograder.keyrunner",
           "autograder.warm", "nbgrader.apps", "nbgrader.converters", "nbgrader.preprocessors",
           "nbconvert.exporters", "nbclient", "jupyter_client")


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 — the task itself will report a real problem
            pass


def dask_setup(worker=None) -> None:
    threading.Thread(target=_import_all, name="course-preload", daemon=True).start()
