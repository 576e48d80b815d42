"""Grading for the course: answer keys, the judging preprocessor and the CLI."""
