"""Running nbgrader's own exchange apps as one student, as JupyterHub would.

nbgrader reads the student's login from the operating system
(``get_username``); :func:`as_student` makes one of its exchange modules see
*student* for the length of a ``with`` block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


@contextmanager
def as_student(exchange_module: ModuleType, student: str) -> Iterator[None]:
    """While inside, *exchange_module* (e.g. nbgrader's ``submit``) takes *student* as the OS user."""
    original = exchange_module.get_username
    exchange_module.get_username = lambda: student
    try:
        yield
    finally:
        exchange_module.get_username = original
