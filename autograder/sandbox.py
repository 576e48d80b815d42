"""Run a student's notebook in a sandbox: the ``Execute`` step of ``autograde``.

nbgrader executes a submission with nbclient in a Jupyter kernel. Here that
kernel is started inside a sandbox, so the grading process (which holds the
gradebook and runs the answer keys) never runs student code:

* **bubblewrap** (``bwrap``, Debian package ``bubblewrap``) when it works on
  this machine: new PID, network, IPC and UTS namespaces (no network at all,
  not even the host's loopback); a read-only view of the system, the Python
  installation, the virtual environment and the ``exercises`` package only —
  the course directory, the gradebook, ``autograder/`` and its answer keys
  and other students' work are simply not there; a private writable scratch
  directory as ``$HOME``, current directory and ``/tmp``; the kernel runs as
  an unprivileged user id of its own, so it cannot signal the grader.
  The kernel talks to the grader over ZeroMQ ``ipc`` sockets in a directory
  bound into the sandbox (TCP would need the host's network).
* **resource limits only** when bubblewrap is missing or cannot create
  namespaces. The same limits apply, but the kernel sees the whole file
  system and the network; :data:`UNPROTECTED_WITHOUT_BWRAP` lists what is not
  protected and the pipeline prints it loudly.

In both modes, a small launcher sets ``setrlimit`` limits before the kernel
starts — address space (memory), processes, file size, CPU seconds — and, as
root, switches to a per-grading-process user id (process counts are per user).
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
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader.preprocessors import Execute
from traitlets import Enum, Integer, Unicode

#: What a sandbox without bubblewrap does not protect (printed by the pipeline).
UNPROTECTED_WITHOUT_BWRAP = (
    "bubblewrap is not available: student code runs with resource limits only. NOT protected: "
    "network access; reading files the grading user can read (the course directory, the gradebook, "
    "the answer keys, other students' work); writing where that user may write"
    + "; and, unless the kernel can run as a user of its own (root grading, Python outside /root), "
      "signalling the grading process and the process limit"
    + ". Install it with: apt-get install -y bubblewrap"
)

#: Where the sandboxed kernel lives: $HOME, current directory.
SANDBOX_HOME = "/home/student"
#: Where the kernel finds its connection file and creates its ipc sockets.
SANDBOX_COMM = "/run/kernel"

#: Reasons recorded while grading one submission (the pipeline takes them).
EVENTS: list[str] = []


def take_events() -> list[str]:
    """The events recorded since the last call, and forget them."""
    events = EVENTS[:]
    EVENTS.clear()
    return events


# The launcher runs (inside bwrap when available) just before the kernel:
# limits, then an unprivileged user id when started as root, then exec.
LAUNCHER = r"""
import json, os, resource, sys
spec = json.loads(sys.argv[1])
for name, value in spec["limits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
uid = spec.get("uid")
if uid is not None and os.geteuid() == 0:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
os.umask(0o077)
os.execv(sys.argv[2], sys.argv[2:])
"""


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


def bwrap_command(scratch: Path, comm_dir: Path, env: dict[str, str]) -> list[str]:
    """The ``bwrap`` prefix: what the sandbox sees, and nothing else."""
    cmd = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-net", "--unshare-ipc",
           "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if os.geteuid() == 0:
        # Root keeps only what the launcher needs to switch to its own user id.
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        cmd += ["--unshare-user"]
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        top = Path("/") / name
        if top.is_symlink():
            cmd += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            cmd += ["--ro-bind", str(top), str(top)]
    for path in SYSTEM_DIRS + SYSTEM_FILES:
        if Path(path).exists():
            cmd += ["--ro-bind", path, path]
    # The private /tmp first: a course installed under /tmp (a CI clone, say) is bound over it below.
    cmd += ["--bind", str(scratch / "tmp"), "/tmp"]
    roots = _readable_roots()
    parents = sorted({p for root in roots for p in root.parents if p != Path("/")} | {Path("/home"), Path("/run")})
    for parent in parents:  # bwrap would create them 0700: unreadable for the kernel's user
        cmd += ["--perms", "0755", "--dir", str(parent)]
    for root in roots:
        cmd += ["--ro-bind", str(root), str(root)]
    for secret in _secrets():
        if any(secret.is_relative_to(root) for root in roots):
            cmd += ["--tmpfs", str(secret)]
    cmd += ["--proc", "/proc", "--dev", "/dev",
            "--bind", str(scratch / "home"), SANDBOX_HOME,
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


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel starts in a sandbox, over ``ipc`` sockets."""

    isolation = Unicode("auto")
    limits = {}  # RLIMIT_* name → value, set by SandboxedExecute

    async def _async_pre_start_kernel(self, **kw):
        self.sandbox_mode = isolation_mode(self.isolation)
        # Signals from outside do not reach a kernel in its own PID namespace as
        # another user: interrupt through the control channel instead.
        self.kernel_spec.interrupt_mode = "message"
        self._uid = _sandbox_uid(self.sandbox_mode)
        base = Path(tempfile.mkdtemp(prefix="sandbox-"))
        self._sandbox_dir = base
        scratch_home, scratch_tmp, comm = base / "home", base / "tmp", base / "comm"
        for folder in (scratch_home, scratch_tmp, comm):
            folder.mkdir()
        # Files nbgrader placed beside the notebook (data from source/), never notebooks.
        cwd = kw.get("cwd")
        if cwd and Path(cwd).is_dir():
            for item in Path(cwd).iterdir():
                if item.suffix != ".ipynb" and item.is_file():
                    shutil.copy(item, scratch_home / item.name)
        if self._uid is not None:
            for folder in (base, scratch_home, scratch_tmp, comm):
                os.chown(folder, self._uid, self._uid)
                for item in folder.iterdir() if folder is scratch_home else []:
                    os.chown(item, self._uid, self._uid)
        os.chmod(base, 0o711)
        self.transport = "ipc"
        self.connection_file = str(comm / "kernel.json")
        self.ip = str(comm / "kernel-ipc")
        kw["cwd"] = str(scratch_home)
        # The kernel's own stdout/stderr (not the cells' output) never reaches the TA's terminal.
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        if self.sandbox_mode == "rlimits":
            kw["env"] = {**kernel_environment("rlimits"), "HOME": str(scratch_home),
                         "TMPDIR": str(scratch_tmp), "MPLCONFIGDIR": str(scratch_home / ".mpl")}
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
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
        spec = json.dumps({"limits": self.limits, "uid": self._uid})
        launcher = [sys.executable, "-I", "-c", LAUNCHER, spec]
        if self.sandbox_mode == "bwrap":
            base = self._sandbox_dir
            prefix = bwrap_command(base, base / "comm", kernel_environment("bwrap"))
            return [shutil.which("bwrap"), *prefix[1:], *launcher, *cmd]
        return [*launcher, *cmd]

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and getattr(self, "_sandbox_dir", None):
            shutil.rmtree(self._sandbox_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


def blocked_action(ename: str, evalue: str, limits: "SandboxedExecute") -> str | None:
    """A plain-words reason when an error shows the sandbox stopped something."""
    if ename == "MemoryError" or "failed to map segment" in evalue or "Cannot allocate memory" in evalue:
        return f"ran out of memory (limit {limits.memory_limit_mb} MB per process)"
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
    memory_limit_mb = Integer(4096, help="Address space of each kernel process (MB).").tag(config=True)
    max_processes = Integer(64, help="Processes and threads the sandbox user may have.").tag(config=True)
    max_file_mb = Integer(64, help="Largest file the kernel may write (MB).").tag(config=True)
    max_output_bytes = Integer(2_000_000, help="Output kept per cell; past it the cell is interrupted.").tag(config=True)

    def __init__(self, **kw):
        kw.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(**kw)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.isolation = self.isolation
        km.limits = {
            "RLIMIT_AS": self.memory_limit_mb * 2**20,
            "RLIMIT_NPROC": self.max_processes,
            "RLIMIT_FSIZE": self.max_file_mb * 2**20,
            "RLIMIT_CPU": self.notebook_timeout + 30,
            "RLIMIT_CORE": 0,
        }
        return km

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.notebook_timeout
        self._stopped: str | None = None
        self._cell_number = 0
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
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                reason = blocked_action(output.get("ename", ""), str(output.get("evalue", "")), self)
                if reason:
                    EVENTS.append(f"code cell {number} {reason}")
        if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
            EVENTS.append(f"code cell {number} timed out after {time.monotonic() - start:.0f} s "
                          f"(limits: {self.timeout} s per cell, {self.notebook_timeout} s per notebook)")
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
