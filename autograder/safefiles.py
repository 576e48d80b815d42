"""Reading what a student handed in without following anything they point at.

Intake copies *data*: regular files and folders. Everything else a submission
can hold — a symbolic link, a hard link to a file elsewhere, a device, a FIFO,
a socket — is refused for that student, and nothing it points to is ever
opened. The copy walks the tree through directory file descriptors with
``O_NOFOLLOW`` and checks every file again after opening it, so a link swapped
in while the copy runs is refused too.

:func:`student_id_problem` is the one rule for a student id that becomes a
folder name (``submitted/<student>/``), whatever the intake path;
:func:`name_problem` the one rule for any name a student chose (valid UTF-8,
no control or direction characters).

:func:`read_student_file` (and :func:`open_student_file`, to stream one) is the one way to read a single file a student
wrote (the exchange's ``submission_secret.txt``, a notebook): every folder on
the way below a trusted root is opened with ``O_NOFOLLOW``, the file with
``O_NOFOLLOW | O_NONBLOCK`` (a FIFO never blocks the reader), ``fstat`` decides
before a byte is read (regular file, one link, not too big, the right owner),
and at most the bound is read. :func:`student_entries` lists a student's
folder the same way (names checked, ``lstat`` only).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

#: Folders and files of tools, never part of a submission (skipped unread).
IGNORED_PARTS = frozenset({".ipynb_checkpoints", "__MACOSX", "__pycache__", ".DS_Store"})

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_NAME_FORBIDDEN = re.compile(r"[/\\\x00-\x1f]")


def student_id_problem(student: str) -> str | None:
    """Why *student* cannot be a student id (a folder name), or None if it can.

    An id starts with a letter or digit and holds only letters, digits and
    ``. _ - @`` (at most 64 characters), never ``..``.
    """
    if not _ID.fullmatch(student or ""):
        return (f"{student!r} is not a valid student id (letters, digits and . _ - @, "
                f"starting with a letter or digit)")
    if ".." in student:
        return f"{student!r} is not a valid student id (it contains '..')"
    return None


#: Characters that change how a line reads without being seen (bidirectional overrides, line separators).
_INVISIBLE = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\ufeff")


def printable(name: str) -> str:
    """*name* as a log line or a note may show it: bytes that are not UTF-8 and control characters escaped."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() and c not in _INVISIBLE else repr(c)[1:-1] for c in text)[:300]


def name_problem(name: str) -> str | None:
    """Why *name* (as ``os.listdir`` gives it) is not a name a student may choose, or None.

    It must be valid UTF-8 (``os.listdir`` keeps other bytes as surrogates),
    hold no control, line-separator or direction characters, and fit in 255 bytes.
    """
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return f"the name {printable(name)!r} is not valid UTF-8"
    if any(unicodedata.category(c) == "Cc" or c in _INVISIBLE for c in name):
        return f"the name {printable(name)!r} holds control characters"
    if len(encoded) > 255:
        return f"the name {printable(name)[:40]!r}… is longer than 255 bytes"
    return None


def file_name_problem(name: str) -> str | None:
    """Why *name* cannot be one file name inside a submission folder, or None."""
    if name_problem(name):
        return name_problem(name)
    if name in ("", ".", "..") or _NAME_FORBIDDEN.search(name) or len(name.encode()) > 255:
        return f"{name!r} is not a usable file name"
    return None


class UnsafeSubmission(Exception):
    """A submission holds something that is not a regular file or folder, or is too big."""

    def __init__(self, what: str, relative: str, advice: str = "upload the notebook file itself"):
        self.what, self.relative, self.advice = what, relative, advice
        super().__init__(f"your submission contained {what}, {relative}; {advice}")


@dataclass(frozen=True)
class Limits:
    max_files: int = 2_000
    max_bytes: int = 256 * 2**20


