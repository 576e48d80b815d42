"""nbgrader ``zip_collect`` plugins for the zips an LMS exports.

:class:`SafeExtractor` (nbgrader's ``ExtractorPlugin``) unpacks the archive
with bounds: members, total and per-member size, compression ratio. It writes
only regular files and folders inside the extraction folder: a member whose
name is absolute or climbs out with ``..``, a link, a device and a member that
would inflate past its bounds are refused and listed, never written. Nested
archives stay files (they are not unpacked).

:class:`LmsCollector` (nbgrader's ``FileNameCollectorPlugin``) reads Canvas and
Moodle file names with the patterns in ``nbgrader_config.py``. A file whose
student part is not a valid id (``..``, ``.``), whose file part is not a usable
name, or that matches no pattern is listed, never collected; a
``timestamp.txt`` the student uploaded is ignored (times come from the LMS);
Canvas's ``LATE`` marker is kept in :attr:`LmsCollector.late`.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from nbgrader.plugins import FileNameCollectorPlugin
from nbgrader.plugins.zipcollect import ExtractorPlugin
from traitlets import Float, Int, List, Unicode

from autograder.safefiles import IGNORED_PARTS, file_name_problem, kind_of, student_id_problem

#: Files nbgrader itself puts beside a submission; from a student, they are ignored.
NBGRADER_FILES = frozenset({"timestamp.txt", "submission_secret.txt"})
MB = 2**20


class ArchiveRefused(ValueError):
    """The whole archive is refused (too many members, too big, not an archive)."""


def slug(text: str) -> str:
    """A student id from a display name: ``Jane O'Neil`` → ``jane-oneil``."""
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"['’]", "", text.lower())).strip("-") or "unknown"


def member_path(name: str) -> PurePosixPath | None:
    """The relative path of an archive member, or None if it would leave the folder."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        return None
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return PurePosixPath(*parts)


class SafeExtractor(ExtractorPlugin):
    """Unpack LMS archives with bounds; only regular files and folders are written."""

    max_members = Int(10_000, help="Most members an archive may hold (else it is refused whole).").tag(config=True)
    max_total_mb = Int(1024, help="Most megabytes an archive may unpack to (else it is refused whole).").tag(config=True)
    max_member_mb = Int(200, help="Largest member, in megabytes (a larger one is refused).").tag(config=True)
    max_ratio = Float(200.0, help="Largest compression ratio of a member over 1 MB (a decompression bomb "
                                  "unpacks to thousands of times its size).").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        #: (member name, why it was not written)
        self.refused: list[tuple[str, str]] = []

    # -- nbgrader's entry point ------------------------------------------------
    def extract(self, archive_path: str, extracted_path: str) -> None:
        for archive in sorted(Path(archive_path).iterdir()):
            st = archive.lstat()
            if not stat.S_ISREG(st.st_mode):
                raise ArchiveRefused(f"{archive.name} is not a regular file")
            if zipfile.is_zipfile(archive):
                self._zip(archive, Path(extracted_path))
            elif tarfile.is_tarfile(archive):
                self._tar(archive, Path(extracted_path))
            else:
                raise ArchiveRefused(f"{archive.name} is not a zip (or tar) archive")

    # -- checks ----------------------------------------------------------------
    def _check_count(self, archive: Path, count: int) -> None:
        if count > self.max_members:
            raise ArchiveRefused(f"{archive.name} has more than {self.max_members} members "
                                 f"(c.SafeExtractor.max_members); nothing was unpacked")

    def _check_total(self, archive: Path, total: int) -> None:
        if total > self.max_total_mb * MB:
            raise ArchiveRefused(f"{archive.name} unpacks to more than {self.max_total_mb} MB "
                                 f"(c.SafeExtractor.max_total_mb); nothing was unpacked")

    def _member_problem(self, size: int, compressed: int | None) -> str | None:
        if size > self.max_member_mb * MB:
            return f"larger than {self.max_member_mb} MB unpacked (c.SafeExtractor.max_member_mb)"
        if compressed is not None and size > MB and size > self.max_ratio * max(compressed, 1):
            return (f"compressed {size / max(compressed, 1):.0f} times, more than {self.max_ratio:g} "
                    f"(a decompression bomb; c.SafeExtractor.max_ratio)")
        return None

    def _target(self, root: Path, name: str) -> Path | None:
        relative = member_path(name)
        if relative is None:
            self.refused.append((name, "its path is absolute or leaves the archive's folder"))
            return None
        problem = next((p for p in map(file_name_problem, relative.parts) if p), None)
        if problem:
            self.refused.append((name, problem))
            return None
        return root.joinpath(*relative.parts)

    def _write(self, stream, target: Path, name: str, limit: int, written: list[int]) -> None:
        """Copy *stream* to a new regular file *target*, at most *limit* bytes."""
        if not self._mkdirs(target.parent, name):
            return
        try:
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except (FileExistsError, IsADirectoryError):
            self.refused.append((name, "a second member with the same name"))
            return
        size = 0
        try:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                written[0] += len(chunk)
                if size > limit or written[0] > self.max_total_mb * MB:
                    raise OverflowError
                os.write(out, chunk)
        except OverflowError:
            os.close(out)
            target.unlink()
            self.refused.append((name, "it unpacks to more than its bounds (a decompression bomb)"))
            return
        except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as error:
            os.close(out)
            target.unlink()
            self.refused.append((name, f"it cannot be read ({type(error).__name__})"))
            return
        os.close(out)

    def _mkdirs(self, folder: Path, name: str) -> bool:
        """Make *folder* (only folders this extractor made are on the way); False, and *name* refused,
        when a file of the archive is already where a folder must go."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            self.refused.append((name, "a folder with the same name as a file of the archive"))
            return False
        return True

    # -- formats -----------------------------------------------------------------
    def _zip(self, archive: Path, root: Path) -> None:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            self._check_count(archive, len(members))
            # a member over max_member_mb is refused for its student alone: it does not count against the archive
            self._check_total(archive, sum(m.file_size for m in members if m.file_size <= self.max_member_mb * MB))
            written = [0]
            for member in members:
                mode = member.external_attr >> 16
                target = self._target(root, member.filename)
                if target is None:
                    continue
                if member.is_dir():
                    self._mkdirs(target, member.filename)
                    continue
                if stat.S_IFMT(mode) not in (0, stat.S_IFREG):   # 0: written without a file type (a file)
                    self.refused.append((member.filename, f"it is {kind_of(mode)}, not a file"))
                    continue
                problem = self._member_problem(member.file_size, member.compress_size)
                if problem:
                    self.refused.append((member.filename, problem))
                    continue
                try:
                    with zf.open(member) as stream:
                        self._write(stream, target, member.filename, member.file_size, written)
                except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as error:
                    self.refused.append((member.filename, f"it cannot be read ({error})"))

    def _tar(self, archive: Path, root: Path) -> None:
        written = [0]
        size = archive.stat().st_size
        with tarfile.open(archive) as tf:
            count = 0
            while (member := tf.next()) is not None:
                count += 1
                self._check_count(archive, count)
                target = self._target(root, member.name)
                if target is None:
                    continue
                if member.isdir():
                    self._mkdirs(target, member.name)
                    continue
                if not member.isreg():
                    self.refused.append((member.name, f"it is {'a link' if member.issym() or member.islnk() else 'a special file'}, not a file"))
                    continue
                problem = self._member_problem(member.size, None)
                if problem:
                    self.refused.append((member.name, problem))
                    continue
                self._write(tf.extractfile(member), target, member.name, member.size, written)
                if written[0] > MB and written[0] > self.max_ratio * size:
                    shutil.rmtree(root, ignore_errors=True)
                    root.mkdir()
                    raise ArchiveRefused(f"{archive.name} unpacks to more than {self.max_ratio:g} times its size "
                                         f"(a decompression bomb; c.SafeExtractor.max_ratio); nothing was kept")


