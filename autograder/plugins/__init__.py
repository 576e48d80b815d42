"""nbgrader plugins of the course: one policy each (late work, LMS file names …)."""