def kind_of(mode: int) -> str:
    """What a non-regular file is, for the student's note."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return "a special file"


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class _Budget:
    def __init__(self, limits: Limits):
        self.limits, self.files, self.bytes = limits, 0, 0

    def take(self, size: int, relative: str) -> None:
        self.files += 1
        self.bytes += size
        if self.files > self.limits.max_files:
            raise UnsafeSubmission(f"more than {self.limits.max_files} files", relative,
                                   "hand in the notebook and the data it reads, nothing else")
        if self.bytes > self.limits.max_bytes:
            raise UnsafeSubmission(f"more than {self.limits.max_bytes // 2**20} MB of files", relative,
                                   "hand in the notebook and the data it reads, nothing else")


def _check_name(name: str, relative: str) -> None:
    problem = file_name_problem(name)
    if problem:
        raise UnsafeSubmission(f"a file whose name cannot be used ({problem})", printable(relative),
                               "rename it (letters, digits, spaces, . _ -) or leave it out")


def _check_regular(st: os.stat_result, relative: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeSubmission(kind_of(st.st_mode), relative)
    if st.st_nlink > 1:
        raise UnsafeSubmission("a hard link", relative)


def _copy_file(dir_fd: int, name: str, target: Path, relative: str, budget: _Budget) -> None:
    before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    _check_regular(before, relative)
    try:
        source = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as error:  # ELOOP: it became a link since the stat
        raise UnsafeSubmission("a link", relative) from error
    try:
        opened = os.fstat(source)
        _check_regular(opened, relative)
        if (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino):
            raise UnsafeSubmission("a file that changed while it was read", relative, "submit again")
        budget.take(opened.st_size, relative)
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            copied = 0
            while chunk := os.read(source, 1 << 20):
                copied += len(chunk)
                if copied > opened.st_size:  # grew while read: count it against the budget
                    budget.take(len(chunk), relative)
                os.write(out, chunk)
        finally:
            os.close(out)
    finally:
        os.close(source)


def _copy_dir(dir_fd: int, target: Path, relative: str, budget: _Budget, skip: frozenset[str]) -> None:
    target.mkdir(mode=0o755)
    for entry in sorted(os.listdir(dir_fd)):
        inner = f"{relative}/{entry}" if relative else entry
        if entry in IGNORED_PARTS or (not relative and entry in skip):
            continue
        _check_name(entry, inner)
        st = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            try:
                child = os.open(entry, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as error:
                raise UnsafeSubmission("a link", inner) from error
            try:
                _copy_dir(child, target / entry, inner, budget, skip)
            finally:
                os.close(child)
        else:
            _copy_file(dir_fd, entry, target / entry, inner, budget)


def copy_tree_safely(source: Path, target: Path, limits: Limits = Limits(),
                     skip: frozenset[str] = frozenset()) -> None:
    """Copy the regular files and folders of *source* to *target*, or refuse.

    Raises :class:`UnsafeSubmission` for the first link, hard link, device,
    FIFO or socket (nothing it points to is read) or when *limits* are passed;
    *target* is then left as it was. Names in *skip* are left out at the top
    level (unread). *target* is replaced only when the whole copy succeeded.
    """
    staging = target.with_name(f".{target.name}.intake")
    if staging.exists():
        shutil.rmtree(staging)
    try:
        root = os.open(source, _DIR_FLAGS)
    except OSError as error:
        raise UnsafeSubmission("a link instead of a folder", source.name) from error
    made_parent = not staging.parent.exists()
    try:
        staging.parent.mkdir(parents=True, exist_ok=True)
        _copy_dir(root, staging, "", _Budget(limits), skip)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if made_parent and not any(staging.parent.iterdir()):
            staging.parent.rmdir()
        raise
    finally:
        os.close(root)
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)


def unsafe_entries(folder: Path) -> list[str]:
    """Relative names of everything in *folder* that is not a regular file or folder."""
    found = []
    for path in sorted(folder.rglob("*")):  # rglob does not follow links to folders
        st = path.lstat()
        if file_name_problem(path.name):
            found.append(f"a file whose name cannot be used, {printable(path.relative_to(folder).as_posix())}")
        elif not (stat.S_ISDIR(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_nlink == 1)):
            found.append(f"{'a hard link' if stat.S_ISREG(st.st_mode) else kind_of(st.st_mode)}, "
                         f"{path.relative_to(folder).as_posix()}")
    return found


# -- reading one file a student wrote -------------------------------------------

def open_student_folder(root: Path, *parts: str) -> int:
    """A descriptor of ``root/parts…``: the path to *root* is trusted, *root* itself and every part
    below it must be a real folder.

    Raises :class:`UnsafeSubmission` for a part that is a link or not a folder,
    ``FileNotFoundError`` for one that is not there (yet).
    """
    try:
        fd = os.open(root, _DIR_FLAGS | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as error:   # ELOOP or ENOTDIR
        raise UnsafeSubmission("a link instead of a folder", printable(Path(root).name), "submit again") from error
    try:
        for index, part in enumerate(parts):
            if name_problem(part) or part in ("", ".", "..") or "/" in part:
                raise UnsafeSubmission("a folder whose name cannot be used", printable(part), "submit again")
            try:
                inner = os.open(part, _DIR_FLAGS | os.O_NONBLOCK, dir_fd=fd)
            except FileNotFoundError:
                raise
            except OSError as error:   # ELOOP or ENOTDIR: a link or not a folder
                what = kind_of(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode)
                raise UnsafeSubmission(f"{what} instead of a folder", "/".join(map(printable, parts[:index + 1])),
                                       "submit again") from error
            os.close(fd)
            fd = inner
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_student_file(root: Path, *parts: str, max_bytes: int, owners: set[int] | None = None) -> int:
    """A descriptor of ``root/parts…`` (a file a student wrote), open for reading, or
    :class:`UnsafeSubmission` saying why not.

    Never follows a link (in the file or in any folder below *root*), never
    blocks (a FIFO, a device), decides from ``fstat`` before reading: a
    regular file with one link, at most *max_bytes*, owned by one of *owners*
    when they are given. ``FileNotFoundError`` when it is not there (yet).
    The caller reads at most *max_bytes* (a file may grow) and closes it.
    """
    *folders, name = parts
    relative = "/".join(map(printable, parts))
    problem = file_name_problem(name)
    if problem:
        raise UnsafeSubmission(f"a file whose name cannot be used ({problem})", relative, "submit again")
    dir_fd = open_student_folder(root, *folders)
    try:
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            raise
        except OSError as error:   # ELOOP: a link; ENXIO: a socket; anything else: not a file to read
            what = kind_of(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
            raise UnsafeSubmission(what, relative, "submit again") from error
    finally:
        os.close(dir_fd)
    try:
        st = os.fstat(fd)
        _check_regular(st, relative)
        if st.st_size > max_bytes:
            raise UnsafeSubmission(f"a file of {st.st_size:,} bytes (at most {max_bytes:,})", relative, "submit again")
        if owners is not None and st.st_uid not in owners:
            raise UnsafeSubmission(f"a file that belongs to uid {st.st_uid}, not to the student", relative,
                                   "submit again as yourself")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_student_file(root: Path, *parts: str, max_bytes: int, owners: set[int] | None = None) -> bytes:
    """The bytes of ``root/parts…``, checked as :func:`open_student_file` checks it (``course serve``'s
    scan, preflight, ``course similarity``)."""
    fd = open_student_file(root, *parts, max_bytes=max_bytes, owners=owners)
    try:
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:   # grew since the fstat
                raise UnsafeSubmission(f"a file of more than {max_bytes:,} bytes", "/".join(map(printable, parts)),
                                       "submit again")
        return b"".join(chunks)
    finally:
        os.close(fd)


def student_entries(root: Path, *parts: str) -> list[tuple[str, os.stat_result]]:
    """(name, ``lstat``) of every entry of the folder ``root/parts…`` whose name passes :func:`file_name_problem`.

    Nothing is opened but the folders on the way (with ``O_NOFOLLOW``).
    """
    fd = open_student_folder(root, *parts)
    try:
        names = os.listdir(fd)
        return [(name, os.stat(name, dir_fd=fd, follow_symlinks=False)) for name in sorted(names)
                if not file_name_problem(name)]
    finally:
        os.close(fd)
