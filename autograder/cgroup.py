"""Bound a sandbox as a whole: the memory and the processes of all its processes together.

Limits set with ``setrlimit`` hold per process: five forked children each
stay under an address-space limit while holding five times as much together.
A control group (cgroup) counts every process in it, and every process they
start, so one cgroup per sandbox bounds the sandbox as a whole:

* **memory**: resident memory of all its processes, plus the files they write
  to a ``tmpfs`` (the sandbox's scratch space) — past the limit the kernel's
  OOM killer ends the sandbox's largest process (:meth:`SandboxCgroup.oom_kills`
  counts how often);
* **pids**: processes and threads together (``fork`` fails with ``EAGAIN``).

Both cgroup versions are used as found: v2 (one unified hierarchy, with the
``memory`` and ``pids`` controllers available to the grader's cgroup) or v1
(a hierarchy per controller). The sandbox's cgroup is created *inside* the
grader's own, so any limit the machine already sets on the grader still holds.
Its name carries the grading process's id (``autograder-sandbox-<pid>-<n>``):
cgroups left by a grader that crashed are removed the next time one is made.
:func:`support` says what works on this machine, and why not when it does not.
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PREFIX = "autograder-sandbox-"
CONTROLLERS = ("memory", "pids")

#: Run just before the sandbox (outside it): join the cgroup(s), then exec.
#: Everything the sandbox starts is born inside them; nothing runs outside first.
JOIN = r"""
import os, sys
end = sys.argv.index("--")
for path in sys.argv[1:end]:
    with open(path, "w") as procs:
        procs.write(str(os.getpid()))
os.execv(sys.argv[end + 1], sys.argv[end + 1:])
"""

_COUNTER = itertools.count()


class CgroupUnavailable(RuntimeError):
    """No cgroup can be made here; the message says why, in plain words."""


def _mounts() -> list[tuple[str, Path, str, set[str]]]:
    """(root inside the hierarchy, mount point, fs type, options) of each cgroup mount."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and tail and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[3], Path(fields[4]), tail[0], set(tail[-1].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """controller (or "" for the unified v2 hierarchy) → this process's cgroup path."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _inside(mount_root: str, mount_point: Path, path: str) -> Path | None:
    """Where cgroup *path* is seen under a mount of the hierarchy rooted at *mount_root*."""
    relative = os.path.relpath(path, mount_root)
    if relative.startswith(".."):
        return None
    folder = (mount_point / relative).resolve()
    return folder if folder.is_dir() else None


def own_cgroups() -> tuple[int, dict[str, Path]]:
    """(version, {controller: this process's cgroup folder}) for memory and pids.

    Version 2 when the unified hierarchy offers both controllers here, else
    version 1 with whichever of the two is mounted (maybe none).
    """
    own = _own_paths()
    mounts = _mounts()
    for root, point, kind, _ in mounts:
        if kind == "cgroup2" and "" in own:
            folder = _inside(root, point, own[""])
            controllers = _read(folder / "cgroup.controllers").split() if folder else []
            if folder and all(name in controllers for name in CONTROLLERS):
                return 2, {name: folder for name in CONTROLLERS}
    found = {}
    for root, point, kind, options in mounts:
        for name in CONTROLLERS:
            if kind == "cgroup" and name in options and name in own and name not in found:
                folder = _inside(root, point, own[name])
                if folder:
                    found[name] = folder
    return 1, found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _empty_and_remove(folder: Path, seconds: float = 5.0) -> bool:
    """Kill every process in *folder* (a cgroup), then remove it. True when gone."""
    deadline = time.monotonic() + seconds
    while folder.exists():
        kill = folder / "cgroup.kill"
        if kill.exists():
            try:
                _write(kill, "1")
            except OSError:
                pass
        for pid in _read(folder / "cgroup.procs").split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError, ValueError):
                pass
        try:
            folder.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
    return True


def remove_stale(parent: Path) -> list[Path]:
    """Remove sandbox cgroups under *parent* whose grading process is gone."""
    removed = []
    try:
        children = list(parent.iterdir())
    except OSError:
        return removed
    for child in children:
        if not child.name.startswith(PREFIX) or not child.is_dir():
            continue
        try:
            creator = int(child.name[len(PREFIX):].split("-")[0])
        except ValueError:
            continue
        if not _alive(creator) and _empty_and_remove(child):
            removed.append(child)
    return removed


