"""Record answers in the notebook so the autograder can judge them outside it.

A graded cell calls :func:`record` with a name and a value. The value is
encoded as JSON (NumPy arrays keep their dtype and shape, bit for bit) and shown
as one display output of the course's own MIME type. The grading process reads
those outputs after the notebook has run; it never trusts anything else the
kernel says.

>>> record("first_output", np.array([0.7408, 0.6457]))   # doctest: +SKIP
"""

from __future__ import annotations

import base64
import math
from numbers import Integral, Real
from typing import Any

import numpy as np

#: MIME type of a recorded answer in a notebook's outputs.
ANSWER_MIME = "application/vnd.nn-course.answer+json"

#: Largest encoded answer (in characters) that the grader will read.
MAX_ANSWER_CHARS = 4_000_000

_ALLOWED_KINDS = "biuf"  # bool, signed and unsigned integers, floats


class AnswerEncodingError(TypeError):
    """The value cannot be recorded as an answer."""


def encode(value: Any) -> Any:
    """Turn *value* into JSON-safe data that :func:`decode` turns back.

    Supported: None, bool, int, float (including nan and inf), str, lists and
    tuples, dicts with string keys, NumPy scalars and numeric NumPy arrays.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        array = np.asarray(value)
        if array.dtype.kind not in _ALLOWED_KINDS:
            raise AnswerEncodingError(
                f"cannot record an array of dtype {array.dtype}; "
                "use numbers (int, float or bool)"
            )
        if isinstance(value, np.generic):
            return encode(value.item())
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        return {
            "__ndarray__": base64.b64encode(np.ascontiguousarray(little).tobytes()).decode("ascii"),
            "dtype": little.dtype.str,
            "shape": list(array.shape),
        }
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        number = float(value)
        if math.isfinite(number):
            return number
        return {"__float__": repr(number)}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise AnswerEncodingError("dictionary keys of a recorded answer must be strings")
        return {"__dict__": {key: encode(item) for key, item in value.items()}}
    raise AnswerEncodingError(
        f"cannot record a value of type {type(value).__name__}; "
        "record numbers, strings, lists, dicts or NumPy arrays"
    )


def decode(data: Any) -> Any:
    """Inverse of :func:`encode`. Raises ValueError on malformed data."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(item) for item in data]
    if isinstance(data, dict):
        if "__ndarray__" in data:
            dtype = np.dtype(str(data["dtype"]))
            if dtype.kind not in _ALLOWED_KINDS:
                raise ValueError(f"recorded array has a forbidden dtype {dtype}")
            shape = tuple(int(n) for n in data["shape"])
            raw = base64.b64decode(data["__ndarray__"], validate=True)
            return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        if "__float__" in data:
            text = str(data["__float__"])
            if text not in {"nan", "inf", "-inf"}:
                raise ValueError(f"malformed special float {text!r}")
            return float(text)
        if "__dict__" in data:
            return {str(key): decode(item) for key, item in data["__dict__"].items()}
    raise ValueError(f"malformed recorded answer: {type(data).__name__}")


def _summary(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    return type(value).__name__


def record(name: str, value: Any) -> None:
    """Record *value* under *name* as an answer for the autograder.

    Shows a short line in the notebook ("recorded: ..."); the value itself
    travels in a display output that the grader reads after the run.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"answer names are identifiers like 'hidden_outputs', not {name!r}")
    try:
        payload = {"name": name, "value": encode(value)}
    except AnswerEncodingError as error:
        raise AnswerEncodingError(f"answer {name!r}: {error}") from None
    from IPython.display import display

    display(
        {ANSWER_MIME: payload, "text/plain": f"recorded {name}: {_summary(value)}"},
        raw=True,
    )
