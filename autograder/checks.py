"""Assertions for answer keys whose failure messages teach but never leak.

An answer key compares a student's recorded value with the expected one. When
they differ, the message goes into the student's feedback, so it says *what*
is wrong (type, shape, which entries, how far off, a known mistake it looks
like) and never prints the expected value itself.

Every helper raises :class:`WrongAnswer` (an ``AssertionError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np


class WrongAnswer(AssertionError):
    """A recorded answer does not match the key.

    ``mistake`` is the short, stable identifier of the named typical mistake the
    answer matched (``None`` when it matched none); the judge stores it as data
    so that reports can count mistakes across a class.
    """

    def __init__(self, message: str = "", mistake: str | None = None):
        super().__init__(message)
        self.mistake = mistake


def mistake_id(description: str) -> str:
    """A short, stable identifier for a named mistake, made from its description.

    ``"W is typed transposed (rows must be receiving nodes)"`` → ``"w-is-typed-transposed"``:
    the words before any parenthesis, lower case, at most six of them.
    """
    words = re.findall(r"[a-z0-9_]+", description.split("(")[0].lower().replace("_", "-"))
    return "-".join(words[:6]) or "unnamed"


def relative_error(a: Any, b: Any) -> float:
    """Largest elementwise |a - b| / max(|a| + |b|, 1e-8); 0.0 for equal inputs."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8), initial=0.0))


def _as_float_array(actual: Any, name: str) -> np.ndarray:
    if isinstance(actual, (str, bytes, dict)) or actual is None:
        raise WrongAnswer(f"{name}: expected numbers, got {type(actual).__name__}.")
    try:
        array = np.asarray(actual, dtype=float)
    except (TypeError, ValueError):
        raise WrongAnswer(
            f"{name}: expected numbers, got {type(actual).__name__} that NumPy cannot turn into floats."
        ) from None
    return array


def _close(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    return np.isclose(actual, expected, rtol=rtol, atol=atol)


def _shape_hint(actual: np.ndarray, expected: np.ndarray) -> str:
    if actual.shape == expected.shape[::-1] and actual.ndim == 2:
        return " It looks transposed: check which axis is rows (receiving nodes) and which is columns."
    if actual.size == expected.size:
        return " It has the right number of entries in the wrong shape: check column vectors versus flat arrays."
    return ""


def _index_text(indices: np.ndarray, limit: int = 6) -> str:
    entries = [str(tuple(int(i) for i in idx)) if len(idx) > 1 else str(int(idx[0])) for idx in indices[:limit]]
    more = f" and {len(indices) - limit} more" if len(indices) > limit else ""
    return ", ".join(entries) + more


def expect_shape(actual: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Check that *actual* is numeric with exactly *shape*; return it as floats."""
    array = _as_float_array(actual, name)
    if array.shape != tuple(shape):
        expected = np.zeros(shape)
        raise WrongAnswer(
            f"{name}: expected shape {tuple(shape)}, got {array.shape}.{_shape_hint(array, expected)}"
        )
    return array


def expect_close(
    actual: Any,
    expected: Any,
    name: str,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    mistakes: Mapping[str, Any] | None = None,
    hint: str = "",
) -> None:
    """Check *actual* against *expected* (scalars or arrays) within tolerances.

    ``mistakes`` maps a description of a typical mistake to the value that
    mistake produces; when *actual* matches one of them, the message names it.
    """
    expected = np.asarray(expected, dtype=float)
    array = expect_shape(actual, expected.shape, name)
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))
        where = f" at {_index_text(bad)}" if array.ndim else ""
        raise WrongAnswer(f"{name}: contains nan or inf{where}. {hint}".rstrip())
    ok = _close(array, expected, rtol, atol)
    if np.all(ok):
        return
    for description, value in (mistakes or {}).items():
        value = np.asarray(value, dtype=float)
        if value.shape == array.shape and np.all(_close(array, value, rtol, atol)):
            raise WrongAnswer(f"{name}: this is what you get when {description}. {hint}".rstrip(),
                              mistake=mistake_id(description))
    raise WrongAnswer(f"{name}: {_describe_difference(array, expected, ok)} {hint}".rstrip())


def _describe_difference(array: np.ndarray, expected: np.ndarray, ok: np.ndarray) -> str:
    error = relative_error(array, expected)
    size = f"largest relative error {error:.2g}"
    if array.ndim == 0:
        direction = "too large" if array > expected else "too small"
        if np.isclose(array, -expected):
            return "the size is right but the sign is wrong."
        return f"the value is {direction} ({size})."
    wrong = np.argwhere(~ok)
    text = f"{len(wrong)} of {array.size} entries are off (at {_index_text(wrong)}; {size})."
    if np.allclose(array, -expected):
        text += " The sizes are right but the signs are flipped."
    elif np.allclose(np.sort(array, axis=None), np.sort(expected, axis=None)):
        text += " The right numbers are there, in the wrong places."
    return text


def expect_in_range(actual: Any, low: float, high: float, name: str, hint: str = "") -> float:
    """Check that *actual* is one finite number in [low, high]; return it."""
    array = _as_float_array(actual, name)
    if array.ndim != 0:
        raise WrongAnswer(f"{name}: expected a single number, got shape {array.shape}.")
    value = float(array)
    if not (low <= value <= high):
        raise WrongAnswer(f"{name}: expected a number between {low} and {high}, got {value:.4g}. {hint}".rstrip())
    return value


def expect_equal(actual: Any, expected: Any, name: str, hint: str = "") -> None:
    """Exact equality for labels, strings and integers (no value printed)."""
    if isinstance(expected, np.ndarray) or isinstance(actual, np.ndarray):
        expected_array = np.asarray(expected)
        array = np.asarray(actual)
        if array.shape != expected_array.shape:
            raise WrongAnswer(f"{name}: expected shape {expected_array.shape}, got {array.shape}.")
        wrong = np.argwhere(array != expected_array)
        if len(wrong):
            raise WrongAnswer(f"{name}: {len(wrong)} of {array.size} entries differ (at {_index_text(wrong)}). {hint}".rstrip())
        return
    if type(actual) is not type(expected) and not (isinstance(actual, (int, float)) and isinstance(expected, (int, float))):
        raise WrongAnswer(f"{name}: expected a {type(expected).__name__}, got {type(actual).__name__}.")
    if actual != expected:
        raise WrongAnswer(f"{name}: not the expected value. {hint}".rstrip())
