"""The README's assignments table and the instant-feedback list agree with source/."""

from __future__ import annotations

import re

from traitlets.config.loader import PyFileConfigLoader

from autograder.course import CONFIG_FILE, REPOSITORY, Course


def readme_table_ids() -> list[str]:
    """The ids in the first column of the README's table of assignments."""
    text = (REPOSITORY / "README.md").read_text()
    table = text[text.index("| assignment | what it teaches |"):].split("\n\n", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", table, flags=re.MULTILINE)


def test_the_readme_table_lists_exactly_the_assignments_in_source():
    assert readme_table_ids() == Course(REPOSITORY).assignments()


def test_every_instant_feedback_assignment_is_in_source():
    config = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
    listed = list(config.InstantFeedback.assignments)
    assert listed and set(listed) <= set(Course(REPOSITORY).assignments()), listed


def test_the_readme_says_how_to_add_an_assignment():
    text = (REPOSITORY / "README.md").read_text()
    section = text[text.index("### Adding an assignment"):]
    for needed in ("autograder/keys/<id>.py", "TYPICAL_MISTAKE", '"loses"', "c.InstantFeedback.assignments",
                   "./course check <id>", "mistakes={"):
        assert needed in section, needed
