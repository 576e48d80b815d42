"""The gradebook's database URL: one spelling for every tool, one clear line when it cannot work.

nbgrader hands ``CourseDirectory.db_url`` to SQLAlchemy. SQLAlchemy reads a
plain ``postgresql://`` URL as "PostgreSQL through psycopg2" and fails with a
``ModuleNotFoundError`` traceback when psycopg2 is missing, even if psycopg 3
is installed. :func:`normalise_url` picks the PostgreSQL driver that is
installed, so the URL works as a TA writes it; :func:`check_gradebook` says in
one line what to install or check when the driver is missing or the server
cannot be reached. :class:`autograder.course.Course` applies both to every
URL it hands to nbgrader.
"""

from __future__ import annotations

import importlib.util
import re

#: PostgreSQL drivers SQLAlchemy knows, in order of preference: dialect suffix → module.
POSTGRES_DRIVERS = {"psycopg2": "psycopg2", "psycopg": "psycopg"}
CLUSTER_EXTRA = "pip install -e '.[cluster]' (or: pip install psycopg2-binary)"


class GradebookError(RuntimeError):
    """The gradebook URL cannot work here; the message is one line saying what to do."""


def _scheme(url: str) -> str:
    match = re.match(r"^([A-Za-z0-9+._-]+)://", url)
    if not match:
        raise GradebookError(f"the gradebook URL {_safe(url)!r} is not a database URL "
                             "(expected sqlite:///PATH or postgresql://USER@HOST/DATABASE)")
    return match.group(1).lower()


def _safe(url: str) -> str:
    """*url* without its password (for messages)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module blocked in sys.modules, or a broken package
        return False


def is_sqlite(url: str) -> bool:
    return _scheme(url).split("+")[0] == "sqlite"


def normalise_url(url: str) -> str:
    """*url* with an installed driver named: ``postgresql://`` → ``postgresql+psycopg2://``.

    ``postgres://`` (Heroku's spelling) is read as ``postgresql://``. A URL
    that names its driver is kept as written; SQLite URLs are kept as written.
    """
    scheme = _scheme(url)
    dialect, _, driver = scheme.partition("+")
    if dialect == "postgres":
        dialect = "postgresql"
    if dialect != "postgresql":
        if dialect not in ("sqlite", "mysql", "mariadb", "oracle", "mssql"):
            raise GradebookError(f"the gradebook URL {_safe(url)!r} names an unknown database {dialect!r} "
                                 "(use sqlite:///PATH or postgresql://USER@HOST/DATABASE)")
        return url
    if not driver:
        driver = next((name for name, module in POSTGRES_DRIVERS.items() if _installed(module)), "psycopg2")
    return f"{dialect}+{driver}://" + url.split("://", 1)[1]


def check_driver(url: str) -> None:
    """Raise :class:`GradebookError` when *url*'s database driver is not installed."""
    dialect, _, driver = _scheme(url).partition("+")
    if dialect in ("postgresql", "postgres"):
        module = POSTGRES_DRIVERS.get(driver or "psycopg2", driver)
        if not _installed(module):
            raise GradebookError(f"the gradebook is PostgreSQL ({_safe(url)}) but its driver {module} is not "
                                 f"installed: {CLUSTER_EXTRA}")


def check_gradebook(url: str, timeout: int = 10) -> None:
    """Raise :class:`GradebookError` unless the gradebook at *url* can be opened now."""
    check_driver(url)
    if is_sqlite(url):
        return
    import sqlalchemy

    args = {"connect_timeout": timeout} if url.startswith("postgresql") else {}
    try:
        engine = sqlalchemy.create_engine(url, connect_args=args)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as error:  # the driver's own error: keep its first line, it says what is wrong
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        raise GradebookError(f"cannot open the gradebook {_safe(url)}: {reason[0] if reason else type(error).__name__} "
                             "— check that the server runs, the host, port, user and database name, "
                             "and that this machine may connect") from None