class LmsCollector(FileNameCollectorPlugin):
    """nbgrader ``zip_collect`` collector for Canvas and Moodle exports.

    ``patterns`` are tried in order on each extracted file's path (relative to
    the extracted folder); each gives ``file_id`` and either ``student_id`` or
    ``student_name`` (made into an id with :func:`slug`), and may give
    ``late`` (Canvas's ``LATE`` marker) or ``timestamp`` (an LMS that writes
    submission times into names). Every file of a matched student is
    collected, notebooks or not; the rest is listed, never dropped silently.
    """

    patterns = List(Unicode(), help="Named regular expressions for LMS file names, tried in order.").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.root: Path | None = None
        #: file names that match no pattern
        self.unmatched: list[str] = []
        #: (file name, why it was not collected): invalid student ids and file names
        self.invalid: list[tuple[str, str]] = []
        #: student → files the student uploaded under a name nbgrader uses itself (not collected)
        self.ignored: dict[str, list[str]] = {}
        #: students whose files carry the LMS's late marker
        self.late: set[str] = set()
        #: students with at least one file collected
        self.collected: set[str] = set()

    def match(self, relative: str) -> dict | None:
        """The named groups of the first pattern matching *relative*, with ``student_id`` set."""
        for pattern in self.patterns or [self.named_regexp]:
            found = re.fullmatch(pattern, relative) if pattern else None
            if found:
                info = {k: v for k, v in found.groupdict().items() if v is not None}
                if "student_id" not in info and "student_name" in info:
                    info["student_id"] = slug(info.pop("student_name"))
                info["student_id"] = info.get("student_id", "").lower()
                return info
        return None

    def collect(self, submitted_file: str):
        path = Path(submitted_file)
        relative = path.relative_to(self.root).as_posix() if self.root else path.name
        if any(part in IGNORED_PARTS for part in Path(relative).parts):
            return None
        info = self.match(relative)
        if info is None:
            self.unmatched.append(relative)
            return None
        problem = student_id_problem(info["student_id"]) or file_name_problem(info.get("file_id", ""))
        if problem:
            self.invalid.append((relative, problem))
            return None
        if info.pop("late", None):
            self.late.add(info["student_id"])
        if info["file_id"] in NBGRADER_FILES:
            self.ignored.setdefault(info["student_id"], []).append(info["file_id"])
            return None
        self.collected.add(info["student_id"])
        return info
