"""``course similarity ASSIGNMENT``: the pairs of submissions that share the most, on one offline page.

:mod:`autograder.similarity` compares every pair of submissions' answer
cells (code and written answers, the release's skeleton excluded). This app
writes ``similarity.html`` and ``similarity.csv`` into ``reports/ASSIGNMENT``
of the course folder (or ``--out``): the page ranks the most similar pairs and
shows each pair's answers side by side with the shared parts marked; the CSV
lists every pair that shares anything.

Everything on the page that a student wrote is HTML-escaped into ``<pre>``
blocks; the page has no script and a Content-Security-Policy that forbids
scripts and every load (styles are inline), so it opens offline, as an
e-mail attachment too.
"""

from __future__ import annotations

import csv
import html
import time
from importlib.metadata import version
from pathlib import Path

from autograder.course import Course
from autograder.similarity import Comparison, Pair, compare_class

#: No scripts, no loads of any kind: the page is one file.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 80rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6rem 0 1rem; } td, th { padding: .3rem .6rem; border-bottom: 1px solid #eee;
text-align: left; vertical-align: top; } th { background: #f4f4f4; } td.n { text-align: right; }
.muted { color: #666; } dl.facts { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dt { font-weight: 600; } .sides { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
pre { background: #f8f8f8; border: 1px solid #e4e4e4; padding: .6rem; overflow-x: auto; font-size: .82rem;
white-space: pre-wrap; word-break: break-word; } mark { background: #ffd27a; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def marked(document: str, slices) -> str:
    """*document* HTML-escaped, with copydetect's shared *slices* (starts, ends) in ``<mark>``."""
    if slices is None or len(slices) == 0 or len(slices[0]) == 0:
        return _e(document)
    parts, at = [], 0
    for start, end in sorted(zip((int(s) for s in slices[0]), (int(e) for e in slices[1]))):
        start, end = max(start, at), min(end, len(document))
        if end <= start:
            continue
        parts += [_e(document[at:start]), "<mark>", _e(document[start:end]), "</mark>"]
        at = end
    parts.append(_e(document[at:]))
    return "".join(parts)


def _side_by_side(result: Comparison, pair: Pair, kind: str) -> str:
    documents = {s.student: getattr(s, kind) for s in result.students}
    slices = result.shared_parts(pair, kind)
    left, right = documents[pair.a].strip("\n"), documents[pair.b].strip("\n")
    offset_a = len(documents[pair.a]) - len(documents[pair.a].lstrip("\n"))
    offset_b = len(documents[pair.b]) - len(documents[pair.b].lstrip("\n"))

    def shifted(found, offset):
        return None if found is None or len(found) == 0 else [[int(s) - offset for s in found[0]],
                                                               [int(e) - offset for e in found[1]]]
    return (f"<div class='sides'><div><strong>{_e(pair.a)}</strong>"
            f"<pre>{marked(left, shifted(slices[0], offset_a))}</pre></div>"
            f"<div><strong>{_e(pair.b)}</strong><pre>{marked(right, shifted(slices[1], offset_b))}</pre></div></div>")


def render_html(result: Comparison, top: int) -> str:
    """The page: facts, the ranking, then the top pairs side by side."""
    code_cells = sum(kind == "code" for _, kind in result.answer_cells)
    text_cells = sum(kind == "markdown" for _, kind in result.answer_cells)
    shown = result.pairs[:top]
    parts = [f"<h1>Similar submissions: {_e(result.assignment)}</h1>",
             "<dl class='facts'>",
             f"<dt>submissions compared</dt><dd>{len(result.students) - len(result.unreadable)}</dd>",
             f"<dt>pairs compared</dt><dd>{result.compared_pairs}</dd>",
             f"<dt>pairs sharing anything</dt><dd>{len(result.pairs)}</dd>",
             f"<dt>answer cells</dt><dd>{code_cells} code, {text_cells} written (Markdown); the release's own "
             "text in them is left out</dd>",
             f"<dt>method</dt><dd>winnowing fingerprints (copydetect {_e(version('copydetect'))}): code k = "
             f"{result.settings['code']['k']}, window {result.settings['code']['window']} (names, comments and "
             f"layout ignored); written answers k = {result.settings['text']['k']}, window "
             f"{result.settings['text']['window']}</dd>",
             f"<dt>time</dt><dd>{result.seconds:.1f} s</dd></dl>",
             "<p class='muted'>Code and written similarity: the share of each side's fingerprints that the "
             "other side has too (A / B). A pair's score is the larger of its mean code and mean written "
             "similarity. A high score is a reason to read both submissions, not a finding: short answers to the "
             "same question can agree honestly.</p>",
             "<h2>Most similar pairs</h2>"]
    if shown:
        rows = "".join(
            f"<tr><td class='n'>{rank}</td><td><a href='#pair-{rank}'>{_e(p.a)}</a></td><td>{_e(p.b)}</td>"
            f"<td class='n'>{_pct(p.score)}</td><td class='n'>{_pct(p.code[0])} / {_pct(p.code[1])}</td>"
            f"<td class='n'>{_pct(p.text[0])} / {_pct(p.text[1])}</td></tr>"
            for rank, p in enumerate(shown, start=1))
        parts.append("<table><thead><tr><th>rank</th><th>A</th><th>B</th><th>score</th><th>code A / B</th>"
                     f"<th>written A / B</th></tr></thead><tbody>{rows}</tbody></table>")
    else:
        parts.append("<p class='muted'>No two submissions share any answer code or text beyond the release.</p>")
    for rank, pair in enumerate(shown, start=1):
        parts.append(f"<h2 id='pair-{rank}'>{rank}. {_e(pair.a)} and {_e(pair.b)}: {_pct(pair.score)}</h2>")
        if pair.code_score:
            parts.append(f"<h3>Code: {_pct(pair.code[0])} / {_pct(pair.code[1])}</h3>"
                         + _side_by_side(result, pair, "code"))
        if pair.text_score:
            parts.append(f"<h3>Written answers: {_pct(pair.text[0])} / {_pct(pair.text[1])}</h3>"
                         + _side_by_side(result, pair, "text"))
    parts.append("<h2>Submissions that could not be read</h2>")
    if result.unreadable:
        rows = "".join(f"<tr><td>{_e(s)}</td><td>{_e(r)}</td></tr>" for s, r in sorted(result.unreadable.items()))
        parts.append(f"<table><thead><tr><th>student</th><th>why</th></tr></thead><tbody>{rows}</tbody></table>")
    else:
        parts.append("<p class='muted'>None.</p>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<meta name='referrer' content='no-referrer'><title>Similar submissions: {_e(result.assignment)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")


def write_csv(result: Comparison, path: Path) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rank", "student_a", "student_b", "score", "code_a", "code_b", "written_a", "written_b"])
        for rank, p in enumerate(result.pairs, start=1):
            writer.writerow([rank, p.a, p.b, f"{p.score:.3f}", f"{p.code[0]:.3f}", f"{p.code[1]:.3f}",
                             f"{p.text[0]:.3f}", f"{p.text[1]:.3f}"])
    return path


def run(*, root: Path | str, assignment: str, out_dir: Path | str | None = None, top: int = 30, out=print) -> int:
    from autograder.apps.arguments import UsageError
    from autograder.pipeline import submitted_students

    start = time.perf_counter()
    course = Course(root)
    if len(submitted_students(course, assignment)) < 2:
        raise UsageError(f"fewer than two submissions of {assignment} in {course.root / 'submitted'}; bring the "
                         f"class in first (course grade {assignment} SUBMISSIONS)")
    result = compare_class(course, assignment)
    folder = Path(out_dir) if out_dir else course.root / "reports" / assignment
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "similarity.html"
    page.write_text(render_html(result, top), encoding="utf-8")
    table = write_csv(result, folder / "similarity.csv")
    out(f"compared {len(result.students) - len(result.unreadable)} submissions of {assignment} "
        f"({result.compared_pairs} pairs) in {time.perf_counter() - start:.1f} s")
    for rank, pair in enumerate(result.pairs[:5], start=1):
        out(f"  {rank}. {pair.a} and {pair.b}: {_pct(pair.score)} (code {_pct(pair.code[0])} / {_pct(pair.code[1])}, "
            f"written {_pct(pair.text[0])} / {_pct(pair.text[1])})")
    if not result.pairs:
        out("  no two submissions share any answer code or text beyond the release")
    for student, problem in sorted(result.unreadable.items()):
        out(f"  not compared: {student} ({problem})")
    out(f"wrote {page} and {table}")
    return 0
