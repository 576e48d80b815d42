"""nbgrader configuration for the course.

Every course tool reads this file: the ``course`` command loads it (setting
the course root to the folder it works on), and so does plain ``nbgrader``
run from this folder.
"""

c = get_config()  # noqa: F821  (provided by traitlets when this file is loaded)

c.CourseDirectory.course_id = "nn-from-first-principles"
# The gradebook defaults to sqlite:///<course root>/gradebook.db; set db_url for PostgreSQL.
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.solution_directory = "solutions"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
# Notebooks only: data comes from installed packages, never from the course folder.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Execution limits for one student's notebook.
c.Execute.timeout = 120              # seconds per cell
c.Execute.startup_timeout = 60
c.Execute.iopub_timeout = 10
c.Execute.record_timing = False     # keeps generated solutions reproducible
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 30

# Grading: answers recorded in the kernel are judged by the answer keys
# (autograder/keys/<assignment>.py) in the grader's process, right after Execute.
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute",
    "autograder.judge.JudgeAnswers",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Feedback and solutions never show hidden test code.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.GenerateSolution.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.LockCells",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.Execute",
]
