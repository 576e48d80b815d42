"""Where grading runs: the local process pool, a Dask LocalCluster, or an existing Dask cluster.

    course grade 02-signals                               # local pool, one worker per core
    course grade 02-signals --cluster local:4             # a Dask LocalCluster of 4 worker processes
    course grade 02-signals --scheduler tcp://HOST:8786   # an existing Dask cluster

(or ``c.CourseGrading.cluster`` / ``c.CourseGrading.scheduler`` in
``nbgrader_config.py``). Dask itself hands each submission to a worker and,
when a worker dies, gives its submissions to another (its ``allowed-failures``
setting bounds how often); :mod:`autograder.pipeline` records every attempt,
so the summary says which submissions were retried. Each submission's
``autograde`` with ``force`` recreates that submission in the gradebook, so a
retry replaces a half-finished first attempt instead of adding to it.

Remote workers read and write the course folder themselves, so it must be at
the same path on every worker (a shared file system), and the gradebook must
be a database server (PostgreSQL): SQLite on a shared file system loses
writes, and :func:`open_backend` refuses it.
"""

from __future__ import annotations

import concurrent.futures as futures
import ipaddress
import logging
import os
import re
import socket
from dataclasses import dataclass, field
from typing import Callable

from traitlets import Unicode
from traitlets.config import Configurable

INSTALL = "pip install -e '.[cluster]' (or: pip install 'dask[distributed]')"
#: Seconds to wait for a scheduler to answer, and for its first worker.
CONNECT_TIMEOUT = 15


class ClusterError(RuntimeError):
    """Grading cannot run where it was asked to; the message is one line saying what to do."""


class CourseGrading(Configurable):
    """Where ``course grade`` runs (``nbgrader_config.py``; the command's flags win)."""

    cluster = Unicode("", help="'local' or 'local:N': grade on a Dask LocalCluster of N worker processes.").tag(config=True)
    scheduler = Unicode("", help="Address of an existing Dask scheduler, e.g. tcp://HOST:8786.").tag(config=True)


@dataclass
class Backend:
    """An executor for :func:`autograder.pipeline.grade_class` and what to say about it."""

    executor: futures.Executor | None  # None: the pipeline's own local process pool
    workers: int
    description: str
    remote: bool = False
    close: Callable[[], None] = field(default=lambda: None)

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def parse_cluster(spec: str) -> int | None:
    """``local`` → None (one worker per core), ``local:N`` → N."""
    match = re.fullmatch(r"local(?::(\d+))?", spec.strip())
    if not match or (match.group(1) is not None and int(match.group(1)) < 1):
        raise ClusterError(f"--cluster {spec!r} is not understood: use 'local' or 'local:N' (N worker processes); "
                           "for a cluster of several machines use --scheduler tcp://HOST:8786")
    return int(match.group(1)) if match.group(1) else None


def _distributed():
    if not logging.getLogger().isEnabledFor(logging.INFO):  # Dask's own INFO log, here and in its workers
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"Dask distributed is not installed: {INSTALL}") from None
    return distributed


def local_addresses() -> set[str]:
    """Every IP address of this machine (and the loopback names)."""
    addresses = {"localhost", socket.gethostname()}
    try:
        import psutil

        for entries in psutil.net_if_addrs().values():
            addresses |= {entry.address.split("%")[0] for entry in entries
                          if entry.family in (socket.AF_INET, socket.AF_INET6)}
    except ImportError:
        pass
    try:
        addresses |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    except OSError:
        pass
    return addresses


def is_local(host: str, local: set[str] | None = None) -> bool:
    host = host.strip("[]")
    try:
        if ipaddress.ip_address(host).is_loopback:
            return True
    except ValueError:
        pass
    return host in (local if local is not None else local_addresses())


def worker_hosts(addresses) -> set[str]:
    """Hosts of Dask worker addresses such as ``tcp://10.0.0.2:40123``."""
    hosts = set()
    for address in addresses:
        rest = address.split("://", 1)[-1]
        hosts.add(rest.rsplit(":", 1)[0] if ":" in rest else rest)
    return hosts


def _dask_executor(client) -> futures.Executor:
    # pure=False: every submission is its own task, even with equal arguments.
    return client.get_executor(pure=False)


def local_cluster(workers: int | None) -> Backend:
    """A Dask LocalCluster: *workers* processes (one per core by default), one thread each."""
    distributed = _distributed()
    count = workers or os.cpu_count() or 1
    cluster = distributed.LocalCluster(n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, scheduler_kwargs={"dashboard": False},
                                       silence_logs=logging.ERROR, preload=["autograder.cluster.preload"])
    client = distributed.Client(cluster)

    def close() -> None:
        client.close()
        cluster.close()

    return Backend(_dask_executor(client), count, f"Dask LocalCluster, {count} worker process(es)", False, close)


def scheduler_cluster(address: str, gradebook_is_sqlite: bool) -> Backend:
    """An existing Dask cluster at *address*; refuses SQLite when a worker is on another machine."""
    distributed = _distributed()
    if "://" not in address:
        address = f"tcp://{address}"
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} ({type(error).__name__}): "
                           "check the address and that `dask scheduler` runs there") from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except (TimeoutError, OSError):
        client.close()
        raise ClusterError(f"the Dask scheduler at {address} has no workers: start them on each machine "
                           f"with `dask worker {address} --nthreads 1`") from None
    addresses = list(client.scheduler_info()["workers"])
    remote = {host for host in worker_hosts(addresses) if not is_local(host)}
    if remote and gradebook_is_sqlite:
        client.close()
        raise ClusterError(f"the gradebook is SQLite but Dask workers run on other machines ({', '.join(sorted(remote))}): "
                           "SQLite on a shared file system loses writes — set c.CourseDirectory.db_url to "
                           "postgresql://USER@HOST/DATABASE (see the README, 'Grading on several machines')")
    description = f"Dask scheduler {address}, {len(addresses)} worker(s)" + (
        f" on {len(remote)} other machine(s)" if remote else "")
    return Backend(_dask_executor(client), len(addresses), description, bool(remote), client.close)


def open_backend(cluster: str = "", scheduler: str = "", workers: int | None = None,
                 gradebook_is_sqlite: bool = True) -> Backend:
    """The backend that ``course grade`` asked for: flags, else config, else the local pool."""
    if cluster and scheduler:
        raise ClusterError("use either --cluster local[:N] or --scheduler ADDRESS, not both")
    if scheduler:
        return scheduler_cluster(scheduler, gradebook_is_sqlite)
    if cluster:
        count = parse_cluster(cluster)
        return local_cluster(count if count is not None else workers)
    count = max(1, workers or os.cpu_count() or 1)
    return Backend(None, count, f"local pool, {count} worker process(es)")
