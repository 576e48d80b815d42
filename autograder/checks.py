"""Assertions for answer keys whose failure messages teach but never leak.

An answer key compares a student's recorded value with the expected one. When
they differ, the message goes into the student's feedback, so it says *what*
is wrong (type, shape, which entries, roughly how far, a known mistake it
looks like) and never prints the expected value itself, nor a figure from
which it could be rebuilt: "how far" is one of three coarse bands, in words
(:data:`BANDS`), for the worst entry of an array. A single number is told
only that it is wrong (or has the wrong sign, or matches a named mistake):
see :func:`scalar_difference`.

Tolerances follow the numbers (:func:`tolerances`): never tighter than a few
hundred units in the last place of the precision the student's answer was
computed in (its dtype, or the ``precision`` the key names), scaled by the
size of the values. So a float32 answer passes wherever the float64 one does,
and a value that is merely tiny (σ(−745) = 5e-324 next to 7e-218) is judged
against the size of the numbers around it, not by absolute nonsense.

**The precision floor** (:data:`FLOOR`): no answer is judged more loosely than
float32 allows, whatever its own dtype. A float16 answer (or any coarser one)
is converted and judged at float32's tolerance; when it misses, the message
says to compute in float32 or float64. Values the deck gives exactly (typed
book values, integers) are judged at the decimals the exercise states: the
key passes ``ulps=0`` so that only its own tolerance counts.

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

    ``"W is typed transposed (rows must be receiving nodes)"`` → ``"w-is-typed-transposed"``,
    ``"the hidden layer's sigmoid is missing"`` → ``"hidden-layers-sigmoid-is-missing"``:
    the words before an aside in parentheses, lower case, without a leading article, at most six of them.
    """
    text = re.sub(r"['’]s\b", "s", re.split(r"\s\(", description)[0].lower()).replace("_", "-")
    words = re.findall(r"[a-z0-9]+", text)
    while words and words[0] in ("the", "a", "an"):
        words.pop(0)
    return "-".join(words[:6]) or "unnamed"


def relative_error(a: Any, b: Any) -> float:
    """Largest elementwise |a - b| / max(|a| + |b|, 1e-8); 0.0 for equal inputs."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8), initial=0.0))


#: How far off a wrong number is, in words: (largest relative deviation, phrase).
#: Coarse on purpose: a band never pins the hidden value down to better than 10%.
BANDS = (
    (0.1, "slightly", "within 10%"),
    (0.5, "noticeably", "by 10% to 50%"),
    (float("inf"), "far", "by more than 50%"),
)

#: Units in the last place a correct answer may be off by, after an ordinary computation.
ULPS = 100

#: The coarsest precision any answer is judged at: an answer in a coarser type (float16) gets float32's tolerance.
FLOOR = np.dtype(np.float32)


def precision_of(actual: Any) -> np.dtype:
    """The floating-point type *actual* was recorded in (float64 for Python numbers and integers)."""
    try:
        dtype = np.asarray(actual).dtype
    except (TypeError, ValueError):
        return np.dtype(np.float64)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def tolerances(actual: Any, expected: Any, rtol: float, atol: float, *, precision: Any = None,
               scale: float | None = None, ulps: float = ULPS) -> tuple[float, float]:
    """The (rtol, atol) a check applies: the key's own, loosened to what the numbers can hold.

    The precision is the coarser of the answer's dtype and *precision* (a dtype
    the key accepts, e.g. ``np.float32``), but never coarser than :data:`FLOOR`
    (a float16 answer is judged as if it were float32); ``eps`` is its machine
    epsilon. ``ulps=0`` leaves the key's own tolerances alone (exact values).
    rtol is at least ``ulps · eps`` and atol at least ``ulps · eps · scale``,
    where *scale* is the size of the values the check is about (by default the
    largest finite ``|expected|``). For float64 answers that changes nothing in
    practice (2e-14 relative); for float32 it is about 1e-5.
    """
    floor = float(np.finfo(FLOOR).eps)
    eps = min(float(np.finfo(precision_of(actual)).eps), floor)
    if precision is not None:
        eps = max(eps, min(float(np.finfo(np.dtype(precision)).eps), floor))
    if scale is None:
        values = np.abs(np.asarray(expected, dtype=float))
        values = values[np.isfinite(values)]
        scale = float(values.max()) if values.size else 0.0
    return max(rtol, ulps * eps), max(atol, ulps * eps * float(scale))


def below_floor(actual: Any) -> bool:
    """Whether *actual* was recorded in a type coarser than :data:`FLOOR` (float16)."""
    return precision_of(actual).itemsize < FLOOR.itemsize


def _precision_hint(actual: Any) -> str:
    if not below_floor(actual):
        return ""
    return (f" It was computed in {precision_of(actual)}, which holds about 3 significant digits; answers are "
            "judged at float32's precision or finer, so compute in float32 or float64 (NumPy's default).")


def how_far(actual: float, expected: float) -> str:
    """Which way and roughly how far a wrong number is, in words: never a figure.

    ``"slightly too large (within 10%)"``, ``"noticeably too small (by 10% to
    50%)"``, ``"far too large (by more than 50%)"``, ``"has the wrong sign"``.
    """
    actual, expected = float(actual), float(expected)
    if expected != 0 and actual != 0 and np.sign(actual) != np.sign(expected):
        return "has the wrong sign"
    direction = "too large" if actual > expected else "too small"
    # Where the expected value is 0 every deviation is "far": a message of its own would give the 0 away.
    deviation = abs(actual - expected) / abs(expected) if expected != 0 else float("inf")
    for limit, word, band in BANDS:
        if deviation <= limit:
            return f"is {word} {direction} ({band})"
    raise AssertionError("unreachable")  # pragma: no cover


def scalar_difference(actual: float, expected: float) -> str:
    """What a wrong single number is told: its sign when that is wrong, and otherwise only that it is wrong.

    No direction and no band: "too large"/"too small", or a band whose edge sits at a fixed fraction of the
    hidden value, would let a student find that value by resubmitting (bisection: about 20 gradings). Told only
    "wrong", each grading rules out the values within the tolerance of the one submitted, so recovering a value
    known to ±10% takes 0.1·|value| / tolerance gradings (README, "Hidden checks stay hidden").
    """
    if expected != 0 and actual != 0 and np.sign(actual) != np.sign(expected):
        return "the value has the wrong sign."
    return ("the value is not the expected one. Check the formula step by step; a number typed from the text must "
            "have the decimals the exercise asks for.")


def _band_word(deviation: float) -> str:
    return next(f"{word} off ({band})" for limit, word, band in BANDS if deviation <= limit)


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


def agrees(actual: Any, expected: Any, *, rtol: float = 1e-6, atol: float = 1e-9, precision: Any = None,
           scale: float | None = None, ulps: float = ULPS) -> bool:
    """True when *actual* has *expected*'s shape and matches it within :func:`tolerances` (never raises)."""
    try:
        array = np.asarray(actual, dtype=float)
    except (TypeError, ValueError):
        return False
    target = np.asarray(expected, dtype=float)
    if array.shape != target.shape or not np.all(np.isfinite(array)):
        return False
    rtol, atol = tolerances(actual, target, rtol, atol, precision=precision, scale=scale, ulps=ulps)
    return bool(np.all(_close(array, target, rtol, atol)))


