"""Formgrader in a TA's course folder grades; it does not author.

A TA's course folder links ``source/`` to the instructor's repository (see
:func:`autograder.course.prepare_grading_root`), so that grading follows the
instructor's changes. JupyterLab opened there would let a TA change that
source from the browser: formgrader's *Edit* opens it in the editor, its
*Add new assignment* creates a folder in it, and *Generate* rebuilds the
release from it. The folder's ``nbgrader_config.py`` — which formgrader loads
into the Jupyter server it runs in — calls :func:`guard_formgrader`, which there:

- makes formgrader's authoring API answer 403 with what to do instead
  (``PUT /formgrader/api/assignment/<id>``, which creates ``source/<id>``, and
  ``POST /formgrader/api/assignment/<id>/assign``, *Generate*);
- makes the server's contents API refuse every write (save, new, rename,
  delete, copy) whose real path lies in the course repository, so ``source/``
  is read-only from the browser however it is reached.

Grading, comments, feedback and releasing stay as they are. Outside a Jupyter
server (``course``, plain ``nbgrader``) it does nothing. Assignments are
authored in the repository: ``course generate``, ``course check``.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

REFUSAL = ("this is a TA's course folder: assignments are authored in the course repository "
           "({repository}, then `course generate`), not from formgrader here")

#: Contents-manager methods that write, and the position of the path argument(s) they take.
_WRITES = {"save": (1,), "new": (1,), "new_untitled": (0,), "delete": (0,), "delete_file": (0,),
           "rename": (0, 1), "rename_file": (0, 1), "copy": (0, 1)}


def _repository() -> Path:
    from autograder.course import REPOSITORY

    return REPOSITORY.resolve()


def inside_repository(root_dir: str, api_path: str) -> bool:
    """True when the contents API path *api_path* (under *root_dir*) really lies in the repository."""
    real = Path(os.path.realpath(os.path.join(root_dir, str(api_path or "").strip("/"))))
    repository = _repository()
    return real == repository or repository in real.parents


def _refuse(message: str):
    from tornado import web

    raise web.HTTPError(403, reason=message.splitlines()[0][:200], log_message=message)


def _guard_contents(manager) -> None:
    message = REFUSAL.format(repository=_repository())
    for name, positions in _WRITES.items():
        original = getattr(manager, name, None)
        if original is None:
            continue

        def guarded(*args, _original=original, _positions=positions, **kwargs):
            paths = [args[i] for i in _positions if i < len(args)] + \
                [kwargs[k] for k in ("path", "old_path", "new_path", "from_path", "to_path") if k in kwargs]
            if any(isinstance(p, str) and inside_repository(manager.root_dir, p) for p in paths):
                _refuse(message)
            return _original(*args, **kwargs)

        setattr(manager, name, functools.wraps(original)(guarded))


def _guard_authoring_api() -> None:
    from nbgrader.server_extensions.formgrader import apihandlers

    message = REFUSAL.format(repository=_repository())

    def refused(self, *args, **kwargs):
        _refuse(message)

    apihandlers.AssignmentHandler.put = refused   # would create source/<id>
    apihandlers.AssignHandler.post = refused      # Generate


def guard_formgrader() -> bool:
    """Apply the guard in a running Jupyter server (once); True if it is in place."""
    if "jupyter_server.serverapp" not in sys.modules:
        return False
    from jupyter_server.serverapp import ServerApp

    if not ServerApp.initialized():
        return False
    server = ServerApp.instance()
    manager = getattr(server, "contents_manager", None)
    if manager is None or getattr(manager, "_course_guarded", False):
        return manager is not None
    _guard_contents(manager)
    _guard_authoring_api()
    manager._course_guarded = True
    server.log.info("course: formgrader in a TA's course folder grades only; %s is read-only here", _repository())
    return True
