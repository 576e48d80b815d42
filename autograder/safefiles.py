"""Reading what a student handed in without following anything they point at.

Intake copies *data*: regular files and folders. Everything else a submission
can hold — a symbolic link, a hard link to a file elsewhere, a device, a FIFO,
a socket — is refused for that student, and nothing it points to is ever
opened. The copy walks the tree through directory file descriptors with
``O_NOFOLLOW`` and checks every file again after opening it, so a link swapped
in while the copy runs is refused too.

:func:`student_id_problem` is the one rule for a student id that becomes a
folder name (``submitted/<student>/``), whatever the intake path.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
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


def file_name_problem(name: str) -> str | None:
    """Why *name* cannot be one file name inside a submission folder, or None."""
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
        if not (stat.S_ISDIR(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_nlink == 1)):
            found.append(f"{'a hard link' if stat.S_ISREG(st.st_mode) else kind_of(st.st_mode)}, "
                         f"{path.relative_to(folder).as_posix()}")
    return found


def read_student_file(folder: Path, name: str, max_bytes: int) -> bytes:
    """The bytes of the regular file *name* in a submission *folder*, at most *max_bytes*.

    For reading what a student wrote outside intake (``course similarity``):
    the folder and the file are opened without following a link, the file
    must be a regular file with one link and no larger than *max_bytes*, and
    nothing blocks (a FIFO is refused, not waited on). Raises
    :class:`UnsafeSubmission` (or ``FileNotFoundError`` when there is no such file).
    """
    problem = file_name_problem(name)
    if problem:
        raise UnsafeSubmission("a file name that cannot be used", name)
    try:
        directory = os.open(folder, _DIR_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise UnsafeSubmission("a link instead of a folder", folder.name) from error
    try:
        try:
            handle = os.open(name, _FILE_FLAGS, dir_fd=directory)
        except FileNotFoundError:
            raise
        except OSError as error:   # ELOOP: a link
            raise UnsafeSubmission("a link", name) from error
        try:
            st = os.fstat(handle)
            _check_regular(st, name)
            if st.st_size > max_bytes:
                raise UnsafeSubmission(f"a file larger than {max_bytes // 2**20} MB", name)
            chunks, size = [], 0
            while size <= max_bytes and (chunk := os.read(handle, 1 << 20)):
                chunks.append(chunk)
                size += len(chunk)
            if size > max_bytes:   # grew while read
                raise UnsafeSubmission(f"a file larger than {max_bytes // 2**20} MB", name)
            return b"".join(chunks)
        finally:
            os.close(handle)
    finally:
        os.close(directory)
