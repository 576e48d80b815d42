"""Fisher's iris data as R knows it, from an installed package (no download).

scikit-learn ships the same 150 flowers as R's ``datasets::iris`` (both
correct the two rows in which the UCI copy differs from Fisher's paper).
:func:`load_iris_frame` gives them R's shape: the columns ``Sepal.Length``,
``Sepal.Width``, ``Petal.Length``, ``Petal.Width`` (centimetres) and
``Species`` (``"setosa"``, ``"versicolor"``, ``"virginica"``), rows in R's
order with the index 0..149 (R numbers the same rows 1..150).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

#: R's names for the four measurements, in R's column order.
MEASUREMENTS = ["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width"]

#: The three species, in the order of R's factor levels.
SPECIES = ["setosa", "versicolor", "virginica"]


def load_iris_frame() -> pd.DataFrame:
    """The 150 iris flowers as a DataFrame with R's column names.

    Returns a (150, 5) frame: four float columns (:data:`MEASUREMENTS`) and
    ``Species`` as plain strings, so ``frame["Species"].isin([...])`` works
    like R's ``Species %in% c(...)``.
    """
    measurements, codes = _iris_arrays()
    frame = pd.DataFrame(measurements, columns=MEASUREMENTS)
    frame["Species"] = [SPECIES[int(code)] for code in codes]
    return frame


def _iris_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(150, 4) measurements and (150,) species codes 0, 1, 2 from scikit-learn's copy.

    Reads the CSV file that scikit-learn ships directly: importing
    ``sklearn.datasets`` costs about two seconds, the file a millisecond.
    """
    spec = importlib.util.find_spec("sklearn")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        csv = Path(location) / "datasets" / "data" / "iris.csv"
        if csv.is_file():
            table = np.loadtxt(csv, delimiter=",", skiprows=1)
            return table[:, :4].astype(float), table[:, 4].astype(int)
    from sklearn.datasets import load_iris   # the file moved: take the slow, official way

    bunch = load_iris()
    return bunch.data.astype(float), bunch.target.astype(int)
