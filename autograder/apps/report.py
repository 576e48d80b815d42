"""``course report ASSIGNMENT``: what the class got wrong, as one offline HTML page.

The page is for instructors and TAs: the distribution of total scores, the
share of full, partial and no credit per graded cell (in notebook order), the
named mistakes ranked per cell with the message students saw, submissions
that could not be graded and why, and written answers still waiting for a TA.
The same figures are written as CSV files beside it.

Plots are PNG images embedded in the page, so it works offline and as an
e-mail attachment. No student code or output is embedded: the page is built
from scores and the keys' verdicts (:mod:`autograder.insight`), every text is
HTML-escaped, and a Content-Security-Policy forbids scripts and remote
loads. ``--anonymous`` leaves out every student identifier, for sharing the
page with colleagues.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from pathlib import Path

from autograder.course import Course
from autograder.insight import ClassResults, MistakeCount, class_results

#: No scripts, no remote anything: images are data: URLs, styles are inline.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

COLOURS = {"full": "#3a7d44", "partial": "#e0a526", "none": "#c0392b", "waiting": "#8e9aaf"}


# -- figures -------------------------------------------------------------------

def _png(figure) -> str:
    """A matplotlib figure as a data: URL (PNG)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def score_histogram(results: ClassResults) -> str:
    """Total scores of the graded submissions, with the mean and the median marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(7, 3.2))
    values = list(results.scores.values())
    top = results.max_score or 1.0
    bins = min(20, max(5, int(top)))
    ax.hist(values, bins=bins, range=(0, top), color="#4f6d9a", edgecolor="white")
    summary = results.score_summary()
    if values:
        ax.axvline(summary["mean"], color="#c0392b", linestyle="--", label=f"mean {summary['mean']:.1f}")
        ax.axvline(summary["median"], color="#222222", linestyle=":", label=f"median {summary['median']:.1f}")
        ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2)   # above, never on a bar
    ax.set_xlabel(f"total score (out of {top:g})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    pending = summary["pending_students"]
    ax.set_title(f"{results.assignment}: total scores of {len(values)} graded submissions (after late penalties)"
                 + (f"\n{pending} with written answers still pending: their totals will rise" if pending else ""),
                 pad=26)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def credit_bars(results: ClassResults) -> str:
    return _png(credit_figure(results))


def credit_figure(results: ClassResults):
    """One stacked horizontal bar per graded cell: shares of full, partial and no credit (and awaiting a TA).

    Cell names sit on the vertical axis, one line of the figure each, so they never
    overlap however many cells there are; the legend sits above the bars, never on them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [cell.grade_id + ("*" if cell.written else "") for cell in results.cells]
    figure, ax = plt.subplots(figsize=(8, 0.32 * len(names) + 1.6))
    positions = list(range(len(names)))[::-1]   # notebook order, top to bottom
    left = [0.0] * len(names)
    for part, label in (("full", "full credit"), ("partial", "partial credit"), ("none", "no credit"),
                        ("waiting", "awaiting a TA")):
        shares = []
        for cell in results.cells:
            tally = results.credit.get(cell.grade_id)
            total = (tally.graded + tally.waiting) if tally else 0
            shares.append(getattr(tally, part) / total if total else 0.0)
        ax.barh(positions, shares, left=left, color=COLOURS[part], label=label, height=0.7)
        left = [b + w for b, w in zip(left, shares)]
    ax.set_yticks(positions, names)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of students")
    ax.set_title("credit per graded cell, in notebook order (* = written answer)", pad=28)
    ax.legend(ncols=4, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize="small")
    ax.spines[["top", "right"]].set_visible(False)
    return figure


def mistake_description(mistake: MistakeCount) -> str:
    """What the mistake is, in the key's own words (from the message students saw), else its id."""
    found = re.search(r"this is what you get when (.+?)\.(?:\s|$)", mistake.message)
    return found.group(1) if found else mistake.mistake.replace("-", " ")


def mistake_bars(results: ClassResults, most: int = 12) -> str | None:
    """The most frequent named mistakes of the whole assignment (None when there are none)."""
    figure = mistake_figure(results, most)
    return _png(figure) if figure is not None else None


def mistake_figure(results: ClassResults, most: int = 12):
    """The figure of :func:`mistake_bars` (None when there are no named mistakes)."""
    ranked = sorted((m for ms in results.mistakes.values() for m in ms), key=lambda m: -m.count)[:most]
    if not ranked:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import textwrap

    # the whole description, wrapped: a cut id can read as its opposite
    labels = [textwrap.fill(f"{m.cell}: {mistake_description(m)}", 48) for m in ranked][::-1]
    lines = sum(label.count("\n") + 1 for label in labels)
    figure, ax = plt.subplots(figsize=(9, 0.3 * lines + 0.25 * len(ranked) + 1.2))
    ax.barh(labels, [m.count for m in ranked][::-1], color="#c0392b")
    ax.set_xlabel("students")
    ax.set_title("named mistakes, most frequent first")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    return figure


# -- anonymity -------------------------------------------------------------------

