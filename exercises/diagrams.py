"""Network diagrams: nodes in layers, links labelled with their weights.

:func:`draw_network` draws a fully connected network from its weight
matrices (row ``k`` of a matrix holds the links *into* node ``k`` of the next
layer, as everywhere in this course). Optional per-layer ``values`` are
written inside the nodes, and ``errors`` next to them with arrows pointing
backwards along the links, to show errors flowing from the outputs towards
the inputs::

    >>> W = np.array([[2.0, 3.0], [1.0, 4.0]])                            # doctest: +SKIP
    >>> draw_network([W], ["hidden", "output"], errors=[None, [0.8, 0.5]])  # doctest: +SKIP

It only draws what it is given: it knows nothing about any exercise.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

NODE_RADIUS = 0.3
LAYER_GAP = 3.0
LINK_COLOUR = "lightsteelblue"
NODE_COLOUR = "tab:orange"
ERROR_COLOUR = "firebrick"


def layer_sizes(weights: Sequence[np.ndarray]) -> list[int]:
    """Nodes per layer, inputs first: [n_0, n_1, ..., n_L]."""
    matrices = [np.atleast_2d(np.asarray(w, dtype=float)) for w in weights]
    if not matrices:
        raise ValueError("draw at least one weight matrix")
    for before, after in zip(matrices, matrices[1:]):
        if after.shape[1] != before.shape[0]:
            raise ValueError(f"a {before.shape} matrix cannot feed a {after.shape} matrix: "
                             "row k of each matrix holds the links into node k of the next layer")
    return [matrices[0].shape[1]] + [w.shape[0] for w in matrices]


def node_position(sizes: Sequence[int], layer: int, node: int) -> tuple[float, float]:
    """Where node *node* of layer *layer* sits: layers left to right, node 0 on top."""
    return LAYER_GAP * layer, (sizes[layer] - 1) / 2 - node


def _format(value: float) -> str:
    return f"{value:.3g}"


def draw_network(weights: Sequence[np.ndarray], layer_names: Sequence[str] | None = None, *,
                 values: Sequence[Sequence[float] | None] | None = None,
                 errors: Sequence[Sequence[float] | None] | None = None,
                 title: str | None = None, ax=None, label_weights: bool = True):
    """Draw the network whose layers *weights* connect; return the axes.

    weights: matrices of shape (n_{l+1}, n_l); ``weights[l][k, j]`` labels the
        link from node j of layer l to node k of layer l + 1.
    layer_names: one caption per layer (inputs first), or None.
    values: one sequence per layer (or None) written inside the nodes.
    errors: one sequence per layer (or None) written beside the nodes, with
        arrows running backwards along the links into that layer.
    """
    sizes = layer_sizes(weights)
    matrices = [np.atleast_2d(np.asarray(w, dtype=float)) for w in weights]
    if ax is None:
        _, ax = plt.subplots(figsize=(2.4 * len(sizes) + 1, 0.9 * max(sizes) + 1.6))
    for layer, w in enumerate(matrices):
        for k in range(w.shape[0]):
            for j in range(w.shape[1]):
                (x0, y0), (x1, y1) = node_position(sizes, layer, j), node_position(sizes, layer + 1, k)
                ax.plot([x0, x1], [y0, y1], color=LINK_COLOUR, zorder=1)
                if label_weights:
                    # Near the receiving end, so the labels of one node's links sit together.
                    ax.text(x0 + 0.68 * (x1 - x0), y0 + 0.68 * (y1 - y0), _format(w[k, j]), fontsize=8,
                            color="navy", ha="center", va="center",
                            bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none"))
    for layer, size in enumerate(sizes):
        layer_values = (values or [None] * len(sizes))[layer]
        for node in range(size):
            x, y = node_position(sizes, layer, node)
            ax.add_patch(plt.Circle((x, y), NODE_RADIUS, color=NODE_COLOUR, zorder=2))
            if layer_values is not None:
                ax.text(x, y, _format(np.ravel(layer_values)[node]), ha="center", va="center",
                        fontsize=8, zorder=3)
        if layer_names is not None:
            ax.text(LAYER_GAP * layer, -(max(sizes) - 1) / 2 - 0.8, layer_names[layer], ha="center")
    _draw_errors(ax, sizes, errors)
    ax.set_xlim(-1.2, LAYER_GAP * (len(sizes) - 1) + 1.2)
    ax.set_ylim(-(max(sizes) - 1) / 2 - 1.1, (max(sizes) - 1) / 2 + 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def _draw_errors(ax, sizes: Sequence[int], errors) -> None:
    for layer, layer_errors in enumerate(errors or []):
        if layer_errors is None:
            continue
        layer_errors = np.ravel(np.asarray(layer_errors, dtype=float))
        if layer_errors.size != sizes[layer]:
            raise ValueError(f"layer {layer} has {sizes[layer]} nodes but {layer_errors.size} errors")
        for node, error in enumerate(layer_errors):
            x, y = node_position(sizes, layer, node)
            ax.text(x, y + NODE_RADIUS + 0.04, f"e = {_format(error)}", color=ERROR_COLOUR, fontsize=8,
                    ha="center", va="bottom", zorder=4,
                    bbox=dict(boxstyle="round,pad=0.1", facecolor="white", edgecolor="none", alpha=0.8))
            if layer == 0:
                continue
            for j in range(sizes[layer - 1]):
                # An arrow along the middle of each incoming link, pointing back to its sender.
                xs, ys = node_position(sizes, layer - 1, j)
                receiver, sender = np.array([x, y]), np.array([xs, ys])
                start, end = receiver + 0.45 * (sender - receiver), receiver + 0.7 * (sender - receiver)
                ax.annotate("", xy=end, xytext=start, zorder=4,
                            arrowprops=dict(arrowstyle="->", color=ERROR_COLOUR, lw=1.2))
