"""Assignment 01 (the linear classifier): data loader, figure description, key messages.

The generic tests (tests/test_assignments.py) cover full marks for the source,
zero for the release, leaks and sync. Here: the iris loader equals R's data,
describe_figure reads what a plot shows, the key holds R's semantics of
``scale(x, center = FALSE)`` and names each wrong port, and a student's plot
without a title loses points with a message saying so.
"""

from __future__ import annotations

import importlib.util
import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autograder.checks import WrongAnswer  # noqa: E402
from autograder.grading_session import fill_solutions  # noqa: E402
from autograder.keyrunner import AllAnswers, RecordedAnswers, key_file  # noqa: E402
from exercises.answers import decode, encode  # noqa: E402
from exercises.figures import describe_figure, marker_name  # noqa: E402
from exercises.iris import MEASUREMENTS, load_iris_frame  # noqa: E402

A = "01-linear-classifier"

# Printed by R 4.2.2 (print(..., digits = 11)):
#   iris2 <- iris[iris$Species %in% c("setosa", "versicolor"), ]
#   s <- scale(iris2[, 1:4], center = FALSE, scale = TRUE)
#   attr(s, "scaled:scale"); s[c(1, 51, 100), ]
R_SCALE = [5.5358792975, 3.1511902513, 3.2201229665, 0.9713054841]
R_ROWS = {0: [0.92126286105, 1.11069142796, 0.4347660057, 0.2059084431],
          50: [1.26447843674, 1.01548930556, 1.4595715906, 1.4413591017],
          99: [1.02964672706, 0.88855314237, 1.2732433024, 1.3384048801]}


@pytest.fixture(scope="module")
def key():
    spec = importlib.util.spec_from_file_location("key_01_linear_classifier", key_file(A))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def message(test, **answers) -> str:
    """The WrongAnswer message of a key test for these recorded answers ('' if it passes)."""
    try:
        test(RecordedAnswers("cell", answers))
    except WrongAnswer as error:
        return str(error)
    return ""


# -- the iris loader --------------------------------------------------------------------------

def test_iris_frame_has_rs_names_rows_and_values():
    iris = load_iris_frame()
    assert list(iris.columns) == ["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width", "Species"]
    assert iris.shape == (150, 5)
    assert iris["Species"].value_counts().to_dict() == {"setosa": 50, "versicolor": 50, "virginica": 50}
    # R's rows 1, 35, 38 and 150 (35 and 38 are where the UCI copy differs from R's).
    assert iris.loc[0, MEASUREMENTS].tolist() == [5.1, 3.5, 1.4, 0.2]
    assert iris.loc[34, MEASUREMENTS].tolist() == [4.9, 3.1, 1.5, 0.2]
    assert iris.loc[37, MEASUREMENTS].tolist() == [4.9, 3.6, 1.4, 0.1]
    assert iris.loc[149].tolist() == [5.9, 3.0, 5.1, 1.8, "virginica"]
    # R: colMeans(iris[, 1:4])
    assert iris[MEASUREMENTS].mean().round(6).tolist() == [5.843333, 3.057333, 3.758, 1.199333]


def test_iris_frame_is_scikit_learns_copy():
    from sklearn.datasets import load_iris

    bunch = load_iris()
    iris = load_iris_frame()
    np.testing.assert_array_equal(iris[MEASUREMENTS].to_numpy(), bunch.data)
    assert iris["Species"].tolist() == [str(bunch.target_names[t]) for t in bunch.target]


def test_filtering_leaves_the_hundred_setosa_and_versicolor_rows():
    iris = load_iris_frame()
    iris2 = iris[iris["Species"].isin(["setosa", "versicolor"])]
    assert len(iris2) == 100
    assert iris2["Species"].tolist() == ["setosa"] * 50 + ["versicolor"] * 50
    assert list(iris2.index) == list(range(100))


def test_the_keys_r_scale_matches_rs_output(key):
    measurements, species = key.two_class_iris()
    scale = np.sqrt(np.sum(measurements ** 2, axis=0) / 99)
    np.testing.assert_allclose(scale, R_SCALE, rtol=0, atol=1e-9)
    scaled = key.r_scale(measurements)
    for row, values in R_ROWS.items():
        np.testing.assert_allclose(scaled[row], values, rtol=0, atol=1e-9)
    assert species.tolist() == ["setosa"] * 50 + ["versicolor"] * 50


