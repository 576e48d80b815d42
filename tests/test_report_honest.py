"""The class report waits honestly: pending answers are pending, labels never overlap, mistakes read in full.

Built from :class:`autograder.insight.ClassResults` as ``class_results`` returns
it (its gradebook side — scores after late penalties, pending written answers —
is tested on a graded class in tests/test_after_grading.py).
"""

from __future__ import annotations

import itertools

import pytest

from autograder.apps.report import credit_figure, mistake_description, mistake_figure, render_html
from autograder.insight import CellCredit, CellInfo, ClassResults, MistakeCount

NOTEBOOK = "backprop_errors"


def results(cells: int, pending: dict[str, float] | None = None) -> ClassResults:
    infos = [CellInfo(NOTEBOOK, f"{name}_{i}", 2.0, written=i % 7 == 3, title="a section")
             for i, name in zip(range(cells), itertools.cycle(["split_errors_hidden_layer", "matrix",
                                                              "numerical_gradient_check", "dE_dw_output"]))]
    credit = {c.grade_id: CellCredit(full=3, partial=1, none=1, waiting=1 if c.written else 0) for c in infos}
    mistakes = {infos[0].grade_id: [MistakeCount(infos[0].grade_id, "hidden-errors-are-computed-with-who",
                                                 ["ann", "bob"],
                                                 "e_hidden: this is what you get when the hidden errors are computed "
                                                 "with who AFTER it was updated (use the weights before the step). "
                                                 "Hint: keep a copy.")]}
    max_score = 2.0 * cells
    scores = {"ann": max_score - 4.0, "bob": max_score, "cy": max_score / 2}
    return ClassResults("03-backprop-errors", infos, scores, max_score, credit, mistakes, {}, {}, {},
                        pending if pending is not None else {"ann": 4.0})


def test_pending_written_answers_are_shown_as_pending_and_full_marks_count_what_is_graded():
    summary = results(10).score_summary()
    assert summary["pending_students"] == 1 and summary["pending_points"] == 4.0
    assert summary["full_marks"] == 1          # bob, complete
    assert summary["full_so_far"] == 1         # ann: every graded point, 4 points still with a TA
    assert summary["mean_share"] == pytest.approx((1 + 1 + 0.5) / 3)   # ann's pending points pull nothing down
    page = render_html(results(10))
    assert "await a TA: the figures below count only what is graded" in page
    assert "1 complete, 1 on every part graded so far" in page
    done = render_html(results(10, pending={}))
    assert "after late penalties, as in the grades CSV" in done and "pending" not in done.split("<h2>")[0]


def _boxes(figure, texts):
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in texts if t.get_text()]


@pytest.mark.parametrize("cells", [5, 40])
def test_cell_labels_and_the_legend_never_overlap(cells):
    figure = credit_figure(results(cells))
    ax = figure.axes[0]
    labels = _boxes(figure, ax.get_yticklabels())
    assert len(labels) == cells
    for a, b in itertools.combinations(labels, 2):
        assert not a.overlaps(b), (a, b)
    legend = ax.get_legend().get_window_extent(figure.canvas.get_renderer())
    plot = ax.get_window_extent(figure.canvas.get_renderer())
    assert legend.y0 >= plot.y1 - 1, "the legend sits above the bars"
    assert not any(legend.overlaps(label) for label in labels)
    title = _boxes(figure, [ax.title])[0]
    assert not title.overlaps(legend)


def test_mistakes_are_shown_by_their_full_description():
    data = results(5)
    mistake = data.mistakes[data.cells[0].grade_id][0]
    assert mistake_description(mistake) == "the hidden errors are computed with who AFTER it was updated " \
                                           "(use the weights before the step)"
    figure = mistake_figure(data)
    shown = " ".join(" ".join(t.get_text().split()) for t in figure.axes[0].get_yticklabels())
    assert "with who AFTER it was updated" in shown
    page = render_html(data)
    assert "computed with who AFTER it was updated" in page
