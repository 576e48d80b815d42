"""Which submissions share their answers: winnowing fingerprints, as MOSS takes them.

Only what students wrote counts: the *answer cells* of the assignment (the
cells nbgrader marks as solution cells in the release), code and Markdown
apart. Each student's code answers, in notebook order, are one Python
document, fingerprinted by ``copydetect`` (MIT licence): Pygments tokenises
the code, comments and whitespace are dropped, names become ``V`` and ``F``
and strings ``S`` (so renaming variables and rewriting comments changes
nothing), and the k-grams left are hashed and winnowed (Schleimer, Wilkerson
and Aiken, SIGMOD 2003 — the method MOSS uses). Written answers are one text
document per student, fingerprinted as characters, case folded.

The release's own answer cells (the function headers, docstrings and
``# YOUR CODE HERE`` the students were given) are fingerprinted the same way
and every one of those fingerprints is removed from every student's before
any pair is compared: the skeleton is boilerplate, so two untouched releases
share nothing.

For a pair, each side's similarity is the share of its fingerprints that the
other side has too (as MOSS counts it); all pairs at once are one sparse
matrix product. A pair's *code* and *written* similarities are the mean of
its two sides, and its score the larger of those two. copydetect then finds
the shared parts of the pairs a person looks at, for highlighting. A high score is
a reason for a person to read both submissions (the page shows the shared
parts side by side), not a finding.

The submissions are read through :func:`autograder.safefiles.read_student_file`
(no links, regular files only, bounded size); a notebook that cannot be read
or parsed is listed with the reason and left out.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from traitlets import Int
from traitlets.config import Configurable

from autograder.safefiles import UnsafeSubmission, read_student_file


class Similarity(Configurable):
    """``course similarity``'s settings (``c.Similarity.*`` in nbgrader_config.py); copydetect's defaults for code."""

    code_noise_threshold = Int(25, help="Shortest run of filtered code tokens (characters) that can count as "
                                        "shared: copydetect's noise threshold, the k of its k-grams.").tag(config=True)
    code_guarantee_threshold = Int(30, help="A shared run of filtered code at least this long is always found "
                                            "(copydetect's guarantee threshold).").tag(config=True)
    text_noise_threshold = Int(40, help="The same for written answers, in characters (about seven words: shorter "
                                        "phrases are common to anyone writing about the topic).").tag(config=True)
    text_guarantee_threshold = Int(50, help="A shared passage of written answer at least this long is always "
                                            "found.").tag(config=True)
    max_notebook_mb = Int(20, help="A submitted notebook larger than this is not read.").tag(config=True)


@dataclass
class Answers:
    """What one student wrote in the answer cells: code and text, each one document."""

    student: str
    code: str = ""
    text: str = ""
    problem: str | None = None


@dataclass
class Pair:
    a: str
    b: str
    code: tuple[float, float] = (0.0, 0.0)      # share of a's and of b's code fingerprints the other has
    text: tuple[float, float] = (0.0, 0.0)

    @property
    def code_score(self) -> float:
        return (self.code[0] + self.code[1]) / 2

    @property
    def text_score(self) -> float:
        return (self.text[0] + self.text[1]) / 2

    @property
    def score(self) -> float:
        return max(self.code_score, self.text_score)


@dataclass
class Comparison:
    assignment: str
    students: list[Answers]
    pairs: list[Pair]                           # every pair that shares anything, most similar first
    unreadable: dict[str, str] = field(default_factory=dict)
    answer_cells: list[tuple[str, str]] = field(default_factory=list)   # (grade id, "code" | "markdown")
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)
    #: kind ("code" | "text") → student → copydetect's fingerprint (for the shared parts of a pair)
    prints: dict[str, dict] = field(default_factory=dict)

    @property
    def compared_pairs(self) -> int:
        n = len(self.students) - len(self.unreadable)
        return n * (n - 1) // 2

    def shared_parts(self, pair: Pair, kind: str):
        """copydetect's slices (starts, ends) of what *pair* shares, in each side's document of *kind*."""
        from copydetect import compare_files

        if not getattr(pair, kind)[0]:
            return None, None
        _, _, slices = compare_files(self.prints[kind][pair.a], self.prints[kind][pair.b])
        return slices


# -- reading -------------------------------------------------------------------------

def _source(cell) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def _grade_id(cell) -> str | None:
    if not isinstance(cell, dict):
        return None
    meta = cell.get("metadata")
    info = meta.get("nbgrader") if isinstance(meta, dict) else None
    grade_id = info.get("grade_id") if isinstance(info, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def answer_cells(release: dict[str, nbformat.NotebookNode]) -> list[tuple[str, str, str]]:
    """(grade id, "code" | "markdown", the release's source) of every answer cell, in notebook order."""
    cells = []
    for name in sorted(release):
        for cell in release[name].cells:
            info = cell.metadata.get("nbgrader", {})
            if info.get("solution") and info.get("grade_id"):
                cells.append((info["grade_id"], cell.cell_type, cell.source))
    return cells


def code_separator(grade_id: str) -> str:
    return f"\n\n# ---- {grade_id} ----\n"   # a comment: dropped by the tokeniser, kept for reading


def text_separator(grade_id: str) -> str:
    return f"\n\n[{grade_id}]\n"   # the same in every document, the release's too: boilerplate


def assemble(student: str, sources: dict[str, str], cells: list[tuple[str, str, str]]) -> Answers:
    """One student's code and text documents from their answer cells (*sources*: grade id → source)."""
    code = "".join(code_separator(g) + sources.get(g, "") for g, kind, _ in cells if kind == "code")
    text = "".join(text_separator(g) + sources.get(g, "") for g, kind, _ in cells if kind == "markdown")
    return Answers(student, code, text)


def read_answers(folder: Path, student: str, notebooks: list[str], cells: list[tuple[str, str, str]],
                 max_bytes: int) -> Answers:
    """What *student* wrote in the answer cells of their submission in *folder* (never raises)."""
    wanted = {g for g, _, _ in cells}
    sources: dict[str, str] = {}
    for name in notebooks:
        try:
            raw = read_student_file(folder, f"{name}.ipynb", max_bytes)
        except FileNotFoundError:
            continue   # not handed in: nothing written
        except UnsafeSubmission as error:
            return Answers(student, problem=str(error))
        except OSError as error:
            return Answers(student, problem=f"{name}.ipynb cannot be read ({error.strerror})")
        try:
            notebook = json.loads(raw)
        except (ValueError, RecursionError):
            return Answers(student, problem=f"{name}.ipynb is not a notebook (not JSON)")
        found = notebook.get("cells") if isinstance(notebook, dict) else None
        for cell in found if isinstance(found, list) else []:
            grade_id = _grade_id(cell)
            if grade_id in wanted and grade_id not in sources:
                sources[grade_id] = _source(cell)
    return assemble(student, sources, cells)


# -- fingerprints and pairs ------------------------------------------------------------

def _fold(text: str) -> str:
    """Case folded, one character for one (so positions still point into the original)."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def fingerprint(document: str, k: int, window: int, boilerplate: set, code: bool):
    """copydetect's fingerprint of *document*, with every *boilerplate* hash removed."""
    from copydetect import CodeFingerprint
    from copydetect.utils import get_token_coverage

    if code:
        print_ = CodeFingerprint("answers.py", k, window, filter=True, language="python", fp=io.StringIO(document))
    else:
        print_ = CodeFingerprint("answers.txt", k, window, filter=False, fp=io.StringIO(_fold(document)))
    if boilerplate:
        print_.hashes = {h for h in print_.hashes if h not in boilerplate}
        print_.hash_idx = {h: i for h, i in print_.hash_idx.items() if h not in boilerplate}
        print_.token_coverage = get_token_coverage(print_.hash_idx, k, len(print_.filtered_code))
    return print_


def shared_fingerprints(prints: list) -> dict[tuple[int, int], int]:
    """(i, j) → how many fingerprints documents i < j share, for every pair sharing any.

    One sparse product of the documents × fingerprints incidence matrix with
    its transpose: every pair at once, in milliseconds for a class of hundreds.
    """
    from scipy.sparse import csr_matrix

    columns: dict = {}
    rows, cols = [], []
    for i, print_ in enumerate(prints):
        for value in print_.hashes:
            rows.append(i)
            cols.append(columns.setdefault(value, len(columns)))
    if not columns:
        return {}
    incidence = csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(prints), len(columns)))
    shared = (incidence @ incidence.T).tocoo()
    return {(int(i), int(j)): int(n) for i, j, n in zip(shared.row, shared.col, shared.data) if i < j}