# -- describe_figure --------------------------------------------------------------------------

def test_describe_figure_reads_titles_labels_legend_and_series():
    fig, ax = plt.subplots()
    ax.scatter([1, 2, 3], [1, 2, 3], marker="^", color="red", label="setosa")
    ax.scatter([1, 2], [2, 1], marker="s", label="versicolor")
    ax.plot([0, 3], [0, 3], "k--", label="line")
    ax.scatter([1, 2], [1, 2], c=[0.0, 1.0], marker="D")
    ax.set(title="T", xlabel="X", ylabel="Y")
    ax.legend()
    fig.suptitle("all")
    description = describe_figure(fig)
    plt.close(fig)

    assert json.loads(json.dumps(description)) == description
    assert decode(encode(description)) == description
    assert description["suptitle"] == "all"
    (axes,) = description["axes"]
    assert (axes["title"], axes["xlabel"], axes["ylabel"]) == ("T", "X", "Y")
    assert axes["legend"] == ["setosa", "versicolor", "line"]
    line, setosa, versicolor, mapped = axes["series"]
    assert line == {"kind": "line", "label": "line", "n_points": 2, "markers": [""], "colors": ["#000000"],
                    "points": [[0.0, 0.0], [3.0, 3.0]]}
    assert setosa == {"kind": "scatter", "label": "setosa", "n_points": 3, "markers": ["^"], "colors": ["#ff0000"],
                      "points": [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]}
    assert versicolor["markers"] == ["s"] and versicolor["colors"] == ["#1f77b4"]
    assert mapped["label"] is None and mapped["markers"] == ["D"] and len(mapped["colors"]) == 2


def test_describe_figure_of_an_empty_figure_and_a_custom_marker():
    fig = plt.figure()
    assert describe_figure(fig) == {"suptitle": "", "figure_legend": [], "axes": []}
    ax = fig.add_subplot()
    ax.scatter([0], [0], marker=[(0, 0), (1, 0), (0, 1)])
    (series,) = describe_figure(fig)["axes"][0]["series"]
    plt.close(fig)
    assert series["markers"][0].startswith("custom:")
    assert series["markers"] == [marker_name(ax.collections[0].get_paths()[0])]   # stable


# -- the key's messages -----------------------------------------------------------------------

@pytest.mark.parametrize("port, named", [
    (lambda x: x / x.std(axis=0, ddof=1), "standard deviation"),
    (lambda x: (x - x.mean(axis=0)) / x.std(axis=0, ddof=1), "centred"),
    (lambda x: x / np.sqrt(np.mean(x ** 2, axis=0)), "n instead of n − 1"),
])
def test_each_wrong_port_of_r_scale_is_named(key, port, named):
    measurements, _ = key.two_class_iris()
    wrong = port(measurements)
    text = message(lambda answer: key.test_scaled_frame(answer, "scaled_frame"), frame=wrong)
    assert named in text
    rng = np.random.default_rng(303)
    hidden = rng.normal(1.0, 2.0, size=(9, 3))
    assert named in message(lambda answer: key.test_scaled_frame(answer, "hidden_input"), hidden=port(hidden))
    assert message(lambda answer: key.test_scaled_frame(answer, "scaled_frame"),
                   frame=key.r_scale(measurements)) == ""


def test_scaling_before_filtering_is_explained(key):
    iris = load_iris_frame()
    whole = iris[MEASUREMENTS].to_numpy()
    text = message(lambda answer: key.test_scaled_frame(answer, "scaled_frame"), frame=key.r_scale(whole))
    assert "150 rows" in text and "filter" in text


def _scatter(title="Sepal Length-Width", one_series=False, same_marker=False, legend=True):
    iris = load_iris_frame().iloc[:100]
    fig, ax = plt.subplots()
    if one_series:
        ax.scatter(iris["Sepal.Length"], iris["Sepal.Width"])
    else:
        for species, marker, colour in [("setosa", "o", "red"), ("versicolor", "o" if same_marker else "^", "teal")]:
            rows = iris[iris["Species"] == species]
            ax.scatter(rows["Sepal.Length"], rows["Sepal.Width"], marker=marker, color=colour, label=species)
    ax.set(xlabel="Sepal Length", ylabel="Sepal Width", title=title)
    if legend and not one_series:
        ax.legend()
    description = describe_figure(fig)
    plt.close(fig)
    return description


