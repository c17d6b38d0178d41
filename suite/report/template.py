"""The page skeleton of every HTML page the suite writes (run report, diff
report, history): jinja2 templates in ``templates/`` with autoescaping on, so
every string from records or user input is escaped unless it is a
:class:`markupsafe.Markup` built by a template itself.

Everything is inline (stylesheet, the small table-sorting script, figures as
``data:`` PNGs): the page makes no network request.

A page is a list of :class:`Section` s. A section builder takes what it needs
(records, manifest, a comparison) and returns a Section — or None when it has
nothing to say — so a new kind of result adds a section by adding a builder to
the page's list (the run report's: :func:`suite.report.html.section_builders`,
extended with :func:`suite.report.html.add_section_builder`).
"""

from __future__ import annotations

from typing import NamedTuple

import jinja2
from markupsafe import Markup

ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("suite.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class Section(NamedTuple):
    """One titled part of a page; ``body`` is HTML rendered by a template."""

    id: str
    title: str
    body: Markup


def render(template: str, **context) -> Markup:
    """Render ``templates/<template>`` (escaping every plain string) to markup."""
    return Markup(ENVIRONMENT.get_template(template).render(**context))


def fragment(source: str, **context) -> Markup:
    """Render a short inline template (autoescaped) to markup."""
    return Markup(ENVIRONMENT.from_string(source).render(**context))


def section(section_id: str, title: str, template: str, **context) -> Section:
    return Section(section_id, title, render(template, **context))


def render_page(title: str, sections, header: Markup | str = "") -> str:
    """The whole document: ``title`` is plain text; ``sections`` a list of
    :class:`Section` (None entries are dropped)."""
    return str(render("page.html.j2", title=title, header=header, sections=[s for s in sections if s is not None]))
