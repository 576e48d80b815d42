"""One module per ``course`` command that is more than a few lines (as nbgrader's ``apps``)."""
