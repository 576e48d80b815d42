"""``course hub --trial``: the whole course on a JupyterHub on this machine, for trying it out.

It brings up what a real deployment runs (README, "The course on a
JupyterHub"), on 127.0.0.1 and in one private folder:

- demo Unix accounts (three students and a TA, printed with their
  passwords) in two Unix groups, which ``deploy/jupyterhub/jupyterhub_config.py``
  turns into the hub groups nbgrader reads;
- the student environment (:mod:`autograder.apps.student_env`) and the
  student settings (``deploy/jupyterhub/student``);
- a TA course folder with the course released to a fresh exchange
  (:mod:`autograder.apps.release`);
- ``course serve`` for instant feedback, run by the account that started the
  trial (the grading account), beside the hub, as the systemd unit runs it;
- JupyterHub with Debian's configurable-http-proxy, PAM login and the local
  process spawner, and formgrader as a hub service for the TA.

On exit (Ctrl-C or SIGTERM) it stops all of that and removes the accounts,
their homes and the folder again; ``--keep`` keeps them.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from autograder.apps import release as releasing
from autograder.apps import student_env
from autograder.apps.arguments import UsageError, check_assignment
from autograder.apps.student_package import build as build_wheel
from autograder.course import CONFIG_FILE, REPOSITORY, prepare_grading_root

DEPLOY = REPOSITORY / "deploy" / "jupyterhub"
HUB_CONFIG = DEPLOY / "jupyterhub_config.py"
STUDENT_SETTINGS = DEPLOY / "student"
STUDENTS = ("amy", "ben", "cleo")
TA = "ta"
BIN = Path(sys.executable).parent
PROXY = shutil.which("configurable-http-proxy") or "/usr/bin/configurable-http-proxy"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _course_id() -> str:
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config().CourseDirectory.course_id


@dataclass
class Account:
    login: str
    password: str
    role: str           # "student" or "TA"


@dataclass
class Accounts:
    """Demo Unix accounts in two groups, ``<prefix>-students`` and ``<prefix>-tas``."""

    prefix: str
    accounts: list[Account] = field(default_factory=list)

    @property
    def student_group(self) -> str:
        return f"{self.prefix}-students"

    @property
    def ta_group(self) -> str:
        return f"{self.prefix}-tas"

    def create(self) -> None:
        for group in (self.student_group, self.ta_group):
            if _exists(grp.getgrnam, group):
                raise UsageError(f"the group {group} exists already (a trial left over? remove it with "
                                 f"groupdel {group}, or pick another --prefix)")
        for name in (*STUDENTS, TA):
            if _exists(pwd.getpwnam, f"{self.prefix}-{name}"):
                raise UsageError(f"the account {self.prefix}-{name} exists already (a trial left over? "
                                 f"remove it with userdel -r {self.prefix}-{name}, or pick another --prefix)")
        for group in (self.student_group, self.ta_group):
            subprocess.run(["groupadd", group], check=True)
        for name, group, role in [*[(s, self.student_group, "student") for s in STUDENTS], (TA, self.ta_group, "TA")]:
            login = f"{self.prefix}-{name}"
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--gid", group, login], check=True)
            os.chmod(pwd.getpwnam(login).pw_dir, 0o700)   # no student reads another's home
            account = Account(login, secrets.token_urlsafe(9), role)
            subprocess.run(["chpasswd"], input=f"{login}:{account.password}\n", text=True, check=True)
            self.accounts.append(account)

    def stop_servers(self) -> None:
        """Stop every process of the demo accounts: their notebook servers and kernels."""
        for account in self.accounts:
            try:
                stop_processes_of(pwd.getpwnam(account.login).pw_uid)
            except KeyError:
                pass

    def remove(self) -> None:
        """Remove the demo accounts, their homes and their groups."""
        self.stop_servers()
        for account in self.accounts:
            subprocess.run(["userdel", "--remove", account.login], capture_output=True)
        for group in (self.student_group, self.ta_group):
            if _exists(grp.getgrnam, group):
                subprocess.run(["groupdel", group], capture_output=True)

    def students(self) -> list[Account]:
        return [a for a in self.accounts if a.role == "student"]

    def ta(self) -> Account:
        return next(a for a in self.accounts if a.role == "TA")


def _exists(lookup, name: str) -> bool:
    try:
        lookup(name)
        return True
    except KeyError:
        return False


def processes_of(uid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def stop_processes_of(uid: int, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL, each process owned by *uid* (a demo account's own), by its id."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        pids = processes_of(uid)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while processes_of(uid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not processes_of(uid):
            return


class Trial:
    """Everything ``course hub --trial`` runs; a context manager that takes it all down again."""

    def __init__(self, *, prefix: str = "nn-trial", assignments: list[str] | None = None,
                 state: Path | None = None, student_env_prefix: Path = student_env.DEFAULT_PREFIX,
                 port: int = 0, keep: bool = False, serve_settings: list[str] | None = None, say=print):
        self.prefix = prefix
        self.assignments = assignments
        self.state = Path(state) if state else Path(tempfile.mkdtemp(prefix="nn-course-hub-"))
        self.student_env = Path(student_env_prefix)
        self.port = port or free_port()
        self.keep = keep
        self.serve_settings = serve_settings or []
        self.say = say
        self.course_id = _course_id()
        self.accounts = Accounts(prefix)
        self.hub: subprocess.Popen | None = None
        self.serve: subprocess.Popen | None = None
        self.ports: dict[str, int] = {}
        self.released: list[releasing.Released] = []

    # -- paths -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def exchange(self) -> Path:
        return self.state / "exchange"

    @property
    def grading_root(self) -> Path:
        return self.state / "grading"

    @property
    def settings(self) -> Path:
        return self.state / "student-settings"

    @property
    def formgrader_url(self) -> str:
        return f"{self.url}/services/{self.course_id}/formgrader"

    # -- up and down -------------------------------------------------------------------
    def __enter__(self) -> "Trial":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        if os.geteuid() != 0:
            raise UsageError("course hub --trial runs as root: PAM login and starting each student's server "
                             "as that student need it (sudo ./course hub --trial)")
        if not Path(PROXY).exists():
            raise UsageError("no configurable-http-proxy; apt-get install node-configurable-http-proxy "
                             "(./course installs it as root)")
        for assignment in self.assignments or []:
            check_assignment(assignment, REPOSITORY)
        self.state.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state, 0o755)          # students reach the exchange and their settings through it
        wheel = build_wheel(self.state / "dist")
        student_env.build(prefix=self.student_env, wheel=wheel, say=self.say)
        shutil.copytree(STUDENT_SETTINGS, self.settings, dirs_exist_ok=True)
        for path in [self.settings, *self.settings.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        self._prepare_grading_root()
        self.accounts.create()
        for assignment in self.assignments if self.assignments is not None else self._all_assignments():
            self.released.append(releasing.run(assignment=assignment, root=str(self.grading_root),
                                               exchange=str(self.exchange)))
        self.start_serve()
        self.start_hub()

    def _all_assignments(self) -> list[str]:
        return sorted(p.name for p in (REPOSITORY / "source").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def _prepare_grading_root(self) -> None:
        """The TA course folder, the grading account's only (0700), on the trial's exchange."""
        self.grading_root.mkdir(exist_ok=True)
        os.chmod(self.grading_root, 0o700)
        self.exchange.mkdir(exist_ok=True)
        os.chmod(self.exchange, 0o1777)      # nbgrader's 0777, with the sticky bit (see apps/release.py)
        (self.grading_root / "nbgrader_config.py").write_text(
            '"""nbgrader config of the TA course folder on the hub: the course\'s own, this folder, the hub\'s '
            'exchange."""\nimport os\n\nc = get_config()  # noqa: F821\n'
            f"load_subconfig({str(CONFIG_FILE)!r})  # noqa: F821\n"
            "c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))\n"
            f"c.Exchange.root = {str(self.exchange)!r}\n")
        prepare_grading_root(self.grading_root)

    def environment(self) -> dict[str, str]:
        for name in ("proxy_api", "hub_api", "formgrader"):
            self.ports.setdefault(name, free_port())
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("NN_COURSE_", "JUPYTER"))},
            "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "NN_COURSE_REPOSITORY": str(REPOSITORY),
            "NN_COURSE_GRADER_BIN": str(BIN),
            "NN_COURSE_GRADING_ROOT": str(self.grading_root),
            "NN_COURSE_EXCHANGE": str(self.exchange),
            "NN_COURSE_STUDENT_ENV": str(self.student_env),
            "NN_COURSE_STUDENT_SETTINGS": str(self.settings),
            "NN_COURSE_GRADER": "",                       # the grading account: whoever runs the trial
            "NN_COURSE_STUDENT_GROUP": self.accounts.student_group,
            "NN_COURSE_TA_GROUP": self.accounts.ta_group,
            "NN_COURSE_HUB_STATE": str(self.state / "hub"),
            "NN_COURSE_HUB_URL": self.url,
            "NN_COURSE_HUB_API_URL": f"http://127.0.0.1:{self.ports['hub_api']}",
            "NN_COURSE_PROXY_API_URL": f"http://127.0.0.1:{self.ports['proxy_api']}",
            "NN_COURSE_FORMGRADER_URL": f"http://127.0.0.1:{self.ports['formgrader']}",
            "CONFIGPROXY_AUTH_TOKEN": self._proxy_token(),   # the hub and its proxy share it
        }

    def _proxy_token(self) -> str:
        token = self.state / "hub" / "proxy_token"
        if not token.exists():
            token.parent.mkdir(mode=0o700, exist_ok=True)
            token.write_text(secrets.token_hex(32))
            os.chmod(token, 0o600)
        return token.read_text()

    def start_hub(self) -> None:
        """JupyterHub (and its proxy), logging to hub.log in the state folder; wait until it answers."""
        (self.state / "hub").mkdir(mode=0o700, exist_ok=True)
        log = open(self.state / "hub.log", "ab")
        self.hub = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(HUB_CONFIG)], cwd=self.state / "hub",
                                    env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        log.close()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api/", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self.hub.poll() is not None:
                tail = (self.state / "hub.log").read_text(errors="replace").splitlines()[-12:]
                print("\n".join(["JupyterHub's last words:", *tail]), file=sys.stderr)
                raise UsageError(f"JupyterHub exited with code {self.hub.returncode} (its log is above)")
            time.sleep(0.5)
        raise UsageError(f"JupyterHub did not answer within 180 s; see {self.state / 'hub.log'}")

    def stop_hub(self) -> None:
        """Stop JupyterHub and its proxy (the students' servers keep running: cleanup_servers is off)."""
        if self.hub and self.hub.poll() is None:
            self.hub.send_signal(signal.SIGTERM)
            try:
                self.hub.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.hub.kill()
                self.hub.wait()
        pid_file = self.state / "hub" / "jupyterhub-proxy.pid"
        if pid_file.exists():   # the proxy the hub started, by the id it recorded
            try:
                pid = int(pid_file.read_text().strip())
                if Path(f"/proc/{pid}/cmdline").read_bytes().find(b"configurable-http-proxy") >= 0:
                    os.kill(pid, signal.SIGTERM)
            except (ValueError, OSError):
                pass
        self.hub = None

    def start_serve(self) -> None:
        log = open(self.state / "serve.log", "ab")
        command = [sys.executable, "-m", "autograder", "serve", "--root", str(self.grading_root),
                   "--exchange", str(self.exchange), *[f"--set={s}" for s in self.serve_settings]]
        self.serve = subprocess.Popen(command, cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
        log.close()

    def stop_serve(self) -> None:
        if self.serve and self.serve.poll() is None:
            self.serve.send_signal(signal.SIGTERM)
            try:
                self.serve.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.serve.kill()
                self.serve.wait()
        self.serve = None

    def stop(self) -> None:
        self.stop_hub()
        self.stop_serve()
        self._stop_formgrader()
        self.accounts.stop_servers()     # the students' servers outlive a hub restart, not the trial
        if self.keep:
            return
        self.accounts.remove()
        shutil.rmtree(self.state, ignore_errors=True)

    def _stop_formgrader(self) -> None:
        """The formgrader service (run by the grading account, the hub's child) ends with the hub;
        a server left on its port is found by the port and stopped by its id."""
        port = self.ports.get("formgrader")
        if not port:
            return
        for pid in _listening_on(port):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    # -- what to print -------------------------------------------------------------------
    def summary(self) -> str:
        width = max(len(a.login) for a in self.accounts.accounts)
        lines = [f"course hub: JupyterHub is up at {self.url}/ (everything in {self.state})", "accounts (login, password):"]
        lines += [f"  {a.login:<{width}}  {a.password}  {a.role}" for a in self.accounts.accounts]
        lines += [f"released: {', '.join(r.assignment for r in self.released) or 'nothing'} "
                  f"(students: Nbgrader > Assignment List)",
                  f"TA: formgrader at {self.formgrader_url}",
                  f"instant feedback: course serve, log in {self.state / 'serve.log'}",
                  "Ctrl-C stops the hub and removes the accounts" + (" (--keep: they stay)" if self.keep else "")]
        return "\n".join(lines)

    def write_accounts(self) -> Path:
        """The accounts as JSON, readable by the one who started the trial only."""
        path = self.state / "accounts.json"
        path.write_text(json.dumps({"url": self.url, "formgrader": self.formgrader_url,
                                    "accounts": [a.__dict__ for a in self.accounts.accounts]}, indent=1))
        os.chmod(path, 0o600)
        return path


def _listening_on(port: int) -> list[int]:
    """Ids of the processes listening on 127.0.0.1:*port* (from /proc, no tools needed)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                    inodes.add(fields[9])
        except OSError:
            pass
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    pids.append(int(entry.name))
                    break
        except OSError:
            pass
    return pids


def run(*, trial: bool, keep: bool = False, prefix: str = "nn-trial", assignments: list[str] | None = None,
        port: int = 8000, state: str | None = None, student_env_prefix: str = str(student_env.DEFAULT_PREFIX),
        student_env_only: bool = False) -> int:
    """``course hub --trial``: up, print the accounts, wait for Ctrl-C or SIGTERM, down.

    ``student_env_only``: build (or bring up to date) the student environment, and stop there.
    """
    if student_env_only:
        with tempfile.TemporaryDirectory() as dist:
            prefix = student_env.build(prefix=Path(student_env_prefix), wheel=build_wheel(dist))
        print(f"student environment ready: {prefix} (the hub starts {student_env.singleuser(prefix)})")
        return 0
    if not trial:
        raise UsageError("course hub runs a local trial only (--trial); a real hub is deployed as the README's "
                         "'The course on a JupyterHub' describes, with deploy/jupyterhub/jupyterhub_config.py")
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    hub = Trial(prefix=prefix, assignments=assignments or None, state=Path(state) if state else None,
                student_env_prefix=Path(student_env_prefix), port=port, keep=keep)
    try:
        with hub:
            hub.write_accounts()
            print(hub.summary(), flush=True)
            while hub.hub and hub.hub.poll() is None:
                time.sleep(1)
            print(f"course hub: JupyterHub stopped (code {hub.hub.returncode if hub.hub else '?'}); "
                  f"see {hub.state / 'hub.log'}", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("course hub: stopped" + ("; accounts kept" if keep else "; demo accounts removed"), flush=True)
        return 0


def add_parser(sub) -> None:
    """``course hub``'s arguments (the CLI only parses, then calls :func:`run`)."""
    p = sub.add_parser("hub", help="the course on a local JupyterHub with demo accounts, to try it in a browser "
                                   "(instructor; root)")
    p.add_argument("--trial", action="store_true", help="bring up a trial hub on 127.0.0.1 (required)")
    p.add_argument("--keep", action="store_true", help="keep the demo accounts and the folder on exit")
    p.add_argument("--port", type=int, default=8000, help="the hub's port on 127.0.0.1 (default 8000; 0: any free)")
    p.add_argument("--prefix", default="nn-trial", help="demo accounts are PREFIX-amy, PREFIX-ben, PREFIX-cleo "
                                                        "(students) and PREFIX-ta")
    p.add_argument("--release", action="append", default=[], metavar="ASSIGNMENT",
                   help="release this assignment (repeatable; default: every assignment)")
    p.add_argument("--state", default=None, help="the folder for everything the trial makes (default: a new one in /tmp)")
    p.add_argument("--student-env", default=str(student_env.DEFAULT_PREFIX),
                   help="where the student environment is built (every account must reach it)")
    p.add_argument("--student-env-only", action="store_true",
                   help="only build (or update) the student environment, for a real deployment")
    p.set_defaults(func=lambda args: run(trial=args.trial, keep=args.keep, prefix=args.prefix,
                                         assignments=args.release, port=args.port, state=args.state,
                                         student_env_prefix=args.student_env,
                                         student_env_only=args.student_env_only))