@pytest.mark.parametrize("figure, part, expected", [
    (dict(title=""), "title", "no title"),
    (dict(title="Sepal length vs width"), "title", "'Sepal length vs width'"),
    (dict(one_series=True), "species", "one series holds both species"),
    (dict(same_marker=True), "species", "same marker"),
    (dict(legend=False), "species", "legend"),
])
def test_the_plot_key_says_what_is_missing(key, figure, part, expected):
    nothing = AllAnswers({})
    assert expected in message(lambda answer: key.test_scatter(answer, nothing, part), scatter=_scatter(**figure))
    for other in {"title", "axis_labels", "species"} - {part}:
        if not figure.get("one_series"):
            assert message(lambda answer: key.test_scatter(answer, nothing, other), scatter=_scatter(**figure)) == ""


def test_accuracy_is_judged_from_the_predictions_and_the_students_own_table(key):
    measurements, species = key.two_class_iris()
    x, y = key.r_scale(measurements)[:, :2].T
    rates = np.array(key.LEARNING_RATES)
    # Earlier cells as a correct notebook records them: R's scaled frame and the recipe's table.
    slopes = np.array([expected for expected, _ in key.expected_table(AllAnswers({}), rates)])
    earlier = AllAnswers({"scaled_frame": RecordedAnswers("scaled_frame", {"frame": key.r_scale(measurements)}),
                          "rate_table": RecordedAnswers("rate_table", {"rates": rates, "slopes": slopes})})
    scores = [np.mean((y > s * x) == (species == "setosa")) for s in slopes]
    best, worst = slopes[int(np.argmax(scores))], slopes[int(np.argmin(scores))]
    line = lambda slope: np.where(y > slope * x, "setosa", "versicolor").tolist()
    assert message(lambda a: key.test_accuracy(a, earlier, "accuracy"), predicted=line(best), slope=best) == ""
    assert message(lambda a: key.test_accuracy(a, earlier, "predictions_from_the_line"), predicted=line(best),
                   slope=best) == ""
    assert "not the one with the highest accuracy" in message(
        lambda a: key.test_accuracy(a, earlier, "accuracy"), predicted=line(worst), slope=worst)
    # A slope typed by eye is not one of the table's, however well it classifies.
    assert "not one of the final slopes of your table" in message(
        lambda a: key.test_accuracy(a, earlier, "accuracy"), predicted=line(best * 1.01), slope=best * 1.01)
    # The true species, claimed as predictions, do not come from the recorded line.
    assert "not what the line" in message(lambda a: key.test_accuracy(a, earlier, "predictions_from_the_line"),
                                          predicted=species.tolist(), slope=worst)


# -- end to end: a student's notebook with two mistakes ---------------------------------------

def test_a_port_with_n_and_a_plot_without_title_lose_exactly_those_points(scratch):
    source = scratch.source_notebook(A)
    scatter = next(c.source for c in source.cells if c.metadata.nbgrader.grade_id == "scatter_impl")
    untitled = "\n".join(line for line in scatter.splitlines() if "set_title" not in line and "###" not in line)
    notebook = fill_solutions(scratch.release_notebook(A), source, replace={
        "r_scale_impl": "def r_scale(frame):\n    return frame / np.sqrt((frame ** 2).mean())\n",
        "scatter_impl": untitled,
    })
    result = scratch.grade(A, notebook, "two-mistakes")
    assert result.notebook is not None, result.log
    lost = {cell for cell, (score, points) in result.cells.items()
            if cell != "animation" and score is not None and score < points}   # animation: graded by hand
    assert lost == {"scaled_frame", "scatter"}
    assert 0 < result.cells["scatter"][0] < result.cells["scatter"][1]
    assert "title" in result.cell_output_text("scatter")
    assert "n instead of n − 1" in result.cell_output_text("scaled_frame")
    # The rest of the notebook, trained on the slightly different data, still earns its points.
    assert result.cells["accuracy"][0] == result.cells["accuracy"][1]
