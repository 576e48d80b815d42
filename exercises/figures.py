"""Describe a matplotlib figure as plain data, so a plot can be graded.

:func:`describe_figure` reads what a figure *contains* — titles, axis labels,
legend entries and, for every plotted series, its kind, label, marker shape,
colours and number of points — and returns it as a JSON-able dict. A graded
cell records that dict; the answer key then judges the plot from it, not by
eye::

    >>> fig, ax = plt.subplots()                                  # doctest: +SKIP
    >>> ax.scatter([1, 2], [3, 4], marker="^", label="setosa")    # doctest: +SKIP
    >>> describe_figure(fig)["axes"][0]["series"][0]              # doctest: +SKIP
    {'kind': 'scatter', 'label': 'setosa', 'n_points': 2, 'markers': ['^'], 'colors': ['#1f77b4']}
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Any

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from matplotlib.path import Path

#: At most this many distinct colours or markers are listed per series.
MAX_LISTED = 20
#: At most this many plotted coordinates are listed per series.
MAX_POINTS = 2000


def describe_figure(fig) -> dict[str, Any]:
    """What *fig* shows, as a dict of strings, numbers and lists.

    ``{"suptitle": str, "axes": [axes, ...]}`` where each axes is
    ``{"title", "xlabel", "ylabel": str, "legend": [str, ...], "series": [...]}``
    and each series (one ``plot`` line or one ``scatter`` call) is
    ``{"kind": "line" | "scatter", "label": str | None, "n_points": int,
    "markers": [str, ...], "colors": ["#rrggbb", ...], "points": [[x, y], ...]}``
    (the plotted coordinates, at most :data:`MAX_POINTS` of them).
    Markers are matplotlib's names ("o", "^", "s", ...); "" means no marker.
    """
    suptitle = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    legends = [_legend_texts(legend) for legend in getattr(fig, "legends", [])]
    return {
        "suptitle": suptitle,
        "figure_legend": [text for texts in legends for text in texts],
        "axes": [_describe_axes(ax) for ax in fig.get_axes()],
    }


def _describe_axes(ax) -> dict[str, Any]:
    series = [_describe_line(line) for line in ax.get_lines()]
    series += [_describe_scatter(c) for c in ax.collections if isinstance(c, PathCollection)]
    return {
        "title": ax.get_title(),
        "xlabel": ax.get_xlabel(),
        "ylabel": ax.get_ylabel(),
        "legend": _legend_texts(ax.get_legend()),
        "series": series,
    }


def _legend_texts(legend) -> list[str]:
    return [text.get_text() for text in legend.get_texts()] if legend is not None else []


def _label(artist) -> str | None:
    """The artist's label, or None for matplotlib's automatic '_child0' names."""
    label = artist.get_label()
    return None if not label or str(label).startswith("_") else str(label)


def _describe_line(line: Line2D) -> dict[str, Any]:
    marker = line.get_marker()
    marker = "" if marker in (None, "None", "none", " ", "") else str(marker)
    colour = line.get_markerfacecolor() if marker else line.get_color()
    if marker and _is_invisible(colour):
        colour = line.get_markeredgecolor()
    return {
        "kind": "line",
        "label": _label(line),
        "n_points": int(np.size(line.get_xdata())),
        "markers": [marker],
        "colors": [_hex(colour)],
        "points": _points(np.column_stack([np.ravel(line.get_xdata()), np.ravel(line.get_ydata())])
                          if np.size(line.get_xdata()) == np.size(line.get_ydata()) else []),
    }


def _describe_scatter(collection: PathCollection) -> dict[str, Any]:
    collection.update_scalarmappable()   # apply a colour map (``c=values``) before reading colours
    colours = collection.get_facecolors()
    if len(colours) == 0 or all(_is_invisible(c) for c in colours):
        colours = collection.get_edgecolors()
    return {
        "kind": "scatter",
        "label": _label(collection),
        "n_points": int(len(collection.get_offsets())),
        "markers": _unique(marker_name(path) for path in collection.get_paths()),
        "colors": _unique(_hex(c) for c in colours),
        "points": _points(collection.get_offsets()),
    }


def _points(xy) -> list[list[float]]:
    """Plotted coordinates as plain floats (dates and other non-numbers are left out)."""
    try:
        array = np.asarray(xy, dtype=float).reshape(-1, 2)[:MAX_POINTS]
    except (TypeError, ValueError):
        return []
    return [[float(a), float(b)] for a, b in array]


def _unique(items) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
            if len(seen) == MAX_LISTED:
                break
    return seen


def _is_invisible(colour) -> bool:
    if colour is None or (isinstance(colour, str) and colour.lower() == "none"):
        return True
    return len(np.atleast_1d(colour)) == 4 and float(np.asarray(colour, dtype=float)[3]) == 0.0


def _hex(colour) -> str:
    return "none" if _is_invisible(colour) else to_hex(colour, keep_alpha=False)


@lru_cache(maxsize=1)
def _known_marker_paths() -> tuple[tuple[str, Path], ...]:
    """(name, path) for matplotlib's named markers, as ``scatter`` stores them."""
    known = []
    for name in MarkerStyle.markers:
        if not isinstance(name, str) or name in ("", " ", "None", "none"):
            continue
        style = MarkerStyle(name)
        known.append((name, style.get_path().transformed(style.get_transform())))
    return tuple(known)


def marker_name(path: Path) -> str:
    """matplotlib's name of the marker drawn by *path* ("o", "s", "^", ...).

    A scatter plot stores its marker as a path; this finds which named marker
    it is. A path that is no named marker gets a stable ``"custom:<n>"`` name
    from its vertices.
    """
    vertices = np.asarray(path.vertices, dtype=float)
    for name, known in _known_marker_paths():
        if known.vertices.shape == vertices.shape and np.allclose(known.vertices, vertices, atol=1e-6):
            same_codes = (known.codes is None and path.codes is None) or (
                known.codes is not None and path.codes is not None and np.array_equal(known.codes, path.codes))
            if same_codes:
                return name
    return f"custom:{zlib.crc32(np.round(vertices, 4).tobytes()):08x}"