def expect_close(
    actual: Any,
    expected: Any,
    name: str,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    mistakes: Mapping[str, Any] | None = None,
    hint: str = "",
    precision: Any = None,
    scale: float | None = None,
    ulps: float = ULPS,
) -> None:
    """Check *actual* against *expected* (scalars or arrays) within tolerances.

    *rtol* and *atol* are the key's tolerances; :func:`tolerances` loosens them
    to what the answer's precision (its dtype, or *precision*) can hold at the
    size *scale* of the values (``ulps=0``: exactly the key's). ``mistakes`` maps a description of a typical
    mistake to the value that mistake produces; when *actual* matches one of
    them, the message names it.
    """
    expected = np.asarray(expected, dtype=float)
    array = expect_shape(actual, expected.shape, name)
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))
        where = f" at {_index_text(bad)}" if array.ndim else ""
        raise WrongAnswer(f"{name}: contains nan or inf{where}. {hint}".rstrip())
    rtol, atol = tolerances(actual, expected, rtol, atol, precision=precision, scale=scale, ulps=ulps)
    ok = _close(array, expected, rtol, atol)
    if np.all(ok):
        return
    hint = (hint + _precision_hint(actual)).strip()
    for description, value in (mistakes or {}).items():
        value = np.asarray(value, dtype=float)
        if value.shape == array.shape and np.all(_close(array, value, rtol, atol)):
            raise WrongAnswer(f"{name}: this is what you get when {description}. {hint}".rstrip(),
                              mistake=mistake_id(description))
    if np.all(_close(array, -expected, rtol, atol)):
        raise WrongAnswer(f"{name}: the sizes are right but the signs are flipped. {hint}".rstrip(),
                          mistake="sign-flipped")
    raise WrongAnswer(f"{name}: {_describe_difference(array, expected, ok, rtol, atol)} {hint}".rstrip())


def _describe_difference(array: np.ndarray, expected: np.ndarray, ok: np.ndarray, rtol: float, atol: float) -> str:
    """What is off, in words: direction and band for a number; which entries, and how badly, for an array."""
    if array.ndim == 0:
        return scalar_difference(float(array), float(expected))
    wrong = np.argwhere(~ok)
    text = f"{len(wrong)} of {array.size} entries are off (at {_index_text(wrong)})"
    if np.all(_close(np.sort(array, axis=None), np.sort(expected, axis=None), rtol, atol)):
        return text + ". The right numbers are there, in the wrong places."
    deviation = np.abs(array - expected)[~ok] / np.maximum(np.abs(expected[~ok]), atol)
    return text + f"; the worst of them is {_band_word(float(deviation.max()))}."


def expect_close_carried(actual: Any, expected: Any, name: str, *, carried: Any = None,
                         carried_from: str = "an earlier answer", carried_mistakes: Mapping[str, Any] | None = None,
                         **options: Any) -> None:
    """Like :func:`expect_close`, but a mistake made earlier costs only once (error carried forward).

    *carried* is what this step gives when it is done right on the student's own
    (wrong) earlier values, computed by the key from raw values the notebook
    recorded; pass it only when the earlier answer has been judged wrong from its
    own recorded values, so a forged earlier value can never earn anything. The
    answer passes if it matches *expected* or *carried*; when it matches neither,
    the message says it was also judged against the values from *carried_from*.
    """
    try:
        expect_close(actual, expected, name, **options)
        return
    except WrongAnswer:
        if carried is None:
            raise
    own = dict(options, mistakes=carried_mistakes if carried_mistakes is not None else options.get("mistakes"))
    try:
        expect_close(actual, carried, name, **own)
    except WrongAnswer as error:
        raise WrongAnswer(f"{error} (Its input came from {carried_from}, which is itself wrong; this step was "
                          "judged on your own values from there, and it is still off.)",
                          mistake=error.mistake) from None


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
