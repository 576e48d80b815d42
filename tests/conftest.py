"""Shared fixtures and gates: a scratch course (temporary root sharing source/), and
:func:`requires`, the one place that decides what a missing component does to a test.

On a developer's machine a test whose component (bubblewrap, Chromium, PostgreSQL,
Dask, …) is missing is skipped with the reason. Under ``CI=true`` it fails instead:
CI runs the whole suite, and a skip there would hide lost coverage.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from autograder.course import Course, REPOSITORY
from autograder.grading_session import ScratchCourse

#: CI sets CI=true (GitHub Actions, GitLab, most others); there a missing component is an error.
ON_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def course_assignments() -> list[str]:
    return Course(REPOSITORY).assignments() if (REPOSITORY / "source").exists() else []


def missing(component: str, how: str) -> None:
    """Skip the calling test because *component* is missing, or fail it under ``CI=true``."""
    if ON_CI:
        pytest.fail(f"{component} is missing on CI ({how}); CI must run every test", pytrace=False)
    pytest.skip(f"{component} is missing: {how}")


def requires(component: str, available: bool | Callable[[], bool], how: str,
             marker: str | None = None) -> pytest.MarkDecorator:
    """A mark that runs a test only where *component* is available (a bool, or a probe called once
    at setup); elsewhere the test is skipped, or fails under ``CI=true`` (see :func:`missing`)."""
    return pytest.mark.requires(component=component, available=available, how=how, marker=marker)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires"):
        available = mark.kwargs["available"]
        if not (available() if callable(available) else available):
            missing(mark.kwargs["component"], mark.kwargs["how"])


#: Marks that name a real component; a test carrying one is also ``slow`` (out of the fast loop).
COMPONENTS = ("sandbox", "browser", "postgres", "cluster", "hub")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "scratch" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.sandbox)   # the scratch course grades in real kernels
        for mark in item.iter_markers("requires"):
            if mark.kwargs.get("marker"):
                item.add_marker(getattr(pytest.mark, mark.kwargs["marker"]))
        if any(item.get_closest_marker(name) for name in COMPONENTS):
            item.add_marker(pytest.mark.slow)


def sandbox_works() -> bool:
    from autograder.preprocessors.sandbox import bwrap_works

    return bwrap_works()


#: The gate of every test that grades in the full sandbox.
needs_sandbox = requires("bubblewrap", sandbox_works, "the full sandbox needs bubblewrap", marker="sandbox")


def result(report, student: str):
    """*student*'s row in a class report (:func:`autograder.pipeline.grade_class`'s answer)."""
    return next(r for r in report.results if r.student == student)


@pytest.fixture(scope="session")
def scratch(tmp_path_factory) -> ScratchCourse:
    """One scratch course for the whole run; each grade() is a new student."""
    return ScratchCourse(tmp_path_factory.mktemp("course"))


def everything_under(root) -> bytes:
    """Every byte of every regular file under *root*: where a canary a hostile student pointed at must not be."""
    found = bytearray()
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            found += path.read_bytes()
    return bytes(found)
