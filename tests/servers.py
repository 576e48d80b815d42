"""Real servers for the tests of grading past one machine: PostgreSQL and a Dask cluster.

Each is started as its own OS processes on a private socket or a free port of
127.0.0.1, in a temporary folder, and stopped (with everything it started)
when the test is done.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.demo import typical_mistake
from autograder.grading_session import ScratchCourse, fill_solutions

ASSIGNMENT = "02-signals"
BIN = Path(sys.executable).parent


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server programs (``apt-get install postgresql``), newest version."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    socket_dir: Path
    user: str

    def url(self, database: str = "gradebook") -> str:
        """A plain ``postgresql://`` URL, as a TA writes it (the driver is not named)."""
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}"

    def createdb(self, name: str) -> str:
        subprocess.run([str(postgres_bin() / "createdb"), "-h", str(self.socket_dir), "-U", self.user, name],
                       check=True, capture_output=True)
        return self.url(name)


@contextlib.contextmanager
def postgres_server():
    """initdb + postgres on a unix socket in a fresh folder (as the ``postgres`` user when root)."""
    binaries = postgres_bin()
    base = Path(tempfile.mkdtemp(prefix="pg-"))
    data, log = base / "data", base / "server.log"
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    user = "postgres"
    try:
        subprocess.run([*as_user, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", user,
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
        options = f"-k {base} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log),
                        "-w", "-t", "60", "start"], check=True, capture_output=True)
        yield Postgres(base, user)
    finally:
        subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class DaskCluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


@contextlib.contextmanager
def dask_cluster(workers: int, folder: Path, contact_host: str | None = None):
    """``dask scheduler`` and *workers* ``dask worker`` processes (each its own process group).

    *contact_host*: the workers tell the scheduler they are at this host (as
    workers on another machine do), while listening on 127.0.0.1.
    """
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "DASK_LOGGING__DISTRIBUTED": "error"}
    logs = folder / "dask-logs"
    logs.mkdir(parents=True, exist_ok=True)

    def start(name: str, args: list[str]) -> subprocess.Popen:
        with open(logs / f"{name}.log", "wb") as out:
            return subprocess.Popen([str(BIN / "dask"), *args], stdout=out, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)

    scheduler = start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                    "--scheduler-file", str(scheduler_file)])
    cluster = DaskCluster("", scheduler)
    try:
        info = _wait_for(lambda: scheduler_file.exists() and scheduler_file.read_text().strip()
                         and json.loads(scheduler_file.read_text()), 60, "the Dask scheduler")
        cluster.address = info["address"]
        for number in range(workers):
            where = (["--listen-address", "tcp://127.0.0.1:0", "--contact-address", f"tcp://{contact_host}:{40000 + number}"]
                     if contact_host else ["--host", "127.0.0.1"])
            cluster.workers.append(start(f"worker-{number}", [
                "worker", cluster.address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                *where, "--name", f"worker-{number}", "--death-timeout", "60"]))
        from distributed import Client

        with Client(cluster.address, timeout=30) as client:
            client.wait_for_workers(workers, timeout=120)
        yield cluster
    finally:
        for process in [*cluster.workers, scheduler]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*cluster.workers, scheduler]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def make_class(root: Path, students: int, **overrides) -> tuple[ScratchCourse, dict[str, str]]:
    """A course of *students* submissions of 02-signals: correct, the typical mistake, blank, in turn."""
    scratch = ScratchCourse(root, **overrides)
    release, source = scratch.release_notebook(ASSIGNMENT), scratch.source_notebook(ASSIGNMENT)
    mistake = typical_mistake(ASSIGNMENT)
    name = scratch.course.notebooks(ASSIGNMENT)[0]
    variants = {"correct": fill_solutions(release, source),
                "mistake": fill_solutions(release, source, replace={mistake["cell"]: mistake["source"]}),
                "blank": release}
    kinds = {}
    for i in range(students):
        kind = list(variants)[i % len(variants)]
        student = f"s{i}-{kind}"
        folder = scratch.course.path("submitted", student, ASSIGNMENT)
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(variants[kind], str(folder / f"{name}.ipynb"))
        kinds[student] = kind
    return scratch, kinds


def course_command(*args: str, timeout: float = 900, **popen) -> subprocess.CompletedProcess:
    """The real ``course`` command in a subprocess."""
    return subprocess.run([str(BIN / "course"), *args], capture_output=True, text=True, timeout=timeout, **popen)