def _scrub(text: str, students: list[str]) -> str:
    """*text* with every student id replaced (longest first, so no id leaves a fragment)."""
    for student in sorted(students, key=len, reverse=True):
        text = re.sub(re.escape(student), "(a student)", text, flags=re.IGNORECASE)
    return text


# -- CSV -------------------------------------------------------------------------

def write_csvs(results: ClassResults, folder: Path, anonymous: bool) -> dict[str, Path]:
    """scores.csv, cells.csv, mistakes.csv and failures.csv beside the page."""
    students = results.students
    paths = {name: folder / f"{name}.csv" for name in ("scores", "cells", "mistakes", "failures")}
    with open(paths["scores"], "w", newline="") as handle:
        writer = csv.writer(handle)
        if anonymous:
            writer.writerow(["score", "max_score"])
            writer.writerows([[f"{v:g}", f"{results.max_score:g}"] for v in sorted(results.scores.values())])
        else:
            writer.writerow(["student", "score", "max_score"])
            writer.writerows([[s, f"{v:g}", f"{results.max_score:g}"] for s, v in sorted(results.scores.items())])
    with open(paths["cells"], "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["notebook", "cell", "points", "written", "full", "partial", "none", "awaiting_ta",
                         "unanswered", "wrong_unnamed"])
        for cell in results.cells:
            tally = results.credit.get(cell.grade_id)
            writer.writerow([cell.notebook, cell.grade_id, f"{cell.points:g}", int(cell.written),
                             tally.full, tally.partial, tally.none, tally.waiting,
                             results.unanswered.get(cell.grade_id, 0), results.unnamed.get(cell.grade_id, 0)])
    with open(paths["mistakes"], "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cell", "mistake", "students", "message"] + ([] if anonymous else ["who"]))
        for cell in results.cells:
            for m in results.mistakes.get(cell.grade_id, []):
                row = [cell.grade_id, m.mistake, m.count, _scrub(m.message, students) if anonymous else m.message]
                writer.writerow(row + ([] if anonymous else [" ".join(m.students)]))
    with open(paths["failures"], "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reason"] if anonymous else ["student", "reason"])
        for student, reason in sorted(results.failures.items()):
            writer.writerow([_scrub(reason, students)] if anonymous else [student, reason])
    return paths


