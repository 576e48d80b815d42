"""nbgrader settings for every student's notebook server on the course's JupyterHub.

The hub points each student's server at this folder (JUPYTER_CONFIG_PATH, see
../jupyterhub_config.py); a real deployment copies it to /etc/nn-course/jupyter.
Students never see the course repository: their server reads only this file,
the student environment and their own home.
"""

import os

from nbgrader.auth import JupyterHubAuthPlugin

c = get_config()  # noqa: F821

# nbgrader's exchange: <root>/<course id>/{outbound,inbound,feedback}. The hub passes its path.
c.Exchange.root = os.environ.get("NN_COURSE_EXCHANGE", "/srv/nbgrader/exchange")
# Several courses on one hub, as nbgrader recommends: a student lists the courses whose
# JupyterHub group (nbgrader-<course id>) they are in, and fetches into ~/<course id>/<assignment>.
c.Authenticator.plugin_class = JupyterHubAuthPlugin
c.Exchange.path_includes_course = True
c.NbGrader.course_titles = {"nn-from-first-principles": "Neural networks from first principles"}
