"""Static checks that an assignment's notebook and its answer key agree.

Run by ``course generate`` after every regeneration, and by the tests:
every autograded cell has exactly one key test ``test_<grade_id>``, every key
test belongs to a cell, and the key names a typical mistake whose cells exist.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat

from autograder.preprocessors.judge import autograded_ids
from autograder.keyrunner import cell_of, key_file


def key_tests(path: Path) -> set[str]:
    """Grade ids that the key at *path* has tests for (read without importing it)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {cell_of(node.name) for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def problems(source_notebook: Path, assignment: str, keys_directory: Path | None = None) -> list[str]:
    """What disagrees between a source notebook and its key (empty when all is well)."""
    notebook = nbformat.read(str(source_notebook), as_version=4)
    graded = autograded_ids(notebook)
    solutions = {c.metadata.nbgrader.grade_id for c in notebook.cells
                 if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    path = key_file(assignment) if keys_directory is None else key_file(assignment, keys_directory)
    if not path.exists():
        return [f"{assignment}: no answer key at {path}"] if graded else []
    tests = key_tests(path)
    found = [f"{assignment}: graded cell {g!r} has no test_{g} in {path.name}" for g in sorted(graded - tests)]
    found += [f"{assignment}: {path.name} has test_{t} but the notebook has no graded cell {t!r}"
              for t in sorted(tests - graded)]
    mistake = typical_mistake(path)
    if mistake is None:
        found.append(f"{assignment}: {path.name} defines no TYPICAL_MISTAKE")
    else:
        if mistake.get("cell") not in solutions:
            found.append(f"{assignment}: TYPICAL_MISTAKE names {mistake.get('cell')!r}, not a solution cell")
        found += [f"{assignment}: TYPICAL_MISTAKE loses {c!r}, not a graded cell"
                  for c in mistake.get("loses", []) if c not in graded]
    return found


def typical_mistake(path: Path) -> dict | None:
    """The key's TYPICAL_MISTAKE, read without importing the key (None if absent)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "TYPICAL_MISTAKE" for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return {}
    return None