# -- the page --------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6rem 0 1rem; } td, th { padding: .3rem .6rem; border-bottom: 1px solid #eee;
text-align: left; vertical-align: top; } th { background: #f4f4f4; } td.n { text-align: right; }
.figures img { max-width: 100%; display: block; margin: .5rem 0; } .muted { color: #666; } .cell { margin-top: 1.2rem; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; } dt { font-weight: 600; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class='n'>{c}</td>" if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _score_facts(s: dict) -> list[str]:
    """Mean, median and full marks after late penalties; pending written answers said to be pending."""
    if not s["pending_students"]:
        return [f"<dt>mean score</dt><dd>{s['mean']:.2f} of {s['max_score']:g} (after late penalties, as in the "
                "grades CSV)</dd>",
                f"<dt>median score</dt><dd>{s['median']:.2f}</dd>",
                f"<dt>full marks</dt><dd>{s['full_marks']}</dd>"]
    return [f"<dt>pending</dt><dd id='pending'>written answers of {s['pending_students']} student(s), "
            f"{s['pending_points']:g} points in all, await a TA: the figures below count only what is graded</dd>",
            f"<dt>mean so far</dt><dd>{100 * s['mean_share']:.0f}% of the points graded so far (after late "
            "penalties, as in the grades CSV)</dd>",
            f"<dt>median so far</dt><dd>{s['median']:.2f} points (pending answers not yet counted)</dd>",
            f"<dt>full marks</dt><dd>{s['full_marks']} complete, {s['full_so_far']} on every part graded so far</dd>"]


def deadline_section(class_due, rows, anonymous: bool) -> str:
    """Deadlines: the class's, the extensions in effect, and who was late by their own deadline."""
    if class_due is None:
        return "<h2>Deadlines</h2><p class='muted'>This assignment has no due date in the gradebook.</p>"
    extended = [r for r in rows if r.extension]
    late = [r for r in rows if r.seconds_late > 0]
    parts = ["<h2>Deadlines</h2>", f"<p>Due {class_due:%Y-%m-%d %H:%M} UTC. Extensions in effect for "
             f"{len(extended)} graded student(s); {len(late)} submission(s) came after their student's own "
             "deadline (the late penalty counts from it).</p>"]
    if not anonymous and (extended or late):
        parts.append(_table(["student", "own deadline", "extension", "late by"], [
            [_e(r.student), f"{r.due:%Y-%m-%d %H:%M} UTC",
             _e(f"+{r.extension.days:g} day(s)" + (" (standing)" if r.extension.standing else "")) if r.extension else "",
             f"{r.seconds_late / 3600:.1f} h" if r.seconds_late else "on time"]
            for r in rows if r.extension or r.seconds_late]))
    return "".join(parts)


def render_html(results: ClassResults, anonymous: bool = False, deadlines: str = "") -> str:
    """The report page (a complete HTML document with its images inside); *deadlines*: its Deadlines section."""
    students = results.students
    clean = (lambda text: _e(_scrub(text, students))) if anonymous else _e
    s = results.score_summary()
    parts = [f"<h1>What the class got wrong: {_e(results.assignment)}</h1>",
             "<dl class='facts'>",
             f"<dt>graded submissions</dt><dd>{s['graded']}</dd>",
             f"<dt>could not be graded</dt><dd>{s['could_not_be_graded']}</dd>",
             *_score_facts(s),
             f"<dt>nothing</dt><dd>{s['nothing']}</dd>",
             "</dl>",
             "<h2>Total scores</h2><div class='figures'>",
             f"<img alt='histogram of total scores' src='{score_histogram(results)}'></div>",
             "<h2>Credit per graded cell</h2><div class='figures'>",
             f"<img alt='full, partial and no credit per cell' src='{credit_bars(results)}'></div>"]
    rows = []
    for cell in results.cells:
        tally = results.credit[cell.grade_id]
        rows.append([_e(cell.grade_id), _e(cell.title), f"{cell.points:g}", "written" if cell.written else "auto",
                     str(tally.full), str(tally.partial), str(tally.none), str(tally.waiting),
                     str(results.unanswered.get(cell.grade_id, 0))])
    parts.append(_table(["cell", "section", "points", "graded", "full", "partial", "none", "awaiting a TA",
                         "nothing recorded"], rows, numeric={2, 4, 5, 6, 7, 8}))

    parts.append("<h2>Named mistakes</h2>")
    bars = mistake_bars(results)
    if bars:
        parts.append(f"<div class='figures'><img alt='most frequent named mistakes' src='{bars}'></div>")
    for cell in results.cells:
        named = results.mistakes.get(cell.grade_id, [])
        other = results.unnamed.get(cell.grade_id, 0)
        if not named and not other:
            continue
        parts.append(f"<div class='cell'><h3>{_e(cell.grade_id)} <span class='muted'>{_e(cell.title)}</span></h3>")
        rows = [[f"{_e(mistake_description(m))} <span class='muted'>({_e(m.mistake)})</span>", str(m.count),
                 clean(m.message)] + ([] if anonymous else [_e(", ".join(m.students))])
                for m in named]
        if other:
            rows.append(["<span class='muted'>(wrong, matching no named mistake)</span>", str(other), "", *([] if anonymous else [""])])
        parts.append(_table(["mistake", "students", "what they were told"] + ([] if anonymous else ["who"]),
                            rows, numeric={1}) + "</div>")
    if not any(results.mistakes.values()) and not any(results.unnamed.values()):
        parts.append("<p class='muted'>No wrong answers among the graded submissions.</p>")

    parts.append("<h2>Submissions that could not be graded</h2>")
    if results.failures:
        if anonymous:
            parts.append(_table(["reason"], [[clean(r)] for _, r in sorted(results.failures.items())]))
        else:
            parts.append(_table(["student", "reason"], [[_e(st), _e(r)] for st, r in sorted(results.failures.items())]))
    else:
        parts.append("<p class='muted'>None.</p>")

    parts.append("<h2>Written answers awaiting a TA</h2>")
    written = [c for c in results.cells if c.written]
    if written:
        parts.append(_table(["cell", "section", "awaiting a TA", "graded"],
                            [[_e(c.grade_id), _e(c.title), str(results.credit[c.grade_id].waiting),
                              str(results.credit[c.grade_id].graded)] for c in written], numeric={2, 3}))
    else:
        parts.append("<p class='muted'>This assignment has no written answers.</p>")
    parts.append(deadlines)
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<meta name='referrer' content='no-referrer'>"
            f"<title>{_e(results.assignment)}: what the class got wrong</title><style>{STYLE}</style></head>"
            f"<body>{body}</body></html>\n")


class ReportError(RuntimeError):
    """The report cannot be made (say what to do)."""


def write_report(course: Course, assignment: str, folder: Path | None = None, anonymous: bool = False) -> Path:
    """Write the page and its CSV files; return the page's path.

    Default folder: ``reports/<assignment>/`` in the course root
    (``reports/<assignment>-anonymous/`` with *anonymous*).
    """
    if assignment not in course.assignments():
        raise ReportError(f"unknown assignment {assignment!r}; the course has: {', '.join(course.assignments())}")
    with course.gradebook() as gradebook:
        known = {a.name for a in gradebook.assignments}
    if assignment not in known:
        raise ReportError(f"nothing of {assignment} has been graded in {course.root}: run `course grade {assignment}` first")
    results = class_results(course, assignment)
    folder = Path(folder) if folder else course.root / "reports" / (assignment + ("-anonymous" if anonymous else ""))
    folder.mkdir(parents=True, exist_ok=True)
    write_csvs(results, folder, anonymous)
    page = folder / "index.html"
    partial = page.with_suffix(".tmp")
    from autograder.deadlines import class_deadlines

    section = deadline_section(*class_deadlines(course, assignment), anonymous)
    partial.write_text(render_html(results, anonymous, deadlines=section), encoding="utf-8")
    partial.replace(page)
    return page
