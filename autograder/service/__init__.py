"""``course serve``: instant feedback on the nbgrader exchange, in small parts.

- :mod:`.policy` — which assignments are open, until when, how often a student may be graded;
- :mod:`.journal` — the durable record of every submission seen (SQLite, WAL);
- :mod:`.exchange` — nbgrader's exchange: list the inbound folder, collect one submission, release feedback;
- :mod:`.notices` — the short feedback pages the service writes itself (held back, superseded, closed);
- :mod:`.worker` — the job a grading worker runs: collect, vet, grade with :func:`autograder.pipeline.grade_submission`.

The loop that ties them together is :mod:`autograder.apps.serve`.
"""
