"""nbgrader configuration for the course.

Every course tool reads this file: the ``course`` command loads it (setting
the course root to the folder it works on), and so does plain ``nbgrader``
run from this folder.
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when this file is loaded)

c.CourseDirectory.course_id = "nn-from-first-principles"
# The gradebook defaults to sqlite:///<course root>/gradebook.db; set db_url for PostgreSQL
# (a plain postgresql://USER:PASSWORD@HOST/DATABASE works; `course grade --db-url` wins).
# c.CourseDirectory.db_url = "postgresql://ta:PASSWORD@grader/gradebook"
# Where `course grade` runs (the flags --cluster/--scheduler win; neither: a local process pool):
# c.CourseGrading.cluster = "local:4"                  # a Dask LocalCluster of 4 worker processes
# c.CourseGrading.scheduler = "tcp://grader:8786"      # an existing Dask cluster (see the README)
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.solution_directory = "solutions"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
# Notebooks only: data comes from installed packages, never from the course folder.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]
# nbgrader's exchange (release, fetch, submit between accounts). Without a shared one
# (JupyterHub's /srv/nbgrader/exchange, say: set it here), each course root keeps its
# own `exchange/` beside the gradebook (the `course` command points it at its root).
c.Exchange.root = os.path.join(os.path.dirname(os.path.realpath(__file__)), "exchange")
os.makedirs(c.Exchange.root, exist_ok=True)
# Kernels talk to nbgrader over encrypted ZeroMQ (CurveZMQ), so no kernel warns
# that it is "running over TCP without encryption".
c.KernelManager.transport_encryption = "auto"

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
# Memory and processes hold for the sandbox as a whole (a cgroup per notebook); its
# scratch files live in memory too, so scratch_mb ($HOME and /tmp, each) counts against
# memory_limit_mb. Where no cgroup or size-limited tmpfs works, the summary warns.
c.SandboxedExecute.memory_limit_mb = 4096      # all processes of the sandbox + its scratch files
c.SandboxedExecute.process_memory_limit_mb = 0  # address space per process (0: memory_limit_mb)
c.SandboxedExecute.scratch_mb = 512            # size of $HOME and of /tmp in the sandbox, each
c.SandboxedExecute.max_processes = 64          # processes and threads of the whole sandbox
c.SandboxedExecute.max_file_mb = 64            # largest file the kernel may write
c.SandboxedExecute.max_output_bytes = 2_000_000  # output kept per cell
# Refused before anything parses them (autograder/preflight.py): the course's largest
# executed notebook is 0.6 MB, 37 cells, 7 levels deep, its largest output 0.26 MB.
c.Preflight.max_notebook_mb = 20
c.Preflight.max_cells = 1000
c.Preflight.max_json_depth = 64
c.Preflight.max_output_mb = 5
c.Preflight.max_submission_mb = 100            # all files of one submission
c.Preflight.max_submission_files = 100
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 30

# Grading: answers recorded in the kernel are judged by the answer keys
# (autograder/keys/<assignment>.py) in the grader's process, right after Execute.
# Student code runs in a sandbox (autograder/preprocessors/sandbox.py): bubblewrap when it
# works here, else resource limits only (the grading summary says so).
c.Autograde.autograde_preprocessors = [
    "autograder.preprocessors.sandbox.SandboxedExecute",
    "autograder.preprocessors.judge.JudgeAnswers",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "autograder.plugins.late.AssignTrustedLatePenalties",  # nbgrader's step, with trusted times only
    "nbgrader.preprocessors.CheckCellMetadata",
    # Last, after SaveAutoGrades compared answers with their checksums: everything the
    # student controlled is made inert (nh3) before formgrader or feedback can render it;
    # then each written answer gets its rubric from the source notebook, for TAs.
    "autograder.preprocessors.sanitize.SanitizeStudentContent",
    "autograder.preprocessors.rubric.ShowRubric",
]

# Feedback and solutions never show hidden test code: nor does anything the kernel
# printed (RedactHiddenTests, before ClearHiddenTests removes the code itself).
# Feedback pages forbid scripts (Content-Security-Policy) and say "awaiting grading"
# for written answers no TA has graded (autograder/feedback_page.py).
c.GenerateFeedback.preprocessors = [
    # The penalty on the score as it is now (a TA's manual grades included), before GetGrades
    # reads it: formgrader's Generate Feedback gives the pages `course finish` gives.
    "autograder.plugins.late.AssignTrustedLatePenalties",
    "nbgrader.preprocessors.GetGrades",
    "autograder.plugins.late.ShowLatePolicy",
    "autograder.preprocessors.feedback.RedactHiddenTests",
    "nbgrader.preprocessors.ClearHiddenTests",
    "autograder.preprocessors.rubric.RemoveRubric",
    "autograder.preprocessors.feedback.HonestScores",
    "autograder.preprocessors.sanitize.SanitizeStudentContent",
    # After sanitising: each cell's verdict first (the rest folded away), TeX typeset as MathML.
    "autograder.preprocessors.verdicts_first.VerdictsFirst",
    "autograder.preprocessors.typeset.TypesetMath",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.GenerateFeedback.exporter_class = "autograder.feedback_page.FeedbackExporter"
c.GenerateSolution.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.LockCells",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.Execute",
]

# Late work: a share of the earned score per day late (autograder/plugins/late.py).
# The deadline is the assignment's due date in the gradebook (`course grade --due`).
c.AssignLatePenalties.plugin_class = "autograder.plugins.late.PerDayPenalty"
c.PerDayPenalty.percent_per_day = 10.0
c.PerDayPenalty.grace_minutes = 15.0

# LMS zips (`course grade ASSIGNMENT export.zip`): nbgrader's zip_collect with
# the course's plugins (autograder/plugins/lms.py). The extractor writes only
# regular files inside its folder and refuses a zip over these bounds whole
# (members, total size) or a member over them (size, compression ratio).
c.ZipCollectApp.extractor_plugin = "autograder.plugins.lms.SafeExtractor"
c.SafeExtractor.max_members = 10_000      # a class of 500 with 20 files each
c.SafeExtractor.max_total_mb = 1024       # unpacked size of the whole archive
c.SafeExtractor.max_member_mb = 200       # one file, unpacked
c.SafeExtractor.max_ratio = 200.0         # unpacked/compressed, for members over 1 MB
# The collector's patterns are tried in order on each extracted path; a student
# part that is not a valid id (see autograder/safefiles.py) is listed, not collected.
c.ZipCollectApp.collector_plugin = "autograder.plugins.lms.LmsCollector"
c.LmsCollector.patterns = [
    # Canvas: login_[LATE_]userid_submissionid_filename (LATE: late by Canvas's deadline, no time given)
    r"(?:.*/)?(?P<student_id>[A-Za-z0-9.\-]+?)_(?P<late>[Ll][Aa][Tt][Ee]_)?\d+_\d+_(?P<file_id>[^/]+)",
    # Moodle, one folder per student: Full Name_participant_assignsubmission_file_/filename
    r"(?:.*/)?(?P<student_name>[^/_]+)_\d+_assignsubmission_(?:file|onlinetext)_/(?:.*/)?(?P<file_id>[^/]+)",
    # Moodle, flat: Full Name_participant_assignsubmission_file_filename
    r"(?:.*/)?(?P<student_name>[^/_]+)_\d+_assignsubmission_(?:file|onlinetext)_(?P<file_id>[^/]+)",
]

# Intake (autograder/intake.py): links and special files are refused per student;
# on a shared exchange, a submission must be owned by the Unix user of the student
# it names (login == student id, or student_uids = {"student": uid}).
c.CourseIntake.owner_check = "unix-user"   # "off" trusts the names in inbound/
c.CourseIntake.trusted_owners = []         # logins that may submit for anyone
c.CourseIntake.max_submission_files = 2_000
c.CourseIntake.max_submission_mb = 256

# Instant feedback (`course serve`, autograder/service/policy.py): which assignments
# are graded as soon as they are submitted on the exchange, and how often. The grade
# that counts stays nbgrader's: the last submission before the deadline (the due date
# in the gradebook). 3 gradings per hour per assignment: enough to fix and recheck a
# few times in a sitting, too few to probe the hidden checks by trial (see README).
c.InstantFeedback.assignments = ["01-linear-classifier", "02-signals", "03-backprop-errors",
                                 "04-linear-network-by-hand", "05-mnist"]
c.InstantFeedback.open_until = {}              # e.g. {"02-signals": "2026-03-08 23:59"} (UTC); none: no end
c.InstantFeedback.max_gradings_per_hour = 3    # per student and assignment
c.InstantFeedback.max_gradings_per_student = 6  # per student, all assignments together, in the same window
c.InstantFeedback.max_concurrent_per_student = 1  # one student's gradings running at once (workers go round students)
c.InstantFeedback.window_seconds = 3600        # the "hour" of the limit
c.InstantFeedback.poll_seconds = 0.5           # how often inbound/ is looked at
