"""JupyterHub for the course: PAM login, one notebook server per student, formgrader for TAs.

Start it as root (PAM login and starting each student's server as that
student need it), from the folder that keeps the hub's state:

    cd /srv/jupyterhub && jupyterhub -f /opt/nn-course/deploy/jupyterhub/jupyterhub_config.py

Every path and name below comes from an environment variable with the
default of a real deployment (README, "The course on a JupyterHub");
``course hub --trial`` sets them to a private folder and demo accounts.

Who is who comes from Unix groups, read when the hub starts:

- ``NN_COURSE_STUDENT_GROUP`` (nn-course-students): students. They get the
  hub group ``nbgrader-<course id>``, which nbgrader's JupyterHubAuthPlugin
  reads to list the course in their Assignment List.
- ``NN_COURSE_TA_GROUP`` (nn-course-tas): instructors and TAs. They get
  ``formgrade-<course id>`` too, the only group allowed to open the formgrader
  service ``/services/<course id>/``.

These are nbgrader's names for several courses on one hub (its
demo_multiple_classes): each course has its own exchange folder
(``<exchange>/<course id>``), its own groups and its own formgrader service,
so the course can share a hub with others. Add users to the Unix groups and
restart the hub to change who is in the course.
"""

import grp
import os
import pwd
import sys

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

env = os.environ.get
COURSE_ID = env("NN_COURSE_ID", "nn-from-first-principles")
REPOSITORY = env("NN_COURSE_REPOSITORY", "/opt/nn-course")              # the course (grader only)
GRADING_ROOT = env("NN_COURSE_GRADING_ROOT", "/srv/nn-course-grading")  # the TA course folder
EXCHANGE = env("NN_COURSE_EXCHANGE", "/srv/nbgrader/exchange")          # nbgrader's exchange root
STUDENT_ENV = env("NN_COURSE_STUDENT_ENV", "/opt/nn-course/student-env")  # `course hub --student-env`
STUDENT_SETTINGS = env("NN_COURSE_STUDENT_SETTINGS", "/etc/nn-course/jupyter")  # deploy/jupyterhub/student
GRADER = env("NN_COURSE_GRADER", "grader")     # the account formgrader runs as ("" = the hub's own)
STUDENT_GROUP = env("NN_COURSE_STUDENT_GROUP", "nn-course-students")
TA_GROUP = env("NN_COURSE_TA_GROUP", "nn-course-tas")
STATE = env("NN_COURSE_HUB_STATE", os.getcwd())   # the hub's database, cookie secret, proxy pid


def members(group: str) -> list[str]:
    """Logins in a Unix group: listed members and those whose primary group it is."""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return []
    primary = [user.pw_name for user in pwd.getpwall() if user.pw_gid == entry.gr_gid]
    return sorted(set(entry.gr_mem) | set(primary))


students, tas = members(STUDENT_GROUP), members(TA_GROUP)

# -- the hub and its proxy (Debian's node-configurable-http-proxy) ------------------
# TLS is the institution's reverse proxy's job: it forwards to bind_url.
c.JupyterHub.bind_url = env("NN_COURSE_HUB_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_bind_url = env("NN_COURSE_HUB_API_URL", "http://127.0.0.1:8081")
c.ConfigurableHTTPProxy.api_url = env("NN_COURSE_PROXY_API_URL", "http://127.0.0.1:8001")
c.ConfigurableHTTPProxy.command = ["configurable-http-proxy"]
# Debian's proxy finds its modules (commander, http-proxy …) in /usr/share/nodejs; a Node.js
# not from Debian (NodeSource's, say) does not look there unless told.
os.environ["NODE_PATH"] = ":".join(p for p in [os.environ.get("NODE_PATH"), "/usr/share/nodejs"] if p)
c.ConfigurableHTTPProxy.pid_file = os.path.join(STATE, "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{os.path.join(STATE, 'jupyterhub.sqlite')}"
c.JupyterHub.cookie_secret_file = os.path.join(STATE, "jupyterhub_cookie_secret")
# A hub restart (a config change, an upgrade) leaves the students' servers running:
# nobody loses unsaved work, and the proxy's routes are restored when the hub is back.
c.JupyterHub.cleanup_servers = False

# -- login: PAM, the hub's default; only the course's groups -------------------------
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(students) | set(tas)
c.PAMAuthenticator.open_sessions = False   # no systemd-logind session per login

# -- each student's server: the student environment, as that student -----------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [os.path.join(STUDENT_ENV, "bin", "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 180      # a busy machine: JupyterLab takes its time
c.Spawner.http_timeout = 180
c.Spawner.environment = {
    # The student settings (nbgrader's exchange, the instructor tools off) come first.
    "JUPYTER_CONFIG_PATH": STUDENT_SETTINGS,
    "NN_COURSE_EXCHANGE": EXCHANGE,
    "PATH": f"{os.path.join(STUDENT_ENV, 'bin')}:/usr/local/bin:/usr/bin:/bin",
}

# -- groups and what they may do -------------------------------------------------------
c.JupyterHub.load_groups = {
    f"nbgrader-{COURSE_ID}": {"users": sorted(set(students) | set(tas))},
    f"formgrade-{COURSE_ID}": {"users": tas},
}
c.JupyterHub.load_roles = [
    # A student's server asks the hub which courses its user is in (nbgrader's JupyterHubAuthPlugin):
    # its token gets its owner's permissions, no more.
    {"name": "server", "scopes": ["inherit"]},
    {"name": f"nbgrader-{COURSE_ID}", "groups": [f"nbgrader-{COURSE_ID}"],
     "scopes": ["list:services", f"read:services!service={COURSE_ID}"]},
    {"name": f"formgrade-{COURSE_ID}", "groups": [f"formgrade-{COURSE_ID}"],
     "scopes": [f"access:services!service={COURSE_ID}"]},
]

# -- formgrader: a hub-managed service on the TA course folder -------------------------
# nbgrader's recommended shape: a notebook server run by the grading account in the
# course folder, reached at /services/<course id>/formgrader by the formgrade group only.
grader_env = env("NN_COURSE_GRADER_BIN", os.path.join(REPOSITORY, ".venv", "bin"))   # ./course made it
formgrader = {
    "name": COURSE_ID,
    "url": env("NN_COURSE_FORMGRADER_URL", "http://127.0.0.1:9999"),
    "command": [os.path.join(grader_env, "jupyterhub-singleuser"), f"--ServerApp.root_dir={GRADING_ROOT}",
                "--ServerApp.default_url=/formgrader"],
    "cwd": GRADING_ROOT,
    "oauth_no_confirm": True,
    "environment": {
        "NN_COURSE_GRADING_ROOT": GRADING_ROOT,
        "PATH": f"{grader_env}:/usr/local/bin:/usr/bin:/bin",
    },
}
if GRADER and GRADER != pwd.getpwuid(os.getuid()).pw_name:
    formgrader["user"] = GRADER
elif os.getuid() == 0:
    formgrader["command"].append("--allow-root")    # a trial run by root: root grades
c.JupyterHub.services = [formgrader]

if not students and not tas:
    print(f"jupyterhub_config: WARNING: the Unix groups {STUDENT_GROUP} and {TA_GROUP} have no members: "
          "nobody can log in", file=sys.stderr)
