"""Answer key for 01 — A linear classifier.

One test per graded cell (``test_<grade_id>``); ``answer`` holds what the cell
recorded. The iris data are loaded here from scikit-learn (the same 150
flowers as R's ``datasets::iris``), R's ``scale(x, center = FALSE,
scale = TRUE)`` is computed here with NumPy, hidden inputs are regenerated
from the cells' seeds, and accuracy is judged from the predicted classes the
notebook recorded, against species labels that never come from the kernel.
The points the recipe runs on are the key's own iris2, never what a later
cell's kernel says x and y were; an earlier mistake is carried forward only
as the earlier cell recorded it and the key recomputes it (see
"error carried forward, recomputed here").
"""

import numpy as np
import pytest

from autograder.checks import WrongAnswer, agrees, expect_close, expect_close_carried, expect_equal, expect_shape

# The bug example of the deck (COURSE.md §01).
LADYBIRD = (3.0, 1.1)        # width x, target t
CATERPILLAR = (1.0, 2.9)
A_START_BUGS = 0.25
# The training protocol that the notebook fixes in a read-only cell.
PROTOCOL_SEED = 0
NUDGE = 0.1
EPOCHS = 10
LEARNING_RATES = [0.001, 0.01, 0.1, 0.5, 1.0]
GOOD_ACCURACY = 0.97
# Tolerances, each from what its check is about:
# - HAND_ROUNDING: the worked examples are numbers a student may type as the deck prints them, to 4 decimals.
HAND_ROUNDING = 1e-4
# - FORMULA: a few arithmetic operations; every algebraically equal form agrees to a few units in the
#   last place, and float32 is a legitimate choice, so rtol 1e-6 loosened to float32's precision (about
#   1e-5, see autograder.checks.tolerances). Every named mistake is off by far more (a factor, a sign, lr).
FORMULA = {"rtol": 1e-6, "atol": 1e-9, "precision": np.float32}
# - R_PRINT: R's own scaled iris, which the notebook promises to 1e-6 (R prints 7 significant digits;
#   the values are about 1, so float32 also fits).
R_PRINT = {"rtol": 0.0, "atol": 1e-6, "precision": np.float32}

#: The typical mistake the demo class makes in this assignment (see `course demo`).
TYPICAL_MISTAKE = {
    "cell": "r_scale_impl",
    "source": (
        "def r_scale(frame):\n"
        "    return frame / frame.std()   # oops: R's scale(center = FALSE) does not divide by the sd\n"
    ),
    "loses": ["scaled_frame"],
}


# -- helpers computed outside the kernel ------------------------------------------------------

def two_class_iris() -> tuple[np.ndarray, np.ndarray]:
    """The setosa and versicolor rows of iris in R's order: (100, 4) measurements, (100,) species names."""
    from sklearn.datasets import load_iris

    bunch = load_iris()
    keep = bunch.target < 2
    return bunch.data[keep].astype(float), np.array(["setosa", "versicolor"])[bunch.target[keep]]


def r_scale(x: np.ndarray) -> np.ndarray:
    """R's scale(x, center = FALSE, scale = TRUE): each column over sqrt(sum(x²)/(n − 1))."""
    return x / np.sqrt(np.sum(x ** 2, axis=0) / (x.shape[0] - 1))


def r_scale_mistakes(x: np.ndarray) -> dict[str, np.ndarray]:
    """What the usual wrong ports of R's scale produce on *x*."""
    centred = x - x.mean(axis=0)
    return {
        "each column is divided by its standard deviation (R's scale(center = FALSE) divides by the "
        "root mean square sqrt(sum(x²)/(n − 1)), which is not the sd)": x / x.std(axis=0, ddof=1),
        "each column is centred before scaling (that is R's default scale(x); the deck asks for "
        "center = FALSE)": centred / centred.std(axis=0, ddof=1),
        "the root mean square uses n instead of n − 1 (R divides sum(x²) by n − 1)":
            x / np.sqrt(np.mean(x ** 2, axis=0)),
        "each column is divided by its population standard deviation (ddof = 0), and R's scale "
        "does not use the sd at all": x / x.std(axis=0),
    }


