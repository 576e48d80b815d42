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
# Rubrics live in the manually graded answer cells (grade + solution, with points)
# between "=== BEGIN MARK SCHEME ===" and "=== END MARK SCHEME ===" and are removed
# from release and solutions; nbgrader would otherwise only accept them in task cells.
c.ClearMarkScheme.enforce_metadata = False

# Execution limits for one student's notebook.
c.Execute.timeout = 120              # seconds per cell
c.Execute.startup_timeout = 60
c.Execute.iopub_timeout = 10
c.Execute.record_timing = False     # keeps generated solutions reproducible
c.SandboxedExecute.isolation = "auto"          # "bwrap" to refuse grading without bubblewrap
c.SandboxedExecute.notebook_timeout = 600      # seconds for the whole notebook
c.SandboxedExecute.memory_limit_mb = 4096      # address space per kernel process
c.SandboxedExecute.max_processes = 64          # processes and threads of the sandbox user
c.SandboxedExecute.max_file_mb = 64            # largest file the kernel may write
c.SandboxedExecute.max_output_bytes = 2_000_000  # output kept per cell
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 30

# Grading: answers recorded in the kernel are judged by the answer keys
# (autograder/keys/<assignment>.py) in the grader's process, right after Execute.
# Student code runs in a sandbox (autograder/sandbox.py): bubblewrap when it
# works here, else resource limits only (the grading summary says so).
c.Autograde.autograde_preprocessors = [
    "autograder.sandbox.SandboxedExecute",
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
    "autograder.late.ShowLatePolicy",
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

# Late work: a share of the earned score per day late (autograder/late.py).
# The deadline is the assignment's due date in the gradebook (`course grade --due`).
c.AssignLatePenalties.plugin_class = "autograder.late.PerDayPenalty"
c.PerDayPenalty.percent_per_day = 10.0
c.PerDayPenalty.grace_minutes = 15.0

# LMS zips (`course grade ASSIGNMENT export.zip`): nbgrader's zip_collect with
# the course's collector; patterns are tried in order on each extracted path.
c.ZipCollectApp.collector_plugin = "autograder.intake.LmsCollector"
c.LmsCollector.patterns = [
    # Canvas: login_[LATE_]userid_submissionid_filename
    r"(?:.*/)?(?P<student_id>[A-Za-z0-9.\-]+?)_(?:[Ll][Aa][Tt][Ee]_)?\d+_\d+_(?P<file_id>[^/]+)",
    # Moodle, one folder per student: Full Name_participant_assignsubmission_file_/filename
    r"(?:.*/)?(?P<student_name>[^/_]+)_\d+_assignsubmission_(?:file|onlinetext)_/(?:.*/)?(?P<file_id>[^/]+)",
    # Moodle, flat: Full Name_participant_assignsubmission_file_filename
    r"(?:.*/)?(?P<student_name>[^/_]+)_\d+_assignsubmission_(?:file|onlinetext)_(?P<file_id>[^/]+)",
]
