"""Classes for ``course similarity``: students who wrote their own answers, and one who copied.

Assignment 02's six answer cells have five honest implementations each,
written in different styles (``HONEST``); student *i* of a small class takes
implementation *i* of every cell, so no two honest students share a cell.
:func:`disguise` is what a copier does to someone else's answers: other
variable names, other comments. Assignment 03's written answers
(``WRITTEN``) are four students' own paragraphs.
"""

from __future__ import annotations

import random
import re

import nbformat

HONEST: dict[str, list[str]] = {
    "sigmoid_impl": [
        "x = np.asarray(x, dtype=float)\nsmall = np.exp(-np.abs(x))  # never overflows\n"
        "return np.where(x >= 0, 1.0 / (1.0 + small), small / (1.0 + small))",
        "x = np.array(x, dtype=float)\nout = np.empty_like(x)\npos = x >= 0\nout[pos] = 1 / (1 + np.exp(-x[pos]))\n"
        "ex = np.exp(x[~pos])\nout[~pos] = ex / (1 + ex)\nreturn out",
        "from scipy.special import expit\nreturn expit(x)",
        "z = np.clip(np.asarray(x, float), -500, 500)\nreturn np.reciprocal(1.0 + np.exp(-z))",
        "return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))",
    ],
    "combined_input_impl": [
        "return float(np.dot(inputs, weights))",
        "total = 0.0\nfor i, w in zip(inputs, weights):\n    total += i * w\nreturn total",
        "return float(np.sum(np.asarray(inputs) * np.asarray(weights)))",
        "return sum(a * b for a, b in zip(inputs, weights))",
        "return float(np.asarray(weights) @ np.asarray(inputs))",
    ],
    "two_node_impl": [
        "W_two = np.array([[0.9, 0.3],\n                  [0.2, 0.8]])\nI_two = np.array([1.0, 0.5])\n"
        "X_two = W_two @ I_two\nO_two = sigmoid(X_two)",
        "rows = [[0.9, 0.3], [0.2, 0.8]]\nI_two = np.array((1.0, 0.5))\nW_two = np.array(rows)\n"
        "X_two = np.matmul(W_two, I_two)\nO_two = sigmoid(X_two)",
        "weights = [[0.9, 0.3], [0.2, 0.8]]\nW_two = np.asarray(weights, dtype=float)\n"
        "I_two = np.asarray([1, 0.5], dtype=float)\nX_two = np.einsum('ij,j->i', W_two, I_two)\n"
        "O_two = 1 / (1 + np.exp(-X_two))",
        "W_two = np.zeros((2, 2))\nW_two[0] = [0.9, 0.3]\nW_two[1] = [0.2, 0.8]\nI_two = np.array([1.0, 0.5])\n"
        "X_two = np.array([W_two[k].dot(I_two) for k in range(2)])\nO_two = sigmoid(X_two)",
        "I_two = np.array([[1.0], [0.5]]).ravel()\nW_two = np.array([0.9, 0.3, 0.2, 0.8]).reshape(2, 2)\n"
        "X_two = (W_two * I_two).sum(axis=1)\nO_two = np.array([sigmoid(v) for v in X_two])",
    ],
    "three_layer_impl": [
        "X_hidden = W_ih @ I_three\nO_hidden = sigmoid(X_hidden)\nX_output = W_ho @ O_hidden\nO_output = sigmoid(X_output)",
        "X_hidden = np.dot(W_ih, I_three)\nX_output = np.dot(W_ho, sigmoid(X_hidden))\n"
        "O_hidden = sigmoid(X_hidden)\nO_output = sigmoid(X_output)",
        "layers = []\nsignal = I_three\nfor W in (W_ih, W_ho):\n    combined = W.dot(signal)\n"
        "    signal = sigmoid(combined)\n    layers.append((combined, signal))\n"
        "(X_hidden, O_hidden), (X_output, O_output) = layers",
        "O_hidden = sigmoid(X_hidden := np.matmul(W_ih, I_three))\n"
        "O_output = sigmoid(X_output := np.matmul(W_ho, O_hidden))",
        "X_hidden = np.einsum('ij,j->i', W_ih, I_three)\nO_hidden = 1.0 / (1.0 + np.exp(-X_hidden))\n"
        "X_output = np.einsum('ij,j->i', W_ho, O_hidden)\nO_output = 1.0 / (1.0 + np.exp(-X_output))",
    ],
    "init_weights_impl": [
        "return rng.normal(0.0, n_in ** -0.5, size=(n_out, n_in))",
        "spread = 1 / np.sqrt(n_in)\nreturn rng.normal(loc=0, scale=spread, size=(n_out, n_in))",
        "return rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)",
        "sigma = pow(n_in, -0.5)\nweights = rng.normal(0, sigma, n_out * n_in)\nreturn weights.reshape(n_out, n_in)",
        "return np.array([[rng.normal(0, 1 / n_in ** 0.5) for _ in range(n_in)] for _ in range(n_out)])",
    ],
    "query_impl": [
        "hidden = sigmoid(W_ih @ inputs)\nreturn sigmoid(W_ho @ hidden)",
        "h = sigmoid(np.dot(W_ih, inputs))\no = sigmoid(np.dot(W_ho, h))\nreturn o",
        "signal = np.asarray(inputs, dtype=float)\nfor W in (W_ih, W_ho):\n    signal = sigmoid(W @ signal)\nreturn signal",
        "return sigmoid(np.matmul(W_ho, sigmoid(np.matmul(W_ih, inputs))))",
        "hidden_in = np.einsum('hi,ib->hb', W_ih, inputs)\nout_in = np.einsum('oh,hb->ob', W_ho, sigmoid(hidden_in))\n"
        "return sigmoid(out_in)",
    ],
}

