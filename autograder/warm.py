"""What a grading worker builds once and reuses for every submission it grades.

``nbgrader generate_feedback`` run for one student builds a new HTML
exporter, and with it a new Jinja environment that compiles the feedback
templates again (a sizeable share of a small notebook's feedback time).
:func:`warm_exporter` gives the course's configured exporter class
(``c.GenerateFeedback.exporter_class``) with :class:`SharedEnvironment`
mixed in: its Jinja environment is shared by every exporter of the process
with the same template settings, so each template is compiled once per
worker; everything else about the exporter (its template, its policy) is
the configured class's own. The
per-notebook filters (code highlighting, widget data) are registered again
for every notebook, as nbconvert does, and a worker grades one submission at
a time (:data:`autograder.pipeline._GRADING`), so nothing of one submission
reaches another's page.
"""

from __future__ import annotations

import functools

from nbconvert.exporters import HTMLExporter, TemplateExporter
from traitlets.utils.importstring import import_item


class SharedEnvironment:
    """Mixin for a ``TemplateExporter``: one Jinja environment per process and template setting."""

    _environments: dict[tuple, object] = {}

    def _environment_key(self) -> tuple:
        return (tuple(self.template_paths), self.template_extension, self.template_file, self.raw_template,
                self.enable_async, tuple(sorted((self.filters or {}).items(), key=lambda item: item[0])),
                tuple(id(loader) for loader in self.extra_loaders))

    def _create_environment(self):
        key = self._environment_key()
        environment = self._environments.get(key)
        if environment is None:
            environment = self._environments[key] = super()._create_environment()
        return environment


@functools.lru_cache(maxsize=None)
def _warm(exporter: type) -> type:
    if not issubclass(exporter, TemplateExporter):
        return exporter
    return type(f"Warm{exporter.__name__}", (SharedEnvironment, exporter), {"__module__": __name__})


def warm_exporter(exporter: str | type | None) -> type:
    """*exporter* (a class or its dotted name; None: nbconvert's HTMLExporter) with a shared environment."""
    if exporter is None:
        exporter = HTMLExporter
    return _warm(import_item(exporter) if isinstance(exporter, str) else exporter)
