"""Shared fixtures: a scratch course (temporary root sharing source/)."""

from __future__ import annotations


import pytest


from autograder.course import Course, REPOSITORY
from autograder.grading_session import ScratchCourse


def course_assignments() -> list[str]:
    return Course(REPOSITORY).assignments() if (REPOSITORY / "source").exists() else []


@pytest.fixture(scope="session")
def scratch(tmp_path_factory) -> ScratchCourse:
    """One scratch course for the whole run; each grade() is a new student."""
    return ScratchCourse(tmp_path_factory.mktemp("course"))