def compare(assignment: str, students: list[Answers], release: Answers, settings: Similarity | None = None) -> Comparison:
    """Every pair of *students*, the *release*'s fingerprints removed as boilerplate.

    A side's similarity is the share of its winnowed fingerprints that the
    other side has too (MOSS's measure); the shared parts themselves are
    worked out by copydetect for the pairs a person looks at
    (:meth:`Comparison.shared_parts`).
    """
    settings = settings or Similarity()
    start = time.perf_counter()
    kinds = {"code": (settings.code_noise_threshold, settings.code_guarantee_threshold, True),
             "text": (settings.text_noise_threshold, settings.text_guarantee_threshold, False)}
    readable = [s for s in students if s.problem is None]
    pairs: dict[tuple[int, int], Pair] = {}
    prints: dict[str, dict] = {}
    for kind, (k, guarantee, code) in kinds.items():
        window = max(1, guarantee - k + 1)
        boiler = fingerprint(getattr(release, kind), k, window, set(), code).hashes
        found = [fingerprint(getattr(s, kind), k, window, boiler, code) for s in readable]
        prints[kind] = {s.student: f for s, f in zip(readable, found)}
        for (i, j), count in shared_fingerprints(found).items():
            pair = pairs.setdefault((i, j), Pair(readable[i].student, readable[j].student))
            setattr(pair, kind, (count / len(found[i].hashes), count / len(found[j].hashes)))
    ranked = sorted(pairs.values(), key=lambda p: (-p.score, p.a, p.b))
    return Comparison(assignment, students, ranked, {s.student: s.problem for s in students if s.problem},
                      seconds=time.perf_counter() - start, prints=prints,
                      settings={kind: {"k": k, "window": max(1, g - k + 1)} for kind, (k, g, _) in kinds.items()})


def compare_class(course, assignment: str, settings: Similarity | None = None) -> Comparison:
    """Every submission of *assignment* in the course folder, against every other."""
    from autograder.pipeline import submitted_students

    settings = settings or Similarity(config=course.config)
    notebooks = course.notebooks(assignment)
    if not all(course.path("release", assignment, f"{n}.ipynb").exists() for n in notebooks):
        course.generate_release(assignment)
    release = {n: nbformat.read(str(course.path("release", assignment, f"{n}.ipynb")), as_version=4)
               for n in notebooks}
    cells = answer_cells(release)
    release_answers = assemble("(release)", {g: source for g, _, source in cells}, cells)
    students = [read_answers(course.path("submitted", s, assignment), s, notebooks, cells,
                             settings.max_notebook_mb * 2**20) for s in submitted_students(course, assignment)]
    result = compare(assignment, students, release_answers, settings)
    result.answer_cells = [(g, kind) for g, kind, _ in cells]
    return result