def train(a: float, x: np.ndarray, targets: np.ndarray, lr: float, epochs: int) -> np.ndarray:
    """Reference: the slope after every update, sweeping the examples in order *epochs* times."""
    history = []
    for _ in range(epochs):
        for xi, ti in zip(x, targets):
            a = a + lr * (ti - a * xi) / xi
            history.append(a)
    return np.array(history)


def protocol() -> tuple[float, np.ndarray]:
    """The random start slope and example order that the notebook draws from its seed."""
    rng = np.random.default_rng(PROTOCOL_SEED)
    return float(rng.uniform(0.0, 3.0)), rng.permutation(100)


def above_line(slope: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return y > slope * x


# -- 1. the bug example -----------------------------------------------------------------------

def test_bug_error(answer):
    x, t = LADYBIRD
    expected = t - A_START_BUGS * x
    expect_close(answer["E_ladybird"], expected, "E_ladybird", rtol=0, atol=HAND_ROUNDING,
                 mistakes={"the error is taken as output − target (it is target − output)": -expected,
                           "the ladybird's length 1.0 is used instead of the target 1.1": 1.0 - A_START_BUGS * x})


def _refine(a, x, t, lr):
    return a + lr * (t - a * x) / x


def _refine_mistakes(a, x, t, lr) -> dict:
    return {
        "the learning rate is not applied": _refine(a, x, t, 1.0),
        "the slope is replaced by the change ΔA instead of moved by it": lr * (t - a * x) / x,
        "the change is subtracted from A instead of added": a - lr * (t - a * x) / x,
        "the error is multiplied by x instead of divided by it": a + lr * (t - a * x) * x,
    }


def _bug_sequence(lr: float) -> list[float]:
    after_ladybird = _refine(A_START_BUGS, *LADYBIRD, lr)
    return [after_ladybird, _refine(after_ladybird, *CATERPILLAR, lr)]


@pytest.mark.parametrize("part", ["worked_L1", "worked_L05", "hidden_inputs"])
def test_refine_slope(answer, part):
    if part in ("worked_L1", "worked_L05"):
        lr = 1.0 if part == "worked_L1" else 0.5
        name = f"slopes after the ladybird and then the caterpillar with L = {lr:g}"
        recorded = answer["bugs_L1" if lr == 1.0 else "bugs_L05"]
        wrong = {}
        for description in _refine_mistakes(0.0, 1.0, 1.0, lr):
            first = _refine_mistakes(A_START_BUGS, *LADYBIRD, lr)[description]
            wrong[description] = [first, _refine_mistakes(first, *CATERPILLAR, lr)[description]]
        expect_close(recorded, _bug_sequence(lr), name, rtol=0, atol=HAND_ROUNDING, mistakes=wrong)
    else:
        rng = np.random.default_rng(101)
        a, x, t = rng.uniform(-2, 2, 20), rng.uniform(0.5, 4, 20), rng.uniform(-3, 3, 20)
        lr = rng.uniform(0.05, 1.0, 20)
        expect_close(answer["hidden"], _refine(a, x, t, lr), "refine_slope on 20 hidden cases", **FORMULA,
                     mistakes=_refine_mistakes(a, x, t, lr),
                     hint="ΔA = L · E / x with E = target − A·x; return A + ΔA.")


REFINE_CASES = 101   # the seed of refine_slope's hidden cases


def refine_is_wrong(recorded) -> bool:
    """Whether the refine_slope cell's own recorded answers are wrong (judged here, from raw values)."""
    rng = np.random.default_rng(REFINE_CASES)
    a, x, t = rng.uniform(-2, 2, 20), rng.uniform(0.5, 4, 20), rng.uniform(-3, 3, 20)
    lr = rng.uniform(0.05, 1.0, 20)
    cell = recorded["refine_slope"]
    return not (agrees(cell.get("hidden"), _refine(a, x, t, lr), **FORMULA)
                and agrees(cell.get("bugs_L1"), _bug_sequence(1.0), rtol=0, atol=HAND_ROUNDING)
                and agrees(cell.get("bugs_L05"), _bug_sequence(0.5), rtol=0, atol=HAND_ROUNDING))


# -- 2. R's scale, ported ---------------------------------------------------------------------

def test_filtered(answer):
    _, species = two_class_iris()
    expect_equal(answer["columns"], ["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width", "Species"],
                 "the columns of iris2", hint="keep R's column names and order, Species last.")
    recorded = answer["species"]
    if not isinstance(recorded, list) or len(recorded) != len(species):
        raise WrongAnswer(f"iris2 has {len(recorded) if isinstance(recorded, list) else 'no'} rows; "
                          "keeping setosa and versicolor leaves 100 rows of the 150.")
    expect_equal(np.array(recorded, dtype=object), species.astype(object), "the Species column of iris2",
                 hint="keep the rows whose species is setosa or versicolor, in their original order.")


@pytest.mark.parametrize("part", ["scaled_frame", "hidden_input"])
def test_scaled_frame(answer, part):
    measurements, _ = two_class_iris()
    if part == "scaled_frame":
        frame = answer["frame"]
        if np.shape(frame) == (150, 4):
            raise WrongAnswer("the scaled frame has 150 rows: filter to setosa and versicolor first, then scale "
                              "(the column scales depend on which rows are kept).")
        expect_close(frame, r_scale(measurements), "the four scaled measurements of iris2", **R_PRINT,
                     mistakes=r_scale_mistakes(measurements))
    else:
        rng = np.random.default_rng(303)
        data = rng.normal(1.0, 2.0, size=(9, 3))
        expect_close(answer["hidden"], r_scale(data), "r_scale on a hidden 9 × 3 frame", **FORMULA,
                     mistakes=r_scale_mistakes(data))


# -- the scatter plot, judged from the recorded figure description ----------------------------

TITLE = "Sepal Length-Width"
XLABEL, YLABEL = "Sepal Length", "Sepal Width"


def _axes(description) -> list[dict]:
    if not isinstance(description, dict) or not description.get("axes"):
        raise WrongAnswer("the figure has no axes: draw the scatter plot on fig_scatter.")
    return description["axes"]


def _plot_axes(description) -> dict:
    """The axes that hold the scatter plot (the one with the most plotted points)."""
    return max(_axes(description), key=lambda ax: sum(s.get("n_points", 0) for s in ax.get("series", [])))


def _species_series(ax: dict, name: str) -> list[dict]:
    """The plotted series labelled *name* (any capitalisation: "Setosa" names the species too)."""
    return [s for s in ax.get("series", [])
            if (s.get("label") or "").strip().lower() == name and s.get("n_points", 0) > 0]


@pytest.mark.parametrize("part", ["title", "axis_labels", "species"])
def test_scatter(answer, recorded, part):
    # Every correct spelling counts: a title by ax.set_title, ax.set(title=) or fig.suptitle; a legend on the
    # axes (ax.legend(), plt.legend()) or on the figure (fig.legend()); species labels in any capitalisation.
    description = answer["scatter"]
    ax = _plot_axes(description)
    if part == "title":
        titles = [a.get("title", "").strip() for a in _axes(description)] + [description.get("suptitle", "").strip()]
        if TITLE not in titles:
            found = [t for t in titles if t]
            raise WrongAnswer(
                "the plot's title: " + (f"found {found[0]!r}, " if found else "the plot has no title; ")
                + f"ggtitle(\"{TITLE}\") becomes ax.set_title(\"{TITLE}\").")
    elif part == "axis_labels":
        x, y = ax.get("xlabel", "").strip(), ax.get("ylabel", "").strip()
        problems = []
        if (x, y) == (YLABEL, XLABEL):
            raise WrongAnswer("the axis labels are swapped: sepal length goes along x, sepal width up y.")
        if x != XLABEL:
            problems.append(f"the x axis label is {x!r}" if x else "the x axis has no label")
        if y != YLABEL:
            problems.append(f"the y axis label is {y!r}" if y else "the y axis has no label")
        if problems:
            raise WrongAnswer("; ".join(problems) + f" (xlab(\"{XLABEL}\") and ylab(\"{YLABEL}\") in R).")
    else:
        _judge_species(ax, description.get("figure_legend", []), recorded["scaled_frame"].get("frame"))


def _same_points(plotted, expected: np.ndarray) -> bool:
    """Whether the plotted (x, y) pairs are exactly *expected*'s rows, in any order (float32 allowed)."""
    try:
        points = np.asarray(plotted, dtype=float).reshape(-1, 2)
    except (TypeError, ValueError):
        return False
    if points.shape != expected.shape:
        return False
    by_x = lambda a: a[np.lexsort((a[:, 1], a[:, 0]))]
    return agrees(by_x(points), by_x(expected), **FORMULA)


def _judge_coordinates(series: dict, recorded_frame) -> None:
    """Each species' series must plot that species' sepal length (x) and width (y): the key's iris2, scaled as
    R does or not scaled, or the student's own scaled frame when the scaled_frame cell judged it wrong."""
    measurements, species = two_class_iris()
    frames = [r_scale(measurements), measurements]
    own = own_frame(recorded_frame)
    if own is not None:
        frames.append(own)
    for name, found in series.items():
        plotted = [point for s in found for point in s.get("points", [])]
        rows = species == name
        if not any(_same_points(plotted, frame[rows][:, :2]) for frame in frames):
            other = "versicolor" if name == "setosa" else "setosa"
            if any(_same_points(plotted, frame[species == other][:, :2]) for frame in frames):
                raise WrongAnswer(f"the series labelled {name} plots the {other} flowers: select the rows of each "
                                  "species for its own series.", mistake="scatter-wrong-rows")
            raise WrongAnswer(f"the series labelled {name} does not plot the {name} flowers of iris2 (sepal length "
                              "along x, sepal width up y): draw rows = iris2[iris2['Species'] == species].",
                              mistake="scatter-wrong-points")


def _judge_species(ax: dict, figure_legend: list, recorded_frame=None) -> None:
    series = {name: _species_series(ax, name) for name in ("setosa", "versicolor")}
    missing = [name for name, found in series.items() if not found]
    if missing:
        unlabelled = [s for s in ax.get("series", []) if s.get("label") is None and s.get("n_points", 0) >= 100]
        if unlabelled:
            raise WrongAnswer("one series holds both species: draw one series per species (one ax.scatter call "
                              "each, with label= the species name), so each gets its own marker and colour.")
        raise WrongAnswer(f"no plotted series is labelled {' or '.join(repr(m) for m in missing)}: draw one series "
                          "per species with label= the species name.")
    for name, found in series.items():
        points = sum(s["n_points"] for s in found)
        if points != 50:
            raise WrongAnswer(f"the {name} series has {points} points; iris2 holds 50 flowers of each species.")
    _judge_coordinates(series, recorded_frame)
    markers = {name: {m for s in found for m in s.get("markers", [])} for name, found in series.items()}
    colours = {name: {c for s in found for c in s.get("colors", [])} for name, found in series.items()}
    if "" in markers["setosa"] | markers["versicolor"]:
        raise WrongAnswer("a species is drawn as a line without markers: plot points, like geom_point.")
    if markers["setosa"] & markers["versicolor"]:
        raise WrongAnswer("both species use the same marker: R maps shape = Species, so give each species its own "
                          "marker (for example 'o' and '^').")
    if colours["setosa"] & colours["versicolor"]:
        raise WrongAnswer("both species use the same colour: R maps color = Species, so give each its own colour.")
    legend = {str(text).strip().lower() for text in list(ax.get("legend", [])) + list(figure_legend or [])}
    if not {"setosa", "versicolor"} <= legend:
        raise WrongAnswer("the plot has no legend naming both species: call ax.legend() or fig.legend() "
                          "(ggplot adds one for you).")


# -- 3. training the classifier ---------------------------------------------------------------

REFINE_CELL = "your refine_slope (Exercise 2)"


def own_refine(recorded):
    """The student's refine_slope, when its own cell made a NAMED mistake, as the key recomputes it; else None."""
    if not refine_is_wrong(recorded):
        return None
    rng = np.random.default_rng(REFINE_CASES)
    a, x, t = rng.uniform(-2, 2, 20), rng.uniform(0.5, 4, 20), rng.uniform(-3, 3, 20)
    lr = rng.uniform(0.05, 1.0, 20)
    hidden = recorded["refine_slope"].get("hidden")
    named = [name for name, value in _refine_mistakes(a, x, t, lr).items() if agrees(hidden, value, **FORMULA)]
    return _refine_variant(named[0]) if named else None


@pytest.mark.parametrize("part", ["history", "bugs"])
def test_train_slope(answer, recorded, part):
    # Error carried forward: train_slope is built on refine_slope. When refine_slope's own cell made a named
    # mistake, train_slope is also judged on that mistake, recomputed here (own_refine). While refine_slope
    # is right, or wrong in a way the key cannot name, nothing but the reference counts.
    own = own_refine(recorded)
    if part == "history":
        rng = np.random.default_rng(404)
        x, t = rng.uniform(0.5, 2.0, 12), rng.uniform(0.0, 3.0, 12)
        expected = train(0.5, x, t, 0.3, 3)
        expect_close_carried(answer["hidden"], expected, "train_slope(0.5, x, targets, lr=0.3, epochs=3) on hidden data",
                             carried=None if own is None else _train_with(own, 0.5, x, t, 0.3, 3),
                             carried_from=REFINE_CELL, **FORMULA,
                             mistakes={"the learning rate is not applied": train(0.5, x, t, 1.0, 3),
                                       "the history lists the starting slope first (it holds the slope "
                                       "after each update)": np.concatenate([[0.5], expected[:-1]])},
                             hint="one update per example, the whole list once per epoch; record the slope after each.")
    else:
        expect_close_carried(answer["bugs"], _bug_sequence(0.5), "train_slope on the two bugs with L = 0.5",
                             carried=None if own is None else _train_with(own, 0.25, [3.0, 1.0], [1.1, 2.9], 0.5, 1),
                             carried_from=REFINE_CELL, rtol=0, atol=HAND_ROUNDING)


def train_is_wrong(recorded) -> bool:
    """Whether train_slope's own cell (or refine_slope's, which it builds on) recorded wrong answers."""
    if refine_is_wrong(recorded):
        return True
    rng = np.random.default_rng(404)
    x, t = rng.uniform(0.5, 2.0, 12), rng.uniform(0.0, 3.0, 12)
    cell = recorded["train_slope"]
    return not (agrees(cell.get("hidden"), train(0.5, x, t, 0.3, 3), **FORMULA)
                and agrees(cell.get("bugs"), _bug_sequence(0.5), rtol=0, atol=HAND_ROUNDING))


# -- error carried forward, recomputed here ---------------------------------------------------
# A later cell is judged on the student's own earlier work only as that earlier cell recorded it and was judged
# wrong there, and the consequence is computed here: never on a value the later cell's kernel computed.

def _refine_variant(name: str):
    """refine_slope as the named mistake *name* computes it (a function of A, x, target, lr)."""
    return lambda a, x, t, lr: _refine_mistakes(a, x, t, lr)[name]


def _train_with(step, a, x, targets, lr, epochs, start_first=False) -> np.ndarray:
    history = []
    for _ in range(epochs):
        for xi, ti in zip(x, targets):
            if start_first:
                history.append(a)
            a = step(a, xi, ti, lr)
            if not start_first:
                history.append(a)
    return np.array(history)


def own_training(recorded):
    """The student's train_slope, when its cell (or refine_slope's) made a NAMED mistake, as the key recomputes it.

    Returns a function (a, x, targets, lr, epochs) → history, or None when both cells are right, or when the
    mistake is not one the key can name (then nothing is carried: a no-op or made-up training earns nothing
    downstream, and the key never takes the kernel's word for what it would have given).
    """
    if not train_is_wrong(recorded):
        return None
    step = own_refine(recorded) or _refine
    if refine_is_wrong(recorded) and step is _refine:
        return None
    rng = np.random.default_rng(404)
    x, t = rng.uniform(0.5, 2.0, 12), rng.uniform(0.0, 3.0, 12)
    recorded_history = recorded["train_slope"].get("hidden")
    for start_first in (False, True):
        if agrees(recorded_history, _train_with(step, 0.5, x, t, 0.3, 3, start_first), **FORMULA):
            return lambda a0, xs, ts, rate, epochs: _train_with(step, a0, xs, ts, rate, epochs, start_first)
    return None


def own_frame(frame):
    """The student's scaled frame as the scaled_frame cell recorded it, when it is wrong there but still iris2
    (each column a positive multiple of its measurement, shifted or not: every wrong port of R's scale); else None.
    Made-up points are not iris2 scaled, and nothing is built on them.
    """
    measurements, _ = two_class_iris()
    try:
        frame = np.asarray(frame, dtype=float)
    except (TypeError, ValueError):
        return None
    if frame.shape != measurements.shape or not np.all(np.isfinite(frame)) \
            or agrees(frame, r_scale(measurements), **R_PRINT):
        return None
    for j in range(frame.shape[1]):
        design = np.column_stack([measurements[:, j], np.ones(len(frame))])
        (slope, shift), *_ = np.linalg.lstsq(design, frame[:, j], rcond=None)
        if slope <= 0 or not agrees(design @ [slope, shift], frame[:, j], **FORMULA, scale=float(np.abs(frame[:, j]).max())):
            return None
    return frame


def course_points(recorded) -> tuple[np.ndarray, np.ndarray]:
    """The x and y the recipe runs on: the key's R-scaled iris2, or the student's own wrong scaling of it."""
    frame = own_frame(recorded["scaled_frame"].get("frame"))
    if frame is None:
        frame = r_scale(two_class_iris()[0])
    return frame[:, 0], frame[:, 1]


def _protocol_variants(x, y, is_setosa, lr) -> tuple[float, dict[str, float]]:
    a_start, order = protocol()
    targets = np.where(is_setosa, y - NUDGE, y + NUDGE)
    final = train(a_start, x[order], targets[order], lr, EPOCHS)[-1]
    flipped = np.where(is_setosa, y + NUDGE, y - NUDGE)
    return final, {
        "the examples are taken in the data's own order, not in `order`":
            train(a_start, x, targets, lr, EPOCHS)[-1],
        "the targets are nudged the wrong way (setosa lies above the line, so its target is y − nudge)":
            train(a_start, x[order], flipped[order], lr, EPOCHS)[-1],
        "the targets are not nudged at all": train(a_start, x[order], y[order], lr, EPOCHS)[-1],
        "only one epoch is run": train(a_start, x[order], targets[order], lr, 1)[-1],
    }


def expected_table(recorded, rates) -> list[tuple[float, float | None]]:
    """For each rate: the final slope of the recipe on the course's points, and what the student's own named
    mistake in train_slope or refine_slope gives there (None when nothing is carried)."""
    _, species = two_class_iris()
    x, y = course_points(recorded)
    is_setosa = species == "setosa"
    own = own_training(recorded)
    a_start, order = protocol()
    targets = np.where(is_setosa, y - NUDGE, y + NUDGE)
    return [(_protocol_variants(x, y, is_setosa, float(rate))[0],
             None if own is None else float(own(a_start, x[order], targets[order], float(rate), EPOCHS)[-1]))
            for rate in rates]


@pytest.mark.parametrize("part", ["learning_rates", "final_slopes", "accuracies"])
def test_rate_table(answer, recorded, part):
    # The recipe runs here on the course's x and y (the key's iris2; the student's own scaling of it only when
    # the scaled_frame cell was judged wrong), and, when train_slope or refine_slope made a named mistake in
    # its own cell, the final slope may also be what that mistake gives (recomputed here). Accuracies are
    # judged from the student's slopes on the same points.
    _, species = two_class_iris()
    is_setosa = species == "setosa"
    x, y = course_points(recorded)
    if part == "learning_rates":
        rates = expect_shape(answer["rates"], (len(LEARNING_RATES),), "the learning rates in the table")
        expect_close(np.sort(rates), LEARNING_RATES, "the learning rates in the table", rtol=1e-9, atol=0.0, ulps=0,
                     hint="use one entry per rate in LEARNING_RATES.")
        return
    rates = np.asarray(answer["rates"], dtype=float)
    slopes = expect_shape(answer["slopes"], rates.shape, "final slope per learning rate")
    if part == "final_slopes":
        for rate, slope, (expected, carried) in zip(rates, slopes, expected_table(recorded, rates)):
            _, wrong = _protocol_variants(x, y, is_setosa, float(rate))
            expect_close_carried(slope, expected, f"the final slope for learning rate {rate:g}", **FORMULA,
                                 mistakes=wrong, carried=carried, carried_from="your train_slope (Exercise 6)",
                                 hint="start at A_start, take the examples in `order`, EPOCHS times.")
    else:
        accuracies = expect_shape(answer["accuracies"], rates.shape, "accuracy per learning rate")
        judged = np.array([np.mean(above_line(s, x, y) == is_setosa) for s in slopes])
        # An accuracy is a count over 100 flowers: 1e-6 tells k/100 from any neighbour, in any precision.
        expect_close(accuracies, judged, "the accuracies in the table", rtol=0, atol=1e-6, ulps=0,
                     mistakes={"accuracy counts setosa below the line": 1.0 - judged},
                     hint="accuracy is the fraction of the 100 flowers on their species' side of y = A·x "
                          "(setosa above).")


def table_is_earned(recorded, x, y) -> bool:
    """Whether the rate table's own slopes are the recipe's on the course's points (or its carried values)."""
    try:
        rates = np.asarray(recorded["rate_table"].get("rates"), dtype=float).ravel()
        slopes = np.asarray(recorded["rate_table"].get("slopes"), dtype=float).ravel()
    except (TypeError, ValueError):
        return False
    if rates.shape != (len(LEARNING_RATES),) or slopes.shape != rates.shape:
        return False
    return all(agrees(slope, expected, **FORMULA) or (carried is not None and agrees(slope, carried, **FORMULA))
               for slope, (expected, carried) in zip(slopes, expected_table(recorded, rates)))


@pytest.mark.parametrize("part", ["accuracy", "predictions_from_the_line"])
def test_accuracy(answer, recorded, part):
    # best_slope is judged against the student's own table (as the rate_table cell recorded it, and only when
    # the key finds that table earned), on the course's points: it must be the table's slope with the highest
    # accuracy, computed here. A slope typed by eye, or a table the key cannot reproduce, earns nothing here.
    _, species = two_class_iris()
    is_setosa = species == "setosa"
    predicted = answer["predicted"]
    if not isinstance(predicted, list) or len(predicted) != len(species):
        raise WrongAnswer(f"expected one predicted species for each of the 100 flowers of iris2, got "
                          f"{len(predicted) if isinstance(predicted, list) else type(predicted).__name__}.")
    unknown = sorted({str(p) for p in predicted} - {"setosa", "versicolor"})
    if unknown:
        raise WrongAnswer(f"predictions must be 'setosa' or 'versicolor', found {unknown[:3]}.")
    predicted = np.array(predicted, dtype=object)
    x, y = course_points(recorded)
    slope = float(expect_shape(answer["slope"], (), "best_slope"))
    if part == "accuracy":
        if not table_is_earned(recorded, x, y):
            raise WrongAnswer("best_slope is judged against your table of learning rates, and the table's slopes "
                              "are not what the recipe gives (see the rate_table cell): fix the table first.",
                              mistake="table-not-earned")
        table = np.asarray(recorded["rate_table"].get("slopes"), dtype=float).ravel()
        scores = np.array([np.mean(above_line(s, x, y) == is_setosa) for s in table])
        best = table[scores == scores.max()]
        if not any(agrees(slope, s, **FORMULA) for s in best):
            if any(agrees(slope, s, **FORMULA) for s in table):
                raise WrongAnswer("best_slope is a slope of your table, but not the one with the highest accuracy.")
            raise WrongAnswer("best_slope is not one of the final slopes of your table: set it to the final slope "
                              "of the learning rate with the highest accuracy (final_slope[best_rate]).",
                              mistake="best-slope-not-from-table")
        carried = own_frame(recorded["scaled_frame"].get("frame")) is not None or own_training(recorded) is not None
        if not carried and scores.max() < GOOD_ACCURACY:
            raise WrongAnswer(f"the line classifies {scores.max():.0%} of the flowers correctly; a line through "
                              f"the origin can reach {GOOD_ACCURACY:.0%} or better with one of the learning rates.")
    else:
        from_line = np.where(above_line(slope, x, y), "setosa", "versicolor").astype(object)
        disagree = int(np.sum(from_line != predicted))
        if disagree:
            raise WrongAnswer(f"{disagree} of the 100 predictions are not what the line y = best_slope·x says "
                              "(setosa when a flower lies above it): predict with classify(best_slope, x, y).")