class SandboxCgroup:
    """One sandbox's cgroup(s): created with its limits, joined by :data:`JOIN`, removed after."""

    def __init__(self, version: int, folders: dict[str, Path], memory_bytes: int, max_tasks: int):
        self.version, self.folders = version, folders
        self.memory_bytes, self.max_tasks = memory_bytes, max_tasks

    @classmethod
    def create(cls, memory_bytes: int, max_tasks: int) -> "SandboxCgroup":
        """A new cgroup with these limits, or :class:`CgroupUnavailable` saying why not."""
        version, parents = own_cgroups()
        missing = [name for name in CONTROLLERS if name not in parents]
        if missing:
            raise CgroupUnavailable(f"no cgroup controller for {' and '.join(missing)} is mounted here")
        name = f"{PREFIX}{os.getpid()}-{next(_COUNTER)}"
        folders: dict[str, Path] = {}
        group = cls(version, folders, memory_bytes, max_tasks)
        try:
            for parent in {parents[c] for c in CONTROLLERS}:
                remove_stale(parent)
            if version == 2:
                _enable_v2_controllers(parents["memory"])
            for controller in CONTROLLERS:
                folder = parents[controller] / name
                if folder not in folders.values():
                    folder.mkdir()
                folders[controller] = folder
            group._set_limits()
        except OSError as error:
            group.remove()
            raise CgroupUnavailable(f"cannot create a cgroup under {parents['memory']} "
                                    f"({error.strerror or error})") from None
        return group

    def _set_limits(self) -> None:
        memory, pids = self.folders["memory"], self.folders["pids"]
        if self.version == 2:
            _write(memory / "memory.max", str(self.memory_bytes))
            if (memory / "memory.swap.max").exists():
                _write(memory / "memory.swap.max", "0")
            _write(pids / "pids.max", str(self.max_tasks))
            return
        _write(memory / "memory.limit_in_bytes", str(self.memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():  # memory + swap, when swap is accounted
            _write(memory / "memory.memsw.limit_in_bytes", str(self.memory_bytes))
        _write(pids / "pids.max", str(self.max_tasks))

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its id to, to join."""
        return sorted({str(folder / "cgroup.procs") for folder in self.folders.values()})

    def join_command(self) -> list[str]:
        """Prefix for a command so that it starts inside this cgroup."""
        return [sys.executable, "-I", "-c", JOIN, *self.procs_files, "--"]

    def oom_kills(self) -> int:
        """How many processes the OOM killer ended in this sandbox so far."""
        memory = self.folders.get("memory")
        if memory is None:
            return 0
        text = _read(memory / ("memory.events" if self.version == 2 else "memory.oom_control"))
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def peak_memory(self) -> int:
        """Most memory the sandbox held at once (bytes), where the kernel tells."""
        memory = self.folders.get("memory")
        if memory is None:
            return 0
        text = _read(memory / ("memory.peak" if self.version == 2 else "memory.max_usage_in_bytes")).strip()
        return int(text) if text.isdigit() else 0

    def remove(self) -> None:
        """Kill whatever is still running in the sandbox, then remove its cgroup(s)."""
        for folder in sorted(set(self.folders.values()), key=str):
            _empty_and_remove(folder)
        self.folders = {}


def _enable_v2_controllers(parent: Path) -> None:
    """cgroup v2 puts limits on children only for controllers the parent hands down."""
    control = parent / "cgroup.subtree_control"
    enabled = _read(control).split()
    wanted = [f"+{name}" for name in CONTROLLERS if name not in enabled]
    if wanted:
        try:
            _write(control, " ".join(wanted))
        except OSError as error:
            raise CgroupUnavailable(
                f"the grader's cgroup {parent} does not hand the memory and pids controllers to its children "
                f"({error.strerror}); run the grader in a delegated cgroup, e.g. "
                "systemd-run --scope -p Delegate=yes course grade ...") from None


@functools.lru_cache(maxsize=None)
def support() -> str | None:
    """None when a sandbox cgroup works here; otherwise why not (one line).

    Tried for real: a cgroup is created, a process joins it and sees itself
    in it, and the cgroup is removed again.
    """
    if sys.platform != "linux":
        return "cgroups exist on Linux only"
    try:
        group = SandboxCgroup.create(256 * 2**20, 16)
    except CgroupUnavailable as error:
        return str(error)
    except OSError as error:
        return f"cgroups cannot be read here ({error.strerror})"
    try:
        probe = subprocess.run([*group.join_command(), sys.executable, "-I", "-c",
                                "print(open('/proc/self/cgroup').read())"],
                               capture_output=True, text=True, timeout=30)
        joined = probe.returncode == 0 and group.folders["memory"].name in probe.stdout
    except (OSError, subprocess.TimeoutExpired):
        joined = False
    finally:
        group.remove()
    return None if joined else "a process cannot be moved into a new cgroup here (not permitted)"
