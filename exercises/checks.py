"""Visible checks: quick self-tests that students run in their notebooks.

Each check either prints a short "✔ ..." line or raises :class:`CheckFailed`
(an ``AssertionError``) with what was expected, what came back and a hint.
In the notebook (and in nbgrader's Validate) the failure shows that message
alone, without traceback frames from this file. They only test values the
lesson itself works through; the hidden, graded checks live elsewhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class CheckFailed(AssertionError):
    """A visible check failed: the message says what was expected, what came back, and a hint.

    IPython shows an exception through its ``_render_traceback_`` when it has
    one: here that is the message alone, so the student reads it first and
    nothing else (no frames inside this module) comes before it.
    """

    def _render_traceback_(self) -> list[str]:
        lines = str(self).splitlines() or [""]
        return [f"\x1b[1;31m✘ {lines[0]}\x1b[0m", *lines[1:]]


def _fail(name: str, expected: str, got: str, hint: str) -> None:
    __tracebackhide__ = True  # pytest: a failing check points at the caller's line
    got = str(got)
    message = f"{name}: expected {expected}, got {got}" + ("" if got.endswith(".") else ".")  # never "1.."
    if hint:
        message += f"\nHint: {hint}"
    raise CheckFailed(message)


def _as_array(value: Any, name: str, hint: str) -> np.ndarray:
    __tracebackhide__ = True
    if value is None:
        _fail(name, "numbers", "None", hint or "did your function forget to `return` its result?")
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        _fail(name, "numbers", type(value).__name__, hint)
    raise AssertionError  # unreachable: _fail raises


def check_shape(value: Any, shape: tuple[int, ...], name: str, hint: str = "") -> None:
    """Check that *value* is numeric with exactly *shape*."""
    __tracebackhide__ = True
    array = _as_array(value, name, hint)
    if array.shape != tuple(shape):
        _fail(name, f"shape {tuple(shape)}", f"shape {array.shape}", hint)
    print(f"✔ {name} has shape {tuple(shape)}")


def check_close(value: Any, expected: Any, name: str, hint: str = "", tol: float = 1e-4) -> None:
    """Check *value* against a number (or array) that the lesson works out."""
    __tracebackhide__ = True
    array = _as_array(value, name, hint)
    target = np.asarray(expected, dtype=float)
    if array.shape != target.shape:
        _fail(name, f"shape {target.shape}", f"shape {array.shape}", hint)
    if not np.allclose(array, target, rtol=tol, atol=tol):
        _fail(name, np.array2string(target, precision=4), np.array2string(array, precision=4), hint)
    print(f"✔ {name} = {np.array2string(array, precision=4)}")


def check_between(value: Any, low: float, high: float, name: str, hint: str = "") -> None:
    """Check that every entry of *value* lies in [low, high]."""
    __tracebackhide__ = True
    array = _as_array(value, name, hint)
    if array.size == 0 or not np.all((array >= low) & (array <= high)):
        _fail(name, f"values between {low} and {high}",
              f"values from {np.nanmin(array) if array.size else 'nothing'} to {np.nanmax(array) if array.size else 'nothing'}", hint)
    print(f"✔ {name} lies between {low} and {high}")