#: A copier's renames (local names only: the names the checks call stay).
RENAMES = {"small": "tiny", "hidden": "h_layer", "spread": "std_dev", "total": "acc", "signal": "activation"}

#: Assignment 03's written answers, four students' own.
WRITTEN: dict[str, list[str]] = {
    "normalisation_answer": [
        "Splitting the error in proportion to the link weights means a link that contributed more to the output "
        "gets more of the blame. Dividing by the sum of the weights keeps the shares adding up to the whole error, "
        "so nothing is created or lost when it travels back.",
        "I think the normalisation can be dropped because only the direction of the update matters, and the "
        "learning rate rescales everything anyway. Using the transposed weight matrix alone is simpler and "
        "behaves almost the same in practice.",
        "The denominator only rescales each hidden node's error by a constant that differs from node to node. "
        "Book-keeping it costs a division per link; leaving it out lets us write the whole step as one matrix "
        "product with W transposed.",
        "Without the fraction, errors would be multiplied by raw weights and could grow; with it each output "
        "error is shared out exactly. Rashid drops it later since the step size absorbs the scale.",
    ],
    "derivation_answer": [
        "Using the chain rule, dE/dw equals the error times the derivative of the sigmoid, which is "
        "sigma(x)(1 - sigma(x)), times the output of the previous node.",
        "The slope is found by differentiating the squared error: the 2 drops into the learning rate, then the "
        "sigmoid's derivative o(1-o) appears, multiplied by the incoming signal o_j.",
        "Each weight's gradient is -(t - o) * o * (1 - o) * o_j; the minus sign is why the update adds alpha "
        "times the error term.",
        "Differentiate E = (t - o)^2 with respect to w_jk; the inner derivative of the sigmoid gives o times "
        "one minus o, and the input to the link supplies the last factor.",
    ],
}


def disguise(code: str) -> str:
    """Someone else's answer with other names and other comments: what a copier hands in."""
    for old, new in RENAMES.items():
        code = re.sub(rf"\b{old}\b", new, code)
    code = re.sub(r"#[^\n]*", "# worked this out myself", code)
    return "# my solution\n" + code


def reword(text: str) -> str:
    """A written answer lightly reworded (a few words swapped), as a copier does."""
    return (text.replace("means", "implies").replace("Using", "With").replace("keeps", "makes")
            .replace("which is", "that is"))


def answered(release: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The release with each answer cell in *answers* filled in where ``# YOUR CODE HERE`` stands
    (code, indented to match) or replacing the cell (Markdown)."""
    filled = nbformat.from_dict(release)
    for cell in filled.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id not in answers:
            continue
        if cell.cell_type == "markdown":
            cell.source = answers[grade_id]
            continue
        match = re.search(r"^([ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\)", cell.source, re.M)
        indent = match.group(1)
        body = "\n".join(indent + line if line else line for line in answers[grade_id].splitlines())
        cell.source = cell.source[:match.start()] + body + cell.source[match.end():]
    return filled


def small_class(release: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """02-signals: five honest students (each their own implementations), a copier of the first, two blanks."""
    names = ["ada", "ben", "cleo", "dev", "eli"]
    notebooks = {name: answered(release, {cell: variants[i] for cell, variants in HONEST.items()})
                 for i, name in enumerate(names)}
    notebooks["zed-copier"] = answered(release, {cell: disguise(variants[0]) for cell, variants in HONEST.items()})
    notebooks["blank-1"] = release
    notebooks["blank-2"] = release
    return notebooks


def written_class(release: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """03-backprop-errors: code left as released; four students' own written answers, one copier of the first."""
    names = ["fay", "gus", "hal", "ivy"]
    notebooks = {name: answered(release, {cell: texts[i] for cell, texts in WRITTEN.items()})
                 for i, name in enumerate(names)}
    notebooks["yan-copier"] = answered(release, {cell: reword(texts[0]) for cell, texts in WRITTEN.items()})
    return notebooks


def large_class(release: nbformat.NotebookNode, students: int, seed: int = 0) -> dict[str, nbformat.NotebookNode]:
    """*students* submissions of 02-signals: each cell one of the honest implementations at random, with
    names and comments of their own; every twentieth student copies the one before."""
    rng = random.Random(seed)
    chosen: dict[str, dict[str, str]] = {}
    for number in range(students):
        name = f"s{number:03d}"
        if number % 20 == 19:
            chosen[name] = {cell: disguise(code) for cell, code in chosen[f"s{number - 1:03d}"].items()}
            continue
        answers = {}
        for cell, variants in HONEST.items():
            code = rng.choice(variants)
            code = f"# {rng.choice(['first try', 'vectorised', 'from the book', 'my version'])}\n{code}"
            answers[cell] = code
        chosen[name] = answers
    return {name: answered(release, answers) for name, answers in chosen.items()}
